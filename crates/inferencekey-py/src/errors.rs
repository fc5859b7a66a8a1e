//! Core errors to the Python exception classes of `inferencekey.errors`. The classes are
//! defined in Python (so users can subclass, pickle and type-check them like any exception);
//! this module only picks the class by [`ErrorKind`] and fills in the attributes.

use inferencekey_core::{Error, ErrorKind};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyTuple, PyType};

use crate::convert::value_to_py;

const MODULE: &str = "inferencekey.errors";

/// Every class `to_py_err` can raise, in one table so each is imported once and cached.
const CLASSES: [&str; 13] = [
    "InferenceKeyError",
    "ConfigurationError",
    "ValidationError",
    "DriftError",
    "AuthError",
    "PermissionDenied",
    "NotFoundError",
    "ConflictError",
    "RateLimitError",
    "ServerError",
    "ConnectionError",
    "TimeoutError",
    "ProtocolError",
];

static CACHE: [PyOnceLock<Py<PyType>>; CLASSES.len()] = [const { PyOnceLock::new() }; 13];

/// The index into [`CLASSES`] for a kind. `Http` (a status with no dedicated class) raises the
/// base class. `tests/python/test_errors.py` checks this map against the core's kind table.
fn class_index(kind: ErrorKind) -> usize {
    match kind {
        ErrorKind::Http => 0,
        ErrorKind::Configuration => 1,
        ErrorKind::Validation => 2,
        ErrorKind::Drift => 3,
        ErrorKind::Auth => 4,
        ErrorKind::PermissionDenied => 5,
        ErrorKind::NotFound => 6,
        ErrorKind::Conflict => 7,
        ErrorKind::RateLimited => 8,
        ErrorKind::Server => 9,
        ErrorKind::Connection => 10,
        ErrorKind::Timeout => 11,
        ErrorKind::Protocol => 12,
    }
}

fn class_for(py: Python<'_>, kind: ErrorKind) -> PyResult<&Bound<'_, PyType>> {
    let i = class_index(kind);
    CACHE[i].import(py, MODULE, CLASSES[i])
}

fn build(py: Python<'_>, e: &Error) -> PyResult<PyErr> {
    let kwargs = PyDict::new(py);
    kwargs.set_item("status", e.status)?;
    kwargs.set_item("code", e.code.as_deref())?;
    kwargs.set_item("field", e.field.as_deref())?;
    let problems = PyList::empty(py);
    for p in &e.problems {
        problems.append((p.field.as_str(), p.message.as_str()))?;
    }
    kwargs.set_item("problems", problems)?;
    kwargs.set_item("request_id", e.request_id.as_deref())?;
    kwargs.set_item("retry_after", e.retry_after.map(|d| d.as_secs_f64()))?;
    if !e.headers.is_empty() {
        kwargs.set_item("headers", crate::results::headers_dict(py, &e.headers)?)?;
    }
    if e.kind == ErrorKind::Drift {
        let plan = PyList::empty(py);
        for change in e.plan.iter().flatten() {
            let item = PyTuple::new(
                py,
                [
                    change.field.as_str().into_pyobject(py)?.into_any(),
                    value_to_py(py, &change.live)?,
                    value_to_py(py, &change.desired)?,
                ],
            )?;
            plan.append(item)?;
        }
        kwargs.set_item("plan", plan)?;
    }
    let instance = class_for(py, e.kind)?.call((e.to_string(),), Some(&kwargs))?;
    Ok(PyErr::from_value(instance))
}

/// The Python exception for a core error: the `inferencekey.errors` class for its kind, with
/// `str(exc)` equal to the core's message (documented prefix included) and the attributes
/// `status`, `code`, `field`, `problems` (list of `(field, message)`), `request_id`,
/// `retry_after` (seconds, float), `headers` and, for `DriftError`, `plan` (list of
/// `(field, live, desired)`).
pub fn to_py_err(py: Python<'_>, e: Error) -> PyErr {
    build(py, &e).unwrap_or_else(|cause| {
        // The package is broken (e.g. `inferencekey.errors` fails to import); still surface
        // the original error, with the import failure as its cause.
        let err = PyRuntimeError::new_err(e.to_string());
        err.set_cause(py, Some(cause));
        err
    })
}

/// `.or_raise(py)?` turns a core `Result` into a `PyResult` through [`to_py_err`].
/// The core's error kinds and the class each raises, for the test against the core's table.
#[pyfunction]
pub fn error_classes() -> Vec<(&'static str, &'static str)> {
    ErrorKind::ALL
        .iter()
        .map(|k| (k.as_str(), CLASSES[class_index(*k)]))
        .collect()
}

pub trait ResultExt<T> {
    fn or_raise(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> ResultExt<T> for Result<T, Error> {
    fn or_raise(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py_err(py, e))
    }
}
