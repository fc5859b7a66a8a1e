//! Cancellation of in-flight calls. JavaScript asks for a cancel id before a call (so an
//! abort that fires before the future first runs is not lost), passes it with the call, and
//! calls [`cancel`] from its `AbortSignal` listener. The call's future is raced against the
//! token; when the token wins, the core's future is dropped, and with it the HTTP request
//! and its connection.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use inferencekey_core::Error;
use napi_derive::napi;
use tokio_util::sync::CancellationToken;

fn registry() -> &'static Mutex<HashMap<u32, CancellationToken>> {
    static MAP: OnceLock<Mutex<HashMap<u32, CancellationToken>>> = OnceLock::new();
    MAP.get_or_init(Default::default)
}

fn with_registry<R>(f: impl FnOnce(&mut HashMap<u32, CancellationToken>) -> R) -> R {
    let mut guard = match registry().lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    f(&mut guard)
}

/// A fresh cancel id; released by [`release`] (the TypeScript layer calls it when the call
/// settles) or consumed by [`cancel`].
#[napi]
pub fn cancel_id() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    with_registry(|m| m.insert(id, CancellationToken::new()));
    id
}

/// Cancels the calls made with `id`. Unknown ids (already released) are ignored.
#[napi]
pub fn cancel(id: u32) {
    if let Some(t) = with_registry(|m| m.remove(&id)) {
        t.cancel();
    }
}

/// Forgets `id` without cancelling (the call settled).
#[napi]
pub fn release(id: u32) {
    with_registry(|m| m.remove(&id));
}

/// The token of `id`, if it is still registered.
fn token(id: Option<u32>) -> Option<CancellationToken> {
    id.and_then(|id| with_registry(|m| m.get(&id).cloned()))
}

/// What an aborted call reports; the TypeScript layer rethrows the signal's reason instead.
pub const CANCELLED: &str = "cancelled";

/// Runs `fut` unless `id` is cancelled first; cancellation drops `fut`.
pub async fn cancellable<T>(
    id: Option<u32>,
    fut: impl Future<Output = Result<T, Error>>,
) -> Result<T, Cancelled> {
    match token(id) {
        Some(t) => tokio::select! {
            biased;
            _ = t.cancelled() => Err(Cancelled::Aborted),
            r = fut => r.map_err(Cancelled::Failed),
        },
        None => fut.await.map_err(Cancelled::Failed),
    }
}

/// A call that did not produce a value.
pub enum Cancelled {
    Aborted,
    Failed(Error),
}
