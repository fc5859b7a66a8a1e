//! Arguments in, results out: every JSON argument decodes into a core type through
//! `inferencekey_core::domain::decode` (so a C caller gets the same field errors as Python),
//! and every result is the core type's own serde form.

use inferencekey_core::domain::decode::{decode_str, no_hint, Role};
use inferencekey_core::Error;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::ffi::Failure;

/// Client, endpoint and per-call options (`options_json`); problems are configuration errors.
pub fn settings<T: DeserializeOwned>(text: Option<&str>) -> Result<T, Error> {
    decode_str(text, "options", Role::Settings, no_hint)
}

/// A request body (`request_json`, `spec_json`); problems are validation errors.
pub fn request<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
    decode_str(Some(text), "request", Role::Request, no_hint)
}

/// A result as JSON.
pub fn to_json(v: &impl Serialize) -> Result<String, Failure> {
    serde_json::to_string(v).map_err(|e| {
        Failure::from(Error::protocol(format!(
            "could not encode the result as JSON: {e}"
        )))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use inferencekey_core::config::ManagementSettings;
    use inferencekey_core::ErrorKind;

    #[test]
    fn parses_and_checks() {
        let a: ManagementSettings = settings(Some(
            r#"{"base_url": "http://127.0.0.1:1", "timeout": 2.5, "max_retries": 0, "sdk_token": "ik_sdk_a_b"}"#,
        ))
        .unwrap();
        let o = a.options("c").unwrap();
        assert_eq!(o.retry.max_retries, 0);
        assert_eq!(o.timeouts.total.unwrap().as_millis(), 2500);
        assert_eq!(o.language, "c");
        let e = settings::<ManagementSettings>(Some(r#"{"api_key": "x", "max_retries": -1}"#))
            .err()
            .unwrap();
        assert_eq!(e.kind, ErrorKind::Configuration);
        assert_eq!(e.field.as_deref(), Some("api_key"));
        let e = settings::<ManagementSettings>(Some(r#"{"max_retries": 101}"#))
            .err()
            .unwrap();
        assert_eq!(e.field.as_deref(), Some("max_retries"));
    }
}
