//! The dashboard: a small web UI for the local admin at `/dashboard`.
//!
//! It shows projects, workloads (phase, policy, replicas wanted/ready and why, the readiness
//! log and the engine log tail), data keys (redacted; create and revoke) and jobs, and updates
//! itself by polling `/dashboard/api/state` once a second. The page is static and holds no
//! secret; its API answers hold none either, except the one answer that creates a key (shown
//! once, as the CLI does). Access: `inferencekey dashboard` prints a one-time login link (see
//! [`sessions`]); scripts may use the admin token as a bearer instead.
//!
//! Writes (create and revoke a key) with a session cookie also need the
//! `X-IK-Dashboard: 1` header, which a cross-site form cannot send: with the `SameSite=Strict`
//! cookie that closes cross-site request forgery.

pub mod sessions;

use std::path::Path as FsPath;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use inferencekey_core::token::TokenKind;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::api::admin::{issue_key_for, revoke_key_by_id, token_json};
use crate::api::errors::ApiError;
use crate::api::json_object;
use crate::auth::AdminAuth;
use crate::runtime::process::log_tail;
use crate::state::App;
use crate::store::{JobRecord, TokenRecord, WorkloadRecord};

const PAGE: &str = include_str!("page.html");
const SCRIPT: &str = include_str!("app.js");
/// Jobs listed per project.
const JOBS_SHOWN: usize = 50;
/// Engine log lines shown per replica.
const LOG_LINES: usize = 80;

pub fn router() -> Router<App> {
    Router::new()
        .route("/dashboard", get(page))
        .route("/dashboard/", get(page))
        .route("/dashboard/app.js", get(script))
        .route("/dashboard/login", get(login))
        .route("/dashboard/logout", post(logout))
        .route("/dashboard/api/state", get(state))
        .route("/dashboard/api/workloads/{id}", get(workload_detail))
        .route("/dashboard/api/projects/{project}/keys", post(create_key))
        .route("/dashboard/api/keys/{id}/revoke", post(revoke_key))
        .route("/admin/dashboard/login-codes", post(issue_login_code))
}

/// Who may read: a dashboard session, or the admin token as a bearer.
async fn viewer(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    if app.dashboard.is_logged_in(headers) {
        return Ok(());
    }
    if headers.contains_key(header::AUTHORIZATION) {
        return app
            .auth
            .authenticate(headers, TokenKind::Admin)
            .await
            .map(|_| ());
    }
    Err(ApiError::unauthenticated(
        "not logged in to the dashboard; run `inferencekey dashboard` for a login link",
    ))
}

/// Who may write: as [`viewer`], and a session must also send `X-IK-Dashboard: 1`.
async fn editor(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    viewer(app, headers).await?;
    let bearer = headers.contains_key(header::AUTHORIZATION);
    let marked = headers
        .get("x-ik-dashboard")
        .is_some_and(|v| v.as_bytes() == b"1");
    if bearer || marked {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf_check_failed",
            "dashboard writes need the X-IK-Dashboard: 1 header",
        ))
    }
}

async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // The page loads nothing from elsewhere and is never framed.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; \
                 frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        PAGE,
    )
        .into_response()
}

async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        SCRIPT,
    )
        .into_response()
}

#[derive(Deserialize)]
struct LoginQuery {
    code: Option<String>,
}

/// Spends a login code and sets the session cookie; the code is gone from the address bar
/// after the redirect.
async fn login(
    State(app): State<App>,
    query: Result<Query<LoginQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query?;
    let session = q
        .code
        .as_deref()
        .and_then(|c| app.dashboard.redeem(c))
        .ok_or_else(|| {
            ApiError::unauthenticated(
                "this login link was already used or has expired; run `inferencekey dashboard` for a new one",
            )
        })?;
    let mut resp = Redirect::to("/dashboard").into_response();
    let cookie = HeaderValue::from_str(&sessions::set_cookie(&session))
        .map_err(|_| ApiError::internal("could not build the session cookie"))?;
    resp.headers_mut().insert(header::SET_COOKIE, cookie);
    resp.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    Ok(resp)
}

async fn logout(State(app): State<App>, headers: HeaderMap) -> Response {
    app.dashboard.logout(&headers);
    let mut resp = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = HeaderValue::from_str(&sessions::clear_cookie()) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

/// `POST /admin/dashboard/login-codes` (admin token): a one-time login link.
async fn issue_login_code(State(app): State<App>, _admin: AdminAuth) -> Result<Response, ApiError> {
    let code = app.dashboard.issue_code();
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "url": format!("{}/dashboard/login?code={code}", app.url),
            "expires_in": sessions::CODE_TTL.as_secs(),
        })),
    )
        .into_response())
}

fn key_json(t: &TokenRecord) -> Value {
    let mut v = token_json(t);
    // The printable form the CLI and logs use, from the core's one rule.
    v["redacted"] = json!(inferencekey_core::token::redact_id(t.kind, &t.id));
    v
}

fn job_json(j: &JobRecord, slugs: &Map<String, Value>) -> Value {
    json!({
        "id": j.id,
        "workload_id": j.workload_id,
        "workload": slugs.get(&j.workload_id),
        "kind": j.kind,
        "status": j.status.as_str(),
        "error": j.error.as_ref().and_then(|e| e.get("message")).or(j.error.as_ref()),
        "created_at": j.created_at,
        "updated_at": j.updated_at,
    })
}

fn workload_json(app: &App, w: &WorkloadRecord) -> Value {
    let entry = app.runtime.get(&w.id);
    let (phase, message) = entry
        .as_ref()
        .map(|e| {
            let (p, m) = e.phase();
            (p.as_str().to_string(), m)
        })
        .unwrap_or_else(|| (w.status.clone(), w.status_message.clone()));
    let replicas = entry.as_ref().map_or_else(
        || json!({"wanted": 0, "ready": 0, "in_flight": 0}),
        |e| e.counts(),
    );
    json!({
        "id": w.id,
        "slug": w.slug,
        "name": w.name,
        "task_type": w.task_type,
        "backend": w.backend,
        "model_name": w.model_name,
        "execution_policy": w.execution_policy,
        "execution_policy_config": w.execution_policy_config,
        "worker_id": w.worker_id,
        "phase": phase,
        "message": message,
        "replicas": replicas,
        "updated_at": w.updated_at,
    })
}

/// Everything the page shows, in one answer.
async fn state(State(app): State<App>, headers: HeaderMap) -> Result<Response, ApiError> {
    viewer(&app, &headers).await?;
    let workloads = app.store.list_workloads(None).await?;
    let keys = app.store.list_tokens(None).await?;
    let mut projects = Vec::new();
    for p in app.store.list_projects().await? {
        let mine: Vec<&WorkloadRecord> =
            workloads.iter().filter(|w| w.project_id == p.id).collect();
        let slugs: Map<String, Value> =
            mine.iter().map(|w| (w.id.clone(), json!(w.slug))).collect();
        let jobs = app.store.list_jobs(Some(&p.id), JOBS_SHOWN).await?;
        projects.push(json!({
            "id": p.id,
            "slug": p.slug,
            "workloads": mine.iter().map(|w| workload_json(&app, w)).collect::<Vec<_>>(),
            "keys": keys
                .iter()
                .filter(|k| k.kind == TokenKind::Live && k.project_id.as_deref() == Some(&p.id))
                .map(key_json)
                .collect::<Vec<_>>(),
            "jobs": jobs.iter().map(|j| job_json(j, &slugs)).collect::<Vec<_>>(),
        }));
    }
    Ok(Json(json!({
        "manager": {
            "url": app.url,
            "version": env!("CARGO_PKG_VERSION"),
            "dev": app.config.dev,
            "pid": std::process::id(),
        },
        "projects": projects,
    }))
    .into_response())
}

/// One workload's readiness log and the tail of each replica's engine log (scrubbed).
async fn workload_detail(
    State(app): State<App>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    viewer(&app, &headers).await?;
    let Path(id) = id?;
    let w = app
        .store
        .workload(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no workload with id {id:?}")))?;
    let events = app
        .runtime
        .get(&w.id)
        .map(|e| e.subscribe_readiness().borrow().recent())
        .unwrap_or_default();
    let dir = app.config.data_dir.join("logs").join(&w.project_slug);
    Ok(Json(json!({
        "workload": workload_json(&app, &w),
        "readiness": events,
        "logs": replica_logs(&dir, &w.slug),
    }))
    .into_response())
}

/// `<slug>-<n>.log` for each replica `n` the workload has run, as `{replica, tail}`.
fn replica_logs(dir: &FsPath, slug: &str) -> Vec<Value> {
    let prefix = format!("{slug}-");
    let mut found: Vec<(u64, std::path::PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let n = name
                .strip_prefix(&prefix)?
                .strip_suffix(".log")?
                .parse()
                .ok()?;
            Some((n, e.path()))
        })
        .collect();
    found.sort();
    found
        .into_iter()
        .map(|(n, path)| json!({"replica": n, "tail": log_tail(&path, LOG_LINES)}))
        .collect()
}

async fn create_key(
    State(app): State<App>,
    headers: HeaderMap,
    project: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    editor(&app, &headers).await?;
    let Path(project) = project?;
    let body = body.map_err(|r| ApiError::from_body_rejection(r, crate::api::API_BODY_LIMIT))?;
    let created = issue_key_for(&app, &project, &json_object(&body)?).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn revoke_key(
    State(app): State<App>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    editor(&app, &headers).await?;
    let Path(id) = id?;
    let record = revoke_key_by_id(&app, &id).await?;
    Ok(Json(record).into_response())
}
