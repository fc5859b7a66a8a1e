//! Webhook delivery (docs/contract.md §6): a finished job's result is POSTed, signed with its
//! workload's secret, to the job's `webhook_url` or else to its workload's webhook URL.
//!
//! Durable: the delivery is an outbox row written in the transaction that finishes the job
//! (`Store::finish_job`), so a crash cannot lose it; the worker here claims due rows, sends
//! them, and records each attempt. A delivery in flight when the Manager is killed is claimed
//! again once its lease ends, so delivery is at least once (receivers dedupe on the job id).
//!
//! Bounded: at most [`CONCURRENCY`] deliveries are in flight, each for at most
//! [`ATTEMPT_TIMEOUT`], and the receiver's answer is never read; so a slow or failing receiver
//! holds one slot for a while and never blocks the others or grows memory.
//!
//! The schedule is the core's `webhook::RETRY_SCHEDULE` divided by `serve
//! --webhook-time-scale` (tests run it in milliseconds). It runs on real time, not the
//! policy clock (`runtime::clock`): deliveries talk to real receivers, like health checks.

use std::sync::Arc;
use std::time::Duration;

use inferencekey_core::webhook::{self, WebhookTestResult};
use reqwest::header::CONTENT_TYPE;
use reqwest::Url;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::store::{
    AttemptOutcome, DeliveryRecord, DeliveryState, JobRecord, JobStatus, Store, WebhookRecord,
};
use crate::util::{new_id, now_rfc3339, now_unix_ms as now_ms, random_alnum};

/// Deliveries in flight at once.
pub const CONCURRENCY: usize = 8;
/// How long one attempt may take, connection and answer head included.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a claimed delivery is reserved for its attempt; a Manager killed mid-attempt
/// leaves it to be claimed again after this.
const LEASE: Duration = Duration::from_secs(15);
/// The outbox is re-checked at least this often.
const POLL: Duration = Duration::from_secs(5);
/// The longest URL accepted.
const URL_LIMIT: usize = 2048;
/// Finished deliveries are kept this long (to be listed), then deleted.
const RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// `serve --allow-remote-webhooks` and `--webhook-time-scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookConfig {
    /// Deliver to any address, not only loopback.
    pub allow_remote: bool,
    /// The retry schedule is divided by this (1 = the documented schedule).
    pub time_scale: u32,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            allow_remote: false,
            time_scale: 1,
        }
    }
}

impl WebhookConfig {
    /// The delay before the attempt after `failed` failed ones, scaled; `None` to give up.
    pub fn retry_delay(&self, failed: u32) -> Option<Duration> {
        webhook::retry_delay(failed).map(|d| d / self.time_scale.max(1))
    }
}

/// Why a destination URL is refused, as the fix the user should make.
pub fn check_url(raw: &str, allow_remote: bool) -> Result<Url, String> {
    if raw.len() > URL_LIMIT {
        return Err(format!("is {} characters; at most {URL_LIMIT}", raw.len()));
    }
    if raw.trim() != raw || raw.is_empty() {
        return Err(
            "must be a URL without surrounding spaces, e.g. http://127.0.0.1:8000/hook".into(),
        );
    }
    let url = Url::parse(raw)
        .map_err(|e| format!("is not a URL ({e}); expected e.g. http://127.0.0.1:8000/hook"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "has scheme {:?}; webhooks are delivered over http or https",
            url.scheme()
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "carries credentials; put none in the URL (deliveries are authenticated by their \
             signature)"
                .into(),
        );
    }
    let Some(host) = url.host_str() else {
        return Err("has no host".into());
    };
    if !allow_remote && !crate::config::is_loopback_host(host) {
        return Err(format!(
            "points at {host:?}, which is not a loopback address; the local Manager delivers \
             webhooks to 127.0.0.1, ::1 or localhost only (it is for development) unless \
             started with --allow-remote-webhooks"
        ));
    }
    Ok(url)
}

/// A new signing secret: `whsec_` and 32 random alphanumerics (~190 bits).
pub fn new_secret() -> String {
    format!("whsec_{}", random_alnum(32))
}

/// What a later answer shows of a secret: its prefix and last four characters.
pub fn secret_hint(secret: &str) -> String {
    let tail: String = secret
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("whsec_…{tail}")
}

/// The destination as answered; `show_secret` only in the answer that made the secret.
pub fn destination(w: &WebhookRecord, show_secret: bool) -> webhook::WebhookDestination {
    webhook::WebhookDestination {
        workload_id: w.workload_id.clone(),
        url: w.url.clone(),
        secret: show_secret.then(|| w.secret.clone()),
        secret_hint: secret_hint(&w.secret),
        created_at: w.created_at.clone(),
        updated_at: w.updated_at.clone(),
    }
}

#[derive(Serialize)]
struct Payload<'a> {
    event: &'a str,
    ts: i64,
    job_id: &'a str,
    context: Option<&'a Value>,
    data: PayloadData<'a>,
}

#[derive(Serialize)]
struct PayloadData<'a> {
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    binary_b64: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_type: Option<&'a RawValue>,
    usage: Option<&'a RawValue>,
    error: Option<&'a Value>,
}

/// The fields of a stored result a delivery lifts out, read without building a tree of the
/// (possibly 16 MiB) result.
#[derive(serde::Deserialize)]
struct ResultProbe<'a> {
    #[serde(borrow, default)]
    usage: Option<&'a RawValue>,
    #[serde(borrow, default)]
    binary_b64: Option<&'a RawValue>,
    #[serde(borrow, default)]
    content_type: Option<&'a RawValue>,
}

/// The body of a job's delivery (contract §6): `event`, `ts`, `job_id`, `context`, and
/// `data` with `status`, `output` (the engine's JSON answer) or `binary_b64` +
/// `content_type`, `usage` and `error`.
pub fn job_body(
    job: &JobRecord,
    status: JobStatus,
    result: Option<&RawValue>,
    error: Option<&Value>,
    ts: i64,
) -> Vec<u8> {
    let probe = result.and_then(|r| serde_json::from_str::<ResultProbe<'_>>(r.get()).ok());
    let binary = probe
        .as_ref()
        .filter(|p| p.binary_b64.is_some() && p.content_type.is_some());
    let payload = Payload {
        event: if status == JobStatus::Succeeded {
            "job.completed"
        } else {
            "job.failed"
        },
        ts,
        job_id: &job.id,
        context: job.context.as_ref(),
        data: PayloadData {
            status: status.as_str(),
            output: if binary.is_some() { None } else { result },
            binary_b64: binary.and_then(|p| p.binary_b64),
            content_type: binary.and_then(|p| p.content_type),
            usage: probe.as_ref().and_then(|p| p.usage),
            error,
        },
    };
    serde_json::to_vec(&payload).unwrap_or_default()
}

/// The body of a `ping`.
pub fn ping_body(workload_id: &str, ts: i64) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "event": "ping",
        "ts": ts,
        "job_id": null,
        "context": null,
        "data": {"workload_id": workload_id},
    }))
    .unwrap_or_default()
}

/// An attempt's failure, as recorded: the status when the receiver answered, and why.
struct Failure {
    status: Option<u16>,
    error: String,
    /// Trying again cannot help (the destination is no longer allowed, the secret is gone).
    permanent: bool,
}

pub struct Webhooks {
    store: Arc<dyn Store>,
    http: reqwest::Client,
    config: WebhookConfig,
    wake: Notify,
    stop: CancellationToken,
}

impl Webhooks {
    pub fn new(store: Arc<dyn Store>, config: WebhookConfig) -> Result<Self, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            // A redirect could lead a loopback-only delivery anywhere.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(Duration::from_secs(5))
            .timeout(ATTEMPT_TIMEOUT)
            .pool_max_idle_per_host(CONCURRENCY)
            .user_agent(concat!("inferencekey-manager/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("could not build the webhook HTTP client: {e}"))?;
        Ok(Webhooks {
            store,
            http,
            config,
            wake: Notify::new(),
            stop: CancellationToken::new(),
        })
    }

    pub fn config(&self) -> WebhookConfig {
        self.config
    }

    /// The outbox row for a finished job, or `None` when it has no destination.
    pub async fn job_delivery(
        &self,
        job: &JobRecord,
        status: JobStatus,
        result: Option<&RawValue>,
        error: Option<&Value>,
    ) -> Option<DeliveryRecord> {
        let url = match &job.webhook_url {
            Some(url) => url.clone(),
            None => match self.store.webhook(&job.workload_id).await {
                Ok(Some(w)) => w.url,
                Ok(None) => return None,
                Err(e) => {
                    // The job is still recorded; its delivery is what is lost, and said so.
                    tracing::error!(job = %job.id, error = %e, "could not read the workload's webhook; the job's result is not delivered");
                    return None;
                }
            },
        };
        let now = now_rfc3339();
        Some(DeliveryRecord {
            id: new_id("whd"),
            workload_id: job.workload_id.clone(),
            job_id: job.id.clone(),
            event: "job".into(),
            url,
            body: job_body(job, status, result, error, crate::util::now_unix()),
            state: DeliveryState::Pending,
            attempts: 0,
            next_attempt_ms: now_ms(),
            last_status: None,
            last_error: None,
            created_at: now.clone(),
            updated_at: now,
        })
    }

    /// Tells the worker a delivery was queued.
    pub fn notify(&self) {
        self.wake.notify_one();
    }

    pub fn shutdown(&self) {
        self.stop.cancel();
    }

    /// One signed POST; `Ok(status)` for a 2xx.
    async fn send(
        &self,
        url: &str,
        event: &str,
        job_id: Option<&str>,
        delivery_id: Option<&str>,
        body: &[u8],
        secret: &str,
    ) -> Result<u16, Failure> {
        let fail = |error: String, permanent| Failure {
            status: None,
            error,
            permanent,
        };
        // Checked again at each attempt: the Manager may have been restarted without
        // --allow-remote-webhooks since the URL was accepted.
        check_url(url, self.config.allow_remote)
            .map_err(|why| fail(format!("the destination URL {why}"), true))?;
        let t = u64::try_from(crate::util::now_unix()).unwrap_or_default();
        let mut req = self
            .http
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header(webhook::EVENT_HEADER, event)
            .header(
                webhook::SIGNATURE_HEADER,
                webhook::sign(body, secret.as_bytes(), t),
            )
            .body(body.to_vec());
        if let Some(id) = job_id {
            req = req.header(webhook::JOB_ID_HEADER, id);
        }
        if let Some(id) = delivery_id {
            req = req.header("X-InferenceKey-Delivery-Id", id);
        }
        // The answer's body is never read: dropping it closes the connection.
        match req.send().await {
            Ok(resp) if resp.status().is_success() => Ok(resp.status().as_u16()),
            Ok(resp) => Err(Failure {
                status: Some(resp.status().as_u16()),
                error: format!("the receiver answered {}", resp.status()),
                permanent: false,
            }),
            Err(e) if e.is_timeout() => Err(fail(
                format!(
                    "the receiver did not answer within {} s",
                    ATTEMPT_TIMEOUT.as_secs()
                ),
                false,
            )),
            Err(e) => Err(fail(
                format!("could not reach the receiver: {}", e.without_url()),
                false,
            )),
        }
    }

    /// Sends one `ping` to the workload's destination now, without retries.
    pub async fn ping(&self, w: &WebhookRecord) -> WebhookTestResult {
        let body = ping_body(&w.workload_id, crate::util::now_unix());
        match self
            .send(&w.url, "ping", None, None, &body, &w.secret)
            .await
        {
            Ok(status) => WebhookTestResult {
                delivered: true,
                status: Some(status),
                error: None,
            },
            Err(f) => WebhookTestResult {
                delivered: false,
                status: f.status,
                error: Some(f.error),
            },
        }
    }

    /// One attempt of an outbox row, recorded.
    async fn attempt(&self, d: DeliveryRecord) {
        let secret = match self.store.webhook(&d.workload_id).await {
            Ok(Some(w)) => Ok(w.secret),
            Ok(None) => Err(Failure {
                status: None,
                error: "the workload's webhook was deleted, and with it the secret that \
                        signs its deliveries"
                    .into(),
                permanent: true,
            }),
            Err(e) => Err(Failure {
                status: None,
                error: format!("could not read the signing secret: {e}"),
                permanent: false,
            }),
        };
        let job_id = (d.event == "job").then_some(d.job_id.as_str());
        let sent = match secret {
            Ok(secret) => {
                self.send(&d.url, &d.event, job_id, Some(&d.id), &d.body, &secret)
                    .await
            }
            Err(f) => Err(f),
        };
        let failed_attempts = d.attempts + 1;
        let outcome = match sent {
            Ok(status) => AttemptOutcome::Delivered { status },
            Err(f) => match (f.permanent, self.config.retry_delay(failed_attempts)) {
                (false, Some(delay)) => AttemptOutcome::Retry {
                    next_attempt_ms: now_ms()
                        .saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)),
                    status: f.status,
                    error: f.error,
                },
                _ => AttemptOutcome::GaveUp {
                    status: f.status,
                    error: f.error,
                },
            },
        };
        match &outcome {
            AttemptOutcome::Delivered { .. } => {
                tracing::debug!(delivery = %d.id, job = %d.job_id, "webhook delivered")
            }
            AttemptOutcome::Retry { error, .. } => tracing::info!(
                delivery = %d.id, job = %d.job_id, attempt = failed_attempts, error = %error,
                "webhook delivery failed; retrying on the schedule"
            ),
            AttemptOutcome::GaveUp { error, .. } => tracing::warn!(
                delivery = %d.id, job = %d.job_id, attempts = failed_attempts, error = %error,
                "webhook delivery failed for good"
            ),
        }
        if let Err(e) = self.store.record_delivery_attempt(&d.id, &outcome).await {
            // The lease ends and the row is claimed again: at least once.
            tracing::error!(delivery = %d.id, error = %e, "could not record a webhook attempt");
        }
    }

    async fn sweep(&self) {
        let cutoff = chrono::Utc::now()
            - chrono::Duration::from_std(RETENTION).unwrap_or(chrono::Duration::MAX);
        let cutoff = cutoff.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        if let Err(e) = self.store.delete_finished_deliveries_before(&cutoff).await {
            tracing::warn!(error = %e, "could not delete old webhook deliveries");
        }
    }

    /// Delivers due outbox rows until [`Webhooks::shutdown`].
    pub async fn run(self: Arc<Self>) {
        let slots = Arc::new(Semaphore::new(CONCURRENCY));
        let mut running = JoinSet::new();
        let mut swept = tokio::time::Instant::now();
        self.sweep().await;
        let lease = i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX);
        loop {
            if swept.elapsed() >= Duration::from_secs(3600) {
                swept = tokio::time::Instant::now();
                self.sweep().await;
            }
            while running.try_join_next().is_some() {}
            let free = slots.available_permits();
            let claimed = if free == 0 {
                Vec::new()
            } else {
                match self.store.claim_due_deliveries(now_ms(), lease, free).await {
                    Ok(rows) => rows,
                    Err(e) => {
                        tracing::error!(error = %e, "could not read the webhook outbox");
                        Vec::new()
                    }
                }
            };
            let any = !claimed.is_empty();
            for d in claimed {
                let Ok(permit) = slots.clone().try_acquire_owned() else {
                    break;
                };
                let this = self.clone();
                running.spawn(async move {
                    this.attempt(d).await;
                    drop(permit);
                });
            }
            if any && slots.available_permits() > 0 {
                continue;
            }
            // Sleep until the next due row, a new row, a free slot, or the poll interval.
            let wait = if slots.available_permits() == 0 {
                POLL
            } else {
                match self.store.next_delivery_due().await {
                    Ok(Some(due)) => Duration::from_millis(
                        u64::try_from(due.saturating_sub(now_ms())).unwrap_or(0),
                    )
                    .min(POLL),
                    _ => POLL,
                }
            };
            tokio::select! {
                _ = self.stop.cancelled() => break,
                _ = self.wake.notified() => {}
                Some(_) = running.join_next(), if !running.is_empty() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
        // Attempts cut short keep their lease and are sent again after the next start.
        running.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> JobRecord {
        JobRecord {
            id: "job_1".into(),
            project_id: "prj".into(),
            workload_id: "wl".into(),
            token_id: None,
            kind: "chat".into(),
            body: Vec::new(),
            content_type: "application/json".into(),
            context: Some(serde_json::json!({"order": 7})),
            status: JobStatus::Running,
            result: None,
            error: None,
            created_at: String::new(),
            updated_at: String::new(),
            webhook_url: None,
        }
    }

    #[test]
    fn the_schedule_is_scaled_and_ends() {
        let real = WebhookConfig::default();
        assert_eq!(real.retry_delay(1), Some(Duration::from_secs(60)));
        assert_eq!(real.retry_delay(5), Some(Duration::from_secs(6 * 3600)));
        assert_eq!(real.retry_delay(6), None);
        let fast = WebhookConfig {
            time_scale: 600,
            ..real
        };
        assert_eq!(fast.retry_delay(1), Some(Duration::from_millis(100)));
        assert_eq!(fast.retry_delay(4), Some(Duration::from_secs(6)));
        assert_eq!(fast.retry_delay(6), None);
    }

    #[test]
    fn urls_are_checked() {
        for ok in [
            "http://127.0.0.1:8000/hook",
            "http://localhost/h?x=1",
            "https://[::1]:9/h",
        ] {
            check_url(ok, false).unwrap();
        }
        for (bad, why) in [
            ("http://example.com/h", "not a loopback"),
            ("http://10.0.0.1/h", "not a loopback"),
            ("ftp://127.0.0.1/h", "scheme"),
            ("not a url", "not a URL"),
            ("", "without surrounding spaces"),
            (" http://127.0.0.1/h", "without surrounding spaces"),
            ("http://u:p@127.0.0.1/h", "credentials"),
        ] {
            let err = check_url(bad, false).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
        check_url("https://example.com/h", true).unwrap();
        assert!(check_url(&format!("http://127.0.0.1/{}", "a".repeat(3000)), true).is_err());
    }

    #[test]
    fn secrets_and_hints() {
        let s = new_secret();
        assert!(s.starts_with("whsec_") && s.len() == 38);
        assert_ne!(s, new_secret());
        let hint = secret_hint(&s);
        assert!(hint.ends_with(&s[s.len() - 4..]));
        assert!(!hint.contains(&s[6..30]));
    }

    #[test]
    fn job_bodies_follow_the_contract() {
        let result = RawValue::from_string(
            r#"{"choices":[{"message":{"content":"hi"}}],"usage":{"total_tokens":3}}"#.into(),
        )
        .unwrap();
        let body = job_body(&job(), JobStatus::Succeeded, Some(&result), None, 42);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["event"], "job.completed");
        assert_eq!(v["ts"], 42);
        assert_eq!(v["job_id"], "job_1");
        assert_eq!(v["context"]["order"], 7);
        assert_eq!(v["data"]["status"], "succeeded");
        assert_eq!(
            v["data"]["output"]["choices"][0]["message"]["content"],
            "hi"
        );
        assert_eq!(v["data"]["usage"]["total_tokens"], 3);
        assert!(v["data"]["error"].is_null());

        let binary =
            RawValue::from_string(r#"{"binary_b64":"aGk=","content_type":"audio/wav"}"#.into())
                .unwrap();
        let v: Value = serde_json::from_slice(&job_body(
            &job(),
            JobStatus::Succeeded,
            Some(&binary),
            None,
            1,
        ))
        .unwrap();
        assert_eq!(v["data"]["binary_b64"], "aGk=");
        assert_eq!(v["data"]["content_type"], "audio/wav");
        assert!(v["data"].get("output").is_none());

        let err = serde_json::json!({"code": "engine_error", "message": "boom"});
        let v: Value =
            serde_json::from_slice(&job_body(&job(), JobStatus::Failed, None, Some(&err), 1))
                .unwrap();
        assert_eq!(v["event"], "job.failed");
        assert_eq!(v["data"]["status"], "failed");
        assert_eq!(v["data"]["error"]["code"], "engine_error");
    }
}
