//! Async jobs (CONTRACT.md §5): `POST /endpoint/{p}/{w}/jobs` queues a request durably; a
//! runner executes queued jobs against the workload's engine (waiting for it to be ready)
//! and stores the result or the error for `GET /jobs/{id}`. Jobs a crash left running are
//! queued again at the next start.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use reqwest::header::CONTENT_TYPE;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::api::errors::ApiError;
use crate::runtime::{NotReady, Runtime};
use crate::store::{Admission, JobRecord, JobStatus, QueueLimits, Store};
use crate::util::{new_id, now_rfc3339};
use crate::webhooks::Webhooks;

/// Accepted kinds and aliases, each with its canonical kind and engine route.
const KINDS: &[(&str, &str, &str)] = &[
    ("chat", "chat", "/v1/chat/completions"),
    ("chat_completions", "chat", "/v1/chat/completions"),
    ("embeddings", "embeddings", "/v1/embeddings"),
    ("rerank", "rerank", "/v1/rerank"),
    ("reranking", "rerank", "/v1/rerank"),
    ("audio_speech", "audio_speech", "/v1/audio/speech"),
    ("audio_generate", "audio_generate", "/v1/audio/generate"),
    (
        "audio_transcriptions",
        "audio_transcriptions",
        "/v1/audio/transcriptions",
    ),
    ("images", "images", "/v1/images/generations"),
    ("images_generations", "images", "/v1/images/generations"),
    ("images_edits", "images_edits", "/v1/images/edits"),
    (
        "images_variations",
        "images_variations",
        "/v1/images/variations",
    ),
    ("forecast", "forecast", "/forecast"),
];

/// Jobs executed at once; the rest wait in the queue.
const CONCURRENCY: usize = 4;
/// The largest `POST /jobs` body (JSON, base64 included). Checked before anything is parsed.
pub const JOB_BODY_LIMIT: usize = 16 << 20;
/// The largest engine answer a job stores; a larger one fails the job with
/// `result_too_large` (the answer is read in chunks and dropped at the limit).
pub const JOB_RESULT_LIMIT: usize = 16 << 20;
/// The largest `context` a job carries back.
const CONTEXT_LIMIT: usize = 64 << 10;
/// Queue bounds: unfinished jobs per key, queued jobs per Manager.
pub const QUEUE_LIMITS: QueueLimits = QueueLimits {
    per_key: 256,
    total: 10_000,
};
/// How often finished jobs past their retention are deleted.
const RETENTION_SWEEP: Duration = Duration::from_secs(60);

/// Time limits of the job runner (`serve --job-timeout`, `--job-retention`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobTimes {
    /// How long one job's engine request may take, answer included.
    pub timeout: Duration,
    /// How long a finished job (and its result) is kept.
    pub retention: Duration,
}

impl Default for JobTimes {
    fn default() -> Self {
        JobTimes {
            timeout: Duration::from_secs(10 * 60),
            retention: Duration::from_secs(24 * 3600),
        }
    }
}
/// How long a job waits for its workload to become ready.
const READY_WAIT: Duration = Duration::from_secs(10 * 60);
/// Connection failures (an engine restarting) are retried this many times.
const CONNECT_RETRIES: u32 = 3;
/// The queue is re-checked this often even without a wake-up.
const POLL: Duration = Duration::from_secs(5);

fn canonical_kind(kind: &str) -> Option<(&'static str, &'static str)> {
    KINDS
        .iter()
        .find(|(name, _, _)| *name == kind)
        .map(|(_, canonical, route)| (*canonical, *route))
}

fn accepted_kinds() -> String {
    KINDS
        .iter()
        .map(|(name, _, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `GET /jobs/{id}` answer. The result is written out as the JSON text it was stored
/// as, never parsed into a tree.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Job)]
pub struct JobView<'a> {
    job_id: &'a str,
    #[schema(schema_with = job_status_schema)]
    status: &'static str,
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Value)]
    result: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Value)]
    error: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Value)]
    context: Option<&'a Value>,
    created_at: &'a str,
    updated_at: &'a str,
}

fn job_status_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(
            [
                JobStatus::Queued,
                JobStatus::Running,
                JobStatus::Succeeded,
                JobStatus::Failed,
            ]
            .map(JobStatus::as_str),
        ))
        .build()
}

pub fn job_json(job: &JobRecord) -> JobView<'_> {
    JobView {
        job_id: &job.id,
        status: job.status.as_str(),
        kind: &job.kind,
        result: job.result.as_deref(),
        error: job.error.as_ref(),
        context: job.context.as_ref(),
        created_at: &job.created_at,
        updated_at: &job.updated_at,
    }
}

/// A submitted job's fields, each kept as raw JSON text so a large body is never expanded
/// into a tree (a 31 MiB body once cost 700 MiB that way).
fn parse_fields(body: &[u8]) -> Result<Vec<(String, Box<RawValue>)>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "the request body is empty; send a JSON object",
        ));
    }
    let map: std::collections::BTreeMap<String, Box<RawValue>> = serde_json::from_slice(body)
        .map_err(|e| {
            ApiError::bad_request(format!("the request body must be a JSON object: {e}"))
        })?;
    Ok(map.into_iter().collect())
}

fn is_null(v: &RawValue) -> bool {
    v.get().trim() == "null"
}

pub struct Jobs {
    store: Arc<dyn Store>,
    runtime: Arc<Runtime>,
    http: reqwest::Client,
    times: JobTimes,
    webhooks: Arc<Webhooks>,
    wake: Notify,
    stop: CancellationToken,
}

impl Jobs {
    pub fn new(
        store: Arc<dyn Store>,
        runtime: Arc<Runtime>,
        http: reqwest::Client,
        times: JobTimes,
        webhooks: Arc<Webhooks>,
    ) -> Self {
        Jobs {
            store,
            runtime,
            http,
            times,
            webhooks,
            wake: Notify::new(),
            stop: CancellationToken::new(),
        }
    }

    /// Deletes finished jobs past their retention.
    async fn sweep(&self) {
        let cutoff = chrono::Utc::now()
            - chrono::Duration::from_std(self.times.retention).unwrap_or(chrono::Duration::MAX);
        let cutoff = cutoff.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        match self.store.delete_finished_jobs_before(&cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(count = n, "deleted finished jobs past their retention"),
            Err(e) => tracing::warn!(error = %e, "could not delete old jobs"),
        }
    }

    /// Validates and queues a job submitted by key `token_id`; returns its id.
    pub async fn submit(
        &self,
        project_id: &str,
        workload_id: &str,
        token_id: &str,
        raw: &[u8],
    ) -> Result<String, ApiError> {
        const FIELDS: &[&str] = &[
            "kind",
            "body",
            "body_b64",
            "content_type",
            "context",
            "webhook_url",
        ];
        let mut fields = parse_fields(raw)?;
        if let Some((k, _)) = fields.iter().find(|(k, _)| !FIELDS.contains(&k.as_str())) {
            return Err(ApiError::validation(
                k.as_str(),
                format!("unknown field; accepted fields: {}", FIELDS.join(", ")),
            ));
        }
        fields.retain(|(_, v)| !is_null(v));
        let take = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        let string = |name: &str| -> Result<Option<String>, ApiError> {
            take(name)
                .map(|v| {
                    serde_json::from_str::<String>(v.get())
                        .map_err(|_| ApiError::validation(name, "must be a string"))
                })
                .transpose()
        };
        let kind = match string("kind")? {
            Some(k) => canonical_kind(k.trim()).ok_or_else(|| {
                ApiError::validation(
                    "kind",
                    format!(
                        "unknown job kind {k:?}; accepted kinds: {}",
                        accepted_kinds()
                    ),
                )
            })?,
            None => {
                return Err(ApiError::validation(
                    "kind",
                    format!("is required; accepted kinds: {}", accepted_kinds()),
                ))
            }
        };
        let (body, content_type) = match (take("body"), take("body_b64")) {
            (Some(body), None) => {
                if take("content_type").is_some() {
                    return Err(ApiError::validation(
                        "content_type",
                        "goes with body_b64; a JSON body is always application/json",
                    ));
                }
                (
                    body.get().as_bytes().to_vec(),
                    "application/json".to_string(),
                )
            }
            (None, Some(_)) => {
                let b64 = string("body_b64")?.unwrap_or_default();
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|e| {
                        ApiError::validation("body_b64", format!("is not valid base64: {e}"))
                    })?;
                let ct = string("content_type")?
                    .filter(|s| !s.trim().is_empty())
                    .ok_or_else(|| {
                        ApiError::validation(
                            "content_type",
                            "is required with body_b64, e.g. \"multipart/form-data; boundary=…\"",
                        )
                    })?;
                (bytes, ct.trim().to_string())
            }
            _ => {
                return Err(ApiError::bad_request(
                    "give exactly one of body (JSON) or body_b64 (with content_type)",
                ))
            }
        };
        let context =
            match take("context") {
                Some(c) if c.get().len() > CONTEXT_LIMIT => {
                    return Err(ApiError::validation(
                        "context",
                        format!(
                            "is {} bytes; at most {} KiB, it is echoed back with the job",
                            c.get().len(),
                            CONTEXT_LIMIT >> 10
                        ),
                    ))
                }
                Some(c) => Some(serde_json::from_str::<Value>(c.get()).map_err(|e| {
                    ApiError::validation("context", format!("is not valid JSON: {e}"))
                })?),
                None => None,
            };
        let webhook_url = match string("webhook_url")? {
            Some(url) => {
                crate::webhooks::check_url(&url, self.webhooks.config().allow_remote)
                    .map_err(|why| ApiError::validation("webhook_url", why))?;
                // Deliveries are signed with the workload's secret; without one a receiver
                // could not tell a real delivery from a forged one.
                if self.store.webhook(workload_id).await?.is_none() {
                    return Err(ApiError::validation(
                        "webhook_url",
                        "this workload has no webhook secret to sign the delivery with; set \
                         the workload's webhook first (PUT /api/projects/{project}/workloads/\
                         {workload}/webhook), whose secret then signs per-job deliveries too",
                    ));
                }
                Some(url)
            }
            None => None,
        };
        let now = now_rfc3339();
        let job = JobRecord {
            id: new_id("job"),
            project_id: project_id.to_string(),
            workload_id: workload_id.to_string(),
            token_id: Some(token_id.to_string()),
            kind: kind.0.to_string(),
            body,
            content_type,
            context,
            status: JobStatus::Queued,
            result: None,
            error: None,
            created_at: now.clone(),
            updated_at: now,
            webhook_url,
        };
        match self.store.insert_job(&job, QUEUE_LIMITS).await? {
            Admission::Queued => {}
            Admission::KeyQuota => {
                return Err(ApiError::new(
                    axum::http::StatusCode::TOO_MANY_REQUESTS,
                    "job_quota_exceeded",
                    format!(
                        "this key has {} unfinished jobs, its limit; wait for some to finish \
                         (GET /jobs/{{id}}) before submitting more",
                        QUEUE_LIMITS.per_key
                    ),
                )
                .with_retry_after(5))
            }
            Admission::QueueFull => {
                return Err(ApiError::new(
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    "job_queue_full",
                    format!(
                        "the Manager's job queue holds {} jobs, its limit; retry later",
                        QUEUE_LIMITS.total
                    ),
                )
                .with_retry_after(5))
            }
        }
        self.wake.notify_one();
        Ok(job.id)
    }

    /// Runs queued jobs until [`Jobs::shutdown`].
    pub async fn run(self: Arc<Self>) {
        let slots = Arc::new(Semaphore::new(CONCURRENCY));
        let mut running = JoinSet::new();
        let mut swept = tokio::time::Instant::now();
        self.sweep().await;
        loop {
            if swept.elapsed() >= RETENTION_SWEEP {
                swept = tokio::time::Instant::now();
                self.sweep().await;
            }
            let permit = tokio::select! {
                _ = self.stop.cancelled() => break,
                p = slots.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            match self.store.claim_next_job().await {
                Ok(Some(job)) => {
                    let this = self.clone();
                    running.spawn(async move {
                        this.execute(job).await;
                        drop(permit);
                    });
                }
                Ok(None) => {
                    drop(permit);
                    tokio::select! {
                        _ = self.stop.cancelled() => break,
                        _ = self.wake.notified() => {}
                        _ = tokio::time::sleep(POLL) => {}
                    }
                }
                Err(e) => {
                    drop(permit);
                    tracing::error!(error = %e, "could not read the job queue");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
            while running.try_join_next().is_some() {}
        }
        // Jobs cut short stay `running` in the store and are re-queued on the next start.
        running.shutdown().await;
    }

    pub fn shutdown(&self) {
        self.stop.cancel();
    }

    async fn execute(&self, job: JobRecord) {
        let (status, result, error) = match self.attempt(&job).await {
            Ok(result) => (JobStatus::Succeeded, Some(result), None),
            Err(error) => (JobStatus::Failed, None, Some(error)),
        };
        let delivery = self
            .webhooks
            .job_delivery(&job, status, result.as_deref(), error.as_ref())
            .await;
        match self
            .store
            .finish_job(
                &job.id,
                status,
                result.as_deref(),
                error.as_ref(),
                delivery.as_ref(),
            )
            .await
        {
            Ok(()) if delivery.is_some() => self.webhooks.notify(),
            Ok(()) => {}
            Err(e) => tracing::error!(job = %job.id, error = %e, "could not record a job result"),
        }
    }

    async fn attempt(&self, job: &JobRecord) -> Result<Box<RawValue>, Value> {
        let fail = |code: &str, message: String| json!({"code": code, "message": message});
        let Some(entry) = self.runtime.get(&job.workload_id) else {
            return Err(fail("not_found", "the workload was deleted".into()));
        };
        let Some((_, route)) = canonical_kind(&job.kind) else {
            return Err(fail(
                "validation_failed",
                format!("unknown kind {:?}", job.kind),
            ));
        };
        let mut connect_failures = 0;
        loop {
            let _in_flight = entry.begin();
            let lease = entry.wait_ready(READY_WAIT).await.map_err(|e| match e {
                NotReady::Failed(m) => fail("backend_unavailable", m),
                NotReady::Timeout { phase, message } => fail(
                    "workload_not_ready",
                    format!(
                        "the workload was not ready within {} minutes ({phase}: {message})",
                        READY_WAIT.as_secs() / 60
                    ),
                ),
                NotReady::Gone => fail("not_found", "the workload was deleted".into()),
                NotReady::Closed(c) => fail("workload_not_ready", c.message),
                NotReady::QueueFull(n) => fail(
                    "workload_not_ready",
                    format!("{n} requests are already waiting for the workload to start"),
                ),
            })?;
            let base = lease.url();
            let timeout = self.times.timeout;
            let timed_out = || {
                fail(
                    "job_timeout",
                    format!(
                        "the engine did not finish the job within the Manager's job timeout of \
                         {}s (serve --job-timeout)",
                        timeout.as_secs()
                    ),
                )
            };
            let started = tokio::time::Instant::now();
            // A custom backend's runtime takes every job on `/process` (docs/contract.md §7).
            let custom = entry.custom_runtime();
            let request = if custom && job.kind == "forecast" {
                // A forecast job is the §5 body, which the runtime's `/forecast` takes as is.
                self.http
                    .post(format!("{base}/forecast"))
                    .header(CONTENT_TYPE, &job.content_type)
                    .body(job.body.clone())
            } else if custom {
                self.http
                    .post(format!("{base}/process"))
                    .header(CONTENT_TYPE, "application/json")
                    .body(crate::custom_backends::process_body(
                        &job.id,
                        &job.content_type,
                        &job.body,
                    ))
            } else {
                self.http
                    .post(format!("{base}{route}"))
                    .header(CONTENT_TYPE, &job.content_type)
                    .body(job.body.clone())
            };
            let sent = tokio::time::timeout(timeout, request.send())
                .await
                .map_err(|_| timed_out())?;
            let resp = match sent {
                Ok(r) => r,
                Err(e) if e.is_connect() && connect_failures < CONNECT_RETRIES => {
                    connect_failures += 1;
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
                Err(e) => {
                    return Err(fail(
                        "backend_unavailable",
                        format!("the model server failed: {}", e.without_url()),
                    ))
                }
            };
            let status = resp.status();
            let content_type = resp
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/octet-stream")
                .to_string();
            let remaining = timeout.saturating_sub(started.elapsed());
            let bytes = tokio::time::timeout(remaining, read_capped(resp, JOB_RESULT_LIMIT))
                .await
                .map_err(|_| timed_out())??;
            if status.is_success() && custom && job.kind != "forecast" {
                return match crate::custom_backends::output_of(&bytes) {
                    Some(text) => RawValue::from_string(text).map_err(|e| {
                        fail("internal_error", format!("could not store the result: {e}"))
                    }),
                    None => Err(fail(
                        "backend_unavailable",
                        "the custom backend answered 200 without an `output`".into(),
                    )),
                };
            }
            if !status.is_success() && custom {
                return Err(json!({
                    "code": if status.is_server_error() { "backend_unavailable" } else { "engine_error" },
                    "status": status.as_u16(),
                    "message": inferencekey_core::token::scrub(&crate::custom_backends::error_text(&bytes)),
                }));
            }
            if status.is_success() {
                if content_type.contains("json") {
                    // Validated and kept as text; never expanded into a tree.
                    if let Ok(text) = String::from_utf8(bytes.clone()) {
                        if let Ok(raw) = RawValue::from_string(text) {
                            return Ok(raw);
                        }
                    }
                }
                let encoded = json!({
                    "binary_b64": base64::engine::general_purpose::STANDARD.encode(&bytes),
                    "content_type": content_type,
                });
                return RawValue::from_string(encoded.to_string()).map_err(|e| {
                    fail("internal_error", format!("could not store the result: {e}"))
                });
            }
            let parsed: Option<Value> = content_type
                .contains("json")
                .then(|| serde_json::from_slice(&bytes[..bytes.len().min(64 << 10)]).ok())
                .flatten();
            let message = parsed
                .as_ref()
                .and_then(|v| v.pointer("/error/message").and_then(Value::as_str))
                .map(str::to_string)
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(500).collect());
            return Err(json!({
                "code": "engine_error",
                "status": status.as_u16(),
                "message": inferencekey_core::token::scrub(&message),
            }));
        }
    }
}

/// Reads an engine answer in chunks, failing the job with `result_too_large` as soon as it
/// passes `limit` (what arrived so far is dropped, never stored).
async fn read_capped(mut resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, Value> {
    let mut out = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if out.len() + chunk.len() > limit {
                    return Err(json!({
                        "code": "result_too_large",
                        "message": format!(
                            "the engine's answer is over the {} MiB a job result may hold; ask \
                             for less per job (fewer inputs, fewer dimensions, shorter output)",
                            limit >> 20
                        ),
                    }));
                }
                out.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(out),
            Err(e) => {
                return Err(json!({
                    "code": "backend_unavailable",
                    "message": format!("the model server's answer broke off: {}", e.without_url()),
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_aliases() {
        assert_eq!(
            canonical_kind("chat_completions"),
            Some(("chat", "/v1/chat/completions"))
        );
        assert_eq!(canonical_kind("reranking"), Some(("rerank", "/v1/rerank")));
        assert_eq!(
            canonical_kind("images"),
            Some(("images", "/v1/images/generations"))
        );
        assert_eq!(canonical_kind("forecast"), Some(("forecast", "/forecast")));
        assert_eq!(canonical_kind("video"), None);
        assert!(accepted_kinds().contains("audio_transcriptions"));
    }
}
