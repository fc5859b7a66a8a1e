//! Deadlines: the earlier of the idle and the total limit, and the error that names which one
//! passed.

use tokio::time::Instant;

use crate::domain::error::{Error, ErrorKind};
use crate::transport::options::Timeouts;

pub(crate) fn min_deadline(a: Instant, b: Option<Instant>) -> Instant {
    match b {
        Some(b) if b < a => b,
        _ => a,
    }
}

pub(crate) fn timeout_error(path: &str, timeouts: &Timeouts, deadline: Option<Instant>) -> Error {
    let which = match deadline {
        Some(d) if Instant::now() >= d => match timeouts.effective_total() {
            (total, false) => format!("the total deadline of {total:?} passed"),
            (total, true) => format!(
                "the default total deadline of {total:?} ({} × the read timeout) passed; \
                 pass timeout= to set another",
                super::options::DEFAULT_TOTAL_READS
            ),
        },
        _ => format!("no response within the read timeout of {:?}", timeouts.read),
    };
    Error::new(ErrorKind::Timeout, format!("{path}: {which}")).with_code("timeout")
}
