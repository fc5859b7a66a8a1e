//! The admin API (`/admin`, `ik_admin_` token from the data dir): bootstrapping without a
//! dashboard. Creates projects, issues `ik_sdk_` tokens, `ik_live_` keys and `ik_worker_`
//! tokens (the secret is in the answer once and never again), revokes them, registers workers
//! and GPUs.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use inferencekey_core::slug::validate_slug;
use inferencekey_core::token::{parse_token, TokenKind};
use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::errors::ApiError;
use super::{json_object, API_BODY_LIMIT};
use crate::auth::AdminAuth;
use crate::openapi::{
    AdminPath, AdminProjectPath, AdminWorkerPath, GpuRegister, KeyRequest, KeysQuery,
    ProjectCreate, ReadErrors, UpdateErrors, WorkerRegister,
};
use crate::state::App;
use crate::store::{Gpu, Project, TokenRecord, Worker};
use crate::util::{new_id, now_rfc3339};

/// The admin routes, each registered with its OpenAPI operation (crate::openapi).
pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_projects, create_project))
        .routes(routes!(issue_sdk_token))
        .routes(routes!(issue_key))
        .routes(routes!(list_keys))
        .routes(routes!(revoke_key))
        .routes(routes!(list_workers, register_worker))
        .routes(routes!(issue_worker_token))
        .routes(routes!(list_gpus, register_gpu))
        .routes(routes!(status))
}

/// An optional body: empty means `{}`.
fn body_object(body: Result<Bytes, BytesRejection>) -> Result<Map<String, Value>, ApiError> {
    let body = body.map_err(|r| ApiError::from_body_rejection(r, API_BODY_LIMIT))?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    json_object(&body)
}

fn only_keys(obj: &Map<String, Value>, allowed: &[&str]) -> Result<(), ApiError> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(ApiError::validation(
            k.as_str(),
            format!("unknown field; accepted fields: {}", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

fn opt_string(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
        Some(_) => Err(ApiError::validation(key, "must be a non-empty string")),
    }
}

/// A project as the admin API answers it.
// Fields of these views are in alphabetical order: the order the answers have always been
// written in (serde_json's map, before they were typed).
#[derive(Serialize, ToSchema)]
#[schema(as = Project)]
pub(crate) struct ProjectView<'a> {
    created_at: &'a str,
    id: &'a str,
    slug: &'a str,
}

impl<'a> From<&'a Project> for ProjectView<'a> {
    fn from(p: &'a Project) -> Self {
        ProjectView {
            created_at: &p.created_at,
            id: &p.id,
            slug: &p.slug,
        }
    }
}

/// `POST /admin/projects`: the project, and whether this call made it.
#[derive(Serialize, ToSchema)]
struct EnsuredProject<'a> {
    created: bool,
    #[serde(flatten)]
    project: ProjectView<'a>,
}

/// A token or key as listed: never its secret.
#[derive(Serialize, ToSchema)]
#[schema(as = Token)]
pub(crate) struct TokenView<'a> {
    created_at: &'a str,
    id: &'a str,
    /// `sdk`, `live`, `worker` or `admin`.
    kind: &'a str,
    project: Option<&'a str>,
    revoked_at: Option<&'a str>,
    scope: Option<&'a str>,
    /// The worker a `worker` token acts for; absent on every other kind (so their answers
    /// are what they were before worker tokens).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    worker_id: Option<&'a str>,
}

impl<'a> From<&'a TokenRecord> for TokenView<'a> {
    fn from(t: &'a TokenRecord) -> Self {
        TokenView {
            created_at: &t.created_at,
            id: &t.id,
            kind: t.kind.name(),
            project: t.project_slug.as_deref(),
            revoked_at: t.revoked_at.as_deref(),
            scope: t.scope.as_deref(),
            worker_id: t.worker_id.as_deref(),
        }
    }
}

/// An `ik_sdk_` or `ik_worker_` token as issued: the listed view plus the whole token, shown
/// this once.
#[derive(Serialize, ToSchema)]
struct IssuedToken<'a> {
    #[serde(flatten)]
    record: TokenView<'a>,
    token: &'a str,
}

/// An `ik_live_` key as issued: the listed view plus the whole key, shown this once.
#[derive(Serialize, ToSchema)]
struct IssuedKey<'a> {
    #[serde(flatten)]
    record: TokenView<'a>,
    key: &'a str,
}

/// A value as a JSON object with its keys sorted, the order these answers have always had
/// (a flattened struct would write its own fields last).
fn sorted(value: impl Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

pub(crate) fn token_json(t: &TokenRecord) -> Value {
    sorted(TokenView::from(t))
}

async fn existing_project(app: &App, raw: &str) -> Result<Project, ApiError> {
    let slug =
        validate_slug(raw, "project").map_err(|e| ApiError::validation(e.field, e.message))?;
    app.store.project_by_slug(&slug).await?.ok_or_else(|| {
        ApiError::not_found(format!(
            "project {slug:?} does not exist; create it with `inferencekey init --project {slug}`"
        ))
    })
}

#[utoipa::path(
    get,
    path = "/admin/projects",
    operation_id = "adminListProjects",
    tag = "admin",
    security(("adminToken" = [])),
    responses((status = 200, description = "Every project", body = Vec<ProjectView>), ReadErrors),
)]
async fn list_projects(State(app): State<App>, _admin: AdminAuth) -> Result<Response, ApiError> {
    let projects = app.store.list_projects().await?;
    let views: Vec<ProjectView<'_>> = projects.iter().map(ProjectView::from).collect();
    Ok(Json(views).into_response())
}

/// Creates a project, or returns the existing one (200) so `init` can be re-run.
#[utoipa::path(
    post,
    path = "/admin/projects",
    operation_id = "adminCreateProject",
    tag = "admin",
    security(("adminToken" = [])),
    request_body(content = ProjectCreate, content_type = "application/json"),
    responses((status = 201, description = "Created", body = EnsuredProject), (status = 200, description = "It existed already", body = EnsuredProject), UpdateErrors),
)]
async fn create_project(
    State(app): State<App>,
    _admin: AdminAuth,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let obj = body_object(body)?;
    only_keys(&obj, &["slug"])?;
    let raw = opt_string(&obj, "slug")?
        .ok_or_else(|| ApiError::validation("slug", "is required, e.g. \"acme\""))?;
    let slug = validate_slug(&raw, "slug").map_err(|e| ApiError::validation(e.field, e.message))?;
    let (project, created) = app.store.ensure_project(&slug).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let body = EnsuredProject {
        created,
        project: ProjectView::from(&project),
    };
    Ok((status, Json(body)).into_response())
}

#[utoipa::path(
    post,
    path = "/admin/projects/{project}/sdk-tokens",
    operation_id = "adminIssueSdkToken",
    tag = "admin",
    security(("adminToken" = [])),
    params(AdminProjectPath),
    responses((status = 201, description = "Issued; the only answer with the token", body = IssuedToken), UpdateErrors),
)]
async fn issue_sdk_token(
    State(app): State<App>,
    _admin: AdminAuth,
    project: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Path(project) = project?;
    only_keys(&body_object(body)?, &[])?;
    let project = existing_project(&app, &project).await?;
    let issued = app.auth.issue(TokenKind::Sdk, Some(&project), None).await?;
    let body = IssuedToken {
        record: TokenView::from(&issued.record),
        token: &issued.token,
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Issues a live key for one workload slug (which need not exist yet) or, with
/// `"all": true`, for every workload of the project.
#[utoipa::path(
    post,
    path = "/admin/projects/{project}/keys",
    operation_id = "adminIssueKey",
    tag = "admin",
    security(("adminToken" = [])),
    params(AdminProjectPath),
    request_body(content = KeyRequest, content_type = "application/json"),
    responses((status = 201, description = "Issued; the only answer with the key", body = IssuedKey), UpdateErrors),
)]
async fn issue_key(
    State(app): State<App>,
    _admin: AdminAuth,
    project: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Path(project) = project?;
    let body = issue_key_for(&app, &project, &body_object(body)?).await?;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// The key-issuing rules, shared with the dashboard: `{"workload": slug}` or `{"all": true}`.
/// The answer holds the secret (`key`) once.
pub(crate) async fn issue_key_for(
    app: &App,
    project: &str,
    obj: &Map<String, Value>,
) -> Result<Value, ApiError> {
    only_keys(obj, &["workload", "all"])?;
    let all = match obj.get("all") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::validation("all", "must be true or false")),
    };
    let workload = opt_string(obj, "workload")?;
    let scope = match (workload, all) {
        (Some(w), false) => {
            validate_slug(&w, "workload").map_err(|e| ApiError::validation(e.field, e.message))?
        }
        (None, true) => "*".to_string(),
        _ => {
            return Err(ApiError::bad_request(
                "give exactly one of \"workload\" (a workload slug) or \"all\": true",
            ))
        }
    };
    let project = existing_project(app, project).await?;
    let issued = app
        .auth
        .issue(TokenKind::Live, Some(&project), Some(&scope))
        .await?;
    Ok(sorted(IssuedKey {
        record: TokenView::from(&issued.record),
        key: &issued.token,
    }))
}

#[utoipa::path(
    get,
    path = "/admin/keys",
    operation_id = "adminListKeys",
    tag = "admin",
    security(("adminToken" = [])),
    params(KeysQuery),
    responses((status = 200, description = "Tokens and keys, never their secrets", body = Vec<TokenView>), ReadErrors),
)]
async fn list_keys(
    State(app): State<App>,
    _admin: AdminAuth,
    query: Result<Query<KeysQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query?;
    let project = match q.project {
        Some(p) => Some(existing_project(&app, &p).await?.slug),
        None => None,
    };
    let tokens = app.store.list_tokens(project.as_deref()).await?;
    let views: Vec<TokenView<'_>> = tokens.iter().map(TokenView::from).collect();
    Ok(Json(views).into_response())
}

/// Revokes by id; a whole token is accepted too (only its id is used, never logged).
#[utoipa::path(
    post,
    path = "/admin/keys/{id}/revoke",
    operation_id = "adminRevokeKey",
    tag = "admin",
    security(("adminToken" = [])),
    params(AdminPath),
    responses((status = 200, description = "The revoked token or key", body = TokenView), UpdateErrors),
)]
async fn revoke_key(
    State(app): State<App>,
    _admin: AdminAuth,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(raw) = id?;
    Ok(Json(revoke_key_by_id(&app, &raw).await?).into_response())
}

/// Revokes a non-admin token or key (shared with the dashboard); the answer is its record.
pub(crate) async fn revoke_key_by_id(app: &App, raw: &str) -> Result<Value, ApiError> {
    let id = parse_token(raw).map_or(raw, |t| t.id).to_string();
    let record = app
        .store
        .token(&id)
        .await?
        .filter(|t| t.kind != TokenKind::Admin)
        .ok_or_else(|| ApiError::not_found(format!("no token or key with id {id:?}")))?;
    let record = app.auth.revoke(&record.id).await?.unwrap_or(record);
    Ok(token_json(&record))
}

/// A registered worker.
#[derive(Serialize, ToSchema)]
#[schema(as = Worker)]
struct WorkerView<'a> {
    /// Where its agent's replicas are reachable, as the agent last reported it; absent while
    /// no agent has synced (docs/contract.md §8).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    address: Option<&'a str>,
    created_at: &'a str,
    id: &'a str,
    /// When its agent last synced; absent while none has.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    last_seen: Option<&'a str>,
    name: &'a str,
}

impl<'a> From<&'a Worker> for WorkerView<'a> {
    fn from(w: &'a Worker) -> Self {
        WorkerView {
            address: None,
            created_at: &w.created_at,
            id: &w.id,
            last_seen: None,
            name: &w.name,
        }
    }
}

#[utoipa::path(
    get,
    path = "/admin/workers",
    operation_id = "adminListWorkers",
    tag = "admin",
    security(("adminToken" = [])),
    responses((status = 200, description = "Registered workers", body = Vec<WorkerView>), ReadErrors),
)]
async fn list_workers(State(app): State<App>, _admin: AdminAuth) -> Result<Response, ApiError> {
    let workers = app.store.list_workers().await?;
    let mut presence = Vec::with_capacity(workers.len());
    for w in &workers {
        presence.push(app.store.worker_presence(&w.id).await?);
    }
    let views: Vec<WorkerView<'_>> = workers
        .iter()
        .zip(&presence)
        .map(|(w, p)| WorkerView {
            address: p.as_ref().map(|p| p.address.as_str()),
            last_seen: p.as_ref().map(|p| p.last_seen.as_str()),
            ..WorkerView::from(w)
        })
        .collect();
    Ok(Json(views).into_response())
}

#[utoipa::path(
    post,
    path = "/admin/workers",
    operation_id = "adminRegisterWorker",
    tag = "admin",
    security(("adminToken" = [])),
    request_body(content = WorkerRegister, content_type = "application/json"),
    responses((status = 201, description = "Registered", body = WorkerView), UpdateErrors),
)]
async fn register_worker(
    State(app): State<App>,
    _admin: AdminAuth,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let obj = body_object(body)?;
    only_keys(&obj, &["name"])?;
    let name = opt_string(&obj, "name")?
        .ok_or_else(|| ApiError::validation("name", "is required, e.g. \"gpu-box-1\""))?;
    let worker = Worker {
        id: new_id("wrk"),
        name,
        created_at: now_rfc3339(),
    };
    app.store.insert_worker(&worker).await?;
    Ok((StatusCode::CREATED, Json(WorkerView::from(&worker))).into_response())
}

/// Issues an `ik_worker_` token for a registered worker: what the agent on that worker's host
/// authenticates with (`inferencekey worker run --token …`). Listed and revoked with the
/// other tokens (`/admin/keys`).
#[utoipa::path(
    post,
    path = "/admin/workers/{worker}/tokens",
    operation_id = "adminIssueWorkerToken",
    tag = "admin",
    security(("adminToken" = [])),
    params(AdminWorkerPath),
    responses((status = 201, description = "Issued; the only answer with the token", body = IssuedToken), UpdateErrors),
)]
async fn issue_worker_token(
    State(app): State<App>,
    _admin: AdminAuth,
    worker: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Path(worker) = worker?;
    only_keys(&body_object(body)?, &[])?;
    let worker = app.store.worker(worker.trim()).await?.ok_or_else(|| {
        ApiError::not_found(format!(
            "worker {worker:?} is not registered; register it first with `inferencekey worker \
             register --name NAME` (POST /admin/workers) and use the id it prints"
        ))
    })?;
    let issued = app.auth.issue_worker(&worker).await?;
    let body = IssuedToken {
        record: TokenView::from(&issued.record),
        token: &issued.token,
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// A registered GPU resource.
#[derive(Serialize, ToSchema)]
#[schema(as = Gpu)]
struct GpuView<'a> {
    created_at: &'a str,
    id: &'a str,
    name: &'a str,
    worker_id: Option<&'a str>,
}

impl<'a> From<&'a Gpu> for GpuView<'a> {
    fn from(g: &'a Gpu) -> Self {
        GpuView {
            created_at: &g.created_at,
            id: &g.id,
            name: &g.name,
            worker_id: g.worker_id.as_deref(),
        }
    }
}

#[utoipa::path(
    get,
    path = "/admin/gpus",
    operation_id = "adminListGpus",
    tag = "admin",
    security(("adminToken" = [])),
    responses((status = 200, description = "Registered GPU resources", body = Vec<GpuView>), ReadErrors),
)]
async fn list_gpus(State(app): State<App>, _admin: AdminAuth) -> Result<Response, ApiError> {
    let gpus = app.store.list_gpus().await?;
    let views: Vec<GpuView<'_>> = gpus.iter().map(GpuView::from).collect();
    Ok(Json(views).into_response())
}

#[utoipa::path(
    post,
    path = "/admin/gpus",
    operation_id = "adminRegisterGpu",
    tag = "admin",
    security(("adminToken" = [])),
    request_body(content = GpuRegister, content_type = "application/json"),
    responses((status = 201, description = "Registered", body = GpuView), UpdateErrors),
)]
async fn register_gpu(
    State(app): State<App>,
    _admin: AdminAuth,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let obj = body_object(body)?;
    only_keys(&obj, &["name", "worker_id"])?;
    let name = opt_string(&obj, "name")?.ok_or_else(|| {
        ApiError::validation(
            "name",
            "is required: the GPU's display name, e.g. \"NVIDIA L4\"",
        )
    })?;
    let worker_id = opt_string(&obj, "worker_id")?;
    if let Some(w) = &worker_id {
        if app.store.worker(w).await?.is_none() {
            return Err(ApiError::validation(
                "worker_id",
                format!("{w:?} is not a registered worker"),
            ));
        }
    }
    let gpu = Gpu {
        id: new_id("gpu"),
        name,
        worker_id,
        created_at: now_rfc3339(),
    };
    app.store.insert_gpu(&gpu).await?;
    Ok((StatusCode::CREATED, Json(GpuView::from(&gpu))).into_response())
}

/// Whether the Manager can write its data dir, and how many log lines it lost.
fn storage_json(app: &App) -> Value {
    let (dropped, failed) = crate::logging::dropped_lines();
    let log = json!({"dropped_lines": dropped, "failed_writes": failed});
    match app.storage.problem() {
        None => json!({"ok": true, "log": log}),
        Some(p) => json!({"ok": false, "problem": p.message, "since": p.since, "log": log}),
    }
}

/// Everything `inferencekey status` shows.
#[utoipa::path(
    get,
    path = "/admin/status",
    operation_id = "adminStatus",
    tag = "admin",
    security(("adminToken" = [])),
    responses((status = 200, description = "What `inferencekey status` shows", body = Object), ReadErrors),
)]
async fn status(State(app): State<App>, _admin: AdminAuth) -> Result<Response, ApiError> {
    let workloads = app.store.list_workloads(None).await?;
    let projects: Vec<Value> = app
        .store
        .list_projects()
        .await?
        .iter()
        .map(|p| {
            let items: Vec<Value> = workloads
                .iter()
                .filter(|w| w.project_id == p.id)
                .map(|w| {
                    let (phase, message) = app
                        .runtime
                        .phase(&w.id)
                        .map(|(ph, m)| (ph.as_str().to_string(), m))
                        .unwrap_or_else(|| (w.status.clone(), w.status_message.clone()));
                    json!({
                        "id": w.id, "slug": w.slug, "name": w.name, "task_type": w.task_type,
                        "backend": w.backend, "model_name": w.model_name,
                        "status": phase, "status_message": message,
                        "replicas": app.runtime.counts(&w.id),
                    })
                })
                .collect();
            json!({"slug": p.slug, "id": p.id, "workloads": items})
        })
        .collect();
    Ok(Json(json!({
        "url": app.url,
        "pid": std::process::id(),
        "data_dir": app.config.data_dir,
        "dev": app.config.dev,
        "allow_any_command": app.config.allow_any_command,
        "storage": storage_json(&app),
        "role": app.runtime.role(),
        "quarantined": app
            .store
            .quarantined_workloads().await?
            .into_iter()
            .map(|(id, why)| json!({"id": id, "problem": why}))
            .collect::<Vec<_>>(),
        "projects": projects,
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn token(kind: TokenKind, scope: Option<&str>, revoked: Option<&str>) -> TokenRecord {
        TokenRecord {
            id: "abc123".into(),
            kind,
            project_id: Some("prj_1".into()),
            project_slug: Some("acme".into()),
            scope: scope.map(Into::into),
            secret_hash: [0; 32],
            created_at: "2026-01-01T00:00:00Z".into(),
            revoked_at: revoked.map(Into::into),
            worker_id: None,
        }
    }

    /// The typed answers write the bytes the `json!` answers they replaced wrote (same keys,
    /// same order), so no client sees a change.
    #[test]
    fn typed_answers_keep_the_bytes() {
        fn bytes<T: Serialize>(v: &T) -> String {
            serde_json::to_string(v).unwrap()
        }
        let p = Project {
            id: "prj_1".into(),
            slug: "acme".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
        };
        let old_project = json!({"id": p.id, "slug": p.slug, "created_at": p.created_at});
        assert_eq!(bytes(&ProjectView::from(&p)), bytes(&old_project));
        let mut old_ensured = old_project.clone();
        old_ensured["created"] = json!(true);
        let ensured = EnsuredProject {
            created: true,
            project: ProjectView::from(&p),
        };
        assert_eq!(bytes(&ensured), bytes(&old_ensured));

        for t in [
            token(TokenKind::Sdk, None, None),
            token(TokenKind::Live, Some("*"), Some("2026-01-02T00:00:00Z")),
        ] {
            let old = json!({
                "id": t.id,
                "kind": t.kind.prefix().trim_start_matches("ik_").trim_end_matches('_'),
                "project": t.project_slug,
                "scope": t.scope,
                "created_at": t.created_at,
                "revoked_at": t.revoked_at,
            });
            assert_eq!(bytes(&TokenView::from(&t)), bytes(&old));
            assert_eq!(bytes(&token_json(&t)), bytes(&old));
            let mut old_issued = old.clone();
            old_issued["token"] = json!("ik_sdk_secret");
            let issued = IssuedToken {
                record: TokenView::from(&t),
                token: "ik_sdk_secret",
            };
            assert_eq!(bytes(&issued), bytes(&old_issued));
            let mut old_key = old.clone();
            old_key["key"] = json!("ik_live_secret");
            let key = sorted(IssuedKey {
                record: TokenView::from(&t),
                key: "ik_live_secret",
            });
            assert_eq!(bytes(&key), bytes(&old_key));
        }

        let w = Worker {
            id: "wrk_1".into(),
            name: "box".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
        };
        let old = json!({"id": w.id, "name": w.name, "created_at": w.created_at});
        assert_eq!(bytes(&WorkerView::from(&w)), bytes(&old));
        for worker_id in [None, Some("wrk_1".to_string())] {
            let g = Gpu {
                id: "gpu_1".into(),
                name: "NVIDIA L4".into(),
                worker_id,
                created_at: "2026-01-01T00:00:00Z".into(),
            };
            let old = json!({"id": g.id, "name": g.name, "worker_id": g.worker_id,
                             "created_at": g.created_at});
            assert_eq!(bytes(&GpuView::from(&g)), bytes(&old));
        }
    }
}
