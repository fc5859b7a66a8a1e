//! One logical HTTP request (retries resend it) and a complete 2xx answer.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER};
use reqwest::Method;

use crate::domain::error::Error;
use crate::domain::result::{Headers, ResponseMeta};
use crate::transport::body::Body;

pub const REQUEST_ID_HEADER: &str = "x-request-id";
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// One logical request (retries resend it).
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    /// Path and query, starting with `/`.
    pub path: String,
    pub body: Option<Body>,
    pub idempotency_key: Option<String>,
    pub accept: &'static str,
}

impl Request {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Request {
            method,
            path: path.into(),
            body: None,
            idempotency_key: None,
            accept: "application/json",
        }
    }

    pub fn json(mut self, value: &impl serde::Serialize) -> Result<Self, Error> {
        self.body = Some(Body::json(value)?);
        Ok(self)
    }

    pub fn idempotent(&self) -> bool {
        self.idempotency_key.is_some()
            || matches!(
                self.method,
                Method::GET | Method::HEAD | Method::PUT | Method::PATCH | Method::DELETE
            )
    }
}

/// A complete answer with a 2xx status.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Response {
    pub fn request_id(&self) -> Option<String> {
        header_str(&self.headers, REQUEST_ID_HEADER)
    }

    pub fn content_type(&self) -> Option<String> {
        header_str(&self.headers, CONTENT_TYPE.as_str())
    }

    /// The request id and headers a result carries.
    pub fn meta(&self) -> ResponseMeta {
        meta_of(&self.headers)
    }
}

/// The request id and headers of a response head (a result's, an error's or a stream's).
pub fn meta_of(headers: &HeaderMap) -> ResponseMeta {
    ResponseMeta {
        request_id: header_str(headers, REQUEST_ID_HEADER),
        headers: headers_of(headers),
    }
}

/// Every header by its (lower-case) name; values that are not visible ASCII are kept as
/// UTF-8 where they are valid, else dropped, and repeats are joined with `", "`.
pub fn headers_of(headers: &HeaderMap) -> Headers {
    let mut out = Headers::new();
    for (name, value) in headers {
        let Ok(value) = std::str::from_utf8(value.as_bytes()) else {
            continue;
        };
        out.entry(name.as_str().to_string())
            .and_modify(|v: &mut String| {
                v.push_str(", ");
                v.push_str(value);
            })
            .or_insert_with(|| value.to_string());
    }
    out
}

pub(crate) fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(86_400.0)))
}

/// Percent-encodes one URL path segment (or query value): everything outside the unreserved
/// set. Slugs and ids are URL-safe when the server made them; ids a caller passes may not be.
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn headers_keep_every_value_and_the_request_id() {
        let mut h = HeaderMap::new();
        h.insert("x-request-id", HeaderValue::from_static("req-1"));
        h.append("x-ratelimit", HeaderValue::from_static("a"));
        h.append("x-ratelimit", HeaderValue::from_static("b"));
        h.insert("x-bin", HeaderValue::from_bytes(b"\xff\xfe").unwrap());
        let meta = meta_of(&h);
        assert_eq!(meta.request_id.as_deref(), Some("req-1"));
        assert_eq!(meta.headers["x-ratelimit"], "a, b");
        assert_eq!(meta.headers["x-request-id"], "req-1");
        assert!(!meta.headers.contains_key("x-bin"));
    }
}
