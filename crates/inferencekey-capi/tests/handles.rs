//! `ik_live_handles` counts what was handed out and not freed. Its own test binary (one test,
//! one process), because the count is process-wide and other tests open handles in parallel.

use std::ffi::CString;
use std::ptr;

use inferencekey_capi::*;

#[test]
fn live_handles_counts_opens_and_frees() {
    assert_eq!(ik_live_handles(), 0);
    let data_opts = CString::new(
        r#"{"base_url": "http://127.0.0.1:9", "project": "acme",
            "api_key": "ik_live_abcdefgh_secret"}"#,
    )
    .unwrap();
    let mgmt_opts = CString::new(
        r#"{"base_url": "http://127.0.0.1:9", "project": "acme",
            "sdk_token": "ik_sdk_abcdefgh_secretsecret"}"#,
    )
    .unwrap();
    let (mut mgmt, mut data, mut ep) = (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
    unsafe {
        assert_eq!(
            ik_mgmt_client_new(mgmt_opts.as_ptr(), &mut mgmt),
            ik_status::IK_OK
        );
        assert_eq!(
            ik_data_client_new(data_opts.as_ptr(), &mut data),
            ik_status::IK_OK
        );
        let slug = CString::new("bot").unwrap();
        assert_eq!(
            ik_data_client_endpoint(data, slug.as_ptr(), ptr::null(), &mut ep),
            ik_status::IK_OK
        );
    }
    assert_eq!(ik_live_handles(), 3);

    // A failed open hands out nothing.
    let wrong = CString::new(r#"{"sdk_token": "ik_live_abcdefgh_secret"}"#).unwrap();
    let mut none = ptr::null_mut();
    let st = unsafe { ik_mgmt_client_new(wrong.as_ptr(), &mut none) };
    assert_ne!(st, ik_status::IK_OK);
    assert!(none.is_null());
    assert_eq!(ik_live_handles(), 3);

    unsafe {
        ik_endpoint_free(ep);
        assert_eq!(ik_live_handles(), 2);
        ik_data_client_free(data);
        ik_mgmt_client_free(mgmt);
        // Freeing NULL is a no-op and does not count.
        ik_mgmt_client_free(ptr::null_mut());
        ik_stream_free(ptr::null_mut());
    }
    assert_eq!(ik_live_handles(), 0);
}
