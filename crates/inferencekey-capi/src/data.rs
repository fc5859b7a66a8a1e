//! The data-plane client over the ABI: `ik_data_client_*` and `ik_endpoint_*`. Each entry
//! point decodes the core's request type, calls the core, and encodes the core's result.

use std::ffi::c_char;
use std::sync::Arc;
use std::time::Duration;

use inferencekey_core::config::{DataSettings, EndpointSettings};
use inferencekey_core::data::{check_job_id, DataConfig};
use inferencekey_core::domain::request::{
    EmbedRequest, JobCallSettings, JobRequest, RerankRequest, TextRequest,
};
use inferencekey_core::{CallOptions, DataClient, Endpoint};

use crate::ffi::{
    c_string, call, free_handle, guard, guard_void, handle, ik_status, into_handle, opt_str_arg,
    out_arg, str_arg,
};
use crate::options::{request, settings, to_json};
use crate::stream::{ik_stream, Stream};

/// A data-plane client: builds endpoints that share its connection pool. Thread-safe. Free
/// with `ik_data_client_free`.
pub struct ik_data_client {
    inner: DataClient,
}

/// One workload's data-plane endpoint (`ik_live_` key). Thread-safe. Free with
/// `ik_endpoint_free`.
pub struct ik_endpoint {
    inner: Arc<Endpoint>,
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
        let s: DataSettings = settings(opt_str_arg(options_json, "options_json")?)?;
        let inner = DataClient::new(DataConfig {
            options: s.options("c")?,
            project: s.project,
            base_url: s.base_url,
            api_key: s.api_key,
        })?;
        *out = into_handle(ik_data_client { inner });
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
        let s: EndpointSettings = settings(opt_str_arg(options_json, "options_json")?)?;
        let ep = c
            .inner
            .endpoint(workload, s.api_key.as_deref(), s.project.as_deref())?;
        *out = into_handle(ik_endpoint {
            inner: Arc::new(ep),
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

/// A chat completion.
///
/// `request_json`: exactly one of `prompt` (a string) or `messages` (OpenAI messages); any of
/// `model`, `temperature`, `max_tokens`, `top_p`, `stop`, `seed`, `response_format`, `tools`,
/// `frequency_penalty`, `presence_penalty`, `logprobs`, `n`, `user` (the fields of the core's
/// `TextRequest`);
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
        let req: TextRequest = request(str_arg(request_json, "request_json")?)?;
        let inner = Arc::clone(&ep.inner);
        let res = call(async move { inner.generate_text(&req, &Default::default()).await })?;
        *out = c_string(to_json(&res)?)?;
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
        let req: TextRequest = request(str_arg(request_json, "request_json")?)?;
        let inner = Arc::clone(&ep.inner);
        let stream =
            call(async move { inner.generate_text_stream(&req, &Default::default()).await })?;
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
        let req: EmbedRequest = request(str_arg(request_json, "request_json")?)?;
        let inner = Arc::clone(&ep.inner);
        let res = call(async move { inner.embed(&req, &Default::default()).await })?;
        *out = c_string(to_json(&res)?)?;
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
        let req: RerankRequest = request(str_arg(request_json, "request_json")?)?;
        let inner = Arc::clone(&ep.inner);
        let res = call(async move { inner.rerank(&req, &Default::default()).await })?;
        *out = c_string(to_json(&res)?)?;
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
        let req: JobRequest = request(str_arg(request_json, "request_json")?)?;
        let inner = Arc::clone(&ep.inner);
        let id = call(async move { inner.submit_job(&req, &Default::default()).await })?;
        *out = c_string(id)?;
        Ok(())
    })
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
        let id = check_job_id(str_arg(job_id, "job_id")?)?.to_string();
        let s: JobCallSettings = settings(opt_str_arg(options_json, "options_json")?)?;
        let inner = Arc::clone(&ep.inner);
        let st = call(async move { inner.job_status(&id, &CallOptions::of(&s)).await })?;
        *out = c_string(to_json(&st)?)?;
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
        let id = check_job_id(str_arg(job_id, "job_id")?)?.to_string();
        let s: JobCallSettings = settings(opt_str_arg(options_json, "options_json")?)?;
        let limit = s.timeout.map_or(DEFAULT_JOB_TIMEOUT, |t| t.0);
        let inner = Arc::clone(&ep.inner);
        let st = call(async move { inner.wait_job(&id, limit, &Default::default()).await })?;
        *out = c_string(to_json(&st)?)?;
        Ok(())
    })
}
