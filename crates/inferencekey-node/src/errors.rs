//! Core errors as JavaScript rejections. The rejection's message is a JSON object holding
//! the core error's fields (kind name, message, status, code, field, problems, request id,
//! retry-after, plan), under a fixed prefix; the TypeScript layer (`src/errors.ts`) builds the
//! matching `InferenceKeyError` subclass from it. Messages are the core's, which never hold a
//! secret (tokens are redacted where errors are made).

use inferencekey_core::{Error, ErrorKind};
use serde_json::{json, Value};

use crate::cancel::{Cancelled, CANCELLED};

/// Marks an error payload, so a foreign error (a napi type error) is told apart.
pub const PREFIX: &str = "inferencekey:";

pub fn kind_names() -> Vec<String> {
    ErrorKind::ALL
        .iter()
        .map(|k| k.as_str().to_string())
        .collect()
}

pub fn payload(e: &Error) -> Value {
    json!({
        "kind": e.kind.as_str(),
        "message": e.to_string(),
        "status": e.status,
        "code": e.code,
        "field": e.field,
        "problems": e.problems.iter().map(|p| json!({"field": p.field, "message": p.message})).collect::<Vec<_>>(),
        "request_id": e.request_id,
        "headers": e.headers,
        "retry_after": e.retry_after.map(|d| d.as_secs_f64()),
        "plan": e.plan,
    })
}

pub fn to_napi(e: &Error) -> napi::Error {
    napi::Error::from_reason(format!("{PREFIX}{}", payload(e)))
}

pub fn from_call(c: Cancelled) -> napi::Error {
    match c {
        Cancelled::Aborted => napi::Error::from_reason(format!(
            "{PREFIX}{}",
            json!({"kind": CANCELLED, "message": "the call was aborted"})
        )),
        Cancelled::Failed(e) => to_napi(&e),
    }
}

pub type NapiResult<T> = napi::Result<T>;

/// `?` for core results inside the addon.
pub trait IntoNapi<T> {
    fn napi(self) -> NapiResult<T>;
}

impl<T> IntoNapi<T> for Result<T, Error> {
    fn napi(self) -> NapiResult<T> {
        self.map_err(|e| to_napi(&e))
    }
}
