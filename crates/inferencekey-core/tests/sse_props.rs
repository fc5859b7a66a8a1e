//! Property tests for the SSE decoder: chunking never changes the result, the result matches
//! a literal, whole-stream transcription of the WHATWG algorithm, and no input panics.

use inferencekey_core::error::ErrorKind;
use inferencekey_core::sse::{SseDecoder, SseEvent};
use proptest::prelude::*;

/// What a decode produced: the events, whether it failed, and the decoder's final state.
#[derive(Debug, PartialEq)]
struct Outcome {
    events: Vec<SseEvent>,
    failed: bool,
    done: bool,
    last_event_id: Option<String>,
}

fn decode_chunks<'a>(max: usize, chunks: impl IntoIterator<Item = &'a [u8]>) -> Outcome {
    let mut d = SseDecoder::with_max_event_size(max);
    let mut events = Vec::new();
    let mut failed = false;
    for chunk in chunks {
        if let Err(e) = d.push(chunk, &mut events) {
            assert_eq!(e.kind, ErrorKind::Protocol);
            failed = true;
            break;
        }
    }
    if !failed {
        failed = d.finish(&mut events).is_err();
    }
    Outcome {
        events,
        failed,
        done: d.done(),
        last_event_id: d.last_event_id().map(str::to_owned),
    }
}

/// Splits `bytes` at the given cut points (taken modulo its length).
fn split<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.push(0);
    points.push(bytes.len());
    points.sort_unstable();
    points.windows(2).map(|w| &bytes[w[0]..w[1]]).collect()
}

/// The spec's algorithm written out plainly over the whole stream: decode everything as
/// UTF-8 first, then split lines, then interpret them. Independent of the decoder's
/// chunk-oriented structure, so agreement means the shortcuts preserve the semantics.
fn reference(bytes: &[u8]) -> (Vec<SseEvent>, bool, Option<String>) {
    let text = String::from_utf8_lossy(bytes);
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(&text);
    let mut lines = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(['\r', '\n']) {
        lines.push(&rest[..i]);
        let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
        rest = &rest[i + skip..];
    }
    // The unterminated remainder is discarded at end of file.
    let (mut data, mut event_type, mut id_buffer) = (String::new(), String::new(), String::new());
    let mut last_id = String::new();
    let mut retry = None;
    let mut events = Vec::new();
    for line in lines {
        if line.is_empty() {
            last_id = id_buffer.clone();
            if data.is_empty() {
                event_type.clear();
                retry = None;
                continue;
            }
            if data.ends_with('\n') {
                data.pop();
            }
            if data == "[DONE]" {
                let id = (!last_id.is_empty()).then_some(last_id);
                return (events, true, id);
            }
            events.push(SseEvent {
                event: (!event_type.is_empty()).then(|| event_type.clone()),
                data: std::mem::take(&mut data),
                id: (!last_id.is_empty()).then(|| last_id.clone()),
                retry: retry.take(),
            });
            event_type.clear();
            continue;
        }
        if line.starts_with(':') {
            continue;
        }
        let (name, value) = match line.split_once(':') {
            Some((n, v)) => (n, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match name {
            "data" => {
                data.push_str(value);
                data.push('\n');
            }
            "event" => event_type = value.to_string(),
            "id" if !value.contains('\0') => id_buffer = value.to_string(),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                if let Ok(ms) = value.parse() {
                    retry = Some(ms);
                }
            }
            _ => {}
        }
    }
    let id = (!last_id.is_empty()).then_some(last_id);
    (events, false, id)
}

/// Streams built from SSE-shaped pieces, so that fields, line endings, BOMs, comments and
/// multi-byte or broken UTF-8 all occur often (random bytes alone rarely form a field).
fn sse_stream() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"data".to_vec()),
        Just(b"data:".to_vec()),
        Just(b"data: ".to_vec()),
        Just(b"event: ".to_vec()),
        Just(b"id: ".to_vec()),
        Just(b"id".to_vec()),
        Just(b"retry: ".to_vec()),
        Just(b": ".to_vec()),
        Just(b":".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n\n".to_vec()),
        Just(b"\r\n\r\n".to_vec()),
        Just(b"[DONE]".to_vec()),
        Just(b"\xEF\xBB\xBF".to_vec()),
        Just("é👋ñ".as_bytes().to_vec()),
        Just(b"\xF0\x9F".to_vec()),
        Just(b"\xFF".to_vec()),
        Just(b"\0".to_vec()),
        Just(b"1234".to_vec()),
        "[a-z{}\":,]{0,8}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..4),
    ];
    prop::collection::vec(piece, 0..60).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_split_matches_whole(bytes in sse_stream(), cuts in prop::collection::vec(any::<usize>(), 0..20)) {
        let whole = decode_chunks(usize::MAX, [&bytes[..]]);
        let chunked = decode_chunks(usize::MAX, split(&bytes, &cuts));
        prop_assert_eq!(&chunked, &whole);
        let bytewise = decode_chunks(usize::MAX, bytes.chunks(1));
        prop_assert_eq!(&bytewise, &whole);
    }

    #[test]
    fn matches_the_reference(bytes in sse_stream(), cuts in prop::collection::vec(any::<usize>(), 0..20)) {
        let got = decode_chunks(usize::MAX, split(&bytes, &cuts));
        let (events, done, last_event_id) = reference(&bytes);
        prop_assert!(!got.failed);
        prop_assert_eq!(got.events, events);
        prop_assert_eq!(got.done, done);
        // Once [DONE] is seen the decoder stops reading, as does the reference.
        prop_assert_eq!(got.last_event_id, last_event_id);
    }

    #[test]
    fn size_bound_does_not_depend_on_chunking(
        bytes in sse_stream(),
        cuts in prop::collection::vec(any::<usize>(), 0..20),
        max in 0usize..64,
    ) {
        let whole = decode_chunks(max, [&bytes[..]]);
        let chunked = decode_chunks(max, split(&bytes, &cuts));
        prop_assert_eq!(&chunked, &whole);
        // Within the bound the events are exactly the unbounded ones.
        if !whole.failed {
            prop_assert_eq!(&whole, &decode_chunks(usize::MAX, [&bytes[..]]));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
        cuts in prop::collection::vec(any::<usize>(), 0..40),
        max in 0usize..4096,
    ) {
        decode_chunks(max, split(&bytes, &cuts));
        decode_chunks(usize::MAX, split(&bytes, &cuts));
    }
}
