//! Incremental Server-Sent Events decoder (WHATWG HTML, "event stream interpretation").
//!
//! Hand-written rather than taken from a crate because it sits on the streaming-chat hot path
//! and must meet three constraints together: bytes arrive in arbitrary network chunks (split
//! CRLF pairs, split UTF-8), memory stays bounded against a hostile peer, and the OpenAI
//! `data: [DONE]` sentinel ends the stream. Lines are found with `memchr` and decoded straight
//! out of the caller's chunk; only a line that straddles two chunks is copied, into one reused
//! buffer. Valid UTF-8 is borrowed, so the only allocation per event is the event itself.

use memchr::{memchr, memchr2};

use crate::domain::error::Error;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` type; `None` means the spec's default, `message`.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// The stream's last event ID at dispatch time. Per spec an `id:` persists across events
    /// until another `id:` replaces it, so this is what a reconnect would send as
    /// `Last-Event-ID`; `None` while it is empty.
    pub id: Option<String>,
    /// A `retry:` value given inside this event, in milliseconds.
    pub retry: Option<u64>,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The decoder state of one event stream. Feed it with [`SseDecoder::push`], end it with
/// [`SseDecoder::finish`].
#[derive(Debug)]
pub struct SseDecoder {
    max_event_size: usize,
    /// The unterminated tail of the last chunk: a line still waiting for its line ending.
    line: Vec<u8>,
    /// The previous chunk ended in CR, so an LF opening the next one ends no extra line.
    pending_cr: bool,
    /// No line of this stream has been processed yet, so a BOM may still lead it.
    at_start: bool,
    data: String,
    has_data: bool,
    event_type: String,
    /// The spec's "last event ID buffer": set by `id:`, published at the next blank line.
    id_buffer: String,
    id_changed: bool,
    last_event_id: String,
    event_retry: Option<u64>,
    retry: Option<u64>,
    /// Bytes of the field lines of the event being assembled, for the size bound.
    event_bytes: usize,
    done: bool,
    /// Set by the first error; every later call repeats it, so a caller that drops one error
    /// cannot go on to read a stream that was cut short as if it were whole.
    failed: Option<Error>,
}

impl Default for SseDecoder {
    fn default() -> Self {
        SseDecoder::new()
    }
}

impl SseDecoder {
    /// The bound on one event: its field lines (names included) added up, plus whatever line
    /// is being read, comments too. This also caps the bytes buffered while waiting for a
    /// line ending, so a peer that never sends one cannot grow memory.
    pub const DEFAULT_MAX_EVENT_SIZE: usize = 1 << 20;

    pub fn new() -> Self {
        SseDecoder::with_max_event_size(Self::DEFAULT_MAX_EVENT_SIZE)
    }

    pub fn with_max_event_size(max: usize) -> Self {
        SseDecoder {
            max_event_size: max,
            line: Vec::new(),
            pending_cr: false,
            at_start: true,
            data: String::new(),
            has_data: false,
            event_type: String::new(),
            id_buffer: String::new(),
            id_changed: false,
            last_event_id: String::new(),
            event_retry: None,
            retry: None,
            event_bytes: 0,
            done: false,
            failed: None,
        }
    }

    /// Feeds arbitrary bytes; appends completed events to `out`. Events completed before an
    /// error are still appended. After `data: [DONE]` the rest of the input is ignored.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), Error> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let result = self.push_inner(chunk, out);
        if let Err(err) = &result {
            self.failed = Some(err.clone());
        }
        result
    }

    fn push_inner(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), Error> {
        let mut rest = chunk;
        if self.done || rest.is_empty() {
            return Ok(());
        }
        if std::mem::take(&mut self.pending_cr) && rest[0] == b'\n' {
            rest = &rest[1..];
        }
        while let Some(end) = memchr2(b'\n', b'\r', rest) {
            let mut next = end + 1;
            if rest[end] == b'\r' {
                match rest.get(next) {
                    Some(b'\n') => next += 1,
                    Some(_) => {}
                    None => self.pending_cr = true,
                }
            }
            if self.line.is_empty() {
                self.check_size(end)?;
                self.process_line(&rest[..end], out);
            } else {
                self.check_size(self.line.len() + end)?;
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(&rest[..end]);
                self.process_line(&line, out);
                line.clear();
                self.line = line;
            }
            if self.done {
                return Ok(());
            }
            rest = &rest[next..];
        }
        if !rest.is_empty() {
            self.check_size(self.line.len() + rest.len())?;
            self.line.extend_from_slice(rest);
        }
        Ok(())
    }

    /// End of stream. Per spec, an event without its closing blank line (and an unterminated
    /// last line) is discarded, so nothing is ever appended to `_out`; the parameter keeps
    /// `push`/`finish` interchangeable for callers that drain both into one buffer. The
    /// decoder is then ready for a reconnected stream: the last event ID and retry survive.
    pub fn finish(&mut self, _out: &mut Vec<SseEvent>) -> Result<(), Error> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        self.line = Vec::new();
        self.pending_cr = false;
        self.at_start = true;
        self.reset_event();
        Ok(())
    }

    /// True once a `data: [DONE]` event was decoded.
    pub fn done(&self) -> bool {
        self.done
    }

    /// The last event ID as of the last dispatched (or blank-line-ended) event; what a
    /// reconnect sends as `Last-Event-ID`.
    pub fn last_event_id(&self) -> Option<&str> {
        (!self.last_event_id.is_empty()).then_some(self.last_event_id.as_str())
    }

    /// The reconnection time in milliseconds last set by `retry:`. Kept apart from events
    /// because the spec applies it at once, even in an event that is never dispatched.
    pub fn retry(&self) -> Option<u64> {
        self.retry
    }

    /// Fails when a line of `line_len` bytes would push the current event past the bound.
    fn check_size(&self, line_len: usize) -> Result<(), Error> {
        if line_len.saturating_add(self.event_bytes) > self.max_event_size {
            return Err(Error::protocol(format!(
                "an SSE event or line exceeds the {}-byte limit; the server sent an oversized \
                 or unterminated event (raise the decoder's max event size if it is legitimate)",
                self.max_event_size
            ))
            .with_code("sse_event_too_large"));
        }
        Ok(())
    }

    fn process_line(&mut self, mut line: &[u8], out: &mut Vec<SseEvent>) {
        if self.at_start {
            self.at_start = false;
            line = line.strip_prefix(BOM).unwrap_or(line);
        }
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            return;
        }
        self.event_bytes += line.len();
        let (name, value) = match memchr(b':', line) {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match name {
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.has_data = true;
                self.data.push_str(&String::from_utf8_lossy(value));
            }
            b"event" => {
                self.event_type.clear();
                self.event_type.push_str(&String::from_utf8_lossy(value));
            }
            b"id" if memchr(0, value).is_none() => {
                self.id_buffer.clear();
                self.id_buffer.push_str(&String::from_utf8_lossy(value));
                self.id_changed = true;
            }
            // Digits only per spec; a value too large for u64 is as unusable as a
            // non-number, so it is ignored the same way.
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                if let Some(ms) = std::str::from_utf8(value).ok().and_then(|s| s.parse().ok()) {
                    self.retry = Some(ms);
                    self.event_retry = Some(ms);
                }
            }
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        if std::mem::take(&mut self.id_changed) {
            self.last_event_id.clone_from(&self.id_buffer);
        }
        if !self.has_data {
            self.reset_event();
            return;
        }
        if self.data == "[DONE]" {
            self.done = true;
            self.reset_event();
            return;
        }
        let event = SseEvent {
            event: (!self.event_type.is_empty()).then(|| std::mem::take(&mut self.event_type)),
            data: std::mem::take(&mut self.data),
            id: (!self.last_event_id.is_empty()).then(|| self.last_event_id.clone()),
            retry: self.event_retry,
        };
        self.reset_event();
        out.push(event);
    }

    fn reset_event(&mut self) {
        self.data.clear();
        self.has_data = false;
        self.event_type.clear();
        self.event_retry = None;
        self.event_bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::error::ErrorKind;

    fn decode(input: &[u8]) -> Vec<SseEvent> {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        d.push(input, &mut out).unwrap();
        d.finish(&mut out).unwrap();
        out
    }

    fn data(s: &str) -> SseEvent {
        SseEvent {
            data: s.into(),
            ..Default::default()
        }
    }

    #[test]
    fn spec_rules() {
        let cases: &[(&str, &[u8], Vec<SseEvent>)] = &[
            ("single data line", b"data: hi\n\n", vec![data("hi")]),
            ("lf endings", b"data: a\n\ndata: b\n\n", vec![data("a"), data("b")]),
            ("crlf endings", b"data: a\r\n\r\ndata: b\r\n\r\n", vec![data("a"), data("b")]),
            ("cr endings", b"data: a\r\rdata: b\r\r", vec![data("a"), data("b")]),
            ("mixed endings", b"data: a\r\n\rdata: b\n\r\n", vec![data("a"), data("b")]),
            ("multi-line data joined with LF", b"data: a\ndata: b\ndata\n\n", vec![data("a\nb\n")]),
            ("only one leading space removed", b"data:  two\n\n", vec![data(" two")]),
            ("no space after colon", b"data:x\n\n", vec![data("x")]),
            ("split on the first colon only", b"data: a:b: c\n\n", vec![data("a:b: c")]),
            ("trailing space kept", b"data: x \n\n", vec![data("x ")]),
            ("name without colon is a field with empty value", b"data\n\n", vec![data("")]),
            ("empty data value still dispatches", b"data:\n\n", vec![data("")]),
            ("comments ignored", b": ping\n:\ndata: x\n: mid\n\n", vec![data("x")]),
            ("comment-only block dispatches nothing", b": keepalive\n\n", vec![]),
            ("no data dispatches nothing", b"event: x\n\n", vec![]),
            ("unknown fields ignored", b"foo: bar\ndata: x\nDATA: y\n\n", vec![data("x")]),
            ("field names are case-sensitive", b"Data: x\n\n", vec![]),
            ("leading BOM stripped", b"\xEF\xBB\xBFdata: x\n\n", vec![data("x")]),
            ("only one BOM stripped", b"\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\n", vec![]),
            ("BOM mid-stream is not stripped", b"data: a\n\n\xEF\xBB\xBFdata: b\n\n", vec![data("a")]),
            ("unterminated event discarded", b"data: a\n\ndata: b\n", vec![data("a")]),
            ("unterminated line discarded", b"data: a\n\ndata: b", vec![data("a")]),
            ("blank lines between events", b"\n\n\ndata: a\n\n\n\n", vec![data("a")]),
            ("invalid UTF-8 replaced", b"data: a\xFFb\n\n", vec![data("a\u{FFFD}b")]),
            ("truncated UTF-8 replaced", b"data: \xE2\x82\n\n", vec![data("\u{FFFD}")]),
            ("multi-byte UTF-8", "data: ¡olé 👋\n\n".as_bytes(), vec![data("¡olé 👋")]),
            (
                "event type",
                b"event: update\ndata: x\n\n",
                vec![SseEvent { event: Some("update".into()), ..data("x") }],
            ),
            (
                "event type resets after dispatch",
                b"event: update\ndata: x\n\ndata: y\n\n",
                vec![SseEvent { event: Some("update".into()), ..data("x") }, data("y")],
            ),
            (
                "last event type wins",
                b"event: a\nevent: b\ndata: x\n\n",
                vec![SseEvent { event: Some("b".into()), ..data("x") }],
            ),
            ("empty event type is the default", b"event:\ndata: x\n\n", vec![data("x")]),
            (
                "id persists across events",
                b"id: 7\ndata: a\n\ndata: b\n\n",
                vec![
                    SseEvent { id: Some("7".into()), ..data("a") },
                    SseEvent { id: Some("7".into()), ..data("b") },
                ],
            ),
            (
                "empty id resets it",
                b"id: 7\ndata: a\n\nid\ndata: b\n\n",
                vec![SseEvent { id: Some("7".into()), ..data("a") }, data("b")],
            ),
            (
                "id with NUL ignored",
                b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",
                vec![
                    SseEvent { id: Some("1".into()), ..data("a") },
                    SseEvent { id: Some("1".into()), ..data("b") },
                ],
            ),
            (
                "retry digits",
                b"retry: 1500\ndata: a\n\ndata: b\n\n",
                vec![SseEvent { retry: Some(1500), ..data("a") }, data("b")],
            ),
            (
                "retry non-digits ignored",
                b"retry: 15s\ndata: a\n\nretry: -1\ndata: b\n\nretry: 1 0\ndata: c\n\nretry:\ndata: d\n\n",
                vec![data("a"), data("b"), data("c"), data("d")],
            ),
            (
                "retry overflow ignored",
                b"retry: 99999999999999999999999\ndata: a\n\n",
                vec![data("a")],
            ),
            ("[DONE] not emitted, rest ignored", b"data: a\n\ndata: [DONE]\n\ndata: b\n\n", vec![data("a")]),
            ("[DONE] with other text is data", b"data: [DONE] \n\n", vec![data("[DONE] ")]),
        ];
        for (name, input, want) in cases {
            assert_eq!(&decode(input), want, "{name}");
        }
    }

    #[test]
    fn done_flag() {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        d.push(b"data: a\n\n", &mut out).unwrap();
        assert!(!d.done());
        d.push(b"data: [DONE]\n\ndata: b\n\n", &mut out).unwrap();
        assert!(d.done());
        d.push(b"data: c\n\n", &mut out).unwrap();
        d.finish(&mut out).unwrap();
        assert_eq!(out, vec![data("a")]);
    }

    #[test]
    fn last_event_id_published_at_blank_line() {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        d.push(b"id: 1\n", &mut out).unwrap();
        assert_eq!(d.last_event_id(), None);
        // An id-only block dispatches no event but still publishes the id.
        d.push(b"\n", &mut out).unwrap();
        assert_eq!(d.last_event_id(), Some("1"));
        d.push(b"id: 2\ndata: x\n", &mut out).unwrap();
        d.finish(&mut out).unwrap();
        assert_eq!(d.last_event_id(), Some("1"));
        assert!(out.is_empty());
    }

    #[test]
    fn retry_applies_without_dispatch() {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        d.push(b"retry: 3000\n\n", &mut out).unwrap();
        assert_eq!(d.retry(), Some(3000));
        assert!(out.is_empty());
    }

    #[test]
    fn crlf_split_across_chunks_is_one_line_ending() {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        for chunk in [&b"data: a\r"[..], b"\n", b"data: b\r", b"\n\r", b"\n"] {
            d.push(chunk, &mut out).unwrap();
        }
        assert_eq!(out, vec![data("a\nb")]);
    }

    #[test]
    fn empty_chunk_keeps_pending_cr() {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        for chunk in [&b"data: a\r"[..], b"", b"\n", b"\r", b"", b"\n"] {
            d.push(chunk, &mut out).unwrap();
        }
        assert_eq!(out, vec![data("a")]);
    }

    #[test]
    fn utf8_and_bom_split_across_chunks() {
        let bytes = "\u{FEFF}data: añ👋\n\n".as_bytes();
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        for b in bytes {
            d.push(std::slice::from_ref(b), &mut out).unwrap();
        }
        assert_eq!(out, vec![data("añ👋")]);
    }

    #[test]
    fn finish_resets_for_a_reconnected_stream() {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        d.push(b"id: 4\n\ndata: partial\r", &mut out).unwrap();
        d.finish(&mut out).unwrap();
        d.push(b"\n\xEF\xBB\xBFdata: x\n\n", &mut out).unwrap();
        // The LF does not pair with the old stream's CR, so it is a blank line; the BOM of
        // the new stream is not at its start either, so the line has an unknown field name.
        assert!(out.is_empty());
        d.finish(&mut out).unwrap();
        d.push(b"\xEF\xBB\xBFdata: y\n\n", &mut out).unwrap();
        assert_eq!(
            out,
            vec![SseEvent {
                id: Some("4".into()),
                ..data("y")
            }]
        );
    }

    fn is_size_error(err: &Error) {
        assert_eq!(err.kind, ErrorKind::Protocol);
        assert_eq!(err.code.as_deref(), Some("sse_event_too_large"));
        assert!(err.message.contains("64-byte limit"), "{}", err.message);
    }

    #[test]
    fn unterminated_line_is_bounded() {
        let mut d = SseDecoder::with_max_event_size(64);
        let mut out = Vec::new();
        let chunk = [b'x'; 16];
        let mut result = Ok(());
        for _ in 0..100 {
            result = d.push(&chunk, &mut out);
            if result.is_err() {
                break;
            }
        }
        is_size_error(&result.unwrap_err());
        assert!(d.line.capacity() <= 128);
        // The decoder stays failed.
        is_size_error(&d.push(b"\n\n", &mut out).unwrap_err());
        is_size_error(&d.finish(&mut out).unwrap_err());
    }

    #[test]
    fn event_of_many_lines_is_bounded() {
        let mut d = SseDecoder::with_max_event_size(64);
        let mut out = Vec::new();
        let err = (0..100)
            .find_map(|_| d.push(b"data: 0123456789\n", &mut out).err())
            .unwrap();
        is_size_error(&err);
        assert!(d.data.len() <= 64);
    }

    #[test]
    fn size_bound_is_per_event_and_inclusive() {
        // Comments are bounded as lines but do not add to the event's size.
        let mut d = SseDecoder::with_max_event_size(8);
        let mut out = Vec::new();
        for _ in 0..10 {
            d.push(b":comment\ndata: 12\n\n", &mut out).unwrap();
        }
        assert_eq!(out.len(), 10);
        assert!(d.push(b"data: 123\n", &mut out).is_err());
    }

    #[test]
    fn events_before_an_oversized_line_are_kept() {
        let mut d = SseDecoder::with_max_event_size(16);
        let mut out = Vec::new();
        let err = d
            .push(b"data: a\n\ndata: this one is far too long\n\n", &mut out)
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Protocol);
        assert_eq!(out, vec![data("a")]);
    }

    #[test]
    fn openai_chunk_stream() {
        let stream = b"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"delta\":{\"content\":\"Ho\"}}]}\n\n\
                       : keep-alive\n\n\
                       data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"delta\":{\"content\":\"la\"}}]}\n\n\
                       data: [DONE]\n\n";
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        for chunk in stream.chunks(7) {
            d.push(chunk, &mut out).unwrap();
        }
        d.finish(&mut out).unwrap();
        assert!(d.done());
        assert_eq!(out.len(), 2);
        let v: serde_json::Value = serde_json::from_str(&out[1].data).unwrap();
        assert_eq!(v["choices"][0]["delta"]["content"], "la");
    }
}
