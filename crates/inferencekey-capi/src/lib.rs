//! The InferenceKey SDK as a C ABI, for Go, Java and any other language with an FFI.
//!
//! The ABI is deliberately narrow so that it can stay stable while the SDK grows: opaque
//! handles, UTF-8 strings in, JSON strings out, a status code from every call, and the error
//! details on the side (`ik_last_error_json`). Complex values cross as JSON so that a new
//! field is a new key rather than a new symbol. The rules are spelled out in the header's
//! preamble (`cbindgen.toml`), which is what C users read.
//!
//! This crate only marshals: every decision lives in `inferencekey-core`.

#![allow(non_camel_case_types)]

mod data;
mod ffi;
mod mgmt;
mod options;
mod stream;
mod webhook;

use std::ffi::{c_char, CStr};

pub use data::*;
pub use ffi::ik_status;
pub use mgmt::*;
pub use stream::*;
pub use webhook::*;

use ffi::{c_string, free_c_string, guard_void};

// The header promises thread-safe handles; this fails to compile if a handle stops being so.
const _: () = {
    const fn thread_safe<T: Send + Sync>() {}
    thread_safe::<ik_mgmt_client>();
    thread_safe::<ik_data_client>();
    thread_safe::<ik_endpoint>();
    thread_safe::<ik_stream>();
};

/// The SDK version (`"0.1.0"`). Static: do not free.
#[no_mangle]
pub extern "C" fn ik_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The status's name as it appears in the error JSON's `kind` (`"ok"`, `"not_found"`, …).
/// Static: do not free. Unknown values (from a newer header) give `"unknown"`.
#[no_mangle]
pub extern "C" fn ik_status_name(status: i32) -> *const c_char {
    static NAMES: std::sync::OnceLock<Vec<(i32, std::ffi::CString)>> = std::sync::OnceLock::new();
    let names = NAMES.get_or_init(|| {
        ffi::ALL_STATUSES
            .iter()
            .map(|s| {
                (
                    *s as i32,
                    std::ffi::CString::new(s.name()).unwrap_or_default(),
                )
            })
            .collect()
    });
    let name: &CStr = names
        .iter()
        .find(|(code, _)| *code == status)
        .map_or(c"unknown", |(_, n)| n.as_c_str());
    name.as_ptr()
}

/// The error of this thread's last failed call as JSON, or NULL when the last call succeeded
/// (every call except the `ik_last_error_*`, `ik_*_free` and static-string functions resets
/// it). Free the result with `ik_string_free`.
///
/// Shape: `{"status": 7, "kind": "not_found", "http_status": 404, "code": "not_found",
/// "message": "…", "display": "not found: …", "field": null, "problems": [{"field",
/// "message"}], "request_id": "…", "headers": {"x-request-id": "…"}, "retry_after": null}`
/// plus `"plan"` for drift. `display`
/// is the one-line text with the SDK's documented prefix; secrets never appear in it.
#[no_mangle]
pub extern "C" fn ik_last_error_json() -> *mut c_char {
    let mut out = std::ptr::null_mut();
    guard_void(|| {
        if let Some(json) = ffi::last_error_json() {
            out = c_string(json).unwrap_or(std::ptr::null_mut());
        }
    });
    out
}

/// The `display` text of this thread's last error, or NULL when the last call succeeded.
/// Free with `ik_string_free`.
#[no_mangle]
pub extern "C" fn ik_last_error_message() -> *mut c_char {
    let mut out = std::ptr::null_mut();
    guard_void(|| {
        if let Some(text) = ffi::last_error_display() {
            out = c_string(text).unwrap_or(std::ptr::null_mut());
        }
    });
    out
}

/// The JSON field names of one of the SDK's types, as a JSON array of strings: `type_name` is
/// `TextRequest`, `EmbedRequest`, `RerankRequest`, `JobRequest`, `ManagementSettings`,
/// `DataSettings`, `EndpointSettings`, `WebhookSettings` or `Workload`. Bindings check their
/// own declarations against it in their tests; an unknown name is `IK_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `type_name` is a NUL-terminated string; `out_json` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn ik_type_fields(
    type_name: *const c_char,
    out_json: *mut *mut c_char,
) -> ik_status {
    ffi::guard(|| {
        let out = ffi::out_arg(out_json, "out_json")?;
        let name = ffi::str_arg(type_name, "type_name")?;
        let fields = inferencekey_core::client::schema::type_fields(name).ok_or_else(|| {
            ffi::Failure::invalid_argument(
                "type_name",
                format!(
                    "{name:?} is not a type; expected one of: {}",
                    inferencekey_core::client::schema::TYPES.join(", ")
                ),
            )
        })?;
        *out = c_string(options::to_json(&fields)?)?;
        Ok(())
    })
}

/// How many handles (clients, endpoints, streams) this library has handed out and not yet
/// freed, process-wide: a leak check for bindings and their tests. Strings are not counted.
#[no_mangle]
pub extern "C" fn ik_live_handles() -> u64 {
    ffi::live_handles()
}

/// Frees a string returned by this library. NULL is a no-op.
///
/// # Safety
/// `s` is NULL or a string this library returned that was not freed before.
#[no_mangle]
pub unsafe extern "C" fn ik_string_free(s: *mut c_char) {
    guard_void(|| free_c_string(s))
}
