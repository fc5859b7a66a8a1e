//! What the gateway lets through to an engine, beyond the key check: the path (it must stay
//! inside the workload's route) and, for the Ollama daemon tenants share, the model.

use axum::body::{Body, Bytes};
use serde_json::{json, Value};

use crate::api::errors::ApiError;

/// The part of the raw (still percent-encoded) request path after
/// `/endpoint/{project}/{workload}/`, exactly as the client sent it.
pub fn raw_rest(path: &str) -> Option<&str> {
    let after = path.strip_prefix("/endpoint/")?;
    let mut parts = after.splitn(3, '/');
    parts.next()?;
    parts.next()?;
    parts.next()
}

fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

/// Refuses a path that could leave the route once an engine (or a proxy in front of it)
/// decodes and normalises it: `.`/`..` segments (plain or encoded), encoded `/`, `\`, `?`,
/// `#` or NUL, and empty segments. Everything else is forwarded exactly as sent.
pub fn check_rest(raw: &str) -> Result<(), ApiError> {
    // The common path (`v1/chat/completions`) has nothing to decode: only empty and dot
    // segments can be wrong there, found without the allocations of the full check below.
    if !raw.contains(['%', '\\']) {
        let mut segments = raw.split('/').peekable();
        let mut fine = true;
        while let Some(seg) = segments.next() {
            let last = segments.peek().is_none();
            if (seg.is_empty() && !last) || seg == "." || seg == ".." {
                fine = false;
                break;
            }
        }
        if fine {
            return Ok(());
        }
    }
    let refuse = |why: &str| {
        Err(ApiError::bad_request(format!(
            "the path /{} is refused: {why}; send the route as it is, e.g. v1/chat/completions",
            inferencekey_core::token::scrub(raw)
        )))
    };
    let segments: Vec<&str> = raw.split('/').collect();
    for (i, seg) in segments.iter().enumerate() {
        if seg.is_empty() && i + 1 < segments.len() {
            return refuse("it has an empty segment (`//`)");
        }
        let lower = seg.to_ascii_lowercase();
        for (enc, what) in [
            ("%2f", "an encoded `/`"),
            ("%5c", "an encoded `\\`"),
            ("%3f", "an encoded `?`"),
            ("%23", "an encoded `#`"),
            ("%00", "an encoded NUL"),
        ] {
            if lower.contains(enc) {
                return refuse(&format!("it holds {what}"));
            }
        }
        let decoded = decode(seg);
        if decoded == "." || decoded == ".." {
            return refuse("`.` and `..` segments would leave the workload's route");
        }
        if decoded.contains('\\') {
            return refuse("it holds a `\\`");
        }
    }
    Ok(())
}

/// The only routes forwarded to an Ollama daemon: its OpenAI-compatible inference routes.
/// Its native `/api/*` (pull, delete, tags …) would let one tenant manage every tenant's
/// models.
const OLLAMA_ROUTES: &[&str] = &["v1/chat/completions", "v1/completions", "v1/embeddings"];

/// What to do with a request to an Ollama workload.
pub enum OllamaPlan {
    /// Answer here: `/v1/models` lists only the workload's own model.
    Answer(Value),
    /// Forward this body (its `model` pinned to the workload's).
    Forward(Body),
}

/// Pins an Ollama request to the workload's `model`: tenants sharing one daemon neither see
/// nor use each other's models.
pub async fn ollama(
    rest: &str,
    model: &str,
    body: Body,
    limit: usize,
) -> Result<OllamaPlan, ApiError> {
    if rest == "v1/models" {
        return Ok(OllamaPlan::Answer(json!({
            "object": "list",
            "data": [{"id": model, "object": "model", "owned_by": "ollama"}],
        })));
    }
    if !OLLAMA_ROUTES.contains(&rest) {
        return Err(ApiError::not_found(format!(
            "ollama workloads serve {} and v1/models; /{rest} is not forwarded to the shared \
             Ollama daemon",
            OLLAMA_ROUTES.join(", ")
        )));
    }
    let bytes: Bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::payload_too_large(limit))?;
    let mut obj = crate::api::json_object(&bytes)?;
    obj.insert("model".into(), Value::String(model.to_string()));
    let out = serde_json::to_vec(&obj)
        .map_err(|e| ApiError::internal(format!("could not re-encode the request: {e}")))?;
    Ok(OllamaPlan::Forward(Body::from(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_rest_keeps_the_encoding() {
        assert_eq!(
            raw_rest("/endpoint/p/w/v1/..%2Fadmin"),
            Some("v1/..%2Fadmin")
        );
        assert_eq!(raw_rest("/endpoint/p/w"), None);
    }

    #[test]
    fn traversal_and_smuggling_are_refused() {
        for bad in [
            "v1/../admin",
            "v1/..%2F..%2Fadmin",
            "v1/%2e%2e/admin",
            "v1/%2E%2E/admin",
            "v1/./models",
            "v1/models%3Fx=1",
            "v1/models%23x",
            "v1//models",
            "v1/a%5cb",
            "v1/a%00",
            "../api/delete",
        ] {
            assert!(check_rest(bad).is_err(), "{bad}");
        }
        for ok in [
            "v1/chat/completions",
            "v1/models",
            "forecast",
            "v1/files/a%20b",
            "v1/",
        ] {
            assert!(check_rest(ok).is_ok(), "{ok}");
        }
    }
}
