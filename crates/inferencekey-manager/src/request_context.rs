//! The request-context middleware: every request gets an `X-Request-Id` (the client's, when
//! usable, else a new one), echoed on the answer and written to the access log. Its own
//! module so the router (`server`) and the handlers that read the id (`gateway`) both depend
//! on it and not on each other.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

/// The request id of the current request, set by the request-context middleware.
#[derive(Clone)]
pub struct RequestId(pub HeaderValue);

fn next_request_id() -> HeaderValue {
    static PREFIX: OnceLock<u32> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    let prefix = *PREFIX.get_or_init(rand::random);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    HeaderValue::from_str(&format!("req_{prefix:08x}{n:012x}"))
        .unwrap_or_else(|_| HeaderValue::from_static("req_unknown"))
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

/// Accepts or assigns `X-Request-Id`, echoes it on the response, and writes the access log
/// (method, path, status, latency — never headers or bodies).
pub async fn request_context(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = req
        .headers()
        .get("x-request-id")
        .filter(|v| usable_request_id(v))
        .cloned()
        .unwrap_or_else(next_request_id);
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    // Paths can carry a token pasted in the wrong place; the log shows it redacted.
    let path = inferencekey_core::token::scrub(req.uri().path());
    let mut resp = next.run(req).await;
    let status = resp.status().as_u16();
    tracing::info!(
        target: "inferencekey_manager::access",
        %method,
        path,
        status,
        latency_us = started.elapsed().as_micros() as u64,
        request_id = id.to_str().unwrap_or_default(),
    );
    resp.headers_mut().insert("x-request-id", id);
    resp
}
