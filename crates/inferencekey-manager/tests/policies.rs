//! Execution policies acting on real engine processes (the reference engine), with the
//! Manager's policy clock under the test's control: windows open and close, crons fire, delays
//! and idle timeouts pass when the test moves the clock, never by sleeping through them.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{error_code, eventually, vllm_workload, Harness};
use futures_util::future::join_all;
use inferencekey_manager::runtime::clock::ManualClock;
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(30);

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

async fn with_clock(start: &str) -> (Harness, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(t(start)));
    let c = clock.clone();
    let h = Harness::start_with(tempfile::tempdir().unwrap(), move |cfg| cfg.clock = c).await;
    (h, clock)
}

fn with_policy(slug: &str, policy: &str, config: Value) -> Value {
    let mut w = vllm_workload(slug);
    w["execution_policy"] = json!(policy);
    w["execution_policy_config"] = config;
    w
}

fn autoscaling(extra: Value) -> Value {
    let mut c = json!({
        "max_hourly_cost_usd": 1.0,
        "workers": {"source": "cloud", "cloud_pool": {"gpu_pool": ["local"]}},
    });
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

async fn status(h: &Harness, sdk: &str, slug: &str) -> (String, String) {
    let (_, w) = h
        .get(&format!("/api/projects/acme/workloads/{slug}"), sdk)
        .await;
    (
        w["status"].as_str().unwrap_or_default().to_string(),
        w["status_message"].as_str().unwrap_or_default().to_string(),
    )
}

/// Waits until the gateway has no request of `slug` in flight (a response's end reaches the
/// count just after the client has read it).
async fn idle(h: &Harness, sdk: &str, slug: &str) {
    eventually("no request in flight", LIMIT, || async {
        let (_, w) = h
            .get(&format!("/api/projects/acme/workloads/{slug}"), sdk)
            .await;
        (w["replicas"]["in_flight"] == 0).then_some(())
    })
    .await;
}

async fn replicas(h: &Harness, n: usize) {
    eventually(&format!("{n} engine(s) running"), LIMIT, || async {
        (h.engine_pids().len() == n).then_some(())
    })
    .await;
}

#[tokio::test]
async fn autoscaling_bursts_from_zero_and_idles_back_to_zero() {
    let (h, clock) = with_clock("2026-12-01T10:00:00Z").await;
    let sdk = h.project("acme").await;
    let key = h.key("acme", None).await;
    let config = autoscaling(json!({
        "min_workers": 0, "max_workers": 3, "target_concurrency": 1,
        "scale_up_delay_s": 30, "scale_down_delay_s": 60, "idle_timeout_s": 120,
        "metrics_window_s": 10,
    }));
    h.create("acme", &sdk, with_policy("bot", "autoscaling", config))
        .await;
    h.wait_ready("acme", "bot", &sdk).await;
    replicas(&h, 1).await; // warm after creation

    // Idle for the timeout: zero replicas, still `ready` (the next request starts one).
    clock.advance(Duration::from_secs(121));
    replicas(&h, 0).await;
    let (phase, msg) = status(&h, &sdk, "bot").await;
    assert_eq!(phase, "ready", "{msg}");
    assert!(msg.contains("scaled to zero"), "{msg}");

    // A burst of six at zero: every request is held, replicas start at once (sized for the
    // burst, capped at max_workers), and each request is answered exactly once.
    let burst = (0..6).map(|i| {
        let h = &h;
        let key = &key;
        async move {
            h.chat("acme", "bot", key, &format!("[[ik:slow:1500]] burst {i}"))
                .await
        }
    });
    let answers = join_all(burst).await;
    for (i, (s, out)) in answers.iter().enumerate() {
        assert_eq!(*s, 200, "request {i}: {out}");
        let text = out["choices"][0]["message"]["content"].as_str().unwrap();
        assert!(text.contains(&format!("burst {i}")), "{text}");
    }
    replicas(&h, 3).await;
    let (_, msg) = status(&h, &sdk, "bot").await;
    assert!(msg.contains("target 1 per replica → 3 replicas"), "{msg}");
    let (_, w) = h.get("/api/projects/acme/workloads/bot", &sdk).await;
    assert_eq!(w["replicas"]["wanted"], 3, "{w}");
    assert_eq!(w["replicas"]["ready"], 3, "{w}");

    // Idle again (once the last response has ended): past the idle timeout straight back
    // to zero.
    idle(&h, &sdk, "bot").await;
    clock.advance(Duration::from_secs(121));
    replicas(&h, 0).await;

    // A cold start from zero holds the single request and then serves it.
    let (s, out) = h.chat("acme", "bot", &key, "cold").await;
    assert_eq!(s, 200, "{out}");
    replicas(&h, 1).await;
    h.stop().await;
}

/// Spare keepers (`__replica-keeper <grace> --spare`) this test's Manager started that do
/// not run an engine yet: live processes with its engine tag not recorded in a pid file
/// (the other tests' Managers run in this process too).
fn spares(h: &Harness) -> Vec<i32> {
    let tag = format!("INFERENCEKEY_MANAGER_ENGINE={}", h.dir.path().display()).into_bytes();
    let running = h.engine_pids();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let (Ok(stat), Ok(cmdline), Ok(environ)) = (
            std::fs::read_to_string(entry.path().join("stat")),
            std::fs::read(entry.path().join("cmdline")),
            std::fs::read(entry.path().join("environ")),
        ) else {
            continue;
        };
        let zombie = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .trim_start()
            .starts_with('Z');
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        if !zombie
            && environ.split(|b| *b == 0).any(|v| v == tag)
            && args.contains(&&b"__replica-keeper"[..])
            && args.contains(&&b"--spare"[..])
            && !running.contains(&pid)
        {
            out.push(pid);
        }
    }
    out
}

/// Waits until this Manager keeps exactly one spare keeper, other than `not`.
async fn one_spare(h: &Harness, what: &str, not: Option<i32>) -> i32 {
    eventually(what, LIMIT, || async {
        match spares(h)[..] {
            [one] if Some(one) != not => Some(one),
            _ => None,
        }
    })
    .await
}

/// Creates `slug` (autoscaling, `min_workers: 0`, idle timeout 60 s), waits for its first
/// replica, then moves the clock past the idle timeout and waits until it runs none.
async fn create_at_zero(h: &Harness, clock: &ManualClock, sdk: &str, slug: &str, check: bool) {
    let config = autoscaling(json!({"min_workers": 0, "max_workers": 1, "idle_timeout_s": 60}));
    h.create("acme", sdk, with_policy(slug, "autoscaling", config))
        .await;
    h.wait_ready("acme", slug, sdk).await;
    replicas(h, 1).await;
    if check {
        assert!(spares(h).is_empty(), "a spare while a replica serves");
    }
    clock.advance(Duration::from_secs(61));
    replicas(h, 0).await;
}

/// Deletes `slug` through the control API.
async fn delete(h: &Harness, sdk: &str, slug: &str) {
    let (_, w) = h
        .get(&format!("/api/projects/acme/workloads/{slug}"), sdk)
        .await;
    let id = w["id"].as_str().unwrap();
    let (s, out) = h
        .call(
            reqwest::Method::DELETE,
            &format!("/api/workloads/{id}"),
            sdk,
            None,
        )
        .await;
    assert!(s < 300, "{s}: {out}");
}

/// A workload scaled to zero keeps one booted keeper and no engine; the replica its next
/// request starts runs under that keeper (the pid the Manager records is the spare's), a
/// new spare is booted once it is back at zero, two workloads at zero share one (which
/// outlives the deletion of one of them and starts the other), and it is killed when the
/// last workload waiting at zero is deleted.
#[tokio::test]
async fn a_workload_at_zero_keeps_a_spare_keeper_for_its_next_start() {
    let (h, clock) = with_clock("2026-12-01T10:00:00Z").await;
    let sdk = h.project("acme").await;
    let key = h.key("acme", None).await;
    create_at_zero(&h, &clock, &sdk, "bot", true).await;
    let spare = one_spare(&h, "a spare keeper", None).await;

    let (s, out) = h.chat("acme", "bot", &key, "cold").await;
    assert_eq!(s, 200, "{out}");
    assert_eq!(
        h.engine_pids(),
        vec![spare],
        "the replica runs under the spare"
    );
    let left = spares(&h);
    assert!(
        left.is_empty(),
        "spares {left:?} besides the engine {spare}"
    );

    idle(&h, &sdk, "bot").await;
    clock.advance(Duration::from_secs(61));
    replicas(&h, 0).await;
    one_spare(&h, "the next spare keeper", Some(spare)).await;

    // A second workload waiting at zero shares the Manager's one spare.
    create_at_zero(&h, &clock, &sdk, "bot2", false).await;
    let one = one_spare(&h, "one spare for both", None).await;

    // Deleting one keeps it for the other, whose next start runs under it; once that one is
    // back at zero and deleted, the last workload waiting is gone and so is its spare.
    delete(&h, &sdk, "bot").await;
    let (s, out) = h.chat("acme", "bot2", &key, "after bot went").await;
    assert_eq!(s, 200, "{out}");
    assert_eq!(
        h.engine_pids(),
        vec![one],
        "bot2 starts under the spare bot kept too"
    );
    idle(&h, &sdk, "bot2").await;
    clock.advance(Duration::from_secs(61));
    replicas(&h, 0).await;
    let last = one_spare(&h, "bot2's spare", Some(one)).await;
    delete(&h, &sdk, "bot2").await;
    eventually(
        "the spare killed with the last workload at zero",
        LIMIT,
        || async { (!common::alive(last)).then_some(()) },
    )
    .await;
    h.stop().await;
}

/// A spare keeper killed while it waits is not handed the engine: the next start boots a
/// keeper of its own and the request is served.
#[tokio::test]
async fn a_dead_spare_keeper_is_passed_over() {
    let (h, clock) = with_clock("2026-12-01T10:00:00Z").await;
    let sdk = h.project("acme").await;
    let key = h.key("acme", None).await;
    create_at_zero(&h, &clock, &sdk, "bot", false).await;
    let spare = one_spare(&h, "a spare keeper", None).await;
    // SAFETY: kill(2) on the spare this test's Manager started.
    unsafe {
        libc::kill(spare, libc::SIGKILL);
    }
    // Killed, it is a zombie until the Manager hands it out (and finds it exited).
    eventually("the spare dead", LIMIT, || async {
        let stat = std::fs::read_to_string(format!("/proc/{spare}/stat")).unwrap_or_default();
        stat.rsplit_once(')')
            .is_none_or(|(_, rest)| rest.trim_start().starts_with('Z'))
            .then_some(())
    })
    .await;

    let (s, out) = h.chat("acme", "bot", &key, "after the spare died").await;
    assert_eq!(s, 200, "{out}");
    let running = h.engine_pids();
    assert_eq!(running.len(), 1, "{running:?}");
    assert_ne!(running[0], spare);
    h.stop().await;
}

#[tokio::test]
async fn a_window_opens_and_closes_and_refuses_requests_outside_it() {
    // Tuesday 07:30 in Madrid (UTC+1 in December): before the window.
    let (h, clock) = with_clock("2026-12-01T06:30:00Z").await;
    let sdk = h.project("acme").await;
    let key = h.key("acme", None).await;
    let config = json!({"window": "Mon-Fri 08:00-20:00 Europe/Madrid"});
    h.create("acme", &sdk, with_policy("day", "scheduled", config))
        .await;
    let (phase, msg) = eventually("the closed status", LIMIT, || async {
        let s = status(&h, &sdk, "day").await;
        (s.0 == "scheduling").then_some(s)
    })
    .await;
    assert_eq!(phase, "scheduling");
    assert!(
        msg.contains("outside window Mon-Fri 08:00-20:00 Europe/Madrid, next start Tue 08:00 Europe/Madrid (2026-12-01T07:00:00Z)"),
        "{msg}"
    );
    assert!(h.engine_pids().is_empty());

    let resp = h
        .http
        .post(format!("{}/endpoint/acme/day/v1/chat/completions", h.url))
        .bearer_auth(&key)
        .json(&json!({"model": "m", "messages": [{"role": "user", "content": "early"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "1800");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(error_code(&body), "workload_not_ready");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("next start Tue 08:00 Europe/Madrid"),
        "{body}"
    );

    // 08:00 Madrid: the window opens.
    clock.advance(Duration::from_secs(30 * 60));
    replicas(&h, 1).await;
    let (s, out) = h.chat("acme", "day", &key, "inside").await;
    assert_eq!(s, 200, "{out}");
    let (_, msg) = status(&h, &sdk, "day").await;
    assert!(msg.contains("scheduled: inside window"), "{msg}");

    // 20:00 Madrid: it closes; the next start is Wednesday.
    clock.set(t("2026-12-01T19:00:00Z"));
    replicas(&h, 0).await;
    let (s, out) = h.chat("acme", "day", &key, "late").await;
    assert_eq!(s, 503, "{out}");
    assert!(
        out["error"]["message"]
            .as_str()
            .unwrap()
            .contains("next start Wed 08:00 Europe/Madrid"),
        "{out}"
    );
    h.stop().await;
}

#[tokio::test]
async fn a_cron_fire_keeps_the_workload_up_for_its_duration() {
    let (h, clock) = with_clock("2026-12-01T01:59:00Z").await;
    let sdk = h.project("acme").await;
    let key = h.key("acme", None).await;
    let config = json!({"cron": "0 2 * * *", "duration": "30m"});
    h.create("acme", &sdk, with_policy("nightly", "scheduled", config))
        .await;
    let (s, out) = h.chat("acme", "nightly", &key, "too early").await;
    assert_eq!(s, 503, "{out}");
    assert!(
        out["error"]["message"]
            .as_str()
            .unwrap()
            .contains("next start Tue 02:00 UTC (2026-12-01T02:00:00Z)"),
        "{out}"
    );

    clock.advance(Duration::from_secs(60)); // 02:00: it fires
    replicas(&h, 1).await;
    let (s, out) = h.chat("acme", "nightly", &key, "on time").await;
    assert_eq!(s, 200, "{out}");

    clock.advance(Duration::from_secs(30 * 60)); // 02:30: its duration is over
    replicas(&h, 0).await;
    let (_, msg) = status(&h, &sdk, "nightly").await;
    assert!(
        msg.contains("next start Wed 02:00 UTC (2026-12-02T02:00:00Z)"),
        "{msg}"
    );
    h.stop().await;
}

#[tokio::test]
async fn spec_changes_while_scaled_roll_out_without_dropping_and_policies_switch() {
    let (h, clock) = with_clock("2026-12-01T10:00:00Z").await;
    let sdk = h.project("acme").await;
    let key = h.key("acme", None).await;
    let config = autoscaling(json!({"min_workers": 2, "max_workers": 2}));
    let w = h
        .create("acme", &sdk, with_policy("bot", "autoscaling", config))
        .await;
    let id = w["id"].as_str().unwrap().to_string();
    replicas(&h, 2).await;
    h.wait_ready("acme", "bot", &sdk).await;
    let before = h.engine_pids();

    // A new command while two replicas serve: a steady stream of requests, each answered
    // once, none failed, while the new revision starts and the old one drains.
    let traffic = async {
        for i in 0..30 {
            let (s, out) = h
                .chat("acme", "bot", &key, &format!("[[ik:slow:50]] rolling {i}"))
                .await;
            assert_eq!(s, 200, "request {i}: {out}");
            let text = out["choices"][0]["message"]["content"].as_str().unwrap();
            assert!(text.contains(&format!("rolling {i}")), "{text}");
        }
    };
    let rollout = async {
        let (s, p) = h
            .patch(
                &format!("/api/workloads/{id}"),
                &sdk,
                json!({"config": {"command": "vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 4096"}}),
            )
            .await;
        assert_eq!(s, 200, "{p}");
    };
    tokio::join!(traffic, rollout);
    let after = eventually("the new revision alone", LIMIT, || async {
        let pids = h.engine_pids();
        (pids.len() == 2 && pids.iter().all(|p| !before.contains(p))).then_some(pids)
    })
    .await;

    // Policy switches retarget the same engines without a relaunch.
    let switch = |policy: &'static str, config: Value| {
        let h = &h;
        let sdk = &sdk;
        let id = &id;
        async move {
            let (s, p) = h
                .patch(
                    &format!("/api/workloads/{id}"),
                    sdk,
                    json!({"execution_policy": policy, "execution_policy_config": config}),
                )
                .await;
            assert_eq!(s, 200, "{p}");
        }
    };
    switch("fixed", json!({"replicas": 3})).await;
    replicas(&h, 3).await;
    assert!(after.iter().all(|p| h.engine_pids().contains(p)));
    // Outside its window at 10:00 UTC: scheduled runs nothing.
    switch("scheduled", json!({"window": "Daily 22:00-23:00 UTC"})).await;
    replicas(&h, 0).await;
    clock.set(t("2026-12-01T22:00:00Z"));
    replicas(&h, 1).await;
    switch("fixed", json!({"replicas": 1})).await;
    let (s, out) = h.chat("acme", "bot", &key, "fixed again").await;
    assert_eq!(s, 200, "{out}");
    replicas(&h, 1).await;
    h.stop().await;
}

/// Issue #19, finding 13: counts are integers within the documented limits, per workload
/// and per Manager, and the error names the field.
#[tokio::test]
async fn replica_counts_are_validated_per_workload_and_per_manager() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start_with(dir, |cfg| cfg.max_replicas = 4).await;
    let sdk = h.project("acme").await;
    for (i, bad) in [
        json!(1_000_000),
        json!(2.0),
        json!(1e2),
        json!(0),
        json!("2"),
    ]
    .into_iter()
    .enumerate()
    {
        let (s, e) = h
            .post(
                "/api/projects/acme/workloads",
                &sdk,
                with_policy(&format!("w{i}"), "fixed", json!({"replicas": bad})),
            )
            .await;
        assert_eq!(s, 400, "{bad}: {e}");
        assert_eq!(error_code(&e), "validation_failed");
        assert_eq!(
            e["error"]["field"], "execution_policy_config.replicas",
            "{e}"
        );
    }
    h.create(
        "acme",
        &sdk,
        with_policy("three", "fixed", json!({"replicas": 3})),
    )
    .await;
    let (s, e) = h
        .post(
            "/api/projects/acme/workloads",
            &sdk,
            with_policy(
                "more",
                "autoscaling",
                autoscaling(json!({"min_workers": 0, "max_workers": 2})),
            ),
        )
        .await;
    assert_eq!(s, 400, "{e}");
    assert_eq!(e["error"]["field"], "execution_policy_config.max_workers");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--max-replicas"),
        "{e}"
    );
    h.stop().await;
}

/// Requests held for a replica that does not come up: at most the hold queue waits; the rest
/// are refused at once; the held ones get `503 workload_not_ready` with `Retry-After` once
/// the cold-start timeout passes. Nothing hangs.
#[tokio::test]
async fn the_hold_queue_is_bounded_and_times_out_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::start_with(dir, |cfg| {
        cfg.allow_any_command = true;
        cfg.cold_start_timeout = Duration::from_secs(3);
    })
    .await;
    let sdk = h.project("acme").await;
    let key = h.key("acme", None).await;
    let mut w = vllm_workload("stuck");
    // An engine that never answers its health check.
    w["config"]["command"] = json!("sh -c 'sleep 600 # {port}'");
    h.create("acme", &sdk, w).await;
    let n = inferencekey_manager::runtime::HOLD_QUEUE + 8;
    let calls = (0..n).map(|i| {
        let h = &h;
        let key = &key;
        async move {
            let resp = h
                .http
                .post(format!("{}/endpoint/acme/stuck/v1/chat/completions", h.url))
                .bearer_auth(key)
                .json(&json!({"model": "m", "messages": [{"role": "user", "content": format!("{i}")}]}))
                .send()
                .await
                .unwrap();
            let retry = resp.headers()["retry-after"].to_str().unwrap().to_string();
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap();
            (status, retry, body["error"]["message"].as_str().unwrap().to_string())
        }
    });
    let answers = join_all(calls).await;
    assert!(
        answers.iter().all(|(s, r, _)| *s == 503 && r == "5"),
        "{answers:?}"
    );
    let full = answers
        .iter()
        .filter(|(_, _, m)| m.contains("already holds 256 waiting requests"))
        .count();
    let timed_out = answers
        .iter()
        .filter(|(_, _, m)| m.contains("has no ready replica after waiting 3s"))
        .count();
    assert_eq!((full, timed_out), (8, 256), "{answers:?}");
    h.stop().await;
}
