//! What a caller asks of the SDK, as serde types every binding decodes into: the data-plane
//! requests (docs/contract.md, "Data plane"); the client settings are in `client::config`.
//! Each is the one declaration of its fields: Python's keyword arguments, the C ABI's JSON
//! keys and Go's struct tags are checked against these lists by tests.
//!
//! Unknown fields are refused (`deny_unknown_fields`), and bindings decode through
//! [`crate::domain::decode`], which turns serde's errors into field errors.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::domain::decode::{Retries, Seconds};
use crate::domain::enums::OnDrift;
use crate::domain::error::{Error, FieldError};

/// Declares a request or call-settings type: its own fields, then the per-call overrides
/// every such type ends with, `timeout` (this call's total deadline, retries included) and
/// `max_retries` (at most 100), neither of them part of a body; with `extra;` first, also
/// `extra` (body keys passed through verbatim, winning over the named fields). Implements
/// [`PerCall`]. A macro rather than a shared struct under `#[serde(flatten)]`, because serde
/// cannot refuse unknown fields (`deny_unknown_fields`) across a flatten.
macro_rules! call_type {
    (extra; $(#[$m:meta])* pub struct $name:ident { $($body:tt)* }) => {
        call_type! {
            $(#[$m])*
            pub struct $name {
                $($body)*
                /// Extra body keys, passed through verbatim (they win over the named fields).
                #[serde(default, skip_serializing)]
                pub extra: Option<Map<String, Value>>,
            }
        }
    };
    // `schema;` first: the type derives `utoipa::ToSchema` (feature `openapi`), whose schema
    // leaves the per-call overrides out.
    (schema; $(#[$m:meta])* pub struct $name:ident { $($body:tt)* }) => {
        call_type! {
            @emit [#[cfg_attr(feature = "openapi", schema(ignore))]]
            $(#[$m])* pub struct $name { $($body)* }
        }
    };
    ($(#[$m:meta])* pub struct $name:ident { $($body:tt)* }) => {
        call_type! { @emit [] $(#[$m])* pub struct $name { $($body)* } }
    };
    (@emit [$($skip:tt)*] $(#[$m:meta])* pub struct $name:ident { $($body:tt)* }) => {
        $(#[$m])*
        pub struct $name {
            $($body)*
            /// This call's total deadline (retries included); not part of the body.
            #[serde(default, skip_serializing)]
            $($skip)*
            pub timeout: Option<Seconds>,
            /// This call's retry count (at most 100); not part of the body.
            #[serde(default, skip_serializing)]
            $($skip)*
            pub max_retries: Option<Retries>,
        }
        impl PerCall for $name {
            fn timeout(&self) -> Option<Seconds> {
                self.timeout
            }
            fn max_retries(&self) -> Option<Retries> {
                self.max_retries
            }
        }
    };
}

call_type! {
    extra;
    /// A chat/completions request. Exactly one of `prompt` / `messages`. Every field but
    /// `prompt`, `messages`, `extra` and `timeout` is sent as the OpenAI body key of its name, so
    /// a new OpenAI parameter is one line here.
    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct TextRequest {
        #[serde(skip_serializing)]
        pub prompt: Option<String>,
        #[serde(skip_serializing)]
        pub messages: Option<Vec<Value>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub model: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub temperature: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub max_tokens: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub top_p: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub stop: Option<Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub seed: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub response_format: Option<Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub tools: Option<Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub frequency_penalty: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub presence_penalty: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub logprobs: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub n: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub user: Option<String>,
    }
}

impl TextRequest {
    pub fn prompt(prompt: impl Into<String>) -> Self {
        TextRequest {
            prompt: Some(prompt.into()),
            ..Default::default()
        }
    }

    /// The OpenAI body; `stream` adds `"stream": true`.
    pub fn body(&self, stream: bool) -> Result<Map<String, Value>, Error> {
        let messages = match (&self.prompt, &self.messages) {
            (Some(p), None) => vec![serde_json::json!({"role": "user", "content": p})],
            (None, Some(m)) if !m.is_empty() => m.clone(),
            (None, Some(_)) => {
                return Err(Error::validation(vec![FieldError::new(
                    "messages",
                    "must hold at least one message",
                )]))
            }
            (Some(_), Some(_)) => {
                return Err(Error::validation(vec![FieldError::new(
                    "prompt",
                    "pass either prompt= or messages=, not both",
                )]))
            }
            (None, None) => {
                return Err(Error::validation(vec![FieldError::new(
                    "prompt",
                    "pass prompt=\"…\" or messages=[{\"role\": \"user\", \"content\": \"…\"}]",
                )]))
            }
        };
        let mut body = match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        body.insert("messages".into(), Value::Array(messages));
        if stream {
            body.insert("stream".into(), Value::Bool(true));
        }
        if let Some(extra) = &self.extra {
            for (k, v) in extra {
                body.insert(k.clone(), v.clone());
            }
        }
        Ok(body)
    }
}

call_type! {
    extra;
    /// An embeddings request: `input` is a string or a list of strings.
    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct EmbedRequest {
        pub input: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub model: Option<String>,
    }
}

call_type! {
    extra;
    /// A rerank request.
    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct RerankRequest {
        pub query: String,
        pub documents: Vec<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub top_n: Option<usize>,
    }
}

call_type! {
    extra;
    /// A forecast request (docs/contract.md §5, `POST /forecast` on a `forecast` workload):
    /// `horizon` steps ahead of `target`. Every field but `extra`, `timeout` and `max_retries`
    /// is the body key of its name; the types are checked here (numbers, not booleans; counts
    /// as non-negative integers) and the series rules (lengths, quantiles strictly between 0
    /// and 1, `horizon` > 0) by the server, whose 400 names the field.
    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct ForecastRequest {
        pub id: String,
        pub target: Vec<f64>,
        pub horizon: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub timestamps: Option<Vec<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub freq: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub quantile_levels: Option<Vec<f64>>,
        /// Covariate name → one value per `target` step.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub past_covariates: Option<std::collections::BTreeMap<String, Vec<f64>>>,
        /// Covariate name → one value per step of `horizon`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub future_covariates: Option<std::collections::BTreeMap<String, Vec<f64>>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub num_samples: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub return_samples: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub model: Option<String>,
    }
}

impl ForecastRequest {
    /// The `POST /forecast` body: the named fields, then `extra` verbatim.
    pub fn body(&self) -> Map<String, Value> {
        let mut body = match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        for (k, v) in self.extra.iter().flatten() {
            body.insert(k.clone(), v.clone());
        }
        body
    }
}

call_type! {
    schema;
    /// An async job submission: exactly one of `body` (JSON) or `data` (bytes) with
    /// `content_type`.
    // With the `openapi` feature, also the schema of `POST …/jobs` (the per-call overrides
    // are not part of the body).
    #[derive(Debug, Clone, Default, PartialEq, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(deny_unknown_fields)]
    pub struct JobRequest {
        #[cfg_attr(feature = "openapi", schema(schema_with = job_kind_schema))]
        pub kind: String,
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(nullable = false, value_type = Option<Object>))]
        pub body: Option<Value>,
        /// The binary payload; base64-encoded (`body_b64`) when it crosses as JSON.
        #[serde(default, rename = "body_b64", with = "base64_bytes")]
        #[cfg_attr(feature = "openapi", schema(nullable = false, value_type = Option<String>))]
        pub data: Option<Vec<u8>>,
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(nullable = false))]
        pub content_type: Option<String>,
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = Value))]
        pub context: Option<Value>,
        /// Where this job's result is delivered (a signed POST, docs/contract.md §6) instead
        /// of the workload's webhook URL; signed with the workload's webhook secret. Loopback
        /// only unless the Manager runs with --allow-remote-webhooks; needs the workload's
        /// webhook (its secret signs the delivery).
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(nullable = false))]
        pub webhook_url: Option<String>,
    }
}

#[cfg(feature = "openapi")]
fn job_kind_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(JOB_KINDS.iter().copied()))
        .build()
}

/// Job kinds the platform accepts (docs/contract.md, "Jobs"), with their aliases.
pub const JOB_KINDS: &[&str] = &[
    "chat",
    "chat_completions",
    "embeddings",
    "rerank",
    "reranking",
    "audio_speech",
    "audio_generate",
    "audio_transcriptions",
    "images",
    "images_generations",
    "images_edits",
    "images_variations",
    "forecast",
];

/// The payload of an async job.
#[derive(Debug, Clone, PartialEq)]
pub enum JobBody {
    Json(Value),
    Binary {
        bytes: Vec<u8>,
        content_type: String,
    },
}

impl JobRequest {
    /// The checked kind and payload; every problem at once.
    pub fn parts(&self) -> Result<(&str, JobBody), Error> {
        let mut problems = Vec::new();
        if !JOB_KINDS.contains(&self.kind.as_str()) {
            problems.push(FieldError::new(
                "kind",
                format!(
                    "unknown job kind {:?}; expected one of: {}",
                    self.kind,
                    JOB_KINDS.join(", ")
                ),
            ));
        }
        let body = match (&self.body, &self.data, &self.content_type) {
            (Some(v), None, None) => Some(JobBody::Json(v.clone())),
            (None, Some(bytes), Some(ct)) => Some(JobBody::Binary {
                bytes: bytes.clone(),
                content_type: ct.clone(),
            }),
            (None, Some(_), None) => {
                problems.push(FieldError::new(
                    "content_type",
                    "is required with binary data, e.g. \"audio/wav\"",
                ));
                None
            }
            _ => {
                problems.push(FieldError::new(
                    "body",
                    "pass exactly one of body (JSON) or data (bytes) with content_type",
                ));
                None
            }
        };
        match body {
            Some(body) if problems.is_empty() => Ok((&self.kind, body)),
            _ => Err(Error::validation(problems)),
        }
    }
}

/// A job id as a caller passes it back: non-empty and made of the characters ids are made
/// of, since it goes into a URL path (where it is percent-encoded as well).
pub fn check_job_id(raw: &str) -> Result<&str, Error> {
    let id = raw.trim();
    if id.is_empty()
        || id.len() > 200
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(Error::validation(vec![FieldError::new(
            "job_id",
            format!(
                "{:?} is not a job id (expected the id submit_job returned)",
                crate::domain::token::scrub(id)
            ),
        )]));
    }
    Ok(id)
}

call_type! {
    /// The options of a control-plane call (`get`, `list`, `delete`, `readiness_events`,
    /// `wait_until_ready`): the project (else the client's) and the call's deadline.
    #[derive(Debug, Clone, Default, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct CallSettings {
        pub project: Option<String>,
    }
}

call_type! {
    /// The options of `ensure()`.
    #[derive(Debug, Clone, Default, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct EnsureSettings {
        #[serde(default, deserialize_with = "on_drift")]
        pub on_drift: Option<OnDrift>,
        pub project: Option<String>,
    }
}

call_type! {
    /// The options of a data-plane call that carries no request type of its own (`job_status`,
    /// `wait_job`, `post`): the call's deadline and retries.
    #[derive(Debug, Clone, Default, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct JobCallSettings {
    }
}

/// A request or call-settings type that carries per-call overrides (`timeout`,
/// `max_retries`): every binding turns it into its call's options the same way
/// (`transport::CallOptions::of`).
pub trait PerCall {
    fn timeout(&self) -> Option<Seconds>;
    fn max_retries(&self) -> Option<Retries>;
}

/// `on_drift` through [`OnDrift`]'s own parser, so every spelling it accepts is accepted here
/// and a wrong one gets its message.
fn on_drift<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<OnDrift>, D::Error> {
    let s = String::deserialize(d)?;
    s.parse::<OnDrift>()
        .map(Some)
        .map_err(|e| serde::de::Error::custom(e.message.clone()))
}

mod base64_bytes {
    use base64::Engine as _;
    use serde::{de, Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let Some(s) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        base64::engine::general_purpose::STANDARD
            .decode(s.as_bytes())
            .map(Some)
            .map_err(|e| de::Error::custom(format!("must be base64-encoded bytes ({e})")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::decode::{decode, no_hint, Role};
    use serde_json::json;

    #[test]
    fn text_request_body() {
        let mut r = TextRequest::prompt("Hola");
        r.temperature = Some(0.2);
        r.max_tokens = Some(300);
        let body = r.body(true).unwrap();
        assert_eq!(body["messages"][0]["content"], "Hola");
        assert_eq!(body["max_tokens"], 300);
        assert_eq!(body["stream"], true);
        assert!(!body.contains_key("model"));
        assert!(!body.contains_key("prompt"));
        let both = TextRequest {
            prompt: Some("a".into()),
            messages: Some(vec![json!({"role": "user", "content": "b"})]),
            ..Default::default()
        };
        assert_eq!(
            both.body(false).unwrap_err().field.as_deref(),
            Some("prompt")
        );
        assert!(TextRequest::default().body(false).is_err());
    }

    #[test]
    fn new_openai_parameters_reach_the_body() {
        let r: TextRequest = decode(
            json!({"prompt": "p", "frequency_penalty": 0.5, "presence_penalty": -0.5,
                   "logprobs": true, "n": 1, "user": "u-1", "timeout": 3}),
            "request",
            Role::Request,
            no_hint,
        )
        .unwrap();
        let body = r.body(false).unwrap();
        assert_eq!(body["frequency_penalty"], 0.5);
        assert_eq!(body["presence_penalty"], -0.5);
        assert_eq!(body["logprobs"], true);
        assert_eq!(body["n"], 1);
        assert_eq!(body["user"], "u-1");
        assert!(!body.contains_key("timeout"));
    }

    #[test]
    fn forecast_request_body_and_type_errors() {
        let decoded = |v: Value| -> Result<ForecastRequest, Error> {
            decode(v, "request", Role::Request, no_hint)
        };
        let r = decoded(json!({"id": "sales", "target": [1, 2.5], "horizon": 2,
                               "quantile_levels": [0.1, 0.9], "past_covariates": {"temp": [3, 4]},
                               "timeout": 5, "extra": {"x": 1}}))
        .unwrap();
        let body = r.body();
        assert_eq!(body["target"], json!([1.0, 2.5]));
        assert_eq!(body["horizon"], 2);
        assert_eq!(body["past_covariates"], json!({"temp": [3.0, 4.0]}));
        assert_eq!(body["x"], 1);
        assert!(!body.contains_key("timeout") && !body.contains_key("freq"));
        // Booleans are not numbers, counts are not negative, and id is required.
        for (bad, field) in [
            (
                json!({"id": "a", "target": [1, true], "horizon": 1}),
                "target[1]",
            ),
            (json!({"id": "a", "target": [1], "horizon": -1}), "horizon"),
            (json!({"target": [1], "horizon": 1}), "id"),
            (
                json!({"id": "a", "target": [1], "horizon": 1, "samples": 3}),
                "samples",
            ),
        ] {
            let e = decoded(bad.clone()).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{bad}: {e}");
        }
    }

    #[test]
    fn job_ids_and_parts() {
        assert_eq!(check_job_id(" job-1 ").unwrap(), "job-1");
        for bad in ["", "../admin", "a/b", "a?b=c", "x y"] {
            assert_eq!(
                check_job_id(bad).unwrap_err().field.as_deref(),
                Some("job_id")
            );
        }
        let r: JobRequest = decode(
            json!({"kind": "audio_speech", "body_b64": "aGk=", "content_type": "audio/wav"}),
            "request",
            Role::Request,
            no_hint,
        )
        .unwrap();
        assert_eq!(
            r.parts().unwrap().1,
            JobBody::Binary {
                bytes: b"hi".to_vec(),
                content_type: "audio/wav".into()
            }
        );
        let r = JobRequest {
            kind: "nope".into(),
            ..Default::default()
        };
        assert_eq!(r.parts().unwrap_err().problems.len(), 2);
    }

    #[test]
    fn a_bad_call_setting_is_configuration() {
        for (v, field) in [
            (json!({"prompt": "p", "timeout": -1}), "timeout"),
            (json!({"prompt": "p", "timeout": 1e300}), "timeout"),
            (json!({"prompt": "p", "max_retries": 101}), "max_retries"),
            (json!({"prompt": "p", "max_retries": -1}), "max_retries"),
        ] {
            let e = decode::<TextRequest>(v, "request", Role::Request, no_hint).unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::Configuration, "{e}");
            assert_eq!(e.field.as_deref(), Some(field));
        }
        let r: TextRequest = decode(
            json!({"prompt": "p", "max_retries": 0}),
            "request",
            Role::Request,
            no_hint,
        )
        .unwrap();
        assert_eq!(r.max_retries, Some(Retries(0)));
        assert!(!r.body(false).unwrap().contains_key("max_retries"));
    }

    #[test]
    fn request_errors_name_the_field() {
        let e = decode::<TextRequest>(
            json!({"prompt": "p", "temprature": 1}),
            "request",
            Role::Request,
            no_hint,
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("temprature"));
        assert!(e.message.contains("temperature"), "{}", e.message);
        let e = decode::<TextRequest>(
            json!({"messages": [{"role": "user"}, 5], "n": "two"}),
            "request",
            Role::Request,
            no_hint,
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("n"));
    }
}
