//! The data plane (CONTRACT.md §5): `/endpoint/{project}/{workload}/...` with `ik_live_`
//! keys. Requests are checked (plane, project, scope, task type) and then streamed to a ready
//! replica and back without buffering, so SSE frames pass through as the engine writes them.
//!
//! The happy path touches no database: keys come from the auth cache and workloads from the
//! runtime registry.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, Version};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Extension, Router};
use http_body_util::Limited;
use inferencekey_core::slug::canonical_slug_cow;
use inferencekey_core::token::TokenKind;
use serde::Deserialize;

use crate::api::errors::{ApiError, ApiPath};
use crate::auth::{Identity, LiveAuth};
use crate::request_context::{self, RequestId};
use crate::runtime::WorkloadEntry;
use crate::state::App;
use crate::store::Project;

/// Request body limit on the data plane (audio and images are large).
pub const ENDPOINT_BODY_LIMIT: usize = 32 << 20;

/// The jobs routes have their own handlers; every other path under a workload is forwarded
/// by [`handle`]. Wrong methods on a jobs path answer the jobs routes' own 405 after the key
/// is checked (as every data-plane error), not the router's: `HEAD` too, which axum would
/// otherwise serve with the `GET` handler.
pub fn router() -> Router<App> {
    const JOBS: &str = "/endpoint/{project}/{workload}/jobs";
    Router::new()
        .route(JOBS, post(submit_job).fallback(not_a_jobs_route))
        .route(
            &format!("{JOBS}/"),
            post(submit_job).fallback(not_a_jobs_route),
        )
        .route(
            &format!("{JOBS}/{{job_id}}"),
            get(job_status)
                .head(not_a_jobs_route)
                .fallback(not_a_jobs_route),
        )
        .route(&format!("{JOBS}/{{job_id}}/"), any(not_a_jobs_route))
        .route(
            &format!("{JOBS}/{{job_id}}/{{*more}}"),
            any(not_a_jobs_route),
        )
        .route("/endpoint/{project}/{workload}/{*rest}", any(handle))
        .layer(axum::middleware::map_response(
            |mut resp: Response| async move {
                close_after_error(&mut resp);
                resp
            },
        ))
}

/// Most errors are answered before the request body is read; hyper then closes the
/// connection, and a client reusing it would race that close. Saying so lets it open a fresh
/// one instead. Every data-plane answer that is not a success is the Manager's error (an
/// engine's own error is mapped to one), extractor rejections included.
fn close_after_error(resp: &mut Response) {
    if !resp.status().is_success() {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
}

/// Headers that describe one hop, not the message, plus the caller's key (engines must never
/// see it) and the request id (set by the Manager): never passed on in either direction.
const HOP_HEADERS: [HeaderName; 12] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::HOST,
    header::AUTHORIZATION,
    HeaderName::from_static("x-request-id"),
];

fn hop_header(name: &HeaderName) -> bool {
    HOP_HEADERS.contains(name)
}

/// `project`, `workload` and the rest of a path the gateway serves in front of the router
/// ([`front`]): `/endpoint/{project}/{workload}/v1/…` or `…/forecast`, with no
/// percent-encoding anywhere, so the raw path is the decoded one the router would have
/// matched. Every other path (the jobs routes, encoded paths, malformed ones) goes through
/// the router and [`handle`] as before.
pub fn front_route(path: &str) -> Option<(&str, &str, &str)> {
    let after = path.strip_prefix("/endpoint/")?;
    if after.contains('%') {
        return None;
    }
    let (project, after) = after.split_once('/')?;
    let (workload, rest) = after.split_once('/')?;
    let served = rest.starts_with("v1/") || rest == "forecast";
    (served && !project.is_empty() && !workload.is_empty()).then_some((project, workload, rest))
}

/// A data-plane request on a [`front_route`] path, served without axum's router and
/// middleware stack (its route lookup, extractors and three middleware futures were most of
/// the gateway's own CPU per request). It does exactly what that stack did for the route, in
/// the same order: the request id and access-log line
/// ([`request_context::request_id`]/[`request_context::finish`]), the body deadline
/// ([`crate::body_timeout::with_deadline`]), the key and path checks of [`handle`],
/// `Connection: close` after an error, and the router's own Content-Length/`HEAD`/`CONNECT`
/// handling ([`like_a_route`]).
pub async fn front(app: App, req: hyper::http::Request<hyper::body::Incoming>) -> Response {
    let started = Instant::now();
    let id = request_context::request_id(req.headers());
    let (head, body) = req.into_parts();
    let method = head.method.clone();
    let uri = head.uri.clone();
    let timeout = app.config.body_timeout;
    let (body, tripped) = crate::body_timeout::with_deadline(body, timeout);
    let answer = match front_route(uri.path()) {
        Some((project, workload, rest)) => {
            front_call(
                &app,
                project,
                workload,
                rest,
                head,
                body,
                RequestId(id.clone()),
            )
            .await
        }
        // `Front` sends only front routes here.
        None => Err(ApiError::not_found(format!("no route for {}", uri.path()))),
    };
    let mut resp = answer.unwrap_or_else(IntoResponse::into_response);
    close_after_error(&mut resp);
    like_a_route(&method, &mut resp);
    if tripped.is_some_and(|t| t.load(Ordering::Acquire)) {
        resp = crate::body_timeout::timed_out(timeout);
    }
    request_context::finish(&mut resp, &method, uri.path(), started, id);
    resp
}

async fn front_call(
    app: &App,
    project: &str,
    workload: &str,
    rest: &str,
    head: Parts,
    body: Body,
    request_id: RequestId,
) -> Result<Response, ApiError> {
    let who = app
        .auth
        .authenticate(&head.headers, TokenKind::Live)
        .await?;
    let entry = authorize(app, &who, project, workload)?;
    serve(app.clone(), request_id, entry, rest, head, body).await
}

/// What axum's router does to every answer of a route, done for [`front`]'s: a 2xx to
/// `CONNECT` carries no body or length; every other answer gets a `Content-Length` when its
/// body's length is known, and a `HEAD`'s body is dropped after that.
fn like_a_route(method: &Method, resp: &mut Response) {
    if method == Method::CONNECT && resp.status().is_success() {
        if resp.headers().contains_key(header::CONTENT_LENGTH)
            || resp.headers().contains_key(header::TRANSFER_ENCODING)
            || resp.body().size_hint().lower() != 0
        {
            tracing::error!("response to CONNECT with nonempty body");
            *resp.body_mut() = Body::empty();
        }
        return;
    }
    if !resp.headers().contains_key(header::CONTENT_LENGTH) {
        if let Some(n) = resp.body().size_hint().exact() {
            resp.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(n));
        }
    }
    if method == Method::HEAD {
        *resp.body_mut() = Body::empty();
    }
}

async fn handle(
    State(app): State<App>,
    Extension(request_id): Extension<RequestId>,
    ApiPath((project, workload, rest)): ApiPath<(String, String, String)>,
    LiveAuth(who): LiveAuth,
    req: Request,
) -> Result<Response, ApiError> {
    let entry = authorize(&app, &who, &project, &workload)?;
    let (head, body) = req.into_parts();
    serve(app, request_id, entry, &rest, head, body).await
}

/// Checks the key against the path and finds the workload.
fn authorize(
    app: &App,
    who: &Identity,
    project: &str,
    workload: &str,
) -> Result<Arc<WorkloadEntry>, ApiError> {
    let project = canonical_slug_cow(project);
    let workload = canonical_slug_cow(workload);
    let (project, workload) = (project.as_ref(), workload.as_ref());
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
    let entry = app.runtime.lookup(project, workload).ok_or_else(|| {
        ApiError::not_found(format!("no workload {workload:?} in project {project:?}"))
    })?;
    Ok(entry)
}

/// Serves a data-plane request whose key checked out: `rest` is the decoded path after the
/// workload, `head` the request's own head, passed on to the engine.
async fn serve(
    app: App,
    request_id: RequestId,
    entry: Arc<WorkloadEntry>,
    rest: &str,
    mut head: Parts,
    body: Body,
) -> Result<Response, ApiError> {
    // Routing looks at the decoded path; the engine gets the raw one, once it is known not to
    // leave the route. Kept as its offset in the path, so `head` can be moved on.
    let path = head.uri.path();
    let raw_rest = crate::gateway_guard::raw_rest(path).unwrap_or(rest);
    crate::gateway_guard::check_rest(raw_rest)?;
    let raw_rest = crate::gateway_guard::raw_rest(path).map(|r| path.len() - r.len());

    let sync_route = rest.starts_with("v1/") || rest == "forecast";
    if !sync_route {
        return Err(ApiError::not_found(format!(
            "no data-plane route /{rest}; routes are /v1/..., /forecast and /jobs"
        )));
    }
    check_task_route(&entry, rest)?;

    let admitted = crate::admission::admit(&app, &entry).await?;
    if entry.custom_runtime() {
        let forecast = rest == "forecast";
        let resp = custom_process(
            &app,
            admitted.lease.url(),
            forecast,
            &head.method,
            &head.headers,
            body,
            &request_id,
        )
        .await?;
        return Ok(crate::admission::hold(resp, admitted));
    }
    let body = match entry.ollama_model() {
        Some(model) => match crate::gateway_guard::ollama(rest, &model, body, ENDPOINT_BODY_LIMIT)
            .await?
        {
            crate::gateway_guard::OllamaPlan::Answer(v) => return Ok(axum::Json(v).into_response()),
            crate::gateway_guard::OllamaPlan::Forward(body) => {
                // The body was rewritten: its length is the new body's.
                head.headers.remove(header::CONTENT_LENGTH);
                body
            }
        },
        None => body,
    };
    let target = {
        let path = head.uri.path();
        let raw_rest = raw_rest.map_or(rest, |at| &path[at..]);
        engine_uri(admitted.lease.url(), raw_rest, head.uri.query())?
    };
    forward(&app, target, head, body, request_id, admitted).await
}

/// The engine's URL for the raw rest of the path and the query.
fn engine_uri(base: &str, rest: &str, query: Option<&str>) -> Result<Uri, ApiError> {
    let mut url = String::with_capacity(base.len() + rest.len() + 2 + query.map_or(0, str::len));
    url.push_str(base);
    url.push('/');
    url.push_str(rest);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    // From the `String`: the URI keeps its buffer rather than copying it.
    Uri::try_from(url).map_err(|_| ApiError::bad_request(format!("invalid path /{rest}")))
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

/// Sends the request to the engine: the caller's own head with the engine's URI, HTTP/1.1,
/// the hop headers taken out and the request id put in (rebuilding a head and copying every
/// header was a visible share of the gateway's CPU), the body limited on the way.
async fn forward(
    app: &App,
    target: Uri,
    mut head: Parts,
    body: Body,
    request_id: RequestId,
    admitted: crate::admission::Admitted,
) -> Result<Response, ApiError> {
    if body
        .size_hint()
        .exact()
        .is_some_and(|n| n > ENDPOINT_BODY_LIMIT as u64)
    {
        return Err(ApiError::payload_too_large(ENDPOINT_BODY_LIMIT));
    }
    head.uri = target;
    // The engine connection is HTTP/1.1 whatever the caller spoke (an HTTP/1.0 request
    // would otherwise be forwarded as one, losing keep-alive and chunked answers).
    head.version = Version::HTTP_11;
    head.extensions.clear();
    for name in &HOP_HEADERS {
        head.headers.remove(name);
    }
    head.headers.insert(HOP_HEADERS[11].clone(), request_id.0);
    let req =
        hyper::http::Request::from_parts(head, Body::new(Limited::new(body, ENDPOINT_BODY_LIMIT)));

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
    // first, and remove only what is there.
    if resp.headers().keys().any(hop_header) {
        for name in &HOP_HEADERS {
            resp.headers_mut().remove(name);
        }
    }
    Ok(crate::admission::hold_engine(resp, admitted))
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

/// `{project}` and `{workload}` of a jobs route.
#[derive(Deserialize)]
struct WorkloadPath {
    project: String,
    workload: String,
}

/// `{project}`, `{workload}` and `{job_id}` of `GET …/jobs/{job_id}`.
#[derive(Deserialize)]
struct JobPath {
    project: String,
    workload: String,
    job_id: String,
}

/// What every jobs route checks first, in the order of every data-plane route: the key
/// against the path, the raw path (it must stay inside the route), then the project, which
/// jobs are stored under.
async fn jobs_route(
    app: &App,
    who: &Identity,
    path: &WorkloadPath,
    uri: &Uri,
) -> Result<(Arc<WorkloadEntry>, Project), ApiError> {
    let entry = authorize(app, who, &path.project, &path.workload)?;
    crate::gateway_guard::check_rest(crate::gateway_guard::raw_rest(uri.path()).unwrap_or(""))?;
    let project = app
        .store
        .project_by_slug(&entry.project_slug)
        .await?
        .ok_or_else(|| ApiError::not_found("the project was deleted"))?;
    Ok((entry, project))
}

/// `POST …/jobs`: queues a job (docs/contract.md §5) and answers its id.
async fn submit_job(
    State(app): State<App>,
    ApiPath(path): ApiPath<WorkloadPath>,
    LiveAuth(who): LiveAuth,
    uri: Uri,
    body: Body,
) -> Result<Response, ApiError> {
    let (entry, project) = jobs_route(&app, &who, &path, &uri).await?;
    let bytes = read_body(body, crate::jobs::JOB_BODY_LIMIT).await?;
    let id = app
        .jobs
        .submit(&project.id, &entry.id, &who.token_id, &bytes)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(serde_json::json!({"job_id": id})),
    )
        .into_response())
}

/// `GET …/jobs/{job_id}`: a job of this workload (another workload's is not found).
async fn job_status(
    State(app): State<App>,
    ApiPath(path): ApiPath<JobPath>,
    LiveAuth(who): LiveAuth,
    uri: Uri,
) -> Result<Response, ApiError> {
    let JobPath {
        project,
        workload,
        job_id,
    } = path;
    let (entry, _) = jobs_route(&app, &who, &WorkloadPath { project, workload }, &uri).await?;
    let job = app
        .store
        .job(&job_id)
        .await?
        .filter(|j| j.workload_id == entry.id)
        .ok_or_else(|| {
            ApiError::not_found(format!("no job {job_id:?} for workload {:?}", entry.slug))
        })?;
    Ok(axum::Json(crate::jobs::job_json(&job)).into_response())
}

/// Any other method or shape under `…/jobs`: 405, after the same checks as the jobs routes.
async fn not_a_jobs_route(
    State(app): State<App>,
    ApiPath(path): ApiPath<WorkloadPath>,
    LiveAuth(who): LiveAuth,
    method: Method,
    uri: Uri,
) -> Result<Response, ApiError> {
    jobs_route(&app, &who, &path, &uri).await?;
    let raw = crate::gateway_guard::raw_rest(uri.path()).unwrap_or("");
    let rest = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
    Err(ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} /{rest} is not a jobs route; use POST /jobs or GET /jobs/{{job_id}}"),
    ))
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
    fn only_undecoded_sync_routes_are_served_in_front_of_the_router() {
        assert_eq!(
            front_route("/endpoint/p/w/v1/chat/completions"),
            Some(("p", "w", "v1/chat/completions"))
        );
        assert_eq!(
            front_route("/endpoint/p/w/forecast"),
            Some(("p", "w", "forecast"))
        );
        for routed in [
            "/endpoint/p/w/jobs",
            "/endpoint/p/w/jobs/j1",
            "/endpoint/p/w/forecast/x",
            "/endpoint/p/w/v1",
            "/endpoint/p/w/v2/x",
            "/endpoint/p/w",
            "/endpoint/p//v1/x",
            "/endpoint//w/v1/x",
            "/endpoint/p%2Dq/w/v1/x",
            "/endpoint/p/w/v1/a%20b",
            "/api/projects",
            "/endpointx/p/w/v1/x",
        ] {
            assert_eq!(front_route(routed), None, "{routed}");
        }
    }

    #[test]
    fn front_answers_get_the_routers_length_head_and_connect_handling() {
        let answer = |method: Method, body: &'static str| {
            let mut resp = Response::new(Body::from(body));
            like_a_route(&method, &mut resp);
            resp
        };
        let get = answer(Method::GET, "hello");
        assert_eq!(get.headers()[header::CONTENT_LENGTH], "5");
        assert_eq!(get.body().size_hint().exact(), Some(5));
        let head = answer(Method::HEAD, "hello");
        assert_eq!(head.headers()[header::CONTENT_LENGTH], "5");
        assert_eq!(head.body().size_hint().exact(), Some(0));
        let connect = answer(Method::CONNECT, "hello");
        assert!(!connect.headers().contains_key(header::CONTENT_LENGTH));
        assert_eq!(connect.body().size_hint().exact(), Some(0));
    }

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
