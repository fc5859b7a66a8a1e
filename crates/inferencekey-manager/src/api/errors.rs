//! Every error the Manager answers, in the documented body
//! `{"error": {"code", "message", "field"?}}` (CONTRACT.md §2) — including the ones axum
//! would otherwise answer in plain text (bad paths, bad queries, oversized bodies, unknown
//! routes, wrong methods).

use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use inferencekey_core::error::FieldError;
use inferencekey_core::token::scrub;
use inferencekey_core::wire::ErrorBody;

use crate::store::StoreError;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// Seconds, sent as `Retry-After`.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "validation_failed", message).with_field(field)
    }

    /// A 400 for a body that is not what the route expects, with no single field to blame.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "validation_failed", message)
    }

    /// Every problem in the message; the first one's path in `field`.
    pub fn from_problems(problems: &[FieldError]) -> Self {
        let message = problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        let mut err = ApiError::bad_request(message);
        err.field = problems.first().map(|p| p.field.clone());
        err
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    pub fn wrong_credential_type(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "wrong_credential_type", message)
    }

    pub fn project_scope_mismatch(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "project_scope_mismatch", message)
    }

    pub fn scope_insufficient(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "scope_insufficient", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn payload_too_large(limit: usize) -> Self {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "the request body is over this route's limit of {} MiB; send less per request",
                limit >> 20
            ),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", message)
    }

    /// Maps a body rejection, keeping 413 for oversized bodies.
    pub fn from_body_rejection(r: BytesRejection, limit: usize) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::payload_too_large(limit)
        } else {
            ApiError::bad_request(format!(
                "could not read the request body: {}",
                r.body_text()
            ))
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::bad_request(format!("invalid path: {}", r.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::bad_request(format!("invalid query string: {}", r.body_text()))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if let StoreError::Unavailable(detail) = &e {
            return ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                format!(
                    "the Manager cannot write its store ({detail}); changes fail until the \
                     operator frees disk space (SQLite) or brings the database back \
                     (PostgreSQL); retry later"
                ),
            )
            .with_retry_after(5);
        }
        tracing::error!(error = %e, "store failure");
        ApiError::internal("the Manager's store failed; see the Manager log")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Messages can quote user input; scrub so a pasted token never echoes back whole.
        let body = ErrorBody::new(self.code, scrub(&self.message), self.field);
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// Path parameters whose rejection is the documented 400 (`validation_failed`, "invalid
/// path: …"), so a handler can order it among extractors that reject, such as the auth ones:
/// arguments are extracted left to right and the first rejection answers.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(value) = Path::<T>::from_request_parts(parts, state).await?;
        Ok(ApiPath(value))
    }
}

/// The fallback for paths no route matches.
pub async fn route_not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no route for {}", uri.path()))
}

/// The fallback for a known path with an unsupported method.
pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not supported on {}", uri.path()),
    )
}
