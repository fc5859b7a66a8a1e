//! A real Manager on 127.0.0.1 with a temporary data dir; engines are real child processes
//! running the reference engine (this crate's own binary, `engine` subcommand).

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use inferencekey_manager::{start, ManagerConfig, RunningManager};
use serde_json::{json, Value};

pub const BIN: &str = env!("CARGO_BIN_EXE_inferencekey-manager");

pub fn config(dir: &Path) -> ManagerConfig {
    ManagerConfig {
        data_dir: dir.to_path_buf(),
        port: 0,
        dev: true,
        self_command: vec![BIN.into()],
        cold_start_timeout: Duration::from_secs(30),
        ..Default::default()
    }
}

pub struct Harness {
    pub manager: Option<RunningManager>,
    pub dir: tempfile::TempDir,
    pub url: String,
    pub admin: String,
    pub http: reqwest::Client,
}

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

impl Harness {
    pub async fn start() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        Harness::start_with(dir, |_| {}).await
    }

    pub async fn start_with(
        dir: tempfile::TempDir,
        tweak: impl FnOnce(&mut ManagerConfig),
    ) -> Harness {
        let mut cfg = config(dir.path());
        tweak(&mut cfg);
        let manager = start(cfg).await.expect("manager starts");
        Harness {
            url: manager.url.clone(),
            admin: manager.admin_token.clone(),
            manager: Some(manager),
            dir,
            http: client(),
        }
    }

    /// Shuts down and starts again on the same data dir.
    pub async fn restart(mut self) -> Harness {
        self.manager.take().unwrap().shutdown().await;
        let dir = self.dir;
        Harness::start_with(dir, |_| {}).await
    }

    pub async fn stop(mut self) {
        if let Some(m) = self.manager.take() {
            m.shutdown().await;
        }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::PATCH, path, token, Some(body))
            .await
    }

    /// Creates the project and returns an `ik_sdk_` token for it.
    pub async fn project(&self, slug: &str) -> String {
        let (s, _) = self
            .post("/admin/projects", &self.admin, json!({"slug": slug}))
            .await;
        assert!(s == 201 || s == 200, "{s}");
        let (s, t) = self
            .post(
                &format!("/admin/projects/{slug}/sdk-tokens"),
                &self.admin,
                json!({}),
            )
            .await;
        assert_eq!(s, 201, "{t}");
        t["token"].as_str().unwrap().to_string()
    }

    /// An `ik_live_` key for one workload slug, or `None` for the whole project.
    pub async fn key(&self, project: &str, workload: Option<&str>) -> String {
        let body = match workload {
            Some(w) => json!({"workload": w}),
            None => json!({"all": true}),
        };
        let (s, k) = self
            .post(
                &format!("/admin/projects/{project}/keys"),
                &self.admin,
                body,
            )
            .await;
        assert_eq!(s, 201, "{k}");
        k["key"].as_str().unwrap().to_string()
    }

    pub async fn create(&self, project: &str, token: &str, body: Value) -> Value {
        let (s, w) = self
            .post(&format!("/api/projects/{project}/workloads"), token, body)
            .await;
        assert_eq!(s, 201, "{w}");
        w
    }

    /// Every readiness frame until the stream ends.
    pub async fn readiness(&self, project: &str, slug: &str, token: &str) -> Vec<Value> {
        let resp = self
            .http
            .get(format!(
                "{}/api/projects/{project}/workloads/{slug}/readiness-events",
                self.url
            ))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        let body = tokio::time::timeout(Duration::from_secs(30), resp.text())
            .await
            .expect("the readiness stream ends")
            .unwrap();
        body.lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .map(|d| serde_json::from_str(d).unwrap())
            .collect()
    }

    /// Waits until the workload is ready (asserting the stream ends on `ready`).
    pub async fn wait_ready(&self, project: &str, slug: &str, token: &str) {
        let events = self.readiness(project, slug, token).await;
        let last = events.last().expect("at least one frame");
        assert_eq!(last["phase"], "ready", "{events:#?}");
    }

    /// Sends a chat request through the gateway.
    pub async fn chat(&self, project: &str, slug: &str, key: &str, text: &str) -> (u16, Value) {
        self.post(
            &format!("/endpoint/{project}/{slug}/v1/chat/completions"),
            key,
            json!({"model": "m", "messages": [{"role": "user", "content": text}]}),
        )
        .await
    }

    /// Pids of the engines currently recorded in the run dir.
    pub fn engine_pids(&self) -> Vec<i32> {
        let mut pids: Vec<i32> = std::fs::read_dir(self.dir.path().join("run"))
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .filter_map(|s| s.trim().parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        pids.sort();
        pids
    }
}

/// A workload body that runs the reference engine in place of vLLM (the Manager is in dev
/// mode and vLLM is not installed here).
pub fn vllm_workload(slug: &str) -> Value {
    json!({
        "name": format!("{slug} workload"),
        "slug": slug,
        "model_name": "meta-llama/Llama-3.1-8B-Instruct",
        "backend": "vllm",
        "config": {"command": "vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 8192"},
    })
}

/// The documented error body's `code`.
pub fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

pub fn alive(pid: i32) -> bool {
    // A reaped process is gone; a zombie would still answer signal 0, but the Manager reaps.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Polls `check` until it returns `Some`, failing the test after `limit`.
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads a streamed response chunk by chunk.
pub async fn chunks(resp: reqwest::Response) -> Vec<String> {
    let mut out = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        out.push(String::from_utf8_lossy(&chunk.unwrap()).into_owned());
    }
    out
}
