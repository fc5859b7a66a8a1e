//! Pull iterators over the ABI: `ik_stream_next` / `ik_stream_free`. One handle type serves
//! both streamed chat answers and readiness events, so C and Go learn one pattern.
//!
//! A pull iterator rather than a callback: the caller owns the loop, so it can stop, pause or
//! interleave streams without re-entrancy rules, and Go needs no exported callbacks.

use std::ffi::c_char;
use std::sync::Mutex;

use inferencekey_core::management::ReadinessStream;
use inferencekey_core::{Error, TextChunk, TextStream};

use crate::ffi::{block, c_string, free_handle, guard, guard_void, handle, ik_status, out_arg};

pub(crate) enum Stream {
    Text(TextStream),
    Readiness(ReadinessStream),
}

/// An open stream. Thread-safe (calls are serialised); free with `ik_stream_free`, which
/// closes the connection.
pub struct ik_stream {
    /// `None` once the stream ended, failed, or its task was lost.
    state: Mutex<Option<Stream>>,
}

impl ik_stream {
    pub(crate) fn new(stream: Stream) -> Self {
        ik_stream {
            state: Mutex::new(Some(stream)),
        }
    }
}

fn chunk_json(c: &TextChunk) -> String {
    serde_json::to_string(c).unwrap_or_default()
}

/// The next item as JSON, or `None` at the end.
fn next(slot: &mut Option<Stream>) -> Result<Option<String>, crate::ffi::Failure> {
    // Chunks already decoded are handed out without a trip through the runtime.
    if let Some(Stream::Text(s)) = slot.as_mut() {
        if let Some(buffered) = s.try_next_buffered() {
            return Ok(Some(chunk_json(&buffered?)));
        }
    }
    let Some(stream) = slot.take() else {
        return Ok(None);
    };
    // The stream moves into the task and back, because the runtime needs `'static` futures.
    let (stream, item): (Stream, Result<Option<String>, Error>) = block(async move {
        match stream {
            Stream::Text(mut s) => {
                let item = s.next_chunk().await.map(|c| c.as_ref().map(chunk_json));
                (Stream::Text(s), item)
            }
            Stream::Readiness(mut s) => {
                let item = s.next_event().await.map(|e| {
                    e.as_ref()
                        .map(|e| serde_json::to_string(e).unwrap_or_default())
                });
                (Stream::Readiness(s), item)
            }
        }
    })?;
    if let Ok(Some(_)) = &item {
        *slot = Some(stream);
    }
    Ok(item?)
}

/// The next item of the stream.
///
/// On `IK_OK`, `*out_json` is the next item, or NULL when the stream has ended (then every
/// later call also gives NULL). A chat chunk is `{"text", "finish_reason", "model", "usage",
/// "tool_calls"}`; a readiness event is `{"phase", "message", "elapsed_ms", "step"?}`. A
/// stream cut short before `[DONE]` is `IK_ERR_PROTOCOL` (code `stream_truncated`), an
/// in-band error frame is `IK_ERR_SERVER`, a stall past the read timeout `IK_ERR_TIMEOUT`:
/// never a silent end. After an error the stream is closed and later calls give NULL.
///
/// # Safety
/// `stream` is NULL or a live stream; `out_json` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn ik_stream_next(
    stream: *const ik_stream,
    out_json: *mut *mut c_char,
) -> ik_status {
    guard(|| {
        let out = out_arg(out_json, "out_json")?;
        let s = handle(stream, "stream")?;
        // A panic while the lock was held cannot leave the slot half-written: recover it.
        let mut slot = s.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(item) = next(&mut slot)? {
            *out = c_string(item)?;
        }
        Ok(())
    })
}

/// Closes and frees the stream. NULL is a no-op. Freeing before the end is how a caller
/// stops reading early.
///
/// # Safety
/// `stream` is NULL or a live stream not used by any other thread during or after this call.
#[no_mangle]
pub unsafe extern "C" fn ik_stream_free(stream: *mut ik_stream) {
    guard_void(|| free_handle(stream))
}
