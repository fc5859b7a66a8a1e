//! The control plane, auth and the admin API over real HTTP against a real Manager.

mod common;

use common::{error_code, vllm_workload, Harness};
use inferencekey_manager::idempotency::fingerprint;
use inferencekey_manager::store::{SqliteStore, Store};
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn workload_routes_and_defaults() {
    let h = Harness::start().await;
    let sdk = h.project("acme").await;

    let w = h
        .create(
            "acme",
            &sdk,
            json!({"name": "Support bot", "model_name": "m", "backend": "vllm",
                   "config": {"command": "vllm serve m", "vllm_version": "0.6.3", "extra": 1}}),
        )
        .await;
    // Slug defaults to the canonical name; server defaults are filled in and echoed.
    assert_eq!(w["slug"], "support-bot");
    assert_eq!(w["workload_slug"], "support-bot");
    assert_eq!(w["project_slug"], "acme");
    assert_eq!(w["task_type"], "text2text");
    assert_eq!(w["execution_policy"], "fixed");
    assert_eq!(w["execution_policy_config"], json!({"replicas": 1}));
    assert_eq!(w["config"]["extra"], 1);
    assert!(w["id"].as_str().unwrap().starts_with("wl_"));
    assert!(w["project_id"].as_str().unwrap().starts_with("prj_"));
    assert!(w["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(w["status"].is_string() && w["status_message"].is_string());
    assert!(
        w.get("description").is_none(),
        "absent optional fields are omitted"
    );
    let id = w["id"].as_str().unwrap().to_string();

    let (s, list) = h.get("/api/projects/acme/workloads", &sdk).await;
    assert_eq!(s, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (_, filtered) = h
        .get("/api/projects/acme/workloads?slug=Support%20Bot", &sdk)
        .await;
    assert_eq!(filtered.as_array().unwrap().len(), 1);
    let (_, none) = h.get("/api/projects/acme/workloads?slug=other", &sdk).await;
    assert_eq!(none, json!([]));
    let (s, one) = h
        .get("/api/projects/ACME/workloads/support_bot", &sdk)
        .await;
    assert_eq!((s, &one["id"]), (200, &json!(id)));

    // PATCH: only changed fields; slug is immutable; a no-op changes nothing.
    let (s, p) = h
        .patch(
            &format!("/api/workloads/{id}"),
            &sdk,
            json!({"name": "Renamed", "description": "d"}),
        )
        .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(
        (p["name"].as_str(), p["description"].as_str()),
        (Some("Renamed"), Some("d"))
    );
    let (s, e) = h
        .patch(
            &format!("/api/workloads/{id}"),
            &sdk,
            json!({"slug": "new-slug"}),
        )
        .await;
    assert_eq!(
        (s, error_code(&e), e["error"]["field"].as_str()),
        (400, "validation_failed", Some("slug"))
    );
    let (s, same) = h
        .patch(&format!("/api/workloads/{id}"), &sdk, json!({}))
        .await;
    assert_eq!((s, &same["updated_at"]), (200, &p["updated_at"]));

    // Changing the policy without a config re-defaults it; scheduled has no default.
    let (s, e) = h
        .patch(
            &format!("/api/workloads/{id}"),
            &sdk,
            json!({"execution_policy": "scheduled"}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["field"].as_str()),
        (400, Some("execution_policy_config"))
    );
    let (s, a) = h
        .patch(
            &format!("/api/workloads/{id}"),
            &sdk,
            json!({"execution_policy": "autoscaling"}),
        )
        .await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["execution_policy_config"]["max_workers"], 1);
    let (s, t) = h
        .patch(
            &format!("/api/workloads/{id}"),
            &sdk,
            json!({"task_type": "embedding"}),
        )
        .await;
    assert_eq!((s, t["task_type"].as_str()), (200, Some("embedding")));

    let (s, e) = h
        .post(
            "/api/projects/acme/workloads",
            &sdk,
            vllm_workload("support-bot"),
        )
        .await;
    assert_eq!((s, error_code(&e)), (409, "slug_conflict"));

    let resp = h
        .http
        .delete(format!("{}/api/workloads/{id}", h.url))
        .bearer_auth(&sdk)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert!(resp.bytes().await.unwrap().is_empty());
    let (s, e) = h.get(&format!("/api/workloads/{id}"), &sdk).await;
    assert_eq!((s, error_code(&e)), (404, "not_found"));
    let (s, _) = h
        .patch(&format!("/api/workloads/{id}"), &sdk, json!({"name": "x"}))
        .await;
    assert_eq!(s, 404);
    let (s, _) = h
        .get("/api/projects/acme/workloads/support-bot", &sdk)
        .await;
    assert_eq!(s, 404);
    h.stop().await;
}

#[tokio::test]
async fn validation_names_the_field() {
    let h = Harness::start().await;
    let sdk = h.project("acme").await;
    let (_, worker) = h
        .post("/admin/workers", &h.admin, json!({"name": "box"}))
        .await;
    let worker = worker["id"].as_str().unwrap().to_string();

    let base = vllm_workload("bot");
    let with = |patch: Value| {
        let mut b = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                b.as_object_mut().unwrap().remove(k);
            } else {
                b[k] = v.clone();
            }
        }
        b
    };
    let cases: Vec<(Value, &str)> = vec![
        (with(json!({"name": null})), "name"),
        (with(json!({"model_name": null})), "model_name"),
        (with(json!({"name": 5})), "name"),
        (with(json!({"slug": "!!!"})), "slug"),
        (with(json!({"provider": "aws"})), "provider"),
        (with(json!({"min_vram_gb": 24})), "min_vram_gb"),
        (with(json!({"surprise": true})), "surprise"),
        (with(json!({"id": "wl_x"})), "id"),
        (with(json!({"task_type": "text-to-text"})), "task_type"),
        (with(json!({"backend": "Not A Slug"})), "backend"),
        (with(json!({"config": "vllm serve m"})), "config"),
        (with(json!({"config": {"command": 7}})), "config.command"),
        (
            with(json!({"config": {"command": "bash -c evil"}})),
            "config.command",
        ),
        (with(json!({"worker_id": "wrk_missing"})), "worker_id"),
        (
            with(json!({"gpu_resource_id": "gpu_missing"})),
            "gpu_resource_id",
        ),
        (
            with(json!({"execution_policy": "scheduled"})),
            "execution_policy_config",
        ),
        (
            with(json!({"execution_policy": "fixed", "execution_policy_config": {"replicas": 0}})),
            "execution_policy_config.replicas",
        ),
        (
            with(json!({"execution_policy": "autoscaling",
                        "execution_policy_config": {"min_replicas": 0, "max_replicas": 2,
                                                    "max_hourly_cost_usd": 1}})),
            // Keys are checked in sorted order; both are reported in the message.
            "execution_policy_config.max_replicas",
        ),
        (
            with(
                json!({"execution_policy": "autoscaling", "execution_policy_config": {
                "min_workers": 0, "max_workers": 2,
                "workers": {"source": "private", "private_worker_ids": ["wrk_unknown"]}}}),
            ),
            "execution_policy_config.workers.private_worker_ids[0]",
        ),
    ];
    for (body, field) in cases {
        let (s, e) = h
            .post("/api/projects/acme/workloads", &sdk, body.clone())
            .await;
        assert_eq!(s, 400, "{body} -> {e}");
        assert_eq!(error_code(&e), "validation_failed", "{e}");
        assert!(
            e["error"]["field"]
                .as_str()
                .unwrap_or_default()
                .starts_with(field),
            "{body}: expected field {field}, got {e}"
        );
        assert!(!e["error"]["message"].as_str().unwrap().is_empty());
    }

    // The wrong-bounds mistake says which keys to use.
    let (_, e) = h
        .post(
            "/api/projects/acme/workloads",
            &sdk,
            with(json!({"execution_policy": "autoscaling",
                        "execution_policy_config": {"min_replicas": 0, "max_workers": 2, "max_hourly_cost_usd": 1,
                            "workers": {"source": "cloud", "cloud_pool": {"gpu_pool": ["A"]}}}})),
        )
        .await;
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("min_workers"),
        "{e}"
    );

    // A secret in a spec is refused and not echoed.
    let (s, e) = h
        .post(
            "/api/projects/acme/workloads",
            &sdk,
            with(json!({"config": {"command": "vllm serve m --api-key ik_live_abcdefghijkl_SECRETSECRET"}})),
        )
        .await;
    assert_eq!(s, 400);
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains("secrets must never go in specs"));
    assert!(!e.to_string().contains("SECRETSECRET"));

    // A registered worker is accepted, and private autoscaling across it too.
    let (s, w) = h
        .post(
            "/api/projects/acme/workloads",
            &sdk,
            with(
                json!({"worker_id": worker, "execution_policy": "autoscaling",
                        "execution_policy_config": {"min_workers": 1, "max_workers": 2,
                            "workers": {"source": "private", "private_worker_ids": [worker]}}}),
            ),
        )
        .await;
    assert_eq!(s, 201, "{w}");

    // Body problems.
    for (raw, what) in [
        ("{not json", "not valid JSON"),
        ("[1]", "JSON object"),
        ("", "empty"),
    ] {
        let resp = h
            .http
            .post(format!("{}/api/projects/acme/workloads", h.url))
            .bearer_auth(&sdk)
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        let e: Value = resp.json().await.unwrap();
        assert!(
            e["error"]["message"].as_str().unwrap().contains(what),
            "{e}"
        );
    }
    let big = "x".repeat(2 << 20);
    let resp = h
        .http
        .post(format!("{}/api/projects/acme/workloads", h.url))
        .bearer_auth(&sdk)
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let e: Value = resp.json().await.unwrap();
    assert_eq!(error_code(&e), "payload_too_large");
    h.stop().await;
}

#[tokio::test]
async fn auth_failures_have_documented_codes() {
    let h = Harness::start().await;
    let acme = h.project("acme").await;
    let other = h.project("other").await;
    let live = h.key("acme", Some("bot")).await;
    let w = h.create("other", &other, vllm_workload("theirs")).await;
    let their_id = w["id"].as_str().unwrap();

    let (s, e) = h.get("/api/projects/acme/workloads", "").await;
    assert_eq!((s, error_code(&e)), (401, "unauthenticated"));
    let resp = h
        .http
        .get(format!("{}/api/projects/acme/workloads", h.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let (s, e) = h.get("/api/projects/acme/workloads", "garbage").await;
    assert_eq!((s, error_code(&e)), (401, "unauthenticated"));
    // The same id with a different secret (last character changed).
    let last = if acme.ends_with('x') { 'y' } else { 'x' };
    let forged = format!("{}{last}", &acme[..acme.len() - 1]);
    let (s, e) = h.get("/api/projects/acme/workloads", &forged).await;
    assert_eq!((s, error_code(&e)), (401, "unauthenticated"));
    assert!(!e.to_string().contains(&acme[20..]), "no secret in errors");

    let (s, e) = h.get("/api/projects/acme/workloads", &live).await;
    assert_eq!((s, error_code(&e)), (403, "wrong_credential_type"));
    let (s, e) = h.get("/api/projects/acme/workloads", &h.admin).await;
    assert_eq!((s, error_code(&e)), (403, "wrong_credential_type"));
    let (s, e) = h.get("/admin/projects", &acme).await;
    assert_eq!((s, error_code(&e)), (403, "wrong_credential_type"));

    let (s, e) = h.get("/api/projects/other/workloads", &acme).await;
    assert_eq!((s, error_code(&e)), (403, "project_scope_mismatch"));
    let (s, e) = h
        .post("/api/projects/other/workloads", &acme, vllm_workload("x"))
        .await;
    assert_eq!((s, error_code(&e)), (403, "project_scope_mismatch"));
    // Another project's workload id is invisible, not forbidden.
    let (s, e) = h.get(&format!("/api/workloads/{their_id}"), &acme).await;
    assert_eq!((s, error_code(&e)), (404, "not_found"));
    let (s, _) = h
        .call(
            Method::DELETE,
            &format!("/api/workloads/{their_id}"),
            &acme,
            None,
        )
        .await;
    assert_eq!(s, 404);

    // Revoking an sdk token takes effect on the next request, even after it was cached.
    let (s, _) = h.get("/api/projects/acme/workloads", &acme).await;
    assert_eq!(s, 200);
    let id = acme.split('_').nth(2).unwrap();
    let (s, r) = h
        .post(&format!("/admin/keys/{id}/revoke"), &h.admin, json!({}))
        .await;
    assert_eq!(s, 200, "{r}");
    assert!(r["revoked_at"].is_string());
    let (s, e) = h.get("/api/projects/acme/workloads", &acme).await;
    assert_eq!((s, error_code(&e)), (401, "unauthenticated"));

    // Unknown routes and wrong methods still answer the documented body.
    let (s, e) = h.get("/api/nothing-here", &other).await;
    assert_eq!((s, error_code(&e)), (404, "not_found"));
    let (s, e) = h
        .call(
            Method::PUT,
            "/api/projects/other/workloads",
            &other,
            Some(json!({})),
        )
        .await;
    assert_eq!((s, error_code(&e)), (405, "method_not_allowed"));
    h.stop().await;
}

#[tokio::test]
async fn request_ids_are_echoed_or_assigned() {
    let h = Harness::start().await;
    let sdk = h.project("acme").await;
    let resp = h
        .http
        .get(format!("{}/api/projects/acme/workloads", h.url))
        .bearer_auth(&sdk)
        .header("x-request-id", "trace-123")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "trace-123");
    let resp = h
        .http
        .get(format!("{}/api/projects/acme/workloads", h.url))
        .send()
        .await
        .unwrap();
    assert!(resp.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .starts_with("req_"));
    h.stop().await;
}

#[tokio::test]
async fn idempotent_creates_replay_conflict_and_refuse_reuse() {
    let h = Harness::start().await;
    let sdk = h.project("acme").await;
    let url = format!("{}/api/projects/acme/workloads", h.url);
    let body = serde_json::to_vec(&vllm_workload("bot")).unwrap();
    let send = |key: &'static str, body: Vec<u8>| {
        h.http
            .post(&url)
            .bearer_auth(&sdk)
            .header("idempotency-key", key)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    let first = send("key-1", body.clone()).await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = send("key-1", body.clone()).await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"], "the replay is the first answer");
    let (_, list) = h.get("/api/projects/acme/workloads", &sdk).await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    let other = serde_json::to_vec(&vllm_workload("bot2")).unwrap();
    let reused = send("key-1", other.clone()).await.unwrap();
    assert_eq!(reused.status(), 422);
    let e: Value = reused.json().await.unwrap();
    assert_eq!(error_code(&e), "idempotency_key_reused");

    // A request still in flight: claim the key in the Manager's own database, as a
    // concurrent request would, then retry it.
    let store = SqliteStore::open(&h.dir.path().join("manager.db")).unwrap();
    let token_id = sdk.split('_').nth(2).unwrap();
    let fp = fingerprint("POST", "/api/projects/acme/workloads", &other);
    store
        .idempotency_begin(token_id, "key-2", &fp, 86400)
        .await
        .unwrap();
    let busy = send("key-2", other.clone()).await.unwrap();
    assert_eq!(busy.status(), 409);
    assert!(busy.headers().contains_key("retry-after"));
    let e: Value = busy.json().await.unwrap();
    assert_eq!(error_code(&e), "idempotency_key_in_use");

    // Keys are per token: another token's key-1 is a new request (here a slug conflict).
    let sdk2 = h.project("acme").await;
    let fresh = h
        .http
        .post(&url)
        .bearer_auth(&sdk2)
        .header("idempotency-key", "key-1")
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        fresh.status(),
        409,
        "another token's key-1 is a new request"
    );
    h.stop().await;
}

#[tokio::test]
async fn concurrent_creates_of_one_slug_make_one_workload() {
    let h = Harness::start().await;
    let sdk = h.project("acme").await;
    let calls =
        (0..20).map(|_| h.post("/api/projects/acme/workloads", &sdk, vllm_workload("same")));
    let results = futures_util::future::join_all(calls).await;
    let created = results.iter().filter(|(s, _)| *s == 201).count();
    let conflicts = results
        .iter()
        .filter(|(s, e)| *s == 409 && error_code(e) == "slug_conflict")
        .count();
    assert_eq!((created, conflicts), (1, 19), "{results:?}");
    let (_, list) = h.get("/api/projects/acme/workloads", &sdk).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    h.stop().await;
}

#[tokio::test]
async fn admin_api_issues_lists_and_revokes() {
    let h = Harness::start().await;
    let (s, p) = h
        .post("/admin/projects", &h.admin, json!({"slug": "Acme Corp"}))
        .await;
    assert_eq!((s, p["slug"].as_str()), (201, Some("acme-corp")));
    let (s, _) = h
        .post("/admin/projects", &h.admin, json!({"slug": "acme-corp"}))
        .await;
    assert_eq!(s, 200, "creating an existing project is not an error");
    let (s, e) = h
        .post("/admin/projects/nope/keys", &h.admin, json!({"all": true}))
        .await;
    assert_eq!((s, error_code(&e)), (404, "not_found"));
    let (s, _) = h
        .post(
            "/admin/projects/acme-corp/keys",
            &h.admin,
            json!({"workload": "a", "all": true}),
        )
        .await;
    assert_eq!(s, 400);

    let live = h.key("acme-corp", Some("Chat Bot")).await;
    assert!(live.starts_with("ik_live_"));
    let all = h.key("acme-corp", None).await;
    let (s, keys) = h.get("/admin/keys?project=acme-corp", &h.admin).await;
    assert_eq!(s, 200);
    let keys = keys.as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["scope"], "chat-bot");
    assert_eq!(keys[1]["scope"], "*");
    let listing = serde_json::to_string(keys).unwrap();
    for secret in [&live, &all] {
        assert!(
            !listing.contains(secret.rsplit('_').next().unwrap()),
            "no secrets in lists"
        );
    }
    // Revoking by the whole key works too; only its id is used.
    let (s, r) = h
        .post(&format!("/admin/keys/{live}/revoke"), &h.admin, json!({}))
        .await;
    assert_eq!(s, 200, "{r}");
    let (s, _) = h
        .post("/admin/keys/unknown/revoke", &h.admin, json!({}))
        .await;
    assert_eq!(s, 404);

    let (s, w) = h
        .post("/admin/workers", &h.admin, json!({"name": "gpu-box"}))
        .await;
    assert_eq!(s, 201);
    let wid = w["id"].as_str().unwrap();
    assert!(wid.starts_with("wrk_"));
    let (s, g) = h
        .post(
            "/admin/gpus",
            &h.admin,
            json!({"name": "NVIDIA L4", "worker_id": wid}),
        )
        .await;
    assert_eq!(s, 201, "{g}");
    let (_, workers) = h.get("/admin/workers", &h.admin).await;
    assert_eq!(workers[0]["name"], "gpu-box");
    let (_, gpus) = h.get("/admin/gpus", &h.admin).await;
    assert_eq!(gpus[0]["worker_id"], wid);
    let (s, status) = h.get("/admin/status", &h.admin).await;
    assert_eq!(s, 200);
    assert_eq!(status["projects"][0]["slug"], "acme-corp");
    h.stop().await;
}

/// A worker token, issued for a registered worker through the admin API, is refused on the
/// control plane, the data plane and the admin API as the wrong kind of credential (never its
/// secret in the answer), is listed and revoked with the other tokens, and cannot be issued
/// for a worker that is not registered.
#[tokio::test]
async fn worker_tokens_are_issued_listed_revoked_and_refused_on_both_planes() {
    let h = Harness::start().await;
    let sdk = h.project("acme").await;
    let w = h.create("acme", &sdk, vllm_workload("bot")).await;
    let wid_workload = w["id"].as_str().unwrap().to_string();

    let (s, e) = h
        .post("/admin/workers/wrk_nope/tokens", &h.admin, json!({}))
        .await;
    assert_eq!((s, error_code(&e)), (404, "not_found"), "{e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("wrk_nope"),
        "{e}"
    );

    let (s, worker) = h
        .post("/admin/workers", &h.admin, json!({"name": "gpu-box"}))
        .await;
    assert_eq!(s, 201, "{worker}");
    let wid = worker["id"].as_str().unwrap();
    let (s, e) = h
        .post(
            &format!("/admin/workers/{wid}/tokens"),
            &h.admin,
            json!({"scope": "x"}),
        )
        .await;
    assert_eq!(
        (s, error_code(&e), e["error"]["field"].as_str()),
        (400, "validation_failed", Some("scope"))
    );
    let (s, issued) = h
        .post(&format!("/admin/workers/{wid}/tokens"), &h.admin, json!({}))
        .await;
    assert_eq!(s, 201, "{issued}");
    assert_eq!(issued["kind"], "worker");
    assert_eq!(issued["worker_id"], wid);
    assert!(issued["project"].is_null());
    let token = issued["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("ik_worker_"), "{token}");
    let secret = token.rsplit('_').next().unwrap().to_string();

    let refused = [
        (
            Method::GET,
            "/api/projects/acme/workloads".to_string(),
            None,
        ),
        (
            Method::POST,
            "/api/projects/acme/workloads".to_string(),
            Some(vllm_workload("other")),
        ),
        (Method::GET, format!("/api/workloads/{wid_workload}"), None),
        (
            Method::POST,
            "/endpoint/acme/bot/v1/chat/completions".to_string(),
            Some(json!({"messages": [{"role": "user", "content": "hi"}]})),
        ),
        (
            Method::GET,
            "/endpoint/acme/bot/v1/models".to_string(),
            None,
        ),
        (Method::GET, "/admin/projects".to_string(), None),
        (Method::GET, "/admin/keys".to_string(), None),
        (
            Method::POST,
            format!("/admin/workers/{wid}/tokens"),
            Some(json!({})),
        ),
    ];
    for (method, path, body) in refused {
        let (s, e) = h.call(method.clone(), &path, &token, body).await;
        assert_eq!(
            (s, error_code(&e)),
            (403, "wrong_credential_type"),
            "{method} {path}: {e}"
        );
        let message = e["error"]["message"].as_str().unwrap();
        assert!(message.contains("ik_worker_"), "{message}");
        assert!(!e.to_string().contains(&secret), "no secret in errors");
    }

    // Listed with the other tokens (not under a project), never with its secret.
    let (_, all) = h.get("/admin/keys", &h.admin).await;
    let listed: Vec<&Value> = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"] == "worker")
        .collect();
    assert_eq!(listed.len(), 1, "{all}");
    assert_eq!(listed[0]["worker_id"], wid);
    assert_eq!(listed[0]["id"], issued["id"]);
    assert!(!all.to_string().contains(&secret));
    let (_, of_acme) = h.get("/admin/keys?project=acme", &h.admin).await;
    assert!(of_acme
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["kind"] != "worker"));
    let sdk_listed = all
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "sdk")
        .unwrap();
    assert!(
        sdk_listed.get("worker_id").is_none(),
        "other kinds have no worker_id: {sdk_listed}"
    );

    // Revoked by id, as the others.
    let (s, r) = h
        .post(
            &format!("/admin/keys/{}/revoke", issued["id"].as_str().unwrap()),
            &h.admin,
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert!(r["revoked_at"].is_string());
    assert_eq!(r["kind"], "worker");
    h.stop().await;
}
