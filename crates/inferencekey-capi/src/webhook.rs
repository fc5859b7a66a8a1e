//! Webhook signatures over the ABI: `ik_webhook_verify` and `ik_webhook_sign`. The body and
//! the secret cross as bytes with a length, not as strings: a delivery must be verified as the
//! raw bytes received (which may hold any byte, NUL included), and a secret is a key, not text.

use std::ffi::c_char;

use inferencekey_core::webhook::{self, WebhookSettings};

use crate::ffi::{c_string, guard, ik_status, opt_str_arg, out_arg, str_arg, Failure};
use crate::options::settings;

/// `len` bytes at `p`; NULL is allowed only with `len == 0` (an empty body).
///
/// # Safety
/// `p` is NULL or valid for reads of `len` bytes for the duration of the call.
unsafe fn bytes_arg<'a>(p: *const u8, len: usize, param: &str) -> Result<&'a [u8], Failure> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Failure::invalid_argument(
            param,
            format!("{param} is NULL but its length is {len}"),
        ));
    }
    Ok(std::slice::from_raw_parts(p, len))
}

/// Checks a webhook delivery: `IK_OK` when `signature_header` (the `X-InferenceKey-Signature`
/// value, `t=<unix seconds>,v1=<hex>`) signs the raw `body` with `secret` and its timestamp is
/// within the tolerance of the receiver's clock. Comparison is constant-time.
///
/// `options_json` (NULL = `{}`): `tolerance` (seconds, default 300; 0 = exactly now) and `now`
/// (the receiver's clock as unix seconds; default the system clock).
///
/// Failures are `IK_ERR_VALIDATION` with `field` `X-InferenceKey-Signature` and `code`
/// `invalid_signature` (wrong secret, altered body or timestamp), `signature_expired` (an
/// authentic delivery older or newer than the tolerance: a replay or a skewed clock) or
/// `malformed_signature` (the header cannot be read; the message says which part); an empty
/// secret is `IK_ERR_CONFIGURATION`. The secret never appears in an error.
///
/// # Safety
/// `body` is valid for `body_len` bytes (NULL when 0), `secret` for `secret_len` bytes;
/// strings as documented in the header's preamble.
#[no_mangle]
pub unsafe extern "C" fn ik_webhook_verify(
    body: *const u8,
    body_len: usize,
    signature_header: *const c_char,
    secret: *const u8,
    secret_len: usize,
    options_json: *const c_char,
) -> ik_status {
    guard(|| {
        let body = bytes_arg(body, body_len, "body")?;
        let header = str_arg(signature_header, "signature_header")?;
        let secret = bytes_arg(secret, secret_len, "secret")?;
        let s: WebhookSettings = settings(opt_str_arg(options_json, "options_json")?)?;
        Ok(s.verify(body, header, secret)?)
    })
}

/// The `X-InferenceKey-Signature` value the platform sends for `body` at unix time `t`
/// (for senders and tests). `*out` is a plain string (not JSON); free it with
/// `ik_string_free`.
///
/// # Safety
/// As `ik_webhook_verify`; `out` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn ik_webhook_sign(
    body: *const u8,
    body_len: usize,
    secret: *const u8,
    secret_len: usize,
    t: u64,
    out: *mut *mut c_char,
) -> ik_status {
    guard(|| {
        let out = out_arg(out, "out")?;
        let body = bytes_arg(body, body_len, "body")?;
        let secret = bytes_arg(secret, secret_len, "secret")?;
        *out = c_string(webhook::sign(body, secret, t))?;
        Ok(())
    })
}
