//! The CLI as users run it: the built binary, `serve` in the background, the other verbs
//! against it.

mod common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{client, BIN};
use serde_json::{json, Value};

fn run(args: &[&str], dir: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `serve` in the background; returns once its address file appears.
fn serve(dir: &Path) -> Child {
    let child = Command::new(BIN)
        .args(["serve", "--dev", "--port", "0", "--data-dir"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !dir.join("address").exists() {
        assert!(
            Instant::now() < deadline,
            "serve did not write its address file"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn stop(child: Child) -> String {
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn verbs_against_a_running_manager() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let server = serve(d);
    let url = std::fs::read_to_string(d.join("address")).unwrap();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let info: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("manager.json")).unwrap()).unwrap();
    assert_eq!(info["url"], url.as_str());
    assert_eq!(info["pid"], server.id());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(d.join("admin_token"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let init = run(&["init", "--project", "Acme"], d);
    assert!(init.status.success(), "{}", stderr(&init));
    let lines: Vec<String> = stdout(&init).lines().map(String::from).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0], format!("export INFERENCEKEY_BASE_URL={url}"));
    assert_eq!(lines[1], "export INFERENCEKEY_PROJECT=acme");
    let sdk = lines[2]
        .strip_prefix("export INFERENCEKEY_SDK_TOKEN=")
        .unwrap()
        .to_string();
    assert!(sdk.starts_with("ik_sdk_"));
    // Re-running init reuses the project and issues another token.
    assert!(run(&["init", "--project", "acme"], d).status.success());

    let key = run(
        &["key", "create", "--project", "acme", "--workload", "bot"],
        d,
    );
    assert!(key.status.success(), "{}", stderr(&key));
    let key = stdout(&key).trim().to_string();
    assert!(key.starts_with("ik_live_") && !key.contains('\n'));
    let all = run(&["key", "create", "--project", "acme", "--all"], d);
    assert!(stdout(&all).starts_with("ik_live_"));

    let worker = run(&["worker", "register", "--name", "gpu-box"], d);
    let worker_id = stdout(&worker).trim().to_string();
    assert!(worker_id.starts_with("wrk_"), "{worker_id}");
    assert!(stdout(&run(&["worker", "list"], d)).contains("gpu-box"));
    let gpu = run(
        &[
            "gpu",
            "register",
            "--name",
            "NVIDIA L4",
            "--worker",
            &worker_id,
        ],
        d,
    );
    assert!(stdout(&gpu).starts_with("gpu_"), "{}", stderr(&gpu));

    // The tokens printed by the CLI work against the API.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let http = client();
        let resp = http
            .post(format!("{url}/api/projects/acme/workloads"))
            .bearer_auth(&sdk)
            .json(&json!({"name": "bot", "model_name": "m", "backend": "vllm",
                          "config": {"command": "vllm serve m"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        let resp = http
            .post(format!("{url}/endpoint/acme/bot/v1/chat/completions"))
            .bearer_auth(&key)
            .json(&json!({"messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    });

    let status = run(&["status"], d);
    let text = stdout(&status);
    assert!(
        text.contains(&url) && text.contains("acme") && text.contains("bot"),
        "{text}"
    );
    assert!(text.contains("ready"), "{text}");
    // READY/WANTED: the one fixed replica serves.
    assert!(text.contains("READY/WANTED"), "{text}");
    let row = text
        .lines()
        .find(|l| l.trim_start().starts_with("bot"))
        .unwrap();
    assert!(row.contains(" 1/1 "), "{row}");

    let list = stdout(&run(&["key", "list", "--project", "acme"], d));
    let secret = key.rsplit('_').next().unwrap();
    assert!(list.contains("bot") && !list.contains(secret), "{list}");
    let key_id = key.split('_').nth(2).unwrap();
    let revoked = run(&["key", "revoke", key_id], d);
    assert!(revoked.status.success(), "{}", stderr(&revoked));
    assert!(stdout(&run(&["key", "list", "--json"], d)).contains("revoked_at\": \"20"));
    let missing = run(&["key", "revoke", "nope"], d);
    assert_eq!(missing.status.code(), Some(1));

    let log = stop(server);
    assert!(
        log.contains(&format!(
            "inferencekey manager listening on {url} (data dir"
        )),
        "{log}"
    );
    assert!(!log.contains(secret), "the log never holds a key");
    assert!(!d.join("address").exists() && !d.join("manager.json").exists());

    let after = run(&["status"], d);
    assert_eq!(after.status.code(), Some(1));
    assert_eq!(
        stderr(&after).trim(),
        format!(
            "inferencekey: no Manager is running for data dir {0}; start one with: inferencekey serve --data-dir {0}",
            d.display()
        )
    );
}

#[test]
fn usage_errors_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let bad = Command::new(BIN).args(["key", "create"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let bad = Command::new(BIN).arg("frobnicate").output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let remote = run(&["serve", "--host", "0.0.0.0"], dir.path());
    assert_eq!(remote.status.code(), Some(1));
    assert!(
        stderr(&remote).contains("--allow-remote"),
        "{}",
        stderr(&remote)
    );
    let no_manager = run(&["init", "--project", "acme"], dir.path());
    assert_eq!(no_manager.status.code(), Some(1));
    assert!(stderr(&no_manager).contains("no Manager is running"));
    let help = Command::new(BIN)
        .args(["engine", "--help"])
        .output()
        .unwrap();
    assert_eq!(help.status.code(), Some(0));
    assert!(
        stdout(&help).contains("--task-type"),
        "engine flags are the engine's own"
    );
}
