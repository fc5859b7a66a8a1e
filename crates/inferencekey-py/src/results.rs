//! The result classes: each holds the core's result type and converts a field to a Python
//! object only when it is read, so a caller that reads `.text` never pays for `.raw`.

use std::sync::OnceLock;

use inferencekey_core::transport::Response;
use inferencekey_core::wire::Workload as CoreWorkload;
use inferencekey_core::{EndpointRef as CoreRef, TextChunk as CoreChunk};
use pyo3::exceptions::{PyAttributeError, PyKeyError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use pyo3::IntoPyObjectExt;
use serde_json::Value;

use crate::convert::value_to_py;

/// An optional string as Python would print it: `'x'` or `None`.
pub(crate) fn py_repr(v: Option<&str>) -> String {
    match v {
        Some(s) => format!("{s:?}"),
        None => "None".into(),
    }
}

/// A JSON answer (readiness events, job states) as dicts and lists.
pub(crate) struct Json(pub Value);

impl Json {
    pub(crate) fn of(v: &impl serde::Serialize) -> Result<Json, inferencekey_core::Error> {
        serde_json::to_value(v).map(Json).map_err(|e| {
            inferencekey_core::Error::protocol(format!("could not re-encode the answer: {e}"))
        })
    }
}

impl<'py> IntoPyObject<'py> for Json {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        value_to_py(py, &self.0)
    }
}

/// A `post()` answer: decoded JSON, or `bytes` for binary answers (audio, images).
pub(crate) struct Answer(pub Response);

impl<'py> IntoPyObject<'py> for Answer {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let resp = &self.0;
        let is_json = resp
            .content_type()
            .is_some_and(|c| c.starts_with("application/json"));
        if is_json {
            json_loads(py, &resp.body)
        } else {
            PyBytes::new(py, &resp.body).into_bound_py_any(py)
        }
    }
}

/// A result's response headers as a dict keyed by lower-case name.
pub(crate) fn headers_dict<'py>(
    py: Python<'py>,
    headers: &inferencekey_core::Headers,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in headers {
        d.set_item(k, v)?;
    }
    Ok(d)
}

fn opt_value<'py>(py: Python<'py>, v: Option<&Value>) -> PyResult<Option<Bound<'py, PyAny>>> {
    v.map(|v| value_to_py(py, v)).transpose()
}

/// Declares a result class's methods with the two every result has (`request_id`, `headers`,
/// from the core's `ResponseMeta` in its `inner`), so they are written once.
macro_rules! result_methods {
    ($class:ident { $($methods:tt)* }) => {
        #[pymethods]
        impl $class {
            /// The server's request id (`X-Request-Id`): quote it when reporting a problem.
            #[getter]
            fn request_id(&self) -> Option<&str> {
                self.inner.meta.request_id.as_deref()
            }
            /// The response headers, by lower-case name.
            #[getter]
            fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
                headers_dict(py, &self.inner.meta.headers)
            }
            $($methods)*
        }
    };
}

/// The result of `generate_text`.
#[pyclass(frozen, module = "inferencekey._native")]
pub struct TextResult {
    inner: inferencekey_core::TextResult,
}

impl TextResult {
    pub(crate) fn from_core(inner: inferencekey_core::TextResult) -> Self {
        TextResult { inner }
    }
}

result_methods!(TextResult {
    #[getter]
    fn text(&self) -> &str {
        &self.inner.text
    }
    #[getter]
    fn model(&self) -> &str {
        &self.inner.model
    }
    #[getter]
    fn finish_reason(&self) -> Option<&str> {
        self.inner.finish_reason.as_deref()
    }
    #[getter]
    fn usage<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        opt_value(py, self.inner.usage.as_ref())
    }
    /// The first choice's full message when it has more than text (e.g. `tool_calls`).
    #[getter]
    fn message<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        opt_value(py, self.inner.message.as_ref())
    }
    /// The whole response body as a dict (`None` for a result assembled from a stream).
    #[getter]
    fn raw<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        if self.inner.raw.is_empty() {
            return Ok(None);
        }
        json_loads(py, &self.inner.raw).map(Some)
    }
    fn __repr__(&self) -> String {
        format!(
            "TextResult(text={:?}, model={:?}, finish_reason={})",
            self.inner.text,
            self.inner.model,
            py_repr(self.inner.finish_reason.as_deref())
        )
    }
    fn __str__(&self) -> &str {
        &self.inner.text
    }
});

pub(crate) fn json_loads<'py>(py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    static LOADS: pyo3::sync::PyOnceLock<Py<PyAny>> = pyo3::sync::PyOnceLock::new();
    let loads = LOADS.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        Ok(py.import("json")?.getattr("loads")?.unbind())
    })?;
    loads.bind(py).call1((PyBytes::new(py, bytes),))
}

/// One piece of a streamed answer.
#[pyclass(frozen, module = "inferencekey._native")]
pub struct TextChunk {
    inner: CoreChunk,
}

impl TextChunk {
    pub(crate) fn from_core(inner: CoreChunk) -> Self {
        TextChunk { inner }
    }
}

#[pymethods]
impl TextChunk {
    #[getter]
    fn text(&self) -> &str {
        &self.inner.text
    }
    #[getter]
    fn finish_reason(&self) -> Option<&str> {
        self.inner.finish_reason.as_deref()
    }
    #[getter]
    fn model(&self) -> Option<&str> {
        self.inner.model.as_deref()
    }
    #[getter]
    fn usage<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        opt_value(py, self.inner.usage.as_ref())
    }
    #[getter]
    fn tool_calls<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        opt_value(py, self.inner.tool_calls.as_ref())
    }
    #[getter]
    fn raw<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_loads(py, self.inner.raw.as_bytes())
    }
    fn __repr__(&self) -> String {
        format!(
            "TextChunk(text={:?}, finish_reason={})",
            self.inner.text,
            py_repr(self.inner.finish_reason.as_deref())
        )
    }
    fn __str__(&self) -> &str {
        &self.inner.text
    }
}

#[pyclass(frozen, module = "inferencekey._native")]
pub struct EmbedResult {
    inner: inferencekey_core::EmbedResult,
    cached: OnceLock<Py<PyList>>,
}

impl EmbedResult {
    pub(crate) fn from_core(inner: inferencekey_core::EmbedResult) -> Self {
        EmbedResult {
            inner,
            cached: OnceLock::new(),
        }
    }
}

result_methods!(EmbedResult {
    /// The vectors as lists of floats, in input order (built once, on first access).
    #[getter]
    fn embeddings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        if let Some(l) = self.cached.get() {
            return Ok(l.bind(py).clone());
        }
        let outer = PyList::empty(py);
        for v in &self.inner.embeddings {
            outer.append(PyList::new(py, v.iter().map(|x| f64::from(*x)))?)?;
        }
        let _ = self.cached.set(outer.clone().unbind());
        Ok(outer)
    }
    #[getter]
    fn model(&self) -> &str {
        &self.inner.model
    }
    #[getter]
    fn usage<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        opt_value(py, self.inner.usage.as_ref())
    }
    fn __len__(&self) -> usize {
        self.inner.embeddings.len()
    }
    fn __repr__(&self) -> String {
        format!(
            "EmbedResult(vectors={}, dimensions={}, model={:?})",
            self.inner.embeddings.len(),
            self.inner.embeddings.first().map_or(0, Vec::len),
            self.inner.model
        )
    }
});

#[pyclass(frozen, module = "inferencekey._native")]
pub struct RerankResult {
    inner: inferencekey_core::RerankResult,
}

impl RerankResult {
    pub(crate) fn from_core(inner: inferencekey_core::RerankResult) -> Self {
        RerankResult { inner }
    }
}

result_methods!(RerankResult {
    /// `[{"index", "relevance_score", "document"?}]`, best first.
    #[getter]
    fn results<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let v = serde_json::to_value(&self.inner.results)
            .map_err(|e| PyTypeError::new_err(e.to_string()))?;
        value_to_py(py, &v)
    }
    #[getter]
    fn model(&self) -> &str {
        &self.inner.model
    }
    #[getter]
    fn usage<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        opt_value(py, self.inner.usage.as_ref())
    }
    fn __repr__(&self) -> String {
        format!(
            "RerankResult(results={}, model={:?})",
            self.inner.results.len(),
            self.inner.model
        )
    }
});

/// A forecast: the median path, and the quantiles, timestamps and samples when asked for.
#[pyclass(frozen, module = "inferencekey._native")]
pub struct ForecastResult {
    inner: inferencekey_core::ForecastResult,
}

impl ForecastResult {
    pub(crate) fn from_core(inner: inferencekey_core::ForecastResult) -> Self {
        ForecastResult { inner }
    }

    fn field<'py>(
        &self,
        py: Python<'py>,
        v: &impl serde::Serialize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let v = serde_json::to_value(v).map_err(|e| PyTypeError::new_err(e.to_string()))?;
        value_to_py(py, &v)
    }
}

result_methods!(ForecastResult {
    /// One value per step ahead.
    #[getter]
    fn median<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, &self.inner.median)
    }
    /// `{"0.1": [...], "0.5": [...], ...}`, or `None`.
    #[getter]
    fn quantiles<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, &self.inner.quantiles)
    }
    #[getter]
    fn timestamps<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, &self.inner.timestamps)
    }
    /// `num_samples` paths of `horizon` values, when `return_samples=True`.
    #[getter]
    fn samples<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, &self.inner.samples)
    }
    /// The answer's JSON as it came.
    #[getter]
    fn raw<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_loads(py, &self.inner.raw)
    }
    fn __len__(&self) -> usize {
        self.inner.median.len()
    }
    fn __repr__(&self) -> String {
        format!(
            "ForecastResult(steps={}, quantiles={}, samples={})",
            self.inner.median.len(),
            self.inner.quantiles.as_ref().map_or(0, |q| q.len()),
            self.inner.samples.as_ref().map_or(0, Vec::len)
        )
    }
});

/// What `ensure()` returns.
#[pyclass(frozen, module = "inferencekey._native")]
pub struct EndpointRef {
    inner: CoreRef,
}

impl EndpointRef {
    pub(crate) fn from_core(inner: CoreRef) -> Self {
        EndpointRef { inner }
    }
}

#[pymethods]
impl EndpointRef {
    #[getter]
    fn project_slug(&self) -> &str {
        &self.inner.project_slug
    }
    #[getter]
    fn workload_slug(&self) -> &str {
        &self.inner.workload_slug
    }
    #[getter]
    fn workload_id(&self) -> Option<&str> {
        self.inner.workload_id.as_deref()
    }
    #[getter]
    fn action(&self) -> &'static str {
        self.inner.action.as_str()
    }
    /// Every `(field, live, desired)` change found (or applied).
    #[getter]
    fn plan<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for c in &self.inner.plan {
            list.append((
                c.field.as_str(),
                value_to_py(py, &c.live)?,
                value_to_py(py, &c.desired)?,
            ))?;
        }
        Ok(list)
    }
    /// The workload as the server last answered (`None` for `would_create`).
    #[getter]
    fn workload(&self) -> Option<Workload> {
        self.inner.workload.clone().map(Workload::from_core)
    }
    /// For `OnDrift.WARN` with drift: the warning the core logged (the `DriftWarning` text).
    #[getter]
    fn warning(&self) -> Option<&str> {
        self.inner.warning.as_deref()
    }
    fn __repr__(&self) -> String {
        format!(
            "EndpointRef(project_slug={:?}, workload_slug={:?}, workload_id={}, action={:?}, changes={})",
            self.inner.project_slug,
            self.inner.workload_slug,
            py_repr(self.inner.workload_id.as_deref()),
            self.inner.action.as_str(),
            self.inner.plan.len()
        )
    }
}

/// Declares the `Workload` getters from one list; `workload_fields()` hands the list to the
/// test that checks it against the core's `Workload` fields.
macro_rules! workload_fields {
    ([$($field:ident),* $(,)?] $($methods:tt)*) => {
        /// The fields `Workload` exposes as attributes, in the core's order.
        pub(crate) const WORKLOAD_FIELDS: &[&str] = &[$(stringify!($field)),*];

        #[pymethods]
        impl Workload {
            $(
                #[getter]
                fn $field<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                    self.field(py, stringify!($field))
                }
            )*
            $($methods)*
        }
    };
}

workload_fields!(
    [
        id,
        project_id,
        project_slug,
        name,
        slug,
        workload_slug,
        description,
        task_type,
        backend,
        model_name,
        config,
        worker_id,
        gpu_resource_id,
        execution_policy,
        execution_policy_config,
        created_at,
        updated_at,
        status,
        status_message,
    ]
    /// Everything the server sent, as a dict (fields this SDK does not know included).
    #[getter]
    fn raw<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        value_to_py(py, &Value::Object(self.wire().clone()))
    }

    /// `workload["slug"]` reads the wire field, as the dicts earlier versions returned did.
    fn __getitem__<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyAny>> {
        match self.wire().get(key) {
            Some(v) => value_to_py(py, v),
            None => Err(PyKeyError::new_err(key.to_string())),
        }
    }

    fn __contains__(&self, key: &str) -> bool {
        self.wire().contains_key(key)
    }

    #[pyo3(signature = (key, default=None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        key: &str,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        match self.wire().get(key) {
            Some(v) => value_to_py(py, v),
            None => Ok(default.unwrap_or_else(|| py.None().into_bound(py))),
        }
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<Workload>()
            .is_ok_and(|o| o.get().inner == self.inner)
    }

    fn __repr__(&self) -> String {
        let w = &self.inner;
        inferencekey_core::token::scrub(&format!(
            "Workload(slug={}, name={}, model_name={}, backend={}, execution_policy={}, status={})",
            py_repr(w.slug()),
            py_repr(w.name.as_deref()),
            py_repr(w.model_name.as_deref()),
            py_repr(w.backend.as_ref().map(|b| b.as_str())),
            py_repr(w.execution_policy.as_ref().map(|p| p.as_str())),
            py_repr(w.status.as_deref()),
        ))
    }

    fn __getattr__(&self, name: &str) -> PyResult<()> {
        Err(PyAttributeError::new_err(format!(
            "Workload has no attribute {name:?}; fields the SDK does not know are in .raw"
        )))
    }

);

/// A workload as the control plane returns it: the core's `Workload`, with one attribute per
/// known field, `.raw` for everything the server sent (fields this SDK does not know
/// included), and a `repr` that shows only identifying fields (a `config` may hold secrets).
#[pyclass(frozen, module = "inferencekey._native")]
pub struct Workload {
    inner: CoreWorkload,
    wire: OnceLock<serde_json::Map<String, Value>>,
}

impl Workload {
    pub(crate) fn from_core(inner: CoreWorkload) -> Self {
        Workload {
            inner,
            wire: OnceLock::new(),
        }
    }

    fn wire(&self) -> &serde_json::Map<String, Value> {
        self.wire
            .get_or_init(|| match serde_json::to_value(&self.inner) {
                Ok(Value::Object(map)) => map,
                _ => serde_json::Map::new(),
            })
    }

    fn field<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        value_to_py(py, self.wire().get(name).unwrap_or(&Value::Null))
    }
}

/// The fields the `Workload` class exposes, for the test against the core's list.
#[pyfunction]
pub fn workload_fields() -> Vec<&'static str> {
    WORKLOAD_FIELDS.to_vec()
}

/// The fields of a core type by name, for the tests that check each binding's list.
#[pyfunction]
pub fn core_fields(type_name: &str) -> PyResult<Vec<String>> {
    crate::convert::core_fields(type_name)
        .ok_or_else(|| PyTypeError::new_err(format!("no core type {type_name:?}")))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<EndpointRef>()?;
    m.add_class::<TextResult>()?;
    m.add_class::<TextChunk>()?;
    m.add_class::<EmbedResult>()?;
    m.add_class::<RerankResult>()?;
    m.add_class::<ForecastResult>()?;
    m.add_class::<Workload>()?;
    m.add_function(wrap_pyfunction!(workload_fields, m)?)?;
    m.add_function(wrap_pyfunction!(core_fields, m)?)?;
    Ok(())
}
