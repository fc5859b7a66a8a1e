//! Client and call options from their JSON form. Keys and units match the Python binding's
//! keyword arguments (seconds as numbers), so docs carry over between languages.

use inferencekey_core::config::{CallOptions, ClientOptions, RetryPolicy, Timeouts};
use inferencekey_core::Error;

use crate::json::{Reader, Role};

/// Keys every client's options accept besides its token key.
const CLIENT_KEYS: [&str; 7] = [
    "base_url",
    "project",
    "timeout",
    "connect_timeout",
    "read_timeout",
    "max_retries",
    "language",
];

/// What both client constructors read.
pub struct ClientArgs {
    pub base_url: Option<String>,
    pub project: Option<String>,
    pub token: Option<String>,
    pub options: ClientOptions,
}

/// Parses a client's options; `token_key` is `sdk_token` or `api_key`.
pub fn client_args(text: Option<&str>, token_key: &'static str) -> Result<ClientArgs, Error> {
    let mut allowed = CLIENT_KEYS.to_vec();
    allowed.push(token_key);
    let mut r = Reader::parse(text, "options", Role::Options, &allowed)?;
    let mut timeouts = Timeouts::default();
    if let Some(c) = r.seconds("connect_timeout") {
        timeouts.connect = c;
    }
    if let Some(t) = r.seconds("read_timeout") {
        timeouts.read = t;
    }
    timeouts.total = r.seconds("timeout");
    let mut retry = RetryPolicy::default();
    if let Some(n) = r.u64("max_retries") {
        match u32::try_from(n) {
            Ok(n) if n <= 100 => retry.max_retries = n,
            _ => r.problem("max_retries", format!("must be at most 100, not {n}")),
        }
    }
    let language = r.string("language").unwrap_or_else(|| "c".into());
    if language.is_empty() || !language.bytes().all(|b| b.is_ascii_alphanumeric()) {
        r.problem(
            "language",
            "must be a short ASCII name such as \"go\" (it goes into User-Agent)",
        );
    }
    let args = ClientArgs {
        base_url: r.string("base_url"),
        project: r.string("project"),
        token: r.string(token_key),
        options: ClientOptions {
            timeouts,
            retry,
            language,
            ..ClientOptions::default()
        },
    };
    r.finish()?;
    Ok(args)
}

/// Per-call `timeout`: a total deadline for this call, retries included; the read timeout
/// shrinks to fit inside it.
pub fn call_options(r: &mut Reader, base: &ClientOptions) -> CallOptions {
    match r.seconds("timeout") {
        None => CallOptions::default(),
        Some(t) => CallOptions {
            timeouts: Some(Timeouts {
                total: Some(t),
                read: base.timeouts.read.min(t),
                ..base.timeouts
            }),
            retry: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use inferencekey_core::ErrorKind;

    #[test]
    fn parses_and_checks() {
        let a = client_args(
            Some(r#"{"base_url": "http://127.0.0.1:1", "timeout": 2.5, "max_retries": 0, "sdk_token": "ik_sdk_a_b"}"#),
            "sdk_token",
        )
        .unwrap();
        assert_eq!(a.options.retry.max_retries, 0);
        assert_eq!(a.options.timeouts.total.unwrap().as_millis(), 2500);
        assert_eq!(a.options.language, "c");
        let e = client_args(Some(r#"{"api_key": "x", "max_retries": -1}"#), "sdk_token")
            .err()
            .unwrap();
        assert_eq!(e.kind, ErrorKind::Configuration);
        assert_eq!(e.problems.len(), 2);
        assert_eq!(e.field.as_deref(), Some("api_key"));
    }
}
