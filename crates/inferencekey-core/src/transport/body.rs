//! Request and response bodies: JSON request bodies, and reading a whole response within the
//! idle and total deadlines.

use bytes::Bytes;
use tokio::time::{timeout_at, Instant};

use crate::domain::error::{Error, ErrorKind};
use crate::transport::deadline::{min_deadline, timeout_error};
use crate::transport::options::Timeouts;

/// A request body and its content type.
#[derive(Debug, Clone)]
pub struct Body {
    pub bytes: Bytes,
    /// Owned because a multipart body's type carries its boundary.
    pub content_type: std::borrow::Cow<'static, str>,
}

impl Body {
    pub fn json(value: &impl serde::Serialize) -> Result<Body, Error> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| Error::configuration(format!("request body is not serialisable: {e}")))?;
        Ok(Body {
            bytes: Bytes::from(bytes),
            content_type: "application/json".into(),
        })
    }

    /// A `multipart/form-data` body: the text parts in order, then one file part. The boundary
    /// is random, so no part's bytes can end the part early.
    pub fn multipart(texts: &[(&str, &str)], file: FilePart<'_>) -> Body {
        let boundary = format!("----inferencekey-{}", uuid::Uuid::new_v4().simple());
        let mut out = Vec::with_capacity(file.bytes.len() + 1024);
        for (name, value) in texts {
            out.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n{value}\r\n",
                    quoted(name)
                )
                .as_bytes(),
            );
        }
        out.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
                quoted(file.name),
                quoted(file.filename),
                file.content_type
            )
            .as_bytes(),
        );
        out.extend_from_slice(file.bytes);
        out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        Body {
            bytes: Bytes::from(out),
            content_type: format!("multipart/form-data; boundary={boundary}").into(),
        }
    }
}

/// The file part of [`Body::multipart`].
pub struct FilePart<'a> {
    pub name: &'a str,
    pub filename: &'a str,
    pub content_type: &'a str,
    pub bytes: &'a [u8],
}

/// A header parameter value with its quotes and line breaks escaped (RFC 7578 §4.2).
fn quoted(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// What to do with a body over its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Over {
    /// Fail with `response_too_large` (a success body the caller needs whole).
    Fail,
    /// Keep the first `limit` bytes and stop reading (an error body: its start says why).
    Truncate,
}

/// Reads a whole body, each chunk within the idle timeout, all of it within the deadline
/// and at most `limit` bytes of it: a hostile server cannot make the SDK buffer more.
pub(crate) async fn read_body(
    mut resp: reqwest::Response,
    timeouts: &Timeouts,
    deadline: Option<Instant>,
    limit: usize,
    over: Over,
) -> Result<Bytes, Error> {
    let path = resp.url().path().to_string();
    let too_large = |what: String| {
        Error::protocol(format!(
            "{path}: the answer is {what}, over the {} MiB this client reads into memory \
             (ClientOptions.max_response_bytes); ask for less, or use a streaming call",
            limit >> 20
        ))
        .with_code("response_too_large")
    };
    if over == Over::Fail {
        if let Some(n) = resp.content_length().filter(|n| *n > limit as u64) {
            return Err(too_large(format!("{n} bytes")));
        }
    }
    let mut first: Option<Bytes> = None;
    let mut rest: Vec<u8> = Vec::new();
    let mut len = 0usize;
    loop {
        let until = min_deadline(Instant::now() + timeouts.read, deadline);
        match timeout_at(until, resp.chunk()).await {
            Ok(Ok(Some(mut chunk))) => {
                if len + chunk.len() > limit {
                    match over {
                        Over::Fail => return Err(too_large(format!("more than {limit} bytes"))),
                        Over::Truncate => {
                            chunk.truncate(limit - len);
                        }
                    }
                }
                len += chunk.len();
                match &first {
                    None => first = Some(chunk),
                    Some(f) => {
                        if rest.is_empty() {
                            rest.extend_from_slice(f);
                        }
                        rest.extend_from_slice(&chunk);
                    }
                }
                if len >= limit && over == Over::Truncate {
                    break;
                }
            }
            Ok(Ok(None)) => break,
            Ok(Err(e)) => return Err(map_body_error(e, &path)),
            Err(_) => return Err(timeout_error(&path, timeouts, deadline)),
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
