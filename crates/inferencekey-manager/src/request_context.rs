//! The request context: every request gets an `X-Request-Id` (the client's, when usable, else
//! a new one), echoed on the answer and written to the access log. Its own module so the
//! router (`server`), the front service (`front`) and the handlers that read the id
//! (`gateway`) all depend on it and not on each other.
//!
//! [`request_id`] and [`finish`] are the whole of it; the router's middleware
//! ([`request_context`]) and the gateway's fast path (`gateway::front`) both call them, so
//! the two paths cannot drift apart.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;

/// The request id of the current request, set by the request-context middleware.
#[derive(Clone)]
pub struct RequestId(pub HeaderValue);

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

fn next_request_id() -> HeaderValue {
    static PREFIX: OnceLock<u32> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let prefix = *PREFIX.get_or_init(rand::random);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // `req_` + 8 hex digits of the prefix + 12 of the counter, written by hand: this runs on
    // every request that brings no id of its own, and `format!` was a visible share of it.
    let mut id = *b"req_00000000000000000000";
    for (i, slot) in id[4..12].iter_mut().enumerate() {
        *slot = HEX[((prefix >> (28 - 4 * i)) & 0xf) as usize];
    }
    for (i, slot) in id[12..].iter_mut().enumerate() {
        *slot = HEX[((n >> (44 - 4 * i)) & 0xf) as usize];
    }
    HeaderValue::from_bytes(&id).unwrap_or_else(|_| HeaderValue::from_static("req_unknown"))
}

/// A client's request id is echoed and logged, so it must be short, printable and never a
/// token (one pasted there would land in the access log).
fn usable_request_id(v: &HeaderValue) -> bool {
    let b = v.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && b.iter().all(|c| c.is_ascii_graphic())
        && v.to_str()
            .is_ok_and(|s| !inferencekey_core::token::contains_token(s))
}

/// The id a request is served under: its own `X-Request-Id` when usable, else a new one.
pub fn request_id(headers: &HeaderMap) -> HeaderValue {
    headers
        .get(X_REQUEST_ID)
        .filter(|v| usable_request_id(v))
        .cloned()
        .unwrap_or_else(next_request_id)
}

/// Ends a request: writes its access-log line (method, path, status, latency — never headers
/// or bodies) and echoes its id on the answer.
pub fn finish(resp: &mut Response, method: &Method, path: &str, started: Instant, id: HeaderValue) {
    crate::logging::access(
        method,
        path,
        resp.status().as_u16(),
        started.elapsed().as_micros() as u64,
        id.to_str().unwrap_or_default(),
    );
    resp.headers_mut().insert(X_REQUEST_ID, id);
}

/// Middleware: accepts or assigns `X-Request-Id`, echoes it on the response, and writes the
/// access log.
pub async fn request_context(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(req.headers());
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let mut resp = next.run(req).await;
    finish(&mut resp, &method, &path, started, id);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_req_and_20_hex_digits_and_differ() {
        let a = next_request_id();
        let b = next_request_id();
        assert_ne!(a, b);
        let a = a.to_str().unwrap();
        assert_eq!(a.len(), 24, "{a}");
        assert!(a.starts_with("req_"), "{a}");
        assert!(a[4..].bytes().all(|c| c.is_ascii_hexdigit()), "{a}");
    }

    #[test]
    fn a_usable_client_id_is_kept_and_a_token_is_not() {
        let mut h = HeaderMap::new();
        h.insert(X_REQUEST_ID, HeaderValue::from_static("mine-1"));
        assert_eq!(request_id(&h), "mine-1");
        h.insert(
            X_REQUEST_ID,
            HeaderValue::from_static("ik_live_abcdefabcdef_secretsecret"),
        );
        assert!(request_id(&h).to_str().unwrap().starts_with("req_"));
    }
}
