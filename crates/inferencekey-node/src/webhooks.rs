//! Webhook signature checks for receivers written in Node (docs/contract.md, "Webhooks").

use std::time::Duration;

use inferencekey_core::webhook;
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;

use crate::errors::IntoNapi;

/// Throws a `ValidationError` (code `invalid_signature`, `signature_expired` or
/// `malformed_signature`) unless `signature_header` signs `body` with `secret`.
#[napi]
pub fn verify_webhook(
    body: Buffer,
    signature_header: String,
    secret: Buffer,
    tolerance: Option<f64>,
    now: Option<i64>,
) -> napi::Result<()> {
    let tolerance = Duration::from_secs_f64(tolerance.unwrap_or(300.0).clamp(0.0, 1e9));
    match now {
        Some(now) => webhook::verify(
            &body,
            &signature_header,
            &secret,
            tolerance,
            now.max(0) as u64,
        ),
        None => webhook::verify_now(&body, &signature_header, &secret, tolerance),
    }
    .napi()
}

/// The `X-InferenceKey-Signature` value for `body` at unix time `t` (for tests and senders).
#[napi]
pub fn sign_webhook(body: Buffer, secret: Buffer, t: i64) -> String {
    webhook::sign(&body, &secret, t.max(0) as u64)
}
