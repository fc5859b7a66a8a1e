//! Wire types decoded from the server (docs/contract.md §3.2) and error bodies (§2). Decoding is
//! tolerant: unknown fields are ignored, unknown enum strings kept, ids may be strings or
//! numbers, and the hosted platform's alternative shapes are accepted.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::domain::enums::{Backend, ExecutionPolicy, TaskType};
use crate::domain::error::{Error, ErrorKind};

/// An id the server may send as a string or a number; kept as a string.
fn id_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// A workload as the control plane returns it.
// With the `openapi` feature this is also the schema of the Manager's answer, which always
// sends the fields marked required and omits an absent optional one rather than send `null`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct Workload {
    #[serde(deserialize_with = "id_string")]
    #[cfg_attr(feature = "openapi", schema(required = true, nullable = false))]
    pub id: Option<String>,
    #[serde(deserialize_with = "id_string")]
    #[cfg_attr(feature = "openapi", schema(required = true, nullable = false))]
    pub project_id: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true, nullable = false))]
    pub project_slug: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true, nullable = false))]
    pub name: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true, nullable = false))]
    pub slug: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true, nullable = false))]
    pub workload_slug: Option<String>,
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub description: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true, nullable = false))]
    pub task_type: Option<TaskType>,
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub backend: Option<Backend>,
    #[cfg_attr(feature = "openapi", schema(required = true, nullable = false))]
    pub model_name: Option<String>,
    #[cfg_attr(
        feature = "openapi",
        schema(required = true, nullable = false, value_type = Object)
    )]
    pub config: Option<Value>,
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub worker_id: Option<String>,
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub gpu_resource_id: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true, nullable = false))]
    pub execution_policy: Option<ExecutionPolicy>,
    #[cfg_attr(
        feature = "openapi",
        schema(required = true, nullable = false, value_type = Object)
    )]
    pub execution_policy_config: Option<Value>,
    #[cfg_attr(
        feature = "openapi",
        schema(required = true, nullable = false, format = DateTime)
    )]
    pub created_at: Option<String>,
    #[cfg_attr(
        feature = "openapi",
        schema(required = true, nullable = false, format = DateTime)
    )]
    pub updated_at: Option<String>,
    /// Local Manager extension: the current readiness phase.
    #[cfg_attr(feature = "openapi", schema(nullable = false, schema_with = phase_schema))]
    pub status: Option<String>,
    /// Local Manager extension: what the phase means in words (e.g. which engine serves).
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub status_message: Option<String>,
    /// Fields this SDK version does not know, kept so callers still see them.
    #[serde(flatten)]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub extra: serde_json::Map<String, Value>,
}

/// The readiness phases (docs/contract.md §3.4), in order.
pub const PHASES: &[&str] = &[
    "scheduling",
    "provisioning",
    "bootstrapping",
    "ready",
    "error",
];

#[cfg(feature = "openapi")]
fn phase_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .description(Some(
            "Local Manager extension: the current readiness phase.",
        ))
        .enum_values(Some(PHASES.iter().copied()))
        .build()
}

impl Workload {
    /// The slug, whichever of `slug` / `workload_slug` the server sent.
    pub fn slug(&self) -> Option<&str> {
        self.slug.as_deref().or(self.workload_slug.as_deref())
    }

    /// A workload always has an id and a slug; anything else (`{}`, a chat answer from a
    /// misrouted request) must never be taken for one.
    pub fn check_is_workload(&self, what: &str) -> Result<(), Error> {
        let has = |v: Option<&str>| v.is_some_and(|s| !s.trim().is_empty());
        if has(self.id.as_deref()) && has(self.slug()) {
            return Ok(());
        }
        Err(Error::protocol(format!(
            "{what} is not a workload (no id or slug): the base URL may not point at an \
             InferenceKey control plane"
        ))
        .with_code("not_a_workload"))
    }
}

fn required_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Workload>>, D::Error> {
    Option::<Vec<Workload>>::deserialize(d)
}

/// Decodes a list answer: a JSON array, `{"workloads": [...]}`, or `null` (= empty). Any other
/// object (a chat answer, `{}`) is not a list; every item must be a workload.
pub fn decode_workload_list(body: &[u8]) -> Result<Vec<Workload>, Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListShape {
        Array(Vec<Workload>),
        // `deserialize_with` without `default` makes the key required.
        Wrapped {
            #[serde(deserialize_with = "required_list")]
            workloads: Option<Vec<Workload>>,
        },
        Null(()),
    }
    let list = match serde_json::from_slice::<ListShape>(body) {
        Ok(ListShape::Array(v)) => v,
        Ok(ListShape::Wrapped { workloads }) => workloads.unwrap_or_default(),
        Ok(ListShape::Null(())) => Vec::new(),
        Err(e) => {
            return Err(Error::protocol(format!(
                "could not decode the workload list: {e}"
            )))
        }
    };
    for w in &list {
        w.check_is_workload("an item of the workload list")?;
    }
    Ok(list)
}

/// Decodes one workload; an answer without a workload's `id` and slug is not one.
pub fn decode_workload(body: &[u8]) -> Result<Workload, Error> {
    let w: Workload = serde_json::from_slice(body)
        .map_err(|e| Error::protocol(format!("could not decode the workload: {e}")))?;
    w.check_is_workload("the answer")?;
    Ok(w)
}

/// One frame of the readiness stream.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct ReadinessEvent {
    pub phase: String,
    pub message: String,
    pub elapsed_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
}

impl ReadinessEvent {
    /// `ready` and `error` end the stream.
    pub fn is_terminal(&self) -> bool {
        self.phase == "ready" || self.phase == "error"
    }
}

/// The Manager's error body (docs/contract.md §2).
// `deny_unknown_fields` only shapes the OpenAPI schema (no other key is ever sent); the type
// is never decoded.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ErrorDetail {
    /// validation_failed, unauthenticated, wrong_credential_type, project_scope_mismatch,
    /// scope_insufficient, not_found, method_not_allowed, slug_conflict,
    /// idempotency_key_in_use, idempotency_key_reused, payload_too_large, rate_limited,
    /// workload_not_ready, backend_unavailable
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub code: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub message: String,
    /// JSON path of the offending field
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub field: Option<String>,
}

impl ErrorBody {
    pub fn new(code: impl Into<String>, message: impl Into<String>, field: Option<String>) -> Self {
        ErrorBody {
            error: ErrorDetail {
                code: code.into(),
                message: message.into(),
                field,
            },
        }
    }
}

/// Longest raw body text quoted in an error message.
const MAX_QUOTED_BODY: usize = 500;

/// Turns an HTTP error answer into an [`Error`]. Accepts the nested form
/// `{"error": {"code", "message", "field"}}`, the flat form `{"error": "<code>"}` (plus an
/// optional top-level `message`), OpenAI's `{"error": {"message", "type"}}`, and falls back to
/// the raw body text.
pub fn error_from_response(status: u16, body: &[u8], request_id: Option<String>) -> Error {
    let kind = ErrorKind::from_status(status);
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let (mut code, mut message, mut field) = (None, None, None);
    if let Some(Value::Object(obj)) = &parsed {
        match obj.get("error") {
            Some(Value::Object(e)) => {
                code = e
                    .get("code")
                    .and_then(Value::as_str)
                    .or_else(|| e.get("type").and_then(Value::as_str))
                    .map(str::to_string);
                message = e.get("message").and_then(Value::as_str).map(str::to_string);
                field = e
                    .get("field")
                    .or_else(|| e.get("param"))
                    .and_then(Value::as_str)
                    .map(str::to_string);
            }
            Some(Value::String(c)) => {
                code = Some(c.clone());
                message = obj
                    .get("message")
                    .or_else(|| obj.get("detail"))
                    .and_then(Value::as_str)
                    .map(str::to_string);
            }
            _ => {
                message = obj
                    .get("message")
                    .or_else(|| obj.get("detail"))
                    .and_then(Value::as_str)
                    .map(str::to_string);
            }
        }
    }
    let nonblank = |s: &Option<String>| s.clone().filter(|m| !m.trim().is_empty());
    let code = nonblank(&code).map(|c| crate::domain::token::scrub(&c));
    let message = nonblank(&message)
        .or_else(|| code.clone())
        .unwrap_or_else(|| {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() {
                format!("HTTP {status}")
            } else {
                text.chars().take(MAX_QUOTED_BODY).collect()
            }
        });
    let mut err = Error::new(kind, crate::domain::token::scrub(&message))
        .with_status(status)
        .with_request_id(request_id);
    err.code = code;
    err.field = field;
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerant_workload() {
        let w = decode_workload(
            br#"{"id": 42, "slug": "a", "task_type": "text2hologram", "backend": "my-engine",
                 "execution_policy": "burst", "brand_new_field": {"x": 1}, "config": null}"#,
        )
        .unwrap();
        assert_eq!(w.id.as_deref(), Some("42"));
        assert_eq!(w.task_type, Some(TaskType::Other("text2hologram".into())));
        assert_eq!(w.backend, Some(Backend::Custom("my-engine".into())));
        assert_eq!(
            w.execution_policy,
            Some(ExecutionPolicy::Other("burst".into()))
        );
        assert_eq!(w.config, None);
        assert_eq!(w.extra["brand_new_field"]["x"], 1);
    }

    #[test]
    fn list_shapes() {
        assert_eq!(decode_workload_list(b"null").unwrap().len(), 0);
        assert_eq!(decode_workload_list(b"[]").unwrap().len(), 0);
        assert_eq!(
            decode_workload_list(br#"{"workloads": [{"id": 7, "slug": "a"}]}"#).unwrap()[0].slug(),
            Some("a")
        );
        // Not a workload list, and not a workload: a chat answer, `{}`, an id-less item.
        for body in [
            &br#"{}"#[..],
            br#"{"choices": [{"message": {"content": "hi"}}]}"#,
            br#"[{"slug": "a"}]"#,
        ] {
            let e = decode_workload_list(body).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Protocol, "{e}");
        }
        for body in [
            &br#"{}"#[..],
            br#"{"object": "chat.completion", "id": "x"}"#,
        ] {
            let e = decode_workload(body).unwrap_err();
            assert_eq!(e.code.as_deref(), Some("not_a_workload"), "{e}");
        }
        assert_eq!(
            decode_workload_list(br#"{"workloads": null}"#)
                .unwrap()
                .len(),
            0
        );
        assert!(decode_workload_list(b"<html>").is_err());
    }

    #[test]
    fn error_forms() {
        let e = error_from_response(
            400,
            br#"{"error": {"code": "validation_failed", "message": "bad", "field": "execution_policy_config.max_hourly_cost_usd"}}"#,
            Some("req-1".into()),
        );
        assert_eq!(e.kind, ErrorKind::Validation);
        assert_eq!(
            e.field.as_deref(),
            Some("execution_policy_config.max_hourly_cost_usd")
        );
        assert_eq!(e.request_id.as_deref(), Some("req-1"));

        let e = error_from_response(403, br#"{"error": "wrong_credential_type"}"#, None);
        assert_eq!(e.kind, ErrorKind::PermissionDenied);
        assert_eq!(e.code.as_deref(), Some("wrong_credential_type"));
        assert!(e
            .to_string()
            .starts_with("permission denied [wrong_credential_type]"));

        let e = error_from_response(502, b"Bad Gateway", None);
        assert_eq!(e.kind, ErrorKind::Server);
        assert_eq!(e.message, "Bad Gateway");

        let e = error_from_response(401, b"", None);
        assert_eq!(e.message, "HTTP 401");
    }

    #[test]
    fn error_text_never_echoes_a_token() {
        let e = error_from_response(
            401,
            br#"{"error": {"code": "unauthenticated", "message": "unknown token ik_live_abcdefghij_SECRETSECRET"}}"#,
            None,
        );
        assert!(!e.message.contains("SECRET"), "{}", e.message);
        assert!(e.message.contains("ik_live_abcdefgh…"));
    }
}
