//! Values across the boundary: Python objects to JSON and back, and keyword arguments into
//! the core's request and settings types. Hand-written (a few dozen lines) rather than a serde
//! bridge crate because such crates pin PyO3 versions and would hold back upgrades.
//!
//! Keyword arguments are decoded by the core (`domain::decode`), so Python refuses an unknown
//! keyword, a wrong type or an out-of-range value with the same field error as C and Go.

use inferencekey_core::domain::decode::{decode, failure, no_hint, Role, Seconds};
use inferencekey_core::domain::request::JobCallSettings;
use inferencekey_core::{CallOptions, Error, FieldError};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyList, PyString, PyTuple};
use pyo3::IntoPyObjectExt;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::errors::ResultExt;

/// Decodes keyword arguments (plus the positional ones, named) into a core type. `what`
/// names the call in messages; `role` says whether problems are configuration (client
/// settings) or validation (requests).
pub(crate) fn from_kwargs<T: DeserializeOwned>(
    py: Python<'_>,
    positional: &[(&str, Option<&Bound<'_, PyAny>>)],
    kwargs: Option<&Bound<'_, PyDict>>,
    what: &str,
    role: Role,
) -> PyResult<T> {
    let mut map = Map::new();
    let mut put = |key: &str, v: &Bound<'_, PyAny>| -> PyResult<()> {
        // JSON has no infinity: say so as the core would, naming the argument.
        if let Ok(f) = v.cast::<PyFloat>() {
            if !f.value().is_finite() {
                let problem =
                    FieldError::new(key, format!("must be a finite number, not {}", f.value()));
                return Err(failure(role.of_field(key), vec![problem])).or_raise(py);
            }
        }
        map.insert(key.to_string(), to_value(v, key)?);
        Ok(())
    };
    for (name, value) in positional {
        if let Some(v) = value {
            put(name, v)?;
        }
    }
    if let Some(kwargs) = kwargs {
        for (k, v) in kwargs.iter() {
            let key: String = k.extract()?;
            put(&key, &v)?;
        }
    }
    decode(Value::Object(map), what, role, no_hint).or_raise(py)
}

/// A client's settings from its constructor's `project` and keyword arguments; also installs
/// the log bridge, since a client is about to exist.
pub(crate) fn client_settings<T: DeserializeOwned>(
    py: Python<'_>,
    project: Option<&Bound<'_, PyAny>>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<T> {
    crate::log_bridge(py);
    from_kwargs(
        py,
        &[("project", project)],
        kwargs,
        "options",
        Role::Settings,
    )
}

/// A data-plane call's `**options` (`timeout=`, `max_retries=`), decoded as the core's
/// `JobCallSettings`; the call's total deadline is resolved against the client's timeouts by
/// the core's transport.
pub(crate) fn per_call(
    py: Python<'_>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<CallOptions> {
    let s: JobCallSettings = from_kwargs(py, &[], kwargs, "options", Role::Settings)?;
    Ok(CallOptions::of(&s))
}

/// A number of seconds checked by the core's one rule (positive, finite, at most 1e9).
pub(crate) fn seconds(py: Python<'_>, v: Option<f64>, field: &str) -> PyResult<Option<Seconds>> {
    v.map(|s| {
        Seconds::new(s).map_err(|m| Error::configuration(format!("{field} {m}")).with_field(field))
    })
    .transpose()
    .or_raise(py)
}

/// The field names of a core type, by the name the tests use.
pub(crate) fn core_fields(type_name: &str) -> Option<Vec<String>> {
    inferencekey_core::client::schema::type_fields(type_name)
}

/// Python values to JSON for request bodies; `field` names the argument in errors.
pub(crate) fn to_value(obj: &Bound<'_, PyAny>, field: &str) -> PyResult<Value> {
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_cow()?.into_owned()));
    }
    if let Ok(i) = obj.extract::<i64>() {
        if !obj.is_instance_of::<PyFloat>() {
            return Ok(Value::from(i));
        }
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        let v = f.value();
        return serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| PyTypeError::new_err(format!("{field}: {v} is not a finite number")));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut map = Map::new();
        for (k, v) in d.iter() {
            let key: String = k.extract().map_err(|_| {
                PyTypeError::new_err(format!("{field}: dictionary keys must be strings"))
            })?;
            let child = to_value(&v, &format!("{field}.{key}"))?;
            map.insert(key, child);
        }
        return Ok(Value::Object(map));
    }
    if let Ok(l) = obj.cast::<PyList>() {
        return l
            .iter()
            .enumerate()
            .map(|(i, v)| to_value(&v, &format!("{field}[{i}]")))
            .collect::<PyResult<Vec<_>>>()
            .map(Value::Array);
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        return t
            .iter()
            .enumerate()
            .map(|(i, v)| to_value(&v, &format!("{field}[{i}]")))
            .collect::<PyResult<Vec<_>>>()
            .map(Value::Array);
    }
    // Enums and other str subclasses (e.g. `Backend.VLLM`).
    if let Ok(s) = obj.extract::<String>() {
        return Ok(Value::String(s));
    }
    Err(PyTypeError::new_err(format!(
        "{field}: {} is not JSON-serialisable (use dict, list, str, int, float, bool or None)",
        obj.get_type().name()?
    )))
}

/// `null`→`None`, numbers→`int`/`float`, arrays→`list`, objects→`dict` (order kept).
pub fn value_to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    match v {
        Value::Null => Ok(py.None().into_bound(py)),
        Value::Bool(b) => b.into_bound_py_any(py),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_bound_py_any(py)
            } else if let Some(u) = n.as_u64() {
                u.into_bound_py_any(py)
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_bound_py_any(py)
            }
        }
        Value::String(s) => s.into_bound_py_any(py),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(value_to_py(py, item)?)?;
            }
            Ok(list.into_any())
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, item) in map {
                dict.set_item(k, value_to_py(py, item)?)?;
            }
            Ok(dict.into_any())
        }
    }
}
