//! The OpenAPI document of `/api`, `/admin` and `/endpoint`, generated from the code with utoipa and
//! served at `GET /api/openapi.json`.
//!
//! The control-plane operations are the `#[utoipa::path]` attributes on their handlers in
//! [`crate::api`], registered through `utoipa_axum::routes!`, so a route and its operation are
//! one declaration. The data plane forwards every `/endpoint/{project}/{workload}/...` path to
//! the engine through one catch-all route ([`crate::gateway`]); its documented operations are
//! the attributed functions below. Response bodies are the typed structs the handlers write
//! (the core's wire types where the core has one). Request bodies are the core's types where
//! the core decodes them (`JobRequest`, `WebhookDestinationRequest`); the workload bodies,
//! which the Manager reads field by field, and the bodies it forwards without decoding
//! (OpenAI chat, completions, embeddings, rerank, forecast) are described here, the forwarded
//! ones bounded so a generated request stays cheap for an engine to answer.
//!
//! `src/openapi.json` is a copy for readers and for the tests that read the document without
//! a Manager; `tests/openapi.rs` fails when it differs from the generated one
//! (`INFERENCEKEY_BLESS=1` rewrites it).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::Value;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    self, ContentBuilder, Object, ObjectBuilder, Ref, RefOr, ResponseBuilder, Type,
};
use utoipa::{IntoParams, IntoResponses, Modify, OpenApi, ToSchema};

use inferencekey_core::enums::{ExecutionPolicy, TaskType};
use inferencekey_core::wire::ErrorBody;

/// A header of an error response: name, schema, required.
type HeaderSpec = (&'static str, fn() -> Object, bool);

fn integer() -> Object {
    ObjectBuilder::new().schema_type(Type::Integer).build()
}

fn close() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["close"]))
        .build()
}

const RETRY_AFTER: &str = "Retry-After";

/// Every error response the operations reference, by component name. Each has the
/// documented error body ([`ErrorBody`]).
const ERROR_RESPONSES: &[(&str, &str, &[HeaderSpec])] = &[
    (
        "Error",
        "An error answered by the Manager",
        &[(RETRY_AFTER, integer, false)],
    ),
    (
        "DataError",
        "An error answered by the Manager, or by the engine and mapped to the documented form \
         (the engine's status and message kept; docs/contract.md §2)",
        &[],
    ),
    (
        "Unavailable",
        "workload_not_ready (still starting after the cold-start wait; Retry-After set) or \
         backend_unavailable (the engine failed, or the workload is stopped in phase error: no \
         Retry-After)",
        &[(RETRY_AFTER, integer, false)],
    ),
    (
        "RequestTimeout",
        "request_timeout: the request body did not arrive within the Manager's --body-timeout \
         (default 60 s) once it started reading it; the Manager closes the connection after \
         this answer (or, when it cannot be sent, without one)",
        &[("Connection", close, false)],
    ),
    (
        "PayloadTooLarge",
        "payload_too_large: the body is over the route's limit (/api 1 MiB, /endpoint 32 MiB, \
         POST /jobs 16 MiB), with or without Content-Length; an engine's own lower limit is \
         answered in the same form, with the engine's message",
        &[],
    ),
    (
        "JobQuota",
        "job_quota_exceeded: this key already has its limit of unfinished jobs (256); wait for \
         some to finish",
        &[(RETRY_AFTER, integer, true)],
    ),
    (
        "StorageUnavailable",
        "storage_unavailable: the Manager cannot write its data dir (e.g. the disk is full); \
         reads keep working, changes fail until space is freed",
        &[(RETRY_AFTER, integer, true)],
    ),
    (
        "JobsUnavailable",
        "storage_unavailable (the Manager cannot write its data dir) or job_queue_full (the \
         Manager's job queue is at its bound of 10,000)",
        &[(RETRY_AFTER, integer, true)],
    ),
];

/// Declares a set of error statuses, each answered with one of [`ERROR_RESPONSES`], for an
/// operation's `responses(...)`.
macro_rules! error_set {
    ($($(#[$m:meta])* $name:ident { $($status:literal => $resp:literal),+ $(,)? })+) => {$(
        $(#[$m])*
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<openapi::Response>> {
                [$(($status, $resp)),+]
                    .into_iter()
                    .map(|(s, r)| (s.to_string(), RefOr::Ref(Ref::from_response_name(r))))
                    .collect()
            }
        }
    )+};
}

error_set! {
    /// What every control-plane operation can answer before it does anything.
    ReadErrors {
        "400" => "Error", "401" => "Error", "403" => "Error", "404" => "Error",
        "405" => "Error", "413" => "Error",
    }
    /// `POST …/workloads`.
    CreateErrors {
        "400" => "Error", "401" => "Error", "403" => "Error", "404" => "Error",
        "405" => "Error", "408" => "RequestTimeout", "409" => "Error", "413" => "Error",
        "422" => "Error", "503" => "StorageUnavailable",
    }
    /// A change with a body: `PATCH /api/workloads/{id}`, `PUT …/webhook`.
    UpdateErrors {
        "400" => "Error", "401" => "Error", "403" => "Error", "404" => "Error",
        "405" => "Error", "408" => "RequestTimeout", "413" => "Error",
        "503" => "StorageUnavailable",
    }
    /// A change without a body: the deletes.
    DeleteErrors {
        "400" => "Error", "401" => "Error", "403" => "Error", "404" => "Error",
        "405" => "Error", "413" => "Error", "503" => "StorageUnavailable",
    }
    /// `GET /api/tenants/{tenant}/custom-backends`.
    BackendListErrors {
        "401" => "Error", "403" => "Error", "404" => "Error", "405" => "Error",
    }
    /// `POST /api/tenants/{tenant}/custom-backends`.
    PublishErrors {
        "400" => "Error", "401" => "Error", "403" => "Error", "404" => "Error",
        "405" => "Error", "408" => "RequestTimeout", "409" => "Error", "413" => "Error",
        "503" => "StorageUnavailable",
    }
    /// A forwarded data-plane call with a body.
    ForwardErrors {
        "408" => "RequestTimeout", "413" => "PayloadTooLarge", "4XX" => "DataError",
        "503" => "Unavailable",
    }
    /// A data-plane read.
    DataReadErrors {
        "4XX" => "DataError", "503" => "Unavailable",
    }
    /// `POST …/jobs`.
    JobSubmitErrors {
        "408" => "RequestTimeout", "413" => "PayloadTooLarge", "429" => "JobQuota",
        "4XX" => "DataError", "503" => "JobsUnavailable",
    }
}

/// A 200 that is a JSON object, or with `stream: true` an SSE stream, whose frames the
/// document does not describe (they are the engine's).
fn json_or_stream(description: &str) -> BTreeMap<String, RefOr<openapi::Response>> {
    let json = ContentBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::Object)))
        .build();
    let resp = ResponseBuilder::new()
        .description(description)
        .content("application/json", json)
        .content("text/event-stream", ContentBuilder::new().build())
        .build();
    BTreeMap::from([("200".to_string(), RefOr::T(resp))])
}

/// The 200 of `POST …/v1/chat/completions`.
pub struct ChatAnswer;

impl IntoResponses for ChatAnswer {
    fn responses() -> BTreeMap<String, RefOr<openapi::Response>> {
        json_or_stream(
            "A chat.completion, or with stream=true an SSE stream of chat.completion.chunk \
             ended by [DONE].",
        )
    }
}

/// The 200 of `POST …/v1/completions`.
pub struct CompletionAnswer;

impl IntoResponses for CompletionAnswer {
    fn responses() -> BTreeMap<String, RefOr<openapi::Response>> {
        json_or_stream(
            "A text_completion, or with stream=true an SSE stream of them ended by [DONE] \
             (engines that serve the legacy route).",
        )
    }
}

/// The error response components, with the documented body.
fn error_responses() -> BTreeMap<String, RefOr<openapi::Response>> {
    ERROR_RESPONSES
        .iter()
        .map(|(name, description, headers)| {
            let mut resp = ResponseBuilder::new().description(*description).content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name(ErrorBody::name())))
                    .build(),
            );
            for (header, schema, _) in headers.iter() {
                resp = resp.header(*header, openapi::header::Header::new(schema()));
            }
            (name.to_string(), RefOr::T(resp.build()))
        })
        .collect()
}

/// utoipa's `Header` has no `required`; it is written into the rendered document from
/// [`ERROR_RESPONSES`], the one place the requirement is declared.
fn mark_required_headers(doc: &mut Value) {
    for (name, _, headers) in ERROR_RESPONSES {
        for (header, _, required) in headers.iter() {
            if let Some(h) =
                doc.pointer_mut(&format!("/components/responses/{name}/headers/{header}"))
            {
                h["required"] = Value::Bool(*required);
            }
        }
    }
}

/// Security schemes and the error response components.
struct Components;

impl Modify for Components {
    fn modify(&self, doc: &mut openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        let bearer = |description: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(description))
                    .build(),
            )
        };
        components.add_security_scheme(
            "sdkToken",
            bearer("ik_sdk_ control-plane token of one project"),
        );
        components.add_security_scheme(
            "adminToken",
            bearer("ik_admin_ token of the Manager, in its data dir (file admin_token)"),
        );
        components.add_security_scheme(
            "workerToken",
            bearer(
                "ik_worker_ token of one registered worker, for its agent (docs/contract.md §8)",
            ),
        );
        components.add_security_scheme(
            "liveKey",
            bearer("ik_live_ data-plane key of one workload or a whole project"),
        );
        components.responses.extend(error_responses());
    }
}

// ---- Path and header parameters -------------------------------------------------------------

/// `/api/projects/{project}/...`
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct ProjectPath {
    /// Project slug (canonicalised).
    project: String,
}

/// `/api/projects/{project}/workloads/{slug}/...`
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct WorkloadSlugPath {
    /// Project slug (canonicalised).
    project: String,
    /// Workload slug (canonicalised).
    slug: String,
}

/// `/api/workloads/{id}`
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct WorkloadIdPath {
    /// Server-assigned workload id.
    id: String,
}

/// `/api/projects/{project}/workloads/{workload}/webhook...`
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct WebhookPath {
    /// Project slug (canonicalised).
    project: String,
    /// Workload slug (canonicalised) or id.
    workload: String,
}

/// `/api/tenants/{tenant}/...`
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct TenantPath {
    /// The tenant id; the local Manager has one, tnt_local.
    tenant: String,
}

/// `/endpoint/{project}/{workload}/...`
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct EndpointPath {
    /// Project slug (canonicalised).
    project: String,
    /// Workload slug.
    workload: String,
}

/// `/endpoint/{project}/{workload}/jobs/{job_id}`
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct JobPath {
    /// Project slug (canonicalised).
    project: String,
    /// Workload slug.
    workload: String,
    job_id: String,
}

/// `GET /api/projects/{project}/workloads?slug=`
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct SlugQuery {
    /// Only the workload with this slug (Local Manager).
    #[param(nullable = false)]
    slug: Option<String>,
}

/// `Idempotency-Key` on `POST …/workloads` (docs/contract.md §3.3).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct IdempotencyHeader {
    #[param(rename = "Idempotency-Key", max_length = 255, nullable = false)]
    idempotency_key: Option<String>,
}

/// `/admin/projects/{project}/...`
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct AdminProjectPath {
    /// Project slug.
    project: String,
}

/// `/admin/workers/{worker}/...`
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct AdminWorkerPath {
    /// The registered worker's id (`wrk_…`, as `POST /admin/workers` answered it).
    worker: String,
}

/// `/admin/keys/{id}/revoke`
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct AdminPath {
    /// The token's or key's id (a whole token is accepted too; only its id is used).
    id: String,
}

/// `GET /admin/keys?project=`
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KeysQuery {
    /// Only the tokens and keys of this project.
    #[param(nullable = false)]
    pub project: Option<String>,
}

// ---- Request bodies the Manager reads field by field -----------------------------------------

/// `POST /admin/projects`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ProjectCreate {
    slug: String,
}

/// `POST /admin/projects/{project}/keys`: exactly one of `workload` (a workload slug, which
/// need not exist yet) or `"all": true`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct KeyRequest {
    #[schema(nullable = false)]
    workload: Option<String>,
    #[schema(nullable = false)]
    all: Option<bool>,
}

/// `POST /admin/workers`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct WorkerRegister {
    name: String,
}

/// `POST /admin/gpus`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct GpuRegister {
    name: String,
    #[schema(nullable = false)]
    worker_id: Option<String>,
}

fn task_type_schema() -> Object {
    TaskType::known_schema()
}

fn execution_policy_schema() -> Object {
    ExecutionPolicy::known_schema()
}

/// `config` of a workload: free-form, with the keys the Manager reads itself.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct WorkloadConfig {
    #[schema(nullable = false)]
    command: Option<String>,
    #[schema(nullable = false)]
    vllm_version: Option<String>,
}

/// `POST /api/projects/{project}/workloads` (docs/contract.md §3.2): read by
/// `api::workload::create_record`, which names an unknown field in its 400.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct WorkloadCreate {
    name: String,
    #[schema(nullable = false)]
    slug: Option<String>,
    #[schema(nullable = false)]
    description: Option<String>,
    #[schema(nullable = false, schema_with = task_type_schema)]
    task_type: Option<String>,
    backend: String,
    model_name: String,
    #[schema(nullable = false, inline)]
    config: Option<WorkloadConfig>,
    #[schema(nullable = false)]
    worker_id: Option<String>,
    #[schema(nullable = false)]
    gpu_resource_id: Option<String>,
    #[schema(nullable = false, schema_with = execution_policy_schema)]
    execution_policy: Option<String>,
    #[schema(nullable = false, value_type = Option<Object>)]
    execution_policy_config: Option<Value>,
}

/// `PATCH /api/workloads/{id}`: the fields to change; `null` clears the ones that may be
/// cleared (`api::workload::update_record`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct WorkloadUpdate {
    #[schema(nullable = false)]
    name: Option<String>,
    #[schema(nullable = false)]
    slug: Option<String>,
    description: Option<String>,
    #[schema(nullable = false)]
    task_type: Option<String>,
    /// cannot be removed: null is a 400 naming backend
    #[schema(nullable = false)]
    backend: Option<String>,
    #[schema(nullable = false)]
    model_name: Option<String>,
    #[schema(value_type = Option<Object>)]
    config: Option<Value>,
    worker_id: Option<String>,
    gpu_resource_id: Option<String>,
    #[schema(nullable = false)]
    execution_policy: Option<String>,
    #[schema(value_type = Option<Object>)]
    execution_policy_config: Option<Value>,
}

/// The multipart body of `POST /api/tenants/{tenant}/custom-backends`: the text parts, when
/// sent, must match the package's manifest.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct CustomBackendUpload {
    #[schema(nullable = false)]
    name: Option<String>,
    #[schema(nullable = false)]
    slug: Option<String>,
    #[schema(nullable = false)]
    version: Option<String>,
    #[schema(nullable = false)]
    task_type: Option<String>,
    #[schema(nullable = false)]
    entrypoint: Option<String>,
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

// ---- Data-plane bodies: forwarded to the engine, not decoded -------------------------------

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum ChatRole {
    System,
    User,
    Assistant,
}

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct ChatMessage {
    #[schema(inline)]
    role: ChatRole,
    content: String,
}

/// An OpenAI chat/completions body, as far as the document bounds it (the engine reads the
/// rest).
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct ChatRequest {
    #[schema(nullable = false)]
    model: Option<String>,
    #[schema(inline)]
    messages: Vec<ChatMessage>,
    #[schema(nullable = false, minimum = 1, maximum = 64)]
    max_tokens: Option<u32>,
    #[schema(nullable = false, minimum = 0, maximum = 2)]
    temperature: Option<f64>,
    #[schema(nullable = false)]
    stream: Option<bool>,
}

fn embeddings_input() -> openapi::schema::Schema {
    openapi::schema::Schema::OneOf(
        openapi::schema::OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::String))
            .item(
                openapi::schema::ArrayBuilder::new()
                    .items(ObjectBuilder::new().schema_type(Type::String))
                    .max_items(Some(16)),
            )
            .build(),
    )
}

/// An OpenAI embeddings body: one string or up to 16.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct EmbeddingsRequest {
    #[schema(nullable = false)]
    model: Option<String>,
    #[schema(schema_with = embeddings_input)]
    input: Value,
}

/// An OpenAI (legacy) completions body, bounded as [`ChatRequest`].
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct CompletionRequest {
    #[schema(nullable = false)]
    model: Option<String>,
    prompt: String,
    #[schema(nullable = false, minimum = 1, maximum = 64)]
    max_tokens: Option<u32>,
    #[schema(nullable = false, minimum = 0, maximum = 2)]
    temperature: Option<f64>,
    #[schema(nullable = false)]
    stream: Option<bool>,
}

/// A rerank body (the `/v1/rerank` of vLLM and Cohere): up to 16 documents.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct RerankRequest {
    #[schema(nullable = false)]
    model: Option<String>,
    query: String,
    #[schema(max_items = 16)]
    documents: Vec<String>,
    #[schema(nullable = false, minimum = 1, maximum = 16)]
    top_n: Option<u32>,
}

/// A forecast body (docs/contract.md §5, `forecast` workloads): `horizon` steps of one
/// series, bounded to a short series.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct ForecastRequest {
    #[schema(min_length = 1)]
    id: String,
    #[schema(min_items = 1, max_items = 64)]
    target: Vec<f64>,
    #[schema(minimum = 1, maximum = 32)]
    horizon: u32,
    #[schema(nullable = false, max_items = 9)]
    quantile_levels: Option<Vec<f64>>,
    #[schema(nullable = false)]
    model: Option<String>,
}

// ---- Data-plane operations (one catch-all route serves them; see crate::gateway) -----------

/// The documented data-plane operations, one function each: the gateway forwards every
/// `/v1/...` path through one route, so these carry only the operation.
#[allow(dead_code)]
mod data_plane {
    use super::*;
    use crate::jobs::JobView;
    use inferencekey_core::domain::request::JobRequest;

    /// The answer of `POST …/jobs`.
    #[derive(ToSchema)]
    pub struct SubmittedJob {
        job_id: String,
    }

    #[utoipa::path(
        post,
        path = "/endpoint/{project}/{workload}/v1/chat/completions",
        operation_id = "chatCompletions",
        tag = "data-plane",
        security(("liveKey" = [])),
        params(EndpointPath),
        request_body(content = ChatRequest, content_type = "application/json"),
        responses(ChatAnswer, ForwardErrors),
    )]
    pub fn chat_completions() {}

    #[utoipa::path(
        post,
        path = "/endpoint/{project}/{workload}/v1/completions",
        operation_id = "completions",
        tag = "data-plane",
        security(("liveKey" = [])),
        params(EndpointPath),
        request_body(content = CompletionRequest, content_type = "application/json"),
        responses(CompletionAnswer, ForwardErrors),
    )]
    pub fn completions() {}

    #[utoipa::path(
        post,
        path = "/endpoint/{project}/{workload}/v1/rerank",
        operation_id = "rerank",
        tag = "data-plane",
        security(("liveKey" = [])),
        params(EndpointPath),
        request_body(content = RerankRequest, content_type = "application/json"),
        responses(
            (status = 200, description = "Results by relevance, highest first", body = Object),
            ForwardErrors,
        ),
    )]
    pub fn rerank() {}

    #[utoipa::path(
        post,
        path = "/endpoint/{project}/{workload}/forecast",
        operation_id = "forecast",
        tag = "data-plane",
        security(("liveKey" = [])),
        params(EndpointPath),
        request_body(content = ForecastRequest, content_type = "application/json"),
        responses(
            (status = 200, description = "The forecast (`forecast` workloads)", body = Object),
            ForwardErrors,
        ),
    )]
    pub fn forecast() {}

    #[utoipa::path(
        post,
        path = "/endpoint/{project}/{workload}/v1/embeddings",
        operation_id = "embeddings",
        tag = "data-plane",
        security(("liveKey" = [])),
        params(EndpointPath),
        request_body(content = EmbeddingsRequest, content_type = "application/json"),
        responses(
            (status = 200, description = "OpenAI embeddings list", body = Object),
            ForwardErrors,
        ),
    )]
    pub fn embeddings() {}

    #[utoipa::path(
        get,
        path = "/endpoint/{project}/{workload}/v1/models",
        operation_id = "models",
        tag = "data-plane",
        security(("liveKey" = [])),
        params(EndpointPath),
        responses(
            (status = 200, description = "The workload's model", body = Object),
            DataReadErrors,
        ),
    )]
    pub fn models() {}

    #[utoipa::path(
        post,
        path = "/endpoint/{project}/{workload}/jobs",
        operation_id = "submitJob",
        tag = "jobs",
        security(("liveKey" = [])),
        params(EndpointPath),
        request_body(content = JobRequest, content_type = "application/json"),
        responses(
            (status = 202, description = "Queued", body = SubmittedJob),
            JobSubmitErrors,
        ),
    )]
    pub fn submit_job() {}

    #[utoipa::path(
        get,
        path = "/endpoint/{project}/{workload}/jobs/{job_id}",
        operation_id = "getJob",
        tag = "jobs",
        security(("liveKey" = [])),
        params(JobPath),
        responses(
            (status = 200, description = "OK", body = JobView),
            DataReadErrors,
        ),
    )]
    pub fn get_job() {}
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "InferenceKey local Manager",
        description = "The control plane (/api, ik_sdk_ tokens), data plane (/endpoint, \
                       ik_live_ keys), admin API (/admin, the ik_admin_ token) and agent API \
                       (/agent, ik_worker_ tokens) of the local Manager, as in CONTRACT.md. Every error the \
                       Manager itself answers has the body {\"error\": {\"code\", \"message\", \
                       \"field\"?}}; errors an engine answers on the data plane pass through in \
                       OpenAI's form. Clients must ignore unknown response fields."
    ),
    paths(
        data_plane::chat_completions,
        data_plane::completions,
        data_plane::embeddings,
        data_plane::rerank,
        data_plane::forecast,
        data_plane::models,
        data_plane::submit_job,
        data_plane::get_job,
    ),
    components(schemas(ErrorBody)),
    modifiers(&Components),
    tags(
        (name = "workloads", description = "Workloads of the token's project (docs/contract.md §3)"),
        (name = "webhooks", description = "A workload's webhook destination (docs/contract.md §6)"),
        (name = "custom-backends", description = "Publishing custom backends (docs/contract.md §7)"),
        (name = "data-plane", description = "OpenAI-compatible calls forwarded to a ready replica (docs/contract.md §5)"),
        (name = "jobs", description = "Asynchronous jobs (docs/contract.md §5)"),
        (name = "admin", description = "Bootstrapping without a dashboard: projects, tokens, keys, workers, GPUs"),
        (name = "agent", description = "Worker agents on other hosts: report replicas, get assignments (docs/contract.md §8)"),
        (name = "meta", description = "This document"),
    ),
)]
struct ApiDoc;

/// The whole document: [`ApiDoc`] plus every operation the control-plane router registers.
pub fn generate() -> openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(crate::api::router().into_openapi());
    doc
}

/// The document as served, rendered once.
pub fn document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut value = serde_json::to_value(generate()).unwrap_or_default();
        mark_required_headers(&mut value);
        let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
        text.push('\n');
        text
    })
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    operation_id = "openapi",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI document.", body = Object)),
)]
pub async fn serve() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        document(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders() {
        let doc: Value = serde_json::from_str(document()).unwrap();
        assert!(doc["paths"].as_object().unwrap().len() > 10);
    }
}
