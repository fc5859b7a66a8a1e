//! The data plane (CONTRACT.md §5): `/endpoint/{project}/{workload}/...` with `ik_live_`
//! keys. Requests are checked (plane, project, scope, task type) and then streamed to a ready
//! replica and back without buffering, so SSE frames pass through as the engine writes them.
//!
//! The happy path touches no database: keys come from the auth cache and workloads from the
//! runtime registry.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, Method, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Extension, Router};
use http_body_util::Limited;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use inferencekey_core::slug::canonical_slug;
use inferencekey_core::token::TokenKind;

use crate::api::errors::ApiError;
use crate::runtime::WorkloadEntry;
use crate::server::RequestId;
use crate::state::App;

/// Request body limit on the data plane (audio and images are large).
pub const ENDPOINT_BODY_LIMIT: usize = 32 << 20;

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
        Err(e) => {
            // Most errors are answered before the request body is read; hyper then closes
            // the connection, and a client reusing it would race that close. Saying so lets
            // it open a fresh one instead.
            let mut resp = e.into_response();
            resp.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
            resp
        }
    }
}

/// Checks the key against the path and finds the workload.
fn authorize(
    app: &App,
    headers: &HeaderMap,
    project: &str,
    workload: &str,
) -> Result<(Arc<WorkloadEntry>, String), ApiError> {
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
    let entry = app.runtime.lookup(&project, &workload).ok_or_else(|| {
        ApiError::not_found(format!("no workload {workload:?} in project {project:?}"))
    })?;
    Ok((entry, who.token_id.clone()))
}

async fn serve(
    app: App,
    request_id: RequestId,
    path: Result<Path<(String, String, String)>, PathRejection>,
    method: Method,
    uri: Uri,
    mut headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let Path((project, workload, rest)) = path?;
    let (entry, token_id) = authorize(&app, &headers, &project, &workload)?;
    // Routing looks at the decoded path; the engine gets the raw one, once it is known not to
    // leave the route.
    let raw_rest = crate::gateway_guard::raw_rest(uri.path()).unwrap_or(&rest);
    crate::gateway_guard::check_rest(raw_rest)?;
    let raw_rest = raw_rest.to_string();

    let jobs_route = rest == "jobs" || rest.starts_with("jobs/");
    if jobs_route {
        return jobs(&app, &entry, &token_id, &method, &rest, body).await;
    }
    let sync_route = rest.starts_with("v1/") || rest == "forecast";
    if !sync_route {
        return Err(ApiError::not_found(format!(
            "no data-plane route /{rest}; routes are /v1/..., /forecast and /jobs"
        )));
    }
    check_task_route(&entry, &rest)?;

    let admitted = crate::admission::admit(&app, &entry).await?;
    let base = admitted.lease.url().to_string();
    if entry.custom_runtime() {
        let forecast = rest == "forecast";
        let resp =
            custom_process(&app, &base, forecast, &method, &headers, body, &request_id).await?;
        return Ok(crate::admission::hold(resp, admitted));
    }
    let body = match entry.ollama_model() {
        Some(model) => match crate::gateway_guard::ollama(&rest, &model, body, ENDPOINT_BODY_LIMIT)
            .await?
        {
            crate::gateway_guard::OllamaPlan::Answer(v) => return Ok(axum::Json(v).into_response()),
            crate::gateway_guard::OllamaPlan::Forward(body) => {
                // The body was rewritten: its length is the new body's.
                headers.remove(axum::http::header::CONTENT_LENGTH);
                body
            }
        },
        None => body,
    };
    let resp = forward(
        &app, &base, &raw_rest, method, &uri, headers, body, request_id,
    )
    .await?;
    Ok(crate::admission::hold(resp, admitted))
}

/// A data-plane call to a custom backend (docs/contract.md §7): the route's body becomes the
/// input of one job on the runtime's `/process`, and its `output` the answer; `/forecast`
/// goes to the runtime's `/forecast` as it is (the §5 body and answer). The runtime's 400 is
/// the caller's (`validation_failed`, its text kept); a 500 (the tenant's code failed) or 503
/// is `503 backend_unavailable`; its 501 (no `forecast()`) is a 400 naming the fix.
async fn custom_process(
    app: &App,
    base: &str,
    forecast: bool,
    method: &Method,
    headers: &HeaderMap,
    body: Body,
    request_id: &RequestId,
) -> Result<Response, ApiError> {
    if method != Method::POST {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("a custom backend workload takes POST with a JSON body, not {method}"),
        ));
    }
    let limit = crate::custom_backends::MAX_JOB_BYTES;
    let bytes = read_body(body, limit).await?;
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream");
    let id = request_id.0.to_str().unwrap_or("request").to_string();
    let (route, job) = if forecast {
        ("forecast", bytes.to_vec())
    } else {
        (
            "process",
            crate::custom_backends::process_body(&id, content_type, &bytes),
        )
    };
    let sent = app
        .http
        .post(format!("{base}/{route}"))
        .header(axum::http::header::CONTENT_TYPE, "application/json")
        .body(job)
        .send()
        .await
        .map_err(|e| {
            backend_unavailable(format!(
                "the custom backend could not be reached ({}); it may be restarting, retry shortly",
                e.without_url()
            ))
        })?;
    let status = sent.status();
    let answer = sent.bytes().await.map_err(|e| {
        backend_unavailable(format!(
            "the custom backend broke off its answer ({})",
            e.without_url()
        ))
    })?;
    if status.is_success() && forecast {
        return Ok((
            [(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            )],
            answer,
        )
            .into_response());
    }
    if status.is_success() {
        let output = crate::custom_backends::output_of(&answer).ok_or_else(|| {
            backend_unavailable("the custom backend answered 200 without an `output`".into())
        })?;
        return Ok((
            [(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            )],
            output,
        )
            .into_response());
    }
    let text = inferencekey_core::token::scrub(&crate::custom_backends::error_text(&answer));
    Err(match status.as_u16() {
        400 | 422 => ApiError::validation("input", text),
        413 => ApiError::payload_too_large(limit),
        // The backend has no `forecast()`: the caller chose a route it does not serve.
        501 => ApiError::bad_request(format!(
            "{text}; call its other routes (they reach process()), or publish a version that \
             overrides forecast()"
        )),
        500..=599 => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "backend_unavailable",
            format!("the custom backend failed: {text}"),
        ),
        _ => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "backend_unavailable",
            format!("the custom backend answered {status}: {text}"),
        ),
    })
}

/// Refuses a synchronous route the workload's task type does not serve, naming the routes
/// that do (docs/contract.md §5): async-only task types answer `/jobs`, `/v1/models` and
/// their own
/// [`inferencekey_core::enums::TaskType::sync_routes`] (a reranker's `/v1/rerank`).
fn check_task_route(entry: &WorkloadEntry, rest: &str) -> Result<(), ApiError> {
    let task = entry.task_type();
    let Some(open) = task.sync_routes() else {
        return Ok(());
    };
    if rest == "v1/models" || open.contains(&rest) {
        return Ok(());
    }
    let base = format!("/endpoint/{}/{}", entry.project_slug, entry.slug);
    let sync = open
        .iter()
        .map(|r| format!("POST {base}/{r}"))
        .collect::<Vec<_>>();
    let instead = if sync.is_empty() {
        format!("submit a job with POST {base}/jobs instead")
    } else {
        format!(
            "call {} or submit a job with POST {base}/jobs instead",
            sync.join(" or ")
        )
    };
    Err(ApiError::validation(
        "task_type",
        format!(
            "workload {:?} has task_type {task}, which is async-only: it has no synchronous \
             /{rest} route; {instead}",
            entry.slug
        ),
    ))
}

fn backend_unavailable(message: String) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "backend_unavailable",
        message,
    )
    .with_retry_after(1)
}

/// The gateway's client: hyper's pooled HTTP/1 client. It takes axum's request body and
/// returns hyper's response body as they are, so frames pass through with no adaptation
/// layer (reqwest, used elsewhere, re-wraps both ends as streams on every request).
pub type EngineClient = Client<HttpConnector, Body>;

pub fn engine_client() -> EngineClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(Duration::from_secs(5)));
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(256)
        .build(connector)
}

/// True when `err` (or what caused it) is the request body going over the limit.
fn over_limit(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(err);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
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
    if body
        .size_hint()
        .exact()
        .is_some_and(|n| n > ENDPOINT_BODY_LIMIT as u64)
    {
        return Err(ApiError::payload_too_large(ENDPOINT_BODY_LIMIT));
    }
    let mut url = String::with_capacity(base.len() + rest.len() + 64);
    url.push_str(base);
    url.push('/');
    url.push_str(rest);
    if let Some(q) = uri.query() {
        url.push('?');
        url.push_str(q);
    }
    let target: Uri = url
        .parse()
        .map_err(|_| ApiError::bad_request(format!("invalid path /{rest}")))?;
    let mut req = Request::builder()
        .method(method)
        .uri(target)
        .body(Body::new(Limited::new(body, ENDPOINT_BODY_LIMIT)))
        .map_err(|e| ApiError::internal(format!("could not build the engine request: {e}")))?;
    let out = req.headers_mut();
    out.reserve(headers.len() + 1);
    for (name, value) in &headers {
        if !hop_header(name) {
            out.append(name.clone(), value.clone());
        }
    }
    out.insert("x-request-id", request_id.0);

    let mut resp = match app.engine.request(req).await {
        Ok(r) => r,
        Err(e) if over_limit(&e) => return Err(ApiError::payload_too_large(ENDPOINT_BODY_LIMIT)),
        Err(e) => {
            let why = if e.is_connect() {
                "could not be reached"
            } else {
                "broke off the exchange"
            };
            return Err(backend_unavailable(format!(
                "the model server {why}; it may be restarting, retry shortly"
            )));
        }
    };
    if !resp.status().is_success() {
        return Err(engine_error(resp).await);
    }
    // Most engine answers carry no hop header but `connection`/`transfer-encoding`: look
    // first, and collect (an allocation) only what is there.
    if resp.headers().keys().any(hop_header) {
        let hop: Vec<HeaderName> = resp
            .headers()
            .keys()
            .filter(|n| hop_header(n))
            .cloned()
            .collect();
        for name in hop {
            resp.headers_mut().remove(name);
        }
    }
    Ok(resp.map(Body::new))
}

/// The most of an engine's error body the gateway reads to map it.
const ENGINE_ERROR_LIMIT: usize = 64 << 10;

/// The status and documented code (docs/contract.md §2) an engine's non-2xx status becomes.
/// The status is kept wherever it means the same to the caller, so the SDK classifies and
/// retries it as it would have; what is about the Manager's own hop to the engine (the
/// engine refusing the Manager's credentials, a redirect to the engine's loopback address)
/// is the engine failing: 502 `backend_unavailable`.
fn engine_status(status: StatusCode) -> (StatusCode, &'static str) {
    match status.as_u16() {
        404 => (status, "not_found"),
        405 => (status, "method_not_allowed"),
        408 => (status, "request_timeout"),
        413 => (status, "payload_too_large"),
        429 => (status, "rate_limited"),
        401 | 403 | 407 => (StatusCode::BAD_GATEWAY, "backend_unavailable"),
        400..=499 => (status, "validation_failed"),
        500..=599 => (status, "backend_unavailable"),
        _ => (StatusCode::BAD_GATEWAY, "backend_unavailable"),
    }
}

/// An engine's non-2xx answer in the documented error body: the engine's message and field
/// (OpenAI's `param`) kept, read with the same parser the SDK uses for every error form;
/// `Retry-After` kept when the engine sent one in seconds.
async fn engine_error(resp: axum::http::Response<hyper::body::Incoming>) -> ApiError {
    let engine = resp.status();
    let retry_after = resp
        .headers()
        .get(axum::http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let bytes = axum::body::to_bytes(Body::new(resp.into_body()), ENGINE_ERROR_LIMIT)
        .await
        .unwrap_or_default();
    let parsed = inferencekey_core::wire::error_from_response(engine.as_u16(), &bytes, None);
    let (status, code) = engine_status(engine);
    let message = if engine.is_client_error() && status == engine {
        parsed.message.clone()
    } else if engine.is_server_error() {
        format!("the model server failed ({engine}): {}", parsed.message)
    } else {
        format!(
            "the model server answered {engine}, which the Manager cannot pass on: {}",
            parsed.message
        )
    };
    let mut err = ApiError::new(status, code, message);
    err.field = parsed.field.clone();
    err.retry_after = retry_after;
    err
}

/// `POST /jobs` and `GET /jobs/{id}` for this workload.
async fn jobs(
    app: &App,
    entry: &WorkloadEntry,
    token_id: &str,
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
            let bytes = read_body(body, crate::jobs::JOB_BODY_LIMIT).await?;
            let id = app.jobs.submit(&project.id, &entry.id, token_id, &bytes)?;
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

/// Reads a whole body, answering 413 past `limit`.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    if body.size_hint().exact().is_some_and(|n| n > limit as u64) {
        return Err(ApiError::payload_too_large(limit));
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        if over_limit(&e) {
            ApiError::payload_too_large(limit)
        } else {
            ApiError::bad_request(format!("could not read the request body: {e}"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_statuses_map_to_documented_codes() {
        let code = |n: u16| {
            let (status, code) = engine_status(StatusCode::from_u16(n).unwrap());
            (status.as_u16(), code)
        };
        assert_eq!(code(400), (400, "validation_failed"));
        assert_eq!(code(422), (422, "validation_failed"));
        assert_eq!(code(404), (404, "not_found"));
        assert_eq!(code(413), (413, "payload_too_large"));
        assert_eq!(code(429), (429, "rate_limited"));
        assert_eq!(code(500), (500, "backend_unavailable"));
        assert_eq!(code(503), (503, "backend_unavailable"));
        // About the Manager's hop, not the caller's request.
        assert_eq!(code(401), (502, "backend_unavailable"));
        assert_eq!(code(302), (502, "backend_unavailable"));
    }
}
