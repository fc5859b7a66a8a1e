//! The HTTP surface: control plane (`/api`), admin API (`/admin`), agent API (`/agent`) and
//! their shared errors.

pub mod admin;
pub mod agent;
pub mod control;
pub mod custom_backend;
pub mod errors;
pub mod webhook;
pub mod workload;

use serde_json::{Map, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::App;
use errors::ApiError;

/// The documented `/api`, `/admin` and `/agent` routes with their OpenAPI operations: the control
/// plane, the admin API and the document itself ([`crate::openapi`]). The dashboard is not
/// part of the document (its `/dashboard/...` routes and `POST /admin/dashboard/login-codes`)
/// and is merged by the server.
pub fn router() -> OpenApiRouter<App> {
    control::router()
        .merge(webhook::router())
        .merge(custom_backend::router())
        .merge(admin::router())
        .merge(agent::router())
        .routes(routes!(crate::openapi::serve))
}

/// Request body limit on `/api` and `/admin`.
pub const API_BODY_LIMIT: usize = 1 << 20;

/// The body as a JSON object, or a 400 saying what is wrong with it.
pub fn json_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "the request body is empty; send a JSON object",
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::bad_request(
            "the request body must be a JSON object",
        )),
        Err(e) => Err(ApiError::bad_request(format!(
            "the request body is not valid JSON: {e}"
        ))),
    }
}
