//! One error type for the whole SDK. Every binding maps [`ErrorKind`] to its own idiom
//! (Python exception classes, C status codes), so the kind is the contract, not the text.

use std::fmt;
use std::time::Duration;

use crate::domain::plan::Plan;

/// What went wrong, at the granularity a caller branches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Local misconfiguration: missing token/project, secret in a spec, bad option.
    Configuration,
    /// A field is invalid (locally or 400/422 from the server).
    Validation,
    /// `OnDrift::Fail` found drift; the error carries the plan.
    Drift,
    /// 401: token missing, malformed, unknown, revoked or expired.
    Auth,
    /// 403: wrong plane, wrong project or insufficient scope (`code` says which).
    PermissionDenied,
    /// 404.
    NotFound,
    /// 409.
    Conflict,
    /// 429.
    RateLimited,
    /// 5xx.
    Server,
    /// The connection could not be made or broke.
    Connection,
    /// A deadline passed (connect, read-idle or total).
    Timeout,
    /// The server answered something we cannot understand: bad JSON, a stream cut short,
    /// an oversized SSE event, an in-band stream error.
    Protocol,
    /// Any other HTTP status.
    Http,
}

impl ErrorKind {
    /// Every kind: the one table the bindings' error lists (C status codes, Python exception
    /// classes, Go kinds) are checked against by their tests. A cancelled call is not a kind:
    /// each language cancels in its own idiom (Python's `KeyboardInterrupt`, a dropped Go
    /// context), so the core never reports one.
    pub const ALL: [ErrorKind; 13] = [
        ErrorKind::Configuration,
        ErrorKind::Validation,
        ErrorKind::Drift,
        ErrorKind::Auth,
        ErrorKind::PermissionDenied,
        ErrorKind::NotFound,
        ErrorKind::Conflict,
        ErrorKind::RateLimited,
        ErrorKind::Server,
        ErrorKind::Connection,
        ErrorKind::Timeout,
        ErrorKind::Protocol,
        ErrorKind::Http,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Configuration => "configuration",
            ErrorKind::Validation => "validation",
            ErrorKind::Drift => "drift",
            ErrorKind::Auth => "auth",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Server => "server",
            ErrorKind::Connection => "connection",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Http => "http",
        }
    }

    /// The kind named `name` (its [`ErrorKind::as_str`]).
    pub fn from_name(name: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The kind an HTTP error status maps to (docs/contract.md, "Errors").
    pub fn from_status(status: u16) -> ErrorKind {
        match status {
            400 | 422 => ErrorKind::Validation,
            401 => ErrorKind::Auth,
            403 => ErrorKind::PermissionDenied,
            404 => ErrorKind::NotFound,
            409 => ErrorKind::Conflict,
            429 => ErrorKind::RateLimited,
            500..=599 => ErrorKind::Server,
            _ => ErrorKind::Http,
        }
    }
}

/// One problem with one field, found by validation. `field` is a JSON-ish path such as
/// `execution_policy_config.workers.cloud_pool.gpu_pool`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// The SDK's error. Messages never contain a secret: callers pass redacted tokens only.
/// Boxed so that `Result<T, Error>` stays one pointer wide on the happy path; fields are
/// reached through `Deref` (`err.kind`, `err.code = …`).
#[derive(Clone)]
pub struct Error(Box<ErrorData>);

/// The fields of an [`Error`].
#[derive(Debug, Clone)]
pub struct ErrorData {
    pub kind: ErrorKind,
    pub status: Option<u16>,
    pub code: Option<String>,
    pub message: String,
    /// The first offending field, for validation errors.
    pub field: Option<String>,
    /// Every offending field, when local validation found several.
    pub problems: Vec<FieldError>,
    pub request_id: Option<String>,
    /// The error response's headers (empty when no response arrived).
    pub headers: crate::domain::result::Headers,
    pub retry_after: Option<Duration>,
    /// For [`ErrorKind::Drift`]: what `ensure()` would have changed.
    pub plan: Option<Plan>,
}

impl std::ops::Deref for Error {
    type Target = ErrorData;
    fn deref(&self) -> &ErrorData {
        &self.0
    }
}

impl std::ops::DerefMut for Error {
    fn deref_mut(&mut self) -> &mut ErrorData {
        &mut self.0
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error(Box::new(ErrorData {
            kind,
            status: None,
            code: None,
            message: message.into(),
            field: None,
            problems: Vec::new(),
            request_id: None,
            headers: Default::default(),
            retry_after: None,
            plan: None,
        }))
    }

    pub fn configuration(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Configuration, message).with_code("configuration_error")
    }

    pub fn protocol(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Protocol, message)
    }

    /// A validation error listing every problem; the first names `.field`.
    pub fn validation(problems: Vec<FieldError>) -> Self {
        let message = problems
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join("; ");
        let mut err = Error::new(ErrorKind::Validation, message).with_code("validation_failed");
        err.field = problems.first().map(|p| p.field.clone());
        err.problems = problems;
        err
    }

    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn with_request_id(mut self, request_id: Option<String>) -> Self {
        self.request_id = request_id;
        self
    }

    /// The documented message prefix for this kind (docs/contract.md §2), so text is greppable
    /// and identical across bindings.
    fn prefix(&self) -> String {
        match self.kind {
            ErrorKind::PermissionDenied => format!(
                "permission denied [{}]",
                self.code.as_deref().unwrap_or("forbidden")
            ),
            ErrorKind::Auth => "authentication failed".into(),
            ErrorKind::Validation => "validation error".into(),
            ErrorKind::Drift => "drift detected".into(),
            ErrorKind::Configuration => "configuration error".into(),
            ErrorKind::NotFound => "not found".into(),
            ErrorKind::Conflict => "conflict".into(),
            ErrorKind::RateLimited => "rate limited".into(),
            ErrorKind::Server => "server error".into(),
            ErrorKind::Connection => "connection error".into(),
            ErrorKind::Timeout => "timed out".into(),
            ErrorKind::Protocol => "protocol error".into(),
            ErrorKind::Http => "http error".into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.prefix(), self.message)?;
        if let Some(status) = self.status {
            write!(f, " (HTTP {status}")?;
            if let Some(id) = &self.request_id {
                write!(f, ", request id {id}")?;
            }
            write!(f, ")")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_complete_and_names_are_unique() {
        for kind in ErrorKind::ALL {
            // A new variant missing from ALL fails to compile here: the match is exhaustive.
            let listed = match kind {
                ErrorKind::Configuration
                | ErrorKind::Validation
                | ErrorKind::Drift
                | ErrorKind::Auth
                | ErrorKind::PermissionDenied
                | ErrorKind::NotFound
                | ErrorKind::Conflict
                | ErrorKind::RateLimited
                | ErrorKind::Server
                | ErrorKind::Connection
                | ErrorKind::Timeout
                | ErrorKind::Protocol
                | ErrorKind::Http => true,
            };
            assert!(listed);
            assert_eq!(ErrorKind::from_name(kind.as_str()), Some(kind));
        }
        let names: std::collections::BTreeSet<_> =
            ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), ErrorKind::ALL.len());
    }
}
