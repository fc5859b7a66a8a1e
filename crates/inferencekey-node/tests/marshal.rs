//! The addon's marshalling, tested without Node: `src/marshal.rs` uses no N-API, so it is
//! compiled here on its own (the cdylib's unit tests cannot link outside a node process).

#[allow(dead_code)]
#[path = "../src/marshal.rs"]
mod marshal;

use std::time::Duration;

use inferencekey_core::data::JobBody;
use inferencekey_core::{ErrorKind, OnDrift};
use marshal::*;

#[test]
fn unknown_and_mistyped_fields_are_named() {
    let e = text_request(r#"{"prompt": "p", "temprature": 1, "max_tokens": "x"}"#).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Validation);
    let fields: Vec<_> = e.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["max_tokens", "temprature"]);
    let e = client_settings(r#"{"timeout": -1}"#, "sdk_token")
        .err()
        .unwrap();
    assert_eq!(e.kind, ErrorKind::Configuration);
    assert_eq!(e.field.as_deref(), Some("timeout"));
    let e = client_settings("[1]", "sdk_token").err().unwrap();
    assert_eq!(e.field.as_deref(), Some("options"));
}

#[test]
fn nulls_are_absent_and_values_pass_through() {
    let (r, t) =
        text_request(r#"{"prompt": "p", "seed": null, "extra": {"user": "u"}, "timeout": 2.5}"#)
            .unwrap();
    assert_eq!(r.prompt.as_deref(), Some("p"));
    assert_eq!(r.seed, None);
    assert_eq!(r.extra.unwrap()["user"], "u");
    assert_eq!(t, Some(Duration::from_millis(2500)));
    let (mode, _) = ensure_settings(r#"{"on_drift": "dry_run"}"#).unwrap();
    assert_eq!(mode, OnDrift::DryRun);
    assert!(ensure_settings(r#"{"on_drift": "sometimes"}"#).is_err());
}

#[test]
fn jobs_take_exactly_one_payload() {
    assert!(job_request(r#"{"kind": "chat", "body": {}}"#).is_ok());
    let j =
        job_request(r#"{"kind": "audio_speech", "body_b64": "aGk=", "content_type": "audio/wav"}"#)
            .unwrap();
    assert!(matches!(j.body, JobBody::Binary { ref bytes, .. } if bytes == b"hi"));
    let e = job_request(r#"{"kind": "chat"}"#).err().unwrap();
    assert_eq!(e.field.as_deref(), Some("body"));
}
