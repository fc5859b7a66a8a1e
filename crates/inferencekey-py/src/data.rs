//! The data-plane classes, blocking and asyncio, each method declared once for both (see
//! [`crate::bridge::dual`]). The blocking `DataClient`, `Endpoint` and `Job` are what
//! `inferencekey` exports; `inferencekey.aio` wraps the asyncio ones only to make each call a
//! coroutine (`asyncio.create_task` takes nothing else).
//!
//! Request keyword arguments are not declared here: `generate_text(prompt, **kwargs)` hands
//! them to the core's `TextRequest`, which refuses unknown ones, so a new parameter is a new
//! field in the core (and a line in the Python `TextOptions` TypedDict).

use std::sync::Arc;

use inferencekey_core::config::DataSettings;
use inferencekey_core::data::{DataConfig, ForecastRequest, JobRequest, RerankRequest};
use inferencekey_core::domain::decode::{failure, Role};
use inferencekey_core::domain::request::{EmbedRequest, TextRequest};
use inferencekey_core::{DataClient as CoreData, Endpoint as CoreEndpoint, FieldError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyTuple};

use crate::bridge::{dual, wait_shared};
use crate::convert::{client_settings, from_kwargs, per_call, seconds, to_value};
use crate::errors::ResultExt;
use crate::results::{
    py_repr, Answer, EmbedResult, ForecastResult, Json, RerankResult, TextResult,
};
use crate::stream::{AsyncTextStream, Cursor, TextStream};

/// Builds endpoints; all endpoints of one client share its connection pool.
#[pyclass(frozen, module = "inferencekey._native")]
pub struct DataClient {
    inner: Arc<CoreData>,
}

/// The asyncio `DataClient`; `inferencekey.aio.AsyncDataClient` wraps it.
#[pyclass(frozen, module = "inferencekey._native")]
pub struct NativeAsyncDataClient {
    inner: Arc<CoreData>,
}

/// One workload's data plane.
#[pyclass(frozen, module = "inferencekey._native")]
pub struct Endpoint {
    inner: Arc<CoreEndpoint>,
}

/// The asyncio `Endpoint`; `inferencekey.aio.AsyncEndpoint` wraps it.
#[pyclass(frozen, module = "inferencekey._native")]
pub struct NativeAsyncEndpoint {
    inner: Arc<CoreEndpoint>,
}

/// A submitted job: the endpoint it runs on and its id.
pub struct JobRef {
    endpoint: Arc<CoreEndpoint>,
    id: String,
}

/// An async job on an endpoint.
#[pyclass(frozen, module = "inferencekey._native")]
pub struct Job {
    inner: Arc<JobRef>,
}

/// The asyncio `Job`; `inferencekey.aio.AsyncJob` wraps it.
#[pyclass(frozen, module = "inferencekey._native")]
pub struct NativeAsyncJob {
    inner: Arc<JobRef>,
}

/// What each flavour's classes are called and which classes its calls return.
trait Flavour {
    const PREFIX: &'static str;
    type Endpoint: From<CoreEndpoint>;
    type Job: From<JobRef>;
}

/// Declares one flavour: its classes, the name prefix of their `repr`s, and how an endpoint
/// and a job become its classes.
macro_rules! flavour {
    ($prefix:literal, $client:ident, $endpoint:ident, $job:ident) => {
        impl Flavour for $client {
            const PREFIX: &'static str = $prefix;
            type Endpoint = $endpoint;
            type Job = $job;
        }
        impl Flavour for $endpoint {
            const PREFIX: &'static str = $prefix;
            type Endpoint = $endpoint;
            type Job = $job;
        }
        impl Flavour for $job {
            const PREFIX: &'static str = $prefix;
            type Endpoint = $endpoint;
            type Job = $job;
        }
        impl From<CoreEndpoint> for $endpoint {
            fn from(e: CoreEndpoint) -> Self {
                $endpoint { inner: Arc::new(e) }
            }
        }
        impl From<JobRef> for $job {
            fn from(j: JobRef) -> Self {
                $job { inner: Arc::new(j) }
            }
        }
    };
}

flavour!("", DataClient, Endpoint, Job);
flavour!(
    "Async",
    NativeAsyncDataClient,
    NativeAsyncEndpoint,
    NativeAsyncJob
);

/// A client from the constructor's keyword arguments (`DataSettings`' fields).
fn build(
    py: Python<'_>,
    project: Option<&Bound<'_, PyAny>>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<Arc<CoreData>> {
    let s: DataSettings = client_settings(py, project, kwargs)?;
    let options = s.options("python").or_raise(py)?;
    let client = CoreData::new(DataConfig {
        project: s.project,
        base_url: s.base_url,
        api_key: s.api_key,
        options,
    })
    .or_raise(py)?;
    Ok(Arc::new(client))
}

/// A chat request from `prompt` and the keyword arguments.
pub(crate) fn text_request(
    py: Python<'_>,
    prompt: Option<&Bound<'_, PyAny>>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<TextRequest> {
    from_kwargs(py, &[("prompt", prompt)], kwargs, "request", Role::Request)
}

/// A job request from `kind`, `body` and the keyword arguments, decoded as the core's
/// `JobRequest`. `data` is the one value that is not JSON: it is taken as bytes here and the
/// rest goes through the core's decoder, which names any unknown or bad keyword.
fn job_request(
    py: Python<'_>,
    kind: &Bound<'_, PyAny>,
    body: Option<&Bound<'_, PyAny>>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<JobRequest> {
    let mut data = None;
    let rest = match kwargs {
        Some(k) if k.contains("data")? => {
            let rest = k.copy()?;
            let value = rest.get_item("data")?.filter(|v| !v.is_none());
            rest.del_item("data")?;
            if let Some(v) = value {
                let bytes = match (v.cast::<PyBytes>(), v.cast::<PyByteArray>()) {
                    (Ok(b), _) => Some(b.as_bytes().to_vec()),
                    (_, Ok(b)) => Some(b.to_vec()),
                    _ => None,
                };
                let Some(bytes) = bytes else {
                    let problem = FieldError::new(
                        "data",
                        format!(
                            "must be bytes (the binary payload), not {}; send JSON as `body`",
                            v.get_type().name()?
                        ),
                    );
                    return Err(failure(Role::Request.of_field("data"), vec![problem]))
                        .or_raise(py);
                };
                data = Some(bytes);
            }
            Some(rest)
        }
        other => other.cloned(),
    };
    let mut req: JobRequest = from_kwargs(
        py,
        &[("kind", Some(kind)), ("body", body)],
        rest.as_ref(),
        "request",
        Role::Request,
    )?;
    if data.is_some() {
        req.data = data;
    }
    Ok(req)
}

dual! {
    DataClient, NativeAsyncDataClient;
    shared {
        #[new]
        #[pyo3(signature = (project=None, **kwargs))]
        fn new(
            py: Python<'_>,
            project: Option<&Bound<'_, PyAny>>,
            kwargs: Option<&Bound<'_, PyDict>>,
        ) -> PyResult<Self> {
            Ok(Self {
                inner: build(py, project, kwargs)?,
            })
        }

        /// The same as the constructor; named for the docs' `DataClient.from_env`.
        #[classmethod]
        #[pyo3(signature = (project=None, **kwargs))]
        fn from_env(
            _cls: &Bound<'_, pyo3::types::PyType>,
            py: Python<'_>,
            project: Option<&Bound<'_, PyAny>>,
            kwargs: Option<&Bound<'_, PyDict>>,
        ) -> PyResult<Self> {
            Self::new(py, project, kwargs)
        }

        /// The endpoint of one workload (no request is made). Key: `api_key` > the client's
        /// key > `INFERENCEKEY_API_KEY`.
        #[pyo3(signature = (workload, api_key=None, project=None))]
        fn endpoint(
            &self,
            py: Python<'_>,
            workload: &str,
            api_key: Option<&str>,
            project: Option<&str>,
        ) -> PyResult<<Self as Flavour>::Endpoint> {
            let ep = self.inner.endpoint(workload, api_key, project).or_raise(py)?;
            Ok(ep.into())
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
                "{}DataClient(project={}, base_url={:?})",
                <Self as Flavour>::PREFIX,
                py_repr(self.inner.project()),
                self.inner.base_url()
            )
        }
    }
    sync {
        /// Connections are released with the client; kept for symmetry with `with`.
        fn close(&self) {}

        fn __enter__(slf: Py<Self>) -> Py<Self> {
            slf
        }

        #[pyo3(signature = (*_args))]
        fn __exit__(&self, _args: &Bound<'_, PyTuple>) {}
    }
    asyncio {}
    calls {}
}

dual! {
    Endpoint, NativeAsyncEndpoint;
    shared {
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

        fn __repr__(&self) -> String {
            format!(
                "{}Endpoint(base_url={:?}, api_key={:?})",
                <Self as Flavour>::PREFIX,
                self.inner.base_url(),
                self.inner.api_key().redacted()
            )
        }
    }
    sync {
        /// A streamed chat completion; the request is sent now.
        #[pyo3(signature = (prompt=None, **kwargs))]
        fn generate_text_stream(
            &self,
            py: Python<'_>,
            prompt: Option<&Bound<'_, PyAny>>,
            kwargs: Option<&Bound<'_, PyDict>>,
        ) -> PyResult<TextStream> {
            let req = text_request(py, prompt, kwargs)?;
            // On the shared runtime: a blocking stream may be read from other threads.
            let stream =
                wait_shared(py, self.inner.generate_text_stream(&req, &Default::default()))?;
            Ok(TextStream::new(stream))
        }
    }
    asyncio {
        /// An `AsyncTextStream`; the request is sent on first use (`async for`, `async with`
        /// or `await`).
        #[pyo3(signature = (prompt=None, **kwargs))]
        fn generate_text_stream(
            &self,
            py: Python<'_>,
            prompt: Option<&Bound<'_, PyAny>>,
            kwargs: Option<&Bound<'_, PyDict>>,
        ) -> PyResult<AsyncTextStream> {
            let req = text_request(py, prompt, kwargs)?;
            Ok(AsyncTextStream::new(Cursor::Unopened {
                endpoint: self.inner.clone(),
                req,
            }))
        }
    }
    calls {
        /// A chat completion: `prompt=` or `messages=`, and any `TextRequest` field.
        #[pyo3(signature = (prompt=None, **kwargs))]
        fn generate_text(&ep, py, prompt: Option<&Bound<'_, PyAny>>, **kwargs) -> TextResult {
            let req = text_request(py, prompt, kwargs)?;
            let ep = ep.clone();
            async move {
                ep.generate_text(&req, &Default::default())
                    .await
                    .map(TextResult::from_core)
            }
        }

        /// Embeddings of `input` (a string or a list of strings).
        #[pyo3(signature = (input, **kwargs))]
        fn embed(&ep, py, input: &Bound<'_, PyAny>, **kwargs) -> EmbedResult {
            let req: EmbedRequest =
                from_kwargs(py, &[("input", Some(input))], kwargs, "request", Role::Request)?;
            let ep = ep.clone();
            async move {
                ep.embed(&req, &Default::default())
                    .await
                    .map(EmbedResult::from_core)
            }
        }

        /// `documents` ranked against `query`, best first.
        #[pyo3(signature = (query, documents, **kwargs))]
        fn rerank(&ep, py, query: &Bound<'_, PyAny>, documents: &Bound<'_, PyAny>, **kwargs) -> RerankResult {
            let req: RerankRequest = from_kwargs(
                py,
                &[("query", Some(query)), ("documents", Some(documents))],
                kwargs,
                "request",
                Role::Request,
            )?;
            let ep = ep.clone();
            async move {
                ep.rerank(&req, &Default::default())
                    .await
                    .map(RerankResult::from_core)
            }
        }

        /// A forecast of `horizon` steps after `target` for the series `id`, with any other
        /// `ForecastRequest` field (`timestamps`, `quantile_levels`, covariates, …).
        #[pyo3(signature = (id, target, horizon, **kwargs))]
        fn forecast(&ep, py, id: &Bound<'_, PyAny>, target: &Bound<'_, PyAny>, horizon: &Bound<'_, PyAny>, **kwargs) -> ForecastResult {
            let req: ForecastRequest = from_kwargs(
                py,
                &[("id", Some(id)), ("target", Some(target)), ("horizon", Some(horizon))],
                kwargs,
                "request",
                Role::Request,
            )?;
            let ep = ep.clone();
            async move {
                ep.forecast(&req, &Default::default())
                    .await
                    .map(ForecastResult::from_core)
            }
        }

        /// Submits an async job: `body` (JSON) or `data` (bytes) with `content_type`, and any
        /// other `JobRequest` field.
        #[pyo3(signature = (kind, body=None, **kwargs))]
        fn submit_job(&ep, py, kind: &Bound<'_, PyAny>, body: Option<&Bound<'_, PyAny>>, **kwargs) -> <Self as Flavour>::Job {
            let req = job_request(py, kind, body, kwargs)?;
            let endpoint = ep.clone();
            async move {
                let id = endpoint.submit_job(&req, &Default::default()).await?;
                Ok(<Self as Flavour>::Job::from(JobRef { endpoint, id }))
            }
        }

        /// Any other OpenAI-compatible JSON route (images, audio/speech, forecast): POSTs
        /// `body` to `route` (e.g. `"/v1/images/generations"`) and returns the decoded JSON,
        /// or `bytes` for binary answers.
        #[pyo3(signature = (route, body, **kwargs))]
        fn post(&ep, py, route: String, body: &Bound<'_, PyAny>, **kwargs) -> Answer {
            let body = to_value(body, "body")?;
            let call = per_call(py, kwargs)?;
            let ep = ep.clone();
            async move { ep.post_json(&route, &body, &call).await.map(Answer) }
        }
    }
}

dual! {
    Job, NativeAsyncJob;
    shared {
        #[getter]
        fn id(&self) -> &str {
            &self.inner.id
        }

        fn __repr__(&self) -> String {
            format!("{}Job(id={:?})", <Self as Flavour>::PREFIX, self.inner.id)
        }
    }
    sync {}
    asyncio {}
    calls {
        /// `{"job_id", "status", "result"?, "error"?}`.
        #[pyo3(signature = (**kwargs))]
        fn status(&job, py, **kwargs) -> Json {
            let call = per_call(py, kwargs)?;
            let job = job.clone();
            async move { Json::of(&job.endpoint.job_status(&job.id, &call).await?) }
        }

        /// Polls until the job succeeds or fails; `TimeoutError` after `timeout` seconds.
        #[pyo3(signature = (timeout=60.0))]
        fn wait(&job, py, timeout: f64) -> Json {
            let limit = seconds(py, Some(timeout), "timeout")?.map(|s| s.0).unwrap_or_default();
            let job = job.clone();
            async move {
                Json::of(
                    &job.endpoint
                        .wait_job(&job.id, limit, &Default::default())
                        .await?,
                )
            }
        }
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<DataClient>()?;
    m.add_class::<NativeAsyncDataClient>()?;
    m.add_class::<Endpoint>()?;
    m.add_class::<NativeAsyncEndpoint>()?;
    m.add_class::<Job>()?;
    m.add_class::<NativeAsyncJob>()?;
    Ok(())
}
