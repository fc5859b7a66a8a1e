//! Test hooks: markers in request text that make the engine misbehave on purpose, so the SDK,
//! the Manager's gateway and their tests can exercise failure paths against a real server.
//!
//! A hook is written `[[ik:NAME]]` or `[[ik:NAME:ARG]]` anywhere in the text the route reads:
//! the last user message for chat, each input for embeddings, the query for rerank, the prompt
//! for images and audio generation, the input for speech, the `prompt` form field for
//! transcriptions. Hooks are removed from the text the engine echoes back. An unknown hook
//! name or a bad argument is a 400, so a typo in a test fails loudly instead of silently
//! testing the happy path.
//!
//! | hook | effect |
//! |---|---|
//! | `[[ik:crash]]` | the engine process exits with code 3 at once (tests the Manager's restart) |
//! | `[[ik:slow:MS]]` | wait MS milliseconds before the first byte of the answer |
//! | `[[ik:status:NNN]]` | answer HTTP NNN (400–599) with an OpenAI-style error body; 429 and 503 also carry `Retry-After: 1` |
//! | `[[ik:error]]` | streaming: a few chunks, then an in-band `data: {"error": {"message", "type": "engine_error", "code": "engine_error"}}` frame, and the stream ends without `[DONE]`; otherwise HTTP 500 with that body |
//! | `[[ik:truncate]]` | streaming: a few chunks, then the stream ends cleanly without `[DONE]`; otherwise a 200 whose JSON body is cut in half |
//! | `[[ik:keepalive:MS]]` | streaming: only `: keep-alive` comment lines, every 100 ms, for MS milliseconds before the first chunk |
//! | `[[ik:chunk-delay:MS]]` | streaming: wait MS milliseconds before each content chunk and send every chunk in its own write (tests unbuffered pass-through) |
//!
//! They apply in this order: crash, slow, status, then error / truncate. Millisecond
//! arguments are capped at ten minutes.

use std::borrow::Cow;
use std::time::Duration;

use axum::http::StatusCode;

use crate::error::ApiError;

const OPEN: &str = "[[ik:";
const CLOSE: &str = "]]";
const MAX_MS: u64 = 600_000;
const KNOWN: &str = "crash, slow:MS, status:NNN, error, truncate, keepalive:MS, chunk-delay:MS";

/// The hooks found in a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Hooks {
    pub crash: bool,
    pub slow: Option<Duration>,
    pub status: Option<StatusCode>,
    pub error: bool,
    pub truncate: bool,
    pub keepalive: Option<Duration>,
    pub chunk_delay: Option<Duration>,
}

impl Hooks {
    /// Finds the hooks in `text`; `param` names the field for a 400 about a bad hook.
    pub fn scan(text: &str, param: &str) -> Result<Hooks, ApiError> {
        let mut hooks = Hooks::default();
        hooks.add(text, param)?;
        Ok(hooks)
    }

    /// Adds the hooks in another text (routes that read several texts merge them).
    pub fn add(&mut self, text: &str, param: &str) -> Result<(), ApiError> {
        for marker in markers(text) {
            self.apply(
                &text[marker.start + OPEN.len()..marker.end - CLOSE.len()],
                param,
            )?;
        }
        Ok(())
    }

    fn apply(&mut self, inner: &str, param: &str) -> Result<(), ApiError> {
        let (name, arg) = match inner.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (inner, None),
        };
        let bad =
            |why: String| ApiError::invalid(param, format!("test hook [[ik:{inner}]]: {why}"));
        let millis = |arg: Option<&str>| -> Result<Duration, ApiError> {
            match arg.map(str::parse::<u64>) {
                Some(Ok(ms)) if ms <= MAX_MS => Ok(Duration::from_millis(ms)),
                _ => Err(bad(format!(
                    "needs a number of milliseconds from 0 to {MAX_MS}, e.g. [[ik:{name}:250]]"
                ))),
            }
        };
        let flag = |arg: Option<&str>| match arg {
            None => Ok(true),
            Some(_) => Err(bad(format!("takes no argument; write [[ik:{name}]]"))),
        };
        match name {
            "crash" => self.crash = flag(arg)?,
            "error" => self.error = flag(arg)?,
            "truncate" => self.truncate = flag(arg)?,
            "slow" => self.slow = Some(millis(arg)?),
            "keepalive" => self.keepalive = Some(millis(arg)?),
            "chunk-delay" => self.chunk_delay = Some(millis(arg)?),
            "status" => {
                let code = arg
                    .and_then(|a| a.parse::<u16>().ok())
                    .filter(|c| (400..=599).contains(c))
                    .and_then(|c| StatusCode::from_u16(c).ok());
                match code {
                    Some(c) => self.status = Some(c),
                    None => {
                        return Err(bad(
                            "needs an HTTP error status from 400 to 599, e.g. [[ik:status:429]]"
                                .into(),
                        ))
                    }
                }
            }
            _ => return Err(bad(format!("unknown hook; known hooks are {KNOWN}"))),
        }
        Ok(())
    }

    /// Carries out the hooks that act before any answer: crash, slow, status.
    pub async fn before_answer(&self) -> Result<(), ApiError> {
        if self.crash {
            eprintln!("reference engine: [[ik:crash]] hook, exiting with code 3");
            std::process::exit(3);
        }
        if let Some(d) = self.slow {
            tokio::time::sleep(d).await;
        }
        if let Some(status) = self.status {
            return Err(ApiError::new(
                status,
                format!(
                    "reference engine: status {} requested by the [[ik:status:{}]] test hook",
                    status,
                    status.as_u16()
                ),
            )
            .with_code(format!("http_{}", status.as_u16())));
        }
        Ok(())
    }
}

/// The in-band / HTTP 500 error the `[[ik:error]]` hook produces.
pub(crate) fn engine_error() -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "reference engine: simulated engine failure requested by the [[ik:error]] test hook",
    )
    .with_kind("engine_error")
    .with_code("engine_error")
}

/// `text` without its hook markers, for echoing back.
pub(crate) fn strip(text: &str) -> Cow<'_, str> {
    let mut found = markers(text).peekable();
    if found.peek().is_none() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for m in found {
        out.push_str(&text[last..m.start]);
        out.push(' ');
        last = m.end;
    }
    out.push_str(&text[last..]);
    Cow::Owned(out)
}

/// Byte ranges of `[[ik:…]]` markers; an opening without a closing `]]` is plain text.
fn markers(text: &str) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let mut pos = 0;
    std::iter::from_fn(move || {
        let start = pos + text.get(pos..)?.find(OPEN)?;
        let body = start + OPEN.len();
        let end = body + text[body..].find(CLOSE)? + CLOSE.len();
        pos = end;
        Some(start..end)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_every_hook() {
        let h = Hooks::scan(
            "hi [[ik:slow:5]] [[ik:status:429]] [[ik:error]] [[ik:truncate]] \
             [[ik:keepalive:300]] [[ik:chunk-delay:2]] [[ik:crash]]",
            "messages",
        )
        .unwrap();
        assert_eq!(h.slow, Some(Duration::from_millis(5)));
        assert_eq!(h.status, Some(StatusCode::TOO_MANY_REQUESTS));
        assert!(h.error && h.truncate && h.crash);
        assert_eq!(h.keepalive, Some(Duration::from_millis(300)));
        assert_eq!(h.chunk_delay, Some(Duration::from_millis(2)));
    }

    #[test]
    fn plain_text_has_no_hooks() {
        assert_eq!(
            Hooks::scan("a [x] [[ik:error", "p").unwrap(),
            Hooks::default()
        );
        assert_eq!(strip("no hooks"), "no hooks");
    }

    #[test]
    fn bad_hooks_are_rejected_with_the_field() {
        for bad in [
            "[[ik:nope]]",
            "[[ik:slow]]",
            "[[ik:slow:x]]",
            "[[ik:slow:999999999]]",
            "[[ik:status:200]]",
            "[[ik:error:1]]",
        ] {
            let e = Hooks::scan(bad, "messages").unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(e.param.as_deref(), Some("messages"));
            assert!(e.message.contains(&bad[2..bad.len() - 2]), "{}", e.message);
        }
    }

    #[test]
    fn strip_removes_markers() {
        assert_eq!(strip("a [[ik:slow:1]]b"), "a  b");
        assert_eq!(strip("[[ik:error]]"), " ");
    }
}
