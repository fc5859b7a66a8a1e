//! The control-plane classes: `NativeManagementClient` (blocking) and
//! `NativeAsyncManagementClient` (asyncio), each method declared once for both (see
//! [`crate::bridge::dual`]), plus the readiness iterators. `inferencekey.ManagementClient` and
//! `inferencekey.aio.AsyncManagementClient` wrap them, because `ensure()` takes a Python
//! `WorkloadSpec` and warns the Python way (the one rule for a Python wrapper: the class adds
//! Python-only behaviour).

use std::sync::{Arc, Mutex};

use inferencekey_core::config::ManagementSettings;
use inferencekey_core::custom_backend::BackendManifest;
use inferencekey_core::domain::decode::Role;
use inferencekey_core::domain::request::{CallSettings, EnsureSettings};
use inferencekey_core::management::{ManagementConfig, ReadinessStream};
use inferencekey_core::wire::ReadinessEvent;
use inferencekey_core::{CallOptions, Error, ManagementClient as CoreManagement, WorkloadSpec};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use tokio::sync::Mutex as AsyncMutex;

use crate::bridge::{dual, spawn, wait, wait_shared, Armed, Closable, Step};
use crate::convert::{client_settings, from_kwargs, seconds, value_to_py};
use crate::errors::ResultExt;
use crate::results::{py_repr, EndpointRef, Json, Workload};
use crate::webhooks::WebhookDestination;
use inferencekey_core::webhook::WebhookDestinationRequest;

/// The blocking control-plane client; `inferencekey.ManagementClient` wraps it.
#[pyclass(frozen, module = "inferencekey._native")]
pub struct NativeManagementClient {
    inner: Arc<CoreManagement>,
}

/// The asyncio control-plane client; `inferencekey.aio.AsyncManagementClient` wraps it.
#[pyclass(frozen, module = "inferencekey._native")]
pub struct NativeAsyncManagementClient {
    inner: Arc<CoreManagement>,
}

impl NativeManagementClient {
    const NAME: &'static str = "ManagementClient";
}

impl NativeAsyncManagementClient {
    const NAME: &'static str = "AsyncManagementClient";
}

/// A client from the constructor's keyword arguments (`ManagementSettings`' fields).
fn build(
    py: Python<'_>,
    project: Option<&Bound<'_, PyAny>>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<Arc<CoreManagement>> {
    let s: ManagementSettings = client_settings(py, project, kwargs)?;
    let options = s.options("python").or_raise(py)?;
    let client = CoreManagement::new(ManagementConfig {
        project: s.project,
        base_url: s.base_url,
        sdk_token: s.sdk_token,
        options,
    })
    .or_raise(py)?;
    Ok(Arc::new(client))
}

/// A readiness event as the dict Python sees.
fn event(ev: &ReadinessEvent) -> Result<Json, Error> {
    Json::of(ev)
}

dual! {
    NativeManagementClient, NativeAsyncManagementClient;
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
                "{}(project={}, base_url={:?})",
                Self::NAME,
                py_repr(self.inner.project()),
                self.inner.base_url()
            )
        }
    }
    sync {
        /// Blocks until the workload is ready; `on_event(dict)` sees each readiness event.
        #[pyo3(signature = (slug, timeout, project=None, on_event=None))]
        fn wait_until_ready(
            &self,
            py: Python<'_>,
            slug: &str,
            timeout: f64,
            project: Option<String>,
            on_event: Option<Py<PyAny>>,
        ) -> PyResult<Json> {
            let limit = seconds(py, Some(timeout), "timeout")?.map(|s| s.0).unwrap_or_default();
            let callback = |ev: &ReadinessEvent| {
                if let Some(cb) = &on_event {
                    Python::attach(|py| {
                        let result = event(ev)
                            .or_raise(py)
                            .and_then(|d| value_to_py(py, &d.0))
                            .and_then(|d| cb.call1(py, (d,)));
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
            event(&ev).or_raise(py)
        }

        /// The readiness events as a blocking iterator of dicts.
        #[pyo3(signature = (slug, project=None))]
        fn readiness_events(
            &self,
            py: Python<'_>,
            slug: &str,
            project: Option<String>,
        ) -> PyResult<ReadinessIter> {
            // On the shared runtime: a blocking iterator may be read from other threads.
            let stream = wait_shared(
                py,
                self.inner
                    .readiness_events(slug, project.as_deref(), &Default::default()),
            )?;
            Ok(ReadinessIter {
                inner: Mutex::new(Some(stream)),
            })
        }
    }
    asyncio {
        /// Awaitable final readiness event. `on_event(dict)` is scheduled on the caller's
        /// event loop (`call_soon_threadsafe`) for each event, in order, so it runs on the
        /// loop's thread like any other callback.
        #[pyo3(signature = (slug, timeout, project=None, on_event=None))]
        fn wait_until_ready<'py>(
            &self,
            py: Python<'py>,
            slug: String,
            timeout: f64,
            project: Option<String>,
            on_event: Option<Py<PyAny>>,
        ) -> PyResult<Bound<'py, PyAny>> {
            let limit = seconds(py, Some(timeout), "timeout")?.map(|s| s.0).unwrap_or_default();
            let event_loop = match &on_event {
                Some(_) => Some(pyo3_async_runtimes::get_running_loop(py)?.unbind()),
                None => None,
            };
            let client = self.inner.clone();
            spawn(py, async move {
                let forward = |ev: &ReadinessEvent| {
                    let (Some(cb), Some(event_loop)) = (&on_event, &event_loop) else {
                        return;
                    };
                    let Ok(value) = event(ev) else {
                        return;
                    };
                    // Events are rare (a handful per start), so taking the GIL here is cheap.
                    // On the loop's own thread (its local runtime) the GIL is held already;
                    // on a shared-runtime worker `block_in_place` moves the worker's other
                    // tasks elsewhere meanwhile.
                    let schedule = || {
                        Python::attach(|py| {
                            let scheduled = value_to_py(py, &value.0).and_then(|d| {
                                event_loop.call_method1(py, "call_soon_threadsafe", (cb, d))
                            });
                            if let Err(e) = scheduled {
                                e.write_unraisable(py, None);
                            }
                        })
                    };
                    let multi_thread = tokio::runtime::Handle::current().runtime_flavor()
                        == tokio::runtime::RuntimeFlavor::MultiThread;
                    if multi_thread {
                        tokio::task::block_in_place(schedule);
                    } else {
                        schedule();
                    }
                };
                let ev = client
                    .wait_until_ready(&slug, project.as_deref(), limit, forward)
                    .await?;
                event(&ev)
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
    }
    calls {
        /// `EndpointRef`: create, patch or nothing, per `on_drift`; `**kwargs` are the
        /// core's `EnsureSettings` (`timeout`, `max_retries`).
        #[pyo3(signature = (spec_json, on_drift="reconcile", project=None, **kwargs))]
        fn ensure(&client, py, spec_json: &str, on_drift: &str, project: Option<&Bound<'_, PyAny>>, **kwargs) -> EndpointRef {
            let spec = WorkloadSpec::from_json(spec_json).or_raise(py)?;
            let on_drift = pyo3::types::PyString::new(py, on_drift).into_any();
            let s: EnsureSettings = from_kwargs(
                py,
                &[("on_drift", Some(&on_drift)), ("project", project)],
                kwargs,
                "options",
                Role::Settings,
            )?;
            let call = CallOptions::of(&s);
            let mode = s.on_drift.unwrap_or_default();
            let client = client.clone();
            async move {
                client
                    .ensure(&spec, mode, s.project.as_deref(), &call)
                    .await
                    .map(EndpointRef::from_core)
            }
        }

        /// The `Workload` with this slug; `NotFoundError` when absent.
        #[pyo3(signature = (slug, project=None, **kwargs))]
        fn get(&client, py, slug: String, project: Option<&Bound<'_, PyAny>>, **kwargs) -> Workload {
            let (project, call) = call_settings(py, project, kwargs)?;
            let client = client.clone();
            async move {
                client
                    .get(&slug, project.as_deref(), &call)
                    .await
                    .map(Workload::from_core)
            }
        }

        /// Every `Workload` of the project.
        #[pyo3(signature = (project=None, **kwargs))]
        fn list(&client, py, project: Option<&Bound<'_, PyAny>>, **kwargs) -> Vec<Workload> {
            let (project, call) = call_settings(py, project, kwargs)?;
            let client = client.clone();
            async move {
                let all = client.list(project.as_deref(), &call).await?;
                Ok(all.into_iter().map(Workload::from_core).collect::<Vec<_>>())
            }
        }

        /// Deletes the workload.
        #[pyo3(signature = (slug, project=None, **kwargs))]
        fn delete(&client, py, slug: String, project: Option<&Bound<'_, PyAny>>, **kwargs) -> () {
            let (project, call) = call_settings(py, project, kwargs)?;
            let client = client.clone();
            async move { client.delete(&slug, project.as_deref(), &call).await }
        }

        /// Sets the workload's webhook destination (docs/contract.md §6). The answer that
        /// makes the signing secret (the first, or `rotate_secret=True`) is the only one
        /// that carries it.
        #[pyo3(signature = (slug, url, rotate_secret=false, project=None, **kwargs))]
        fn set_webhook(&client, py, slug: String, url: String, rotate_secret: bool, project: Option<&Bound<'_, PyAny>>, **kwargs) -> WebhookDestination {
            let (project, call) = call_settings(py, project, kwargs)?;
            let req = WebhookDestinationRequest { url, rotate_secret };
            let client = client.clone();
            async move {
                client
                    .set_webhook(&slug, &req, project.as_deref(), &call)
                    .await
                    .map(WebhookDestination::from_core)
            }
        }

        /// The workload's webhook destination, secret redacted; `NotFoundError` when unset.
        #[pyo3(signature = (slug, project=None, **kwargs))]
        fn get_webhook(&client, py, slug: String, project: Option<&Bound<'_, PyAny>>, **kwargs) -> WebhookDestination {
            let (project, call) = call_settings(py, project, kwargs)?;
            let client = client.clone();
            async move {
                client
                    .get_webhook(&slug, project.as_deref(), &call)
                    .await
                    .map(WebhookDestination::from_core)
            }
        }

        /// Removes the workload's webhook.
        #[pyo3(signature = (slug, project=None, **kwargs))]
        fn delete_webhook(&client, py, slug: String, project: Option<&Bound<'_, PyAny>>, **kwargs) -> () {
            let (project, call) = call_settings(py, project, kwargs)?;
            let client = client.clone();
            async move { client.delete_webhook(&slug, project.as_deref(), &call).await }
        }

        /// Sends one signed `ping` now: `{"delivered", "status", "error"}`.
        #[pyo3(signature = (slug, project=None, **kwargs))]
        fn test_webhook(&client, py, slug: String, project: Option<&Bound<'_, PyAny>>, **kwargs) -> Json {
            let (project, call) = call_settings(py, project, kwargs)?;
            let client = client.clone();
            async move {
                let r = client.test_webhook(&slug, project.as_deref(), &call).await?;
                Json::of(&r)
            }
        }

        /// Publishes a custom backend package (docs/contract.md §7): `archive` is the
        /// `.tar.gz`, `manifest_json` its `manifest.json` (checked by the core's rules first).
        /// The Python class reads both from the file.
        #[pyo3(signature = (archive, manifest_json, tenant=None, **kwargs))]
        fn publish_backend(&client, py, archive: pyo3::pybacked::PyBackedBytes, manifest_json: &str, tenant: Option<String>, **kwargs) -> Json {
            let manifest = BackendManifest::from_json(manifest_json).or_raise(py)?;
            let (_, call) = call_settings(py, None, kwargs)?;
            let client = client.clone();
            async move {
                let r = client.publish_backend(&archive, &manifest, tenant.as_deref(), &call).await?;
                Json::of(&r)
            }
        }

        /// The tenant's published custom backends.
        #[pyo3(signature = (tenant=None, **kwargs))]
        fn list_backends(&client, py, tenant: Option<String>, **kwargs) -> Json {
            let (_, call) = call_settings(py, None, kwargs)?;
            let client = client.clone();
            async move {
                let r = client.list_backends(tenant.as_deref(), &call).await?;
                Json::of(&r)
            }
        }
    }
}

/// A control-plane call's `project` and `**kwargs`, decoded as the core's `CallSettings`.
fn call_settings(
    py: Python<'_>,
    project: Option<&Bound<'_, PyAny>>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<(Option<String>, CallOptions)> {
    let s: CallSettings = from_kwargs(
        py,
        &[("project", project)],
        kwargs,
        "options",
        Role::Settings,
    )?;
    let call = CallOptions::of(&s);
    Ok((s.project, call))
}

/// `for event in mgmt.readiness_events(slug)`; ends after `ready` or `error`.
#[pyclass(module = "inferencekey._native")]
pub struct ReadinessIter {
    inner: Mutex<Option<ReadinessStream>>,
}

#[pymethods]
impl ReadinessIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Json>> {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Some(stream) = guard.as_mut() else {
            return Ok(None);
        };
        match wait_shared(py, stream.next_event())? {
            Some(ev) => Ok(Some(event(&ev).or_raise(py)?)),
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
                .readiness_events(slug, project.as_deref(), &Default::default())
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
            Ok(Some(ev)) => event(&ev).map(Some),
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

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeManagementClient>()?;
    m.add_class::<NativeAsyncManagementClient>()?;
    m.add_class::<ReadinessIter>()?;
    m.add_class::<AsyncReadinessIter>()?;
    Ok(())
}
