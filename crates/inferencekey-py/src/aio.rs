//! The native half of `inferencekey.aio`. Each call validates its arguments with the GIL held,
//! then spawns the core's future as a task on the shared Tokio runtime (the one the sync API
//! and the connection pools use) through `pyo3-async-runtimes`, and hands asyncio a future
//! for it: a call is a task, not a thread. Cancelling the asyncio future drops the Rust
//! future, which drops the request and closes its connection.
//!
//! Results are the sync API's classes. Outcomes are converted to Python objects (and core
//! errors to `inferencekey.errors` exceptions) only when the asyncio future is completed,
//! which `pyo3-async-runtimes` does from Tokio's blocking pool, so the runtime's workers never
//! wait for the GIL. The one exception is `wait_until_ready`'s progress callback (see there).

use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;

use inferencekey_core::config::{CallOptions, ClientOptions};
use inferencekey_core::data::{DataConfig, TextRequest};
use inferencekey_core::management::{ManagementConfig, ReadinessStream};
use inferencekey_core::rt::runtime;
use inferencekey_core::transport::Response;
use inferencekey_core::WorkloadSpec;
use inferencekey_core::{
    DataClient as CoreData, Endpoint as CoreEndpoint, Error, ManagementClient as CoreManagement,
    OnDrift, TextChunk as CoreChunk, TextStream as CoreStream,
};
use pyo3::exceptions::{PyStopAsyncIteration, PyStopIteration, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use pyo3::IntoPyObjectExt;
use pyo3_async_runtimes::TaskLocals;
use serde_json::Value;
use tokio::sync::{watch, Mutex as AsyncMutex, OwnedMutexGuard};

use crate::clients::{
    answer_to_py, call_options, check_route, client_options, job_body, secs, text_request, to_map,
    to_value, EmbedResult, EndpointRef, RerankResult, TextChunk, TextResult,
};
use crate::convert::value_to_py;
use crate::errors::{to_py_err, ResultExt};

// ---------------------------------------------------------------------------------------
// Bridging

/// A call's outcome, made into the Python value or the typed exception when the asyncio
/// future is completed (that is where the GIL is held anyway).
struct Deliver<V>(Result<V, Error>);

impl<'py, V: IntoPyObject<'py>> IntoPyObject<'py> for Deliver<V> {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.0 {
            Ok(v) => v.into_bound_py_any(py),
            Err(e) => Err(to_py_err(py, e)),
        }
    }
}

/// A JSON answer (workloads, readiness events, job states) as dicts and lists.
struct Json(Value);

impl<'py> IntoPyObject<'py> for Json {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        value_to_py(py, &self.0)
    }
}

/// `serde_json::to_value(answer)` as a `Json`.
fn json(v: serde_json::Result<Value>) -> Result<Json, Error> {
    v.map(Json)
        .map_err(|e| Error::protocol(format!("could not re-encode the answer: {e}")))
}

/// One step of an async iterator: `None` ends the `async for`.
struct Step<V>(Option<V>);

impl<'py, V: IntoPyObject<'py>> IntoPyObject<'py> for Step<V> {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.0 {
            Some(v) => v.into_bound_py_any(py),
            None => Err(PyStopAsyncIteration::new_err(())),
        }
    }
}

/// A `post()` answer, decoded like the sync API's.
struct Answer(Response);

impl<'py> IntoPyObject<'py> for Answer {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        answer_to_py(py, &self.0)
    }
}

/// Runs `fut` on the shared runtime; returns the asyncio future of its outcome. Needs a
/// running event loop in this thread (the Python wrappers call this from coroutines).
fn spawn<'py, V>(
    py: Python<'py>,
    fut: impl Future<Output = Result<V, Error>> + Send + 'static,
) -> PyResult<Bound<'py, PyAny>>
where
    V: for<'a> IntoPyObject<'a> + Send + 'static,
{
    pyo3_async_runtimes::tokio::future_into_py_with_locals(py, loop_locals(py)?, async move {
        Ok(Deliver(fut.await))
    })
}

/// What `pyo3-async-runtimes` sees as the event loop: the running loop behind a
/// [`LoopGuard`], cached per thread (a thread runs one loop at a time, so this is one pointer
/// comparison per call instead of a new object).
fn loop_locals(py: Python<'_>) -> PyResult<TaskLocals> {
    thread_local! {
        static CACHED: RefCell<Option<(Py<PyAny>, TaskLocals)>> = const { RefCell::new(None) };
    }
    let running = pyo3_async_runtimes::get_running_loop(py)?;
    CACHED.with_borrow_mut(|slot| {
        if let Some((event_loop, locals)) = slot {
            if event_loop.is(&running) {
                return Ok(locals.clone());
            }
        }
        let guard = Bound::new(
            py,
            LoopGuard {
                event_loop: running.clone().unbind(),
            },
        )?;
        let locals = TaskLocals::new(guard.into_any());
        *slot = Some((running.unbind(), locals.clone()));
        Ok(locals)
    })
}

/// Stands in for the event loop towards `pyo3-async-runtimes`, which completes a future with
/// `loop.call_soon_threadsafe(...)` and prints the `RuntimeError: Event loop is closed` it
/// gets when the call outlived its loop (an abandoned `__anext__()`, a loop closed with work
/// in flight, interpreter exit). Nobody can await that result any more, so the guard drops it
/// silently; any other failure still propagates.
#[pyclass(frozen, module = "inferencekey._native")]
pub struct LoopGuard {
    event_loop: Py<PyAny>,
}

#[pymethods]
impl LoopGuard {
    fn create_future<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.event_loop.bind(py).call_method0("create_future")
    }

    #[pyo3(signature = (*args, **kwargs))]
    fn call_soon_threadsafe(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let event_loop = self.event_loop.bind(py);
        match event_loop.call_method("call_soon_threadsafe", args, kwargs) {
            Ok(_) => Ok(()),
            Err(e) => {
                let closed = event_loop
                    .call_method0("is_closed")
                    .and_then(|c| c.is_truthy())
                    .unwrap_or(false);
                if closed {
                    Ok(())
                } else {
                    Err(e)
                }
            }
        }
    }
}

/// An awaitable that is already done: `await` returns the value (or raises) without a trip
/// through the event loop. Used for chunks a stream has already decoded — most of them,
/// since one network read carries many — and for `close`-like coroutines.
#[pyclass(module = "inferencekey._native")]
pub struct Ready {
    outcome: Option<PyResult<Py<PyAny>>>,
}

impl Ready {
    fn new(outcome: PyResult<Py<PyAny>>) -> Self {
        Ready {
            outcome: Some(outcome),
        }
    }
}

#[pymethods]
impl Ready {
    fn __await__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self.outcome.take() {
            Some(Ok(v)) => Err(PyStopIteration::new_err((v,))),
            Some(Err(e)) => Err(e),
            None => Err(PyStopIteration::new_err((py.None(),))),
        }
    }
}

/// Holds a stream's state while a read is in flight. Dropped before `finish` — the asyncio
/// future was cancelled — it ends the stream, which closes its connection: a half-read
/// answer cannot be resumed, and keeping the socket open would waste the server's work.
struct Armed<S: Closable> {
    guard: OwnedMutexGuard<S>,
    armed: bool,
}

trait Closable {
    fn close(&mut self);
}

impl<S: Closable> Armed<S> {
    fn new(guard: OwnedMutexGuard<S>) -> Self {
        Armed { guard, armed: true }
    }

    fn finish(mut self) {
        self.armed = false;
    }
}

impl<S: Closable> Drop for Armed<S> {
    fn drop(&mut self) {
        if self.armed {
            self.guard.close();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Control plane

/// The native async control-plane client; `inferencekey.aio.AsyncManagementClient` wraps it.
#[pyclass(frozen, module = "inferencekey._native")]
pub struct NativeAsyncManagementClient {
    inner: Arc<CoreManagement>,
}

#[pymethods]
impl NativeAsyncManagementClient {
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
        Ok(NativeAsyncManagementClient {
            inner: Arc::new(inner),
        })
    }

    #[getter]
    fn project(&self) -> Option<&str> {
        self.inner.project()
    }

    #[getter]
    fn base_url(&self) -> &str {
        self.inner.base_url()
    }

    /// Awaitable `EndpointRef`.
    #[pyo3(signature = (spec_json, on_drift="reconcile", project=None, timeout=None))]
    fn ensure<'py>(
        &self,
        py: Python<'py>,
        spec_json: &str,
        on_drift: &str,
        project: Option<String>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let spec = WorkloadSpec::from_json(spec_json).or_raise(py)?;
        let mode: OnDrift = on_drift.parse().or_raise(py)?;
        let call = call_options(&ClientOptions::default(), timeout)?;
        let client = self.inner.clone();
        spawn(py, async move {
            client
                .ensure(&spec, mode, project.as_deref(), &call)
                .await
                .map(EndpointRef::from_core)
        })
    }

    /// Awaitable workload dict.
    #[pyo3(signature = (slug, project=None, timeout=None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        slug: String,
        project: Option<String>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let call = call_options(&ClientOptions::default(), timeout)?;
        let client = self.inner.clone();
        spawn(py, async move {
            json(serde_json::to_value(
                client.get(&slug, project.as_deref(), &call).await?,
            ))
        })
    }

    /// Awaitable list of workload dicts.
    #[pyo3(signature = (project=None, timeout=None))]
    fn list<'py>(
        &self,
        py: Python<'py>,
        project: Option<String>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let call = call_options(&ClientOptions::default(), timeout)?;
        let client = self.inner.clone();
        spawn(py, async move {
            json(serde_json::to_value(
                client.list(project.as_deref(), &call).await?,
            ))
        })
    }

    /// Awaitable `None`.
    #[pyo3(signature = (slug, project=None, timeout=None))]
    fn delete<'py>(
        &self,
        py: Python<'py>,
        slug: String,
        project: Option<String>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let call = call_options(&ClientOptions::default(), timeout)?;
        let client = self.inner.clone();
        spawn(py, async move {
            client.delete(&slug, project.as_deref(), &call).await
        })
    }

    /// Awaitable final readiness event. `on_event(dict)` is scheduled on the caller's event
    /// loop (`call_soon_threadsafe`) for each event, in order, so it runs on the loop's
    /// thread like any other callback.
    #[pyo3(signature = (slug, timeout, project=None, on_event=None))]
    fn wait_until_ready<'py>(
        &self,
        py: Python<'py>,
        slug: String,
        timeout: f64,
        project: Option<String>,
        on_event: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let limit = secs(Some(timeout), "timeout")?.unwrap_or_default();
        let event_loop = match &on_event {
            Some(_) => Some(pyo3_async_runtimes::get_running_loop(py)?.unbind()),
            None => None,
        };
        let client = self.inner.clone();
        spawn(py, async move {
            let forward = |ev: &inferencekey_core::wire::ReadinessEvent| {
                let (Some(cb), Some(event_loop)) = (&on_event, &event_loop) else {
                    return;
                };
                let Ok(value) = serde_json::to_value(ev) else {
                    return;
                };
                // Events are rare (a handful per start), so taking the GIL here is cheap;
                // `block_in_place` moves this worker's other tasks elsewhere meanwhile.
                tokio::task::block_in_place(|| {
                    Python::attach(|py| {
                        let scheduled = value_to_py(py, &value).and_then(|d| {
                            event_loop.call_method1(py, "call_soon_threadsafe", (cb, d))
                        });
                        if let Err(e) = scheduled {
                            e.write_unraisable(py, None);
                        }
                    })
                });
            };
            let ev = client
                .wait_until_ready(&slug, project.as_deref(), limit, forward)
                .await?;
            json(serde_json::to_value(ev))
        })
    }

    /// The readiness events as an async iterator of dicts; the stream opens on first use.
    #[pyo3(signature = (slug, project=None))]
    fn readiness_events(&self, slug: String, project: Option<String>) -> AsyncReadinessIter {
        AsyncReadinessIter {
            state: Arc::new(AsyncMutex::new(Readiness::Unopened {
                client: self.inner.clone(),
                slug,
                project,
            })),
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "AsyncManagementClient(project={:?}, base_url={:?})",
            self.inner.project(),
            self.inner.base_url()
        )
    }
}

enum Readiness {
    Unopened {
        client: Arc<CoreManagement>,
        slug: String,
        project: Option<String>,
    },
    Open(Box<ReadinessStream>),
    Done,
}

impl Closable for Readiness {
    fn close(&mut self) {
        *self = Readiness::Done;
    }
}

impl Readiness {
    async fn next(&mut self) -> Result<Option<Json>, Error> {
        if let Readiness::Unopened {
            client,
            slug,
            project,
        } = self
        {
            let opened = client
                .readiness_events(slug, project.as_deref(), &CallOptions::default())
                .await;
            match opened {
                Ok(stream) => *self = Readiness::Open(Box::new(stream)),
                Err(e) => {
                    *self = Readiness::Done;
                    return Err(e);
                }
            }
        }
        let Readiness::Open(stream) = self else {
            return Ok(None);
        };
        match stream.next_event().await {
            Ok(Some(ev)) => json(serde_json::to_value(ev)).map(Some),
            Ok(None) => {
                *self = Readiness::Done;
                Ok(None)
            }
            Err(e) => {
                *self = Readiness::Done;
                Err(e)
            }
        }
    }
}

/// `async for event in mgmt.readiness_events(slug)`; ends after `ready` or `error`.
#[pyclass(frozen, module = "inferencekey._native")]
pub struct AsyncReadinessIter {
    state: Arc<AsyncMutex<Readiness>>,
}

#[pymethods]
impl AsyncReadinessIter {
    fn __aiter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let state = self.state.clone();
        spawn(py, async move {
            let mut armed = Armed::new(state.lock_owned().await);
            let next = armed.guard.next().await;
            armed.finish();
            next.map(Step)
        })
    }

    /// Closes the stream now if no read is in flight (a cancelled read closes it too).
    fn close(&self) {
        if let Ok(mut state) = self.state.try_lock() {
            state.close();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Data plane

/// The native async data-plane client; `inferencekey.aio.AsyncDataClient` wraps it.
#[pyclass(frozen, module = "inferencekey._native")]
pub struct NativeAsyncDataClient {
    inner: CoreData,
}

#[pymethods]
impl NativeAsyncDataClient {
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
        Ok(NativeAsyncDataClient { inner })
    }

    /// Endpoints of one client share its connection pool.
    #[pyo3(signature = (workload, api_key=None, project=None))]
    fn endpoint(
        &self,
        py: Python<'_>,
        workload: &str,
        api_key: Option<&str>,
        project: Option<&str>,
    ) -> PyResult<NativeAsyncEndpoint> {
        let inner = self
            .inner
            .endpoint(workload, api_key, project)
            .or_raise(py)?;
        Ok(NativeAsyncEndpoint {
            inner: Arc::new(inner),
        })
    }

    #[getter]
    fn project(&self) -> Option<&str> {
        self.inner.project()
    }

    #[getter]
    fn base_url(&self) -> &str {
        self.inner.base_url()
    }

    fn __repr__(&self) -> String {
        format!(
            "AsyncDataClient(project={:?}, base_url={:?})",
            self.inner.project(),
            self.inner.base_url()
        )
    }
}

/// One workload's async data-plane handle; `inferencekey.aio.AsyncEndpoint` wraps it.
#[pyclass(frozen, module = "inferencekey._native")]
pub struct NativeAsyncEndpoint {
    inner: Arc<CoreEndpoint>,
}

#[pymethods]
impl NativeAsyncEndpoint {
    #[getter]
    fn base_url(&self) -> String {
        self.inner.base_url()
    }

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

    /// Awaitable `TextResult`.
    #[pyo3(signature = (prompt=None, *, messages=None, model=None, temperature=None, max_tokens=None, top_p=None, stop=None, seed=None, response_format=None, tools=None, extra=None, timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn generate_text<'py>(
        &self,
        py: Python<'py>,
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
    ) -> PyResult<Bound<'py, PyAny>> {
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
        let endpoint = self.inner.clone();
        spawn(py, async move {
            endpoint
                .generate_text(&req, &call)
                .await
                .map(TextResult::from_core)
        })
    }

    /// An `AsyncTextStream`; the request is sent on first use (`async for`, `async with`
    /// or `await`).
    #[pyo3(signature = (prompt=None, *, messages=None, model=None, temperature=None, max_tokens=None, top_p=None, stop=None, seed=None, response_format=None, tools=None, extra=None, timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn generate_text_stream(
        &self,
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
    ) -> PyResult<AsyncTextStream> {
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
        Ok(AsyncTextStream::new(Cursor::Unopened {
            endpoint: self.inner.clone(),
            req,
            call,
        }))
    }

    /// Awaitable `EmbedResult`.
    #[pyo3(signature = (input, *, model=None, extra=None, timeout=None))]
    fn embed<'py>(
        &self,
        py: Python<'py>,
        input: &Bound<'_, PyAny>,
        model: Option<String>,
        extra: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let input = to_value(input, "input")?;
        let extra = to_map(extra, "extra")?;
        let call = call_options(&ClientOptions::default(), timeout)?;
        let endpoint = self.inner.clone();
        spawn(py, async move {
            endpoint
                .embed(input, model.as_deref(), extra.as_ref(), &call)
                .await
                .map(EmbedResult::from_core)
        })
    }

    /// Awaitable `RerankResult`.
    #[pyo3(signature = (query, documents, *, top_n=None, extra=None, timeout=None))]
    fn rerank<'py>(
        &self,
        py: Python<'py>,
        query: String,
        documents: &Bound<'_, PyAny>,
        top_n: Option<usize>,
        extra: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let documents = match to_value(documents, "documents")? {
            Value::Array(d) => d,
            _ => return Err(PyTypeError::new_err("documents must be a list")),
        };
        let extra = to_map(extra, "extra")?;
        let call = call_options(&ClientOptions::default(), timeout)?;
        let endpoint = self.inner.clone();
        spawn(py, async move {
            endpoint
                .rerank(&query, documents, top_n, extra.as_ref(), &call)
                .await
                .map(RerankResult::from_core)
        })
    }

    /// Awaitable `NativeAsyncJob`: `body` (JSON) or `data` (bytes) with `content_type`.
    #[pyo3(signature = (kind, body=None, *, data=None, content_type=None, context=None, timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn submit_job<'py>(
        &self,
        py: Python<'py>,
        kind: String,
        body: Option<&Bound<'_, PyAny>>,
        data: Option<Vec<u8>>,
        content_type: Option<String>,
        context: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let payload = job_body(body, data, content_type)?;
        let context = context.map(|c| to_value(c, "context")).transpose()?;
        let call = call_options(&ClientOptions::default(), timeout)?;
        let endpoint = self.inner.clone();
        spawn(py, async move {
            let id = endpoint.submit_job(&kind, payload, context, &call).await?;
            Ok(NativeAsyncJob { endpoint, id })
        })
    }

    /// Awaitable decoded JSON (or `bytes`) from any other route, as the sync `post`.
    #[pyo3(signature = (route, body, *, timeout=None))]
    fn post<'py>(
        &self,
        py: Python<'py>,
        route: String,
        body: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        check_route(&route)?;
        let body = to_value(body, "body")?;
        let call = call_options(&ClientOptions::default(), timeout)?;
        let endpoint = self.inner.clone();
        spawn(py, async move {
            endpoint.post_json(&route, &body, &call).await.map(Answer)
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "AsyncEndpoint(base_url={:?}, api_key={:?})",
            self.inner.base_url(),
            self.inner.api_key().redacted()
        )
    }
}

/// An async job on an endpoint; `inferencekey.aio.AsyncJob` wraps it.
#[pyclass(frozen, module = "inferencekey._native")]
pub struct NativeAsyncJob {
    endpoint: Arc<CoreEndpoint>,
    id: String,
}

#[pymethods]
impl NativeAsyncJob {
    #[getter]
    fn id(&self) -> &str {
        &self.id
    }

    /// Awaitable `{"job_id", "status", "result"?, "error"?}`.
    #[pyo3(signature = (timeout=None))]
    fn status<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let call = call_options(&ClientOptions::default(), timeout)?;
        let (endpoint, id) = (self.endpoint.clone(), self.id.clone());
        spawn(py, async move {
            json(serde_json::to_value(endpoint.job_status(&id, &call).await?))
        })
    }

    /// Awaitable final state; `TimeoutError` after `timeout` seconds.
    #[pyo3(signature = (timeout=60.0))]
    fn wait<'py>(&self, py: Python<'py>, timeout: f64) -> PyResult<Bound<'py, PyAny>> {
        let limit = secs(Some(timeout), "timeout")?.unwrap_or_default();
        let (endpoint, id) = (self.endpoint.clone(), self.id.clone());
        spawn(py, async move {
            json(serde_json::to_value(
                endpoint
                    .wait_job(&id, limit, &CallOptions::default())
                    .await?,
            ))
        })
    }

    fn __repr__(&self) -> String {
        format!("AsyncJob(id={:?})", self.id)
    }
}

// ---------------------------------------------------------------------------------------
// Streaming

enum Cursor {
    Unopened {
        endpoint: Arc<CoreEndpoint>,
        req: TextRequest,
        call: CallOptions,
    },
    Open(CoreStream),
    Done,
}

impl Closable for Cursor {
    fn close(&mut self) {
        *self = Cursor::Done;
    }
}

impl Cursor {
    /// Sends the request if it has not been sent yet.
    async fn open(&mut self) -> Result<(), Error> {
        if let Cursor::Unopened {
            endpoint,
            req,
            call,
        } = self
        {
            match endpoint.generate_text_stream(req, call).await {
                Ok(stream) => *self = Cursor::Open(stream),
                Err(e) => {
                    *self = Cursor::Done;
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    async fn next(&mut self) -> Result<Option<CoreChunk>, Error> {
        self.open().await?;
        let Cursor::Open(stream) = self else {
            return Ok(None);
        };
        let next = stream.next_chunk().await;
        if !matches!(next, Ok(Some(_))) {
            *self = Cursor::Done;
        }
        next
    }
}

/// A streamed answer: `async for chunk in stream` yields `TextChunk`s. Also an async
/// context manager and awaitable (both send the request and return the stream, so errors
/// such as a bad key surface there). `close()`/`aclose()`, leaving `async with`, or
/// cancelling the task that reads it closes the connection.
#[pyclass(frozen, module = "inferencekey._native")]
pub struct AsyncTextStream {
    cursor: Arc<AsyncMutex<Cursor>>,
    /// Set by `close()`; a read in flight watches it, so closing never waits for the network.
    closed: watch::Sender<bool>,
}

impl AsyncTextStream {
    fn new(cursor: Cursor) -> Self {
        AsyncTextStream {
            cursor: Arc::new(AsyncMutex::new(cursor)),
            closed: watch::Sender::new(false),
        }
    }

    /// Opens the stream (if needed) and resolves to the stream object itself.
    fn opened<'py>(slf: Py<Self>, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let this = slf.get();
        let cursor = this.cursor.clone();
        let mut closed = this.closed.subscribe();
        spawn(py, async move {
            let mut armed = Armed::new(cursor.lock_owned().await);
            let opened = tokio::select! {
                biased;
                _ = closed.wait_for(|c| *c) => {
                    armed.guard.close();
                    Ok(())
                }
                r = armed.guard.open() => r,
            };
            armed.finish();
            opened.map(|()| slf)
        })
    }
}

#[pymethods]
impl AsyncTextStream {
    fn __aiter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        // Fast path: a chunk already decoded from the last network read (or the end) needs
        // neither the runtime nor the event loop.
        if let Ok(mut cursor) = self.cursor.try_lock() {
            match &mut *cursor {
                Cursor::Open(stream) => {
                    if let Some(next) = stream.try_next_buffered() {
                        let outcome = match next {
                            Ok(chunk) => TextChunk::from_core(chunk).into_py_any(py),
                            Err(e) => {
                                cursor.close();
                                Err(to_py_err(py, e))
                            }
                        };
                        return Ready::new(outcome).into_bound_py_any(py);
                    }
                }
                Cursor::Done => return Err(PyStopAsyncIteration::new_err(())),
                Cursor::Unopened { .. } => {}
            }
        }
        let cursor = self.cursor.clone();
        let mut closed = self.closed.subscribe();
        spawn(py, async move {
            let mut armed = Armed::new(cursor.lock_owned().await);
            let next = tokio::select! {
                biased;
                _ = closed.wait_for(|c| *c) => {
                    armed.guard.close();
                    Ok(None)
                }
                r = armed.guard.next() => r,
            };
            armed.finish();
            next.map(|c| Step(c.map(TextChunk::from_core)))
        })
    }

    fn __await__<'py>(slf: Py<Self>, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Self::opened(slf, py)?.call_method0("__await__")
    }

    fn __aenter__<'py>(slf: Py<Self>, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Self::opened(slf, py)
    }

    #[pyo3(signature = (*_args))]
    fn __aexit__<'py>(&self, py: Python<'py>, _args: &Bound<'_, PyTuple>) -> PyResult<Ready> {
        self.close();
        Ok(Ready::new(Ok(py.None())))
    }

    /// Closes the connection (an in-flight read ends the iteration).
    fn close(&self) {
        self.closed.send_replace(true);
        if let Ok(mut cursor) = self.cursor.try_lock() {
            cursor.close();
        }
    }

    /// `close()` as a coroutine, like an async generator's.
    fn aclose(&self, py: Python<'_>) -> Ready {
        self.close();
        Ready::new(Ok(py.None()))
    }

    fn __repr__(&self) -> String {
        let state = match self.cursor.try_lock().as_deref() {
            Ok(Cursor::Unopened { .. }) => "unopened",
            Ok(Cursor::Open(_)) => "open",
            Ok(Cursor::Done) => "closed",
            Err(_) => "reading",
        };
        format!("AsyncTextStream({state})")
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // Calls must run on the runtime the sync API and the pools already use; this only fails
    // when it was set before, which is the same runtime.
    let _ = pyo3_async_runtimes::tokio::init_with_runtime(runtime());
    m.add_class::<NativeAsyncManagementClient>()?;
    m.add_class::<AsyncReadinessIter>()?;
    m.add_class::<NativeAsyncDataClient>()?;
    m.add_class::<NativeAsyncEndpoint>()?;
    m.add_class::<NativeAsyncJob>()?;
    m.add_class::<AsyncTextStream>()?;
    Ok(())
}
