//! The data-plane client over the ABI: `ik_data_client_*` and `ik_endpoint_*`.

use std::ffi::c_char;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use inferencekey_core::config::ClientOptions;
use inferencekey_core::data::{DataConfig, JobBody, TextRequest};
use inferencekey_core::{DataClient, Endpoint, Error, FieldError};
use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::ffi::{
    c_string, call, free_handle, guard, guard_void, handle, ik_status, into_handle, opt_str_arg,
    out_arg, str_arg, Failure,
};
use crate::json::{Reader, Role};
use crate::options::{call_options, client_args};
use crate::stream::{ik_stream, Stream};

/// A data-plane client: builds endpoints that share its connection pool. Thread-safe. Free
/// with `ik_data_client_free`.
pub struct ik_data_client {
    inner: DataClient,
    options: ClientOptions,
}

/// One workload's data-plane endpoint (`ik_live_` key). Thread-safe. Free with
/// `ik_endpoint_free`.
pub struct ik_endpoint {
    inner: Arc<Endpoint>,
    options: ClientOptions,
}

/// How long `ik_endpoint_wait_job` polls when the options give no `timeout`.
const DEFAULT_JOB_TIMEOUT: Duration = Duration::from_secs(60);

/// Creates a data-plane client.
///
/// `options_json` (NULL = `{}`): `base_url`, `project`, `api_key` (default `ik_live_` key for
/// endpoints), `timeout`, `connect_timeout`, `read_timeout`, `max_retries`, `language`;
/// fallbacks `INFERENCEKEY_BASE_URL`, `INFERENCEKEY_PROJECT`, `INFERENCEKEY_API_KEY`.
///
/// # Safety
/// `options_json` is NULL or a NUL-terminated string; `out` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn ik_data_client_new(
    options_json: *const c_char,
    out: *mut *mut ik_data_client,
) -> ik_status {
    guard(|| {
        let out = out_arg(out, "out")?;
        let args = client_args(opt_str_arg(options_json, "options_json")?, "api_key")?;
        let inner = DataClient::new(DataConfig {
            project: args.project,
            base_url: args.base_url,
            api_key: args.token,
            options: args.options.clone(),
        })?;
        *out = into_handle(ik_data_client {
            inner,
            options: args.options,
        });
        Ok(())
    })
}

/// Frees a data client. NULL is a no-op. Endpoints made from it stay usable.
///
/// # Safety
/// `client` is NULL or a live client not used by any other thread during or after this call.
#[no_mangle]
pub unsafe extern "C" fn ik_data_client_free(client: *mut ik_data_client) {
    guard_void(|| free_handle(client))
}

/// The endpoint of one workload. `options_json` (NULL = `{}`): `api_key` (else the client's
/// key, else `INFERENCEKEY_API_KEY`), `project` (else the client's). No request is made; a
/// missing or wrong-plane key fails here.
///
/// # Safety
/// Pointers are NULL or valid as documented in the header's preamble.
#[no_mangle]
pub unsafe extern "C" fn ik_data_client_endpoint(
    client: *const ik_data_client,
    workload: *const c_char,
    options_json: *const c_char,
    out: *mut *mut ik_endpoint,
) -> ik_status {
    guard(|| {
        let out = out_arg(out, "out")?;
        let c = handle(client, "client")?;
        let workload = str_arg(workload, "workload")?;
        let mut r = Reader::parse(
            opt_str_arg(options_json, "options_json")?,
            "options",
            Role::Options,
            &["api_key", "project"],
        )?;
        let api_key = r.string("api_key");
        let project = r.string("project");
        r.finish()?;
        let ep = c
            .inner
            .endpoint(workload, api_key.as_deref(), project.as_deref())?;
        *out = into_handle(ik_endpoint {
            inner: Arc::new(ep),
            options: c.options.clone(),
        });
        Ok(())
    })
}

/// Frees an endpoint. NULL is a no-op. Streams opened from it stay usable.
///
/// # Safety
/// `endpoint` is NULL or a live endpoint not used by any other thread during or after this call.
#[no_mangle]
pub unsafe extern "C" fn ik_endpoint_free(endpoint: *mut ik_endpoint) {
    guard_void(|| free_handle(endpoint))
}

/// The OpenAI-compatible base URL (`<base>/endpoint/<project>/<workload>/v1`): point any
/// OpenAI client there with the `ik_live_` key. `*out` is a plain string (not JSON).
///
/// # Safety
/// `endpoint` is NULL or a live endpoint; `out` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn ik_endpoint_base_url(
    endpoint: *const ik_endpoint,
    out: *mut *mut c_char,
) -> ik_status {
    guard(|| {
        let out = out_arg(out, "out")?;
        let ep = handle(endpoint, "endpoint")?;
        *out = c_string(ep.inner.base_url())?;
        Ok(())
    })
}

const TEXT_KEYS: [&str; 12] = [
    "prompt",
    "messages",
    "model",
    "temperature",
    "max_tokens",
    "top_p",
    "stop",
    "seed",
    "response_format",
    "tools",
    "extra",
    "timeout",
];

/// A chat request from its JSON form; the `timeout` key becomes call options.
fn text_request(
    text: &str,
    base: &ClientOptions,
) -> Result<(TextRequest, inferencekey_core::CallOptions), Error> {
    let mut r = Reader::parse(Some(text), "request", Role::Body, &TEXT_KEYS)?;
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
    let opts = call_options(&mut r, base);
    r.finish()?;
    Ok((req, opts))
}

/// A chat completion.
///
/// `request_json`: exactly one of `prompt` (a string) or `messages` (OpenAI messages); any of
/// `model`, `temperature`, `max_tokens`, `top_p`, `stop`, `seed`, `response_format`, `tools`;
/// `extra` (an object of body keys passed through verbatim); `timeout` (seconds). On success
/// `*out_json` is `{"text", "model", "finish_reason", "usage", "message", "raw"}` where
/// `message` is the full first message when it carries more than text (tool calls) and `raw`
/// is the server's whole answer.
///
/// # Safety
/// Pointers are NULL or valid as documented in the header's preamble.
#[no_mangle]
pub unsafe extern "C" fn ik_endpoint_generate_text(
    endpoint: *const ik_endpoint,
    request_json: *const c_char,
    out_json: *mut *mut c_char,
) -> ik_status {
    guard(|| {
        let out = out_arg(out_json, "out_json")?;
        let ep = handle(endpoint, "endpoint")?;
        let (req, opts) = text_request(str_arg(request_json, "request_json")?, &ep.options)?;
        let inner = Arc::clone(&ep.inner);
        let res = call(async move { inner.generate_text(&req, &opts).await })?;
        let raw: Option<Box<RawValue>> = std::str::from_utf8(&res.raw)
            .ok()
            .and_then(|s| RawValue::from_string(s.to_string()).ok());
        let v = json!({
            "text": res.text,
            "model": res.model,
            "finish_reason": res.finish_reason,
            "usage": res.usage,
            "message": res.message,
            "raw": raw,
        });
        *out = c_string(v.to_string())?;
        Ok(())
    })
}

/// Starts a streamed chat completion (same `request_json` as `ik_endpoint_generate_text`);
/// read it with `ik_stream_next`, which yields `{"text", "finish_reason", "model", "usage",
/// "tool_calls"}` chunks. The `timeout` bounds the whole stream.
///
/// # Safety
/// Pointers are NULL or valid as documented in the header's preamble.
#[no_mangle]
pub unsafe extern "C" fn ik_endpoint_generate_text_stream(
    endpoint: *const ik_endpoint,
    request_json: *const c_char,
    out: *mut *mut ik_stream,
) -> ik_status {
    guard(|| {
        let out = out_arg(out, "out")?;
        let ep = handle(endpoint, "endpoint")?;
        let (req, opts) = text_request(str_arg(request_json, "request_json")?, &ep.options)?;
        let inner = Arc::clone(&ep.inner);
        let stream = call(async move { inner.generate_text_stream(&req, &opts).await })?;
        *out = into_handle(ik_stream::new(Stream::Text(stream)));
        Ok(())
    })
}

/// Embeddings.
///
/// `request_json`: `input` (a string or an array of strings), optional `model`, `extra`,
/// `timeout`. On success `*out_json` is `{"embeddings": [[float…]…], "model", "usage"}`, the
/// vectors in input order.
///
/// # Safety
/// Pointers are NULL or valid as documented in the header's preamble.
#[no_mangle]
pub unsafe extern "C" fn ik_endpoint_embed(
    endpoint: *const ik_endpoint,
    request_json: *const c_char,
    out_json: *mut *mut c_char,
) -> ik_status {
    guard(|| {
        let out = out_arg(out_json, "out_json")?;
        let ep = handle(endpoint, "endpoint")?;
        let mut r = Reader::parse(
            Some(str_arg(request_json, "request_json")?),
            "request",
            Role::Body,
            &["input", "model", "extra", "timeout"],
        )?;
        let input = r.value("input");
        match &input {
            None => r.problem("input", "is required: a string or an array of strings"),
            Some(Value::String(_)) => {}
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => {}
            Some(_) => r.problem("input", "must be a string or an array of strings"),
        }
        let model = r.string("model");
        let extra = r.object("extra");
        let opts = call_options(&mut r, &ep.options);
        r.finish()?;
        let input = input.unwrap_or_default();
        let inner = Arc::clone(&ep.inner);
        let res = call(async move {
            inner
                .embed(input, model.as_deref(), extra.as_ref(), &opts)
                .await
        })?;
        let v = json!({"embeddings": res.embeddings, "model": res.model, "usage": res.usage});
        *out = c_string(v.to_string())?;
        Ok(())
    })
}

/// Reranks documents against a query.
///
/// `request_json`: `query` (string), `documents` (array), optional `top_n`, `extra`,
/// `timeout`. On success `*out_json` is `{"results": [{"index", "relevance_score",
/// "document"?}…], "model", "usage"}`, best first.
///
/// # Safety
/// Pointers are NULL or valid as documented in the header's preamble.
#[no_mangle]
pub unsafe extern "C" fn ik_endpoint_rerank(
    endpoint: *const ik_endpoint,
    request_json: *const c_char,
    out_json: *mut *mut c_char,
) -> ik_status {
    guard(|| {
        let out = out_arg(out_json, "out_json")?;
        let ep = handle(endpoint, "endpoint")?;
        let mut r = Reader::parse(
            Some(str_arg(request_json, "request_json")?),
            "request",
            Role::Body,
            &["query", "documents", "top_n", "extra", "timeout"],
        )?;
        let query = r.string("query");
        if query.is_none() {
            r.problem("query", "is required: the text to rank documents against");
        }
        let documents = r.array("documents");
        if documents.is_none() {
            r.problem("documents", "is required: an array of documents");
        }
        let top_n = r.u64("top_n").map(|n| n as usize);
        let extra = r.object("extra");
        let opts = call_options(&mut r, &ep.options);
        r.finish()?;
        let (query, documents) = (query.unwrap_or_default(), documents.unwrap_or_default());
        let inner = Arc::clone(&ep.inner);
        let res = call(async move {
            inner
                .rerank(&query, documents, top_n, extra.as_ref(), &opts)
                .await
        })?;
        let v = json!({"results": res.results, "model": res.model, "usage": res.usage});
        *out = c_string(v.to_string())?;
        Ok(())
    })
}

/// Submits an async job.
///
/// `request_json`: `kind` (`chat`, `embeddings`, `rerank`, `audio_speech`, `audio_generate`,
/// `audio_transcriptions`, `images`, `images_edits`, `images_variations`, `forecast`, or an
/// alias), and exactly one of `body` (JSON) or `body_b64` + `content_type` (binary); optional
/// `context` (echoed to the webhook) and `timeout`. On success `*out_job_id` is the job id as a
/// plain string (not JSON).
///
/// # Safety
/// Pointers are NULL or valid as documented in the header's preamble.
#[no_mangle]
pub unsafe extern "C" fn ik_endpoint_submit_job(
    endpoint: *const ik_endpoint,
    request_json: *const c_char,
    out_job_id: *mut *mut c_char,
) -> ik_status {
    guard(|| {
        let out = out_arg(out_job_id, "out_job_id")?;
        let ep = handle(endpoint, "endpoint")?;
        let mut r = Reader::parse(
            Some(str_arg(request_json, "request_json")?),
            "request",
            Role::Body,
            &[
                "kind",
                "body",
                "body_b64",
                "content_type",
                "context",
                "timeout",
            ],
        )?;
        let kind = r.string("kind");
        if kind.is_none() {
            r.problem("kind", "is required, e.g. \"chat\"");
        }
        let body = r.value("body");
        let b64 = r.string("body_b64");
        let content_type = r.string("content_type");
        let context = r.value("context");
        let opts = call_options(&mut r, &ep.options);
        let job_body = match (body, b64, content_type) {
            (Some(v), None, None) => Some(JobBody::Json(v)),
            (None, Some(b), Some(ct)) => match decode_b64(&b) {
                Ok(bytes) => Some(JobBody::Binary {
                    bytes,
                    content_type: ct,
                }),
                Err(e) => {
                    r.problem("body_b64", e);
                    None
                }
            },
            (None, Some(_), None) => {
                r.problem("content_type", "is required with body_b64");
                None
            }
            _ => {
                r.problem(
                    "body",
                    "pass exactly one of body (JSON) or body_b64 + content_type",
                );
                None
            }
        };
        let parts = kind.zip(job_body);
        r.finish()?;
        // `finish` has reported any missing part; this only satisfies the type checker.
        let Some((kind, job_body)) = parts else {
            return Err(Failure::from(Error::validation(vec![FieldError::new(
                "kind",
                "kind and body are required",
            )])));
        };
        let inner = Arc::clone(&ep.inner);
        let id = call(async move { inner.submit_job(&kind, job_body, context, &opts).await })?;
        *out = c_string(id)?;
        Ok(())
    })
}

fn decode_b64(s: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|e| format!("is not valid base64: {e}"))
}

/// Reads the `{"timeout"}` options of the job calls.
///
/// # Safety
/// `options_json` is NULL or a NUL-terminated string.
unsafe fn timeout_options(options_json: *const c_char) -> Result<Reader, Failure> {
    let text = opt_str_arg(options_json, "options_json")?;
    Ok(Reader::parse(text, "options", Role::Options, &["timeout"])?)
}

/// A job's status `{"job_id", "status", "result"?, "error"?}` (`status`: `queued`,
/// `running`, `succeeded`, `failed`). Only the local Manager serves it; elsewhere this is
/// `IK_ERR_CONFIGURATION` with code `job_status_unsupported` (results go to your webhook).
/// `options_json`: `timeout`.
///
/// # Safety
/// Pointers are NULL or valid as documented in the header's preamble.
#[no_mangle]
pub unsafe extern "C" fn ik_endpoint_job_status(
    endpoint: *const ik_endpoint,
    job_id: *const c_char,
    options_json: *const c_char,
    out_json: *mut *mut c_char,
) -> ik_status {
    guard(|| {
        let out = out_arg(out_json, "out_json")?;
        let ep = handle(endpoint, "endpoint")?;
        let id = job_id_arg(job_id)?;
        let mut r = timeout_options(options_json)?;
        let opts = call_options(&mut r, &ep.options);
        r.finish()?;
        let inner = Arc::clone(&ep.inner);
        let st = call(async move { inner.job_status(&id, &opts).await })?;
        *out = c_string(serde_json::to_string(&st).unwrap_or_default())?;
        Ok(())
    })
}

/// Polls until the job has `succeeded` or `failed` and returns its status (as
/// `ik_endpoint_job_status`); `IK_ERR_TIMEOUT` after `timeout` seconds (default 60). A failed
/// job is a successful call: check `status`.
///
/// # Safety
/// Pointers are NULL or valid as documented in the header's preamble.
#[no_mangle]
pub unsafe extern "C" fn ik_endpoint_wait_job(
    endpoint: *const ik_endpoint,
    job_id: *const c_char,
    options_json: *const c_char,
    out_json: *mut *mut c_char,
) -> ik_status {
    guard(|| {
        let out = out_arg(out_json, "out_json")?;
        let ep = handle(endpoint, "endpoint")?;
        let id = job_id_arg(job_id)?;
        let mut r = timeout_options(options_json)?;
        let limit = r.seconds("timeout").unwrap_or(DEFAULT_JOB_TIMEOUT);
        r.finish()?;
        let inner = Arc::clone(&ep.inner);
        let st = call(async move {
            inner
                .wait_job(&id, limit, &inferencekey_core::CallOptions::default())
                .await
        })?;
        *out = c_string(serde_json::to_string(&st).unwrap_or_default())?;
        Ok(())
    })
}

/// A job id: non-empty and URL-safe, since it goes into the path.
unsafe fn job_id_arg(p: *const c_char) -> Result<String, Failure> {
    let id = str_arg(p, "job_id")?.trim();
    if id.is_empty()
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(Failure::from(Error::validation(vec![FieldError::new(
            "job_id",
            format!("{id:?} is not a job id (expected the id ik_endpoint_submit_job returned)"),
        )])));
    }
    Ok(id.to_string())
}

#[cfg(test)]
mod tests {
    use super::decode_b64;

    #[test]
    fn base64() {
        assert_eq!(decode_b64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode_b64("aGk=").unwrap(), b"hi");
        assert_eq!(decode_b64("YWJj").unwrap(), b"abc");
        assert!(decode_b64("a*Gk").is_err());
    }
}
