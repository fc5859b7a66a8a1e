//! Streamed chat answers: SSE frames of `chat.completion.chunk` turned into [`TextChunk`]s.
//! A stream that ends without `[DONE]` or carries an in-band `{"error": …}` frame is an error,
//! never a silent partial success.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use tokio::time::{timeout_at, Instant};

use crate::domain::accumulate::TextAccumulator;
use crate::domain::error::{Error, ErrorKind};
pub use crate::domain::result::TextChunk;
use crate::domain::result::{ResponseMeta, TextResult};
use crate::domain::token::scrub;
use crate::transport::sse::{SseDecoder, SseEvent};
use crate::transport::{map_body_error, meta_of, min_deadline};

#[derive(Deserialize)]
struct ChunkWire<'a> {
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    choices: Vec<ChoiceWire<'a>>,
    #[serde(default)]
    usage: Option<Value>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct ChoiceWire<'a> {
    #[serde(borrow, default)]
    delta: Option<DeltaWire<'a>>,
    #[serde(borrow, default)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct DeltaWire<'a> {
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
    #[serde(default)]
    tool_calls: Option<Value>,
}

/// The error an in-band `{"error": …}` frame stands for.
fn in_band_error(err: &Value) -> Error {
    let (code, message) = match err {
        Value::Object(o) => (
            o.get("code")
                .or_else(|| o.get("type"))
                .and_then(Value::as_str)
                .map(str::to_string),
            o.get("message")
                .and_then(Value::as_str)
                .unwrap_or("the server reported an error mid-stream")
                .to_string(),
        ),
        Value::String(s) => (Some(s.clone()), s.clone()),
        other => (None, other.to_string()),
    };
    let mut e = Error::new(
        ErrorKind::Server,
        format!("stream failed: {}", scrub(&message)),
    );
    e.code = code.or_else(|| Some("stream_error".into()));
    e
}

fn parse_chunk(event: SseEvent) -> Result<TextChunk, Error> {
    let wire: ChunkWire<'_> = serde_json::from_str(&event.data).map_err(|e| {
        Error::protocol(format!("undecodable stream frame: {e}")).with_code("bad_frame")
    })?;
    if let Some(err) = &wire.error {
        return Err(in_band_error(err));
    }
    let mut chunk = TextChunk {
        model: wire.model.map(Cow::into_owned),
        usage: wire.usage,
        ..Default::default()
    };
    if let Some(choice) = wire.choices.into_iter().next() {
        chunk.finish_reason = choice.finish_reason.map(Cow::into_owned);
        if let Some(delta) = choice.delta {
            chunk.text = delta.content.map(Cow::into_owned).unwrap_or_default();
            chunk.tool_calls = delta.tool_calls;
        }
    }
    chunk.raw = event.data;
    Ok(chunk)
}

/// A streamed chat answer. Dropping it (or calling [`TextStream::close`]) closes the
/// connection.
pub struct TextStream {
    resp: Option<reqwest::Response>,
    decoder: SseDecoder,
    pending: VecDeque<SseEvent>,
    scratch: Vec<SseEvent>,
    idle: Duration,
    deadline: Option<Instant>,
    last_event: Instant,
    chunks: u64,
    truncated: bool,
    /// The response head's request id and headers.
    meta: ResponseMeta,
    /// Every chunk delivered so far, folded into one answer for [`TextStream::final_result`]
    /// (boxed: it is most of a stream's size and only `final_result` reads it).
    acc: Box<TextAccumulator>,
}

impl TextStream {
    pub(crate) fn new(resp: reqwest::Response, idle: Duration, deadline: Option<Instant>) -> Self {
        TextStream {
            meta: meta_of(resp.headers()),
            acc: Box::default(),
            resp: Some(resp),
            decoder: SseDecoder::new(),
            pending: VecDeque::new(),
            scratch: Vec::new(),
            idle,
            deadline,
            last_event: Instant::now(),
            chunks: 0,
            truncated: false,
        }
    }

    /// Closes the connection; later calls to `next_chunk` return `None`.
    pub fn close(&mut self) {
        self.resp = None;
        self.pending.clear();
    }

    /// A chunk already decoded, without touching the network (a fast path for bindings that
    /// would otherwise cross into the async runtime per chunk).
    pub fn try_next_buffered(&mut self) -> Option<Result<TextChunk, Error>> {
        let event = self.pending.pop_front()?;
        let parsed = parse_chunk(event);
        match &parsed {
            Ok(chunk) => {
                self.chunks += 1;
                self.acc.push(chunk);
            }
            Err(_) => self.close(),
        }
        Some(parsed)
    }

    /// The request id and headers of the stream's response.
    pub fn meta(&self) -> &ResponseMeta {
        &self.meta
    }

    /// Reads the rest of the stream and returns the whole answer as a [`TextResult`]: every
    /// chunk's text (those already delivered included), the finish reason, usage and tool
    /// calls rebuilt from their deltas. A stream that fails, or was closed before its end,
    /// is an error rather than a partial answer.
    pub async fn final_result(&mut self) -> Result<TextResult, Error> {
        while self.next_chunk().await?.is_some() {}
        if !self.decoder.done() {
            return Err(stream_closed());
        }
        Ok(self.acc.finish(self.meta.clone()))
    }

    /// The next chunk; `None` after `[DONE]`.
    pub async fn next_chunk(&mut self) -> Result<Option<TextChunk>, Error> {
        loop {
            if let Some(next) = self.try_next_buffered() {
                return next.map(Some);
            }
            if self.truncated {
                self.truncated = false;
                return Err(truncated(self.chunks));
            }
            let Some(resp) = self.resp.as_mut() else {
                return Ok(None);
            };
            if self.decoder.done() {
                self.resp = None;
                return Ok(None);
            }
            // Idle is measured from the last *event*: keep-alive comments do not reset it.
            let until = min_deadline(self.last_event + self.idle, self.deadline);
            let read = match timeout_at(until, resp.chunk()).await {
                Ok(r) => r,
                Err(_) => {
                    self.close();
                    let why = if self.deadline.is_some_and(|d| Instant::now() >= d) {
                        "the total deadline passed".to_string()
                    } else {
                        format!("no event within the read timeout of {:?}", self.idle)
                    };
                    return Err(
                        Error::new(ErrorKind::Timeout, format!("stream stalled: {why}"))
                            .with_code("timeout"),
                    );
                }
            };
            match read {
                Ok(Some(bytes)) => {
                    let res = self.decoder.push(&bytes, &mut self.scratch);
                    if !self.scratch.is_empty() {
                        self.last_event = Instant::now();
                        self.pending.extend(self.scratch.drain(..));
                    }
                    if let Err(e) = res {
                        self.close();
                        return Err(e);
                    }
                    if self.decoder.done() {
                        self.resp = None;
                    }
                }
                Ok(None) => {
                    self.decoder.finish(&mut self.scratch)?;
                    self.pending.extend(self.scratch.drain(..));
                    self.resp = None;
                    // Deliver what arrived first, then fail: the caller must not mistake a
                    // cut-off answer for a complete one.
                    self.truncated = !self.decoder.done();
                }
                Err(e) => {
                    self.close();
                    return Err(map_body_error(e, "chat/completions stream"));
                }
            }
        }
    }
}

/// `final_result` on a stream that was closed (or failed) before its end: there is no whole
/// answer to give. Bindings that let go of a stream give the same error for it.
pub fn stream_closed() -> Error {
    Error::new(
        ErrorKind::Configuration,
        "the stream was closed (or failed) before its end; call final() before closing it, \
         or instead of reading it",
    )
    .with_code("stream_closed")
}

fn truncated(chunks: u64) -> Error {
    Error::protocol(format!(
        "the stream ended after {chunks} chunks without [DONE]; the answer is incomplete"
    ))
    .with_code("stream_truncated")
}
