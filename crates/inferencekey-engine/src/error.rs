//! OpenAI-style errors. Every failure the engine answers has the body
//! `{"error": {"message", "type", "param", "code"}}`, because that is what the OpenAI clients
//! (and our SDK) parse; axum's own plain-text rejections are mapped into it.

use axum::extract::multipart::MultipartError;
use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answer: status, the OpenAI `type`, a message that names the problem and the fix,
/// and the offending request field when there is one.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub message: String,
    pub param: Option<String>,
    pub code: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind: kind_for(status),
            message: message.into(),
            param: None,
            code: None,
        }
    }

    /// A 400 about one request field.
    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            param: Some(param.into()),
            ..ApiError::new(StatusCode::BAD_REQUEST, message)
        }
    }

    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    pub fn with_kind(mut self, kind: &'static str) -> Self {
        self.kind = kind;
        self
    }

    /// The JSON body, also used as the in-band error frame of a stream.
    pub fn body(&self) -> serde_json::Value {
        json!({"error": {
            "message": self.message,
            "type": self.kind,
            "param": self.param,
            "code": self.code,
        }})
    }
}

/// The OpenAI error `type` clients expect for a status.
fn kind_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        500..=599 => "server_error",
        _ => "invalid_request_error",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, axum::Json(self.body())).into_response();
        // Clients back off on these; a hint keeps retry tests fast and deterministic.
        if matches!(self.status.as_u16(), 429 | 503) {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}

impl From<BytesRejection> for ApiError {
    fn from(r: BytesRejection) -> Self {
        let status = r.status();
        let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
            format!(
                "request body is larger than the engine's limit of {} MiB; send less data per request",
                crate::BODY_LIMIT >> 20
            )
        } else {
            format!("could not read the request body: {}", r.body_text())
        };
        ApiError::new(status, message)
    }
}

impl From<MultipartRejection> for ApiError {
    fn from(r: MultipartRejection) -> Self {
        ApiError::new(
            r.status(),
            format!(
                "this route takes a multipart/form-data body: {}",
                r.body_text()
            ),
        )
    }
}

impl From<MultipartError> for ApiError {
    fn from(e: MultipartError) -> Self {
        let status = e.status();
        let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
            format!(
                "multipart body is larger than the engine's limit of {} MiB",
                crate::BODY_LIMIT >> 20
            )
        } else {
            format!("malformed multipart/form-data body: {}", e.body_text())
        };
        ApiError::new(status, message)
    }
}

pub(crate) async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "no route {} on the reference engine; it serves /v1/chat/completions, /v1/embeddings, \
             /v1/rerank, /v1/images/*, /v1/audio/*, /forecast, /v1/models and /health",
            uri.path()
        ),
    )
    .with_kind("invalid_request_error")
    .with_code("unknown_url")
}

pub(crate) async fn method_not_allowed(
    method: axum::http::Method,
    uri: axum::http::Uri,
) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{} is not allowed on {}", method, uri.path()),
    )
    .with_code("method_not_allowed")
}
