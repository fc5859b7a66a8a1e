//! `Idempotency-Key` on creates (CONTRACT.md §3.4): per token, kept 24 h. The same key and
//! body replays the first answer; another body is 422 `idempotency_key_reused`; a retry while
//! the first request runs is 409 `idempotency_key_in_use`.

use axum::http::{HeaderMap, StatusCode};
use sha2::{Digest, Sha256};

use crate::api::errors::ApiError;
use std::sync::Arc;

use futures_util::FutureExt;

use crate::store::Store;

pub const HEADER: &str = "idempotency-key";
pub const TTL_SECS: i64 = 24 * 60 * 60;
const MAX_KEY_LEN: usize = 255;

/// The request's key, if it sent one.
pub fn key_from(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(raw) = headers.get(HEADER) else {
        return Ok(None);
    };
    let key = raw.to_str().map(str::trim).unwrap_or_default();
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::validation(
            "Idempotency-Key",
            format!("must be 1 to {MAX_KEY_LEN} printable ASCII characters, such as a UUID"),
        ));
    }
    Ok(Some(key.to_string()))
}

/// What makes two requests "the same": route and exact body bytes.
pub fn fingerprint(method: &str, path: &str, body: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update(b" ");
    h.update(path.as_bytes());
    h.update(b"\n");
    h.update(body);
    h.finalize().into()
}

pub fn in_use() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "idempotency_key_in_use",
        "a request with this Idempotency-Key is still being processed; retry shortly",
    )
    .with_retry_after(1)
}

pub fn reused() -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
        "this Idempotency-Key was already used with a different request; use a new key for a new request",
    )
}

/// A claimed key. Dropping it without [`Claim::finish`] releases the key, so a request that
/// failed on the server (or was cancelled) can be retried with the same key. The release is
/// a store call, so a drop that cannot finish it at once spawns it as a task.
pub struct Claim {
    store: Arc<dyn Store>,
    token_id: String,
    key: String,
    finished: bool,
}

impl Claim {
    pub fn new(store: Arc<dyn Store>, token_id: &str, key: &str) -> Self {
        Claim {
            store,
            token_id: token_id.to_string(),
            key: key.to_string(),
            finished: false,
        }
    }

    /// Records the answer for replay.
    pub async fn finish(mut self, status: u16, body: &[u8]) -> Result<(), ApiError> {
        self.finished = true;
        self.store
            .idempotency_finish(&self.token_id, &self.key, status, body)
            .await?;
        Ok(())
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if !self.finished {
            let store = self.store.clone();
            let token_id = std::mem::take(&mut self.token_id);
            let key = std::mem::take(&mut self.key);
            let release = async move {
                if let Err(e) = store.idempotency_abandon(&token_id, &key).await {
                    tracing::error!(error = %e, "could not release an idempotency key");
                }
            };
            // SQLite's call completes on its first poll, so the key is free before the
            // response goes out, as before the store was async; a networked store's call
            // finishes in a task.
            let mut release = Box::pin(release);
            if release.as_mut().now_or_never().is_none() {
                match tokio::runtime::Handle::try_current() {
                    Ok(rt) => {
                        rt.spawn(release);
                    }
                    Err(_) => tracing::error!("could not release an idempotency key: no runtime"),
                }
            }
        }
    }
}
