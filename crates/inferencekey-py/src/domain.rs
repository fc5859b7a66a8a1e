//! The pure domain functions, exposed so Python runs the core's rules instead of copies of
//! them: slugs, redaction, validation, diff/plan and the create body.

use inferencekey_core::WorkloadSpec;
use inferencekey_core::{diff as core_diff, slug, token, wire};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

use crate::convert::value_to_py;
use crate::errors::{to_py_err, ResultExt};

/// The canonical form of a slug (empty when it has no letters or digits).
#[pyfunction]
fn canonical_slug(raw: &str) -> String {
    slug::canonical_slug(raw)
}

/// The printable form of one token: prefix plus the first 8 characters of its id.
#[pyfunction]
fn redact(token: &str) -> String {
    token::redact(token)
}

/// Free text with every token-looking run replaced by its redacted form.
#[pyfunction]
fn scrub(text: &str) -> String {
    token::scrub(text)
}

/// Raises `ConfigurationError` for a secret in the spec, else `ValidationError` listing every
/// invalid field.
#[pyfunction]
fn validate_spec(py: Python<'_>, spec_json: &str) -> PyResult<()> {
    WorkloadSpec::from_json(spec_json)
        .and_then(|spec| spec.validate())
        .or_raise(py)
}

/// The plan that would bring the live workload (its JSON as the server sent it) in line with
/// the spec: a list of `(field, live, desired)`; empty when in sync.
#[pyfunction]
fn diff<'py>(
    py: Python<'py>,
    spec_json: &str,
    workload_json: &str,
) -> PyResult<Bound<'py, PyList>> {
    let spec = WorkloadSpec::from_json(spec_json).or_raise(py)?;
    let live = wire::decode_workload(workload_json.as_bytes()).or_raise(py)?;
    let out = PyList::empty(py);
    for change in core_diff::diff(&spec, &live) {
        out.append(PyTuple::new(
            py,
            [
                change.field.into_pyobject(py)?.into_any(),
                value_to_py(py, &change.live)?,
                value_to_py(py, &change.desired)?,
            ],
        )?)?;
    }
    Ok(out)
}

/// The JSON body `ensure()` POSTs to create the workload. Does not validate: call
/// `validate_spec` first.
#[pyfunction]
fn create_body(py: Python<'_>, spec_json: &str) -> PyResult<String> {
    let spec = WorkloadSpec::from_json(spec_json).or_raise(py)?;
    Ok(serde_json::Value::Object(spec.create_body()).to_string())
}

/// The exception the clients raise for an HTTP error answer (`body` as bytes or text),
/// returned rather than raised: code that made a request itself (say, the OpenAI client
/// against an endpoint) can map the answer exactly as the SDK would.
#[pyfunction]
#[pyo3(signature = (status, body, request_id=None))]
fn error_from_response<'py>(
    py: Python<'py>,
    status: u16,
    body: &Bound<'py, PyAny>,
    request_id: Option<String>,
) -> PyResult<Bound<'py, PyAny>> {
    let bytes: Vec<u8> = if let Ok(b) = body.cast::<PyBytes>() {
        b.as_bytes().to_vec()
    } else if let Ok(s) = body.cast::<PyString>() {
        s.to_cow()?.as_bytes().to_vec()
    } else {
        return Err(PyTypeError::new_err("body must be bytes or str"));
    };
    let err = to_py_err(py, wire::error_from_response(status, &bytes, request_id));
    Ok(err.into_value(py).into_bound(py).into_any())
}

/// A custom backend's `manifest.json` checked by the core's rules (docs/contract.md §7):
/// the manifest as JSON text with `slug` filled in, or `ValidationError` naming every bad key.
#[pyfunction]
fn check_backend_manifest(py: Python<'_>, manifest_json: &str) -> PyResult<String> {
    let m = inferencekey_core::custom_backend::BackendManifest::from_json(manifest_json)
        .or_raise(py)?;
    Ok(m.to_value().to_string())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(canonical_slug, m)?)?;
    m.add_function(wrap_pyfunction!(redact, m)?)?;
    m.add_function(wrap_pyfunction!(scrub, m)?)?;
    m.add_function(wrap_pyfunction!(validate_spec, m)?)?;
    m.add_function(wrap_pyfunction!(diff, m)?)?;
    m.add_function(wrap_pyfunction!(create_body, m)?)?;
    m.add_function(wrap_pyfunction!(check_backend_manifest, m)?)?;
    m.add(
        "MAX_PACKAGE_BYTES",
        inferencekey_core::custom_backend::MAX_PACKAGE_BYTES,
    )?;
    m.add_function(wrap_pyfunction!(error_from_response, m)?)?;
    m.add_function(wrap_pyfunction!(crate::errors::error_classes, m)?)?;
    Ok(())
}
