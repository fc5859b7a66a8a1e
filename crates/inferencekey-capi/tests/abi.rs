//! The boundary rules that need no server: argument checks, error reporting, and calls made
//! from inside someone else's Tokio runtime. Calls that reach a Manager are exercised from C
//! and Go (tests/c, bindings/go) by scripts/test-capi.

use std::ffi::{c_char, CStr, CString};
use std::ptr;

use inferencekey_capi::*;
use serde_json::Value;

fn last_error() -> Value {
    let p = ik_last_error_json();
    assert!(!p.is_null(), "a failed call leaves an error");
    let v = serde_json::from_str(unsafe { CStr::from_ptr(p) }.to_str().unwrap()).unwrap();
    unsafe { ik_string_free(p) };
    v
}

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn client(port: u16) -> *mut ik_mgmt_client {
    let opts = c(&format!(
        r#"{{"base_url": "http://127.0.0.1:{port}", "project": "acme",
            "sdk_token": "ik_sdk_abcdefgh_secretsecret", "max_retries": 0, "timeout": 5}}"#
    ));
    let mut out = ptr::null_mut();
    assert_eq!(
        unsafe { ik_mgmt_client_new(opts.as_ptr(), &mut out) },
        ik_status::IK_OK
    );
    out
}

#[test]
fn null_and_bad_utf8_are_statuses() {
    let st = unsafe { ik_mgmt_client_new(ptr::null(), ptr::null_mut()) };
    assert_eq!(st, ik_status::IK_ERR_INVALID_ARGUMENT);
    assert_eq!(last_error()["field"], "out");

    let bad = [b'{', 0xff, b'}', 0];
    let mut out = ptr::null_mut();
    let st = unsafe { ik_mgmt_client_new(bad.as_ptr().cast::<c_char>(), &mut out) };
    assert_eq!(st, ik_status::IK_ERR_INVALID_ARGUMENT);
    assert!(out.is_null());
    let e = last_error();
    assert_eq!(e["kind"], "invalid_argument");
    assert_eq!(e["field"], "options_json");

    let st = unsafe { ik_mgmt_get(ptr::null(), ptr::null(), ptr::null(), &mut ptr::null_mut()) };
    assert_eq!(st, ik_status::IK_ERR_INVALID_ARGUMENT);
    assert_eq!(last_error()["field"], "client");

    // A success clears the thread's error.
    let cl = client(closed_port());
    assert!(ik_last_error_json().is_null());
    unsafe { ik_mgmt_client_free(cl) };
}

#[test]
fn wrong_plane_token_is_refused_without_leaking_it() {
    let opts =
        c(r#"{"base_url": "http://127.0.0.1:9", "sdk_token": "ik_live_abcdefgh_topsecret"}"#);
    let mut out = ptr::null_mut();
    let st = unsafe { ik_mgmt_client_new(opts.as_ptr(), &mut out) };
    assert_eq!(st, ik_status::IK_ERR_PERMISSION_DENIED);
    let e = last_error();
    assert_eq!(e["code"], "wrong_credential_type");
    assert!(!e.to_string().contains("topsecret"));
}

#[test]
fn callable_from_inside_a_tokio_runtime() {
    let cl = client(closed_port()) as usize;
    for flavor in ["current_thread", "multi_thread"] {
        let rt = match flavor {
            "current_thread" => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build(),
            _ => tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build(),
        }
        .unwrap();
        let st = rt.block_on(async move {
            let mut out = ptr::null_mut();
            let st = unsafe { ik_mgmt_list(cl as *const ik_mgmt_client, ptr::null(), &mut out) };
            assert!(out.is_null());
            st
        });
        assert_eq!(st, ik_status::IK_ERR_CONNECTION, "{flavor}");
        assert_eq!(last_error()["kind"], "connection");
    }
    unsafe { ik_mgmt_client_free(cl as *mut ik_mgmt_client) };
}

#[test]
fn handles_are_shared_across_threads() {
    let cl = client(closed_port()) as usize;
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let slug = c("bot");
                let mut out = ptr::null_mut();
                let st = unsafe {
                    ik_mgmt_get(
                        cl as *const ik_mgmt_client,
                        slug.as_ptr(),
                        ptr::null(),
                        &mut out,
                    )
                };
                (st, last_error()["kind"].clone())
            })
        })
        .collect();
    for t in threads {
        let (st, kind) = t.join().unwrap();
        assert_eq!(st, ik_status::IK_ERR_CONNECTION);
        assert_eq!(kind, "connection");
    }
    unsafe { ik_mgmt_client_free(cl as *mut ik_mgmt_client) };
}

#[test]
fn static_strings() {
    let v = unsafe { CStr::from_ptr(ik_version()) }.to_str().unwrap();
    assert_eq!(v, env!("CARGO_PKG_VERSION"));
    for (status, name) in [
        (0, "ok"),
        (7, "not_found"),
        (16, "internal"),
        (99, "unknown"),
    ] {
        assert_eq!(
            unsafe { CStr::from_ptr(ik_status_name(status)) }
                .to_str()
                .unwrap(),
            name
        );
    }
}
