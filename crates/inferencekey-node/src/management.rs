//! The control-plane client: `ensure`, get/list/delete, readiness.

use std::sync::Arc;
use std::time::Duration;

use inferencekey_core::config::ManagementSettings;
use inferencekey_core::domain::request::{CallSettings, EnsureSettings};
use inferencekey_core::management::{ManagementConfig, ReadinessStream as CoreReadiness};
use inferencekey_core::{CallOptions, WorkloadSpec};
use napi::bindgen_prelude::PromiseRaw;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Status, Unknown};
use napi_derive::napi;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::errors::IntoNapi;
use crate::marshal::{self, to_json as json};
use crate::stream::spawn;

/// A JavaScript `(json: string) => unknown` called from the runtime's threads; not
/// "callee handled", so it gets the value alone (no leading error argument).
type EventCallback = ThreadsafeFunction<String, Unknown<'static>, String, Status, false>;

/// How long `waitUntilReady` waits when the call gives no `timeout`.
const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(600);

#[napi]
pub struct ManagementClient {
    inner: Arc<inferencekey_core::ManagementClient>,
}

#[napi]
impl ManagementClient {
    /// `settings`: the JSON of the client settings (`base_url`, `project`, `sdk_token`,
    /// `timeout`, `connect_timeout`, `read_timeout`, `max_retries`); absent values fall back
    /// to the `INFERENCEKEY_*` environment.
    #[napi(constructor)]
    pub fn new(settings: String) -> napi::Result<Self> {
        let s: ManagementSettings = marshal::settings(&settings).napi()?;
        let inner = inferencekey_core::ManagementClient::new(ManagementConfig {
            options: s.options("node").napi()?,
            project: s.project,
            base_url: s.base_url,
            sdk_token: s.sdk_token,
        })
        .napi()?;
        Ok(ManagementClient {
            inner: Arc::new(inner),
        })
    }

    #[napi(getter)]
    pub fn base_url(&self) -> String {
        self.inner.base_url().to_string()
    }

    #[napi(getter)]
    pub fn project(&self) -> Option<String> {
        self.inner.project().map(str::to_string)
    }

    /// Resolves to the EndpointRef's JSON.
    #[napi]
    pub fn ensure<'e>(
        &self,
        env: &'e Env,
        spec: String,
        options: String,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'e, String>> {
        let spec = WorkloadSpec::from_json(&spec).napi()?;
        let call: EnsureSettings = marshal::settings(&options).napi()?;
        let mode = call.on_drift.unwrap_or_default();
        let opts = CallOptions::of(&call);
        let inner = Arc::clone(&self.inner);
        spawn(env, cancel, async move {
            let r = inner
                .ensure(&spec, mode, call.project.as_deref(), &opts)
                .await?;
            json(&r)
        })
    }

    /// Resolves to the workload's JSON.
    #[napi]
    pub fn get<'e>(
        &self,
        env: &'e Env,
        slug: String,
        options: String,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'e, String>> {
        let call: CallSettings = marshal::settings(&options).napi()?;
        let opts = CallOptions::of(&call);
        let inner = Arc::clone(&self.inner);
        spawn(env, cancel, async move {
            json(&inner.get(&slug, call.project.as_deref(), &opts).await?)
        })
    }

    #[napi]
    pub fn list<'e>(
        &self,
        env: &'e Env,
        options: String,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'e, String>> {
        let call: CallSettings = marshal::settings(&options).napi()?;
        let opts = CallOptions::of(&call);
        let inner = Arc::clone(&self.inner);
        spawn(env, cancel, async move {
            json(&inner.list(call.project.as_deref(), &opts).await?)
        })
    }

    #[napi]
    pub fn delete<'e>(
        &self,
        env: &'e Env,
        slug: String,
        options: String,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'e, String>> {
        let call: CallSettings = marshal::settings(&options).napi()?;
        let opts = CallOptions::of(&call);
        let inner = Arc::clone(&self.inner);
        spawn(env, cancel, async move {
            inner.delete(&slug, call.project.as_deref(), &opts).await?;
            Ok("null".to_string())
        })
    }

    /// Resolves to the `ready` event's JSON. `on_event`, when given, is called with the JSON
    /// of every readiness event in order (the final one included) and then once with `""`,
    /// after the last event and before the Promise settles: the TypeScript layer waits for
    /// that marker so its callback has seen every event when `waitUntilReady` returns. An
    /// aborted wait sends no marker (the future is dropped mid-way).
    #[napi]
    pub fn wait_until_ready<'e>(
        &self,
        env: &'e Env,
        slug: String,
        options: String,
        cancel: Option<u32>,
        on_event: Option<EventCallback>,
    ) -> napi::Result<PromiseRaw<'e, String>> {
        let call: CallSettings = marshal::settings(&options).napi()?;
        let timeout = call.timeout.map_or(DEFAULT_READY_TIMEOUT, |t| t.0);
        let inner = Arc::clone(&self.inner);
        spawn(env, cancel, async move {
            let send = |json: String| {
                if let Some(cb) = &on_event {
                    // Non-blocking into an unbounded queue: events are few, and a blocked
                    // runtime thread would stall other calls.
                    cb.call(json, ThreadsafeFunctionCallMode::NonBlocking);
                }
            };
            let result = inner
                .wait_until_ready(&slug, call.project.as_deref(), timeout, |ev| {
                    if let Ok(j) = json(ev) {
                        send(j);
                    }
                })
                .await;
            send(String::new());
            json(&result?)
        })
    }

    /// Opens the readiness stream; resolves to a [`ReadinessStream`].
    #[napi]
    pub fn readiness_events<'e>(
        &self,
        env: &'e Env,
        slug: String,
        options: String,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'e, ReadinessStream>> {
        let call: CallSettings = marshal::settings(&options).napi()?;
        let opts = CallOptions::of(&call);
        let inner = Arc::clone(&self.inner);
        spawn(env, cancel, async move {
            let s = inner
                .readiness_events(&slug, call.project.as_deref(), &opts)
                .await?;
            Ok(ReadinessStream {
                inner: Arc::new(Mutex::new(Some(s))),
                closed: CancellationToken::new(),
            })
        })
    }
}

/// A readiness event stream. `close()` (the async iterator's `return`) drops the response.
#[napi]
pub struct ReadinessStream {
    inner: Arc<Mutex<Option<CoreReadiness>>>,
    closed: CancellationToken,
}

#[napi]
impl ReadinessStream {
    /// The next event's JSON, or `null` when the stream ended or was closed.
    #[napi]
    pub fn next<'e>(
        &self,
        env: &'e Env,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'e, Option<String>>> {
        let inner = Arc::clone(&self.inner);
        let closed = self.closed.clone();
        spawn(env, cancel, async move {
            let mut guard = inner.lock().await;
            let Some(s) = guard.as_mut() else {
                return Ok(None);
            };
            let next = tokio::select! {
                biased;
                _ = closed.cancelled() => Ok(None),
                r = s.next_event() => r,
            };
            match next {
                Ok(Some(ev)) => Ok(Some(json(&ev)?)),
                other => {
                    *guard = None;
                    other.map(|_| None)
                }
            }
        })
    }

    #[napi]
    pub fn close(&self) {
        self.closed.cancel();
        if let Ok(mut g) = self.inner.try_lock() {
            *g = None;
        }
    }
}
