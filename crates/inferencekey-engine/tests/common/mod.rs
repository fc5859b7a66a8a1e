//! A real engine on 127.0.0.1 for each test, and the small helpers the tests share.
#![allow(dead_code)] // each test binary uses a different subset

use inferencekey_engine::{serve, EngineConfig};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub struct Engine {
    pub base: String,
    pub http: reqwest::Client,
    _stop: oneshot::Sender<()>,
}

/// Starts `serve` on an ephemeral port; the server stops when the `Engine` is dropped.
pub async fn start(cfg: EngineConfig) -> Engine {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(serve(listener, cfg, async move {
        let _ = rx.await;
    }));
    Engine {
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
        _stop: tx,
    }
}

pub async fn engine() -> Engine {
    start(EngineConfig::default()).await
}

impl Engine {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// POSTs and returns (status, JSON body).
    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        let resp = self.post(path, body).await;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        (status, json)
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let resp = self.http.get(self.url(path)).send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }
}

/// Asserts an OpenAI-style 400 about `param`.
pub fn assert_invalid(status: u16, body: &Value, param: &str) {
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    assert_eq!(body["error"]["param"], param, "{body}");
    assert!(
        !body["error"]["message"].as_str().unwrap().is_empty(),
        "{body}"
    );
}

/// One SSE frame: a `data:` payload or a `:` comment.
#[derive(Debug, PartialEq)]
pub enum Frame {
    Data(String),
    Comment(String),
}

/// Splits an SSE body the engine wrote (LF line ends, one line per event).
pub fn frames(body: &str) -> Vec<Frame> {
    body.split("\n\n")
        .filter(|f| !f.is_empty())
        .map(|f| {
            assert!(!f.contains('\n'), "one line per event: {f:?}");
            if let Some(d) = f.strip_prefix("data: ") {
                Frame::Data(d.to_owned())
            } else if let Some(c) = f.strip_prefix(':') {
                Frame::Comment(c.trim().to_owned())
            } else {
                panic!("unexpected SSE line {f:?}")
            }
        })
        .collect()
}

/// The JSON payloads of the data frames, with `[DONE]` as the string "[DONE]".
pub fn data(body: &str) -> Vec<Value> {
    frames(body)
        .into_iter()
        .filter_map(|f| match f {
            Frame::Data(d) if d == "[DONE]" => Some(Value::String(d)),
            Frame::Data(d) => Some(serde_json::from_str(&d).unwrap()),
            Frame::Comment(_) => None,
        })
        .collect()
}

/// The concatenated `delta.content` of chat chunks.
pub fn streamed_text(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect()
}

pub fn user(text: &str) -> Value {
    serde_json::json!([{"role": "user", "content": text}])
}
