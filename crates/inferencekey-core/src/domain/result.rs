//! What the SDK answers, as serde types: the bindings encode these (C, Go) or expose their
//! fields (Python), so each result's fields are declared once, here. `raw` fields hold the
//! server's JSON as it came and serialise as that JSON, not as a string.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;

/// Response headers by lower-case name; repeated headers are joined with `", "` (RFC 9110's
/// combination rule).
pub type Headers = BTreeMap<String, String>;

/// What every answer carries besides its body: the server's request id (quote it in a bug
/// report) and the response headers (rate-limit counters, engine versions, anything the
/// fields do not lift out). Serialised flat into each result.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ResponseMeta {
    pub request_id: Option<String>,
    pub headers: Headers,
}

/// A completed chat answer. `raw` is the response body, decoded lazily by bindings.
#[derive(Debug, Clone, Serialize)]
pub struct TextResult {
    pub text: String,
    pub model: String,
    pub finish_reason: Option<String>,
    pub usage: Option<Value>,
    /// The first choice's message when it carries more than text (tool calls).
    pub message: Option<Value>,
    #[serde(serialize_with = "raw_bytes")]
    pub raw: Bytes,
    #[serde(flatten)]
    pub meta: ResponseMeta,
}

/// Embedding vectors, ordered by the server's `index`.
#[derive(Debug, Clone, Serialize)]
pub struct EmbedResult {
    pub embeddings: Vec<Vec<f32>>,
    pub model: String,
    pub usage: Option<Value>,
    #[serde(flatten)]
    pub meta: ResponseMeta,
}

/// One reranked document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RerankItem {
    pub index: usize,
    pub relevance_score: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RerankResult {
    pub results: Vec<RerankItem>,
    pub model: String,
    pub usage: Option<Value>,
    #[serde(flatten)]
    pub meta: ResponseMeta,
}

/// A forecast (`{"forecast": {...}}`, docs/contract.md §5): the median path, and the
/// quantiles (by level, as the server writes it: `"0.1"`), timestamps and samples when the
/// request asked for them.
#[derive(Debug, Clone, Serialize)]
pub struct ForecastResult {
    pub median: Vec<f64>,
    pub quantiles: Option<BTreeMap<String, Vec<f64>>>,
    pub timestamps: Option<Vec<String>>,
    pub samples: Option<Vec<Vec<f64>>>,
    #[serde(serialize_with = "raw_bytes")]
    pub raw: Bytes,
    #[serde(flatten)]
    pub meta: ResponseMeta,
}

/// A job's state as `GET /jobs/{id}` reports it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct JobStatus {
    pub job_id: String,
    pub status: String,
    #[serde(default)]
    pub result: Option<Value>,
    #[serde(default)]
    pub error: Option<Value>,
    /// Filled from the response, not read from its body.
    #[serde(flatten, skip_deserializing)]
    pub meta: ResponseMeta,
}

impl JobStatus {
    pub fn is_terminal(&self) -> bool {
        matches!(self.status.as_str(), "succeeded" | "failed")
    }
}

/// One streamed piece of an answer.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TextChunk {
    /// The text this chunk adds (empty for role-only or final chunks).
    pub text: String,
    pub finish_reason: Option<String>,
    pub model: Option<String>,
    pub usage: Option<Value>,
    pub tool_calls: Option<Value>,
    /// The frame's JSON, for callers that need fields we do not lift out.
    #[serde(serialize_with = "raw_text")]
    pub raw: String,
}

fn raw_text<S: Serializer>(raw: &str, s: S) -> Result<S::Ok, S::Error> {
    match RawValue::from_string(raw.to_string()) {
        Ok(v) => v.serialize(s),
        // Not JSON (a server bug we already reported elsewhere): keep it as a string.
        Err(_) => raw.serialize(s),
    }
}

fn raw_bytes<S: Serializer>(raw: &Bytes, s: S) -> Result<S::Ok, S::Error> {
    match std::str::from_utf8(raw) {
        Ok(text) if !text.trim().is_empty() => raw_text(text, s),
        _ => s.serialize_none(),
    }
}
