//! The control-plane client: `ensure()` and the workload routes of docs/contract.md §3, with the
//! `ensure()` semantics of §4.

use std::time::Duration;

use reqwest::Method;
use tokio::time::Instant;

use crate::client::config::{
    check_token, resolve, resolve_base_url, ENV_PROJECT, ENV_SDK_TOKEN, ENV_TENANT,
};
pub use crate::domain::ensure::EnsureAction;
use crate::domain::ensure::{decide, EnsureStep};
use crate::domain::enums::OnDrift;
use crate::domain::error::{Error, ErrorKind};
use crate::domain::plan::Plan;
use crate::domain::slug::validate_slug;
use crate::domain::spec::WorkloadSpec;
use crate::domain::token::TokenKind;
use crate::domain::webhook::{WebhookDestination, WebhookDestinationRequest, WebhookTestResult};
use crate::domain::wire::{decode_workload, decode_workload_list, ReadinessEvent, Workload};
use crate::transport::sse::{SseDecoder, SseEvent};
use crate::transport::{build_http, encode_segment, map_body_error, Request, Transport};
use crate::transport::{CallOptions, ClientOptions};

/// The handle `ensure()` returns: which workload to talk to, and what happened.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EndpointRef {
    pub project_slug: String,
    pub workload_slug: String,
    /// `None` only for `would_create`.
    pub workload_id: Option<String>,
    pub action: EnsureAction,
    pub plan: Plan,
    /// The workload as the server last answered (absent for `would_create`).
    pub workload: Option<Workload>,
    /// For `OnDrift::Warn` with drift: the warning, already logged once by the core (target
    /// `inferencekey`); bindings show this text rather than composing their own.
    pub warning: Option<String>,
}

/// How `ManagementClient` is built; every field falls back to the environment.
#[derive(Debug, Clone, Default)]
pub struct ManagementConfig {
    pub project: Option<String>,
    pub base_url: Option<String>,
    pub sdk_token: Option<String>,
    pub options: ClientOptions,
}

/// The control-plane client for one project (`ik_sdk_` token).
///
/// ```no_run
/// use inferencekey_core::{
///     Backend, CallOptions, ManagementClient, ManagementConfig, OnDrift, WorkloadSpec,
/// };
///
/// # async fn run() -> Result<(), inferencekey_core::Error> {
/// // Project, base URL and token fall back to INFERENCEKEY_PROJECT, _BASE_URL, _SDK_TOKEN.
/// let mgmt = ManagementClient::new(ManagementConfig {
///     project: Some("acme".into()),
///     ..Default::default()
/// })?;
/// let spec = WorkloadSpec {
///     name: "support-bot".into(),
///     slug: "support-bot".into(),
///     model: "meta-llama/Llama-3.1-8B-Instruct".into(),
///     backend: Some(Backend::Vllm),
///     command: Some("vllm serve meta-llama/Llama-3.1-8B-Instruct".into()),
///     ..Default::default()
/// };
/// let r = mgmt
///     .ensure(&spec, OnDrift::Reconcile, None, &CallOptions::default())
///     .await?;
/// println!("{}/{}: {}", r.project_slug, r.workload_slug, r.action.as_str());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ManagementClient {
    transport: Transport,
    project: Option<String>,
}

impl ManagementClient {
    /// Builds a client; a missing token or a data-plane token fails here, before any request.
    pub fn new(config: ManagementConfig) -> Result<Self, Error> {
        let base_url = resolve_base_url(config.base_url.as_deref())?;
        let raw = resolve(config.sdk_token.as_deref(), ENV_SDK_TOKEN).ok_or_else(|| {
            Error::configuration(format!(
                "no control token: pass sdk_token=\"ik_sdk_…\" or set {ENV_SDK_TOKEN} (`inferencekey init --project NAME` prints it for a local Manager)"
            ))
            .with_field("sdk_token")
        })?;
        let token = check_token(&raw, TokenKind::Sdk, "sdk_token")?;
        let project = match resolve(config.project.as_deref(), ENV_PROJECT) {
            Some(p) => Some(validate_slug(&p, "project").map_err(|e| Error::validation(vec![e]))?),
            None => None,
        };
        let http = build_http(&config.options)?;
        Ok(ManagementClient {
            transport: Transport::new(http, base_url, token, config.options)?,
            project,
        })
    }

    pub fn base_url(&self) -> &str {
        self.transport.base_url()
    }

    pub fn project(&self) -> Option<&str> {
        self.project.as_deref()
    }

    /// The project for a call: the call's argument, else the client's (explicit or env),
    /// else the spec's; canonicalised.
    fn project_for(
        &self,
        explicit: Option<&str>,
        spec: Option<&WorkloadSpec>,
    ) -> Result<String, Error> {
        let chosen = explicit
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .or_else(|| self.project.clone())
            .or_else(|| spec.and_then(|s| s.project.clone()));
        match chosen {
            Some(p) => validate_slug(&p, "project").map_err(|e| Error::validation(vec![e])),
            None => Err(Error::configuration(format!(
                "no project: pass project=\"acme\" or set {ENV_PROJECT}"
            ))
            .with_field("project")),
        }
    }

    fn slug(raw: &str) -> Result<String, Error> {
        validate_slug(raw, "slug").map_err(|e| Error::validation(vec![e]))
    }

    async fn find(
        &self,
        project: &str,
        slug: &str,
        call: &CallOptions,
    ) -> Result<Option<Workload>, Error> {
        let path = format!(
            "/api/projects/{}/workloads?slug={}",
            encode_segment(project),
            encode_segment(slug)
        );
        let resp = self
            .transport
            .send(&Request::new(Method::GET, path), call)
            .await?;
        // The hosted platform may ignore `?slug=`: filter here as well.
        Ok(decode_workload_list(&resp.body)?
            .into_iter()
            .find(|w| w.slug().map(crate::domain::slug::canonical_slug).as_deref() == Some(slug)))
    }

    /// The workload with this slug; `NotFound` when there is none.
    pub async fn get(
        &self,
        slug: &str,
        project: Option<&str>,
        call: &CallOptions,
    ) -> Result<Workload, Error> {
        let project = self.project_for(project, None)?;
        let slug = Self::slug(slug)?;
        self.find(&project, &slug, call).await?.ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!("workload {slug:?} does not exist in project {project:?}"),
            )
            .with_code("not_found")
            .with_status(404)
        })
    }

    pub async fn list(
        &self,
        project: Option<&str>,
        call: &CallOptions,
    ) -> Result<Vec<Workload>, Error> {
        let project = self.project_for(project, None)?;
        let path = format!("/api/projects/{}/workloads", encode_segment(&project));
        let resp = self
            .transport
            .send(&Request::new(Method::GET, path), call)
            .await?;
        decode_workload_list(&resp.body)
    }

    /// Deletes the workload. A retry that finds it already gone counts as success.
    pub async fn delete(
        &self,
        slug: &str,
        project: Option<&str>,
        call: &CallOptions,
    ) -> Result<(), Error> {
        let w = self.get(slug, project, call).await?;
        let id =
            w.id.ok_or_else(|| Error::protocol("the server's workload has no id"))?;
        let req = Request::new(
            Method::DELETE,
            format!("/api/workloads/{}", encode_segment(&id)),
        );
        match self.transport.send(&req, call).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `/api/projects/{project}/workloads/{slug}/webhook`, plus `suffix`.
    fn webhook_path(
        &self,
        slug: &str,
        project: Option<&str>,
        suffix: &str,
    ) -> Result<String, Error> {
        let project = self.project_for(project, None)?;
        let slug = Self::slug(slug)?;
        Ok(format!(
            "/api/projects/{}/workloads/{}/webhook{suffix}",
            encode_segment(&project),
            encode_segment(&slug)
        ))
    }

    /// Sets where the workload's job results are delivered (docs/contract.md §6). The
    /// answer that makes a signing secret (the first, or one with `rotate_secret`) is the only
    /// one that carries it: keep it then.
    pub async fn set_webhook(
        &self,
        slug: &str,
        req: &WebhookDestinationRequest,
        project: Option<&str>,
        call: &CallOptions,
    ) -> Result<WebhookDestination, Error> {
        let path = self.webhook_path(slug, project, "")?;
        let resp = self
            .transport
            .send(&Request::new(Method::PUT, path).json(req)?, call)
            .await?;
        decode_answer(&resp.body, "webhook")
    }

    /// The workload's webhook destination (its secret redacted); `NotFound` when none is set.
    pub async fn get_webhook(
        &self,
        slug: &str,
        project: Option<&str>,
        call: &CallOptions,
    ) -> Result<WebhookDestination, Error> {
        let path = self.webhook_path(slug, project, "")?;
        let resp = self
            .transport
            .send(&Request::new(Method::GET, path), call)
            .await?;
        decode_answer(&resp.body, "webhook")
    }

    /// Removes the workload's webhook; its pending deliveries then fail (nothing signs them).
    pub async fn delete_webhook(
        &self,
        slug: &str,
        project: Option<&str>,
        call: &CallOptions,
    ) -> Result<(), Error> {
        let path = self.webhook_path(slug, project, "")?;
        self.transport
            .send(&Request::new(Method::DELETE, path), call)
            .await?;
        Ok(())
    }

    /// Sends one signed `ping` to the workload's webhook now and says how the receiver
    /// answered.
    pub async fn test_webhook(
        &self,
        slug: &str,
        project: Option<&str>,
        call: &CallOptions,
    ) -> Result<WebhookTestResult, Error> {
        let path = self.webhook_path(slug, project, "/test")?;
        let resp = self
            .transport
            .send(&Request::new(Method::POST, path), call)
            .await?;
        decode_answer(&resp.body, "webhook test")
    }

    /// The tenant of a custom-backend call: the argument, else `INFERENCEKEY_TENANT`, else the
    /// local Manager's one tenant.
    fn tenant_for(explicit: Option<&str>) -> Result<String, Error> {
        let t = resolve(explicit, ENV_TENANT)
            .unwrap_or_else(|| crate::domain::custom_backend::LOCAL_TENANT.to_string());
        if t.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            Ok(t)
        } else {
            Err(Error::validation(vec![
                crate::domain::error::FieldError::new(
                    "tenant",
                    format!("{t:?} is not a tenant id (letters, digits, '_' and '-')"),
                ),
            ]))
        }
    }

    /// Publishes a custom backend package (docs/contract.md §7): `archive` is the `.tar.gz`
    /// whose `manifest.json` is `manifest`; the text parts are the manifest's, so the server
    /// can refuse a mismatch without unpacking first.
    pub async fn publish_backend(
        &self,
        archive: &[u8],
        manifest: &crate::domain::custom_backend::BackendManifest,
        tenant: Option<&str>,
        call: &CallOptions,
    ) -> Result<crate::domain::custom_backend::PublishedBackend, Error> {
        let tenant = Self::tenant_for(tenant)?;
        let path = format!("/api/tenants/{}/custom-backends", encode_segment(&tenant));
        let body = crate::transport::Body::multipart(
            &[
                ("name", &manifest.name),
                ("slug", &manifest.slug),
                ("version", &manifest.version),
                ("task_type", manifest.task_type.as_str()),
                ("entrypoint", &manifest.entrypoint),
            ],
            crate::transport::FilePart {
                name: "file",
                filename: "backend.tar.gz",
                content_type: "application/gzip",
                bytes: archive,
            },
        );
        let mut req = Request::new(Method::POST, path);
        req.body = Some(body);
        let resp = self.transport.send(&req, call).await?;
        decode_answer(&resp.body, "custom backend")
    }

    /// The tenant's published custom backends, newest first.
    pub async fn list_backends(
        &self,
        tenant: Option<&str>,
        call: &CallOptions,
    ) -> Result<Vec<crate::domain::custom_backend::PublishedBackend>, Error> {
        let tenant = Self::tenant_for(tenant)?;
        let path = format!("/api/tenants/{}/custom-backends", encode_segment(&tenant));
        let resp = self
            .transport
            .send(&Request::new(Method::GET, path), call)
            .await?;
        decode_answer(&resp.body, "custom backend list")
    }

    /// Makes the platform match `spec` (docs/contract.md §4): one lookup, then create, patch or
    /// nothing, per `on_drift`.
    pub async fn ensure(
        &self,
        spec: &WorkloadSpec,
        on_drift: OnDrift,
        project: Option<&str>,
        call: &CallOptions,
    ) -> Result<EndpointRef, Error> {
        spec.validate()?;
        let project = self.project_for(project, Some(spec))?;
        let slug = spec.canonical_slug();
        let reference = |action, plan, workload: Option<Workload>, warning| EndpointRef {
            project_slug: workload
                .as_ref()
                .and_then(|w| w.project_slug.clone())
                .unwrap_or_else(|| project.clone()),
            workload_slug: slug.clone(),
            workload_id: workload.as_ref().and_then(|w| w.id.clone()),
            action,
            plan,
            workload,
            warning,
        };
        let mut live = self.find(&project, &slug, call).await?;
        let mut step = decide(spec, live.as_ref(), on_drift);
        if let EnsureStep::Create = step {
            match self.create(&project, spec, call).await? {
                Created::New(w) => {
                    return Ok(reference(
                        EnsureAction::Created,
                        Plan::new(),
                        Some(*w),
                        None,
                    ))
                }
                // Someone created it between our lookup and our create: converge on theirs.
                Created::Conflict => {
                    live = Some(self.find(&project, &slug, call).await?.ok_or_else(|| {
                        Error::protocol(format!(
                            "create of {slug:?} conflicted, but the workload cannot be found"
                        ))
                    })?);
                    step = decide(spec, live.as_ref(), on_drift);
                }
            }
        }
        match step {
            EnsureStep::Create => Err(Error::protocol(format!(
                "workload {slug:?} was created but cannot be found"
            ))),
            EnsureStep::Done {
                action,
                plan,
                warning,
            } => {
                if let Some(text) = &warning {
                    tracing::warn!(target: "inferencekey", "{text}");
                }
                Ok(reference(action, plan, live, warning))
            }
            EnsureStep::Fail(err) => Err(err),
            EnsureStep::Patch { plan, body } => {
                let id = live
                    .and_then(|w| w.id)
                    .ok_or_else(|| Error::protocol("the server's workload has no id"))?;
                let req = Request::new(
                    Method::PATCH,
                    format!("/api/workloads/{}", encode_segment(&id)),
                )
                .json(&body)?;
                let resp = self.transport.send(&req, call).await?;
                let updated = decode_workload(&resp.body)?;
                Ok(reference(EnsureAction::Updated, plan, Some(updated), None))
            }
        }
    }

    async fn create(
        &self,
        project: &str,
        spec: &WorkloadSpec,
        call: &CallOptions,
    ) -> Result<Created, Error> {
        let mut req = Request::new(
            Method::POST,
            format!("/api/projects/{}/workloads", encode_segment(project)),
        )
        .json(&spec.create_body())?;
        // The key makes the create safe to retry: a replay returns the first answer.
        req.idempotency_key = Some(uuid::Uuid::new_v4().to_string());
        match self.transport.send(&req, call).await {
            Ok(resp) => Ok(Created::New(Box::new(decode_workload(&resp.body)?))),
            Err(e)
                if e.kind == ErrorKind::Conflict && e.code.as_deref() == Some("slug_conflict") =>
            {
                Ok(Created::Conflict)
            }
            Err(e) => Err(e),
        }
    }

    /// Opens the readiness stream of a workload.
    pub async fn readiness_events(
        &self,
        slug: &str,
        project: Option<&str>,
        call: &CallOptions,
    ) -> Result<ReadinessStream, Error> {
        let project = self.project_for(project, None)?;
        let slug = Self::slug(slug)?;
        let mut req = Request::new(
            Method::GET,
            format!(
                "/api/projects/{}/workloads/{}/readiness-events",
                encode_segment(&project),
                encode_segment(&slug)
            ),
        );
        req.accept = "text/event-stream";
        let (resp, timeouts, _) = self.transport.open_stream(&req, call).await?;
        Ok(ReadinessStream {
            resp,
            decoder: SseDecoder::new(),
            pending: Vec::new(),
            idle: timeouts.read,
            finished: false,
        })
    }

    /// Waits until the workload is `ready`, following the readiness stream and reconnecting
    /// (capped backoff) when it drops. `on_event` sees every event (progress display).
    /// Fails with `Timeout` after `timeout`, or with a `Server` error on phase `error`.
    pub async fn wait_until_ready(
        &self,
        slug: &str,
        project: Option<&str>,
        timeout: Duration,
        mut on_event: impl FnMut(&ReadinessEvent),
    ) -> Result<ReadinessEvent, Error> {
        let deadline = Instant::now() + timeout;
        let mut backoff = Duration::from_millis(100);
        let mut last: Option<ReadinessEvent> = None;
        let fut = async {
            loop {
                let call = CallOptions::default();
                match self.readiness_events(slug, project, &call).await {
                    Ok(mut stream) => {
                        loop {
                            match stream.next_event().await {
                                Ok(Some(ev)) => {
                                    on_event(&ev);
                                    last = Some(ev.clone());
                                    if ev.phase == "ready" {
                                        return Ok(ev);
                                    }
                                    if ev.phase == "error" {
                                        return Err(Error::new(
                                            ErrorKind::Server,
                                            format!(
                                                "workload {slug:?} failed to start: {}",
                                                ev.message
                                            ),
                                        )
                                        .with_code("workload_error"));
                                    }
                                }
                                Ok(None) => break,
                                Err(e)
                                    if e.kind == ErrorKind::Timeout
                                        || e.kind == ErrorKind::Connection
                                        || e.kind == ErrorKind::Protocol =>
                                {
                                    break
                                }
                                Err(e) => return Err(e),
                            }
                        }
                        backoff = Duration::from_millis(100);
                    }
                    Err(e)
                        if matches!(
                            e.kind,
                            ErrorKind::Connection | ErrorKind::Timeout | ErrorKind::Server
                        ) =>
                    {
                        tracing::debug!(target: "inferencekey", "readiness stream failed, reconnecting: {e}");
                    }
                    Err(e) => return Err(e),
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        };
        match tokio::time::timeout_at(deadline, fut).await {
            Ok(result) => result,
            Err(_) => Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "workload {slug:?} was not ready within {timeout:?}{}",
                    last.map(|e| format!(" (last phase: {}: {})", e.phase, e.message))
                        .unwrap_or_default()
                ),
            )
            .with_code("timeout")),
        }
    }
}

enum Created {
    New(Box<Workload>),
    Conflict,
}

/// A readiness event stream; ends after a `ready` or `error` frame.
pub struct ReadinessStream {
    resp: reqwest::Response,
    decoder: SseDecoder,
    pending: Vec<SseEvent>,
    idle: Duration,
    finished: bool,
}

impl ReadinessStream {
    /// The next event, or `None` when the stream ended.
    pub async fn next_event(&mut self) -> Result<Option<ReadinessEvent>, Error> {
        loop {
            if !self.pending.is_empty() {
                let ev = self.pending.remove(0);
                let parsed: ReadinessEvent = serde_json::from_str(&ev.data)
                    .map_err(|e| Error::protocol(format!("undecodable readiness event: {e}")))?;
                if parsed.is_terminal() {
                    self.finished = true;
                    self.pending.clear();
                }
                return Ok(Some(parsed));
            }
            if self.finished {
                return Ok(None);
            }
            match tokio::time::timeout(self.idle, self.resp.chunk()).await {
                Ok(Ok(Some(chunk))) => self.decoder.push(&chunk, &mut self.pending)?,
                Ok(Ok(None)) => {
                    self.decoder.finish(&mut self.pending)?;
                    self.finished = true;
                }
                Ok(Err(e)) => return Err(map_body_error(e, "readiness-events")),
                Err(_) => {
                    return Err(Error::new(
                        ErrorKind::Timeout,
                        format!("readiness stream idle for {:?}", self.idle),
                    ))
                }
            }
        }
    }
}

fn decode_answer<T: for<'de> serde::Deserialize<'de>>(body: &[u8], what: &str) -> Result<T, Error> {
    serde_json::from_slice(body)
        .map_err(|e| Error::protocol(format!("could not decode the {what} answer: {e}")))
}
