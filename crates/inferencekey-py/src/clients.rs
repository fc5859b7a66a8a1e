//! The clients as Python classes. Calls run on the core's shared Tokio runtime with the GIL
//! released for the whole network wait; a blocking call wakes every 50 ms to let Python run
//! its signal handlers, so Ctrl-C interrupts it (dropping the future closes the connection).
//! Results are native classes whose heavier fields (`raw`, `usage`, vectors) are converted to
//! Python objects only when read.

use std::future::Future;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use inferencekey_core::config::{CallOptions, ClientOptions, RetryPolicy, Timeouts};
use inferencekey_core::data::{DataConfig, JobBody, TextRequest};
use inferencekey_core::management::ManagementConfig;
use inferencekey_core::rt::runtime;
use inferencekey_core::wire::{ReadinessEvent, Workload};
use inferencekey_core::WorkloadSpec;
use inferencekey_core::{
    DataClient as CoreData, Endpoint as CoreEndpoint, EndpointRef as CoreRef, Error,
    ManagementClient as CoreManagement, OnDrift, TextChunk as CoreChunk, TextStream as CoreStream,
};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyList, PyString, PyTuple};
use pyo3::IntoPyObjectExt;
use serde_json::{Map, Value};

use crate::convert::value_to_py;
use crate::errors::{to_py_err, ResultExt};

/// An optional string as Python would print it: `'x'` or `None`.
fn py_repr(v: Option<&str>) -> String {
    match v {
        Some(s) => format!("{s:?}"),
        None => "None".into(),
    }
}

/// Runs `fut` to completion without the GIL, checking for Python signals while it waits.
fn wait<T: Send>(
    py: Python<'_>,
    fut: impl Future<Output = Result<T, Error>> + Send,
) -> PyResult<T> {
    enum Outcome<T> {
        Done(Result<T, Error>),
        Interrupted(PyErr),
    }
    let outcome = py.detach(|| {
        runtime().block_on(async {
            tokio::pin!(fut);
            loop {
                tokio::select! {
                    r = &mut fut => return Outcome::Done(r),
                    _ = tokio::time::sleep(Duration::from_millis(50)) => {
                        if let Err(e) = Python::attach(|py| py.check_signals()) {
                            return Outcome::Interrupted(e);
                        }
                    }
                }
            }
        })
    });
    match outcome {
        Outcome::Done(r) => r.or_raise(py),
        Outcome::Interrupted(e) => Err(e),
    }
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

pub(crate) fn to_map(
    obj: Option<&Bound<'_, PyAny>>,
    field: &str,
) -> PyResult<Option<Map<String, Value>>> {
    match obj.map(|o| to_value(o, field)).transpose()? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(PyTypeError::new_err(format!("{field} must be a dict"))),
    }
}

pub(crate) fn secs(v: Option<f64>, field: &str) -> PyResult<Option<Duration>> {
    match v {
        None => Ok(None),
        Some(s) if s.is_finite() && s > 0.0 => Ok(Some(Duration::from_secs_f64(s))),
        Some(s) => Err(to_py_err_simple(
            format!("{field} must be a positive number of seconds, not {s}"),
            field,
        )),
    }
}

pub(crate) fn to_py_err_simple(message: String, field: &str) -> PyErr {
    Python::attach(|py| to_py_err(py, Error::configuration(message).with_field(field)))
}

/// Client-level options from the keyword arguments every constructor takes.
pub(crate) fn client_options(
    py: Python<'_>,
    timeout: Option<f64>,
    connect_timeout: Option<f64>,
    read_timeout: Option<f64>,
    max_retries: Option<u32>,
) -> PyResult<ClientOptions> {
    crate::log_bridge(py);
    let mut timeouts = Timeouts::default();
    if let Some(c) = secs(connect_timeout, "connect_timeout")? {
        timeouts.connect = c;
    }
    if let Some(r) = secs(read_timeout, "read_timeout")? {
        timeouts.read = r;
    }
    timeouts.total = secs(timeout, "timeout")?;
    let mut retry = RetryPolicy::default();
    if let Some(n) = max_retries {
        retry.max_retries = n;
    }
    Ok(ClientOptions {
        timeouts,
        retry,
        language: "python".into(),
        ..ClientOptions::default()
    })
}

/// Per-call `timeout=` (a total deadline for this call, retries included).
pub(crate) fn call_options(base: &ClientOptions, timeout: Option<f64>) -> PyResult<CallOptions> {
    Ok(match secs(timeout, "timeout")? {
        None => CallOptions::default(),
        Some(t) => CallOptions {
            timeouts: Some(Timeouts {
                total: Some(t),
                read: base.timeouts.read.min(t),
                ..base.timeouts
            }),
            retry: None,
        },
    })
}

fn workload_to_py<'py>(py: Python<'py>, w: &Workload) -> PyResult<Bound<'py, PyAny>> {
    let v = serde_json::to_value(w).map_err(|e| PyTypeError::new_err(e.to_string()))?;
    value_to_py(py, &v)
}

fn event_to_py<'py>(py: Python<'py>, e: &ReadinessEvent) -> PyResult<Bound<'py, PyAny>> {
    let v = serde_json::to_value(e).map_err(|e| PyTypeError::new_err(e.to_string()))?;
    value_to_py(py, &v)
}

// ---------------------------------------------------------------------------------------
// Control plane

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
    #[getter]
    fn workload<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.inner
            .workload
            .as_ref()
            .map(|w| workload_to_py(py, w))
            .transpose()
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

/// The native control-plane client; `inferencekey.ManagementClient` wraps it.
#[pyclass(frozen, module = "inferencekey._native")]
pub struct NativeManagementClient {
    inner: CoreManagement,
}

#[pymethods]
impl NativeManagementClient {
    #[new]
    #[pyo3(signature = (project=None, base_url=None, sdk_token=None, timeout=None, connect_timeout=None, read_timeout=None, max_retries=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        project: Option<String>,
        base_url: Option<String>,
        sdk_token: Option<String>,
        timeout: Option<f64>,
        connect_timeout: Option<f64>,
        read_timeout: Option<f64>,
        max_retries: Option<u32>,
    ) -> PyResult<Self> {
        let options = client_options(py, timeout, connect_timeout, read_timeout, max_retries)?;
        let inner = CoreManagement::new(ManagementConfig {
            project,
            base_url,
            sdk_token,
            options,
        })
        .or_raise(py)?;
        Ok(NativeManagementClient { inner })
    }

    #[getter]
    fn project(&self) -> Option<&str> {
        self.inner.project()
    }

    #[getter]
    fn base_url(&self) -> &str {
        self.inner.base_url()
    }

    #[pyo3(signature = (spec_json, on_drift="reconcile", project=None, timeout=None))]
    fn ensure(
        &self,
        py: Python<'_>,
        spec_json: &str,
        on_drift: &str,
        project: Option<String>,
        timeout: Option<f64>,
    ) -> PyResult<EndpointRef> {
        let spec = WorkloadSpec::from_json(spec_json).or_raise(py)?;
        let mode: OnDrift = on_drift.parse().or_raise(py)?;
        let call = call_options(&ClientOptions::default(), timeout)?;
        let inner = wait(
            py,
            self.inner.ensure(&spec, mode, project.as_deref(), &call),
        )?;
        Ok(EndpointRef { inner })
    }

    #[pyo3(signature = (slug, project=None, timeout=None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        slug: &str,
        project: Option<String>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let call = call_options(&ClientOptions::default(), timeout)?;
        let w = wait(py, self.inner.get(slug, project.as_deref(), &call))?;
        workload_to_py(py, &w)
    }

    #[pyo3(signature = (project=None, timeout=None))]
    fn list<'py>(
        &self,
        py: Python<'py>,
        project: Option<String>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyList>> {
        let call = call_options(&ClientOptions::default(), timeout)?;
        let ws = wait(py, self.inner.list(project.as_deref(), &call))?;
        let list = PyList::empty(py);
        for w in &ws {
            list.append(workload_to_py(py, w)?)?;
        }
        Ok(list)
    }

    #[pyo3(signature = (slug, project=None, timeout=None))]
    fn delete(
        &self,
        py: Python<'_>,
        slug: &str,
        project: Option<String>,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let call = call_options(&ClientOptions::default(), timeout)?;
        wait(py, self.inner.delete(slug, project.as_deref(), &call))
    }

    /// Blocks until the workload is ready; `on_event(dict)` sees each readiness event.
    #[pyo3(signature = (slug, timeout, project=None, on_event=None))]
    fn wait_until_ready<'py>(
        &self,
        py: Python<'py>,
        slug: &str,
        timeout: f64,
        project: Option<String>,
        on_event: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let limit = secs(Some(timeout), "timeout")?.unwrap_or_default();
        let callback = |ev: &ReadinessEvent| {
            if let Some(cb) = &on_event {
                Python::attach(|py| {
                    let result = event_to_py(py, ev).and_then(|d| cb.call1(py, (d,)));
                    if let Err(e) = result {
                        e.write_unraisable(py, None);
                    }
                });
            }
        };
        let ev = wait(
            py,
            self.inner
                .wait_until_ready(slug, project.as_deref(), limit, callback),
        )?;
        event_to_py(py, &ev)
    }

    /// The readiness events as a blocking iterator of dicts.
    #[pyo3(signature = (slug, project=None))]
    fn readiness_events(
        &self,
        py: Python<'_>,
        slug: &str,
        project: Option<String>,
    ) -> PyResult<ReadinessIter> {
        let stream = wait(
            py,
            self.inner
                .readiness_events(slug, project.as_deref(), &CallOptions::default()),
        )?;
        Ok(ReadinessIter {
            inner: Mutex::new(Some(stream)),
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "ManagementClient(project={}, base_url={:?})",
            py_repr(self.inner.project()),
            self.inner.base_url()
        )
    }
}

#[pyclass(module = "inferencekey._native")]
pub struct ReadinessIter {
    inner: Mutex<Option<inferencekey_core::management::ReadinessStream>>,
}

#[pymethods]
impl ReadinessIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Some(stream) = guard.as_mut() else {
            return Ok(None);
        };
        match wait(py, stream.next_event())? {
            Some(ev) => Ok(Some(event_to_py(py, &ev)?)),
            None => {
                *guard = None;
                Ok(None)
            }
        }
    }

    fn close(&self) {
        *self.inner.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

// ---------------------------------------------------------------------------------------
// Data plane

#[pyclass(frozen, module = "inferencekey._native")]
pub struct DataClient {
    inner: CoreData,
}

#[pymethods]
impl DataClient {
    #[new]
    #[pyo3(signature = (project=None, base_url=None, api_key=None, timeout=None, connect_timeout=None, read_timeout=None, max_retries=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        project: Option<String>,
        base_url: Option<String>,
        api_key: Option<String>,
        timeout: Option<f64>,
        connect_timeout: Option<f64>,
        read_timeout: Option<f64>,
        max_retries: Option<u32>,
    ) -> PyResult<Self> {
        let options = client_options(py, timeout, connect_timeout, read_timeout, max_retries)?;
        let inner = CoreData::new(DataConfig {
            project,
            base_url,
            api_key,
            options,
        })
        .or_raise(py)?;
        Ok(DataClient { inner })
    }

    /// Same as the constructor: every argument falls back to its environment variable.
    #[classmethod]
    #[pyo3(signature = (project=None, base_url=None, api_key=None, timeout=None, connect_timeout=None, read_timeout=None, max_retries=None))]
    #[allow(clippy::too_many_arguments)]
    fn from_env(
        _cls: &Bound<'_, pyo3::types::PyType>,
        py: Python<'_>,
        project: Option<String>,
        base_url: Option<String>,
        api_key: Option<String>,
        timeout: Option<f64>,
        connect_timeout: Option<f64>,
        read_timeout: Option<f64>,
        max_retries: Option<u32>,
    ) -> PyResult<Self> {
        Self::new(
            py,
            project,
            base_url,
            api_key,
            timeout,
            connect_timeout,
            read_timeout,
            max_retries,
        )
    }

    #[pyo3(signature = (workload, api_key=None, project=None))]
    fn endpoint(
        &self,
        py: Python<'_>,
        workload: &str,
        api_key: Option<&str>,
        project: Option<&str>,
    ) -> PyResult<Endpoint> {
        let inner = self
            .inner
            .endpoint(workload, api_key, project)
            .or_raise(py)?;
        Ok(Endpoint { inner })
    }

    #[getter]
    fn project(&self) -> Option<&str> {
        self.inner.project()
    }

    #[getter]
    fn base_url(&self) -> &str {
        self.inner.base_url()
    }

    /// Connections are pooled per client and released when it is garbage-collected; `close`
    /// exists for symmetry with context-manager use.
    fn close(&self) {}

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, PyTuple>) {}

    fn __repr__(&self) -> String {
        format!(
            "DataClient(project={}, base_url={:?})",
            py_repr(self.inner.project()),
            self.inner.base_url()
        )
    }
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

#[pymethods]
impl TextResult {
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
        self.inner
            .usage
            .as_ref()
            .map(|u| value_to_py(py, u))
            .transpose()
    }
    /// The first choice's full message when it has more than text (e.g. `tool_calls`).
    #[getter]
    fn message<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.inner
            .message
            .as_ref()
            .map(|m| value_to_py(py, m))
            .transpose()
    }
    /// The whole response body as a dict.
    #[getter]
    fn raw<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_loads(py, &self.inner.raw)
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
}

fn json_loads<'py>(py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyAny>> {
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
        self.inner
            .usage
            .as_ref()
            .map(|u| value_to_py(py, u))
            .transpose()
    }
    #[getter]
    fn tool_calls<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.inner
            .tool_calls
            .as_ref()
            .map(|u| value_to_py(py, u))
            .transpose()
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

/// A streamed answer: iterate it for `TextChunk`s; closing it (or leaving a `with` block)
/// closes the connection.
#[pyclass(module = "inferencekey._native")]
pub struct TextStream {
    inner: Mutex<Option<CoreStream>>,
}

#[pymethods]
impl TextStream {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<TextChunk>> {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Some(stream) = guard.as_mut() else {
            return Ok(None);
        };
        // Most chunks are already decoded from the last network read: hand them out without
        // releasing the GIL or entering the runtime.
        let next = match stream.try_next_buffered() {
            Some(r) => r.map(Some).or_raise(py),
            None => wait(py, stream.next_chunk()),
        };
        match next {
            Ok(Some(inner)) => Ok(Some(TextChunk { inner })),
            Ok(None) => {
                *guard = None;
                Ok(None)
            }
            Err(e) => {
                *guard = None;
                Err(e)
            }
        }
    }

    fn close(&self) {
        *self.inner.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, PyTuple>) {
        self.close();
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

#[pymethods]
impl EmbedResult {
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
        self.inner
            .usage
            .as_ref()
            .map(|u| value_to_py(py, u))
            .transpose()
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
}

#[pyclass(frozen, module = "inferencekey._native")]
pub struct RerankResult {
    inner: inferencekey_core::RerankResult,
}

impl RerankResult {
    pub(crate) fn from_core(inner: inferencekey_core::RerankResult) -> Self {
        RerankResult { inner }
    }
}

#[pymethods]
impl RerankResult {
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
        self.inner
            .usage
            .as_ref()
            .map(|u| value_to_py(py, u))
            .transpose()
    }
    fn __repr__(&self) -> String {
        format!(
            "RerankResult(results={}, model={:?})",
            self.inner.results.len(),
            self.inner.model
        )
    }
}

/// An async job on an endpoint.
#[pyclass(frozen, module = "inferencekey._native")]
pub struct Job {
    endpoint: CoreEndpoint,
    id: String,
}

#[pymethods]
impl Job {
    #[getter]
    fn id(&self) -> &str {
        &self.id
    }

    /// `{"job_id", "status", "result"?, "error"?}`.
    #[pyo3(signature = (timeout=None))]
    fn status<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let call = call_options(&ClientOptions::default(), timeout)?;
        let s = wait(py, self.endpoint.job_status(&self.id, &call))?;
        let v = serde_json::to_value(&s).map_err(|e| PyTypeError::new_err(e.to_string()))?;
        value_to_py(py, &v)
    }

    /// Polls until the job succeeds or fails; raises `TimeoutError` after `timeout` seconds.
    #[pyo3(signature = (timeout=60.0))]
    fn wait<'py>(&self, py: Python<'py>, timeout: f64) -> PyResult<Bound<'py, PyAny>> {
        let limit = secs(Some(timeout), "timeout")?.unwrap_or_default();
        let s = wait(
            py,
            self.endpoint
                .wait_job(&self.id, limit, &CallOptions::default()),
        )?;
        let v = serde_json::to_value(&s).map_err(|e| PyTypeError::new_err(e.to_string()))?;
        value_to_py(py, &v)
    }

    fn __repr__(&self) -> String {
        format!("Job(id={:?})", self.id)
    }
}

#[pyclass(frozen, module = "inferencekey._native")]
pub struct Endpoint {
    inner: CoreEndpoint,
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn text_request(
    prompt: Option<String>,
    messages: Option<&Bound<'_, PyAny>>,
    model: Option<String>,
    temperature: Option<f64>,
    max_tokens: Option<u64>,
    top_p: Option<f64>,
    stop: Option<&Bound<'_, PyAny>>,
    seed: Option<i64>,
    response_format: Option<&Bound<'_, PyAny>>,
    tools: Option<&Bound<'_, PyAny>>,
    extra: Option<&Bound<'_, PyAny>>,
) -> PyResult<TextRequest> {
    let messages = match messages.map(|m| to_value(m, "messages")).transpose()? {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(items),
        Some(_) => return Err(PyTypeError::new_err("messages must be a list of dicts")),
    };
    let opt = |o: Option<&Bound<'_, PyAny>>, f: &str| -> PyResult<Option<Value>> {
        Ok(o.map(|v| to_value(v, f))
            .transpose()?
            .filter(|v| !v.is_null()))
    };
    Ok(TextRequest {
        prompt,
        messages,
        model,
        temperature,
        max_tokens,
        top_p,
        stop: opt(stop, "stop")?,
        seed,
        response_format: opt(response_format, "response_format")?,
        tools: opt(tools, "tools")?,
        extra: to_map(extra, "extra")?,
    })
}

/// The payload of `submit_job`: exactly one of `body` (JSON) or `data` (bytes + type).
pub(crate) fn job_body(
    body: Option<&Bound<'_, PyAny>>,
    data: Option<Vec<u8>>,
    content_type: Option<String>,
) -> PyResult<JobBody> {
    match (body, data) {
        (Some(b), None) => Ok(JobBody::Json(to_value(b, "body")?)),
        (None, Some(bytes)) => Ok(JobBody::Binary {
            bytes,
            content_type: content_type.ok_or_else(|| {
                to_py_err_simple("content_type is required with data=".into(), "content_type")
            })?,
        }),
        _ => Err(Python::attach(|py| {
            to_py_err(
                py,
                Error::validation(vec![inferencekey_core::FieldError::new(
                    "body",
                    "pass exactly one of body= (JSON) or data= (bytes)",
                )]),
            )
        })),
    }
}

/// `post()` routes are paths under the endpoint, so they must start with `/`.
pub(crate) fn check_route(route: &str) -> PyResult<()> {
    if route.starts_with('/') {
        Ok(())
    } else {
        Err(to_py_err_simple(
            format!("route {route:?} must start with '/'"),
            "route",
        ))
    }
}

/// A `post()` answer: decoded JSON, or `bytes` for binary answers (audio, images).
pub(crate) fn answer_to_py<'py>(
    py: Python<'py>,
    resp: &inferencekey_core::transport::Response,
) -> PyResult<Bound<'py, PyAny>> {
    let is_json = resp
        .content_type()
        .is_some_and(|c| c.starts_with("application/json"));
    if is_json {
        json_loads(py, &resp.body)
    } else {
        PyBytes::new(py, &resp.body).into_bound_py_any(py)
    }
}

#[pymethods]
impl Endpoint {
    /// The OpenAI-compatible base URL (`…/endpoint/{project}/{workload}/v1`).
    #[getter]
    fn base_url(&self) -> String {
        self.inner.base_url()
    }

    /// The `ik_live_` key, for handing to another OpenAI-compatible client.
    #[getter]
    fn api_key(&self) -> &str {
        self.inner.api_key().expose()
    }

    #[getter]
    fn project_slug(&self) -> &str {
        self.inner.project_slug()
    }

    #[getter]
    fn workload_slug(&self) -> &str {
        self.inner.workload_slug()
    }

    #[pyo3(signature = (prompt=None, *, messages=None, model=None, temperature=None, max_tokens=None, top_p=None, stop=None, seed=None, response_format=None, tools=None, extra=None, timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn generate_text(
        &self,
        py: Python<'_>,
        prompt: Option<String>,
        messages: Option<&Bound<'_, PyAny>>,
        model: Option<String>,
        temperature: Option<f64>,
        max_tokens: Option<u64>,
        top_p: Option<f64>,
        stop: Option<&Bound<'_, PyAny>>,
        seed: Option<i64>,
        response_format: Option<&Bound<'_, PyAny>>,
        tools: Option<&Bound<'_, PyAny>>,
        extra: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
    ) -> PyResult<TextResult> {
        let req = text_request(
            prompt,
            messages,
            model,
            temperature,
            max_tokens,
            top_p,
            stop,
            seed,
            response_format,
            tools,
            extra,
        )?;
        let call = call_options(&ClientOptions::default(), timeout)?;
        let inner = wait(py, self.inner.generate_text(&req, &call))?;
        Ok(TextResult { inner })
    }

    #[pyo3(signature = (prompt=None, *, messages=None, model=None, temperature=None, max_tokens=None, top_p=None, stop=None, seed=None, response_format=None, tools=None, extra=None, timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn generate_text_stream(
        &self,
        py: Python<'_>,
        prompt: Option<String>,
        messages: Option<&Bound<'_, PyAny>>,
        model: Option<String>,
        temperature: Option<f64>,
        max_tokens: Option<u64>,
        top_p: Option<f64>,
        stop: Option<&Bound<'_, PyAny>>,
        seed: Option<i64>,
        response_format: Option<&Bound<'_, PyAny>>,
        tools: Option<&Bound<'_, PyAny>>,
        extra: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
    ) -> PyResult<TextStream> {
        let req = text_request(
            prompt,
            messages,
            model,
            temperature,
            max_tokens,
            top_p,
            stop,
            seed,
            response_format,
            tools,
            extra,
        )?;
        let call = call_options(&ClientOptions::default(), timeout)?;
        let stream = wait(py, self.inner.generate_text_stream(&req, &call))?;
        Ok(TextStream {
            inner: Mutex::new(Some(stream)),
        })
    }

    #[pyo3(signature = (input, *, model=None, extra=None, timeout=None))]
    fn embed(
        &self,
        py: Python<'_>,
        input: &Bound<'_, PyAny>,
        model: Option<&str>,
        extra: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
    ) -> PyResult<EmbedResult> {
        let input = to_value(input, "input")?;
        let extra = to_map(extra, "extra")?;
        let call = call_options(&ClientOptions::default(), timeout)?;
        let inner = wait(py, self.inner.embed(input, model, extra.as_ref(), &call))?;
        Ok(EmbedResult {
            inner,
            cached: OnceLock::new(),
        })
    }

    #[pyo3(signature = (query, documents, *, top_n=None, extra=None, timeout=None))]
    fn rerank(
        &self,
        py: Python<'_>,
        query: &str,
        documents: &Bound<'_, PyAny>,
        top_n: Option<usize>,
        extra: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
    ) -> PyResult<RerankResult> {
        let documents = match to_value(documents, "documents")? {
            Value::Array(d) => d,
            _ => return Err(PyTypeError::new_err("documents must be a list")),
        };
        let extra = to_map(extra, "extra")?;
        let call = call_options(&ClientOptions::default(), timeout)?;
        let inner = wait(
            py,
            self.inner
                .rerank(query, documents, top_n, extra.as_ref(), &call),
        )?;
        Ok(RerankResult { inner })
    }

    /// Submits an async job: `body` (JSON) or `data` (bytes) with `content_type`.
    #[pyo3(signature = (kind, body=None, *, data=None, content_type=None, context=None, timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn submit_job(
        &self,
        py: Python<'_>,
        kind: &str,
        body: Option<&Bound<'_, PyAny>>,
        data: Option<Vec<u8>>,
        content_type: Option<String>,
        context: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
    ) -> PyResult<Job> {
        let payload = job_body(body, data, content_type)?;
        let context = context.map(|c| to_value(c, "context")).transpose()?;
        let call = call_options(&ClientOptions::default(), timeout)?;
        let id = wait(py, self.inner.submit_job(kind, payload, context, &call))?;
        Ok(Job {
            endpoint: self.inner.clone(),
            id,
        })
    }

    /// Any other OpenAI-compatible JSON route (images, audio/speech, forecast): POSTs `body`
    /// to `route` (e.g. `"/v1/images/generations"`) and returns the decoded JSON, or `bytes`
    /// for binary answers.
    #[pyo3(signature = (route, body, *, timeout=None))]
    fn post<'py>(
        &self,
        py: Python<'py>,
        route: &str,
        body: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        check_route(route)?;
        let body = to_value(body, "body")?;
        let call = call_options(&ClientOptions::default(), timeout)?;
        let resp = wait(py, self.inner.post_json(route, &body, &call))?;
        answer_to_py(py, &resp)
    }

    fn __repr__(&self) -> String {
        format!(
            "Endpoint(base_url={:?}, api_key={:?})",
            self.inner.base_url(),
            self.inner.api_key().redacted()
        )
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeManagementClient>()?;
    m.add_class::<EndpointRef>()?;
    m.add_class::<ReadinessIter>()?;
    m.add_class::<DataClient>()?;
    m.add_class::<Endpoint>()?;
    m.add_class::<TextResult>()?;
    m.add_class::<TextChunk>()?;
    m.add_class::<TextStream>()?;
    m.add_class::<EmbedResult>()?;
    m.add_class::<RerankResult>()?;
    m.add_class::<Job>()?;
    Ok(())
}
