//! JSON in, core types out, and back: the addon's only contact with the shape of the core's
//! requests and results. Arguments decode through the core's own decoder (unknown fields
//! refused by name, every problem a field error, the same messages as every binding);
//! results are the core types' serde form.

use inferencekey_core::domain::decode::{decode_str, no_hint, Role};
use inferencekey_core::Error;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Client, endpoint and per-call options; problems are configuration errors.
pub fn settings<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
    decode_str(Some(text), "options", Role::Settings, no_hint)
}

/// A request body; problems are validation errors.
pub fn request<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
    decode_str(Some(text), "request", Role::Request, no_hint)
}

/// A result as JSON.
pub fn to_json(v: &impl Serialize) -> Result<String, Error> {
    serde_json::to_string(v)
        .map_err(|e| Error::protocol(format!("could not encode the result as JSON: {e}")))
}
