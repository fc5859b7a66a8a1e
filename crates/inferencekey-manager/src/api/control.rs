//! The control plane (CONTRACT.md §3), authenticated with `ik_sdk_` tokens scoped to one
//! project.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use inferencekey_core::slug::canonical_slug;
use inferencekey_core::token::scrub;
use inferencekey_core::wire::{ErrorBody, Workload};
use serde::Deserialize;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::errors::ApiError;
use super::{json_object, workload, API_BODY_LIMIT};
use crate::auth::{Identity, SdkAuth};
use crate::idempotency::{self, Claim};
use crate::openapi::{
    CreateErrors, DeleteErrors, IdempotencyHeader, ProjectPath, ReadErrors, SlugQuery,
    UpdateErrors, WorkloadCreate, WorkloadIdPath, WorkloadSlugPath, WorkloadUpdate,
};
use crate::runtime::readiness;
use crate::state::{App, AppState};
use crate::store::{IdempotencyBegin, Project, StoreError, WorkloadRecord};

fn command_policy(app: &AppState) -> crate::runtime::process::CommandPolicy {
    crate::runtime::process::CommandPolicy {
        allow_any: app.config.allow_any_command,
        allow_trust_remote_code: app.config.allow_trust_remote_code,
    }
}

/// The workload routes, each registered with its OpenAPI operation (crate::openapi).
pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one))
        .routes(routes!(readiness_events))
        .routes(routes!(get_by_id, update, delete))
}

/// The project named in the path, which must be the token's.
pub(super) async fn project_for(
    app: &AppState,
    who: &Identity,
    raw: &str,
) -> Result<Project, ApiError> {
    let slug = canonical_slug(raw);
    let own = who.project_slug.as_deref().unwrap_or_default();
    if slug != own {
        return Err(ApiError::project_scope_mismatch(format!(
            "this token belongs to project {own:?}, not {raw:?}"
        )));
    }
    app.store
        .project_by_slug(&slug)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("project {slug:?} does not exist")))
}

/// A workload by id, visible only to tokens of its project.
async fn workload_by_id(
    app: &AppState,
    who: &Identity,
    id: &str,
) -> Result<WorkloadRecord, ApiError> {
    app.store
        .workload(id)
        .await?
        .filter(|w| Some(&w.project_id) == who.project_id.as_ref())
        .ok_or_else(|| ApiError::not_found(format!("no workload with id {id:?} in this project")))
}

pub(super) async fn workload_by_slug(
    app: &AppState,
    project: &Project,
    raw: &str,
) -> Result<WorkloadRecord, ApiError> {
    let slug = canonical_slug(raw);
    app.store
        .workload_by_slug(&project.id, &slug)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no workload {slug:?} in project {:?}",
                project.slug
            ))
        })
}

fn render(app: &AppState, w: &WorkloadRecord) -> Value {
    let mut out = workload::to_json(w, app.runtime.phase(&w.id));
    if let Some(counts) = app.runtime.counts(&w.id) {
        out["replicas"] = counts;
    }
    out
}

#[derive(Deserialize)]
struct ListQuery {
    slug: Option<String>,
}

/// The project's workloads.
#[utoipa::path(
    get,
    path = "/api/projects/{project}/workloads",
    operation_id = "listWorkloads",
    tag = "workloads",
    security(("sdkToken" = [])),
    params(ProjectPath, SlugQuery),
    responses((status = 200, description = "Workloads", body = Vec<Workload>), ReadErrors),
)]
async fn list(
    State(app): State<App>,
    SdkAuth(who): SdkAuth,
    project: Result<Path<String>, PathRejection>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Path(project) = project?;
    let Query(query) = query?;
    let project = project_for(&app, &who, &project).await?;
    let items: Vec<Value> = match query.slug {
        Some(raw) => app
            .store
            .workload_by_slug(&project.id, &canonical_slug(&raw))
            .await?
            .into_iter()
            .map(|w| render(&app, &w))
            .collect(),
        None => app
            .store
            .list_workloads(Some(&project.id))
            .await?
            .iter()
            .map(|w| render(&app, w))
            .collect(),
    };
    Ok(axum::Json(items).into_response())
}

#[utoipa::path(
    get,
    path = "/api/projects/{project}/workloads/{slug}",
    operation_id = "getWorkload",
    tag = "workloads",
    security(("sdkToken" = [])),
    params(WorkloadSlugPath),
    responses((status = 200, description = "OK", body = Workload), ReadErrors),
)]
async fn get_one(
    State(app): State<App>,
    SdkAuth(who): SdkAuth,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path((project, slug)) = path?;
    let project = project_for(&app, &who, &project).await?;
    let w = workload_by_slug(&app, &project, &slug).await?;
    Ok(axum::Json(render(&app, &w)).into_response())
}

#[utoipa::path(
    get,
    path = "/api/workloads/{id}",
    operation_id = "getWorkloadById",
    tag = "workloads",
    security(("sdkToken" = [])),
    params(WorkloadIdPath),
    responses((status = 200, description = "OK", body = Workload), ReadErrors),
)]
async fn get_by_id(
    State(app): State<App>,
    SdkAuth(who): SdkAuth,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(id) = id?;
    let w = workload_by_id(&app, &who, &id).await?;
    Ok(axum::Json(render(&app, &w)).into_response())
}

/// Creates the workload; synchronous so an idempotency claim can never be left half-done
/// by a cancelled request.
async fn create_now(
    app: &AppState,
    project: &Project,
    body: &[u8],
) -> Result<(StatusCode, Value), ApiError> {
    let obj = json_object(body)?;
    let record = workload::create_record(obj, project, &*app.store, command_policy(app)).await?;
    crate::limits::check(app, &record).await?;
    match app.store.insert_workload(&record).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "slug_conflict",
                format!(
                    "a workload with slug {:?} already exists in project {:?}; update it instead",
                    record.slug, project.slug
                ),
            )
            .with_field("slug"))
        }
        Err(e) => return Err(e.into()),
    }
    app.runtime.apply(&record);
    Ok((StatusCode::CREATED, render(app, &record)))
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

#[utoipa::path(
    post,
    path = "/api/projects/{project}/workloads",
    operation_id = "createWorkload",
    tag = "workloads",
    security(("sdkToken" = [])),
    params(ProjectPath, IdempotencyHeader),
    request_body(content = WorkloadCreate, content_type = "application/json"),
    responses(
        (status = 201,
         description = "Created (or the replay of a create with the same Idempotency-Key)",
         body = Workload),
        CreateErrors,
    ),
)]
async fn create(
    State(app): State<App>,
    SdkAuth(who): SdkAuth,
    headers: HeaderMap,
    uri: Uri,
    project: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Path(project) = project?;
    let project = project_for(&app, &who, &project).await?;
    let body = body.map_err(|r| ApiError::from_body_rejection(r, API_BODY_LIMIT))?;
    let Some(key) = idempotency::key_from(&headers)? else {
        let (status, value) = create_now(&app, &project, &body).await?;
        return Ok((status, axum::Json(value)).into_response());
    };
    let fp = idempotency::fingerprint("POST", uri.path(), &body);
    match app
        .store
        .idempotency_begin(&who.token_id, &key, &fp, idempotency::TTL_SECS)
        .await?
    {
        IdempotencyBegin::Replay { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let mut resp = json_response(status, body);
            resp.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            Ok(resp)
        }
        IdempotencyBegin::InUse => Err(idempotency::in_use()),
        IdempotencyBegin::Reused => Err(idempotency::reused()),
        IdempotencyBegin::Started => {
            let claim = Claim::new(app.store.clone(), &who.token_id, &key);
            let (status, bytes) = match create_now(&app, &project, &body).await {
                Ok((status, value)) => (status, serde_json::to_vec(&value).unwrap_or_default()),
                Err(e) => (
                    e.status,
                    serde_json::to_vec(&ErrorBody::new(e.code, scrub(&e.message), e.field))
                        .unwrap_or_default(),
                ),
            };
            // Server failures are not recorded, so a retry with the same key runs again.
            if !status.is_server_error() {
                claim.finish(status.as_u16(), &bytes).await?;
            }
            Ok(json_response(status, bytes))
        }
    }
}

#[utoipa::path(
    patch,
    path = "/api/workloads/{id}",
    operation_id = "updateWorkload",
    tag = "workloads",
    security(("sdkToken" = [])),
    params(WorkloadIdPath),
    request_body(content = WorkloadUpdate, content_type = "application/json"),
    responses((status = 200, description = "OK", body = Workload), UpdateErrors),
)]
async fn update(
    State(app): State<App>,
    SdkAuth(who): SdkAuth,
    id: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Path(id) = id?;
    let current = workload_by_id(&app, &who, &id).await?;
    let body = body.map_err(|r| ApiError::from_body_rejection(r, API_BODY_LIMIT))?;
    let obj = json_object(&body)?;
    let updated = workload::update_record(&current, obj, &*app.store, command_policy(&app)).await?;
    let Some(updated) = updated else {
        return Ok(axum::Json(render(&app, &current)).into_response());
    };
    crate::limits::check(&app, &updated).await?;
    if !app.store.update_workload(&updated).await? {
        return Err(ApiError::not_found(format!("workload {id:?} was deleted")));
    }
    app.runtime.apply(&updated);
    Ok(axum::Json(render(&app, &updated)).into_response())
}

#[utoipa::path(
    delete,
    path = "/api/workloads/{id}",
    operation_id = "deleteWorkload",
    tag = "workloads",
    security(("sdkToken" = [])),
    params(WorkloadIdPath),
    responses((status = 204, description = "Deleted"), DeleteErrors),
)]
async fn delete(
    State(app): State<App>,
    SdkAuth(who): SdkAuth,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(id) = id?;
    let w = workload_by_id(&app, &who, &id).await?;
    app.store.delete_workload(&w.id).await?;
    app.runtime.remove(&w.id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Keep-alive comments keep proxies from closing a quiet stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The readiness stream (docs/contract.md §3.4).
#[utoipa::path(
    get,
    path = "/api/projects/{project}/workloads/{slug}/readiness-events",
    operation_id = "readinessEvents",
    tag = "workloads",
    security(("sdkToken" = [])),
    params(WorkloadSlugPath),
    responses(
        (status = 200,
         description = "A stream of ReadinessEvent JSON frames; the current phase at once, \
                        ending after ready or error.",
         content_type = "text/event-stream"),
        ReadErrors,
    ),
)]
async fn readiness_events(
    State(app): State<App>,
    SdkAuth(who): SdkAuth,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path((project, slug)) = path?;
    let project = project_for(&app, &who, &project).await?;
    let w = workload_by_slug(&app, &project, &slug).await?;
    let entry = app
        .runtime
        .get(&w.id)
        .ok_or_else(|| ApiError::not_found(format!("workload {slug:?} is being deleted")))?;
    let stream = readiness::events(entry.subscribe_readiness()).map(|ev| {
        let data = serde_json::to_string(&ev).unwrap_or_default();
        Ok::<_, Infallible>(Event::default().data(data))
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive"))
        .into_response())
}
