//! The data plane (CONTRACT.md §5): `/endpoint/{project}/{workload}/...` with `ik_live_`
//! keys. Requests are checked (plane, project, scope, task type) and then streamed to a ready
//! replica and back without buffering, so SSE frames pass through as the engine writes them.
//!
//! The happy path touches no database: keys come from the auth cache and workloads from the
//! runtime registry.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Extension, Router};
use futures_util::StreamExt;
use inferencekey_core::slug::canonical_slug;
use inferencekey_core::token::TokenKind;

use crate::api::errors::ApiError;
use crate::api::json_object;
use crate::runtime::{NotReady, WorkloadEntry};
use crate::server::RequestId;
use crate::state::App;

/// Request body limit on the data plane (audio and images are large).
pub const ENDPOINT_BODY_LIMIT: usize = 32 << 20;
/// Bodies up to this size with a known length are forwarded in one piece: hyper then writes
/// headers and body together, which saves a round of syscalls per call. Larger or
/// unknown-length bodies stream through.
const WHOLE_BODY_MAX: u64 = 64 << 10;
/// What a client is told to wait before retrying a workload that is still starting.
const NOT_READY_RETRY_SECS: u64 = 5;

pub fn router() -> Router<App> {
    Router::new().route("/endpoint/{project}/{workload}/{*rest}", any(handle))
}

/// Headers that describe one hop, not the message, plus the caller's key (engines must never
/// see it) and the request id (set by the Manager).
fn hop_header(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "authorization"
            | "x-request-id"
    )
}

async fn handle(
    State(app): State<App>,
    Extension(request_id): Extension<RequestId>,
    path: Result<Path<(String, String, String)>, PathRejection>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match serve(app, request_id, path, method, uri, headers, body).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}

/// Checks the key against the path and finds the workload.
fn authorize(
    app: &App,
    headers: &HeaderMap,
    project: &str,
    workload: &str,
) -> Result<Arc<WorkloadEntry>, ApiError> {
    let who = app.auth.authenticate(headers, TokenKind::Live)?;
    let project = canonical_slug(project);
    let workload = canonical_slug(workload);
    let own = who.project_slug.as_deref().unwrap_or_default();
    if project != own {
        return Err(ApiError::project_scope_mismatch(format!(
            "this key belongs to project {own:?}, not {project:?}"
        )));
    }
    match who.scope.as_deref() {
        Some("*") => {}
        Some(scope) if scope == workload => {}
        scope => {
            return Err(ApiError::scope_insufficient(format!(
                "this key is scoped to workload {:?} and cannot call {workload:?}; use that \
                 workload's key or a project-wide key",
                scope.unwrap_or_default()
            )))
        }
    }
    app.runtime.lookup(&project, &workload).ok_or_else(|| {
        ApiError::not_found(format!("no workload {workload:?} in project {project:?}"))
    })
}

async fn serve(
    app: App,
    request_id: RequestId,
    path: Result<Path<(String, String, String)>, PathRejection>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let Path((project, workload, rest)) = path?;
    let entry = authorize(&app, &headers, &project, &workload)?;

    let jobs_route = rest == "jobs" || rest.starts_with("jobs/");
    if jobs_route {
        return jobs(&app, &entry, &method, &rest, body).await;
    }
    let sync_route = rest.starts_with("v1/") || rest == "forecast";
    if !sync_route {
        return Err(ApiError::not_found(format!(
            "no data-plane route /{rest}; routes are /v1/..., /forecast and /jobs"
        )));
    }
    if entry.is_async_only() && rest != "v1/models" {
        return Err(ApiError::validation(
            "task_type",
            format!(
                "workload {:?} has task_type {}, which is async-only: it has no synchronous \
                 route; submit a job with POST /endpoint/{}/{}/jobs instead",
                entry.slug,
                entry.task_type(),
                entry.project_slug,
                entry.slug
            ),
        ));
    }

    let base = match entry.wait_ready(app.config.cold_start_timeout).await {
        Ok(url) => url,
        Err(NotReady::Timeout { phase, message }) => {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "workload_not_ready",
                format!(
                    "workload {:?} has no ready replica after waiting {}s (phase {phase}: \
                     {message}); retry later",
                    entry.slug,
                    app.config.cold_start_timeout.as_secs()
                ),
            )
            .with_retry_after(NOT_READY_RETRY_SECS))
        }
        Err(NotReady::Failed(message)) => {
            return Err(backend_unavailable(format!(
                "workload {:?} failed to start: {message}",
                entry.slug
            )))
        }
        Err(NotReady::Gone) => {
            return Err(ApiError::not_found(format!(
                "workload {:?} was deleted",
                entry.slug
            )))
        }
    };
    forward(&app, &base, &rest, method, &uri, headers, body, request_id).await
}

fn backend_unavailable(message: String) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "backend_unavailable",
        message,
    )
    .with_retry_after(1)
}

#[allow(clippy::too_many_arguments)]
async fn forward(
    app: &App,
    base: &str,
    rest: &str,
    method: Method,
    uri: &Uri,
    headers: HeaderMap,
    body: Body,
    request_id: RequestId,
) -> Result<Response, ApiError> {
    let mut url = String::with_capacity(base.len() + rest.len() + 64);
    url.push_str(base);
    url.push('/');
    url.push_str(rest);
    if let Some(q) = uri.query() {
        url.push('?');
        url.push_str(q);
    }
    let mut out_headers = HeaderMap::with_capacity(headers.len() + 1);
    for (name, value) in &headers {
        if !hop_header(name) {
            out_headers.append(name.clone(), value.clone());
        }
    }
    out_headers.insert("x-request-id", request_id.0);

    let size = body.size_hint().exact();
    if size.is_some_and(|n| n > ENDPOINT_BODY_LIMIT as u64) {
        return Err(ApiError::payload_too_large(ENDPOINT_BODY_LIMIT));
    }
    let too_large = Arc::new(AtomicBool::new(false));
    let mut req = app.http.request(method, url).headers(out_headers);
    match size {
        Some(0) => {}
        Some(n) if n <= WHOLE_BODY_MAX => {
            let bytes = read_body(body).await?;
            req = req.body(bytes);
        }
        _ => {
            let flag = too_large.clone();
            let mut seen = 0usize;
            let stream = body.into_data_stream().map(move |chunk| {
                let chunk = chunk.map_err(std::io::Error::other)?;
                seen += chunk.len();
                if seen > ENDPOINT_BODY_LIMIT {
                    flag.store(true, Ordering::Relaxed);
                    return Err(std::io::Error::other("request body over the limit"));
                }
                Ok::<Bytes, std::io::Error>(chunk)
            });
            req = req.body(reqwest::Body::wrap_stream(stream));
        }
    }

    let resp = match req.send().await {
        Ok(r) => r,
        Err(_) if too_large.load(Ordering::Relaxed) => {
            return Err(ApiError::payload_too_large(ENDPOINT_BODY_LIMIT))
        }
        Err(e) => {
            return Err(backend_unavailable(format!(
                "the model server did not answer ({}); it may be restarting, retry shortly",
                e.without_url()
            )))
        }
    };
    let mut builder = Response::builder().status(resp.status());
    if let Some(h) = builder.headers_mut() {
        h.reserve(resp.headers().len());
        for (name, value) in resp.headers() {
            if !hop_header(name) {
                h.append(name.clone(), value.clone());
            }
        }
    }
    builder
        .body(Body::from_stream(resp.bytes_stream()))
        .map_err(|e| ApiError::internal(format!("could not build the response: {e}")))
}

/// `POST /jobs` and `GET /jobs/{id}` for this workload.
async fn jobs(
    app: &App,
    entry: &WorkloadEntry,
    method: &Method,
    rest: &str,
    body: Body,
) -> Result<Response, ApiError> {
    let project = app
        .store
        .project_by_slug(&entry.project_slug)?
        .ok_or_else(|| ApiError::not_found("the project was deleted"))?;
    match (method, rest.strip_prefix("jobs").unwrap_or_default()) {
        (&Method::POST, "" | "/") => {
            let bytes = read_body(body).await?;
            let obj = json_object(&bytes)?;
            let id = app.jobs.submit(&project.id, &entry.id, obj)?;
            Ok((
                StatusCode::ACCEPTED,
                axum::Json(serde_json::json!({"job_id": id})),
            )
                .into_response())
        }
        (&Method::GET, id) if id.len() > 1 && !id[1..].contains('/') => {
            let id = &id[1..];
            let job = app
                .store
                .job(id)?
                .filter(|j| j.workload_id == entry.id)
                .ok_or_else(|| {
                    ApiError::not_found(format!("no job {id:?} for workload {:?}", entry.slug))
                })?;
            Ok(axum::Json(crate::jobs::job_json(&job)).into_response())
        }
        _ => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("{method} /{rest} is not a jobs route; use POST /jobs or GET /jobs/{{job_id}}"),
        )),
    }
}

/// Reads a whole body, answering 413 past the data plane's limit.
async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, ENDPOINT_BODY_LIMIT)
        .await
        .map_err(|e| {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
            while let Some(err) = source {
                if err.is::<http_body_util::LengthLimitError>() {
                    return ApiError::payload_too_large(ENDPOINT_BODY_LIMIT);
                }
                source = err.source();
            }
            ApiError::bad_request(format!("could not read the request body: {e}"))
        })
}
