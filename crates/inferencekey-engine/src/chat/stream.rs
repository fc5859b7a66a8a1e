//! The streamed form of a chat answer: `chat.completion.chunk` frames generated lazily, a batch
//! per write, with the stream-only test hooks (keep-alive, chunk pacing, faults) applied.

use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::{BufMut, BytesMut};
use serde_json::json;

use super::{json_escape, Answer, AnswerKind, ChatRequest, Script};
use crate::hooks::{self, Hooks};
use crate::FINGERPRINT;

/// Stream bytes gathered before a write: fewer syscalls, still incremental.
const BATCH: usize = 16 * 1024;
/// Content chunks sent before an `[[ik:error]]` or `[[ik:truncate]]` stream breaks off.
const CHUNKS_BEFORE_FAULT: usize = 3;
const KEEPALIVE_EVERY: Duration = Duration::from_millis(100);

pub(super) fn response(answer: Answer, req: &ChatRequest) -> Response {
    let stream = ChatStream::new(answer, req);
    let body = Body::from_stream(futures_util::stream::unfold(stream, |mut s| async move {
        let chunk = s.next().await?;
        Some((Ok::<_, std::convert::Infallible>(chunk), s))
    }));
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

enum Stage {
    KeepAlive { until: Instant, sent: bool },
    Body,
    Done,
}

/// Produces the SSE body of a streamed answer, one batch of frames per call.
struct ChatStream {
    answer: Answer,
    /// `data: {"id":…,"choices":[` — shared by every chunk.
    head: Vec<u8>,
    /// Each delta, already escaped for its place inside a JSON string (text answers), or the
    /// whole delta object (tool calls).
    deltas: Vec<String>,
    /// Index of the next delta; `deltas` for text holds one cycle, see [`ChatStream::delta`].
    next: usize,
    limit: usize,
    started: bool,
    stage: Stage,
    include_usage: bool,
    hooks: Hooks,
}

impl ChatStream {
    fn new(answer: Answer, req: &ChatRequest) -> ChatStream {
        let head = format!(
            "data: {{\"id\":\"{}\",\"object\":\"chat.completion.chunk\",\"created\":{},\"model\":{},\"system_fingerprint\":\"{FINGERPRINT}\",\"choices\":[",
            answer.id,
            answer.created,
            serde_json::to_string(&answer.model).expect("a string serializes"),
        )
        .into_bytes();
        let (deltas, total) = match &answer.kind {
            AnswerKind::Text(s) => (Vec::new(), s.piece_count()),
            AnswerKind::Tool {
                call_id,
                name,
                arguments,
            } => {
                let call = json!({"tool_calls": [{"index": 0, "id": call_id, "type": "function",
                    "function": {"name": name, "arguments": ""}}]});
                let args =
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": arguments}}]});
                (vec![call.to_string(), args.to_string()], 2)
            }
        };
        let limit = if req.hooks.error || req.hooks.truncate {
            total.min(CHUNKS_BEFORE_FAULT)
        } else {
            total
        };
        let stage = match req.hooks.keepalive {
            Some(d) => Stage::KeepAlive {
                until: Instant::now() + d,
                sent: false,
            },
            None => Stage::Body,
        };
        let mut s = ChatStream {
            answer,
            head,
            deltas,
            next: 0,
            limit,
            started: false,
            stage,
            include_usage: req.include_usage,
            hooks: req.hooks.clone(),
        };
        s.escape_text_pieces();
        s
    }

    /// Escapes the text pieces once, so each frame is a few memcpys.
    fn escape_text_pieces(&mut self) {
        if let AnswerKind::Text(script) = &self.answer.kind {
            // Layout: [open?, first, cycle…, tail?, close?]; see `delta`.
            let mut d = Vec::with_capacity(script.cycle.len() + 4);
            d.push(json_escape(script.open));
            d.push(json_escape(&script.first));
            d.extend(script.cycle.iter().map(|w| json_escape(w)));
            d.push(json_escape(script.tail.as_deref().unwrap_or("")));
            d.push(json_escape(script.close));
            self.deltas = d;
        }
    }

    /// The i-th delta of a text answer, in the order [`Script::pieces`] yields them.
    fn text_delta<'a>(&'a self, script: &Script, i: usize) -> &'a str {
        let d = &self.deltas;
        let cycle = script.cycle.len();
        let i = if script.open.is_empty() {
            i
        } else if i == 0 {
            return &d[0];
        } else {
            i - 1
        };
        if i < script.full {
            return if i == 0 { &d[1] } else { &d[2 + i % cycle] };
        }
        let rest = i - script.full;
        match (&script.tail, rest) {
            (Some(_), 0) => &d[2 + cycle],
            _ => &d[3 + cycle],
        }
    }

    fn push_delta(&self, buf: &mut BytesMut, i: usize) {
        buf.put_slice(&self.head);
        match &self.answer.kind {
            AnswerKind::Text(script) => {
                buf.put_slice(b"{\"index\":0,\"delta\":{\"content\":\"");
                buf.put_slice(self.text_delta(script, i).as_bytes());
                buf.put_slice(b"\"},\"finish_reason\":null}]}\n\n");
            }
            AnswerKind::Tool { .. } => {
                buf.put_slice(b"{\"index\":0,\"delta\":");
                buf.put_slice(self.deltas[i].as_bytes());
                buf.put_slice(b",\"finish_reason\":null}]}\n\n");
            }
        }
    }

    fn push_frame(&self, buf: &mut BytesMut, rest: &str) {
        buf.put_slice(&self.head);
        buf.put_slice(rest.as_bytes());
        buf.put_slice(b"\n\n");
    }

    /// The frames after the last delta: the finish chunk, usage, `[DONE]` — or the fault.
    fn push_end(&self, buf: &mut BytesMut) {
        if self.hooks.error {
            buf.put_slice(b"data: ");
            buf.put_slice(hooks::engine_error().body().to_string().as_bytes());
            buf.put_slice(b"\n\n");
            return;
        }
        if self.hooks.truncate {
            return;
        }
        self.push_frame(
            buf,
            &format!(
                "{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"{}\"}}]}}",
                self.answer.finish_reason()
            ),
        );
        if self.include_usage {
            self.push_frame(buf, &format!("],\"usage\":{}}}", self.answer.usage()));
        }
        buf.put_slice(b"data: [DONE]\n\n");
    }

    async fn next(&mut self) -> Option<Bytes> {
        loop {
            match &mut self.stage {
                Stage::Done => return None,
                Stage::KeepAlive { until, sent } => {
                    let left = until.saturating_duration_since(Instant::now());
                    if *sent {
                        tokio::time::sleep(left.min(KEEPALIVE_EVERY)).await;
                        if Instant::now() >= *until {
                            self.stage = Stage::Body;
                            continue;
                        }
                    } else if left.is_zero() {
                        self.stage = Stage::Body;
                        continue;
                    }
                    *sent = true;
                    return Some(Bytes::from_static(b": keep-alive\n\n"));
                }
                Stage::Body => return Some(self.body_batch().await),
            }
        }
    }

    async fn body_batch(&mut self) -> Bytes {
        let mut buf = BytesMut::with_capacity(BATCH + 1024);
        let paced = self.hooks.chunk_delay;
        if !self.started {
            self.started = true;
            self.push_frame(
                &mut buf,
                "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}",
            );
        }
        while self.next < self.limit && buf.len() < BATCH {
            if let Some(d) = paced {
                if !buf.is_empty() {
                    return buf.freeze();
                }
                tokio::time::sleep(d).await;
            }
            self.push_delta(&mut buf, self.next);
            self.next += 1;
        }
        if self.next >= self.limit {
            self.push_end(&mut buf);
            self.stage = Stage::Done;
        }
        buf.freeze()
    }
}
