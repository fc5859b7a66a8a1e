//! The addon's marshalling, tested without Node: `src/marshal.rs` uses no N-API, so it is
//! compiled here on its own (the cdylib's unit tests cannot link outside a node process).

#[allow(dead_code)]
#[path = "../src/marshal.rs"]
mod marshal;

use std::time::Duration;

use inferencekey_core::config::ManagementSettings;
use inferencekey_core::domain::request::{EnsureSettings, JobRequest, TextRequest};
use inferencekey_core::{CallOptions, ErrorKind, OnDrift};
use marshal::*;

#[test]
fn unknown_and_mistyped_fields_are_named() {
    let e = request::<TextRequest>(r#"{"prompt": "p", "temprature": 1}"#).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Validation);
    assert_eq!(e.field.as_deref(), Some("temprature"));
    let e = settings::<ManagementSettings>(r#"{"timeout": -1}"#).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Configuration);
    assert_eq!(e.field.as_deref(), Some("timeout"));
    let e = settings::<ManagementSettings>("[1]").unwrap_err();
    assert_eq!(e.field.as_deref(), Some("options"));
}

#[test]
fn nulls_are_absent_and_timeouts_are_the_calls() {
    let r: TextRequest =
        request(r#"{"prompt": "p", "seed": null, "extra": {"user": "u"}, "timeout": 2.5, "max_retries": 0}"#)
            .unwrap();
    assert_eq!(r.seed, None);
    assert_eq!(r.extra.as_ref().unwrap()["user"], "u");
    let call = CallOptions::of(&r);
    assert_eq!(call.total, Some(Duration::from_millis(2500)));
    assert_eq!(call.max_retries, Some(0));
    let s: EnsureSettings = settings(r#"{"on_drift": "dry_run"}"#).unwrap();
    assert_eq!(s.on_drift, Some(OnDrift::DryRun));
    assert!(settings::<EnsureSettings>(r#"{"on_drift": "sometimes"}"#).is_err());
}

#[test]
fn jobs_take_exactly_one_payload() {
    let j: JobRequest = request(r#"{"kind": "chat", "body": {}}"#).unwrap();
    assert!(j.parts().is_ok());
    let j: JobRequest = request(r#"{"kind": "chat"}"#).unwrap();
    assert_eq!(j.parts().unwrap_err().field.as_deref(), Some("body"));
}

#[test]
fn results_are_json() {
    assert_eq!(to_json(&vec![1, 2]).unwrap(), "[1,2]");
}
