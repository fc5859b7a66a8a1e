//! Client configuration from arguments and the environment (docs/contract.md, "Configuration"):
//! explicit argument > environment > spec; values trimmed; blank = absent.

use serde::Deserialize;

use crate::domain::decode::{Retries, Seconds};
use crate::domain::error::{Error, ErrorKind};
use crate::domain::token::TokenKind;

// Where these lived before the core was layered; kept so `inferencekey_core::config::…` paths
// in other crates keep compiling.
pub use crate::domain::token::Secret;
pub use crate::transport::options::{CallOptions, ClientOptions, RetryPolicy, Timeouts};

pub const DEFAULT_BASE_URL: &str = "https://api.inferencekey.com";
pub const ENV_BASE_URL: &str = "INFERENCEKEY_BASE_URL";
pub const ENV_PROJECT: &str = "INFERENCEKEY_PROJECT";
pub const ENV_SDK_TOKEN: &str = "INFERENCEKEY_SDK_TOKEN";
pub const ENV_API_KEY: &str = "INFERENCEKEY_API_KEY";
/// The tenant custom backends are published to (docs/contract.md §7).
pub const ENV_TENANT: &str = "INFERENCEKEY_TENANT";

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
                TokenKind::Worker => ("a worker agent", "an ik_worker_ token"),
            };
            Err(Error::new(
                ErrorKind::PermissionDenied,
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

/// Declares a client's settings struct: the shared fields plus the client's token field,
/// so the two clients cannot drift apart on the shared ones.
macro_rules! settings {
    ($(#[$doc:meta])* $name:ident, $token:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            pub base_url: Option<String>,
            pub project: Option<String>,
            pub $token: Option<String>,
            /// The default total deadline of every call.
            pub timeout: Option<Seconds>,
            pub connect_timeout: Option<Seconds>,
            /// The idle timeout: the longest wait for the next bytes or stream event.
            pub read_timeout: Option<Seconds>,
            pub max_retries: Option<Retries>,
            /// The binding's language, for `User-Agent` (`python`, `go`, `c`).
            pub language: Option<String>,
        }

        impl $name {
            /// The transport options these settings describe, defaults filled in.
            pub fn options(&self, default_language: &str) -> Result<ClientOptions, Error> {
                options(
                    self.timeout,
                    self.connect_timeout,
                    self.read_timeout,
                    self.max_retries,
                    self.language.as_deref().unwrap_or(default_language),
                )
            }
        }
    };
}

settings!(
    /// How a `ManagementClient` is configured; every field falls back to the environment.
    ManagementSettings,
    sdk_token
);
settings!(
    /// How a `DataClient` is configured; `api_key` is the default key of its endpoints.
    DataSettings,
    api_key
);

fn options(
    timeout: Option<Seconds>,
    connect: Option<Seconds>,
    read: Option<Seconds>,
    retries: Option<Retries>,
    language: &str,
) -> Result<ClientOptions, Error> {
    if language.is_empty() || !language.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Error::configuration(
            "language must be a short ASCII name such as \"go\" (it goes into User-Agent)",
        )
        .with_field("language"));
    }
    let mut o = ClientOptions {
        language: language.to_string(),
        ..Default::default()
    };
    if let Some(c) = connect {
        o.timeouts.connect = c.0;
    }
    if let Some(r) = read {
        o.timeouts.read = r.0;
    }
    o.timeouts.total = timeout.map(|t| t.0);
    if let Some(n) = retries {
        o.retry.max_retries = n.0;
    }
    Ok(o)
}

/// The options of an endpoint built from a `DataClient`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointSettings {
    pub api_key: Option<String>,
    pub project: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::decode::{decode, field_names, no_hint, Role};
    use serde_json::json;

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

    /// A token of any other kind, a worker agent's included, is refused by both clients before
    /// a request, with the code and the field and without its secret.
    #[test]
    fn every_other_kind_is_refused_by_both_clients() {
        for (want, field) in [(TokenKind::Sdk, "sdk_token"), (TokenKind::Live, "api_key")] {
            for kind in TokenKind::ALL.into_iter().filter(|k| *k != want) {
                let raw = format!("{}abcdefghij_S3cretS3cret", kind.prefix());
                let e = check_token(&raw, want, field).unwrap_err();
                assert_eq!(e.kind, ErrorKind::PermissionDenied, "{kind:?}");
                assert_eq!(e.code.as_deref(), Some("wrong_credential_type"));
                assert_eq!(e.field.as_deref(), Some(field));
                let text = e.to_string();
                assert!(
                    text.contains(&format!("{}abcdefgh…", kind.prefix())),
                    "{text}"
                );
                assert!(!text.contains("S3cret"), "{text}");
            }
        }
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
    #[test]
    fn settings_bounds() {
        for (v, field) in [
            (json!({"timeout": 1e300}), "timeout"),
            (json!({"read_timeout": 0}), "read_timeout"),
            (json!({"max_retries": 1000}), "max_retries"),
            (json!({"api_key": "x"}), "api_key"),
        ] {
            let e =
                decode::<ManagementSettings>(v, "options", Role::Settings, no_hint).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Configuration);
            assert_eq!(e.field.as_deref(), Some(field));
        }
        let s: DataSettings = decode(
            json!({"read_timeout": 2, "max_retries": 0, "api_key": "ik_live_a_b"}),
            "options",
            Role::Settings,
            no_hint,
        )
        .unwrap();
        let o = s.options("python").unwrap();
        assert_eq!(o.timeouts.read.as_secs(), 2);
        assert_eq!(o.retry.max_retries, 0);
        assert_eq!(o.language, "python");
        assert!(field_names::<DataSettings>().contains(&"api_key"));
    }
}
