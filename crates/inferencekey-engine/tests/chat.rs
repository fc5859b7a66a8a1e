//! Chat completions over real HTTP: shapes, determinism, options, validation and streaming.

mod common;

use common::{assert_invalid, data, engine, start, streamed_text, user};
use futures_util::StreamExt;
use inferencekey_engine::EngineConfig;
use serde_json::{json, Value};

const PREFIX: &str = "Reference engine (no model loaded) reply to:";

#[tokio::test]
async fn reply_has_the_openai_shape() {
    let e = start(EngineConfig {
        model: "my-model".into(),
        ..EngineConfig::default()
    })
    .await;
    let (status, body) = e
        .post_json(
            "/v1/chat/completions",
            &json!({"model": "anything", "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "hello there world"},
            ], "max_tokens": 10}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "my-model");
    assert_eq!(body["system_fingerprint"], "inferencekey-reference-engine");
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert!(body["created"].as_u64().unwrap() > 1_600_000_000);
    let choice = &body["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(
        choice["message"]["content"],
        format!("{PREFIX} hello there world")
    );
    assert_eq!(choice["finish_reason"], "length");
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": 5, "completion_tokens": 10, "total_tokens": 15})
    );
}

#[tokio::test]
async fn length_cycles_and_defaults() {
    let e = engine().await;
    let (_, body) = e
        .post_json(
            "/v1/chat/completions",
            &json!({"messages": user("a b"), "max_tokens": 20}),
        )
        .await;
    let words: Vec<&str> = body["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .split(' ')
        .collect();
    assert_eq!(words.len(), 20);
    // 9 words per cycle: the 7-word prefix and the 2 user words.
    assert_eq!(words[9..18], words[0..9]);
    assert_eq!(words[18], "Reference");

    let (_, body) = e
        .post_json("/v1/chat/completions", &json!({"messages": user("a b")}))
        .await;
    assert_eq!(body["usage"]["completion_tokens"], 16);
    assert_eq!(body["choices"][0]["finish_reason"], "stop");

    // max_completion_tokens is the newer name for the same limit.
    let (_, body) = e
        .post_json(
            "/v1/chat/completions",
            &json!({"messages": user("a"), "max_completion_tokens": 3}),
        )
        .await;
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Reference engine (no"
    );
}

#[tokio::test]
async fn replies_are_deterministic() {
    let e = engine().await;
    let req = json!({"messages": user("same words"), "temperature": 1.5, "seed": 7, "top_p": 0.5});
    let (_, a) = e.post_json("/v1/chat/completions", &req).await;
    let (_, b) = e.post_json("/v1/chat/completions", &req).await;
    assert_eq!(a["choices"], b["choices"]);
    assert_eq!(a["usage"], b["usage"]);
    assert_ne!(a["id"], b["id"]);
    let (_, c) = e
        .post_json(
            "/v1/chat/completions",
            &json!({"messages": user("other words")}),
        )
        .await;
    assert_ne!(a["choices"], c["choices"]);
}

#[tokio::test]
async fn last_user_message_and_content_parts() {
    let e = engine().await;
    let (_, body) = e
        .post_json(
            "/v1/chat/completions",
            &json!({"max_tokens": 9, "messages": [
                {"role": "user", "content": "first"},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c", "content": "result"},
                {"role": "user", "content": [
                    {"type": "text", "text": "look at"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                    {"type": "text", "text": "this"},
                ]},
            ]}),
        )
        .await;
    assert_eq!(
        body["choices"][0]["message"]["content"],
        format!("{PREFIX} look at")
    );
    assert_eq!(body["usage"]["prompt_tokens"], 5);
}

#[tokio::test]
async fn stop_cuts_the_reply() {
    let e = engine().await;
    let (_, body) = e
        .post_json(
            "/v1/chat/completions",
            &json!({"messages": user("x"), "max_tokens": 50, "stop": ["loaded", "zzz"]}),
        )
        .await;
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Reference engine (no model "
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["usage"]["completion_tokens"], 5);

    let (_, body) = e
        .post_json(
            "/v1/chat/completions",
            &json!({"messages": user("x"), "max_tokens": 3, "stop": "never"}),
        )
        .await;
    assert_eq!(body["choices"][0]["finish_reason"], "length");
}

#[tokio::test]
async fn json_response_format_is_json() {
    let e = engine().await;
    for rf in [
        json!({"type": "json_object"}),
        json!({"type": "json_schema", "json_schema": {"name": "r", "schema": {}}}),
    ] {
        let (_, body) = e
            .post_json(
                "/v1/chat/completions",
                &json!({"messages": user("say \"hi\""), "max_tokens": 9, "response_format": rf}),
            )
            .await;
        let content = body["choices"][0]["message"]["content"].as_str().unwrap();
        let v: Value = serde_json::from_str(content).unwrap();
        assert_eq!(v["reply"], format!("{PREFIX} say \"hi\""));
    }
}

#[tokio::test]
async fn forced_tool_choice_returns_a_tool_call() {
    let e = engine().await;
    let tools = json!([{"type": "function", "function": {"name": "lookup", "parameters": {}}}]);
    let (_, body) = e
        .post_json(
            "/v1/chat/completions",
            &json!({"messages": user("find it"), "tools": tools, "tool_choice": "required"}),
        )
        .await;
    let choice = &body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], Value::Null);
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "lookup");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"input": "find it"}));

    // "auto" leaves the choice to the model, which here always answers in text.
    let (_, body) = e
        .post_json(
            "/v1/chat/completions",
            &json!({"messages": user("find it"), "tools": tools, "tool_choice": "auto"}),
        )
        .await;
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn invalid_requests_name_the_field() {
    let e = engine().await;
    let cases = [
        (json!({}), "messages"),
        (json!({"messages": []}), "messages"),
        (json!({"messages": "hi"}), "messages"),
        (json!({"messages": ["hi"]}), "messages[0]"),
        (json!({"messages": [{"content": "hi"}]}), "messages[0].role"),
        (
            json!({"messages": [{"role": "robot", "content": "hi"}]}),
            "messages[0].role",
        ),
        (
            json!({"messages": [{"role": "user"}]}),
            "messages[0].content",
        ),
        (
            json!({"messages": [{"role": "user", "content": 5}]}),
            "messages[0].content",
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"type": "text"}]}]}),
            "messages[0].content[0].text",
        ),
        (
            json!({"messages": user("x"), "max_tokens": 0}),
            "max_tokens",
        ),
        (
            json!({"messages": user("x"), "max_tokens": "5"}),
            "max_tokens",
        ),
        (
            json!({"messages": user("x"), "temperature": 3}),
            "temperature",
        ),
        (json!({"messages": user("x"), "top_p": -1}), "top_p"),
        (json!({"messages": user("x"), "seed": "s"}), "seed"),
        (json!({"messages": user("x"), "n": 2}), "n"),
        (json!({"messages": user("x"), "stream": "yes"}), "stream"),
        (json!({"messages": user("x"), "stop": [1]}), "stop"),
        (json!({"messages": user("x"), "stop": ""}), "stop"),
        (
            json!({"messages": user("x"), "response_format": {"type": "xml"}}),
            "response_format.type",
        ),
        (json!({"messages": user("x"), "tools": {}}), "tools"),
        (
            json!({"messages": user("x"), "tool_choice": "required"}),
            "tool_choice",
        ),
        (
            json!({"messages": user("x"), "stream_options": {"include_usage": 1}}),
            "stream_options.include_usage",
        ),
    ];
    for (body, param) in cases {
        let (status, answer) = e.post_json("/v1/chat/completions", &body).await;
        assert_invalid(status, &answer, param);
    }
}

#[tokio::test]
async fn bad_json_is_a_400_that_says_why() {
    let e = engine().await;
    for raw in ["{\"messages\": [", "[1, 2]", ""] {
        let resp = e
            .http
            .post(e.url("/v1/chat/completions"))
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert_eq!(body["error"]["param"], "body");
        let msg = body["error"]["message"].as_str().unwrap();
        assert!(
            msg.contains("not valid JSON") || msg.contains("JSON object") || msg.contains("empty"),
            "{msg}"
        );
    }
}

async fn stream(e: &common::Engine, body: Value) -> (reqwest::header::HeaderMap, String) {
    let resp = e.post("/v1/chat/completions", &body).await;
    assert_eq!(resp.status(), 200);
    let headers = resp.headers().clone();
    (headers, resp.text().await.unwrap())
}

#[tokio::test]
async fn stream_frames_come_in_order() {
    let e = engine().await;
    let (headers, body) = stream(
        &e,
        json!({"messages": user("hi you"), "max_tokens": 12, "stream": true}),
    )
    .await;
    assert_eq!(headers["content-type"], "text/event-stream");
    let chunks = data(&body);
    assert_eq!(chunks.len(), 1 + 12 + 1 + 1, "{body}");
    let first = &chunks[0];
    assert_eq!(first["object"], "chat.completion.chunk");
    assert_eq!(first["model"], "reference-model");
    assert_eq!(first["system_fingerprint"], "inferencekey-reference-engine");
    assert_eq!(first["choices"][0]["delta"]["role"], "assistant");
    let id = first["id"].clone();
    for c in &chunks[1..13] {
        assert_eq!(c["id"], id);
        assert!(c["choices"][0]["delta"]["content"].is_string(), "{c}");
        assert_eq!(c["choices"][0]["finish_reason"], Value::Null);
    }
    assert_eq!(chunks[13]["choices"][0]["finish_reason"], "length");
    assert_eq!(chunks[13]["choices"][0]["delta"], json!({}));
    assert_eq!(chunks[14], "[DONE]");

    let (_, plain) = e
        .post_json(
            "/v1/chat/completions",
            &json!({"messages": user("hi you"), "max_tokens": 12}),
        )
        .await;
    assert_eq!(
        streamed_text(&chunks),
        plain["choices"][0]["message"]["content"].as_str().unwrap()
    );
}

#[tokio::test]
async fn stream_usage_when_asked() {
    let e = engine().await;
    let (_, body) = stream(
        &e,
        json!({"messages": user("hi"), "max_tokens": 4, "stream": true,
               "stream_options": {"include_usage": true}}),
    )
    .await;
    let chunks = data(&body);
    let n = chunks.len();
    assert_eq!(chunks[n - 1], "[DONE]");
    assert_eq!(chunks[n - 2]["choices"], json!([]));
    assert_eq!(
        chunks[n - 2]["usage"],
        json!({"prompt_tokens": 1, "completion_tokens": 4, "total_tokens": 5})
    );
    assert_eq!(chunks[n - 3]["choices"][0]["finish_reason"], "length");

    let (_, body) = stream(&e, json!({"messages": user("hi"), "stream": true})).await;
    assert!(data(&body).iter().all(|c| c.get("usage").is_none()));
}

#[tokio::test]
async fn streamed_stop_json_and_tools_match_the_plain_answers() {
    let e = engine().await;
    let tools = json!([{"type": "function", "function": {"name": "f"}}]);
    for extra in [
        json!({"stop": ["model lo"], "max_tokens": 30}),
        json!({"response_format": {"type": "json_object"}, "max_tokens": 11}),
        json!({"tools": tools, "tool_choice": {"type": "function", "function": {"name": "f"}}}),
    ] {
        let mut req = json!({"messages": user("quote \" and \\ and ünïcode")});
        for (k, v) in extra.as_object().unwrap() {
            req[k] = v.clone();
        }
        let (_, plain) = e.post_json("/v1/chat/completions", &req).await;
        req["stream"] = json!(true);
        let (_, body) = stream(&e, req).await;
        let chunks = data(&body);
        assert_eq!(chunks.last().unwrap(), "[DONE]");
        let finish = &chunks[chunks.len() - 2]["choices"][0]["finish_reason"];
        assert_eq!(finish, &plain["choices"][0]["finish_reason"]);
        let message = &plain["choices"][0]["message"];
        if let Some(content) = message["content"].as_str() {
            assert_eq!(streamed_text(&chunks), content);
        } else {
            let call = &chunks[1]["choices"][0]["delta"]["tool_calls"][0];
            assert_eq!(call["function"]["name"], "f");
            assert_eq!(call["id"], message["tool_calls"][0]["id"]);
            let args = &chunks[2]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"];
            assert_eq!(args, &message["tool_calls"][0]["function"]["arguments"]);
        }
    }
}

#[tokio::test]
async fn long_streams_arrive_incrementally() {
    let e = engine().await;
    let resp = e
        .post(
            "/v1/chat/completions",
            &json!({"messages": user("go"), "max_tokens": 50_000, "stream": true}),
        )
        .await;
    let mut pieces = resp.bytes_stream();
    let mut body = Vec::new();
    let mut reads = 0;
    while let Some(piece) = pieces.next().await {
        body.extend_from_slice(&piece.unwrap());
        reads += 1;
    }
    // Written in batches as generated, not as one buffered answer.
    assert!(reads > 10, "{reads} reads");
    let chunks = data(std::str::from_utf8(&body).unwrap());
    assert_eq!(chunks.len(), 50_000 + 3);
    assert_eq!(chunks[50_001]["choices"][0]["finish_reason"], "length");
}
