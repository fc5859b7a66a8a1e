//! The data-plane client (docs/contract.md §5): per-workload endpoints that call the
//! OpenAI-compatible routes with an `ik_live_` key.

use std::time::Duration;

use base64::Engine as _;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::client::config::{check_token, resolve, resolve_base_url, ENV_API_KEY, ENV_PROJECT};
use crate::client::stream::TextStream;
use crate::domain::error::FieldError;
use crate::domain::error::{Error, ErrorKind};
pub use crate::domain::request::{
    check_job_id, EmbedRequest, ForecastRequest, JobBody, JobRequest, RerankRequest, TextRequest,
    JOB_KINDS,
};
pub use crate::domain::result::{
    EmbedResult, ForecastResult, JobStatus, RerankItem, RerankResult, TextResult,
};
use crate::domain::slug::validate_slug;
use crate::domain::token::TokenKind;
use crate::transport::{build_http, encode_segment, Request, Transport};
use crate::transport::{CallOptions, ClientOptions};

/// How a `DataClient` is built; every field falls back to the environment.
#[derive(Debug, Clone, Default)]
pub struct DataConfig {
    pub project: Option<String>,
    pub base_url: Option<String>,
    /// The default `ik_live_` key for endpoints built without one.
    pub api_key: Option<String>,
    pub options: ClientOptions,
}

/// Builds endpoints; all endpoints of one client share its connection pool.
///
/// ```no_run
/// use inferencekey_core::{CallOptions, DataClient, DataConfig, TextRequest};
///
/// # async fn run() -> Result<(), inferencekey_core::Error> {
/// let data = DataClient::new(DataConfig {
///     project: Some("acme".into()),
///     ..Default::default()
/// })?;
/// let ep = data.endpoint("support-bot", Some("ik_live_…"), None)?;
/// let mut req = TextRequest::prompt("Hola");
/// req.max_tokens = Some(300);
/// let out = ep.generate_text(&req, &CallOptions::default()).await?;
/// println!("{} ({})", out.text, out.model);
///
/// let mut stream = ep.generate_text_stream(&req, &CallOptions::default()).await?;
/// while let Some(chunk) = stream.next_chunk().await? {
///     print!("{}", chunk.text);
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct DataClient {
    http: crate::transport::Http,
    base_url: String,
    project: Option<String>,
    default_key: Option<String>,
    options: ClientOptions,
}

impl DataClient {
    pub fn new(config: DataConfig) -> Result<Self, Error> {
        let base_url = resolve_base_url(config.base_url.as_deref())?;
        let project = match resolve(config.project.as_deref(), ENV_PROJECT) {
            Some(p) => Some(validate_slug(&p, "project").map_err(|e| Error::validation(vec![e]))?),
            None => None,
        };
        let default_key = resolve(config.api_key.as_deref(), ENV_API_KEY);
        if let Some(k) = &default_key {
            check_token(k, TokenKind::Live, "api_key")?;
        }
        Ok(DataClient {
            http: build_http(&config.options)?,
            base_url,
            project,
            default_key,
            options: config.options,
        })
    }

    pub fn project(&self) -> Option<&str> {
        self.project.as_deref()
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The endpoint of one workload. Key: `api_key` > the client's key > `INFERENCEKEY_API_KEY`.
    pub fn endpoint(
        &self,
        workload: &str,
        api_key: Option<&str>,
        project: Option<&str>,
    ) -> Result<Endpoint, Error> {
        let project = match project.map(str::trim).filter(|p| !p.is_empty()) {
            Some(p) => validate_slug(p, "project").map_err(|e| Error::validation(vec![e]))?,
            None => self.project.clone().ok_or_else(|| {
                Error::configuration(format!(
                    "no project: pass project=\"acme\" or set {ENV_PROJECT}"
                ))
                .with_field("project")
            })?,
        };
        let workload =
            validate_slug(workload, "workload").map_err(|e| Error::validation(vec![e]))?;
        let raw = api_key
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_string)
            .or_else(|| self.default_key.clone())
            .or_else(|| resolve(None, ENV_API_KEY))
            .ok_or_else(|| {
                Error::configuration(format!(
                    "no data key for workload {workload:?}: pass api_key=\"ik_live_…\" or set {ENV_API_KEY} (`inferencekey key create` issues one locally)"
                ))
                .with_field("api_key")
            })?;
        let token = check_token(&raw, TokenKind::Live, "api_key")?;
        let prefix = format!("/endpoint/{project}/{workload}");
        Ok(Endpoint {
            transport: Transport::new(
                self.http.clone(),
                self.base_url.clone(),
                token,
                self.options.clone(),
            )?,
            project,
            workload,
            prefix,
        })
    }
}

/// One workload's data-plane handle.
#[derive(Debug, Clone)]
pub struct Endpoint {
    transport: Transport,
    project: String,
    workload: String,
    prefix: String,
}

#[derive(Deserialize)]
struct ChatWire {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Vec<ChoiceWire>,
    #[serde(default)]
    usage: Option<Value>,
}

#[derive(Deserialize)]
struct ChoiceWire {
    #[serde(default)]
    message: Option<Map<String, Value>>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct EmbedWire {
    #[serde(default)]
    model: Option<String>,
    data: Vec<EmbedItem>,
    #[serde(default)]
    usage: Option<Value>,
}

#[derive(Deserialize)]
struct EmbedItem {
    #[serde(default)]
    index: Option<usize>,
    embedding: EmbeddingWire,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum EmbeddingWire {
    Floats(Vec<f32>),
    Base64(String),
}

#[derive(Deserialize)]
struct RerankWire {
    #[serde(default)]
    model: Option<String>,
    results: Vec<RerankItem>,
    #[serde(default)]
    usage: Option<Value>,
}

#[derive(Deserialize)]
struct ForecastWire {
    forecast: ForecastBody,
}

#[derive(Deserialize)]
struct ForecastBody {
    median: Vec<f64>,
    #[serde(default)]
    quantiles: Option<std::collections::BTreeMap<String, Vec<f64>>>,
    #[serde(default)]
    timestamps: Option<Vec<String>>,
    #[serde(default)]
    samples: Option<Vec<Vec<f64>>>,
}

fn decode<T: for<'de> Deserialize<'de>>(body: &[u8], what: &str) -> Result<T, Error> {
    serde_json::from_slice(body)
        .map_err(|e| Error::protocol(format!("could not decode the {what} answer: {e}")))
}

impl Endpoint {
    pub fn project_slug(&self) -> &str {
        &self.project
    }

    pub fn workload_slug(&self) -> &str {
        &self.workload
    }

    /// The OpenAI-compatible base URL: point any OpenAI client here with the `ik_live_` key.
    pub fn base_url(&self) -> String {
        format!("{}{}/v1", self.transport.base_url(), self.prefix)
    }

    /// The key this endpoint sends (for handing to another OpenAI client).
    pub fn api_key(&self) -> &crate::domain::token::Secret {
        self.transport.token()
    }

    fn path(&self, route: &str) -> String {
        format!("{}{}", self.prefix, route)
    }

    /// POSTs a JSON body to `route` (e.g. `/v1/images/generations`) and returns the raw answer.
    pub async fn post_json(
        &self,
        route: &str,
        body: &impl Serialize,
        call: &CallOptions,
    ) -> Result<crate::transport::Response, Error> {
        // A route is appended to the endpoint's prefix: without the slash it would run into
        // the workload slug (`…/support-botv1/…`) and reach some other path.
        if !route.starts_with('/') {
            return Err(Error::configuration(format!(
                "route {route:?} must start with '/' (e.g. \"/v1/images/generations\")"
            ))
            .with_field("route"));
        }
        let req = Request::new(Method::POST, self.path(route)).json(body)?;
        self.transport.send(&req, call).await
    }

    pub async fn generate_text(
        &self,
        req: &TextRequest,
        call: &CallOptions,
    ) -> Result<TextResult, Error> {
        let resp = self
            .post_json(
                "/v1/chat/completions",
                &req.body(false)?,
                &call.overridden_by(req),
            )
            .await?;
        let wire: ChatWire = decode(&resp.body, "chat")?;
        let choice = wire.choices.into_iter().next().ok_or_else(|| {
            Error::protocol("the chat answer has no choices").with_request_id(resp.request_id())
        })?;
        let message = choice.message.unwrap_or_default();
        let text = message
            .get("content")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let rich = message.keys().any(|k| k != "role" && k != "content");
        Ok(TextResult {
            text,
            model: wire.model.unwrap_or_default(),
            finish_reason: choice.finish_reason,
            usage: wire.usage,
            message: rich.then_some(Value::Object(message)),
            meta: resp.meta(),
            raw: resp.body,
        })
    }

    /// Starts a streamed chat answer. Retried only until the response head arrives.
    pub async fn generate_text_stream(
        &self,
        req: &TextRequest,
        call: &CallOptions,
    ) -> Result<TextStream, Error> {
        let mut request =
            Request::new(Method::POST, self.path("/v1/chat/completions")).json(&req.body(true)?)?;
        request.accept = "text/event-stream";
        let (resp, timeouts, deadline) = self
            .transport
            .open_stream(&request, &call.overridden_by(req))
            .await?;
        Ok(TextStream::new(resp, timeouts.read, deadline))
    }

    /// Embeds `input` (a string or a list of strings). Asks for base64 vectors — several
    /// times cheaper to decode than JSON floats — unless `extra` sets `encoding_format`.
    pub async fn embed(
        &self,
        req: &EmbedRequest,
        call: &CallOptions,
    ) -> Result<EmbedResult, Error> {
        let ok = match &req.input {
            Value::String(_) => true,
            Value::Array(items) => items.iter().all(Value::is_string),
            _ => false,
        };
        if !ok {
            return Err(Error::validation(vec![FieldError::new(
                "input",
                "must be a string or a list of strings",
            )]));
        }
        let mut body = Map::new();
        if let Some(m) = &req.model {
            body.insert("model".into(), Value::String(m.clone()));
        }
        body.insert("input".into(), req.input.clone());
        body.insert("encoding_format".into(), Value::String("base64".into()));
        extend(&mut body, req.extra.as_ref());
        let resp = self
            .post_json("/v1/embeddings", &body, &call.overridden_by(req))
            .await?;
        let wire: EmbedWire = decode(&resp.body, "embeddings")?;
        let mut items: Vec<(usize, Vec<f32>)> = Vec::with_capacity(wire.data.len());
        for (pos, item) in wire.data.into_iter().enumerate() {
            let vector = match item.embedding {
                EmbeddingWire::Floats(v) => v,
                EmbeddingWire::Base64(s) => decode_f32_base64(&s)?,
            };
            items.push((item.index.unwrap_or(pos), vector));
        }
        items.sort_by_key(|(i, _)| *i);
        Ok(EmbedResult {
            embeddings: items.into_iter().map(|(_, v)| v).collect(),
            model: wire.model.unwrap_or_default(),
            usage: wire.usage,
            meta: resp.meta(),
        })
    }

    pub async fn rerank(
        &self,
        req: &RerankRequest,
        call: &CallOptions,
    ) -> Result<RerankResult, Error> {
        let mut body = Map::new();
        body.insert("query".into(), Value::String(req.query.clone()));
        body.insert("documents".into(), Value::Array(req.documents.clone()));
        if let Some(n) = req.top_n {
            body.insert("top_n".into(), Value::from(n));
        }
        extend(&mut body, req.extra.as_ref());
        let resp = self
            .post_json("/v1/rerank", &body, &call.overridden_by(req))
            .await?;
        let wire: RerankWire = decode(&resp.body, "rerank")?;
        Ok(RerankResult {
            results: wire.results,
            model: wire.model.unwrap_or_default(),
            usage: wire.usage,
            meta: resp.meta(),
        })
    }

    /// A forecast from a `forecast` workload (`POST /forecast`).
    pub async fn forecast(
        &self,
        req: &ForecastRequest,
        call: &CallOptions,
    ) -> Result<ForecastResult, Error> {
        let resp = self
            .post_json("/forecast", &req.body(), &call.overridden_by(req))
            .await?;
        let wire: ForecastWire = decode(&resp.body, "forecast")?;
        Ok(ForecastResult {
            median: wire.forecast.median,
            quantiles: wire.forecast.quantiles,
            timestamps: wire.forecast.timestamps,
            samples: wire.forecast.samples,
            meta: resp.meta(),
            raw: resp.body.clone(),
        })
    }

    /// Submits an async job and returns its id.
    pub async fn submit_job(&self, req: &JobRequest, call: &CallOptions) -> Result<String, Error> {
        let (kind, body) = req.parts()?;
        let mut envelope = Map::new();
        envelope.insert("kind".into(), Value::String(kind.into()));
        match body {
            JobBody::Json(v) => {
                envelope.insert("body".into(), v);
            }
            JobBody::Binary {
                bytes,
                content_type,
            } => {
                envelope.insert(
                    "body_b64".into(),
                    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
                );
                envelope.insert("content_type".into(), Value::String(content_type));
            }
        }
        if let Some(c) = &req.context {
            envelope.insert("context".into(), c.clone());
        }
        if let Some(url) = &req.webhook_url {
            envelope.insert("webhook_url".into(), Value::String(url.clone()));
        }
        let resp = self
            .post_json("/jobs", &envelope, &call.overridden_by(req))
            .await?;
        #[derive(Deserialize)]
        struct Submitted {
            job_id: Value,
        }
        let s: Submitted = decode(&resp.body, "job submission")?;
        Ok(match s.job_id {
            Value::String(s) => s,
            other => other.to_string(),
        })
    }

    /// The job's status. Only the local Manager serves this route; elsewhere results arrive
    /// by webhook, and the error says so.
    pub async fn job_status(&self, job_id: &str, call: &CallOptions) -> Result<JobStatus, Error> {
        let id = check_job_id(job_id)?;
        let req = Request::new(
            Method::GET,
            self.path(&format!("/jobs/{}", encode_segment(id))),
        );
        match self.transport.send(&req, call).await {
            Ok(resp) => {
                let mut status: JobStatus = decode(&resp.body, "job status")?;
                status.meta = resp.meta();
                Ok(status)
            }
            Err(e) if e.status == Some(405) || e.status == Some(501) => Err(Error::new(
                ErrorKind::Configuration,
                "this server does not expose job status; results are delivered to your webhook (see inferencekey.webhooks.verify)",
            )
            .with_code("job_status_unsupported")),
            Err(e) => Err(e),
        }
    }

    /// Polls until the job succeeds or fails, or `timeout` passes.
    pub async fn wait_job(
        &self,
        job_id: &str,
        timeout: Duration,
        call: &CallOptions,
    ) -> Result<JobStatus, Error> {
        let deadline = Instant::now() + timeout;
        let mut delay = Duration::from_millis(50);
        loop {
            let status = self.job_status(job_id, call).await?;
            if status.is_terminal() {
                return Ok(status);
            }
            if Instant::now() + delay >= deadline {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!("job {job_id} still {} after {timeout:?}", status.status),
                )
                .with_code("timeout"));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }
}

/// Adds the caller's extra body keys; they win over the named fields.
fn extend(body: &mut Map<String, Value>, extra: Option<&Map<String, Value>>) {
    for (k, v) in extra.into_iter().flatten() {
        body.insert(k.clone(), v.clone());
    }
}

fn decode_f32_base64(s: &str) -> Result<Vec<f32>, Error> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| Error::protocol(format!("embedding is not valid base64: {e}")))?;
    if bytes.len() % 4 != 0 {
        return Err(Error::protocol(
            "base64 embedding length is not a multiple of 4 bytes",
        ));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_vectors() {
        let floats = [1.0f32, -0.5, 0.25];
        let bytes: Vec<u8> = floats.iter().flat_map(|f| f.to_le_bytes()).collect();
        let s = base64::engine::general_purpose::STANDARD.encode(bytes);
        assert_eq!(decode_f32_base64(&s).unwrap(), floats);
        assert!(decode_f32_base64("AAA=").is_err());
    }
}
