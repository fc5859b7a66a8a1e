//! The agent protocol (docs/contract.md §8) against a real Manager: the test plays a worker
//! agent on its own loopback address (127.0.0.2), syncing over HTTP with a real worker token
//! and running a real reference engine there for the replica it is assigned. The Manager's
//! policy clock is the test's, so the worker's loss is a clock move, not a sleep.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{error_code, eventually, vllm_workload, Harness, BIN};
use inferencekey_manager::runtime::clock::ManualClock;
use reqwest::Method;
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(30);
const AGENT_HOST: &str = "127.0.0.2";

async fn with_clock() -> (Harness, Arc<ManualClock>) {
    let start: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-03-02T10:00:00Z")
        .unwrap()
        .to_utc();
    let clock = Arc::new(ManualClock::new(start));
    let c = clock.clone();
    let h = Harness::start_with(tempfile::tempdir().unwrap(), move |cfg| {
        cfg.clock = c;
        // A request held for a replica that cannot come gets its typed 503 in seconds.
        cfg.cold_start_timeout = COLD_START;
    })
    .await;
    (h, clock)
}

const COLD_START: Duration = Duration::from_secs(2);

/// A registered worker and an `ik_worker_` token for it.
async fn worker(h: &Harness) -> (String, String) {
    let (s, w) = h
        .post("/admin/workers", &h.admin, json!({"name": "agent-box"}))
        .await;
    assert_eq!(s, 201, "{w}");
    let id = w["id"].as_str().unwrap().to_string();
    let (s, t) = h
        .post(&format!("/admin/workers/{id}/tokens"), &h.admin, json!({}))
        .await;
    assert_eq!(s, 201, "{t}");
    (id, t["token"].as_str().unwrap().to_string())
}

async fn sync(h: &Harness, token: &str, body: Value) -> (u16, Value) {
    h.call(Method::POST, "/agent/v1/sync", token, Some(body))
        .await
}

/// The reference engine, serving on the agent's address.
struct Engine {
    child: std::process::Child,
    port: u16,
}

impl Engine {
    async fn start() -> Engine {
        let port = std::net::TcpListener::bind((AGENT_HOST, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(BIN)
            .args(["engine", "--host", AGENT_HOST, "--port", &port.to_string()])
            .args(["--model", "meta-llama/Llama-3.1-8B-Instruct"])
            .spawn()
            .unwrap();
        let http = common::client();
        eventually("the agent's engine answers", LIMIT, || {
            let http = http.clone();
            async move {
                let r = http
                    .get(format!("http://{AGENT_HOST}:{port}/health"))
                    .send()
                    .await;
                r.ok().filter(|r| r.status().is_success())
            }
        })
        .await;
        Engine { child, port }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn status_message(h: &Harness, sdk: &str) -> String {
    let (_, w) = h.get("/api/projects/acme/workloads/bot", sdk).await;
    w["status_message"].as_str().unwrap_or_default().to_string()
}

/// Bad syncs are typed errors naming the field; only a worker token opens the route, and
/// only for its own worker.
#[tokio::test]
async fn sync_checks_its_token_and_body() {
    let (h, _clock) = with_clock().await;
    let sdk = h.project("acme").await;
    let (wid, token) = worker(&h).await;
    let good = json!({"worker_id": wid, "address": AGENT_HOST, "replicas": []});

    let (s, e) = sync(&h, "", good.clone()).await;
    assert_eq!((s, error_code(&e)), (401, "unauthenticated"), "{e}");
    for other in [&sdk, &h.admin] {
        let (s, e) = sync(&h, other, good.clone()).await;
        assert_eq!((s, error_code(&e)), (403, "wrong_credential_type"), "{e}");
        assert!(e["error"]["message"].as_str().unwrap().contains("/agent"));
    }
    let (_, other_worker) = h
        .post("/admin/workers", &h.admin, json!({"name": "other"}))
        .await;
    let (s, e) = sync(
        &h,
        &token,
        json!({"worker_id": other_worker["id"], "address": AGENT_HOST}),
    )
    .await;
    assert_eq!(
        (s, error_code(&e), e["error"]["field"].as_str()),
        (403, "scope_insufficient", Some("worker_id"))
    );
    let bad: [(Value, &str); 6] = [
        (json!({"worker_id": 7, "address": AGENT_HOST}), "worker_id"),
        (
            json!({"worker_id": wid, "address": "http://127.0.0.2:80"}),
            "address",
        ),
        (
            json!({"worker_id": wid, "address": AGENT_HOST, "extra": 1}),
            "extra",
        ),
        (
            json!({"worker_id": wid, "address": AGENT_HOST,
                   "replicas": [{"replica_id": "r", "phase": "running"}]}),
            "replicas[0].phase",
        ),
        (
            json!({"worker_id": wid, "address": AGENT_HOST,
                   "replicas": [{"replica_id": "r", "phase": "ready"}]}),
            "replicas[0].port",
        ),
        (
            json!({"worker_id": wid, "address": AGENT_HOST,
                   "replicas": [{"replica_id": "r", "phase": "ready", "port": 70000}]}),
            "replicas[0].port",
        ),
    ];
    for (body, field) in bad {
        let (s, e) = sync(&h, &token, body.clone()).await;
        assert_eq!(
            (s, error_code(&e), e["error"]["field"].as_str()),
            (400, "validation_failed", Some(field)),
            "{body}: {e}"
        );
    }
    let (s, ok) = sync(&h, &token, good).await;
    assert_eq!(s, 200, "{ok}");
    assert_eq!(ok["worker_id"], wid.as_str());
    assert_eq!(ok["replicas"], json!([]));
    assert_eq!(ok["sync_interval_ms"], 2000);
    // Without `worker_id` the sync is the token's worker's, and the answer names it (what an
    // agent started without `--worker-id` learns its id from).
    let (s, ok) = sync(&h, &token, json!({"address": AGENT_HOST})).await;
    assert_eq!(
        (s, ok["worker_id"].as_str()),
        (200, Some(wid.as_str())),
        "{ok}"
    );

    // A revoked worker token stops at once.
    let id = token.split('_').nth(2).unwrap();
    let (s, _) = h
        .post(&format!("/admin/keys/{id}/revoke"), &h.admin, json!({}))
        .await;
    assert_eq!(s, 200);
    let (s, e) = sync(&h, &token, json!({"worker_id": wid, "address": AGENT_HOST})).await;
    assert_eq!((s, error_code(&e)), (401, "unauthenticated"), "{e}");
    h.stop().await;
}

/// A workload pinned to a worker whose agent has synced is assigned to that agent, not run
/// here; the agent's report of a ready replica puts the agent's address in the gateway's
/// ready set, and a call through the gateway reaches the agent's engine. A worker that
/// stops syncing is lost (readiness says so) until it syncs again; a deleted workload
/// leaves the agent's answer.
#[tokio::test]
async fn pinned_replicas_are_assigned_to_the_agent_and_served_through_the_gateway() {
    let (h, clock) = with_clock().await;
    let sdk = h.project("acme").await;
    let key = h.key("acme", None).await;
    let (wid, token) = worker(&h).await;
    let hello = json!({"worker_id": wid, "address": AGENT_HOST, "replicas": []});
    let (s, first) = sync(&h, &token, hello.clone()).await;
    assert_eq!((s, &first["replicas"]), (200, &json!([])), "{first}");

    let mut body = vllm_workload("bot");
    body["worker_id"] = json!(wid);
    let w = h.create("acme", &sdk, body).await;
    let workload_id = w["id"].as_str().unwrap().to_string();

    let assignment = eventually("the replica is assigned to the worker", LIMIT, || async {
        let (_, a) = sync(&h, &token, hello.clone()).await;
        a["replicas"].as_array().and_then(|r| r.first().cloned())
    })
    .await;
    assert_eq!(assignment["workload_id"], workload_id.as_str());
    assert_eq!(assignment["spec_hash"].as_str().unwrap().len(), 64);
    assert_eq!(
        assignment["launch"]["model"],
        "meta-llama/Llama-3.1-8B-Instruct"
    );
    assert_eq!(assignment["launch"]["backend"], "vllm");
    assert_eq!(
        assignment["launch"]["command"],
        "vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 8192"
    );
    let replica_id = assignment["replica_id"].as_str().unwrap().to_string();
    assert!(h.engine_pids().is_empty(), "nothing runs on the Manager");
    let message = eventually("readiness waits for the agent", LIMIT, || async {
        let m = status_message(&h, &sdk).await;
        m.contains("waiting for its agent to start it").then_some(m)
    })
    .await;
    assert!(message.contains(&wid), "{message}");

    // The agent starts the engine on its host and reports it.
    let engine = Engine::start().await;
    let report = |phase: &str, port: Option<u16>| {
        json!({"worker_id": wid, "address": AGENT_HOST,
               "replicas": [{"replica_id": replica_id, "phase": phase, "port": port}]})
    };
    let (s, a) = sync(&h, &token, report("bootstrapping", None)).await;
    assert_eq!(s, 200, "{a}");
    let (s, a) = sync(&h, &token, report("ready", Some(engine.port))).await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["replicas"][0]["replica_id"], replica_id.as_str());
    h.wait_ready("acme", "bot", &sdk).await;
    let message = status_message(&h, &sdk).await;
    assert!(
        message.contains(&format!("serving on worker {wid}")),
        "{message}"
    );
    let (s, answer) = h.chat("acme", "bot", &key, "hello agent").await;
    assert_eq!(s, 200, "{answer}");
    assert!(answer["choices"][0]["message"]["content"].is_string());
    assert!(
        h.engine_pids().is_empty(),
        "still nothing runs on the Manager"
    );

    // The agent goes quiet past the loss bound: the replica leaves the ready set.
    clock.advance(Duration::from_secs(20));
    let message = eventually("the worker is lost", LIMIT, || async {
        let m = status_message(&h, &sdk).await;
        m.contains("is lost").then_some(m)
    })
    .await;
    assert!(message.contains(&wid), "{message}");
    // It syncs again: the replica serves again.
    let (s, _) = sync(&h, &token, report("ready", Some(engine.port))).await;
    assert_eq!(s, 200);
    eventually("the worker serves again", LIMIT, || async {
        let m = status_message(&h, &sdk).await;
        m.contains("serving on worker").then_some(m)
    })
    .await;
    let (s, answer) = h.chat("acme", "bot", &key, "back again").await;
    assert_eq!(s, 200, "{answer}");

    let (s, _) = h
        .call(
            Method::DELETE,
            &format!("/api/workloads/{workload_id}"),
            &sdk,
            None,
        )
        .await;
    assert_eq!(s, 204);
    eventually("the deleted workload leaves the answer", LIMIT, || async {
        let (_, a) = sync(&h, &token, report("ready", Some(engine.port))).await;
        (a["replicas"] == json!([])).then_some(())
    })
    .await;
    drop(engine);
    h.stop().await;
}

/// Pid files under a run dir: the engines (their keepers) running there.
fn pids_in(run_dir: &std::path::Path) -> Vec<i32> {
    std::fs::read_dir(run_dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .filter_map(|s| s.trim().parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// An agent process, killed if a test fails with it still running (its engines go with it).
struct AgentProcess(std::process::Child);

impl AgentProcess {
    fn sigterm(&self) {
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// `inferencekey worker run` for `wid` of the Manager at `manager`, on `host` (a loopback
/// address) with the data dir `data`, its stderr appended to `log`.
fn spawn_agent(
    manager: &str,
    wid: &str,
    token: &str,
    host: &str,
    data: &std::path::Path,
    log: &std::path::Path,
) -> AgentProcess {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    std::process::Command::new(BIN)
        .args(["worker", "run", "--manager", manager, "--worker-id", wid])
        .args(["--address", host, "--dev", "--data-dir"])
        .arg(data)
        .env("INFERENCEKEY_WORKER_TOKEN", token)
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .map(AgentProcess)
        .unwrap()
}

/// kill -9 of the agent: its engine goes with it (its keeper gets the parent-death signal);
/// once the worker has not synced past the loss bound (a clock move) readiness says it is
/// lost and the gateway holds no replica of it; an agent started again on the same data dir
/// is given the same replica, which the Manager no longer takes as ready on the old port,
/// and serves again.
#[tokio::test]
async fn a_killed_agent_is_lost_and_a_restarted_one_serves_again() {
    let (h, clock) = with_clock().await;
    let sdk = h.project("acme").await;
    let key = h.key("acme", None).await;
    let (wid, token) = worker(&h).await;
    let dir = tempfile::tempdir().unwrap();
    let (data, log) = (dir.path().join("data"), dir.path().join("agent.log"));
    let agent_log = || std::fs::read_to_string(dir.path().join("agent.log")).unwrap();
    let mut agent = spawn_agent(&h.url, &wid, &token, AGENT_HOST, &data, &log);
    eventually("the agent syncs", LIMIT, || async {
        let (_, workers) = h.get("/admin/workers", &h.admin).await;
        workers
            .as_array()
            .and_then(|ws| ws.iter().find(|w| w["id"] == wid.as_str()).cloned())
            .filter(|w| w["last_seen"].is_string())
    })
    .await;
    let mut body = vllm_workload("bot");
    body["worker_id"] = json!(wid);
    h.create("acme", &sdk, body).await;
    let events = h.readiness("acme", "bot", &sdk).await;
    assert_eq!(events.last().unwrap()["phase"], "ready", "{}", agent_log());
    let (s, _) = h.chat("acme", "bot", &key, "before").await;
    assert_eq!(s, 200);
    let engines = pids_in(&data.join("run"));
    assert_eq!(engines.len(), 1, "{engines:?}");

    agent.0.kill().unwrap();
    agent.0.wait().unwrap();
    eventually("the agent's engine stops with it", LIMIT, || async {
        engines.iter().all(|p| !common::alive(*p)).then_some(())
    })
    .await;
    clock.advance(Duration::from_secs(20));
    let message = eventually("the worker is lost", LIMIT, || async {
        let m = status_message(&h, &sdk).await;
        m.contains("is lost").then_some(m)
    })
    .await;
    assert!(message.contains(&wid), "{message}");
    let mut again = spawn_agent(&h.url, &wid, &token, AGENT_HOST, &data, &log);
    let message = eventually("the restarted agent serves", LIMIT, || async {
        let m = status_message(&h, &sdk).await;
        m.contains("serving on worker").then_some(m)
    })
    .await;
    assert!(message.contains(&wid), "{message}\n{}", agent_log());
    let (s, answer) = h.chat("acme", "bot", &key, "after").await;
    assert_eq!(s, 200, "{answer}\n{}", agent_log());
    again.sigterm();
    assert!(again.0.wait().unwrap().success(), "{}", agent_log());
    h.stop().await;
}

/// `inferencekey worker run` as its own process on 127.0.0.2, with its own data dir: it
/// syncs (the worker listing shows its address), runs the replica of a workload pinned to
/// its worker with the Manager's launcher (here the reference engine, `--dev`), and the
/// gateway serves through it while nothing runs on the Manager. SIGTERM stops its engines.
#[tokio::test]
async fn a_worker_agent_process_runs_its_replicas() {
    let h = Harness::start().await;
    let sdk = h.project("acme").await;
    let key = h.key("acme", None).await;
    let (wid, token) = worker(&h).await;
    let agent_dir = tempfile::tempdir().unwrap();
    let agent = spawn_agent(
        &h.url,
        &wid,
        &token,
        AGENT_HOST,
        &agent_dir.path().join("data"),
        &agent_dir.path().join("agent.log"),
    );
    let agent_log = || std::fs::read_to_string(agent_dir.path().join("agent.log")).unwrap();

    let listed = eventually("the agent syncs", LIMIT, || async {
        let (_, workers) = h.get("/admin/workers", &h.admin).await;
        workers
            .as_array()
            .and_then(|ws| ws.iter().find(|w| w["id"] == wid.as_str()).cloned())
            .filter(|w| w["last_seen"].is_string())
    })
    .await;
    assert_eq!(listed["address"], AGENT_HOST, "{listed}");

    let mut body = vllm_workload("bot");
    body["worker_id"] = json!(wid);
    h.create("acme", &sdk, body).await;
    let events = h.readiness("acme", "bot", &sdk).await;
    let last = events.last().unwrap();
    assert_eq!(last["phase"], "ready", "{events:#?}\n{}", agent_log());
    let message = status_message(&h, &sdk).await;
    assert!(
        message.contains(&format!("serving on worker {wid}")),
        "{message}"
    );
    let (s, answer) = h.chat("acme", "bot", &key, "hello from afar").await;
    assert_eq!(s, 200, "{answer}");
    assert!(h.engine_pids().is_empty(), "nothing runs on the Manager");
    let run_dir = agent_dir.path().join("data").join("run");
    let engines = pids_in(&run_dir);
    assert_eq!(engines.len(), 1, "the agent runs the replica: {engines:?}");

    // SIGTERM: the agent stops its engine and exits cleanly.
    agent.sigterm();
    let status = tokio::task::spawn_blocking(move || {
        let mut agent = agent;
        agent.0.wait()
    })
    .await
    .unwrap()
    .unwrap();
    assert!(status.success(), "{status}\n{}", agent_log());
    for pid in engines {
        assert!(!common::alive(pid), "engine {pid} outlived its agent");
    }
    h.stop().await;
}

/// A TCP proxy on loopback that can cut every connection through it and refuse new ones,
/// then let them through again: the link between an agent and its Manager.
struct Link {
    addr: std::net::SocketAddr,
    open: Arc<std::sync::atomic::AtomicBool>,
    cut: tokio::sync::watch::Sender<u64>,
}

impl Link {
    async fn to(target: &str) -> Link {
        let target: std::net::SocketAddr = target.trim_start_matches("http://").parse().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (cut, _) = tokio::sync::watch::channel(0u64);
        let (is_open, cuts) = (open.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !is_open.load(std::sync::atomic::Ordering::SeqCst) {
                    continue; // dropped: the agent sees the connection reset
                }
                let mut cut_rx = cuts.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut_rx.changed() => {}
                    }
                });
            }
        });
        Link { addr, open, cut }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn set(&self, open: bool) {
        self.open.store(open, std::sync::atomic::Ordering::SeqCst);
        if !open {
            self.cut.send_modify(|n| *n += 1);
        }
    }
}

/// The agent's link to the Manager is cut: the agent keeps its engine running and retries
/// (saying why in its log), the Manager marks the worker lost once it is silent past the
/// bound (a clock move) and the gateway stops routing to it; when the link is back the agent
/// syncs again and the same engine serves again, never restarted.
#[tokio::test]
async fn a_cut_link_is_retried_and_the_agent_recovers() {
    let (h, clock) = with_clock().await;
    let sdk = h.project("acme").await;
    let key = h.key("acme", None).await;
    let (wid, token) = worker(&h).await;
    let link = Link::to(&h.url).await;
    let dir = tempfile::tempdir().unwrap();
    let (data, log) = (dir.path().join("data"), dir.path().join("agent.log"));
    let agent_log = || std::fs::read_to_string(dir.path().join("agent.log")).unwrap();
    let agent = spawn_agent(&link.url(), &wid, &token, AGENT_HOST, &data, &log);
    eventually("the agent syncs", LIMIT, || async {
        let (_, workers) = h.get("/admin/workers", &h.admin).await;
        workers
            .as_array()
            .and_then(|ws| ws.iter().find(|w| w["id"] == wid.as_str()).cloned())
            .filter(|w| w["last_seen"].is_string())
    })
    .await;
    let mut body = vllm_workload("bot");
    body["worker_id"] = json!(wid);
    h.create("acme", &sdk, body).await;
    let events = h.readiness("acme", "bot", &sdk).await;
    assert_eq!(events.last().unwrap()["phase"], "ready", "{}", agent_log());
    let engines = pids_in(&data.join("run"));
    assert_eq!(engines.len(), 1);

    link.set(false);
    eventually(
        "the agent says it cannot reach the Manager",
        LIMIT,
        || async {
            agent_log()
                .contains("cannot reach the Manager")
                .then_some(())
        },
    )
    .await;
    clock.advance(Duration::from_secs(20));
    eventually("the worker is lost", LIMIT, || async {
        status_message(&h, &sdk)
            .await
            .contains("is lost")
            .then_some(())
    })
    .await;
    assert!(
        engines.iter().all(|p| common::alive(*p)),
        "the engine keeps running"
    );
    // Meanwhile a call is held for the cold-start timeout, then refused with the typed
    // error and when to retry, not left hanging or sent to the unreachable worker.
    let (s, answer) = h.chat("acme", "bot", &key, "during the cut").await;
    assert_eq!(s, 503, "{answer}");
    assert_eq!(error_code(&answer), "workload_not_ready", "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("is lost"),
        "{answer}"
    );

    link.set(true);
    eventually("the worker serves again", LIMIT, || async {
        let m = status_message(&h, &sdk).await;
        m.contains("serving on worker").then_some(m)
    })
    .await;
    let (s, answer) = h.chat("acme", "bot", &key, "after the cut").await;
    assert_eq!(s, 200, "{answer}\n{}", agent_log());
    assert_eq!(
        pids_in(&data.join("run")),
        engines,
        "the same engine serves"
    );
    agent.sigterm();
    drop(agent);
    h.stop().await;
}

/// A workload pinned to a worker that no agent runs yet runs on the Manager, as before
/// agents; once the worker's agent syncs, the workload moves there as a rollout: the agent's
/// replica becomes ready, traffic switches to it and the Manager's own engine stops.
#[tokio::test]
async fn a_workload_running_here_moves_to_its_worker_once_the_agent_syncs() {
    let h = Harness::start().await;
    let sdk = h.project("acme").await;
    let key = h.key("acme", None).await;
    let (wid, token) = worker(&h).await;
    let mut body = vllm_workload("bot");
    body["worker_id"] = json!(wid);
    h.create("acme", &sdk, body).await;
    h.wait_ready("acme", "bot", &sdk).await;
    let local = h.engine_pids();
    assert_eq!(local.len(), 1, "it runs here first");
    assert!(status_message(&h, &sdk).await.contains("local worker"));

    let dir = tempfile::tempdir().unwrap();
    let (data, log) = (dir.path().join("data"), dir.path().join("agent.log"));
    let agent_log = || std::fs::read_to_string(dir.path().join("agent.log")).unwrap();
    let agent = spawn_agent(&h.url, &wid, &token, AGENT_HOST, &data, &log);
    let message = eventually("the workload moves to the worker", LIMIT, || async {
        let m = status_message(&h, &sdk).await;
        (m.contains(&format!("serving on worker {wid}")) && h.engine_pids().is_empty()).then_some(m)
    })
    .await;
    assert!(!message.contains("local worker"), "{message}");
    for pid in local {
        assert!(
            !common::alive(pid),
            "the Manager's engine {pid} was stopped"
        );
    }
    assert_eq!(pids_in(&data.join("run")).len(), 1, "{}", agent_log());
    let (s, answer) = h.chat("acme", "bot", &key, "moved").await;
    assert_eq!(s, 200, "{answer}");
    agent.sigterm();
    drop(agent);
    h.stop().await;
}

async fn status_of(h: &Harness, sdk: &str, slug: &str) -> String {
    let (_, w) = h
        .get(&format!("/api/projects/acme/workloads/{slug}"), sdk)
        .await;
    w["status_message"].as_str().unwrap_or_default().to_string()
}

/// Waits until the worker's agent has synced.
async fn synced(h: &Harness, wid: &str) {
    eventually("the agent syncs", LIMIT, || async {
        let (_, workers) = h.get("/admin/workers", &h.admin).await;
        workers
            .as_array()
            .and_then(|ws| ws.iter().find(|w| w["id"] == wid).cloned())
            .filter(|w| w["last_seen"].is_string())
    })
    .await;
}

/// A workload of the reference engine with `replicas` fixed replicas.
fn fixed(slug: &str, replicas: u32) -> Value {
    let mut body = vllm_workload(slug);
    body["execution_policy"] = json!("fixed");
    body["execution_policy_config"] = json!({"replicas": replicas});
    body
}

/// One registered worker run by an agent process on its own loopback address.
struct Agent {
    id: String,
    token: String,
    host: &'static str,
    data: std::path::PathBuf,
    process: AgentProcess,
}

impl Agent {
    async fn start(h: &Harness, host: &'static str, dir: &std::path::Path) -> Agent {
        let (id, token) = worker(h).await;
        let data = dir.join(host);
        let log = dir.join("agents.log");
        let process = spawn_agent(&h.url, &id, &token, host, &data, &log);
        synced(h, &id).await;
        Agent {
            id,
            token,
            host,
            data,
            process,
        }
    }

    fn engines(&self) -> Vec<i32> {
        pids_in(&self.data.join("run"))
    }

    /// kill -9: its engines go with it.
    async fn kill(&mut self) {
        let engines = self.engines();
        self.process.0.kill().unwrap();
        self.process.0.wait().unwrap();
        eventually("the agent's engines stop with it", LIMIT, || async {
            engines.iter().all(|p| !common::alive(*p)).then_some(())
        })
        .await;
    }
}

/// Chats through the gateway until stopped, one request after another; the statuses.
fn chat_until(
    h: &Harness,
    key: &str,
    stop: tokio_util::sync::CancellationToken,
) -> tokio::task::JoinHandle<Vec<u16>> {
    let url = format!("{}/endpoint/acme/bot/v1/chat/completions", h.url);
    let (http, key) = (common::client(), key.to_string());
    tokio::spawn(async move {
        let mut statuses = Vec::new();
        while !stop.is_cancelled() {
            let r = http
                .post(&url)
                .bearer_auth(&key)
                .json(&json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}))
                .send()
                .await;
            statuses.push(r.map(|r| r.status().as_u16()).unwrap_or(0));
        }
        statuses
    })
}

/// An unpinned workload's replicas are placed one by one on the live worker holding the
/// fewest of them, the local worker first: three replicas with two agents up run one on the
/// Manager and one on each agent, and all serve through the gateway. kill -9 of an agent: once
/// its worker is past the loss bound (a clock move), readiness says its replica's worker is
/// lost, then that the replica was lost and placed again, on the local worker (the dead one is
/// no candidate); the workload is back to three ready replicas, none on the dead worker, whose
/// row is taken off it, and the gateway answers every call meanwhile.
#[tokio::test]
async fn unpinned_replicas_are_spread_and_a_dead_agents_are_placed_again() {
    let (h, clock) = with_clock().await;
    let sdk = h.project("acme").await;
    let key = h.key("acme", None).await;
    let dir = tempfile::tempdir().unwrap();
    let agents_log = || std::fs::read_to_string(dir.path().join("agents.log")).unwrap();
    let mut first = Agent::start(&h, "127.0.0.2", dir.path()).await;
    let mut second = Agent::start(&h, "127.0.0.3", dir.path()).await;
    // Of two agents holding as many, the lower worker id is placed on first.
    if second.id < first.id {
        std::mem::swap(&mut first, &mut second);
    }
    let (a, b) = (first.id.clone(), second.id.clone());
    h.create("acme", &sdk, fixed("bot", 3)).await;
    let spread =
        format!("3 replicas serving on the local worker (1), worker {a} (1) and worker {b} (1)");
    let message = eventually("the replicas serve, spread", LIMIT, || async {
        let m = status_of(&h, &sdk, "bot").await;
        m.starts_with(&spread).then_some(m)
    })
    .await;
    assert!(!message.contains("pinned"), "{message}");
    assert_eq!(h.engine_pids().len(), 1, "one on the Manager");
    assert_eq!(first.engines().len(), 1, "one on {a}: {}", agents_log());
    assert_eq!(second.engines().len(), 1, "one on {b}: {}", agents_log());
    for i in 0..6 {
        let (s, answer) = h.chat("acme", "bot", &key, &format!("spread {i}")).await;
        assert_eq!(s, 200, "{answer}");
    }

    first.kill().await;
    clock.advance(Duration::from_secs(20));
    let message = eventually("readiness says the worker is lost", LIMIT, || async {
        let m = status_of(&h, &sdk, "bot").await;
        m.contains(&format!("worker {a} is lost")).then_some(m)
    })
    .await;
    assert!(
        message.contains("placed again elsewhere unless"),
        "{message}"
    );
    // The dead worker's replica takes no traffic from here on.
    let stop = tokio_util::sync::CancellationToken::new();
    let calls = chat_until(&h, &key, stop.clone());
    let message = eventually("the replica is placed again and serves", LIMIT, || async {
        let m = status_of(&h, &sdk, "bot").await;
        m.starts_with("3 replicas serving").then_some(m)
    })
    .await;
    assert!(
        message.starts_with(&format!(
            "3 replicas serving on the local worker (2) and worker {b} (1); replica 2 on \
             worker {a} was lost (its agent was last heard from at "
        )),
        "{message}"
    );
    assert!(
        message.contains("; placed it again as replica 4 on the local worker"),
        "{message}"
    );
    let (s, answer) = h.chat("acme", "bot", &key, "after the loss").await;
    assert_eq!(s, 200, "{answer}");
    stop.cancel();
    let statuses = calls.await.unwrap();
    assert!(!statuses.is_empty());
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(h.engine_pids().len(), 2, "two on the Manager now");
    assert_eq!(second.engines().len(), 1, "{}", agents_log());

    // The dead worker's replica was taken off it: its agent, back, is told to run nothing.
    let hello = json!({"worker_id": a, "address": first.host, "replicas": []});
    let (s, answer) = sync(&h, &first.token, hello).await;
    assert_eq!((s, &answer["replicas"]), (200, &json!([])), "{answer}");
    second.process.sigterm();
    drop(second);
    h.stop().await;
}

/// A pinned workload's replicas never leave their worker: when it is lost they wait for it
/// (readiness says so) while an unpinned workload's replica on the same worker is placed
/// again meanwhile.
#[tokio::test]
async fn a_pinned_workload_stays_on_its_lost_worker() {
    let (h, clock) = with_clock().await;
    let sdk = h.project("acme").await;
    let dir = tempfile::tempdir().unwrap();
    let mut agent = Agent::start(&h, AGENT_HOST, dir.path()).await;
    let wid = agent.id.clone();
    let mut pinned = fixed("pinned", 1);
    pinned["worker_id"] = json!(wid);
    h.create("acme", &sdk, pinned).await;
    h.create("acme", &sdk, fixed("spread", 2)).await;
    for (slug, want) in [
        ("pinned", format!("1 replica serving on worker {wid}")),
        (
            "spread",
            format!("2 replicas serving on the local worker (1) and worker {wid} (1)"),
        ),
    ] {
        eventually("both serve", LIMIT, || async {
            let m = status_of(&h, &sdk, slug).await;
            m.starts_with(&want).then_some(m)
        })
        .await;
    }
    assert_eq!(agent.engines().len(), 2);
    assert_eq!(h.engine_pids().len(), 1);

    agent.kill().await;
    clock.advance(Duration::from_secs(20));
    // The unpinned replica leaves the worker: the loss was confirmed.
    eventually("the unpinned replica is placed again", LIMIT, || async {
        let m = status_of(&h, &sdk, "spread").await;
        (m.starts_with("2 replicas serving on the local worker;") && m.contains("placed it again"))
            .then_some(m)
    })
    .await;
    let message = status_of(&h, &sdk, "pinned").await;
    assert!(
        message.contains(&format!("worker {wid} is lost"))
            && message.contains("the workload is pinned to that worker"),
        "{message}"
    );
    let (_, w) = h.get("/api/projects/acme/workloads/pinned", &sdk).await;
    assert_eq!(w["status"], "provisioning", "{w}");
    assert_eq!(h.engine_pids().len(), 2, "only the unpinned one's run here");
    h.stop().await;
}
