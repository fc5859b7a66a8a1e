//! The reference engine: a small, fast, deterministic OpenAI-compatible model server that runs
//! no model, and says so in every answer.
//!
//! The local Manager launches it (its CLI's `engine` subcommand calls [`run_cli`]) for
//! workloads whose real engine (vLLM, llama-server, …) is not installed, and the SDK's tests and
//! benchmarks use it as their model server. Because answers are a pure function of the request,
//! tests can assert on exact text, vectors and scores.
//!
//! Routes (docs/contract.md §5):
//!
//! | route | answer |
//! |---|---|
//! | `GET /health` | 200 `{"status":"ok"}` once the startup delay has passed, 503 before; every other route also answers 503 until then |
//! | `GET /v1/models` | the configured model |
//! | `POST /v1/chat/completions` | `Reference engine (no model loaded) reply to: <last user message>` cycled to `max_tokens` words (default 16); `stream`, `stream_options.include_usage`, `stop`, `response_format` (JSON reply `{"reply": …}`), `tools` + forced `tool_choice` (a tool call) |
//! | `POST /v1/embeddings` | unit vectors from SHA-256 of each input; `dimensions`, `encoding_format: "base64"` |
//! | `POST /v1/rerank`, `/rerank`, `/v2/rerank` | word-overlap (Jaccard) relevance scores, best first |
//! | `POST /v1/images/generations`, `/v1/images/edits`, `/v1/images/variations` | 8×8 PNGs as `b64_json` or `data:` URLs |
//! | `POST /v1/audio/speech`, `/v1/audio/generate` | a short WAV tone (raw PCM for `response_format: "pcm"`) |
//! | `POST /v1/audio/transcriptions` | `reference engine (no model loaded) heard N bytes of <content type>` |
//! | `GET /v1/audio/voices` | `{"voices": [...]}` |
//! | `POST /forecast` | `{"forecast": {"model", "horizon", "values"}}`, the series' trend line |
//!
//! Errors are OpenAI-shaped: `{"error": {"message", "type", "param", "code"}}`; bad input is a
//! 400 naming the field, unknown routes a 404, bodies over 32 MiB a 413.
//!
//! # Test hooks
//!
//! Markers in the request text make the engine fail on purpose. The SDK's and the Manager's
//! tests depend on them, so they are part of this crate's contract:
//!
//! * `[[ik:crash]]` — the process exits with code 3 at once.
//! * `[[ik:slow:MS]]` — wait MS milliseconds before the first byte.
//! * `[[ik:status:NNN]]` — answer HTTP NNN (400–599) with an OpenAI-style error body;
//!   429 and 503 carry `Retry-After: 1`.
//! * `[[ik:error]]` — streaming: a few chunks, then the in-band frame
//!   `data: {"error": {"message": "…", "type": "engine_error", "code": "engine_error"}}` and
//!   the stream ends without `[DONE]`; non-streaming: HTTP 500 with that body.
//! * `[[ik:truncate]]` — streaming: a few chunks, then the stream ends cleanly without
//!   `[DONE]`; non-streaming: a 200 whose JSON body is cut in half.
//! * `[[ik:keepalive:MS]]` — streaming: only `: keep-alive` comments, every 100 ms, for MS
//!   milliseconds before the first chunk.
//! * `[[ik:chunk-delay:MS]]` — streaming: wait MS milliseconds before each content chunk
//!   and write each chunk separately.
//!
//! Chat reads hooks from the last user message; embeddings from each input; rerank from the
//! query; images and audio generation from the prompt; speech from the input; transcriptions
//! from the `prompt` form field. Unknown hooks are a 400.

mod chat;
mod cli;
mod embeddings;
mod error;
mod forecast;
mod hooks;
mod media;
mod params;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

pub use cli::run_cli;

use error::ApiError;

/// What the engine pretends to serve. The Manager builds one from a workload's spec.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The model name reported in answers and `/v1/models`.
    pub model: String,
    /// The workload's task type, for the startup line (every route is served regardless).
    pub task_type: String,
    /// Embedding length when a request gives no `dimensions`.
    pub embedding_dim: usize,
    /// How long `/health` says 503 after start, to imitate a model loading.
    pub startup_delay: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            model: "reference-model".into(),
            task_type: "text2text".into(),
            embedding_dim: 384,
            startup_delay: Duration::ZERO,
        }
    }
}

/// Maximum request body: large enough for images and audio uploads.
pub(crate) const BODY_LIMIT: usize = 32 * 1024 * 1024;
/// `system_fingerprint` of every chat answer, so clients can tell this engine from a model.
pub(crate) const FINGERPRINT: &str = "inferencekey-reference-engine";

pub(crate) struct AppState {
    cfg: EngineConfig,
    ready_at: Instant,
}

impl AppState {
    fn ready(&self) -> bool {
        Instant::now() >= self.ready_at
    }
}

/// The engine's routes; the startup delay counts from this call.
pub fn router(cfg: EngineConfig) -> Router {
    let state = Arc::new(AppState {
        ready_at: Instant::now() + cfg.startup_delay,
        cfg,
    });
    Router::new()
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(chat::completions))
        .route("/v1/embeddings", post(embeddings::embeddings))
        .route("/v1/rerank", post(embeddings::rerank))
        .route("/v2/rerank", post(embeddings::rerank))
        .route("/rerank", post(embeddings::rerank))
        .route("/v1/images/generations", post(media::generations))
        .route("/v1/images/edits", post(media::edits))
        .route("/v1/images/variations", post(media::variations))
        .route("/v1/audio/speech", post(media::speech))
        .route("/v1/audio/transcriptions", post(media::transcriptions))
        .route("/v1/audio/generate", post(media::generate))
        .route("/v1/audio/voices", get(media::voices))
        .route("/forecast", post(forecast::forecast))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .route_layer(middleware::from_fn_with_state(state.clone(), until_ready))
        // `/health` answers during startup too, so it sits outside the readiness gate.
        .route("/health", get(health))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// Serves [`router`] on `listener` until `shutdown` resolves, then drains open requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    cfg: EngineConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    // Small answers must not wait for Nagle's algorithm: latency is what benchmarks measure.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router(cfg))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn health(State(st): State<Arc<AppState>>) -> Response {
    if st.ready() {
        Json(json!({"status": "ok"})).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "loading"})),
        )
            .into_response()
    }
}

/// Like a real server loading weights, nothing but `/health` answers during the startup delay.
async fn until_ready(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if st.ready() {
        return next.run(req).await;
    }
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "the reference engine is still starting (startup delay); retry shortly",
    )
    .with_code("model_loading")
    .into_response()
}

async fn models(State(st): State<Arc<AppState>>) -> Json<serde_json::Value> {
    Json(json!({
        "object": "list",
        "data": [{
            "id": st.cfg.model,
            "object": "model",
            "created": unix_now(),
            "owned_by": "inferencekey-reference-engine",
        }],
    }))
}

/// A response id unique within this process, e.g. `chatcmpl-ref1a2b-000000000001`.
pub(crate) fn next_id(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed) + 1;
    format!("{prefix}-ref{:x}-{n:012}", std::process::id())
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
