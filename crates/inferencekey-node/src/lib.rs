//! The InferenceKey SDK as a Node-API addon. It only marshals: every argument arrives as the
//! JSON of a core type (snake_case keys; the TypeScript layer in `bindings/node` converts
//! camelCase with one generic rule), every result leaves as that type's JSON, and every error
//! leaves as the core error's fields, which the TypeScript layer turns into its error classes
//! by the core's kind name. Rules (drift, slugs, tokens, retries, timeouts) stay in the core.
//!
//! All calls run on one Tokio runtime (a current-thread runtime on one I/O thread, started at
//! module load, shared by every client; see [`runtime`]) and return Promises. A call made
//! with a cancel id (see [`cancel`]) is raced against that id: aborting drops the core's
//! future, which closes its socket.

// napi-derive registers exports only outside cfg(test); in a test build the exported
// functions have no caller, which is not dead code.
#![cfg_attr(test, allow(dead_code))]

mod cancel;
mod data;
mod errors;
mod management;
mod marshal;
mod runtime;
mod stream;
mod webhooks;

use napi_derive::napi;

/// Starts the process's one runtime for the addon's futures before any call is made: one
/// current-thread runtime on one I/O thread (see [`runtime`]); the SDK's work is I/O, and the
/// package must not compete with the app for cores.
#[napi_derive::module_init]
fn init() {
    runtime::start();
}

/// The SDK version (the core's), sent in `User-Agent`.
#[napi]
pub fn version() -> String {
    inferencekey_core::VERSION.to_string()
}

/// Every error kind the core reports, by name: the TypeScript layer's class table is checked
/// against this list by a test.
#[napi]
pub fn error_kinds() -> Vec<String> {
    errors::kind_names()
}

/// The wire strings of the core's enums, by enum: the TypeScript enum objects are checked
/// against these by a test.
#[napi]
pub fn enums() -> serde_json::Value {
    use inferencekey_core::{Backend, ExecutionPolicy, OnDrift, TaskType};
    serde_json::json!({
        "Backend": Backend::KNOWN.iter().map(|v| v.as_str()).collect::<Vec<_>>(),
        "TaskType": TaskType::KNOWN.iter().map(|v| v.as_str()).collect::<Vec<_>>(),
        "ExecutionPolicy": ExecutionPolicy::KNOWN.iter().map(|v| v.as_str()).collect::<Vec<_>>(),
        "OnDrift": OnDrift::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>(),
    })
}

/// The core's local checks of a spec (the JSON of a WorkloadSpec); throws the field errors.
#[napi]
pub fn validate_spec(spec: String) -> napi::Result<()> {
    use errors::IntoNapi;
    inferencekey_core::WorkloadSpec::from_json(&spec)
        .and_then(|s| s.validate())
        .napi()
}

/// The JSON field names of a core type that crosses into JavaScript (`TextRequest`,
/// `ManagementSettings`, `Workload`, …; see `inferencekey_core::client::schema`): the
/// TypeScript declarations are checked against these by a test.
#[napi]
pub fn type_fields(name: String) -> Option<Vec<String>> {
    inferencekey_core::client::schema::type_fields(&name)
}
