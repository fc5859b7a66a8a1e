//! Promises from core futures, and streamed chat answers.

use std::future::Future;
use std::sync::Arc;

use inferencekey_core::{Error, TextStream as CoreStream};
use napi::bindgen_prelude::{PromiseRaw, ToNapiValue};
use napi::Env;
use napi_derive::napi;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::cancel::cancellable;
use crate::errors::from_call;
use crate::marshal::to_json;

/// Runs `fut` on the addon's runtime (see [`crate::runtime`]) as a Promise, cancellable
/// through `cancel`.
pub fn spawn<'e, T, F>(env: &'e Env, cancel: Option<u32>, fut: F) -> napi::Result<PromiseRaw<'e, T>>
where
    T: 'static + Send + ToNapiValue,
    F: 'static + Send + Future<Output = Result<T, Error>>,
{
    crate::runtime::promise(env, async move {
        cancellable(cancel, fut).await.map_err(from_call)
    })
}

/// The most chunks one `next()` hands over: chunks already decoded are delivered together,
/// so a fast stream costs one Promise per network read rather than one per chunk.
const BATCH: usize = 4096;

struct State {
    stream: Option<CoreStream>,
    /// An error found after some chunks of a batch: reported by the next `next()`, so the
    /// chunks that arrived first are delivered first.
    failed: Option<Error>,
}

/// A streamed chat answer. `close()` (the async iterator's `return`, i.e. `break`) drops the
/// response and so closes the connection.
#[napi]
pub struct TextStream {
    state: Arc<Mutex<State>>,
    closed: CancellationToken,
}

impl TextStream {
    pub fn new(s: CoreStream) -> Self {
        TextStream {
            state: Arc::new(Mutex::new(State {
                stream: Some(s),
                failed: None,
            })),
            closed: CancellationToken::new(),
        }
    }
}

#[napi]
impl TextStream {
    /// The next chunks as a JSON array (at least one), or `null` at the end.
    #[napi]
    pub fn next<'e>(
        &self,
        env: &'e Env,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'e, Option<String>>> {
        let state = Arc::clone(&self.state);
        let closed = self.closed.clone();
        spawn(env, cancel, async move {
            let mut guard = state.lock().await;
            if let Some(e) = guard.failed.take() {
                guard.stream = None;
                return Err(e);
            }
            let Some(s) = guard.stream.as_mut() else {
                return Ok(None);
            };
            let first = tokio::select! {
                biased;
                _ = closed.cancelled() => Ok(None),
                r = s.next_chunk() => r,
            };
            let first = match first {
                Ok(Some(c)) => c,
                // The ended stream holds no connection now; it stays for `finalResult()`.
                Ok(None) => return Ok(None),
                Err(e) => {
                    guard.stream = None;
                    return Err(e);
                }
            };
            let mut out = Vec::with_capacity(16);
            out.push(first);
            while out.len() < BATCH {
                match s.try_next_buffered() {
                    Some(Ok(c)) => out.push(c),
                    Some(Err(e)) => {
                        guard.failed = Some(e);
                        break;
                    }
                    None => break,
                }
            }
            to_json(&out).map(Some)
        })
    }

    /// Reads the rest of the stream and resolves with the whole answer (the core's
    /// `TextResult` as JSON): every chunk's text, already-delivered ones included, the finish
    /// reason, usage and tool calls rebuilt from their deltas. Rejects when the stream failed
    /// or was closed before its end.
    #[napi]
    pub fn final_result<'e>(
        &self,
        env: &'e Env,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'e, String>> {
        let state = Arc::clone(&self.state);
        spawn(env, cancel, async move {
            let mut guard = state.lock().await;
            if let Some(e) = guard.failed.take() {
                guard.stream = None;
                return Err(e);
            }
            let Some(s) = guard.stream.as_mut() else {
                return Err(inferencekey_core::stream::stream_closed());
            };
            to_json(&s.final_result().await?)
        })
    }

    /// Closes the connection; later `next()` calls resolve to `null`. The chunks already
    /// delivered stay folded in, for `finalResult()` on a stream that had ended.
    #[napi]
    pub fn close(&self) {
        self.closed.cancel();
        if let Ok(mut g) = self.state.try_lock() {
            if let Some(s) = g.stream.as_mut() {
                s.close();
            }
        }
    }
}
