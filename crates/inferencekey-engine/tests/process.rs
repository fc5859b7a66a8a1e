//! The engine as a separate process, the way the Manager runs it: startup line, readiness,
//! SIGTERM, `[[ik:crash]]`, bind failures and usage errors.

use std::process::Stdio;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStderr, Command};

const BIN: &str = env!("CARGO_BIN_EXE_inferencekey-engine");

fn engine_cmd(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Starts the engine on a free port; returns it, its base URL and the rest of its stderr.
async fn spawn(extra: &[&str]) -> (Child, String, BufReader<ChildStderr>) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut args = vec![
        "--port",
        "0",
        "--model",
        "tiny-model",
        "--task-type",
        "embedding",
    ];
    args.extend_from_slice(extra);
    let mut child = engine_cmd(&args).spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).await.unwrap();
    let prefix =
        "reference engine (no model loaded) serving tiny-model [embedding] on http://127.0.0.1:";
    assert!(line.starts_with(prefix), "{line:?}");
    let base = line.trim_end().split(" on ").nth(1).unwrap().to_owned();
    (child, base, stderr)
}

fn sigterm(child: &Child) {
    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn serves_until_sigterm_then_exits_0() {
    let (mut child, base, _stderr) = spawn(&["--embedding-dim", "16"]).await;
    let http = reqwest::Client::new();
    let health = http.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let body: serde_json::Value = http
        .post(format!("{base}/v1/embeddings"))
        .json(&json!({"input": "x"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"][0]["embedding"].as_array().unwrap().len(), 16);
    assert_eq!(body["model"], "tiny-model");
    sigterm(&child);
    assert_eq!(child.wait().await.unwrap().code(), Some(0));
}

#[tokio::test]
async fn startup_delay_is_visible_to_health_checks() {
    let (mut child, base, _stderr) = spawn(&["--startup-delay-ms", "3600000"]).await;
    let health = reqwest::get(format!("{base}/health")).await.unwrap();
    assert_eq!(health.status(), 503);
    sigterm(&child);
    assert_eq!(child.wait().await.unwrap().code(), Some(0));
}

#[tokio::test]
async fn crash_hook_exits_with_code_3() {
    let (mut child, base, mut stderr) = spawn(&[]).await;
    let sent = reqwest::Client::new()
        .post(format!("{base}/v1/chat/completions"))
        .json(&json!({"messages": [{"role": "user", "content": "[[ik:crash]]"}]}))
        .send()
        .await;
    assert!(sent.is_err(), "no answer from a crashed engine: {sent:?}");
    assert_eq!(child.wait().await.unwrap().code(), Some(3));
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).await.unwrap();
    assert!(rest.contains("[[ik:crash]]"), "{rest}");
}

#[tokio::test]
async fn a_taken_port_exits_1() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = engine_cmd(&["--port", &port, "--model", "m"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot listen"), "{err}");
}

#[tokio::test]
async fn usage_errors_exit_2_and_name_the_flag() {
    for (args, flag) in [
        (vec!["--model", "m"], "--port"),
        (vec!["--port", "1"], "--model"),
        (vec!["--port", "http", "--model", "m"], "--port"),
        (
            vec!["--port", "1", "--model", "m", "--embedding-dim", "-4"],
            "--embedding-dim",
        ),
        (vec!["--port", "1", "--model", "m", "--gpu", "0"], "--gpu"),
        (vec!["--port", "1", "--model", ""], "--model"),
    ] {
        let out = engine_cmd(&args).output().await.unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag), "{args:?}: {err}");
    }
}

#[test]
fn run_cli_returns_2_for_bad_args() {
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(inferencekey_engine::run_cli(&args(&[])), 2);
    assert_eq!(
        inferencekey_engine::run_cli(&args(&["--port", "70000", "--model", "m"])),
        2
    );
    assert_eq!(
        inferencekey_engine::run_cli(&args(&[
            "--port",
            "1",
            "--model",
            "m",
            "--startup-delay-ms",
            "soon"
        ])),
        2
    );
}

#[tokio::test]
async fn run_cli_refuses_to_nest_runtimes() {
    let args: Vec<String> = ["--port", "0", "--model", "m"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(inferencekey_engine::run_cli(&args), 1);
}
