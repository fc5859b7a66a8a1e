//! JSON in, core types out, and back. This module is the addon's only contact with the shape
//! of the core's requests and results.
//!
//! TEMPORARY (until issue #11's serde types are on this branch): the core's request types do
//! not implement `Deserialize` yet, so this reads them field by field with [`Reader`], which
//! refuses unknown keys by name. When #11 lands every function here becomes a call of
//! `inferencekey_core::domain::decode::decode` and `serde_json::to_value`.

use std::time::Duration;

use inferencekey_core::client::stream::TextChunk;
use inferencekey_core::data::{JobBody, RerankResult};
use inferencekey_core::{
    CallOptions, ClientOptions, EmbedResult, EndpointRef, Error, ErrorKind, FieldError, OnDrift,
    RetryPolicy, TextRequest, TextResult, Timeouts,
};
use serde_json::{json, Map, Value};

/// Reads fields off one JSON object, refusing keys nobody read.
pub struct Reader {
    map: Map<String, Value>,
    what: &'static str,
    settings: bool,
    problems: Vec<FieldError>,
}

impl Reader {
    pub fn new(text: &str, what: &'static str, settings: bool) -> Result<Self, Error> {
        let text = if text.trim().is_empty() { "{}" } else { text };
        let map = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(m)) => m,
            Ok(Value::Null) => Map::new(),
            _ => {
                return Err(fail(
                    settings,
                    vec![FieldError::new(what, "must be an object")],
                ))
            }
        };
        let map = map.into_iter().filter(|(_, v)| !v.is_null()).collect();
        Ok(Reader {
            map,
            what,
            settings,
            problems: Vec::new(),
        })
    }

    pub fn value(&mut self, k: &str) -> Option<Value> {
        self.map.remove(k)
    }

    fn typed<T>(&mut self, k: &str, want: &str, f: impl Fn(&Value) -> Option<T>) -> Option<T> {
        let v = self.value(k)?;
        match f(&v) {
            Some(t) => Some(t),
            None => {
                self.problems
                    .push(FieldError::new(k, format!("must be {want}")));
                None
            }
        }
    }

    pub fn string(&mut self, k: &str) -> Option<String> {
        self.typed(k, "a string", |v| v.as_str().map(str::to_string))
    }

    pub fn f64(&mut self, k: &str) -> Option<f64> {
        self.typed(k, "a number", Value::as_f64)
    }

    pub fn u64(&mut self, k: &str) -> Option<u64> {
        self.typed(k, "a non-negative integer", Value::as_u64)
    }

    pub fn i64(&mut self, k: &str) -> Option<i64> {
        self.typed(k, "an integer", Value::as_i64)
    }

    pub fn object(&mut self, k: &str) -> Option<Map<String, Value>> {
        self.typed(k, "an object", |v| v.as_object().cloned())
    }

    pub fn array(&mut self, k: &str) -> Option<Vec<Value>> {
        self.typed(k, "a list", |v| v.as_array().cloned())
    }

    pub fn seconds(&mut self, k: &str) -> Option<Duration> {
        let s = self.f64(k)?;
        if s.is_finite() && s > 0.0 && s <= 1e9 {
            Some(Duration::from_secs_f64(s))
        } else {
            self.problems.push(FieldError::new(
                k,
                "must be a positive number of seconds up to 1e9",
            ));
            None
        }
    }

    pub fn finish(mut self) -> Result<(), Error> {
        let mut keys: Vec<&String> = self.map.keys().collect();
        keys.sort();
        for k in keys {
            self.problems.push(FieldError::new(
                inferencekey_core::token::scrub(k),
                format!("is not a field of {}", self.what),
            ));
        }
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(fail(self.settings, self.problems))
        }
    }
}

fn fail(settings: bool, problems: Vec<FieldError>) -> Error {
    let mut e = Error::validation(problems);
    if settings {
        e.kind = ErrorKind::Configuration;
        e.code = Some("configuration_error".into());
    }
    e
}

/// Client settings: base URL, project, the token under `token_key`, timeouts, retries.
pub struct ClientSettings {
    pub base_url: Option<String>,
    pub project: Option<String>,
    pub token: Option<String>,
    pub options: ClientOptions,
}

pub fn client_settings(text: &str, token_key: &str) -> Result<ClientSettings, Error> {
    let mut r = Reader::new(text, "options", true)?;
    let mut options = ClientOptions {
        language: "node".into(),
        ..Default::default()
    };
    let base_url = r.string("base_url");
    let project = r.string("project");
    let token = r.string(token_key);
    if let Some(t) = r.seconds("timeout") {
        options.timeouts.total = Some(t);
    }
    if let Some(t) = r.seconds("connect_timeout") {
        options.timeouts.connect = t;
    }
    if let Some(t) = r.seconds("read_timeout") {
        options.timeouts.read = t;
    }
    if let Some(n) = r.u64("max_retries") {
        options.retry = RetryPolicy {
            max_retries: n.min(100) as u32,
            ..RetryPolicy::default()
        };
    }
    r.finish()?;
    Ok(ClientSettings {
        base_url,
        project,
        token,
        options,
    })
}

/// A call's total deadline over the client's timeouts.
pub fn within(base: &ClientOptions, timeout: Option<Duration>) -> CallOptions {
    CallOptions {
        timeouts: timeout.map(|t| Timeouts {
            total: Some(t),
            ..base.timeouts
        }),
        retry: None,
    }
}

pub struct Call {
    pub project: Option<String>,
    pub timeout: Option<Duration>,
}

pub fn call_settings(text: &str) -> Result<Call, Error> {
    let mut r = Reader::new(text, "options", true)?;
    let c = Call {
        project: r.string("project"),
        timeout: r.seconds("timeout"),
    };
    r.finish()?;
    Ok(c)
}

pub fn ensure_settings(text: &str) -> Result<(OnDrift, Call), Error> {
    let mut r = Reader::new(text, "options", true)?;
    let mode = match r.string("on_drift") {
        Some(s) => s.parse::<OnDrift>()?,
        None => OnDrift::default(),
    };
    let c = Call {
        project: r.string("project"),
        timeout: r.seconds("timeout"),
    };
    r.finish()?;
    Ok((mode, c))
}

pub fn endpoint_settings(text: &str) -> Result<(Option<String>, Option<String>), Error> {
    let mut r = Reader::new(text, "options", true)?;
    let out = (r.string("api_key"), r.string("project"));
    r.finish()?;
    Ok(out)
}

pub fn text_request(text: &str) -> Result<(TextRequest, Option<Duration>), Error> {
    let mut r = Reader::new(text, "request", false)?;
    let req = TextRequest {
        prompt: r.string("prompt"),
        messages: r.array("messages"),
        model: r.string("model"),
        temperature: r.f64("temperature"),
        max_tokens: r.u64("max_tokens"),
        top_p: r.f64("top_p"),
        stop: r.value("stop"),
        seed: r.i64("seed"),
        response_format: r.value("response_format"),
        tools: r.value("tools"),
        extra: r.object("extra"),
    };
    let timeout = r.seconds("timeout");
    r.finish()?;
    Ok((req, timeout))
}

pub struct Embed {
    pub input: Value,
    pub model: Option<String>,
    pub extra: Option<Map<String, Value>>,
    pub timeout: Option<Duration>,
}

pub fn embed_request(text: &str) -> Result<Embed, Error> {
    let mut r = Reader::new(text, "request", false)?;
    let input = r.value("input");
    let e = Embed {
        input: input.clone().unwrap_or(Value::Null),
        model: r.string("model"),
        extra: r.object("extra"),
        timeout: r.seconds("timeout"),
    };
    if input.is_none() {
        r.problems.push(FieldError::new(
            "input",
            "is required: a string or a list of strings",
        ));
    }
    r.finish()?;
    Ok(e)
}

pub struct Rerank {
    pub query: String,
    pub documents: Vec<Value>,
    pub top_n: Option<usize>,
    pub extra: Option<Map<String, Value>>,
    pub timeout: Option<Duration>,
}

pub fn rerank_request(text: &str) -> Result<Rerank, Error> {
    let mut r = Reader::new(text, "request", false)?;
    let query = r.string("query");
    let documents = r.array("documents");
    if query.is_none() {
        r.problems.push(FieldError::new("query", "is required"));
    }
    if documents.is_none() {
        r.problems.push(FieldError::new("documents", "is required"));
    }
    let out = Rerank {
        query: query.unwrap_or_default(),
        documents: documents.unwrap_or_default(),
        top_n: r.u64("top_n").map(|n| n as usize),
        extra: r.object("extra"),
        timeout: r.seconds("timeout"),
    };
    r.finish()?;
    Ok(out)
}

pub struct Job {
    pub kind: String,
    pub body: JobBody,
    pub context: Option<Value>,
    pub timeout: Option<Duration>,
}

pub fn job_request(text: &str) -> Result<Job, Error> {
    use base64::Engine as _;
    let mut r = Reader::new(text, "request", false)?;
    let kind = r.string("kind");
    let body = r.value("body");
    let b64 = r.string("body_b64");
    let content_type = r.string("content_type");
    let context = r.value("context");
    let timeout = r.seconds("timeout");
    if kind.is_none() {
        r.problems.push(FieldError::new("kind", "is required"));
    }
    let body = match (body, b64, content_type) {
        (Some(v), None, None) => Some(JobBody::Json(v)),
        (None, Some(b), Some(ct)) => {
            match base64::engine::general_purpose::STANDARD.decode(b.as_bytes()) {
                Ok(bytes) => Some(JobBody::Binary {
                    bytes,
                    content_type: ct,
                }),
                Err(_) => {
                    r.problems
                        .push(FieldError::new("body_b64", "must be base64-encoded bytes"));
                    None
                }
            }
        }
        _ => {
            r.problems.push(FieldError::new(
                "body",
                "pass exactly one of body (JSON) or data (bytes) with content_type",
            ));
            None
        }
    };
    r.finish()?;
    Ok(Job {
        kind: kind.unwrap_or_default(),
        body: body.unwrap_or(JobBody::Json(Value::Null)),
        context,
        timeout,
    })
}

pub fn job_call(text: &str) -> Result<Option<Duration>, Error> {
    let mut r = Reader::new(text, "options", true)?;
    let t = r.seconds("timeout");
    r.finish()?;
    Ok(t)
}

fn raw_json(raw: &str) -> Value {
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()))
}

pub fn text_result(r: &TextResult) -> Value {
    json!({
        "text": r.text,
        "model": r.model,
        "finish_reason": r.finish_reason,
        "usage": r.usage,
        "message": r.message,
        "raw": raw_json(std::str::from_utf8(&r.raw).unwrap_or("null")),
    })
}

pub fn chunk(c: &TextChunk) -> Value {
    json!({
        "text": c.text,
        "finish_reason": c.finish_reason,
        "model": c.model,
        "usage": c.usage,
        "tool_calls": c.tool_calls,
        "raw": raw_json(&c.raw),
    })
}

pub fn embed_result(r: &EmbedResult) -> Value {
    json!({"embeddings": r.embeddings, "model": r.model, "usage": r.usage})
}

pub fn rerank_result(r: &RerankResult) -> Value {
    json!({"results": r.results, "model": r.model, "usage": r.usage})
}

pub fn endpoint_ref(r: &EndpointRef) -> Value {
    json!({
        "project_slug": r.project_slug,
        "workload_slug": r.workload_slug,
        "workload_id": r.workload_id,
        "action": r.action.as_str(),
        "plan": r.plan,
        "workload": r.workload,
        "warning": r.warning,
    })
}
