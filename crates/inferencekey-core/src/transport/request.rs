//! One logical HTTP request (retries resend it) and a complete 2xx answer.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER};
use reqwest::Method;

use crate::domain::error::Error;
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
