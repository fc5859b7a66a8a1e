//! `POST /v1/embeddings` and `POST /v1/rerank`: retrieval answers derived from the text alone,
//! so the same input always gets the same vector or score, in any process.

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::Json;
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::hooks::Hooks;
use crate::params::{self, type_name, word_count};
use crate::{next_id, AppState};

const MAX_INPUTS: usize = 2048;
const MAX_DIMENSIONS: u64 = 16_384;
/// Bounds one answer's size (inputs × dimensions floats).
const MAX_FLOATS: usize = 8 * 1024 * 1024;

/// One input: its identity for hashing and its token count.
struct Input {
    key: Vec<u8>,
    tokens: usize,
}

pub(crate) async fn embeddings(
    State(st): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let o = params::object(&body?)?;
    let (inputs, hooks) = inputs(o.get("input"))?;
    let dims = match params::opt_uint(&o, "dimensions", 1..=MAX_DIMENSIONS)? {
        Some(d) => d as usize,
        None => st.cfg.embedding_dim,
    };
    if inputs.len().saturating_mul(dims) > MAX_FLOATS {
        return Err(ApiError::invalid(
            "input",
            format!(
                "{} inputs of {dims} dimensions is more than one answer may hold ({MAX_FLOATS} floats); send fewer inputs per request",
                inputs.len()
            ),
        ));
    }
    let base64 = params::opt_choice(&o, "encoding_format", &["float", "base64"])? == Some("base64");
    hooks.before_answer().await?;
    if hooks.error {
        return Err(crate::hooks::engine_error());
    }
    let mut data = Vec::with_capacity(inputs.len());
    let mut tokens = 0;
    for (index, input) in inputs.iter().enumerate() {
        tokens += input.tokens;
        let v = vector(&input.key, dims);
        let embedding = if base64 {
            let bytes: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
            Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
        } else {
            json!(v)
        };
        data.push(json!({"object": "embedding", "index": index, "embedding": embedding}));
    }
    Ok(Json(json!({
        "object": "list",
        "data": data,
        "model": st.cfg.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    })))
}

/// `input`: a string, a list of strings, a token array, or a list of token arrays.
fn inputs(v: Option<&Value>) -> Result<(Vec<Input>, Hooks), ApiError> {
    let shape = "`input` must be a string, an array of strings, an array of token ids, or an array of token-id arrays";
    let mut hooks = Hooks::default();
    let mut text = |s: &str, param: String| -> Result<Input, ApiError> {
        if s.is_empty() {
            let message = format!("{param} must not be an empty string");
            return Err(ApiError::invalid(param, message));
        }
        hooks.add(s, &param)?;
        Ok(Input {
            key: s.as_bytes().to_vec(),
            tokens: word_count(s),
        })
    };
    let list = match v {
        None | Some(Value::Null) => {
            return Err(ApiError::invalid(
                "input",
                format!("`input` is required; {shape}"),
            ))
        }
        Some(Value::String(s)) => vec![text(s, "input".into())?],
        Some(Value::Array(items)) if items.is_empty() => {
            return Err(ApiError::invalid(
                "input",
                "`input` must not be an empty array",
            ))
        }
        Some(Value::Array(items)) if items.iter().all(Value::is_u64) => {
            vec![tokens(items, "input")?]
        }
        Some(Value::Array(items)) => {
            if items.len() > MAX_INPUTS {
                return Err(ApiError::invalid(
                    "input",
                    format!(
                        "`input` has {} items; at most {MAX_INPUTS} per request",
                        items.len()
                    ),
                ));
            }
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let param = format!("input[{i}]");
                out.push(match item {
                    Value::String(s) => text(s, param)?,
                    Value::Array(ids) if !ids.is_empty() => tokens(ids, &param)?,
                    other => {
                        return Err(ApiError::invalid(
                            param,
                            format!("{shape}; item {i} is {}", type_name(other)),
                        ))
                    }
                });
            }
            out
        }
        Some(other) => {
            return Err(ApiError::invalid(
                "input",
                format!("{shape}, got {}", type_name(other)),
            ))
        }
    };
    Ok((list, hooks))
}

fn tokens(ids: &[Value], param: &str) -> Result<Input, ApiError> {
    let mut key = b"tokens:".to_vec();
    for id in ids {
        let id = id.as_u64().ok_or_else(|| {
            ApiError::invalid(
                param,
                format!("{param} must hold non-negative integer token ids"),
            )
        })?;
        key.extend_from_slice(&id.to_le_bytes());
    }
    Ok(Input {
        key,
        tokens: ids.len(),
    })
}

/// A unit vector from SHA-256 in counter mode over the input's digest.
pub(crate) fn vector(key: &[u8], dims: usize) -> Vec<f32> {
    let seed = Sha256::digest(key);
    let mut v = Vec::with_capacity(dims);
    let mut block = 0u32;
    while v.len() < dims {
        let mut h = Sha256::new();
        h.update(seed);
        h.update(block.to_le_bytes());
        let out = h.finalize();
        for c in out.chunks_exact(4) {
            if v.len() == dims {
                break;
            }
            let u = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            v.push((u as f64 / u32::MAX as f64 * 2.0 - 1.0) as f32);
        }
        block += 1;
    }
    let norm = v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    if norm > 0.0 {
        v.iter_mut()
            .for_each(|x| *x = (f64::from(*x) / norm) as f32);
    } else {
        v[0] = 1.0;
    }
    v
}

pub(crate) async fn rerank(
    State(st): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let o = params::object(&body?)?;
    let query = params::req_str(&o, "query")?;
    let hooks = Hooks::scan(query, "query")?;
    let docs = documents(o.get("documents"))?;
    let top_n = params::opt_uint(&o, "top_n", 1..=u64::MAX)?
        .map_or(docs.len(), |n| (n as usize).min(docs.len()));
    let return_documents = params::opt_bool(&o, "return_documents")?.unwrap_or(true);
    hooks.before_answer().await?;
    if hooks.error {
        return Err(crate::hooks::engine_error());
    }
    let q = word_set(query);
    let mut scored: Vec<(usize, f64)> = docs
        .iter()
        .map(|d| overlap(&q, &word_set(d)))
        .enumerate()
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let results: Vec<Value> = scored
        .into_iter()
        .take(top_n)
        .map(|(index, score)| {
            let mut r = json!({"index": index, "relevance_score": score});
            if return_documents {
                r["document"] = json!({"text": docs[index]});
            }
            r
        })
        .collect();
    let tokens = word_count(query) * docs.len() + docs.iter().map(|d| word_count(d)).sum::<usize>();
    Ok(Json(json!({
        "id": next_id("rerank"),
        "model": st.cfg.model,
        "results": results,
        "usage": {"total_tokens": tokens},
    })))
}

/// `documents`: strings or `{"text": …}` objects.
fn documents(v: Option<&Value>) -> Result<Vec<&str>, ApiError> {
    let items = match v {
        Some(Value::Array(items)) if !items.is_empty() => items,
        Some(Value::Array(_)) => {
            return Err(ApiError::invalid(
                "documents",
                "`documents` must not be empty",
            ))
        }
        None | Some(Value::Null) => {
            return Err(ApiError::invalid(
                "documents",
                "`documents` is required: an array of strings or {\"text\": …} objects",
            ))
        }
        Some(other) => {
            return Err(ApiError::invalid(
                "documents",
                format!("`documents` must be an array, got {}", type_name(other)),
            ))
        }
    };
    items
        .iter()
        .enumerate()
        .map(|(i, d)| match d {
            Value::String(s) => Ok(s.as_str()),
            Value::Object(o) => o.get("text").and_then(Value::as_str).ok_or_else(|| {
                ApiError::invalid(
                    format!("documents[{i}].text"),
                    "a document object needs a string `text`",
                )
            }),
            other => Err(ApiError::invalid(
                format!("documents[{i}]"),
                format!(
                    "documents[{i}] must be a string or {{\"text\": …}}, got {}",
                    type_name(other)
                ),
            )),
        })
        .collect()
}

fn word_set(text: &str) -> HashSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Jaccard similarity of the two word sets: 1 for the same words, 0 for none in common.
fn overlap(a: &HashSet<String>, b: &HashSet<String>) -> f64 {
    let union = a.union(b).count();
    if union == 0 {
        return 0.0;
    }
    a.intersection(b).count() as f64 / union as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_unit_length_and_deterministic() {
        let a = vector(b"hello", 384);
        assert_eq!(a.len(), 384);
        assert_eq!(a, vector(b"hello", 384));
        assert_ne!(a, vector(b"hello!", 384));
        let norm: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "{norm}");
        assert_eq!(vector(b"x", 1).len(), 1);
    }

    #[test]
    fn overlap_is_jaccard() {
        let q = word_set("The cat sat");
        assert_eq!(overlap(&q, &word_set("the CAT, sat!")), 1.0);
        assert_eq!(overlap(&q, &word_set("dogs run")), 0.0);
        assert_eq!(overlap(&q, &word_set("a cat")), 0.25);
    }
}
