//! The boundary itself: status codes, the per-thread last error, argument checking, owned
//! strings, the panic guard, and the bridge from a blocking C call to the shared runtime.

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};

use inferencekey_core::rt::runtime;
use inferencekey_core::{Error, ErrorKind};
use serde::Serialize;

/// The result of every call. `IK_OK` is zero; every other value is an error whose details
/// `ik_last_error_json()` returns on the same thread. The error values mirror the SDK's error
/// kinds, plus `IK_ERR_INVALID_ARGUMENT` (the ABI was misused: a null pointer where one is
/// required, a string that is not UTF-8) and `IK_ERR_INTERNAL` (a bug in the SDK, caught
/// before it could unwind into the caller).
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ik_status {
    IK_OK = 0,
    IK_ERR_INVALID_ARGUMENT = 1,
    IK_ERR_CONFIGURATION = 2,
    IK_ERR_VALIDATION = 3,
    IK_ERR_DRIFT = 4,
    IK_ERR_AUTH = 5,
    IK_ERR_PERMISSION_DENIED = 6,
    IK_ERR_NOT_FOUND = 7,
    IK_ERR_CONFLICT = 8,
    IK_ERR_RATE_LIMITED = 9,
    IK_ERR_SERVER = 10,
    IK_ERR_CONNECTION = 11,
    IK_ERR_TIMEOUT = 12,
    IK_ERR_PROTOCOL = 13,
    // 14 was IK_ERR_CANCELLED, a kind nothing produced; the number stays unused.
    IK_ERR_HTTP = 15,
    IK_ERR_INTERNAL = 16,
}

use ik_status::*;

/// The status of each SDK error kind: the C side of the core's one table
/// ([`ErrorKind::ALL`]); the test below fails when a kind is missing or misnamed here.
const KIND_STATUS: [(ErrorKind, ik_status); 13] = [
    (ErrorKind::Configuration, IK_ERR_CONFIGURATION),
    (ErrorKind::Validation, IK_ERR_VALIDATION),
    (ErrorKind::Drift, IK_ERR_DRIFT),
    (ErrorKind::Auth, IK_ERR_AUTH),
    (ErrorKind::PermissionDenied, IK_ERR_PERMISSION_DENIED),
    (ErrorKind::NotFound, IK_ERR_NOT_FOUND),
    (ErrorKind::Conflict, IK_ERR_CONFLICT),
    (ErrorKind::RateLimited, IK_ERR_RATE_LIMITED),
    (ErrorKind::Server, IK_ERR_SERVER),
    (ErrorKind::Connection, IK_ERR_CONNECTION),
    (ErrorKind::Timeout, IK_ERR_TIMEOUT),
    (ErrorKind::Protocol, IK_ERR_PROTOCOL),
    (ErrorKind::Http, IK_ERR_HTTP),
];

/// Every status, for `ik_status_name`.
pub const ALL_STATUSES: [ik_status; 16] = [
    IK_OK,
    IK_ERR_INVALID_ARGUMENT,
    IK_ERR_CONFIGURATION,
    IK_ERR_VALIDATION,
    IK_ERR_DRIFT,
    IK_ERR_AUTH,
    IK_ERR_PERMISSION_DENIED,
    IK_ERR_NOT_FOUND,
    IK_ERR_CONFLICT,
    IK_ERR_RATE_LIMITED,
    IK_ERR_SERVER,
    IK_ERR_CONNECTION,
    IK_ERR_TIMEOUT,
    IK_ERR_PROTOCOL,
    IK_ERR_HTTP,
    IK_ERR_INTERNAL,
];

impl ik_status {
    fn of_kind(kind: ErrorKind) -> ik_status {
        KIND_STATUS
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(IK_ERR_INTERNAL, |(_, s)| *s)
    }

    /// The `kind` string of the error JSON: for SDK errors, `ErrorKind::as_str`.
    pub fn name(self) -> &'static str {
        match self {
            IK_OK => "ok",
            IK_ERR_INVALID_ARGUMENT => "invalid_argument",
            IK_ERR_INTERNAL => "internal",
            other => KIND_STATUS
                .iter()
                .find(|(_, s)| *s == other)
                .map_or("internal", |(k, _)| k.as_str()),
        }
    }
}

/// A failed call: the status returned to C and the error behind it.
pub struct Failure {
    pub status: ik_status,
    pub error: Error,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure {
            status: ik_status::of_kind(error.kind),
            error,
        }
    }
}

impl Failure {
    /// The caller broke the ABI's rules for argument `param`.
    pub fn invalid_argument(param: &str, message: impl Into<String>) -> Self {
        Failure {
            status: IK_ERR_INVALID_ARGUMENT,
            error: Error::new(ErrorKind::Configuration, message)
                .with_code("invalid_argument")
                .with_field(param),
        }
    }

    fn internal(message: impl Into<String>) -> Self {
        Failure {
            status: IK_ERR_INTERNAL,
            error: Error::new(ErrorKind::Server, message).with_code("internal_error"),
        }
    }

    /// The one-line text: the SDK's documented prefix and message.
    fn display(&self) -> String {
        match self.status {
            IK_ERR_INVALID_ARGUMENT => format!("invalid argument: {}", self.error.message),
            IK_ERR_INTERNAL => format!("internal error: {}", self.error.message),
            _ => self.error.to_string(),
        }
    }

    /// The error as the JSON object `ik_last_error_json()` documents.
    fn to_json(&self) -> String {
        let e = &self.error;
        serde_json::to_string(&ErrorJson {
            status: self.status as i32,
            kind: self.status.name(),
            http_status: e.status,
            code: e.code.as_deref(),
            message: &e.message,
            display: self.display(),
            field: e.field.as_deref(),
            problems: e
                .problems
                .iter()
                .map(|p| Problem {
                    field: &p.field,
                    message: &p.message,
                })
                .collect(),
            request_id: e.request_id.as_deref(),
            headers: &e.headers,
            retry_after: e.retry_after.map(|d| d.as_secs_f64()),
            plan: e.plan.as_ref(),
        })
        .unwrap_or_default()
    }
}

/// The shape of `ik_last_error_json()`.
#[derive(Serialize)]
struct ErrorJson<'a> {
    status: i32,
    kind: &'static str,
    http_status: Option<u16>,
    code: Option<&'a str>,
    message: &'a str,
    display: String,
    field: Option<&'a str>,
    problems: Vec<Problem<'a>>,
    request_id: Option<&'a str>,
    /// The error response's headers by lower-case name (empty without a response).
    headers: &'a inferencekey_core::Headers,
    retry_after: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    plan: Option<&'a inferencekey_core::Plan>,
}

#[derive(Serialize)]
struct Problem<'a> {
    field: &'a str,
    message: &'a str,
}

thread_local! {
    static LAST_ERROR: RefCell<Option<Failure>> = const { RefCell::new(None) };
}

fn set_last_error(failure: Option<Failure>) {
    // `try_with`: during thread teardown the slot may be gone; losing the error then is fine.
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = failure);
}

/// Runs one entry point: clears the thread's last error, catches panics, and turns the
/// outcome into a status (recording the error for `ik_last_error_json`).
pub fn guard(f: impl FnOnce() -> Result<(), Failure>) -> ik_status {
    set_last_error(None);
    let failure = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => return IK_OK,
        Ok(Err(failure)) => failure,
        Err(panic) => Failure::internal(format!(
            "the SDK panicked: {}; please report this",
            panic_text(&*panic)
        )),
    };
    let status = failure.status;
    set_last_error(Some(failure));
    status
}

/// Like [`guard`] for functions that cannot report a status (frees): a panic is swallowed,
/// because unwinding into C is undefined behaviour and a free has no error to return.
pub fn guard_void(f: impl FnOnce()) {
    let _ = catch_unwind(AssertUnwindSafe(f));
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    let text = if let Some(s) = panic.downcast_ref::<&str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.as_str()
    } else {
        "unknown panic"
    };
    inferencekey_core::token::scrub(text)
}

/// The last error of this thread as JSON, or `None` when the last call succeeded.
pub fn last_error_json() -> Option<String> {
    LAST_ERROR
        .try_with(|slot| slot.borrow().as_ref().map(Failure::to_json))
        .ok()
        .flatten()
}

pub fn last_error_display() -> Option<String> {
    LAST_ERROR
        .try_with(|slot| slot.borrow().as_ref().map(Failure::display))
        .ok()
        .flatten()
}

/// A required string argument.
///
/// # Safety
/// `p` is null or points to a NUL-terminated string that outlives the call.
pub unsafe fn str_arg<'a>(p: *const c_char, param: &str) -> Result<&'a str, Failure> {
    opt_str_arg(p, param)?
        .ok_or_else(|| Failure::invalid_argument(param, format!("{param} must not be NULL")))
}

/// An optional string argument: NULL is `None`.
///
/// # Safety
/// As [`str_arg`].
pub unsafe fn opt_str_arg<'a>(p: *const c_char, param: &str) -> Result<Option<&'a str>, Failure> {
    if p.is_null() {
        return Ok(None);
    }
    CStr::from_ptr(p).to_str().map(Some).map_err(|e| {
        Failure::invalid_argument(
            param,
            format!(
                "{param} is not valid UTF-8 (bad byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}

/// A handle argument; NULL is an invalid argument.
///
/// # Safety
/// `p` is null or a live handle of type `T` made by this library.
pub unsafe fn handle<'a, T>(p: *const T, param: &str) -> Result<&'a T, Failure> {
    p.as_ref()
        .ok_or_else(|| Failure::invalid_argument(param, format!("{param} must not be NULL")))
}

/// An out-parameter: must not be NULL; set to NULL at once so that on failure the caller
/// never sees a stale pointer.
///
/// # Safety
/// `p` is null or valid for a pointer-sized write.
pub unsafe fn out_arg<'a, T>(p: *mut *mut T, param: &str) -> Result<&'a mut *mut T, Failure> {
    let out = p
        .as_mut()
        .ok_or_else(|| Failure::invalid_argument(param, format!("{param} must not be NULL")))?;
    *out = std::ptr::null_mut();
    Ok(out)
}

/// Hands a string to C; freed by `ik_string_free`.
pub fn c_string(s: String) -> Result<*mut c_char, Failure> {
    CString::new(s).map(CString::into_raw).map_err(|_| {
        Failure::from(Error::protocol(
            "the server sent a string with an embedded NUL byte, which C cannot represent",
        ))
    })
}

/// Frees a string made by [`c_string`].
///
/// # Safety
/// `p` is null or came from [`c_string`] and was not freed before.
pub unsafe fn free_c_string(p: *mut c_char) {
    if !p.is_null() {
        drop(CString::from_raw(p));
    }
}

/// Handles handed out by [`into_handle`] and not yet freed by [`free_handle`]
/// (`ik_live_handles`).
static LIVE_HANDLES: AtomicU64 = AtomicU64::new(0);

pub fn live_handles() -> u64 {
    LIVE_HANDLES.load(Ordering::SeqCst)
}

/// Hands a handle to C; freed by [`free_handle`].
pub fn into_handle<T>(value: T) -> *mut T {
    let p = Box::into_raw(Box::new(value));
    LIVE_HANDLES.fetch_add(1, Ordering::SeqCst);
    p
}

/// # Safety
/// `p` is null or came from [`into_handle`] with the same `T` and was not freed before.
pub unsafe fn free_handle<T>(p: *mut T) {
    if !p.is_null() {
        // Counted before the drop: a panicking destructor still ends the handle's life.
        LIVE_HANDLES.fetch_sub(1, Ordering::SeqCst);
        drop(Box::from_raw(p));
    }
}

/// Runs `fut` on the shared runtime and blocks this thread until it finishes.
///
/// The future is spawned and its answer comes back over a std channel instead of through
/// `Runtime::block_on`, because `block_on` panics on a thread that is already inside a Tokio
/// runtime — and a C caller may well be a Rust program's async task, or a thread of another
/// language's async runtime. A panic inside the task drops the sender and becomes
/// `IK_ERR_INTERNAL`.
pub fn block<T: Send + 'static>(
    fut: impl Future<Output = T> + Send + 'static,
) -> Result<T, Failure> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    runtime().spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv()
        .map_err(|_| Failure::internal("the SDK task panicked; please report this"))
}

/// [`block`] for the SDK's fallible futures.
pub fn call<T: Send + 'static>(
    fut: impl Future<Output = Result<T, Error>> + Send + 'static,
) -> Result<T, Failure> {
    block(fut)?.map_err(Failure::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_internal_and_is_scrubbed() {
        let st = guard(|| panic!("boom with ik_sdk_abcdefghij_supersecret inside"));
        assert_eq!(st, IK_ERR_INTERNAL);
        let json = last_error_json().unwrap();
        assert!(json.contains("\"kind\":\"internal\""), "{json}");
        assert!(json.contains("boom"), "{json}");
        assert!(!json.contains("supersecret"), "{json}");
        // A later success clears it.
        assert_eq!(guard(|| Ok(())), IK_OK);
        assert!(last_error_json().is_none());
    }

    #[test]
    fn a_panicking_task_is_internal_not_a_hang() {
        let r = block(async { panic!("task panic") });
        let r: Result<(), _> = r;
        assert_eq!(r.err().unwrap().status, IK_ERR_INTERNAL);
    }
}

#[cfg(test)]
mod kind_table {
    use super::*;

    #[test]
    fn every_core_kind_has_its_own_status_named_like_it() {
        for kind in ErrorKind::ALL {
            let status = ik_status::of_kind(kind);
            assert_ne!(status, IK_ERR_INTERNAL, "{kind:?} has no C status");
            assert_eq!(status.name(), kind.as_str());
        }
        assert_eq!(KIND_STATUS.len(), ErrorKind::ALL.len());
        let mut codes: Vec<i32> = ALL_STATUSES.iter().map(|s| *s as i32).collect();
        codes.dedup();
        assert_eq!(codes.len(), ALL_STATUSES.len());
    }
}
