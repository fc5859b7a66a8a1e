//! `POST /v1/chat/completions`: a deterministic reply in OpenAI's shapes, plain or streamed.
//!
//! The reply cycles through the words of "Reference engine (no model loaded) reply to:"
//! followed by the last user message, so tests can predict it exactly: `max_tokens` words
//! (default 16), cut before the first `stop` sequence. Streams are generated lazily and
//! written in batches of about 16 KiB, so a 50,000-chunk stream costs the engine little and
//! memory stays flat.

mod stream;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::hooks::{self, Hooks};
use crate::params::{self, type_name, word_count, Obj};
use crate::{next_id, unix_now, AppState, FINGERPRINT};

/// The fixed start of every reply.
pub(crate) const REPLY_PREFIX: &str = "Reference engine (no model loaded) reply to:";
const DEFAULT_WORDS: usize = 16;
/// Large enough for stream benchmarks, small enough that a typo cannot exhaust memory.
const MAX_WORDS: u64 = 1_000_000;
const ROLES: &[&str] = &[
    "system",
    "developer",
    "user",
    "assistant",
    "tool",
    "function",
];

pub(crate) async fn completions(
    State(st): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req = ChatRequest::parse(&params::object(&body?)?)?;
    req.hooks.before_answer().await?;
    let answer = Answer::new(&req, &st.cfg.model);
    if req.stream {
        return Ok(stream::response(answer, &req));
    }
    if req.hooks.error {
        return Err(hooks::engine_error());
    }
    let body = serde_json::to_vec(&answer.to_json()).expect("a JSON value serializes");
    Ok(json_bytes(body, req.hooks.truncate))
}

fn json_bytes(mut body: Vec<u8>, truncate: bool) -> Response {
    if truncate {
        body.truncate(body.len() / 2);
    }
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// What the engine needs from a validated request.
#[derive(Debug)]
struct ChatRequest {
    last_user: String,
    prompt_tokens: usize,
    max_words: Option<usize>,
    stops: Vec<String>,
    stream: bool,
    include_usage: bool,
    json_mode: bool,
    forced_tool: Option<String>,
    /// `logprobs: true`: the answer carries an (empty) OpenAI `logprobs` object, since the
    /// engine has no real token probabilities to report.
    logprobs: bool,
    hooks: Hooks,
}

impl ChatRequest {
    fn parse(o: &Obj) -> Result<ChatRequest, ApiError> {
        let (last_user, prompt_tokens) = messages(o)?;
        let hooks = Hooks::scan(&last_user, "messages")?;
        let max_words = match params::opt_uint(o, "max_completion_tokens", 1..=MAX_WORDS)? {
            Some(n) => Some(n),
            None => params::opt_uint(o, "max_tokens", 1..=MAX_WORDS)?,
        };
        params::opt_num(o, "temperature", 0.0..=2.0)?;
        params::opt_num(o, "top_p", 0.0..=1.0)?;
        params::opt_num(o, "presence_penalty", -2.0..=2.0)?;
        params::opt_num(o, "frequency_penalty", -2.0..=2.0)?;
        params::opt_int(o, "seed")?;
        if let Some(n) = params::opt_uint(o, "n", 0..=u64::MAX)? {
            if n != 1 {
                return Err(ApiError::invalid(
                    "n",
                    "the reference engine returns one choice; send `n`: 1 or leave it out",
                ));
            }
        }
        let logprobs = params::opt_bool(o, "logprobs")?.unwrap_or(false);
        if let Some(user) = params::opt_str(o, "user")? {
            if user.chars().count() > MAX_USER {
                return Err(ApiError::invalid(
                    "user",
                    format!("`user` is an end-user id of at most {MAX_USER} characters"),
                ));
            }
        }
        let stream = params::opt_bool(o, "stream")?.unwrap_or(false);
        let include_usage = match o.get("stream_options") {
            None | Some(Value::Null) => false,
            Some(Value::Object(so)) => params::opt_bool(so, "include_usage")
                .map_err(|e| ApiError::invalid("stream_options.include_usage", e.message))?
                .unwrap_or(false),
            Some(v) => {
                return Err(ApiError::invalid(
                    "stream_options",
                    format!("`stream_options` must be an object, got {}", type_name(v)),
                ))
            }
        };
        Ok(ChatRequest {
            last_user,
            prompt_tokens,
            max_words: max_words.map(|n| n as usize),
            stops: stops(o)?,
            stream,
            include_usage,
            json_mode: json_mode(o)?,
            forced_tool: forced_tool(o)?,
            logprobs,
            hooks,
        })
    }
}

/// Validates `messages`; returns the last user message's text and the prompt's word count.
fn messages(o: &Obj) -> Result<(String, usize), ApiError> {
    let list = match o.get("messages") {
        Some(Value::Array(list)) if !list.is_empty() => list,
        Some(Value::Array(_)) => {
            return Err(ApiError::invalid(
                "messages",
                "`messages` must not be empty; send at least one {\"role\": \"user\", \"content\": \"…\"}",
            ))
        }
        None | Some(Value::Null) => {
            return Err(ApiError::invalid(
                "messages",
                "`messages` is required: a non-empty array of {\"role\", \"content\"} objects",
            ))
        }
        Some(v) => {
            return Err(ApiError::invalid(
                "messages",
                format!("`messages` must be an array, got {}", type_name(v)),
            ))
        }
    };
    let mut last_user = None;
    let mut words = 0;
    for (i, m) in list.iter().enumerate() {
        let Value::Object(m) = m else {
            return Err(ApiError::invalid(
                format!("messages[{i}]"),
                format!(
                    "messages[{i}] must be an object with `role` and `content`, got {}",
                    type_name(m)
                ),
            ));
        };
        let role = match m.get("role") {
            Some(Value::String(r)) if ROLES.contains(&r.as_str()) => r.as_str(),
            other => {
                return Err(ApiError::invalid(
                    format!("messages[{i}].role"),
                    format!(
                        "messages[{i}].role must be one of {}, got {}",
                        ROLES.join(", "),
                        other.map_or("nothing".to_string(), |v| v.to_string())
                    ),
                ))
            }
        };
        let text = content_text(m, i, role)?;
        words += word_count(&text);
        if role == "user" {
            last_user = Some(text);
        }
    }
    Ok((last_user.unwrap_or_default(), words))
}

/// The text of a message's `content`: a string, or the `text` parts of a parts array.
fn content_text(m: &Obj, i: usize, role: &str) -> Result<String, ApiError> {
    let param = || format!("messages[{i}].content");
    match m.get("content") {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => {
            let mut text = String::new();
            for (j, part) in parts.iter().enumerate() {
                let kind = part.get("type").and_then(Value::as_str);
                match (kind, part.get("text")) {
                    (Some("text"), Some(Value::String(t))) => {
                        if !text.is_empty() {
                            text.push('\n');
                        }
                        text.push_str(t);
                    }
                    (Some("text"), _) => {
                        return Err(ApiError::invalid(
                            format!("messages[{i}].content[{j}].text"),
                            "a text content part needs a string `text`",
                        ))
                    }
                    (Some(_), _) => {}
                    (None, _) => {
                        return Err(ApiError::invalid(
                            format!("messages[{i}].content[{j}].type"),
                            "each content part needs a `type` such as \"text\" or \"image_url\"",
                        ))
                    }
                }
            }
            Ok(text)
        }
        None | Some(Value::Null)
            if role == "assistant"
                && (m.contains_key("tool_calls") || m.contains_key("function_call")) =>
        {
            Ok(String::new())
        }
        None | Some(Value::Null) => Err(ApiError::invalid(
            param(),
            format!(
                "{} is required (a string or an array of content parts)",
                param()
            ),
        )),
        Some(v) => Err(ApiError::invalid(
            param(),
            format!(
                "{} must be a string or an array of content parts, got {}",
                param(),
                type_name(v)
            ),
        )),
    }
}

fn stops(o: &Obj) -> Result<Vec<String>, ApiError> {
    let list = match o.get("stop") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                ApiError::invalid("stop", "`stop` must be a string or an array of strings")
            })?,
        Some(v) => {
            return Err(ApiError::invalid(
                "stop",
                format!(
                    "`stop` must be a string or an array of strings, got {}",
                    type_name(v)
                ),
            ))
        }
    };
    if list.iter().any(String::is_empty) {
        return Err(ApiError::invalid(
            "stop",
            "`stop` sequences must not be empty strings",
        ));
    }
    Ok(list)
}

fn json_mode(o: &Obj) -> Result<bool, ApiError> {
    let rf = match o.get("response_format") {
        None | Some(Value::Null) => return Ok(false),
        Some(Value::Object(rf)) => rf,
        Some(v) => {
            return Err(ApiError::invalid(
                "response_format",
                format!(
                "`response_format` must be an object like {{\"type\": \"json_object\"}}, got {}",
                type_name(v)
            ),
            ))
        }
    };
    match rf.get("type").and_then(Value::as_str) {
        Some("text") => Ok(false),
        Some("json_object") => Ok(true),
        Some("json_schema") if rf.get("json_schema").is_some_and(Value::is_object) => Ok(true),
        Some("json_schema") => Err(ApiError::invalid(
            "response_format.json_schema",
            "`response_format` of type json_schema needs a `json_schema` object",
        )),
        _ => Err(ApiError::invalid(
            "response_format.type",
            "`response_format.type` must be one of text, json_object, json_schema",
        )),
    }
}

/// The tool the request forces (`tool_choice` "required" or a named function), if any.
fn forced_tool(o: &Obj) -> Result<Option<String>, ApiError> {
    let mut names = Vec::new();
    match o.get("tools") {
        None | Some(Value::Null) => {}
        Some(Value::Array(tools)) => {
            for (i, t) in tools.iter().enumerate() {
                match t.pointer("/function/name").and_then(Value::as_str) {
                    Some(n) if !n.is_empty() => names.push(n.to_owned()),
                    _ => return Err(ApiError::invalid(
                        format!("tools[{i}].function.name"),
                        "each tool must be {\"type\": \"function\", \"function\": {\"name\": …}}",
                    )),
                }
            }
        }
        Some(v) => {
            return Err(ApiError::invalid(
                "tools",
                format!("`tools` must be an array, got {}", type_name(v)),
            ))
        }
    }
    let wanted = match o.get("tool_choice") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s == "none" || s == "auto" => return Ok(None),
        Some(Value::String(s)) if s == "required" => names.first().cloned(),
        Some(v @ Value::Object(_)) => match v.pointer("/function/name").and_then(Value::as_str) {
            Some(n) if names.iter().any(|t| t == n) => Some(n.to_owned()),
            Some(n) => {
                return Err(ApiError::invalid(
                    "tool_choice",
                    format!("`tool_choice` names {n:?}, which is not in `tools`"),
                ))
            }
            None => {
                return Err(ApiError::invalid(
                    "tool_choice",
                    "`tool_choice` object must be {\"type\": \"function\", \"function\": {\"name\": …}}",
                ))
            }
        },
        Some(v) => {
            return Err(ApiError::invalid(
                "tool_choice",
                format!("`tool_choice` must be \"none\", \"auto\", \"required\" or an object, got {v}"),
            ))
        }
    };
    match wanted {
        Some(n) => Ok(Some(n)),
        None => Err(ApiError::invalid(
            "tool_choice",
            "`tool_choice` \"required\" needs a non-empty `tools` array",
        )),
    }
}

/// The reply as a sequence of content deltas whose concatenation is the message content.
struct Script {
    /// Piece 0 (no leading space).
    first: String,
    /// Pieces 1.. cycle through these (each with its leading space).
    cycle: Vec<String>,
    /// Whole word pieces.
    full: usize,
    /// What is left of the word a stop sequence cut into.
    tail: Option<String>,
    /// Content wrapped around the words in JSON mode.
    open: &'static str,
    close: &'static str,
    finish: &'static str,
}

impl Script {
    fn new(user: &str, max_words: Option<usize>, stops: &[String], json_mode: bool) -> Script {
        let user = hooks::strip(user);
        let words: Vec<&str> = REPLY_PREFIX
            .split_whitespace()
            .chain(user.split_whitespace())
            .collect();
        let count = max_words.unwrap_or(DEFAULT_WORDS);
        let (full, tail) = cut_at_stop(&words, count, stops);
        let stopped = full < count;
        let esc = |s: &str| {
            if json_mode {
                json_escape(s)
            } else {
                s.to_owned()
            }
        };
        Script {
            first: esc(words[0]),
            cycle: words.iter().map(|w| esc(&format!(" {w}"))).collect(),
            full,
            tail: tail.map(|t| esc(&t)),
            open: if json_mode { "{\"reply\": \"" } else { "" },
            close: if json_mode { "\"}" } else { "" },
            finish: match (stopped, max_words) {
                (false, Some(_)) => "length",
                _ => "stop",
            },
        }
    }

    fn word(&self, i: usize) -> &str {
        if i == 0 {
            &self.first
        } else {
            &self.cycle[i % self.cycle.len()]
        }
    }

    /// Every delta in order: the JSON opening, the words, the cut tail, the JSON closing.
    fn pieces(&self) -> impl Iterator<Item = &str> + '_ {
        let open = (!self.open.is_empty()).then_some(self.open);
        let close = (!self.close.is_empty()).then_some(self.close);
        open.into_iter()
            .chain((0..self.full).map(|i| self.word(i)))
            .chain(self.tail.as_deref())
            .chain(close)
    }

    fn piece_count(&self) -> usize {
        self.full
            + usize::from(self.tail.is_some())
            + usize::from(!self.open.is_empty())
            + usize::from(!self.close.is_empty())
    }

    fn tokens(&self) -> usize {
        self.full + usize::from(self.tail.is_some())
    }

    fn content(&self) -> String {
        self.pieces().collect()
    }
}

/// Where the first stop sequence falls in the text of `count` cycling words: the number of
/// whole words before it and the part of the cut word before it (OpenAI leaves the stop
/// sequence itself out). The text is periodic, so if a stop occurs at all it first occurs
/// within one period plus the stop's length; only that prefix is ever built.
fn cut_at_stop(words: &[&str], count: usize, stops: &[String]) -> (usize, Option<String>) {
    let Some(longest) = stops.iter().map(String::len).max() else {
        return (count, None);
    };
    let k = count.min(2 * words.len() + longest + 1);
    let mut text = String::new();
    let mut starts = Vec::with_capacity(k);
    for i in 0..k {
        starts.push(text.len());
        if i > 0 {
            text.push(' ');
        }
        text.push_str(words[i % words.len()]);
    }
    let Some(at) = stops.iter().filter_map(|s| text.find(s.as_str())).min() else {
        return (count, None);
    };
    let whole = starts.partition_point(|&s| s <= at) - 1;
    let start = starts[whole];
    (whole, (start < at).then(|| text[start..at].to_owned()))
}

/// A string's JSON encoding without the surrounding quotes.
fn json_escape(s: &str) -> String {
    let quoted = serde_json::to_string(s).expect("a string serializes");
    quoted[1..quoted.len() - 1].to_owned()
}

/// The longest `user` id the engine accepts.
const MAX_USER: usize = 256;

/// A reply: text or a forced tool call, with the ids and counts every frame repeats.
struct Answer {
    id: String,
    created: u64,
    model: String,
    prompt_tokens: usize,
    logprobs: bool,
    kind: AnswerKind,
}

enum AnswerKind {
    Text(Script),
    Tool {
        call_id: String,
        name: String,
        arguments: String,
    },
}

impl Answer {
    fn new(req: &ChatRequest, model: &str) -> Answer {
        let kind = match &req.forced_tool {
            Some(name) => {
                let input = hooks::strip(&req.last_user);
                let arguments = json!({"input": input.trim()}).to_string();
                let digest = Sha256::digest(format!("{name}\n{arguments}"));
                let call_id = format!("call_{}", hex12(&digest));
                AnswerKind::Tool {
                    call_id,
                    name: name.clone(),
                    arguments,
                }
            }
            None => AnswerKind::Text(Script::new(
                &req.last_user,
                req.max_words,
                &req.stops,
                req.json_mode,
            )),
        };
        Answer {
            id: next_id("chatcmpl"),
            created: unix_now(),
            model: model.to_owned(),
            prompt_tokens: req.prompt_tokens,
            logprobs: req.logprobs,
            kind,
        }
    }

    fn completion_tokens(&self) -> usize {
        match &self.kind {
            AnswerKind::Text(s) => s.tokens(),
            AnswerKind::Tool { arguments, .. } => word_count(arguments),
        }
    }

    fn finish_reason(&self) -> &'static str {
        match &self.kind {
            AnswerKind::Text(s) => s.finish,
            AnswerKind::Tool { .. } => "tool_calls",
        }
    }

    fn usage(&self) -> Value {
        let c = self.completion_tokens();
        json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": c,
            "total_tokens": self.prompt_tokens + c,
        })
    }

    fn to_json(&self) -> Value {
        let message = match &self.kind {
            AnswerKind::Text(s) => json!({"role": "assistant", "content": s.content()}),
            AnswerKind::Tool {
                call_id,
                name,
                arguments,
            } => json!({
                "role": "assistant",
                "content": null,
                "tool_calls": [{
                    "id": call_id,
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }],
            }),
        };
        json!({
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": FINGERPRINT,
            "choices": [{
                "index": 0,
                "message": message,
                "logprobs": if self.logprobs { json!({"content": []}) } else { Value::Null },
                "finish_reason": self.finish_reason(),
            }],
            "usage": self.usage(),
        })
    }
}

fn hex12(digest: &[u8]) -> String {
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<&str> {
        s.split_whitespace().collect()
    }

    #[test]
    fn stop_cuts_before_the_sequence() {
        let w = words("a bb ccc");
        assert_eq!(cut_at_stop(&w, 5, &[]), (5, None));
        assert_eq!(cut_at_stop(&w, 5, &["bb".into()]), (1, Some(" ".into())));
        assert_eq!(cut_at_stop(&w, 5, &["a".into()]), (0, None));
        assert_eq!(cut_at_stop(&w, 5, &["cc".into()]), (2, Some(" ".into())));
        assert_eq!(cut_at_stop(&w, 5, &["b c".into()]), (1, Some(" b".into())));
        // Only in the second cycle: "ccc a".
        assert_eq!(cut_at_stop(&w, 5, &["c a".into()]), (2, Some(" cc".into())));
        // Beyond the requested length: not cut.
        assert_eq!(cut_at_stop(&w, 2, &["ccc".into()]), (2, None));
        assert_eq!(
            cut_at_stop(&w, 1_000_000, &["zzz".into()]),
            (1_000_000, None)
        );
    }

    #[test]
    fn script_counts_and_finishes() {
        let s = Script::new("hello world", Some(9), &[], false);
        assert_eq!(s.tokens(), 9);
        assert_eq!(s.finish, "length");
        assert_eq!(
            s.content(),
            "Reference engine (no model loaded) reply to: hello world"
        );
        let s = Script::new("x", None, &[], false);
        assert_eq!(s.tokens(), DEFAULT_WORDS);
        assert_eq!(s.finish, "stop");
        let s = Script::new("x \"q\"", Some(9), &["q".into()], true);
        assert_eq!(s.finish, "stop");
        let v: Value = serde_json::from_str(&s.content()).unwrap();
        assert_eq!(
            v["reply"],
            "Reference engine (no model loaded) reply to: x \""
        );
    }
}
