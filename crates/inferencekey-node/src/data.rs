//! The data-plane client and its per-workload endpoints.

use std::sync::Arc;
use std::time::Duration;

use inferencekey_core::data::DataConfig;
use inferencekey_core::{ClientOptions, Endpoint as CoreEndpoint};
use napi::bindgen_prelude::PromiseRaw;
use napi::Env;
use napi_derive::napi;

use crate::errors::IntoNapi;
use crate::marshal;
use crate::stream::{spawn, TextStream};

/// How long `waitJob` waits when the call gives no `timeout`.
const DEFAULT_JOB_TIMEOUT: Duration = Duration::from_secs(600);

fn json(v: &serde_json::Value) -> Result<String, inferencekey_core::Error> {
    serde_json::to_string(v)
        .map_err(|e| inferencekey_core::Error::protocol(format!("could not encode a result: {e}")))
}

#[napi]
pub struct DataClient {
    inner: inferencekey_core::DataClient,
    options: ClientOptions,
}

#[napi]
impl DataClient {
    /// `settings`: `base_url`, `project`, `api_key` (the default `ik_live_` key), `timeout`,
    /// `connect_timeout`, `read_timeout`, `max_retries`; absent values fall back to the
    /// `INFERENCEKEY_*` environment.
    #[napi(constructor)]
    pub fn new(settings: String) -> napi::Result<Self> {
        let s = marshal::client_settings(&settings, "api_key").napi()?;
        let options = s.options.clone();
        let inner = inferencekey_core::DataClient::new(DataConfig {
            project: s.project,
            base_url: s.base_url,
            api_key: s.token,
            options: s.options,
        })
        .napi()?;
        Ok(DataClient { inner, options })
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
        let (key, project) = marshal::endpoint_settings(&options).napi()?;
        let ep = self
            .inner
            .endpoint(&workload, key.as_deref(), project.as_deref())
            .napi()?;
        Ok(Endpoint {
            inner: Arc::new(ep),
            options: self.options.clone(),
        })
    }
}

#[napi]
pub struct Endpoint {
    inner: Arc<CoreEndpoint>,
    options: ClientOptions,
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
        let (req, timeout) = marshal::text_request(&request).napi()?;
        let opts = marshal::within(&self.options, timeout);
        let inner = Arc::clone(&self.inner);
        spawn(env, cancel, async move {
            json(&marshal::text_result(
                &inner.generate_text(&req, &opts).await?,
            ))
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
        let (req, timeout) = marshal::text_request(&request).napi()?;
        let opts = marshal::within(&self.options, timeout);
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
        let r = marshal::embed_request(&request).napi()?;
        let opts = marshal::within(&self.options, r.timeout);
        let inner = Arc::clone(&self.inner);
        spawn(env, cancel, async move {
            let out = inner
                .embed(r.input, r.model.as_deref(), r.extra.as_ref(), &opts)
                .await?;
            json(&marshal::embed_result(&out))
        })
    }

    #[napi]
    pub fn rerank<'e>(
        &self,
        env: &'e Env,
        request: String,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'e, String>> {
        let r = marshal::rerank_request(&request).napi()?;
        let opts = marshal::within(&self.options, r.timeout);
        let inner = Arc::clone(&self.inner);
        spawn(env, cancel, async move {
            let out = inner
                .rerank(&r.query, r.documents, r.top_n, r.extra.as_ref(), &opts)
                .await?;
            json(&marshal::rerank_result(&out))
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
        let j = marshal::job_request(&request).napi()?;
        let opts = marshal::within(&self.options, j.timeout);
        let inner = Arc::clone(&self.inner);
        spawn(env, cancel, async move {
            inner.submit_job(&j.kind, j.body, j.context, &opts).await
        })
    }

    #[napi]
    pub fn job_status<'e>(
        &self,
        env: &'e Env,
        job_id: String,
        options: String,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'e, String>> {
        let timeout = marshal::job_call(&options).napi()?;
        let opts = marshal::within(&self.options, timeout);
        let inner = Arc::clone(&self.inner);
        spawn(env, cancel, async move {
            let s = inner.job_status(&job_id, &opts).await?;
            json(&serde_json::to_value(&s).unwrap_or_default())
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
        let timeout = marshal::job_call(&options).napi()?;
        let opts = marshal::within(&self.options, None);
        let inner = Arc::clone(&self.inner);
        spawn(env, cancel, async move {
            let s = inner
                .wait_job(&job_id, timeout.unwrap_or(DEFAULT_JOB_TIMEOUT), &opts)
                .await?;
            json(&serde_json::to_value(&s).unwrap_or_default())
        })
    }
}
