//! `ik_webhook_verify` / `ik_webhook_sign`: the core's rule reached through the ABI, with
//! errors that name what is wrong and never the secret.

use std::ffi::{c_char, CStr, CString};
use std::ptr;

use inferencekey_capi::*;
use serde_json::Value;

const SECRET: &[u8] = b"whsec_abi_test_secret";
const BODY: &[u8] = br#"{"event":"job.completed","job_id":"job_1"}"#;
const T: u64 = 1_700_000_000;

fn last_error() -> Value {
    let p = ik_last_error_json();
    assert!(!p.is_null(), "a failed call leaves an error");
    let v = serde_json::from_str(unsafe { CStr::from_ptr(p) }.to_str().unwrap()).unwrap();
    unsafe { ik_string_free(p) };
    v
}

fn sign(body: &[u8], secret: &[u8], t: u64) -> String {
    let mut out: *mut c_char = ptr::null_mut();
    let st = unsafe {
        ik_webhook_sign(
            body.as_ptr(),
            body.len(),
            secret.as_ptr(),
            secret.len(),
            t,
            &mut out,
        )
    };
    assert_eq!(st, ik_status::IK_OK);
    let s = unsafe { CStr::from_ptr(out) }.to_str().unwrap().to_string();
    unsafe { ik_string_free(out) };
    s
}

fn verify(body: &[u8], header: &str, secret: &[u8], options: Option<&str>) -> ik_status {
    let header = CString::new(header).unwrap();
    let options = options.map(|o| CString::new(o).unwrap());
    unsafe {
        ik_webhook_verify(
            body.as_ptr(),
            body.len(),
            header.as_ptr(),
            secret.as_ptr(),
            secret.len(),
            options.as_ref().map_or(ptr::null(), |o| o.as_ptr()),
        )
    }
}

/// The error of a rejected delivery: validation, on the header, with `code`, secret-free.
fn rejected(st: ik_status, code: &str) -> Value {
    assert_eq!(st, ik_status::IK_ERR_VALIDATION);
    let e = last_error();
    assert_eq!(e["kind"], "validation");
    assert_eq!(e["code"], code, "{e}");
    assert_eq!(e["field"], "X-InferenceKey-Signature", "{e}");
    assert!(!e.to_string().contains("whsec_abi_test_secret"), "{e}");
    e
}

const AT_T: Option<&str> = Some(r#"{"now": 1700000000}"#);

#[test]
fn a_valid_signature_passes_and_clears_the_error() {
    let header = sign(BODY, SECRET, T);
    // Computed independently: hmac.new(SECRET, b"1700000000." + BODY, sha256).hexdigest()
    assert_eq!(
        header,
        "t=1700000000,v1=9e387e4683dcc7a747b7766062f546cf95efbd0f812aadaec59c5356f3d2d9a6"
    );
    assert_eq!(verify(BODY, &header, SECRET, AT_T), ik_status::IK_OK);
    assert!(ik_last_error_json().is_null());
}

#[test]
fn tampered_body_wrong_secret_and_stale_timestamp_are_named() {
    let header = sign(BODY, SECRET, T);
    rejected(
        verify(
            br#"{"event":"job.completed","job_id":"job_2"}"#,
            &header,
            SECRET,
            AT_T,
        ),
        "invalid_signature",
    );
    rejected(
        verify(BODY, &header, b"whsec_other", AT_T),
        "invalid_signature",
    );
    let e = rejected(
        verify(BODY, &header, SECRET, Some(r#"{"now": 1700000400}"#)),
        "signature_expired",
    );
    assert!(e["message"].as_str().unwrap().contains("400 s old"), "{e}");
    // A wider tolerance accepts the same delivery; zero means the exact second.
    let wide = Some(r#"{"now": 1700000400, "tolerance": 600}"#);
    assert_eq!(verify(BODY, &header, SECRET, wide), ik_status::IK_OK);
    let exact = Some(r#"{"now": 1700000001, "tolerance": 0}"#);
    rejected(verify(BODY, &header, SECRET, exact), "signature_expired");
    // Without `now` the system clock is used: a 2023 timestamp is long stale.
    rejected(verify(BODY, &header, SECRET, None), "signature_expired");
}

#[test]
fn malformed_headers_and_bad_options() {
    let e = rejected(
        verify(BODY, "t=abc,v1=00", SECRET, AT_T),
        "malformed_signature",
    );
    assert!(e["message"].as_str().unwrap().contains("`t`"), "{e}");

    let st = verify(
        BODY,
        &sign(BODY, SECRET, T),
        SECRET,
        Some(r#"{"tolerance": -1}"#),
    );
    assert_eq!(st, ik_status::IK_ERR_CONFIGURATION);
    assert_eq!(last_error()["field"], "tolerance");
    let st = verify(BODY, &sign(BODY, SECRET, T), SECRET, Some(r#"{"skew": 1}"#));
    assert_eq!(st, ik_status::IK_ERR_CONFIGURATION);
    assert_eq!(last_error()["field"], "skew");

    // An empty secret would accept anything signed with an empty key.
    let st = verify(BODY, &sign(BODY, b"", T), b"", AT_T);
    assert_eq!(st, ik_status::IK_ERR_CONFIGURATION);
}

#[test]
fn bytes_cross_as_bytes() {
    // Any byte, NUL included, is part of what is signed.
    let body = b"\x00binary\xff body";
    let header = sign(body, SECRET, T);
    assert_eq!(verify(body, &header, SECRET, AT_T), ik_status::IK_OK);
    // An empty body may be NULL.
    let header = CString::new(sign(b"", SECRET, T)).unwrap();
    let opts = CString::new(AT_T.unwrap()).unwrap();
    let st = unsafe {
        ik_webhook_verify(
            ptr::null(),
            0,
            header.as_ptr(),
            SECRET.as_ptr(),
            SECRET.len(),
            opts.as_ptr(),
        )
    };
    assert_eq!(st, ik_status::IK_OK);
    // NULL with a length, or a NULL header, is a misuse, not a crash.
    let st = unsafe {
        ik_webhook_verify(
            ptr::null(),
            3,
            header.as_ptr(),
            SECRET.as_ptr(),
            SECRET.len(),
            ptr::null(),
        )
    };
    assert_eq!(st, ik_status::IK_ERR_INVALID_ARGUMENT);
    assert_eq!(last_error()["field"], "body");
    let st = unsafe {
        ik_webhook_verify(
            BODY.as_ptr(),
            BODY.len(),
            ptr::null(),
            SECRET.as_ptr(),
            SECRET.len(),
            ptr::null(),
        )
    };
    assert_eq!(st, ik_status::IK_ERR_INVALID_ARGUMENT);
    assert_eq!(last_error()["field"], "signature_header");
    let st = unsafe {
        ik_webhook_sign(
            BODY.as_ptr(),
            BODY.len(),
            ptr::null(),
            4,
            T,
            &mut ptr::null_mut(),
        )
    };
    assert_eq!(st, ik_status::IK_ERR_INVALID_ARGUMENT);
    assert_eq!(last_error()["field"], "secret");
}
