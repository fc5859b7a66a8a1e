//! Client configuration: options, timeouts, retry policy, and the environment rules of
//! CONTRACT.md §1 (explicit argument > environment > spec; values trimmed; blank = absent).

use std::fmt;
use std::time::Duration;

use crate::error::Error;
use crate::token::{redact, TokenKind};

pub const DEFAULT_BASE_URL: &str = "https://api.inferencekey.com";
pub const ENV_BASE_URL: &str = "INFERENCEKEY_BASE_URL";
pub const ENV_PROJECT: &str = "INFERENCEKEY_PROJECT";
pub const ENV_SDK_TOKEN: &str = "INFERENCEKEY_SDK_TOKEN";
pub const ENV_API_KEY: &str = "INFERENCEKEY_API_KEY";

/// A token held by a client. `Debug` and `Display` show only the redacted form, so a client
/// or an options struct can be logged safely.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(raw: impl Into<String>) -> Self {
        Secret(raw.into())
    }

    /// The raw token, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn redacted(&self) -> String {
        redact(&self.0)
    }

    pub fn kind(&self) -> Option<TokenKind> {
        TokenKind::of(&self.0)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Deadlines. `read` is an idle timeout: the longest wait for the next response bytes (and,
/// for streams, for the next *event* — keep-alive comments do not reset it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timeouts {
    pub connect: Duration,
    pub read: Duration,
    /// Whole-call deadline including retries; `None` = no overall limit.
    pub total: Option<Duration>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            read: Duration::from_secs(120),
            total: None,
        }
    }
}

/// Retries with exponential backoff and full jitter, honouring `Retry-After` up to a cap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// The longest `Retry-After` we honour; a server asking for more gets this.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..Default::default()
        }
    }

    /// The wait before retry number `attempt` (1-based): the server's `Retry-After` when it
    /// gave one (capped), else exponential backoff with full jitter.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(ra) = retry_after {
            return ra.min(self.max_retry_after);
        }
        let exp = self
            .initial_backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let cap = exp.min(self.max_backoff);
        let jitter: f64 = rand::random();
        cap.mul_f64(0.5 + jitter * 0.5)
    }
}

/// Options shared by both clients.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub timeouts: Timeouts,
    pub retry: RetryPolicy,
    /// The binding's language, sent as `User-Agent: inferencekey-<lang>/<version>`.
    pub language: String,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
            language: "rust".into(),
        }
    }
}

/// Per-call overrides of the client's options.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallOptions {
    pub timeouts: Option<Timeouts>,
    pub retry: Option<RetryPolicy>,
}

/// Reads an environment variable, trimmed; blank means absent.
pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// An explicit value, trimmed (blank = absent), else the environment variable.
pub fn resolve(explicit: Option<&str>, env: &str) -> Option<String> {
    explicit
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .or_else(|| env_var(env))
}

/// The base URL without a trailing slash; must be http(s).
pub fn resolve_base_url(explicit: Option<&str>) -> Result<String, Error> {
    let url = resolve(explicit, ENV_BASE_URL).unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
    let url = url.trim_end_matches('/').to_string();
    match reqwest::Url::parse(&url) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host().is_some() => Ok(url),
        _ => Err(Error::configuration(format!(
            "base_url {url:?} is not an http(s) URL; set {ENV_BASE_URL} or pass base_url=\"http://127.0.0.1:PORT\""
        ))
        .with_field("base_url")),
    }
}

/// Checks a token belongs to the plane the client serves, before any request is made.
pub fn check_token(raw: &str, want: TokenKind, field: &str) -> Result<Secret, Error> {
    let secret = Secret::new(raw.trim());
    match secret.kind() {
        Some(kind) if kind == want => Ok(secret),
        Some(other) => {
            let (client, expected) = match want {
                TokenKind::Sdk => ("ManagementClient", "an ik_sdk_ control token"),
                TokenKind::Live => ("a data endpoint", "an ik_live_ data key"),
                TokenKind::Admin => ("the admin API", "an ik_admin_ token"),
            };
            Err(Error::new(
                crate::error::ErrorKind::PermissionDenied,
                format!(
                    "{client} needs {expected}, but {} is an {} token; control tokens provision, data keys call inference",
                    secret.redacted(),
                    other.prefix()
                ),
            )
            .with_code("wrong_credential_type")
            .with_field(field))
        }
        None => Err(Error::configuration(format!(
            "{field} {} is not an InferenceKey token (expected it to start with {})",
            secret.redacted(),
            want.prefix()
        ))
        .with_field(field)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn wrong_plane_is_refused_locally() {
        let e = check_token("ik_live_abcdefgh_xyz", TokenKind::Sdk, "sdk_token").unwrap_err();
        assert_eq!(e.kind, ErrorKind::PermissionDenied);
        assert_eq!(e.code.as_deref(), Some("wrong_credential_type"));
        assert!(e
            .to_string()
            .starts_with("permission denied [wrong_credential_type]"));
        assert!(!e.to_string().contains("xyz"));
        let e = check_token("sk-openai", TokenKind::Live, "api_key").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Configuration);
        assert!(check_token(" ik_sdk_a_b ", TokenKind::Sdk, "sdk_token").is_ok());
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::new("ik_sdk_abcdefghijkl_supersecret");
        assert_eq!(format!("{s:?}"), "ik_sdk_abcdefgh…");
    }

    #[test]
    fn backoff_is_capped() {
        let p = RetryPolicy::default();
        for attempt in 1..20 {
            assert!(p.delay(attempt, None) <= p.max_backoff);
        }
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(3600))),
            p.max_retry_after
        );
    }

    #[test]
    fn base_url() {
        assert_eq!(
            resolve_base_url(Some(" http://127.0.0.1:8080/ ")).unwrap(),
            "http://127.0.0.1:8080"
        );
        assert!(resolve_base_url(Some("ftp://x")).is_err());
        assert!(resolve_base_url(Some("not a url")).is_err());
    }
}
