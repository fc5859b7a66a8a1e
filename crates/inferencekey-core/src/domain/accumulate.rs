//! A streamed answer folded back into the [`TextResult`] the same request would have got
//! without streaming: the text concatenated, the last finish reason, model and usage, and
//! tool calls rebuilt from their deltas (OpenAI sends each call's `id`, `type` and function
//! `name` once and its `arguments` in pieces, keyed by `index`).

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::domain::result::{ResponseMeta, TextChunk, TextResult};

/// What the chunks seen so far add up to.
#[derive(Debug, Clone, Default)]
pub struct TextAccumulator {
    text: String,
    model: Option<String>,
    finish_reason: Option<String>,
    usage: Option<Value>,
    /// Tool calls in order of their first delta, with the `index` that keys them.
    tool_calls: Vec<(u64, Map<String, Value>)>,
}

impl TextAccumulator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Folds one chunk in.
    pub fn push(&mut self, chunk: &TextChunk) {
        self.text.push_str(&chunk.text);
        if chunk.model.as_deref().is_some_and(|m| !m.is_empty()) {
            self.model.clone_from(&chunk.model);
        }
        if chunk.finish_reason.is_some() {
            self.finish_reason.clone_from(&chunk.finish_reason);
        }
        if chunk.usage.as_ref().is_some_and(|u| !u.is_null()) {
            self.usage.clone_from(&chunk.usage);
        }
        if let Some(Value::Array(deltas)) = &chunk.tool_calls {
            for delta in deltas {
                if let Value::Object(delta) = delta {
                    self.merge_tool_call(delta);
                }
            }
        }
    }

    fn merge_tool_call(&mut self, delta: &Map<String, Value>) {
        // A delta without an index continues the last call (some servers omit it when
        // there is only one).
        let index = delta
            .get("index")
            .and_then(Value::as_u64)
            .or_else(|| self.tool_calls.last().map(|(i, _)| *i))
            .unwrap_or(0);
        let pos = match self.tool_calls.iter().position(|(i, _)| *i == index) {
            Some(pos) => pos,
            None => {
                self.tool_calls.push((index, Map::new()));
                self.tool_calls.len() - 1
            }
        };
        let call = &mut self.tool_calls[pos].1;
        for (key, value) in delta {
            match (key.as_str(), value) {
                ("index", _) | (_, Value::Null) => {}
                ("function", Value::Object(f)) => {
                    let function = call
                        .entry("function")
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(function) = function {
                        merge_function(function, f);
                    }
                }
                _ => {
                    call.insert(key.clone(), value.clone());
                }
            }
        }
    }

    /// The whole answer, with the stream's request id and headers.
    pub fn finish(&self, meta: ResponseMeta) -> TextResult {
        let message = (!self.tool_calls.is_empty()).then(|| {
            let calls = self
                .tool_calls
                .iter()
                .map(|(_, c)| Value::Object(c.clone()))
                .collect();
            let mut m = Map::new();
            m.insert("role".into(), Value::String("assistant".into()));
            m.insert(
                "content".into(),
                if self.text.is_empty() {
                    Value::Null
                } else {
                    Value::String(self.text.clone())
                },
            );
            m.insert("tool_calls".into(), Value::Array(calls));
            Value::Object(m)
        });
        TextResult {
            text: self.text.clone(),
            model: self.model.clone().unwrap_or_default(),
            finish_reason: self.finish_reason.clone(),
            usage: self.usage.clone(),
            message,
            // No single body: the answer came as many frames.
            raw: Bytes::new(),
            meta,
        }
    }
}

/// `arguments` arrive in pieces and are concatenated; any other key (`name`) is set.
fn merge_function(into: &mut Map<String, Value>, delta: &Map<String, Value>) {
    for (key, value) in delta {
        match (key.as_str(), value) {
            (_, Value::Null) => {}
            ("arguments", Value::String(piece)) => {
                let entry = into
                    .entry("arguments")
                    .or_insert_with(|| Value::String(String::new()));
                match entry {
                    Value::String(s) => s.push_str(piece),
                    other => *other = Value::String(piece.clone()),
                }
            }
            _ => {
                into.insert(key.clone(), value.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn chunk(text: &str) -> TextChunk {
        TextChunk {
            text: text.into(),
            ..Default::default()
        }
    }

    #[test]
    fn text_model_reason_and_usage() {
        let mut acc = TextAccumulator::new();
        acc.push(&TextChunk {
            model: Some("m".into()),
            ..chunk("Hel")
        });
        acc.push(&chunk("lo"));
        acc.push(&TextChunk {
            finish_reason: Some("stop".into()),
            ..chunk("")
        });
        acc.push(&TextChunk {
            usage: Some(json!({"total_tokens": 3})),
            ..chunk("")
        });
        let r = acc.finish(ResponseMeta {
            request_id: Some("req-1".into()),
            ..Default::default()
        });
        assert_eq!(r.text, "Hello");
        assert_eq!(r.model, "m");
        assert_eq!(r.finish_reason.as_deref(), Some("stop"));
        assert_eq!(r.usage, Some(json!({"total_tokens": 3})));
        assert_eq!(r.message, None);
        assert_eq!(r.meta.request_id.as_deref(), Some("req-1"));
    }

    #[test]
    fn tool_calls_are_rebuilt_from_their_deltas() {
        let mut acc = TextAccumulator::new();
        let deltas = [
            json!([{"index": 0, "id": "call_a", "type": "function",
                    "function": {"name": "get_weather", "arguments": ""}}]),
            json!([{"index": 0, "function": {"arguments": "{\"city\":"}}]),
            json!([{"index": 1, "id": "call_b", "type": "function",
                    "function": {"name": "get_time", "arguments": "{}"}}]),
            json!([{"index": 0, "function": {"arguments": "\"Oslo\"}"}}]),
        ];
        for d in deltas {
            acc.push(&TextChunk {
                tool_calls: Some(d),
                ..chunk("")
            });
        }
        acc.push(&TextChunk {
            finish_reason: Some("tool_calls".into()),
            ..chunk("")
        });
        let r = acc.finish(ResponseMeta::default());
        assert_eq!(
            r.message.unwrap(),
            json!({"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_a", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}},
                {"id": "call_b", "type": "function",
                 "function": {"name": "get_time", "arguments": "{}"}},
            ]})
        );
        assert_eq!(r.finish_reason.as_deref(), Some("tool_calls"));
    }

    proptest! {
        /// However the text is cut into chunks, the result's text is the whole of it.
        #[test]
        fn any_split_adds_up(text in "\\PC{0,64}", cuts in proptest::collection::vec(0usize..64, 0..8)) {
            let chars: Vec<char> = text.chars().collect();
            let mut points: Vec<usize> = cuts.into_iter().map(|c| c.min(chars.len())).collect();
            points.push(0);
            points.push(chars.len());
            points.sort_unstable();
            let mut acc = TextAccumulator::new();
            for w in points.windows(2) {
                acc.push(&chunk(&chars[w[0]..w[1]].iter().collect::<String>()));
            }
            prop_assert_eq!(acc.finish(ResponseMeta::default()).text, text);
        }
    }
}
