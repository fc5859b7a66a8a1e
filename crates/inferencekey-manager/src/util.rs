//! Small shared helpers: identifiers and timestamps.

use rand::distr::Alphanumeric;
use rand::Rng;

/// `len` random ASCII alphanumerics from the thread-local CSPRNG (token secrets use this too,
/// so it must be cryptographically secure: `rand::rng()` is a ChaCha-based CSPRNG).
pub fn random_alnum(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// A public identifier such as `wl_…`, `prj_…`, `wrk_…`.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", random_alnum(16))
}

/// The current time as RFC 3339 in UTC with millisecond precision, the form every
/// timestamp on the wire uses.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Milliseconds since the Unix epoch, for delivery schedules and load reports.
pub fn now_unix_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Seconds since the Unix epoch, for expiry arithmetic.
pub fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefix_and_entropy() {
        let a = new_id("wl");
        let b = new_id("wl");
        assert!(a.starts_with("wl_") && a.len() == 19);
        assert_ne!(a, b);
        assert!(now_rfc3339().ends_with('Z'));
    }
}
