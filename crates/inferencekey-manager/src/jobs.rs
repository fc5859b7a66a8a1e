//! Async jobs (CONTRACT.md §5): `POST /endpoint/{p}/{w}/jobs` queues a request durably; a
//! runner executes queued jobs against the workload's engine (waiting for it to be ready)
//! and stores the result or the error for `GET /jobs/{id}`. Jobs a crash left running are
//! queued again at the next start.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use reqwest::header::CONTENT_TYPE;
use serde_json::{json, Map, Value};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::api::errors::ApiError;
use crate::runtime::{NotReady, Runtime};
use crate::store::{JobRecord, JobStatus, Store};
use crate::util::{new_id, now_rfc3339};

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

/// The `GET /jobs/{id}` answer.
pub fn job_json(job: &JobRecord) -> Value {
    let mut out = Map::new();
    out.insert("job_id".into(), json!(job.id));
    out.insert("status".into(), json!(job.status.as_str()));
    out.insert("kind".into(), json!(job.kind));
    if let Some(r) = &job.result {
        out.insert("result".into(), r.clone());
    }
    if let Some(e) = &job.error {
        out.insert("error".into(), e.clone());
    }
    if let Some(c) = &job.context {
        out.insert("context".into(), c.clone());
    }
    out.insert("created_at".into(), json!(job.created_at));
    out.insert("updated_at".into(), json!(job.updated_at));
    Value::Object(out)
}

pub struct Jobs {
    store: Arc<dyn Store>,
    runtime: Arc<Runtime>,
    http: reqwest::Client,
    wake: Notify,
    stop: CancellationToken,
}

impl Jobs {
    pub fn new(store: Arc<dyn Store>, runtime: Arc<Runtime>, http: reqwest::Client) -> Self {
        Jobs {
            store,
            runtime,
            http,
            wake: Notify::new(),
            stop: CancellationToken::new(),
        }
    }

    /// Validates and queues a job; returns its id.
    pub fn submit(
        &self,
        project_id: &str,
        workload_id: &str,
        obj: Map<String, Value>,
    ) -> Result<String, ApiError> {
        const FIELDS: &[&str] = &["kind", "body", "body_b64", "content_type", "context"];
        if let Some(k) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(ApiError::validation(
                k.as_str(),
                format!("unknown field; accepted fields: {}", FIELDS.join(", ")),
            ));
        }
        let kind = match obj.get("kind") {
            Some(Value::String(k)) => canonical_kind(k.trim()).ok_or_else(|| {
                ApiError::validation(
                    "kind",
                    format!(
                        "unknown job kind {k:?}; accepted kinds: {}",
                        accepted_kinds()
                    ),
                )
            })?,
            _ => {
                return Err(ApiError::validation(
                    "kind",
                    format!("is required; accepted kinds: {}", accepted_kinds()),
                ))
            }
        };
        let present = |k: &str| obj.get(k).is_some_and(|v| !v.is_null());
        let (body, content_type) = match (present("body"), present("body_b64")) {
            (true, false) => {
                if present("content_type") {
                    return Err(ApiError::validation(
                        "content_type",
                        "goes with body_b64; a JSON body is always application/json",
                    ));
                }
                (
                    serde_json::to_vec(&obj["body"]).unwrap_or_default(),
                    "application/json".to_string(),
                )
            }
            (false, true) => {
                let b64 = obj["body_b64"]
                    .as_str()
                    .ok_or_else(|| ApiError::validation("body_b64", "must be a base64 string"))?;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|e| {
                        ApiError::validation("body_b64", format!("is not valid base64: {e}"))
                    })?;
                let ct = obj
                    .get("content_type")
                    .and_then(Value::as_str)
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
        let now = now_rfc3339();
        let job = JobRecord {
            id: new_id("job"),
            project_id: project_id.to_string(),
            workload_id: workload_id.to_string(),
            kind: kind.0.to_string(),
            body,
            content_type,
            context: obj.get("context").filter(|v| !v.is_null()).cloned(),
            status: JobStatus::Queued,
            result: None,
            error: None,
            created_at: now.clone(),
            updated_at: now,
        };
        self.store.insert_job(&job)?;
        self.wake.notify_one();
        Ok(job.id)
    }

    /// Runs queued jobs until [`Jobs::shutdown`].
    pub async fn run(self: Arc<Self>) {
        let slots = Arc::new(Semaphore::new(CONCURRENCY));
        let mut running = JoinSet::new();
        loop {
            let permit = tokio::select! {
                _ = self.stop.cancelled() => break,
                p = slots.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            match self.store.claim_next_job() {
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
        if let Err(e) = self
            .store
            .finish_job(&job.id, status, result.as_ref(), error.as_ref())
        {
            tracing::error!(job = %job.id, error = %e, "could not record a job result");
        }
    }

    async fn attempt(&self, job: &JobRecord) -> Result<Value, Value> {
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
            let sent = self
                .http
                .post(format!("{base}{route}"))
                .header(CONTENT_TYPE, &job.content_type)
                .body(job.body.clone())
                .send()
                .await;
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
            let bytes = resp.bytes().await.map_err(|e| {
                fail(
                    "backend_unavailable",
                    format!("the model server's answer broke off: {}", e.without_url()),
                )
            })?;
            let parsed: Option<Value> = content_type
                .contains("json")
                .then(|| serde_json::from_slice(&bytes).ok())
                .flatten();
            if status.is_success() {
                return Ok(parsed.unwrap_or_else(|| {
                    json!({
                        "binary_b64": base64::engine::general_purpose::STANDARD.encode(&bytes),
                        "content_type": content_type,
                    })
                }));
            }
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
