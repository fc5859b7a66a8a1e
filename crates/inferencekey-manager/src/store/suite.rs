//! The store test suite: every test runs against SQLite and PostgreSQL.
//!
//! Each test is an async fn over `&dyn Store` (or two stores on one database, standing for two
//! Manager processes); [`store_suite!`] makes a `#[tokio::test]` of it per backend. The
//! PostgreSQL half connects to `INFERENCEKEY_TEST_POSTGRES` (a URL; `scripts/postgres start`
//! prints one) and gives each test its own schema. Without the variable it is skipped with a
//! loud notice, except under CI (`CI` set), where it fails: `scripts/test` exports it, so CI
//! always runs it.

use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::util::{new_id, now_rfc3339};

const TENANT: &str = "tnt_local";

/// Where a test's stores live: each [`Backend::open`] is another connection (another
/// "process") on the same database.
pub(super) enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres(String),
}

impl Backend {
    pub(super) fn sqlite() -> Backend {
        Backend::Sqlite(tempfile::tempdir().unwrap())
    }

    /// A fresh schema on the test server, or `None` (after a notice) when there is none.
    pub(super) async fn postgres() -> Option<Backend> {
        let Some(base) = std::env::var("INFERENCEKEY_TEST_POSTGRES")
            .ok()
            .filter(|v| !v.is_empty())
        else {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "INFERENCEKEY_TEST_POSTGRES is not set: CI runs the store suite on \
                     PostgreSQL too (scripts/test starts one with scripts/postgres)"
                );
            }
            eprintln!(
                "\n*** SKIPPED the PostgreSQL half of the store suite: set \
                 INFERENCEKEY_TEST_POSTGRES to a postgres:// URL: export INFERENCEKEY_TEST_POSTGRES=$(scripts/postgres start) ***\n"
            );
            return None;
        };
        let schema = format!(
            "t_{}",
            new_id("s").replace(|c: char| !c.is_ascii_alphanumeric(), "_")
        )
        .to_ascii_lowercase();
        let (client, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to INFERENCEKEY_TEST_POSTGRES={base}: {e}"));
        let task = tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .await
            .unwrap();
        drop(client);
        let _ = task.await;
        let sep = if base.contains('?') { '&' } else { '?' };
        // The schema is also the connections' application_name, so a test can find its own.
        Some(Backend::Postgres(format!(
            "{base}{sep}options=-csearch_path%3D{schema}&application_name={schema}"
        )))
    }

    pub(super) async fn open(&self) -> Arc<dyn Store> {
        match self {
            Backend::Sqlite(dir) => {
                Arc::new(SqliteStore::open(&dir.path().join("manager.db")).unwrap())
            }
            Backend::Postgres(url) => Arc::new(PostgresStore::open(url).await.unwrap()),
        }
    }
}

/// One `#[tokio::test]` per backend for each suite fn: `one` fns take a store, `two` fns
/// take two stores on one database.
macro_rules! store_suite {
    (one: [$($one:ident),* $(,)?], two: [$($two:ident),* $(,)?],
     postgres: [$($pg:ident),* $(,)?]) => {
        mod on_sqlite {
            use super::*;
            $(#[tokio::test]
            async fn $one() {
                let b = Backend::sqlite();
                super::$one(&*b.open().await).await;
            })*
            $(#[tokio::test]
            async fn $two() {
                let b = Backend::sqlite();
                super::$two(&*b.open().await, &*b.open().await).await;
            })*
        }
        mod on_postgres {
            use super::*;
            $(#[tokio::test]
            async fn $one() {
                let Some(b) = Backend::postgres().await else { return };
                super::$one(&*b.open().await).await;
            })*
            $(#[tokio::test]
            async fn $two() {
                let Some(b) = Backend::postgres().await else { return };
                super::$two(&*b.open().await, &*b.open().await).await;
            })*
            $(#[tokio::test]
            async fn $pg() {
                let Some(b) = Backend::postgres().await else { return };
                super::$pg(&b).await;
            })*
        }
    };
}

store_suite!(
    one: [
        projects_and_workloads_round_trip,
        tokens_are_stored_listed_and_revoked,
        worker_tokens_name_their_worker,
        agents_heartbeat_and_report_their_replicas,
        workers_and_gpus_round_trip,
        idempotency_states,
        custom_backends_are_recorded_and_the_newest_version_wins,
        the_outbox_row_is_written_with_the_result_and_leased_when_claimed,
        webhooks_are_put_read_and_deleted,
        jobs_queue_and_requeue,
        claims_are_fair_across_projects_and_workloads,
        the_queue_is_bounded_per_key_and_in_total,
        retention_deletes_only_finished_jobs_before_the_cutoff,
    ],
    two: [
        what_one_store_writes_another_reads,
        slugs_are_unique_across_stores,
        an_idempotency_key_is_claimed_once_across_stores,
        no_job_is_claimed_twice_across_stores,
        the_queue_limits_hold_across_stores,
        no_delivery_is_claimed_twice_across_stores,
    ],
    // Only PostgreSQL has several live Managers on one database (SQLite's data dir is
    // locked to one).
    postgres: [
        a_starting_manager_releases_only_what_dead_ones_left,
        a_lost_connection_is_unavailable_and_the_store_recovers,
        a_schema_from_before_worker_tokens_is_upgraded,
        one_store_leads_until_it_is_gone_and_publishes_what_it_serves,
    ]
);

pub(super) fn workload(project: &Project, slug: &str) -> WorkloadRecord {
    WorkloadRecord {
        id: new_id("wl"),
        project_id: project.id.clone(),
        project_slug: project.slug.clone(),
        name: slug.into(),
        slug: slug.into(),
        description: None,
        task_type: "text2text".into(),
        backend: Some("vllm".into()),
        model_name: "m".into(),
        config: json!({"command": "vllm serve m"}),
        worker_id: None,
        gpu_resource_id: None,
        execution_policy: "fixed".into(),
        execution_policy_config: json!({"replicas": 1}),
        created_at: now_rfc3339(),
        updated_at: now_rfc3339(),
        status: "scheduling".into(),
        status_message: String::new(),
    }
}

pub(super) async fn projects_and_workloads_round_trip(s: &dyn Store) {
    let (p, created) = s.ensure_project("acme").await.unwrap();
    assert!(created);
    let (again, created) = s.ensure_project("acme").await.unwrap();
    assert!(!created);
    assert_eq!(p, again);

    let w = workload(&p, "bot");
    s.insert_workload(&w).await.unwrap();
    assert_eq!(s.workload(&w.id).await.unwrap().unwrap(), w);
    assert_eq!(s.workload_by_slug(&p.id, "bot").await.unwrap().unwrap(), w);
    let dup = workload(&p, "bot");
    assert!(matches!(
        s.insert_workload(&dup).await,
        Err(StoreError::Conflict(_))
    ));
    let mut changed = w.clone();
    changed.model_name = "m2".into();
    assert!(s.update_workload(&changed).await.unwrap());
    assert_eq!(s.workload(&w.id).await.unwrap().unwrap().model_name, "m2");
    assert!(s.delete_workload(&w.id).await.unwrap());
    assert!(s.workload(&w.id).await.unwrap().is_none());
}

pub(super) async fn idempotency_states(s: &dyn Store) {
    let fp = [1u8; 32];
    let other = [2u8; 32];
    assert_eq!(
        s.idempotency_begin("tok", "k", &fp, 86400).await.unwrap(),
        IdempotencyBegin::Started
    );
    assert_eq!(
        s.idempotency_begin("tok", "k", &fp, 86400).await.unwrap(),
        IdempotencyBegin::InUse
    );
    assert_eq!(
        s.idempotency_begin("tok", "k", &other, 86400)
            .await
            .unwrap(),
        IdempotencyBegin::Reused
    );
    s.idempotency_finish("tok", "k", 201, b"{}").await.unwrap();
    assert_eq!(
        s.idempotency_begin("tok", "k", &fp, 86400).await.unwrap(),
        IdempotencyBegin::Replay {
            status: 201,
            body: b"{}".to_vec()
        }
    );
    // Another token's key space is separate; an expired record is replaced.
    assert_eq!(
        s.idempotency_begin("tok2", "k", &other, 86400)
            .await
            .unwrap(),
        IdempotencyBegin::Started
    );
    assert_eq!(
        s.idempotency_begin("tok", "k", &other, 0).await.unwrap(),
        IdempotencyBegin::Started
    );
}

const LIMITS: QueueLimits = QueueLimits {
    per_key: 100,
    total: 1000,
};

pub(super) async fn custom_backends_are_recorded_and_the_newest_version_wins(s: &dyn Store) {
    let rec = |version: &str, at: &str| CustomBackendRecord {
        id: new_id("cb"),
        tenant_id: TENANT.into(),
        slug: "shout".into(),
        version: version.into(),
        task_type: "text2text".into(),
        manifest: json!({"name": "shout"}),
        sha256: format!("{version:0>64}"),
        size_bytes: 10,
        created_at: at.into(),
    };
    assert!(s.custom_backend(TENANT, "shout").await.unwrap().is_none());
    s.insert_custom_backend(&rec("1", "2026-01-01T00:00:00.000Z"))
        .await
        .unwrap();
    s.insert_custom_backend(&rec("2", "2026-01-02T00:00:00.000Z"))
        .await
        .unwrap();
    assert!(matches!(
        s.insert_custom_backend(&rec("2", "2026-01-03T00:00:00.000Z"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        s.custom_backend(TENANT, "shout")
            .await
            .unwrap()
            .unwrap()
            .version,
        "2"
    );
    let one = s
        .custom_backend_version(TENANT, "shout", "1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(one.manifest, json!({"name": "shout"}));
    let all = s.list_custom_backends(TENANT).await.unwrap();
    assert_eq!(
        all.iter().map(|b| b.version.as_str()).collect::<Vec<_>>(),
        ["2", "1"]
    );
    assert!(s
        .list_custom_backends("tnt_other")
        .await
        .unwrap()
        .is_empty());
}

fn job_for(p: &Project, w: &WorkloadRecord, token: &str) -> JobRecord {
    JobRecord {
        id: new_id("job"),
        project_id: p.id.clone(),
        workload_id: w.id.clone(),
        token_id: Some(token.into()),
        kind: "chat".into(),
        body: b"{}".to_vec(),
        content_type: "application/json".into(),
        context: Some(json!({"order": 7})),
        status: JobStatus::Queued,
        result: None,
        error: None,
        created_at: now_rfc3339(),
        updated_at: now_rfc3339(),
        webhook_url: None,
    }
}

fn delivery_for(w: &WorkloadRecord, job_id: &str, due: i64) -> DeliveryRecord {
    DeliveryRecord {
        id: new_id("whd"),
        workload_id: w.id.clone(),
        job_id: job_id.into(),
        event: "job".into(),
        url: "http://127.0.0.1:9/h".into(),
        body: b"{}".to_vec(),
        state: DeliveryState::Pending,
        attempts: 0,
        next_attempt_ms: due,
        last_status: None,
        last_error: None,
        created_at: now_rfc3339(),
        updated_at: now_rfc3339(),
    }
}

pub(super) async fn the_outbox_row_is_written_with_the_result_and_leased_when_claimed(
    s: &dyn Store,
) {
    let (p, _) = s.ensure_project("acme").await.unwrap();
    let w = workload(&p, "bot");
    s.insert_workload(&w).await.unwrap();
    let job = job_for(&p, &w, "tok");
    s.insert_job(&job, LIMITS).await.unwrap();
    s.claim_next_job().await.unwrap().unwrap();
    let d = delivery_for(&w, &job.id, 1_000);
    s.finish_job(&job.id, JobStatus::Failed, None, Some(&json!({})), Some(&d))
        .await
        .unwrap();
    assert_eq!(s.next_delivery_due().await.unwrap(), Some(1_000));
    assert!(
        s.claim_due_deliveries(999, 50, 10)
            .await
            .unwrap()
            .is_empty(),
        "not due"
    );
    let claimed = s.claim_due_deliveries(1_000, 50, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].body, b"{}");
    // Leased: not claimed again until the lease ends (a crash mid-attempt).
    assert!(s
        .claim_due_deliveries(1_049, 50, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.claim_due_deliveries(1_050, 50, 10).await.unwrap().len(),
        1
    );
    s.record_delivery_attempt(
        &d.id,
        &AttemptOutcome::Retry {
            next_attempt_ms: 5_000,
            status: Some(500),
            error: "the receiver answered 500".into(),
        },
    )
    .await
    .unwrap();
    assert!(s
        .claim_due_deliveries(4_999, 50, 10)
        .await
        .unwrap()
        .is_empty());
    let again = s.claim_due_deliveries(5_000, 50, 10).await.unwrap();
    assert_eq!(again[0].attempts, 1);
    assert_eq!(again[0].last_status, Some(500));
    s.record_delivery_attempt(&d.id, &AttemptOutcome::Delivered { status: 204 })
        .await
        .unwrap();
    assert!(s
        .claim_due_deliveries(i64::MAX, 50, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(s.next_delivery_due().await.unwrap(), None);
    let listed = s.list_deliveries(&w.id, 10).await.unwrap();
    assert_eq!(listed[0].state, DeliveryState::Delivered);
    assert_eq!(listed[0].attempts, 2);
    assert!(listed[0].body.is_empty(), "listings leave the body out");
    // The claim is bounded.
    for i in 0..5 {
        s.finish_job(
            &job.id,
            JobStatus::Failed,
            None,
            None,
            Some(&delivery_for(&w, &job.id, i)),
        )
        .await
        .unwrap();
    }
    assert_eq!(s.claim_due_deliveries(10, 50, 3).await.unwrap().len(), 3);
    assert_eq!(
        s.delete_finished_deliveries_before("9999").await.unwrap(),
        1
    );
}

pub(super) async fn webhooks_are_put_read_and_deleted(s: &dyn Store) {
    let (p, _) = s.ensure_project("acme").await.unwrap();
    let w = workload(&p, "bot");
    s.insert_workload(&w).await.unwrap();
    let mut hook = WebhookRecord {
        workload_id: w.id.clone(),
        url: "http://127.0.0.1:9/a".into(),
        secret: "whsec_x".into(),
        created_at: now_rfc3339(),
        updated_at: now_rfc3339(),
    };
    assert!(s.put_webhook(&hook).await.unwrap());
    hook.url = "http://127.0.0.1:9/b".into();
    assert!(!s.put_webhook(&hook).await.unwrap());
    assert_eq!(
        s.webhook(&w.id).await.unwrap().unwrap().url,
        "http://127.0.0.1:9/b"
    );
    assert!(!format!("{hook:?}").contains("whsec_x"));
    assert!(s.delete_webhook(&w.id).await.unwrap());
    assert!(!s.delete_webhook(&w.id).await.unwrap());
    assert!(s.webhook(&w.id).await.unwrap().is_none());
}

pub(super) async fn jobs_queue_and_requeue(s: &dyn Store) {
    let (p, _) = s.ensure_project("acme").await.unwrap();
    let w = workload(&p, "bot");
    s.insert_workload(&w).await.unwrap();
    let job = job_for(&p, &w, "tok");
    assert_eq!(s.insert_job(&job, LIMITS).await.unwrap(), Admission::Queued);
    let claimed = s.claim_next_job().await.unwrap().unwrap();
    assert_eq!(claimed.id, job.id);
    assert_eq!(claimed.status, JobStatus::Running);
    assert!(s.claim_next_job().await.unwrap().is_none());
    assert_eq!(s.requeue_running_jobs().await.unwrap(), 1);
    assert_eq!(s.claim_next_job().await.unwrap().unwrap().id, job.id);
    let result = serde_json::value::RawValue::from_string(r#"{"ok":true}"#.into()).unwrap();
    s.finish_job(&job.id, JobStatus::Succeeded, Some(&result), None, None)
        .await
        .unwrap();
    let done = s.job(&job.id).await.unwrap().unwrap();
    assert_eq!(done.status, JobStatus::Succeeded);
    assert_eq!(done.result.unwrap().get(), r#"{"ok":true}"#);
    assert_eq!(done.context, Some(json!({"order": 7})));

    let second = JobRecord {
        id: new_id("job"),
        ..job.clone()
    };
    s.insert_job(&second, LIMITS).await.unwrap();
    let listed = s.list_jobs(Some(&p.id), 10).await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, [second.id.as_str(), job.id.as_str()], "newest first");
    assert_eq!(listed[1].status, JobStatus::Succeeded);
    assert!(
        listed[1].body.is_empty() && listed[1].result.is_none(),
        "no payloads"
    );
    assert_eq!(s.list_jobs(None, 1).await.unwrap().len(), 1);
    assert!(s.list_jobs(Some("prj_other"), 10).await.unwrap().is_empty());
    assert_eq!(done.token_id.as_deref(), Some("tok"));
}

pub(super) async fn claims_are_fair_across_projects_and_workloads(s: &dyn Store) {
    let (a, _) = s.ensure_project("a").await.unwrap();
    let (b, _) = s.ensure_project("b").await.unwrap();
    let wa = workload(&a, "bot");
    let wb = workload(&b, "bot");
    s.insert_workload(&wa).await.unwrap();
    s.insert_workload(&wb).await.unwrap();
    let a_jobs: Vec<_> = (0..5).map(|_| job_for(&a, &wa, "ka")).collect();
    for j in &a_jobs {
        s.insert_job(j, LIMITS).await.unwrap();
    }
    let b_job = job_for(&b, &wb, "kb");
    s.insert_job(&b_job, LIMITS).await.unwrap();
    let mut order = Vec::new();
    for _ in 0..3 {
        order.push(s.claim_next_job().await.unwrap().unwrap().id);
    }
    // A's first, then B's (B runs nothing, A runs one), then A's second.
    assert_eq!(
        order,
        [a_jobs[0].id.clone(), b_job.id, a_jobs[1].id.clone()]
    );
}

pub(super) async fn the_queue_is_bounded_per_key_and_in_total(s: &dyn Store) {
    let (p, _) = s.ensure_project("acme").await.unwrap();
    let w = workload(&p, "bot");
    s.insert_workload(&w).await.unwrap();
    let limits = QueueLimits {
        per_key: 2,
        total: 3,
    };
    for _ in 0..2 {
        assert_eq!(
            s.insert_job(&job_for(&p, &w, "k1"), limits).await.unwrap(),
            Admission::Queued
        );
    }
    let third = job_for(&p, &w, "k1");
    assert_eq!(
        s.insert_job(&third, limits).await.unwrap(),
        Admission::KeyQuota
    );
    assert_eq!(
        s.insert_job(&job_for(&p, &w, "k2"), limits).await.unwrap(),
        Admission::Queued
    );
    assert_eq!(
        s.insert_job(&job_for(&p, &w, "k3"), limits).await.unwrap(),
        Admission::QueueFull
    );
    // A finished job frees its key's slot.
    let claimed = s.claim_next_job().await.unwrap().unwrap();
    s.finish_job(&claimed.id, JobStatus::Failed, None, Some(&json!({})), None)
        .await
        .unwrap();
    assert_eq!(
        s.insert_job(&third, limits).await.unwrap(),
        Admission::Queued
    );
}

pub(super) async fn retention_deletes_only_finished_jobs_before_the_cutoff(s: &dyn Store) {
    let (p, _) = s.ensure_project("acme").await.unwrap();
    let w = workload(&p, "bot");
    s.insert_workload(&w).await.unwrap();
    let old = job_for(&p, &w, "k");
    let queued = job_for(&p, &w, "k");
    s.insert_job(&old, LIMITS).await.unwrap();
    s.insert_job(&queued, LIMITS).await.unwrap();
    let claimed = s.claim_next_job().await.unwrap().unwrap();
    assert_eq!(claimed.id, old.id);
    s.finish_job(&old.id, JobStatus::Failed, None, Some(&json!({})), None)
        .await
        .unwrap();
    assert_eq!(
        s.delete_finished_jobs_before("2000-01-01T00:00:00.000Z")
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        s.delete_finished_jobs_before("9999-01-01T00:00:00.000Z")
            .await
            .unwrap(),
        1
    );
    assert!(s.job(&old.id).await.unwrap().is_none());
    assert!(s.job(&queued.id).await.unwrap().is_some());
}

fn token(project: &Project, kind: TokenKind) -> TokenRecord {
    TokenRecord {
        id: new_id("t"),
        kind,
        project_id: Some(project.id.clone()),
        project_slug: Some(project.slug.clone()),
        scope: (kind == TokenKind::Live).then(|| "*".to_string()),
        secret_hash: [7u8; 32],
        created_at: now_rfc3339(),
        revoked_at: None,
        worker_id: None,
    }
}

pub(super) async fn tokens_are_stored_listed_and_revoked(s: &dyn Store) {
    let (a, _) = s.ensure_project("a").await.unwrap();
    let (b, _) = s.ensure_project("b").await.unwrap();
    let sdk = token(&a, TokenKind::Sdk);
    let live = token(&b, TokenKind::Live);
    let admin = TokenRecord {
        project_id: None,
        project_slug: None,
        ..token(&a, TokenKind::Admin)
    };
    for t in [&sdk, &live, &admin] {
        s.insert_token(t).await.unwrap();
    }
    assert!(matches!(
        s.insert_token(&sdk).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.token(&sdk.id).await.unwrap().unwrap(), sdk);
    assert_eq!(s.token(&admin.id).await.unwrap().unwrap(), admin);
    let ids = |v: Vec<TokenRecord>| v.into_iter().map(|t| t.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.list_tokens(None).await.unwrap()),
        [sdk.id.clone(), live.id.clone()],
        "oldest first, admin tokens left out"
    );
    assert_eq!(ids(s.list_tokens(Some("b")).await.unwrap()), [live.id]);
    let revoked = s.revoke_token(&sdk.id).await.unwrap().unwrap();
    let at = revoked.revoked_at.clone().unwrap();
    // The first revocation time is kept.
    let again = s.revoke_token(&sdk.id).await.unwrap().unwrap();
    assert_eq!(again.revoked_at, Some(at));
    assert!(s.revoke_token("nope").await.unwrap().is_none());
    assert_eq!(
        s.list_projects()
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.slug)
            .collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!(s.project_by_slug("b").await.unwrap().unwrap(), b);
    assert!(s.project_by_slug("c").await.unwrap().is_none());
}

fn worker_token(worker_id: &str) -> TokenRecord {
    TokenRecord {
        id: new_id("t"),
        kind: TokenKind::Worker,
        project_id: None,
        project_slug: None,
        scope: None,
        secret_hash: [9u8; 32],
        created_at: now_rfc3339(),
        revoked_at: None,
        worker_id: Some(worker_id.to_string()),
    }
}

/// A worker token is stored with its worker, listed (only when no project is asked for) and
/// revoked like the others; the database itself refuses a worker token without a worker (or
/// with an unknown one) and any other kind that names a worker.
pub(super) async fn worker_tokens_name_their_worker(s: &dyn Store) {
    let (p, _) = s.ensure_project("acme").await.unwrap();
    let w = Worker {
        id: new_id("wrk"),
        name: "box".into(),
        created_at: now_rfc3339(),
    };
    s.insert_worker(&w).await.unwrap();
    let sdk = token(&p, TokenKind::Sdk);
    let wt = worker_token(&w.id);
    s.insert_token(&sdk).await.unwrap();
    s.insert_token(&wt).await.unwrap();
    assert_eq!(s.token(&wt.id).await.unwrap().unwrap(), wt);
    let ids = |v: Vec<TokenRecord>| v.into_iter().map(|t| t.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.list_tokens(None).await.unwrap()),
        [sdk.id.clone(), wt.id.clone()]
    );
    assert_eq!(ids(s.list_tokens(Some("acme")).await.unwrap()), [sdk.id]);
    let revoked = s.revoke_token(&wt.id).await.unwrap().unwrap();
    assert!(revoked.revoked_at.is_some());
    assert_eq!(revoked.worker_id, wt.worker_id);

    let refused = [
        TokenRecord {
            worker_id: None,
            ..worker_token(&w.id)
        },
        worker_token("wrk_unknown"),
        TokenRecord {
            worker_id: Some(w.id.clone()),
            ..token(&p, TokenKind::Live)
        },
    ];
    for bad in refused {
        let got = s.insert_token(&bad).await;
        assert!(
            matches!(got, Err(StoreError::Db(_) | StoreError::Postgres(_))),
            "{bad:?}: {got:?}"
        );
        assert!(s.token(&bad.id).await.unwrap().is_none());
    }
}

/// A database made before worker tokens (PostgreSQL migration 1 only) keeps its tokens and
/// takes worker tokens once a Manager opens it: the kind's CHECK, dropped by its name and
/// added again, admits `worker` and still refuses anything else.
pub(super) async fn a_schema_from_before_worker_tokens_is_upgraded(b: &Backend) {
    let Backend::Postgres(url) = b else {
        unreachable!()
    };
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(migrations::POSTGRES_MIGRATIONS[0])
        .await
        .unwrap();
    client
        .batch_execute(
            "CREATE TABLE schema_version (version BIGINT NOT NULL);
             INSERT INTO schema_version (version) VALUES (1);
             INSERT INTO projects (id, tenant_id, slug, created_at)
                 VALUES ('prj_old', 'tnt_local', 'old', '2026-01-01T00:00:00.000Z');
             INSERT INTO tokens (id, kind, project_id, scope, secret_hash, created_at)
                 VALUES ('oldsdk', 'sdk', 'prj_old', NULL, decode(repeat('07', 32), 'hex'), '2026-01-01T00:00:00.000Z'),
                        ('oldlive', 'live', 'prj_old', '*', decode(repeat('07', 32), 'hex'), '2026-01-01T00:00:00.000Z')",
        )
        .await
        .unwrap();
    // A worker token cannot be stored yet: the old CHECK refuses the kind.
    assert!(client
        .batch_execute(
            "INSERT INTO tokens (id, kind, secret_hash, created_at)
             VALUES ('early', 'worker', decode(repeat('07', 32), 'hex'), '2026-01-01T00:00:00.000Z')"
        )
        .await
        .is_err());

    let s = b.open().await;
    let listed: Vec<(String, TokenKind)> = s
        .list_tokens(None)
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.id, t.kind))
        .collect();
    assert_eq!(
        listed,
        [
            ("oldsdk".to_string(), TokenKind::Sdk),
            ("oldlive".to_string(), TokenKind::Live)
        ]
    );
    let w = Worker {
        id: new_id("wrk"),
        name: "box".into(),
        created_at: now_rfc3339(),
    };
    s.insert_worker(&w).await.unwrap();
    let wt = worker_token(&w.id);
    s.insert_token(&wt).await.unwrap();
    assert_eq!(s.token(&wt.id).await.unwrap().unwrap(), wt);
    let check: String = client
        .query_one(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint
             WHERE conname = 'tokens_kind_check'
               AND conrelid = 'tokens'::regclass",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(check.contains("'worker'"), "{check}");
    assert!(client
        .batch_execute(
            "INSERT INTO tokens (id, kind, secret_hash, created_at)
             VALUES ('other', 'other', decode(repeat('07', 32), 'hex'), '2026-01-01T00:00:00.000Z')"
        )
        .await
        .is_err());
}

fn replica_for(w: &WorkloadRecord, worker_id: &str) -> ReplicaRecord {
    ReplicaRecord {
        id: new_id("rep"),
        workload_id: w.id.clone(),
        worker_id: worker_id.to_string(),
        spec_hash: "abc".into(),
        launch: json!({"model": "m", "command": "vllm serve m"}),
        phase: ReplicaPhase::Assigned,
        port: None,
        last_error: None,
        created_at: now_rfc3339(),
        updated_at: now_rfc3339(),
    }
}

/// A worker's agent is heard from (address and time), its assigned replicas are listed to
/// it oldest first, and it reports their state; a report for a replica that is not its own
/// (another worker's, or one taken off) writes nothing. Deleting the workload takes its
/// replicas off.
pub(super) async fn agents_heartbeat_and_report_their_replicas(s: &dyn Store) {
    let (p, _) = s.ensure_project("acme").await.unwrap();
    let w = workload(&p, "bot");
    s.insert_workload(&w).await.unwrap();
    let [a, b] = ["a", "b"].map(|name| Worker {
        id: new_id("wrk"),
        name: name.into(),
        created_at: now_rfc3339(),
    });
    for worker in [&a, &b] {
        s.insert_worker(worker).await.unwrap();
    }
    assert_eq!(s.worker_presence(&a.id).await.unwrap(), None);
    assert!(s
        .worker_heartbeat(&a.id, "127.0.0.2", "2026-01-01T00:00:00.000Z")
        .await
        .unwrap());
    assert!(s
        .worker_heartbeat(&a.id, "127.0.0.3", "2026-01-01T00:00:05.000Z")
        .await
        .unwrap());
    assert!(!s
        .worker_heartbeat("wrk_unknown", "127.0.0.2", "2026-01-01T00:00:00.000Z")
        .await
        .unwrap());
    assert_eq!(
        s.worker_presence(&a.id).await.unwrap(),
        Some(WorkerPresence {
            address: "127.0.0.3".into(),
            last_seen: "2026-01-01T00:00:05.000Z".into()
        })
    );
    assert_eq!(s.worker_presence(&b.id).await.unwrap(), None);

    let first = replica_for(&w, &a.id);
    let second = replica_for(&w, &a.id);
    let theirs = replica_for(&w, &b.id);
    for r in [&first, &second, &theirs] {
        s.assign_replica(r).await.unwrap();
    }
    assert!(matches!(
        s.assign_replica(&first).await,
        Err(StoreError::Conflict(_))
    ));
    let ids = |v: Vec<ReplicaRecord>| v.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.replicas_of_worker(&a.id).await.unwrap()),
        [first.id.clone(), second.id.clone()]
    );
    assert_eq!(s.replica(&first.id).await.unwrap().unwrap(), first);

    let ready = ReplicaReport {
        replica_id: first.id.clone(),
        phase: ReplicaPhase::Ready,
        port: Some(8123),
        last_error: None,
    };
    assert!(s
        .report_replica(&a.id, &ready, "2026-01-01T00:00:06.000Z")
        .await
        .unwrap());
    let got = s.replica(&first.id).await.unwrap().unwrap();
    assert_eq!(
        (got.phase, got.port, got.updated_at.as_str()),
        (ReplicaPhase::Ready, Some(8123), "2026-01-01T00:00:06.000Z")
    );
    // Worker b cannot report a's replica, nor a b's.
    let stolen = ReplicaReport {
        phase: ReplicaPhase::Error,
        port: None,
        last_error: Some("boom".into()),
        ..ready.clone()
    };
    assert!(!s.report_replica(&b.id, &stolen, "x").await.unwrap());
    assert_eq!(
        s.replica(&first.id).await.unwrap().unwrap().phase,
        ReplicaPhase::Ready
    );
    let theirs_report = ReplicaReport {
        replica_id: theirs.id.clone(),
        ..stolen.clone()
    };
    assert!(!s.report_replica(&a.id, &theirs_report, "x").await.unwrap());
    assert!(s.unassign_replica(&second.id).await.unwrap());
    assert!(!s.unassign_replica(&second.id).await.unwrap());
    let gone = ReplicaReport {
        replica_id: second.id.clone(),
        ..ready.clone()
    };
    assert!(!s.report_replica(&a.id, &gone, "x").await.unwrap());
    assert_eq!(ids(s.replicas_of_worker(&a.id).await.unwrap()), [first.id]);

    assert!(s.delete_workload(&w.id).await.unwrap());
    assert!(s.replicas_of_worker(&a.id).await.unwrap().is_empty());
    assert!(s.replicas_of_worker(&b.id).await.unwrap().is_empty());
    let w2 = workload(&p, "bot2");
    s.insert_workload(&w2).await.unwrap();
    s.assign_replica(&replica_for(&w2, &b.id)).await.unwrap();
    assert_eq!(s.clear_replicas().await.unwrap(), 1);
    assert!(s.replicas_of_worker(&b.id).await.unwrap().is_empty());
}

pub(super) async fn workers_and_gpus_round_trip(s: &dyn Store) {
    let w = Worker {
        id: new_id("wrk"),
        name: "box".into(),
        created_at: now_rfc3339(),
    };
    s.insert_worker(&w).await.unwrap();
    let g = Gpu {
        id: new_id("gpu"),
        name: "a100".into(),
        worker_id: Some(w.id.clone()),
        created_at: now_rfc3339(),
    };
    s.insert_gpu(&g).await.unwrap();
    assert_eq!(s.worker(&w.id).await.unwrap().unwrap(), w);
    assert_eq!(s.list_workers().await.unwrap(), [w]);
    assert_eq!(s.gpu(&g.id).await.unwrap().unwrap(), g);
    assert_eq!(s.list_gpus().await.unwrap(), [g]);
    assert!(s.worker("nope").await.unwrap().is_none());
}

/// A second store on the same database (a restarted Manager, or another one) sees every
/// record the first wrote.
pub(super) async fn what_one_store_writes_another_reads(a: &dyn Store, b: &dyn Store) {
    let (p, created) = a.ensure_project("acme").await.unwrap();
    assert!(created);
    let (same, created) = b.ensure_project("acme").await.unwrap();
    assert!(!created);
    assert_eq!(same, p);
    let w = workload(&p, "bot");
    a.insert_workload(&w).await.unwrap();
    a.set_workload_status(&w.id, "ready", "serving")
        .await
        .unwrap();
    let read = b.workload_by_slug(&p.id, "bot").await.unwrap().unwrap();
    assert_eq!(
        (read.status.as_str(), read.status_message.as_str()),
        ("ready", "serving")
    );
    let t = token(&p, TokenKind::Sdk);
    a.insert_token(&t).await.unwrap();
    assert!(b
        .revoke_token(&t.id)
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_some());
    assert!(a.token(&t.id).await.unwrap().unwrap().revoked_at.is_some());
    let job = job_for(&p, &w, "tok");
    a.insert_job(&job, LIMITS).await.unwrap();
    assert_eq!(b.claim_next_job().await.unwrap().unwrap().id, job.id);
    // A restart puts what a crash left running back in the queue.
    assert_eq!(b.requeue_running_jobs().await.unwrap(), 1);
    assert_eq!(
        b.job(&job.id).await.unwrap().unwrap().status,
        JobStatus::Queued
    );
}

pub(super) async fn slugs_are_unique_across_stores(a: &dyn Store, b: &dyn Store) {
    let (pa, pb) = tokio::join!(a.ensure_project("acme"), b.ensure_project("acme"));
    let ((pa, ca), (pb, cb)) = (pa.unwrap(), pb.unwrap());
    assert_eq!(pa, pb);
    assert!(ca ^ cb, "exactly one store created the project");
    for round in 0..5 {
        let slug = format!("bot{round}");
        let (wa, wb) = (workload(&pa, &slug), workload(&pa, &slug));
        let (ra, rb) = tokio::join!(a.insert_workload(&wa), b.insert_workload(&wb));
        let conflicts = [&ra, &rb]
            .iter()
            .filter(|r| matches!(r, Err(StoreError::Conflict(_))))
            .count();
        assert!(ra.is_ok() ^ rb.is_ok(), "{ra:?} {rb:?}");
        assert_eq!(conflicts, 1, "{ra:?} {rb:?}");
    }
    assert_eq!(a.list_workloads(Some(&pa.id)).await.unwrap().len(), 5);
}

pub(super) async fn an_idempotency_key_is_claimed_once_across_stores(a: &dyn Store, b: &dyn Store) {
    let fp = [1u8; 32];
    for round in 0..5 {
        let key = format!("k{round}");
        let (ra, rb) = tokio::join!(
            a.idempotency_begin("tok", &key, &fp, 86400),
            b.idempotency_begin("tok", &key, &fp, 86400)
        );
        let mut got = [ra.unwrap(), rb.unwrap()];
        got.sort_by_key(|g| format!("{g:?}"));
        assert_eq!(got, [IdempotencyBegin::InUse, IdempotencyBegin::Started]);
    }
    a.idempotency_finish("tok", "k0", 201, b"{}").await.unwrap();
    assert_eq!(
        b.idempotency_begin("tok", "k0", &fp, 86400).await.unwrap(),
        IdempotencyBegin::Replay {
            status: 201,
            body: b"{}".to_vec()
        }
    );
    b.idempotency_abandon("tok", "k1").await.unwrap();
    assert_eq!(
        a.idempotency_begin("tok", "k1", &fp, 86400).await.unwrap(),
        IdempotencyBegin::Started
    );
}

pub(super) async fn no_job_is_claimed_twice_across_stores(a: &dyn Store, b: &dyn Store) {
    let (p, _) = a.ensure_project("acme").await.unwrap();
    let w = workload(&p, "bot");
    a.insert_workload(&w).await.unwrap();
    let mut ids: Vec<String> = Vec::new();
    for _ in 0..20 {
        let j = job_for(&p, &w, "tok");
        ids.push(j.id.clone());
        a.insert_job(&j, LIMITS).await.unwrap();
    }
    async fn drain(s: &dyn Store) -> Vec<String> {
        let mut got = Vec::new();
        while let Some(j) = s.claim_next_job().await.unwrap() {
            assert_eq!(j.status, JobStatus::Running);
            got.push(j.id);
        }
        got
    }
    let (ga, gb) = tokio::join!(drain(a), drain(b));
    let mut all: Vec<String> = ga.into_iter().chain(gb).collect();
    all.sort();
    ids.sort();
    assert_eq!(all, ids, "every job claimed exactly once");
}

pub(super) async fn the_queue_limits_hold_across_stores(a: &dyn Store, b: &dyn Store) {
    let (p, _) = a.ensure_project("acme").await.unwrap();
    let w = workload(&p, "bot");
    a.insert_workload(&w).await.unwrap();
    let limits = QueueLimits {
        per_key: 3,
        total: 5,
    };
    async fn submit(
        s: &dyn Store,
        p: &Project,
        w: &WorkloadRecord,
        key: &str,
        limits: QueueLimits,
    ) -> Vec<Admission> {
        let mut got = Vec::new();
        for _ in 0..4 {
            got.push(s.insert_job(&job_for(p, w, key), limits).await.unwrap());
        }
        got
    }
    // Two keys, each submitting through both stores at once.
    let (r1, r2, r3, r4) = tokio::join!(
        submit(a, &p, &w, "k1", limits),
        submit(b, &p, &w, "k1", limits),
        submit(a, &p, &w, "k2", limits),
        submit(b, &p, &w, "k2", limits),
    );
    let all: Vec<Admission> = [r1, r2, r3, r4].concat();
    let queued = all.iter().filter(|x| **x == Admission::Queued).count();
    assert_eq!(queued, 5, "{all:?}");
    let jobs = b.list_jobs(Some(&p.id), 100).await.unwrap();
    assert_eq!(jobs.len(), 5);
    for key in ["k1", "k2"] {
        let n = jobs
            .iter()
            .filter(|j| j.token_id.as_deref() == Some(key))
            .count();
        assert!(n <= 3, "{key} has {n} jobs, over its quota of 3");
    }
}

pub(super) async fn no_delivery_is_claimed_twice_across_stores(a: &dyn Store, b: &dyn Store) {
    let (p, _) = a.ensure_project("acme").await.unwrap();
    let w = workload(&p, "bot");
    a.insert_workload(&w).await.unwrap();
    let job = job_for(&p, &w, "tok");
    a.insert_job(&job, LIMITS).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..20 {
        let d = delivery_for(&w, &job.id, i);
        ids.push(d.id.clone());
        a.finish_job(&job.id, JobStatus::Failed, None, None, Some(&d))
            .await
            .unwrap();
    }
    async fn drain(s: &dyn Store) -> Vec<String> {
        let mut got = Vec::new();
        loop {
            let batch = s.claim_due_deliveries(1_000, 1_000_000, 3).await.unwrap();
            if batch.is_empty() {
                return got;
            }
            got.extend(batch.into_iter().map(|d| d.id));
        }
    }
    let (ga, gb) = tokio::join!(drain(a), drain(b));
    let mut all: Vec<String> = ga.into_iter().chain(gb).collect();
    all.sort();
    ids.sort();
    assert_eq!(all, ids, "every delivery leased exactly once");
}

/// A Manager starting next to a live one leaves the live one's running jobs and idempotency
/// claims alone; once that one is gone, the next start releases them.
pub(super) async fn a_starting_manager_releases_only_what_dead_ones_left(b: &Backend) {
    let first = b.open().await;
    let (p, _) = first.ensure_project("acme").await.unwrap();
    let w = workload(&p, "bot");
    first.insert_workload(&w).await.unwrap();
    let job = job_for(&p, &w, "tok");
    first.insert_job(&job, LIMITS).await.unwrap();
    assert_eq!(first.claim_next_job().await.unwrap().unwrap().id, job.id);
    let fp = [3u8; 32];
    assert_eq!(
        first
            .idempotency_begin("tok", "k", &fp, 86400)
            .await
            .unwrap(),
        IdempotencyBegin::Started
    );

    let second = b.open().await;
    assert_eq!(second.requeue_running_jobs().await.unwrap(), 0);
    second.idempotency_reset_running().await.unwrap();
    assert_eq!(
        second.job(&job.id).await.unwrap().unwrap().status,
        JobStatus::Running
    );
    assert_eq!(
        second
            .idempotency_begin("tok", "k", &fp, 86400)
            .await
            .unwrap(),
        IdempotencyBegin::InUse
    );

    // The first Manager dies: its lock goes with its connection (the server notices the
    // closed socket; until then a start sees it alive, so this waits for that).
    drop(first);
    let mut requeued = 0;
    for _ in 0..200 {
        requeued = second.requeue_running_jobs().await.unwrap();
        if requeued > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(requeued, 1, "the dead Manager's job was never re-queued");
    second.idempotency_reset_running().await.unwrap();
    assert_eq!(
        second
            .idempotency_begin("tok", "k", &fp, 86400)
            .await
            .unwrap(),
        IdempotencyBegin::Started
    );
}

/// A server that cannot be reached is `Unavailable` (a 503, or `serve`'s typed error); when
/// the server drops the store's connections, the store reconnects on its next calls.
/// The server drops every connection of the test's schema (its stores' `application_name`),
/// as a restart or a network cut would; how many it dropped.
async fn drop_connections(b: &Backend) -> usize {
    let Backend::Postgres(url) = b else {
        unreachable!()
    };
    let app = url.rsplit("application_name=").next().unwrap().to_string();
    let (admin, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name = $1 AND pid <> pg_backend_pid()",
            &[&app],
        )
        .await
        .unwrap()
        .len()
}

pub(super) async fn a_lost_connection_is_unavailable_and_the_store_recovers(b: &Backend) {
    // Port 1 on loopback: nothing listens there.
    match PostgresStore::open("postgres://postgres@127.0.0.1:1/postgres").await {
        Err(StoreError::Unavailable(why)) => assert!(why.contains("PostgreSQL"), "{why}"),
        Err(other) => panic!("refused connection gave {other:?}"),
        Ok(_) => panic!("a store opened on a closed port"),
    }
    let s = b.open().await;
    s.ensure_project("acme").await.unwrap();
    assert!(
        drop_connections(b).await > 0,
        "the store had no connection to drop"
    );
    // Each call may meet one dropped connection (then it is `Unavailable`); the pool
    // replaces those, so the store answers again within a few calls.
    let mut answered = None;
    for _ in 0..20 {
        match s.project_by_slug("acme").await {
            Ok(p) => {
                answered = p;
                break;
            }
            Err(StoreError::Unavailable(_)) => continue,
            Err(other) => panic!("a dropped connection gave {other:?}, not Unavailable"),
        }
    }
    assert_eq!(answered.map(|p| p.slug).as_deref(), Some("acme"));
}

/// The leader lease is held by one live store of a schema at a time and passes on when that
/// store is dropped (its connection closes, as when its process dies); what the leader
/// publishes and what the others report of their gateways is read across stores.
pub(super) async fn one_store_leads_until_it_is_gone_and_publishes_what_it_serves(b: &Backend) {
    let first = b.open().await;
    let second = b.open().await;
    assert!(first.lead().await.unwrap(), "the first to ask leads");
    assert!(first.lead().await.unwrap(), "and keeps leading");
    assert!(!second.lead().await.unwrap(), "one leader at a time");
    // Another schema of the same database has a leader of its own.
    let elsewhere = Backend::postgres().await.unwrap().open().await;
    assert!(elsewhere.lead().await.unwrap());

    let (p, _) = first.ensure_project("acme").await.unwrap();
    let w = workload(&p, "bot");
    first.insert_workload(&w).await.unwrap();
    let state = ServingState {
        phase: "ready".into(),
        message: "serving 1 of 1 replicas".into(),
        step: Some("ready".into()),
        elapsed_ms: 1200,
        urls: vec!["http://127.0.0.1:4001".into()],
        wanted: 1,
        closed: None,
        leader: Some("http://127.0.0.1:7000".into()),
    };
    first.put_serving(&w.id, &state).await.unwrap();
    assert_eq!(
        second.list_serving().await.unwrap(),
        vec![(w.id.clone(), state)]
    );
    // A deleted workload's state is gone with it, and publishing it again writes nothing.
    let gone = workload(&p, "gone");
    first.insert_workload(&gone).await.unwrap();
    first.delete_workload(&gone.id).await.unwrap();
    first
        .put_serving(
            &gone.id,
            &ServingState {
                phase: "ready".into(),
                message: String::new(),
                step: None,
                elapsed_ms: 0,
                urls: vec![],
                wanted: 0,
                closed: None,
                leader: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(second.list_serving().await.unwrap().len(), 1);

    let load = |id: &str, n: usize, url: &str| GatewayLoad {
        workload_id: id.to_string(),
        in_flight: n,
        by_replica: [(url.to_string(), n)].into_iter().collect(),
    };
    let url = "http://127.0.0.1:4001";
    second
        .put_gateway_load(&[load(&w.id, 3, url), load(&gone.id, 9, url)], 10_000)
        .await
        .unwrap();
    elsewhere
        .put_gateway_load(&[load(&w.id, 5, url)], 10_000)
        .await
        .unwrap();
    assert_eq!(
        first.gateway_load(9_000).await.unwrap(),
        vec![load(&w.id, 3, url)]
    );
    // Two reports of one schema add up.
    let third = b.open().await;
    third
        .put_gateway_load(&[load(&w.id, 2, "http://127.0.0.1:4002")], 10_000)
        .await
        .unwrap();
    let summed = first.gateway_load(9_000).await.unwrap();
    assert_eq!(summed.len(), 1);
    assert_eq!(summed[0].in_flight, 5);
    assert_eq!(summed[0].by_replica.values().sum::<usize>(), 5);
    assert!(
        first.gateway_load(10_001).await.unwrap().is_empty(),
        "a stale report"
    );
    let others = second.gateway_load(0).await.unwrap();
    assert_eq!(
        others.iter().map(|l| l.in_flight).collect::<Vec<_>>(),
        [2],
        "a store's own report is not another's load"
    );

    // The server drops every connection of the schema (a restart, a network cut): the lease
    // goes with the leader's, and a store reconnects and leads again rather than following
    // for ever.
    assert!(
        drop_connections(b).await > 0,
        "the stores had no connection to drop"
    );
    let mut leaders = 0;
    for _ in 0..100 {
        let (a, b2) = (
            first.lead().await.unwrap_or(false),
            second.lead().await.unwrap_or(false),
        );
        assert!(!(a && b2), "two leaders at once");
        if a {
            leaders = 1;
            break;
        }
        if b2 {
            // The other got there first this time; it is the leader now.
            leaders = 2;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_ne!(
        leaders, 0,
        "nobody leads again after the connections dropped"
    );
    let (first, second) = if leaders == 1 {
        (first, second)
    } else {
        (second, first)
    };
    assert!(first.lead().await.unwrap() && !second.lead().await.unwrap());

    drop(first);
    let mut led = false;
    for _ in 0..100 {
        if second.lead().await.unwrap() {
            led = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(led, "the lease passes on once its holder is gone");
}
