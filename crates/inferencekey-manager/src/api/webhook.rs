//! A workload's webhook destination (docs/contract.md §6), on the control plane:
//! `PUT/GET/DELETE /api/projects/{project}/workloads/{workload}/webhook`,
//! `POST …/webhook/test` (one signed `ping`) and `GET …/webhook/deliveries` (the outbox).
//! `{workload}` is the slug or the id. The signing secret is made by the Manager and shown
//! only in the answer that made it.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use inferencekey_core::webhook::WebhookDestinationRequest;
use serde_json::{json, Value};

use super::control::{project_for, workload_by_slug};
use super::errors::ApiError;
use super::{json_object, API_BODY_LIMIT};
use crate::auth::{Identity, SdkAuth};
use crate::state::{App, AppState};
use crate::store::{WebhookRecord, WorkloadRecord};
use crate::util::now_rfc3339;
use crate::webhooks;

const BASE: &str = "/api/projects/{project}/workloads/{workload}/webhook";
/// Deliveries `GET …/deliveries` lists.
const LISTED: usize = 100;

pub fn router() -> Router<App> {
    Router::new()
        .route(BASE, get(get_one).put(put).delete(delete))
        .route(&format!("{BASE}/test"), post(test))
        .route(&format!("{BASE}/deliveries"), get(deliveries))
}

/// The workload named in the path, by slug or id, of the token's project.
async fn target(
    app: &AppState,
    who: &Identity,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<WorkloadRecord, ApiError> {
    let Path((project, workload)) = path?;
    let project = project_for(app, who, &project).await?;
    match workload_by_slug(app, &project, &workload).await {
        Ok(w) => Ok(w),
        Err(e) => app
            .store
            .workload(&workload)
            .await?
            .filter(|w| w.project_id == project.id)
            .ok_or(e),
    }
}

fn no_webhook(w: &WorkloadRecord) -> ApiError {
    ApiError::not_found(format!(
        "workload {:?} has no webhook; PUT {{\"url\": …}} to this path to set one",
        w.slug
    ))
}

/// Decodes the body with the core's type, so unknown fields are refused by name.
fn request(body: &[u8]) -> Result<WebhookDestinationRequest, ApiError> {
    let obj = json_object(body)?;
    const FIELDS: &[&str] = &["url", "rotate_secret"];
    if let Some(k) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(ApiError::validation(
            k.as_str(),
            format!("unknown field; accepted fields: {}", FIELDS.join(", ")),
        ));
    }
    let url = match obj.get("url") {
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(ApiError::validation("url", "must be a string")),
        None => {
            return Err(ApiError::validation(
                "url",
                "is required, e.g. {\"url\": \"http://127.0.0.1:8000/hook\"}",
            ))
        }
    };
    let rotate_secret = match obj.get("rotate_secret") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(ApiError::validation(
                "rotate_secret",
                "must be true or false",
            ))
        }
    };
    Ok(WebhookDestinationRequest { url, rotate_secret })
}

async fn put(
    State(app): State<App>,
    SdkAuth(who): SdkAuth,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let w = target(&app, &who, path).await?;
    let body = body.map_err(|r| ApiError::from_body_rejection(r, API_BODY_LIMIT))?;
    let req = request(&body)?;
    webhooks::check_url(&req.url, app.webhooks.config().allow_remote)
        .map_err(|why| ApiError::validation("url", why))?;
    let now = now_rfc3339();
    let current = app.store.webhook(&w.id).await?;
    let fresh_secret = current.is_none() || req.rotate_secret;
    let record = WebhookRecord {
        workload_id: w.id.clone(),
        url: req.url,
        secret: match &current {
            Some(c) if !req.rotate_secret => c.secret.clone(),
            _ => webhooks::new_secret(),
        },
        created_at: current
            .as_ref()
            .map(|c| c.created_at.clone())
            .unwrap_or_else(|| now.clone()),
        updated_at: now,
    };
    let created = app.store.put_webhook(&record).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        axum::Json(webhooks::destination(&record, fresh_secret)),
    )
        .into_response())
}

async fn get_one(
    State(app): State<App>,
    SdkAuth(who): SdkAuth,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let w = target(&app, &who, path).await?;
    let record = app
        .store
        .webhook(&w.id)
        .await?
        .ok_or_else(|| no_webhook(&w))?;
    Ok(axum::Json(webhooks::destination(&record, false)).into_response())
}

async fn delete(
    State(app): State<App>,
    SdkAuth(who): SdkAuth,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let w = target(&app, &who, path).await?;
    if !app.store.delete_webhook(&w.id).await? {
        return Err(no_webhook(&w));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn test(
    State(app): State<App>,
    SdkAuth(who): SdkAuth,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let w = target(&app, &who, path).await?;
    let record = app
        .store
        .webhook(&w.id)
        .await?
        .ok_or_else(|| no_webhook(&w))?;
    Ok(axum::Json(app.webhooks.ping(&record).await).into_response())
}

async fn deliveries(
    State(app): State<App>,
    SdkAuth(who): SdkAuth,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let w = target(&app, &who, path).await?;
    let items: Vec<Value> = app
        .store
        .list_deliveries(&w.id, LISTED)
        .await?
        .into_iter()
        .map(|d| {
            json!({
                "id": d.id,
                "job_id": d.job_id,
                "event": d.event,
                "url": d.url,
                "state": d.state.as_str(),
                "attempts": d.attempts,
                "last_status": d.last_status,
                "last_error": d.last_error,
                "created_at": d.created_at,
                "updated_at": d.updated_at,
            })
        })
        .collect();
    Ok(axum::Json(items).into_response())
}
