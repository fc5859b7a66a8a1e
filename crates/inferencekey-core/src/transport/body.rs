//! Request and response bodies: JSON request bodies, and reading a whole response within the
//! idle and total deadlines.

use std::time::Duration;

use bytes::Bytes;
use tokio::time::{timeout_at, Instant};

use crate::domain::error::{Error, ErrorKind};
use crate::transport::deadline::{min_deadline, timeout_error};
use crate::transport::options::Timeouts;

/// A request body and its content type.
#[derive(Debug, Clone)]
pub struct Body {
    pub bytes: Bytes,
    pub content_type: &'static str,
}

impl Body {
    pub fn json(value: &impl serde::Serialize) -> Result<Body, Error> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| Error::configuration(format!("request body is not serialisable: {e}")))?;
        Ok(Body {
            bytes: Bytes::from(bytes),
            content_type: "application/json",
        })
    }
}

/// Reads a whole body, each chunk within the idle timeout and all of it within the deadline.
pub(crate) async fn read_body(
    mut resp: reqwest::Response,
    idle: Duration,
    deadline: Option<Instant>,
) -> Result<Bytes, Error> {
    let path = resp.url().path().to_string();
    let mut first: Option<Bytes> = None;
    let mut rest: Vec<u8> = Vec::new();
    loop {
        let until = min_deadline(Instant::now() + idle, deadline);
        match timeout_at(until, resp.chunk()).await {
            Ok(Ok(Some(chunk))) => match &first {
                None => first = Some(chunk),
                Some(f) => {
                    if rest.is_empty() {
                        rest.extend_from_slice(f);
                    }
                    rest.extend_from_slice(&chunk);
                }
            },
            Ok(Ok(None)) => break,
            Ok(Err(e)) => return Err(map_body_error(e, &path)),
            Err(_) => {
                let t = Timeouts {
                    read: idle,
                    ..Default::default()
                };
                return Err(timeout_error(&path, &t, deadline));
            }
        }
    }
    Ok(if rest.is_empty() {
        first.unwrap_or_default()
    } else {
        Bytes::from(rest)
    })
}

/// A failure while reading a response body. reqwest reports a connection cut mid-body as a
/// "decode" error; it is a broken connection (retryable for idempotent requests), not an
/// answer we failed to understand.
pub(crate) fn map_body_error(e: reqwest::Error, path: &str) -> Error {
    if e.is_timeout() {
        return Error::new(ErrorKind::Timeout, format!("{path}: timed out ({e})"))
            .with_code("timeout");
    }
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    Error::new(
        ErrorKind::Connection,
        format!("{path}: the connection broke while reading the answer: {detail}"),
    )
    .with_code("connection_failed")
}
