//! The reconciler, local worker, gateway and jobs: workloads run as real engine processes
//! (the reference engine) and are called through the gateway over real HTTP.

mod common;

use std::time::Duration;

use common::{alive, chunks, error_code, eventually, vllm_workload, Harness, BIN};
use reqwest::Method;
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn workload_becomes_ready_and_serves_through_the_gateway() {
    let h = Harness::start().await;
    let sdk = h.project("acme").await;
    let key = h.key("acme", Some("bot")).await;
    h.create("acme", &sdk, vllm_workload("bot")).await;

    // Called right after create, before the engine is up: the gateway waits for it.
    let (s, out) = h.chat("acme", "bot", &key, "Hola").await;
    assert_eq!(s, 200, "{out}");
    let text = out["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(text.contains("reply to: Hola"), "{text}");
    assert_eq!(out["model"], "meta-llama/Llama-3.1-8B-Instruct");

    let events = h.readiness("acme", "bot", &sdk).await;
    assert_eq!(
        events.len(),
        1,
        "ready on connect ends the stream at once: {events:?}"
    );
    assert_eq!(events[0]["phase"], "ready");
    let msg = events[0]["message"].as_str().unwrap();
    assert!(
        msg.contains("vllm is not installed on this machine; serving with the reference engine (no model loaded) because --dev is set"),
        "{msg}"
    );
    let (_, w) = h.get("/api/projects/acme/workloads/bot", &sdk).await;
    assert_eq!(w["status"], "ready");
    assert_eq!(w["status_message"].as_str(), Some(msg));

    // Streaming passes through frame by frame: with a delay between engine chunks, the
    // first chunk the client reads cannot already hold the end of the stream.
    let resp = h
        .http
        .post(format!("{}/endpoint/acme/bot/v1/chat/completions", h.url))
        .bearer_auth(&key)
        .header("x-request-id", "stream-1")
        .json(&json!({"model": "m", "stream": true, "max_tokens": 6,
                      "messages": [{"role": "user", "content": "count [[ik:chunk-delay:40]]"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-request-id"], "stream-1");
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let parts = chunks(resp).await;
    assert!(parts.len() > 2, "{parts:?}");
    assert!(
        parts[0].contains("data: ") && !parts[0].contains("[DONE]"),
        "{parts:?}"
    );
    assert!(parts.concat().trim_end().ends_with("data: [DONE]"));

    let (s, emb) = h
        .post(
            "/endpoint/acme/bot/v1/embeddings",
            &key,
            json!({"model": "m", "input": ["a", "b"]}),
        )
        .await;
    assert_eq!(s, 200, "{emb}");
    assert_eq!(emb["data"].as_array().unwrap().len(), 2);

    let (s, rr) = h
        .post(
            "/endpoint/acme/bot/v1/rerank",
            &key,
            json!({"model": "m", "query": "red apple", "documents": ["green pear", "red apple pie"], "top_n": 1}),
        )
        .await;
    assert_eq!(s, 200, "{rr}");
    assert_eq!(rr["results"][0]["index"], 1);

    let (s, models) = h.get("/endpoint/acme/bot/v1/models", &key).await;
    assert_eq!(s, 200);
    assert_eq!(models["data"][0]["id"], "meta-llama/Llama-3.1-8B-Instruct");

    // Engine errors keep their status and message, in the documented body with a documented
    // code; unknown routes are the gateway's 404.
    for (hook, status, code) in [
        ("[[ik:status:429]]", 429, "rate_limited"),
        ("[[ik:status:400]]", 400, "validation_failed"),
        ("[[ik:status:500]]", 500, "backend_unavailable"),
        ("[[ik:status:401]]", 502, "backend_unavailable"),
    ] {
        let (s, e) = h.chat("acme", "bot", &key, hook).await;
        assert_eq!((s, error_code(&e)), (status, code), "{hook}: {e}");
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .contains("test hook"),
            "the engine's message is kept: {e}"
        );
    }
    // A bad hook argument is the engine's 400 about one field: the field is kept too.
    let (s, e) = h.chat("acme", "bot", &key, "[[ik:slow:x]]").await;
    assert_eq!((s, error_code(&e)), (400, "validation_failed"), "{e}");
    assert_eq!(e["error"]["field"], "messages", "{e}");
    // The same on a streaming request the engine refuses before streaming.
    let resp = h
        .http
        .post(format!("{}/endpoint/acme/bot/v1/chat/completions", h.url))
        .bearer_auth(&key)
        .json(&json!({"stream": true, "messages": [{"role": "user", "content": "[[ik:status:503]]"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "1");
    let e: Value = resp.json().await.unwrap();
    assert_eq!(error_code(&e), "backend_unavailable", "{e}");
    let (s, e) = h.get("/endpoint/acme/bot/nowhere", &key).await;
    assert_eq!((s, error_code(&e)), (404, "not_found"));
    h.stop().await;
}

#[tokio::test]
async fn data_plane_checks_keys_projects_and_scopes() {
    let h = Harness::start().await;
    let sdk = h.project("acme").await;
    let other_sdk = h.project("other").await;
    let key_a = h.key("acme", Some("a")).await;
    let key_all = h.key("acme", None).await;
    let other_key = h.key("other", None).await;
    h.create("acme", &sdk, vllm_workload("a")).await;
    h.create("acme", &sdk, vllm_workload("b")).await;
    h.create("other", &other_sdk, vllm_workload("a")).await;

    let (s, e) = h.chat("acme", "b", &key_a, "hi").await;
    assert_eq!((s, error_code(&e)), (403, "scope_insufficient"));
    let (s, e) = h.chat("acme", "a", &sdk, "hi").await;
    assert_eq!((s, error_code(&e)), (403, "wrong_credential_type"));
    let (s, e) = h.chat("acme", "a", &other_key, "hi").await;
    assert_eq!((s, error_code(&e)), (403, "project_scope_mismatch"));
    let (s, e) = h.chat("acme", "a", "ik_live_nope_nope", "hi").await;
    assert_eq!((s, error_code(&e)), (401, "unauthenticated"));
    let (s, e) = h.chat("acme", "missing", &key_all, "hi").await;
    assert_eq!((s, error_code(&e)), (404, "not_found"));
    for slug in ["a", "b"] {
        let (s, out) = h.chat("acme", slug, &key_all, "hi").await;
        assert_eq!(s, 200, "{out}");
    }
    let (s, _) = h.chat("acme", "a", &key_a, "hi").await;
    assert_eq!(s, 200);

    // Revocation is immediate even though the key is cached by now.
    let id = key_a.split('_').nth(2).unwrap();
    let (s, _) = h
        .post(&format!("/admin/keys/{id}/revoke"), &h.admin, json!({}))
        .await;
    assert_eq!(s, 200);
    let (s, e) = h.chat("acme", "a", &key_a, "hi").await;
    assert_eq!((s, error_code(&e)), (401, "unauthenticated"));
    h.stop().await;
}

#[tokio::test]
async fn async_only_task_types_use_jobs() {
    let h = Harness::start().await;
    let sdk = h.project("acme").await;
    let key = h.key("acme", None).await;
    let mut body = vllm_workload("ranker");
    body["task_type"] = json!("reranker");
    h.create("acme", &sdk, body).await;
    h.create("acme", &sdk, vllm_workload("chat")).await;

    // A reranker serves its one synchronous route, /v1/rerank (the public SDK's rerank()).
    let (s, rr) = h
        .post(
            "/endpoint/acme/ranker/v1/rerank",
            &key,
            json!({"query": "red apple", "documents": ["pear", "red apple"], "top_n": 1}),
        )
        .await;
    assert_eq!(s, 200, "{rr}");
    assert_eq!(rr["results"][0]["index"], 1, "{rr}");
    // Other sync routes are refused, naming both routes that do serve it.
    let (s, e) = h.chat("acme", "ranker", &key, "hi").await;
    assert_eq!((s, error_code(&e)), (400, "validation_failed"), "{e}");
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("POST /endpoint/acme/ranker/v1/rerank")
            && msg.contains("POST /endpoint/acme/ranker/jobs"),
        "{e}"
    );
    assert_eq!(e["error"]["field"], "task_type");
    // classification has no sync route at all: only the jobs route is named.
    let mut body = vllm_workload("classes");
    body["task_type"] = json!("classification");
    h.create("acme", &sdk, body).await;
    let (s, e) = h
        .post(
            "/endpoint/acme/classes/v1/rerank",
            &key,
            json!({"query": "q", "documents": ["a"]}),
        )
        .await;
    assert_eq!(s, 400, "{e}");
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("POST /endpoint/acme/classes/jobs") && !msg.contains("v1/rerank or"),
        "{e}"
    );

    let (s, job) = h
        .post(
            "/endpoint/acme/ranker/jobs",
            &key,
            json!({"kind": "reranking", "body": {"query": "red apple", "documents": ["pear", "red apple"]},
                   "context": {"ticket": 7}}),
        )
        .await;
    assert_eq!(s, 202, "{job}");
    let id = job["job_id"].as_str().unwrap().to_string();
    let done = eventually("the rerank job", LIMIT, || async {
        let (_, j) = h
            .get(&format!("/endpoint/acme/ranker/jobs/{id}"), &key)
            .await;
        matches!(j["status"].as_str(), Some("succeeded" | "failed")).then_some(j)
    })
    .await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["result"]["results"][0]["index"], 1);
    assert_eq!(done["context"], json!({"ticket": 7}));
    // Another workload's job is not visible there.
    let (s, _) = h.get(&format!("/endpoint/acme/chat/jobs/{id}"), &key).await;
    assert_eq!(s, 404);

    // Binary bodies (multipart) and binary answers (audio) round-trip as base64.
    let boundary = "XyZ";
    let multipart = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nm\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\nContent-Type: audio/wav\r\n\r\nRIFFdata\r\n--{boundary}--\r\n"
    );
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(multipart);
    let submitted = [
        json!({"kind": "audio_transcriptions", "body_b64": b64,
               "content_type": format!("multipart/form-data; boundary={boundary}")}),
        json!({"kind": "audio_speech", "body": {"model": "m", "input": "hi", "voice": "alloy"}}),
        json!({"kind": "chat_completions", "body": {"model": "m", "messages": [{"role": "user", "content": "x"}]}}),
        json!({"kind": "chat", "body": {"model": "m", "messages": [{"role": "user", "content": "[[ik:status:400]]"}]}}),
    ];
    let mut ids = Vec::new();
    for body in submitted {
        let (s, j) = h.post("/endpoint/acme/chat/jobs", &key, body).await;
        assert_eq!(s, 202, "{j}");
        ids.push(j["job_id"].as_str().unwrap().to_string());
    }
    let mut results = Vec::new();
    for id in &ids {
        results.push(
            eventually("a job", LIMIT, || async {
                let (_, j) = h.get(&format!("/endpoint/acme/chat/jobs/{id}"), &key).await;
                matches!(j["status"].as_str(), Some("succeeded" | "failed")).then_some(j)
            })
            .await,
        );
    }
    assert_eq!(results[0]["status"], "succeeded", "{}", results[0]);
    assert!(results[0]["result"]["text"]
        .as_str()
        .unwrap()
        .contains("heard"));
    assert_eq!(
        results[1]["result"]["content_type"], "audio/wav",
        "{}",
        results[1]
    );
    assert!(results[1]["result"]["binary_b64"].as_str().unwrap().len() > 10);
    assert_eq!(results[2]["status"], "succeeded");
    assert_eq!(results[3]["status"], "failed");
    assert_eq!(results[3]["error"]["status"], 400, "{}", results[3]);

    for (body, field) in [
        (json!({"kind": "video", "body": {}}), "kind"),
        (json!({"body": {}}), "kind"),
        (json!({"kind": "chat", "body": {}, "body_b64": "AA=="}), ""),
        (json!({"kind": "chat"}), ""),
        (
            json!({"kind": "chat", "body_b64": "!!", "content_type": "x/y"}),
            "body_b64",
        ),
        (json!({"kind": "chat", "body_b64": "AA=="}), "content_type"),
        (json!({"kind": "chat", "body": {}, "extra": 1}), "extra"),
    ] {
        let (s, e) = h.post("/endpoint/acme/chat/jobs", &key, body.clone()).await;
        assert_eq!(s, 400, "{body}: {e}");
        assert_eq!(
            e["error"]["field"].as_str().unwrap_or_default(),
            field,
            "{body}: {e}"
        );
    }
    let (_, e) = h
        .post(
            "/endpoint/acme/chat/jobs",
            &key,
            json!({"kind": "video", "body": {}}),
        )
        .await;
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains("images_generations"));
    h.stop().await;
}

#[tokio::test]
async fn a_killed_engine_is_restarted_and_delete_stops_it() {
    let h = Harness::start().await;
    let sdk = h.project("acme").await;
    let key = h.key("acme", None).await;
    let w = h.create("acme", &sdk, vllm_workload("bot")).await;
    h.wait_ready("acme", "bot", &sdk).await;
    let pids = h.engine_pids();
    assert_eq!(pids.len(), 1);
    let first = pids[0];
    assert!(alive(first));
    let log = h.dir.path().join("logs/acme/bot-0.log");
    assert!(log.exists(), "engine output goes to {}", log.display());

    unsafe { libc::kill(first, libc::SIGKILL) };
    let second = eventually("a new engine", LIMIT, || async {
        h.engine_pids().into_iter().find(|p| *p != first)
    })
    .await;
    let (s, out) = h.chat("acme", "bot", &key, "after restart").await;
    assert_eq!(s, 200, "{out}");
    assert!(alive(second));

    let id = w["id"].as_str().unwrap();
    let (s, _) = h
        .call(Method::DELETE, &format!("/api/workloads/{id}"), &sdk, None)
        .await;
    assert_eq!(s, 204);
    eventually("the engine to stop", LIMIT, || async {
        (!alive(second)).then_some(())
    })
    .await;
    let (s, e) = h.chat("acme", "bot", &key, "gone").await;
    assert_eq!((s, error_code(&e)), (404, "not_found"));
    h.stop().await;
}

#[tokio::test]
async fn changed_specs_roll_out_without_dropping_traffic() {
    let h = Harness::start().await;
    let sdk = h.project("acme").await;
    let key = h.key("acme", None).await;
    let w = h.create("acme", &sdk, vllm_workload("bot")).await;
    let id = w["id"].as_str().unwrap().to_string();
    h.wait_ready("acme", "bot", &sdk).await;
    let before = h.engine_pids();

    // Renaming restarts nothing.
    let (s, _) = h
        .patch(
            &format!("/api/workloads/{id}"),
            &sdk,
            json!({"name": "Renamed"}),
        )
        .await;
    assert_eq!(s, 200);
    let events = h.readiness("acme", "bot", &sdk).await;
    assert_eq!(events.len(), 1);
    assert_eq!(h.engine_pids(), before);

    // A new command and two replicas: traffic keeps flowing during the rollout.
    let traffic = async {
        let mut served = 0;
        for i in 0..40 {
            let (s, out) = h.chat("acme", "bot", &key, &format!("request {i}")).await;
            assert_eq!(s, 200, "request {i} during the rollout: {out}");
            served += 1;
        }
        served
    };
    let rollout = async {
        let (s, p) = h
            .patch(
                &format!("/api/workloads/{id}"),
                &sdk,
                json!({"config": {"command": "vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 4096"},
                       "execution_policy_config": {"replicas": 2}}),
            )
            .await;
        assert_eq!(s, 200, "{p}");
        // The stream follows this rollout (it cannot end on the old revision's `ready`,
        // which served one replica) and ends when the new revision is ready.
        let events = h.readiness("acme", "bot", &sdk).await;
        let last = events.last().unwrap();
        assert_eq!(last["phase"], "ready", "{events:#?}");
        assert!(
            last["message"]
                .as_str()
                .unwrap()
                .starts_with("2 replicas serving"),
            "{events:#?}"
        );
    };
    let (served, ()) = tokio::join!(traffic, rollout);
    assert_eq!(served, 40);
    let after = eventually("the old engine to stop", LIMIT, || async {
        let pids = h.engine_pids();
        (pids.len() == 2 && pids.iter().all(|p| !before.contains(p))).then_some(pids)
    })
    .await;
    for p in before {
        eventually("the old engine to exit", LIMIT, || async {
            (!alive(p)).then_some(())
        })
        .await;
    }
    assert!(after.iter().all(|p| alive(*p)));
    h.stop().await;
}

#[tokio::test]
async fn a_manager_restart_keeps_everything() {
    let h = Harness::start().await;
    let admin = h.admin.clone();
    let sdk = h.project("acme").await;
    let key = h.key("acme", Some("bot")).await;
    h.create("acme", &sdk, vllm_workload("bot")).await;
    let (s, job) = h
        .post(
            "/endpoint/acme/bot/jobs",
            &key,
            json!({"kind": "embeddings", "body": {"model": "m", "input": "x"}}),
        )
        .await;
    assert_eq!(s, 202);
    let job_id = job["job_id"].as_str().unwrap().to_string();
    eventually("the job", LIMIT, || async {
        let (_, j) = h
            .get(&format!("/endpoint/acme/bot/jobs/{job_id}"), &key)
            .await;
        (j["status"] == "succeeded").then_some(())
    })
    .await;
    let old_pids = h.engine_pids();

    let h = h.restart().await;
    assert_eq!(h.admin, admin, "the admin token lives in the data dir");
    for p in &old_pids {
        assert!(!alive(*p), "shutdown stopped engine {p}");
    }
    let (s, list) = h.get("/api/projects/acme/workloads", &sdk).await;
    assert_eq!(s, 200, "the sdk token survives");
    assert_eq!(list[0]["slug"], "bot");
    let (s, out) = h.chat("acme", "bot", &key, "back").await;
    assert_eq!(
        s, 200,
        "the workload runs again and the key survives: {out}"
    );
    let (s, j) = h
        .get(&format!("/endpoint/acme/bot/jobs/{job_id}"), &key)
        .await;
    assert_eq!((s, j["status"].as_str()), (200, Some("succeeded")));
    h.stop().await;
}

#[tokio::test]
async fn missing_engines_are_errors_outside_dev_mode() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start_with(dir, |c| c.dev = false).await;
    let sdk = h.project("acme").await;
    let key = h.key("acme", None).await;
    h.create("acme", &sdk, vllm_workload("bot")).await;
    let events = h.readiness("acme", "bot", &sdk).await;
    let last = events.last().unwrap();
    assert_eq!(last["phase"], "error", "{events:#?}");
    let msg = last["message"].as_str().unwrap();
    assert!(
        msg.contains("vllm is not installed") && msg.contains("--dev"),
        "{msg}"
    );
    let (s, e) = h.chat("acme", "bot", &key, "hi").await;
    assert_eq!((s, error_code(&e)), (503, "backend_unavailable"));

    // A second Manager on the same data dir is refused.
    let err = inferencekey_manager::start(common::config(h.dir.path()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already running"), "{err}");
    h.stop().await;
}

#[tokio::test]
async fn a_slow_engine_answers_workload_not_ready_after_the_cold_start_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start_with(dir, |c| {
        c.allow_any_command = true;
        c.cold_start_timeout = Duration::from_millis(300);
    })
    .await;
    let sdk = h.project("acme").await;
    let key = h.key("acme", None).await;
    h.create(
        "acme",
        &sdk,
        json!({"name": "slow", "model_name": "m", "backend": "my-engine",
               "config": {"command": format!("{BIN} engine --model m --host {{host}} --port {{port}} --startup-delay-ms 60000")}}),
    )
    .await;
    let resp = h
        .http
        .post(format!("{}/endpoint/acme/slow/v1/chat/completions", h.url))
        .bearer_auth(&key)
        .json(&json!({"messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    let e: Value = resp.json().await.unwrap();
    assert_eq!(error_code(&e), "workload_not_ready", "{e}");
    let (_, w) = h.get("/api/projects/acme/workloads/slow", &sdk).await;
    assert_eq!(w["status"], "bootstrapping", "{w}");
    h.stop().await;
}

#[tokio::test]
async fn a_crashing_engine_ends_in_error_with_its_last_log_lines() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start_with(dir, |c| c.allow_any_command = true).await;
    let sdk = h.project("acme").await;
    let key = h.key("acme", None).await;
    // The engine refuses its flags and exits at once, every time.
    h.create(
        "acme",
        &sdk,
        json!({"name": "broken", "model_name": "m", "backend": "my-engine",
               "config": {"command": format!("{BIN} engine --model m --port {{port}} --no-such-flag")}}),
    )
    .await;
    let events = h.readiness("acme", "broken", &sdk).await;
    let last = events.last().unwrap();
    assert_eq!(last["phase"], "error", "{events:#?}");
    let msg = last["message"].as_str().unwrap();
    // `error` is final for clients, and the words say the Manager stopped too.
    assert!(
        msg.contains("failed 5 starts in a row and is stopped")
            && msg.contains("update the workload")
            && msg.contains("last log lines"),
        "{msg}"
    );
    assert!(!msg.contains("retrying"), "{msg}");
    assert!(
        msg.contains("--no-such-flag"),
        "the engine's own complaint is quoted: {msg}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["message"].as_str().unwrap().contains("restarting in")),
        "{events:#?}"
    );
    // Every start writes one header line to the replica's log: five starts, then none.
    let log = h.dir.path().join("logs").join("acme").join("broken-0.log");
    let starts = || {
        std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .filter(|l| l.starts_with("--- ") && l.contains(" starting: "))
            .count()
    };
    assert_eq!(starts(), 5);
    let (s, e) = h.chat("acme", "broken", &key, "hi").await;
    assert_eq!((s, error_code(&e)), (503, "backend_unavailable"));
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("is stopped"),
        "{e}"
    );
    let (_, w) = h.get("/api/projects/acme/workloads/broken", &sdk).await;
    assert_eq!(w["status"], "error", "{w}");
    assert_eq!(starts(), 5, "a stopped replica is not started again");
    // Any update starts it again, as the message says: five more starts, then stopped again.
    let (s, _) = h
        .patch(
            &format!("/api/workloads/{}", w["id"].as_str().unwrap()),
            &sdk,
            json!({"description": "try again"}),
        )
        .await;
    assert_eq!(s, 200);
    eventually("the second round of starts", LIMIT, || async {
        let (_, w) = h.get("/api/projects/acme/workloads/broken", &sdk).await;
        (w["status"] == "error" && starts() == 10).then_some(())
    })
    .await;
    h.stop().await;
}

#[tokio::test]
async fn private_workers_and_ollama_say_where_they_run() {
    let h = Harness::start().await;
    let sdk = h.project("acme").await;
    let key = h.key("acme", None).await;
    let (_, worker) = h
        .post("/admin/workers", &h.admin, json!({"name": "box"}))
        .await;
    let worker = worker["id"].as_str().unwrap();
    let mut pinned = vllm_workload("pinned");
    pinned["worker_id"] = json!(worker);
    h.create("acme", &sdk, pinned).await;
    // No Ollama daemon runs here, so dev mode serves it with the reference engine.
    h.create(
        "acme",
        &sdk,
        json!({"name": "local", "model_name": "llama3.2", "backend": "ollama"}),
    )
    .await;
    h.wait_ready("acme", "pinned", &sdk).await;
    h.wait_ready("acme", "local", &sdk).await;
    let (_, w) = h.get("/api/projects/acme/workloads/pinned", &sdk).await;
    let msg = w["status_message"].as_str().unwrap();
    assert!(
        msg.contains(&format!("pinned to private worker {worker}")),
        "{msg}"
    );
    let (_, w) = h.get("/api/projects/acme/workloads/local", &sdk).await;
    let msg = w["status_message"].as_str().unwrap();
    assert!(msg.contains("no Ollama daemon answers"), "{msg}");
    let (s, out) = h.chat("acme", "local", &key, "hi").await;
    assert_eq!((s, out["model"].as_str()), (200, Some("llama3.2")));

    // The data plane's body limit is 32 MiB.
    let resp = h
        .http
        .post(format!("{}/endpoint/acme/local/v1/embeddings", h.url))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body(vec![b' '; 33 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let e: Value = resp.json().await.unwrap();
    assert_eq!(error_code(&e), "payload_too_large");
    h.stop().await;
}

#[tokio::test]
async fn a_job_cut_short_by_a_restart_runs_again() {
    let h = Harness::start().await;
    let sdk = h.project("acme").await;
    let key = h.key("acme", None).await;
    h.create("acme", &sdk, vllm_workload("bot")).await;
    let (s, job) = h
        .post(
            "/endpoint/acme/bot/jobs",
            &key,
            json!({"kind": "chat", "body": {"model": "m",
                   "messages": [{"role": "user", "content": "[[ik:slow:1500]] hi"}]}}),
        )
        .await;
    assert_eq!(s, 202);
    let id = job["job_id"].as_str().unwrap().to_string();
    eventually("the job to run", LIMIT, || async {
        let (_, j) = h.get(&format!("/endpoint/acme/bot/jobs/{id}"), &key).await;
        (j["status"] == "running").then_some(())
    })
    .await;
    let h = h.restart().await;
    let done = eventually("the re-queued job", LIMIT, || async {
        let (_, j) = h.get(&format!("/endpoint/acme/bot/jobs/{id}"), &key).await;
        matches!(j["status"].as_str(), Some("succeeded" | "failed")).then_some(j)
    })
    .await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert!(done["result"]["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .contains("hi"));
    h.stop().await;
}
