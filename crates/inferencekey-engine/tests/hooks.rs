//! The test hooks the SDK's and the Manager's tests rely on, over real HTTP.
//! (`[[ik:crash]]` exits the process, so it is tested in `process.rs` against the binary.)

mod common;

use std::time::{Duration, Instant};

use common::{assert_invalid, data, engine, frames, streamed_text, user, Frame};
use serde_json::{json, Value};

fn chat(text: &str, stream: bool) -> Value {
    json!({"messages": user(text), "max_tokens": 10, "stream": stream})
}

fn assert_engine_error(v: &Value) {
    assert_eq!(v["error"]["type"], "engine_error", "{v}");
    assert_eq!(v["error"]["code"], "engine_error", "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("[[ik:error]]"));
}

#[tokio::test]
async fn error_is_a_500_or_an_in_band_frame() {
    let e = engine().await;
    let (status, body) = e
        .post_json("/v1/chat/completions", &chat("x [[ik:error]]", false))
        .await;
    assert_eq!(status, 500);
    assert_engine_error(&body);

    let resp = e
        .post("/v1/chat/completions", &chat("x [[ik:error]]", true))
        .await;
    assert_eq!(resp.status(), 200);
    let chunks = data(&resp.text().await.unwrap());
    assert!(chunks.len() >= 3, "{chunks:?}");
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert!(chunks[1]["choices"][0]["delta"]["content"].is_string());
    let last = chunks.last().unwrap();
    assert_engine_error(last);
    assert!(!chunks.contains(&json!("[DONE]")));
}

#[tokio::test]
async fn truncate_ends_the_stream_without_done() {
    let e = engine().await;
    let resp = e
        .post("/v1/chat/completions", &chat("[[ik:truncate]] x", true))
        .await;
    assert_eq!(resp.status(), 200);
    // The body ends cleanly (reading it succeeds) but the protocol end marker is missing.
    let chunks = data(&resp.text().await.unwrap());
    assert!(chunks.len() >= 2, "{chunks:?}");
    assert!(chunks.len() < 12, "{chunks:?}");
    assert!(chunks
        .iter()
        .all(|c| c != "[DONE]" && c.get("error").is_none()));
    assert!(chunks
        .iter()
        .all(|c| c["choices"][0]["finish_reason"].is_null()));

    let resp = e
        .post("/v1/chat/completions", &chat("[[ik:truncate]]", false))
        .await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(text.starts_with('{'));
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
}

#[tokio::test]
async fn slow_waits_before_answering() {
    let e = engine().await;
    for stream in [false, true] {
        let started = Instant::now();
        let resp = e
            .post("/v1/chat/completions", &chat("[[ik:slow:300]] hi", stream))
            .await;
        // A lower bound only: the engine sleeps at least this long, however busy the machine.
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert_eq!(resp.status(), 200);
    }
}

#[tokio::test]
async fn status_answers_that_status() {
    let e = engine().await;
    for (code, retry) in [
        (429, true),
        (503, true),
        (404, false),
        (500, false),
        (401, false),
    ] {
        for stream in [false, true] {
            let resp = e
                .post(
                    "/v1/chat/completions",
                    &chat(&format!("[[ik:status:{code}]]"), stream),
                )
                .await;
            assert_eq!(resp.status().as_u16(), code);
            assert_eq!(
                resp.headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap()),
                retry.then_some("1")
            );
            let body: Value = resp.json().await.unwrap();
            assert!(body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(&code.to_string()));
            assert!(body["error"]["type"].is_string());
        }
    }
    let (status, body) = e
        .post_json("/v1/chat/completions", &chat("[[ik:status:200]]", false))
        .await;
    assert_invalid(status, &body, "messages");
}

#[tokio::test]
async fn keepalive_comments_come_before_the_first_chunk() {
    let e = engine().await;
    let resp = e
        .post(
            "/v1/chat/completions",
            &chat("[[ik:keepalive:250]] hi", true),
        )
        .await;
    let body = resp.text().await.unwrap();
    let all = frames(&body);
    let comments = all
        .iter()
        .take_while(|f| matches!(f, Frame::Comment(_)))
        .count();
    assert!(comments >= 1, "{body}");
    assert!(all[..comments]
        .iter()
        .all(|f| *f == Frame::Comment("keep-alive".into())));
    assert!(all[comments..].iter().all(|f| matches!(f, Frame::Data(_))));
    assert_eq!(data(&body).last().unwrap(), "[DONE]");
}

#[tokio::test]
async fn chunk_delay_still_streams_everything() {
    let e = engine().await;
    let resp = e
        .post(
            "/v1/chat/completions",
            &chat("[[ik:chunk-delay:5]] hi", true),
        )
        .await;
    let chunks = data(&resp.text().await.unwrap());
    assert_eq!(chunks.len(), 1 + 10 + 1 + 1);
    assert!(streamed_text(&chunks).ends_with("reply to: hi Reference engine"));
}

#[tokio::test]
async fn hooks_are_not_echoed_and_only_the_last_user_message_counts() {
    let e = engine().await;
    let (status, body) = e
        .post_json(
            "/v1/chat/completions",
            &json!({"max_tokens": 9, "messages": [
                {"role": "user", "content": "[[ik:error]]"},
                {"role": "assistant", "content": "[[ik:status:500]]"},
                {"role": "user", "content": "a [[ik:slow:1]] b"},
            ]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .ends_with("to: a b"));
}

#[tokio::test]
async fn unknown_or_malformed_hooks_are_rejected() {
    let e = engine().await;
    for text in [
        "[[ik:explode]]",
        "[[ik:slow:soon]]",
        "[[ik:status]]",
        "[[ik:truncate:1]]",
    ] {
        let (status, body) = e
            .post_json("/v1/chat/completions", &chat(text, false))
            .await;
        assert_invalid(status, &body, "messages");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("test hook"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn other_routes_honour_hooks_in_their_text() {
    let e = engine().await;
    let (status, body) = e
        .post_json(
            "/v1/embeddings",
            &json!({"input": ["ok", "x [[ik:status:429]]"]}),
        )
        .await;
    assert_eq!(status, 429, "{body}");
    let (status, body) = e
        .post_json(
            "/v1/rerank",
            &json!({"query": "[[ik:error]]", "documents": ["a"]}),
        )
        .await;
    assert_eq!(status, 500);
    assert_engine_error(&body);
    let (status, _) = e
        .post_json(
            "/v1/images/generations",
            &json!({"prompt": "cat [[ik:status:503]]"}),
        )
        .await;
    assert_eq!(status, 503);
    let resp = e
        .post(
            "/v1/audio/speech",
            &json!({"input": "[[ik:error]]", "voice": "alloy"}),
        )
        .await;
    assert_eq!(resp.status(), 500);
    let (status, body) = e
        .post_json("/v1/embeddings", &json!({"input": "[[ik:bogus]]"}))
        .await;
    assert_invalid(status, &body, "input");
}
