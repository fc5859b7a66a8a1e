//! The data-plane client and its per-workload endpoints.

use std::sync::Arc;
use std::time::Duration;

use inferencekey_core::config::{DataSettings, EndpointSettings};
use inferencekey_core::data::DataConfig;
use inferencekey_core::domain::request::{
    EmbedRequest, JobCallSettings, JobRequest, RerankRequest, TextRequest,
};
// Data-plane requests carry their own `timeout`/`max_retries`, which the core's endpoint
// applies; the calls pass no options of their own.
use inferencekey_core::CallOptions;
use inferencekey_core::Endpoint as CoreEndpoint;
use napi::bindgen_prelude::PromiseRaw;
use napi::Env;
use napi_derive::napi;

use crate::errors::IntoNapi;
use crate::marshal::{self, to_json as json};
use crate::stream::{spawn, TextStream};

/// How long `waitJob` waits when the call gives no `timeout`.
const DEFAULT_JOB_TIMEOUT: Duration = Duration::from_secs(600);

#[napi]
pub struct DataClient {
    inner: inferencekey_core::DataClient,
}

#[napi]
impl DataClient {
    /// `settings`: `base_url`, `project`, `api_key` (the default `ik_live_` key), `timeout`,
    /// `connect_timeout`, `read_timeout`, `max_retries`; absent values fall back to the
    /// `INFERENCEKEY_*` environment.
    #[napi(constructor)]
    pub fn new(settings: String) -> napi::Result<Self> {
        let s: DataSettings = marshal::settings(&settings).napi()?;
        let inner = inferencekey_core::DataClient::new(DataConfig {
            options: s.options("node").napi()?,
            project: s.project,
            base_url: s.base_url,
            api_key: s.api_key,
        })
        .napi()?;
        Ok(DataClient { inner })
    }

    #[napi(getter)]
    pub fn base_url(&self) -> String {
        self.inner.base_url().to_string()
    }

    #[napi(getter)]
    pub fn project(&self) -> Option<String> {
        self.inner.project().map(str::to_string)
    }

    /// `options`: `api_key`, `project`.
    #[napi]
    pub fn endpoint(&self, workload: String, options: String) -> napi::Result<Endpoint> {
        let s: EndpointSettings = marshal::settings(&options).napi()?;
        let ep = self
            .inner
            .endpoint(&workload, s.api_key.as_deref(), s.project.as_deref())
            .napi()?;
        Ok(Endpoint {
            inner: Arc::new(ep),
        })
    }
}

#[napi]
pub struct Endpoint {
    inner: Arc<CoreEndpoint>,
}

#[napi]
impl Endpoint {
    #[napi(getter)]
    pub fn project_slug(&self) -> String {
        self.inner.project_slug().to_string()
    }

    #[napi(getter)]
    pub fn workload_slug(&self) -> String {
        self.inner.workload_slug().to_string()
    }

    /// The OpenAI-compatible base URL (`…/endpoint/{project}/{workload}/v1`).
    #[napi(getter)]
    pub fn base_url(&self) -> String {
        self.inner.base_url()
    }

    /// The endpoint's key, for handing to another OpenAI client. A method, not a property,
    /// so that inspecting or serialising the endpoint never shows it.
    #[napi]
    pub fn reveal_api_key(&self) -> String {
        self.inner.api_key().expose().to_string()
    }

    /// The key in redacted form (`ik_live_abcd…`).
    #[napi(getter)]
    pub fn redacted_api_key(&self) -> String {
        self.inner.api_key().redacted()
    }

    /// Resolves to the TextResult's JSON.
    #[napi]
    pub fn generate_text<'e>(
        &self,
        env: &'e Env,
        request: String,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'e, String>> {
        let req: TextRequest = marshal::request(&request).napi()?;
        let opts = CallOptions::default();
        let inner = Arc::clone(&self.inner);
        spawn(env, cancel, async move {
            json(&inner.generate_text(&req, &opts).await?)
        })
    }

    /// Opens a streamed answer; resolves to a [`TextStream`] once the response head arrived.
    #[napi]
    pub fn generate_text_stream<'e>(
        &self,
        env: &'e Env,
        request: String,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'e, TextStream>> {
        let req: TextRequest = marshal::request(&request).napi()?;
        let opts = CallOptions::default();
        let inner = Arc::clone(&self.inner);
        spawn(env, cancel, async move {
            Ok(TextStream::new(
                inner.generate_text_stream(&req, &opts).await?,
            ))
        })
    }

    #[napi]
    pub fn embed<'e>(
        &self,
        env: &'e Env,
        request: String,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'e, String>> {
        let req: EmbedRequest = marshal::request(&request).napi()?;
        let opts = CallOptions::default();
        let inner = Arc::clone(&self.inner);
        spawn(env, cancel, async move {
            json(&inner.embed(&req, &opts).await?)
        })
    }

    #[napi]
    pub fn rerank<'e>(
        &self,
        env: &'e Env,
        request: String,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'e, String>> {
        let req: RerankRequest = marshal::request(&request).napi()?;
        let opts = CallOptions::default();
        let inner = Arc::clone(&self.inner);
        spawn(env, cancel, async move {
            json(&inner.rerank(&req, &opts).await?)
        })
    }

    /// Resolves to the job id.
    #[napi]
    pub fn submit_job<'e>(
        &self,
        env: &'e Env,
        request: String,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'e, String>> {
        let req: JobRequest = marshal::request(&request).napi()?;
        let opts = CallOptions::default();
        let inner = Arc::clone(&self.inner);
        spawn(
            env,
            cancel,
            async move { inner.submit_job(&req, &opts).await },
        )
    }

    #[napi]
    pub fn job_status<'e>(
        &self,
        env: &'e Env,
        job_id: String,
        options: String,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'e, String>> {
        let s: JobCallSettings = marshal::settings(&options).napi()?;
        let opts = CallOptions::of(&s);
        let inner = Arc::clone(&self.inner);
        spawn(env, cancel, async move {
            json(&inner.job_status(&job_id, &opts).await?)
        })
    }

    #[napi]
    pub fn wait_job<'e>(
        &self,
        env: &'e Env,
        job_id: String,
        options: String,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'e, String>> {
        let s: JobCallSettings = marshal::settings(&options).napi()?;
        let timeout = s.timeout.map_or(DEFAULT_JOB_TIMEOUT, |t| t.0);
        let opts = CallOptions::default();
        let inner = Arc::clone(&self.inner);
        spawn(env, cancel, async move {
            json(&inner.wait_job(&job_id, timeout, &opts).await?)
        })
    }
}
