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
use inferencekey_core::webhook::{
    WebhookDestination, WebhookDestinationRequest, WebhookTestResult,
};
use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::{Object, ObjectBuilder, Type};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::control::{project_for, workload_by_slug};
use super::errors::ApiError;
use super::{json_object, API_BODY_LIMIT};
use crate::auth::{Identity, SdkAuth};
use crate::openapi::{DeleteErrors, ReadErrors, UpdateErrors, WebhookPath};
use crate::state::{App, AppState};
use crate::store::{DeliveryRecord, DeliveryState, WebhookRecord, WorkloadRecord};
use crate::util::now_rfc3339;
use crate::webhooks;

/// Deliveries `GET …/deliveries` lists.
const LISTED: usize = 100;

/// The webhook routes, each registered with its OpenAPI operation (crate::openapi).
pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(get_one, put, delete))
        .routes(routes!(test))
        .routes(routes!(deliveries))
}

/// One delivery of the workload's outbox, as `GET …/webhook/deliveries` lists it.
// Fields in alphabetical order: the order the answer has always been written in.
#[derive(Serialize, ToSchema)]
#[schema(as = WebhookDelivery)]
pub struct DeliveryView<'a> {
    attempts: u32,
    created_at: &'a str,
    #[schema(schema_with = event_schema)]
    event: &'a str,
    id: &'a str,
    job_id: &'a str,
    last_error: Option<&'a str>,
    last_status: Option<u16>,
    #[schema(schema_with = state_schema)]
    state: &'static str,
    updated_at: &'a str,
    url: &'a str,
}

fn event_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["job", "ping"]))
        .build()
}

fn state_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(
            [
                DeliveryState::Pending,
                DeliveryState::Delivered,
                DeliveryState::Failed,
            ]
            .map(DeliveryState::as_str),
        ))
        .build()
}

impl<'a> From<&'a DeliveryRecord> for DeliveryView<'a> {
    fn from(d: &'a DeliveryRecord) -> Self {
        DeliveryView {
            attempts: d.attempts,
            created_at: &d.created_at,
            event: &d.event,
            id: &d.id,
            job_id: &d.job_id,
            last_error: d.last_error.as_deref(),
            last_status: d.last_status,
            state: d.state.as_str(),
            updated_at: &d.updated_at,
            url: &d.url,
        }
    }
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

#[utoipa::path(
    put,
    path = "/api/projects/{project}/workloads/{workload}/webhook",
    operation_id = "setWebhook",
    tag = "webhooks",
    security(("sdkToken" = [])),
    params(WebhookPath),
    request_body(content = WebhookDestinationRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Updated (the secret shown only with rotate_secret)",
         body = WebhookDestination),
        (status = 201, description = "Created; the only answer with the secret",
         body = WebhookDestination),
        UpdateErrors,
    ),
)]
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

#[utoipa::path(
    get,
    path = "/api/projects/{project}/workloads/{workload}/webhook",
    operation_id = "getWebhook",
    tag = "webhooks",
    security(("sdkToken" = [])),
    params(WebhookPath),
    responses(
        (status = 200, description = "The destination; the secret redacted",
         body = WebhookDestination),
        ReadErrors,
    ),
)]
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

#[utoipa::path(
    delete,
    path = "/api/projects/{project}/workloads/{workload}/webhook",
    operation_id = "deleteWebhook",
    tag = "webhooks",
    security(("sdkToken" = [])),
    params(WebhookPath),
    responses((status = 204, description = "Deleted"), DeleteErrors),
)]
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

#[utoipa::path(
    post,
    path = "/api/projects/{project}/workloads/{workload}/webhook/test",
    operation_id = "testWebhook",
    tag = "webhooks",
    security(("sdkToken" = [])),
    params(WebhookPath),
    responses(
        (status = 200, description = "One signed ping sent, not retried",
         body = WebhookTestResult),
        ReadErrors,
    ),
)]
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

#[utoipa::path(
    get,
    path = "/api/projects/{project}/workloads/{workload}/webhook/deliveries",
    operation_id = "listWebhookDeliveries",
    tag = "webhooks",
    security(("sdkToken" = [])),
    params(WebhookPath),
    responses(
        (status = 200, description = "The newest deliveries, newest first",
         body = Vec<DeliveryView>),
        ReadErrors,
    ),
)]
async fn deliveries(
    State(app): State<App>,
    SdkAuth(who): SdkAuth,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let w = target(&app, &who, path).await?;
    let rows = app.store.list_deliveries(&w.id, LISTED).await?;
    let items: Vec<DeliveryView<'_>> = rows.iter().map(DeliveryView::from).collect();
    Ok(axum::Json(items).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The typed list item writes the bytes the `json!` one it replaced wrote.
    #[test]
    fn delivery_view_keeps_the_bytes() {
        for (last_status, last_error) in [(None, None), (Some(500), Some("boom".to_string()))] {
            let d = DeliveryRecord {
                id: "dlv_1".into(),
                workload_id: "wl_1".into(),
                job_id: "job_1".into(),
                event: "job".into(),
                url: "http://127.0.0.1:9/hook".into(),
                body: Vec::new(),
                state: DeliveryState::Pending,
                attempts: 2,
                next_attempt_ms: 0,
                last_status,
                last_error,
                created_at: "2026-01-01T00:00:00Z".into(),
                updated_at: "2026-01-01T00:00:01Z".into(),
            };
            let old = json!({
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
            });
            assert_eq!(
                serde_json::to_string(&DeliveryView::from(&d)).unwrap(),
                serde_json::to_string(&old).unwrap()
            );
        }
    }
}
