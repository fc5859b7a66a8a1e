//! The PostgreSQL [`Store`], for several Managers sharing one database
//! (`inferencekey serve --store postgres://…`).
//!
//! tokio-postgres with a deadpool-postgres pool rather than sqlx: the Manager already runs
//! on tokio and writes its SQL by hand (as the SQLite store does), so a plain async client and
//! a small pool are all it needs, without sqlx's macros, compile-time checking database or
//! extra runtime layers. Every rule that must hold across processes is in the database:
//! UNIQUE constraints (project and workload slugs, token ids, custom backend versions),
//! row locks (`FOR UPDATE`, `FOR UPDATE SKIP LOCKED` for claims) and one transaction-scoped
//! advisory lock that serializes job admission (the queue limits count rows). Nothing relies
//! on an in-process lock.
//!
//! A Manager starting after a crash puts the jobs it left running back in the queue and drops
//! its unfinished idempotency claims. With several Managers on one database, "its" matters:
//! each store takes an instance number and holds a session advisory lock on it for its whole
//! life, on a connection of its own; running jobs and claims record that number
//! (`claimed_by`), and a start releases only those whose holder's lock is gone (its process,
//! or its connection, died), never a live Manager's.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use inferencekey_core::token::TokenKind;
use serde_json::Value;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use super::{
    migrations, Admission, AttemptOutcome, CustomBackendRecord, DeliveryRecord, DeliveryState,
    GatewayLoad, Gpu, IdempotencyBegin, JobRecord, JobStatus, Project, QueueLimits, ReplicaPhase,
    ReplicaRecord, ReplicaReport, ServingState, Store, StoreError, StoreResult, TokenRecord,
    WebhookRecord, Worker, WorkerPresence, WorkloadRecord,
};
use crate::util::{new_id, now_rfc3339, now_unix};

const TENANT: &str = "tnt_local";

/// Connections one Manager keeps open at most.
const POOL_SIZE: usize = 16;
/// How long a call waits for a connection (from the pool or a new one) before the store is
/// reported unavailable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The advisory lock key that serializes job admission (any fixed number: "IKjobs").
const ADMISSION_LOCK: i64 = 0x494b_6a6f_6273;
/// The advisory lock key held while migrating, so two Managers starting at once do not both
/// create the schema.
const MIGRATION_LOCK: i64 = 0x494b_6d69_6772;
/// The first key of the leader lease's advisory lock ("IKld"); the second is the hash of the
/// schema, so Managers on different schemas of one database (the test suites do that) each
/// have their own leader. Held, on the connection that marks the store alive, by the one
/// Manager that runs supervisors.
const LEADER_LOCK_SPACE: i32 = 0x494b_6c64;
/// The first key of the two-key advisory locks that mark live stores ("IKMg").
const LIVE_LOCK_SPACE: i32 = 0x494b_4d67;

/// A claim (`claimed_by`) is live when its store still holds its advisory lock. `me` is the
/// parameter holding the caller's own instance, whose claims count as dead: a store releasing
/// its own claims is restarting them.
fn claim_is_dead(me: &str) -> String {
    format!(
        "(claimed_by IS NULL OR claimed_by = {me} OR NOT EXISTS (
        SELECT 1 FROM pg_locks l
        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.classid = {LIVE_LOCK_SPACE}::oid AND l.objid = claimed_by::oid))"
    )
}

pub struct PostgresStore {
    pool: Pool,
    /// This store's number in `claimed_by` (positive, random).
    instance: i32,
    /// The connection holding the advisory lock on `instance` while the store lives;
    /// dropping the store closes it, which releases the lock. The leader lease is held on
    /// it too: a Manager that dies, or loses this connection, leads no more.
    /// A lost one (the server restarted, the network dropped it) is made again by
    /// [`Store::lead`], with the same instance number.
    alive: tokio::sync::Mutex<tokio_postgres::Client>,
    /// How `alive` connects.
    config: tokio_postgres::Config,
    /// Whether `alive` holds the leader lease (a session lock is re-entrant, so it is
    /// taken once and then only checked).
    leading: std::sync::atomic::AtomicBool,
}

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

impl PostgresStore {
    /// Connects to `url` (a libpq connection URL such as `postgres://user@host:5432/db`) and
    /// runs pending migrations. A URL that does not parse is a `Corrupt` error naming it; a
    /// server that cannot be reached is `Unavailable`.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("the PostgreSQL URL does not parse: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("inferencekey-manager");
        }
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| StoreError::Corrupt(format!("cannot make a connection pool: {e}")))?;
        let instance = rand::random_range(1..i32::MAX);
        let alive = Self::connect_alive(&config, instance).await?;
        let store = PostgresStore {
            pool,
            instance,
            alive: tokio::sync::Mutex::new(alive),
            config,
            leading: std::sync::atomic::AtomicBool::new(false),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// A connection of its own holding the advisory lock that marks store `instance` alive.
    async fn connect_alive(
        config: &tokio_postgres::Config,
        instance: i32,
    ) -> StoreResult<tokio_postgres::Client> {
        let (alive, connection) = config.connect(NoTls).await.map_err(pg_err)?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::error!(error = %e, "lost the PostgreSQL connection that marks this Manager alive (and holds its leader lease); another Manager may re-queue its running jobs and take the lease; reconnecting");
            }
        });
        // `try`: a lock that is not granted means a dead session of ours still holds it
        // for a moment (the server has not noticed yet); the next check connects again.
        let got: bool = alive
            .query_one(
                "SELECT pg_try_advisory_lock($1, $2)",
                &[&LIVE_LOCK_SPACE, &instance],
            )
            .await
            .map_err(pg_err)?
            .get(0);
        if !got {
            return Err(StoreError::Unavailable(
                "this Manager's previous PostgreSQL session still holds its lock; retrying".into(),
            ));
        }
        Ok(alive)
    }

    async fn migrate(&self) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(pg_err)?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
            .await
            .map_err(pg_err)?;
        let current: Option<i64> = tx
            .query_opt("SELECT version FROM schema_version", &[])
            .await
            .map_err(pg_err)?
            .map(|r| r.get(0));
        let current = current.unwrap_or(0) as usize;
        let all = migrations::POSTGRES_MIGRATIONS;
        if current < all.len() {
            for sql in &all[current..] {
                tx.batch_execute(sql).await.map_err(pg_err)?;
            }
            tx.execute("DELETE FROM schema_version", &[])
                .await
                .map_err(pg_err)?;
            tx.execute(
                "INSERT INTO schema_version (version) VALUES ($1)",
                &[&(all.len() as i64)],
            )
            .await
            .map_err(pg_err)?;
        }
        tx.commit().await.map_err(pg_err)
    }

    async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        self.pool.get().await.map_err(pool_err)
    }

    async fn execute(&self, sql: &str, params: Params<'_>) -> StoreResult<u64> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(sql).await.map_err(pg_err)?;
        client.execute(&stmt, params).await.map_err(pg_err)
    }

    async fn query(&self, sql: &str, params: Params<'_>) -> StoreResult<Vec<Row>> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(sql).await.map_err(pg_err)?;
        client.query(&stmt, params).await.map_err(pg_err)
    }

    async fn query_opt(&self, sql: &str, params: Params<'_>) -> StoreResult<Option<Row>> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(sql).await.map_err(pg_err)?;
        client.query_opt(&stmt, params).await.map_err(pg_err)
    }

    /// Every workload row, parsed, or its id and why it does not parse.
    #[allow(clippy::type_complexity)]
    async fn scan_workloads(
        &self,
        project_id: Option<&str>,
    ) -> StoreResult<Vec<Result<WorkloadRecord, (String, String)>>> {
        let rows = self
            .query(
                &format!(
                    "SELECT {WORKLOAD_COLUMNS} FROM workloads w JOIN projects p ON p.id = w.project_id
                     WHERE $1::TEXT IS NULL OR w.project_id = $1
                     ORDER BY w.seq"
                ),
                &[&project_id],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let id: String = r.get(0);
                workload_row(r).map_err(|e| (id, e.to_string()))
            })
            .collect())
    }
}

/// A PostgreSQL error with what its `Display` leaves out: the server's message and SQLSTATE,
/// or the socket error underneath ("error connecting to server: Connection refused").
pub(super) fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} (SQLSTATE {})", db.message(), db.code().code());
    }
    match std::error::Error::source(e) {
        Some(source) => format!("{e}: {source}"),
        None => e.to_string(),
    }
}

/// Maps a PostgreSQL error: a lost or refused connection, a server shutting down or out of
/// disk or memory is `Unavailable` (a 503 the client may retry), like SQLite's full disk.
fn pg_err(e: tokio_postgres::Error) -> StoreError {
    if e.is_closed() {
        return StoreError::Unavailable(format!(
            "the PostgreSQL connection closed: {}",
            describe(&e)
        ));
    }
    match e.code() {
        Some(code) => {
            let c = code.code();
            if c.starts_with("08") // connection exception
                || c.starts_with("53") // insufficient resources (disk full, out of memory)
                || c.starts_with("57P") // admin shutdown, crash shutdown, cannot connect now
                || *code == SqlState::READ_ONLY_SQL_TRANSACTION
            {
                StoreError::Unavailable(describe(&e))
            } else {
                StoreError::Postgres(e)
            }
        }
        // No SQLSTATE: the error came from the socket (connect, read or write).
        None => StoreError::Unavailable(format!("cannot reach PostgreSQL: {}", describe(&e))),
    }
}

fn pool_err(e: PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => pg_err(e),
        other => StoreError::Unavailable(format!("no PostgreSQL connection: {other}")),
    }
}

fn is_unique_violation(e: &StoreError) -> bool {
    matches!(e, StoreError::Postgres(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION))
}

fn conflict(e: StoreError, what: String) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Conflict(what)
    } else {
        e
    }
}

fn bad(column: &str, why: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("column {column}: {why}"))
}

fn get<'a, T: tokio_postgres::types::FromSql<'a>>(
    r: &'a Row,
    i: usize,
    column: &str,
) -> StoreResult<T> {
    r.try_get(i).map_err(|e| bad(column, e))
}

const REPLICA_COLUMNS: &str = "id, workload_id, worker_id, spec_hash, launch, phase, port, \
     last_error, created_at, updated_at";

fn replica_row(r: &Row) -> StoreResult<ReplicaRecord> {
    let phase: String = get(r, 5, "phase")?;
    let port: Option<i32> = get(r, 6, "port")?;
    Ok(ReplicaRecord {
        id: get(r, 0, "id")?,
        workload_id: get(r, 1, "workload_id")?,
        worker_id: get(r, 2, "worker_id")?,
        spec_hash: get(r, 3, "spec_hash")?,
        launch: parse_json("launch", &get::<String>(r, 4, "launch")?)?,
        phase: ReplicaPhase::parse(&phase)
            .ok_or_else(|| bad("phase", format!("replica phase {phase:?}")))?,
        port: port
            .map(|p| u16::try_from(p).map_err(|_| bad("port", p)))
            .transpose()?,
        last_error: get(r, 7, "last_error")?,
        created_at: get(r, 8, "created_at")?,
        updated_at: get(r, 9, "updated_at")?,
    })
}

fn parse_json(column: &str, text: &str) -> StoreResult<Value> {
    serde_json::from_str(text).map_err(|e| bad(column, e))
}

fn json_text(v: &Value) -> String {
    v.to_string()
}

fn project_row(r: &Row) -> Project {
    Project {
        id: r.get(0),
        slug: r.get(1),
        created_at: r.get(2),
    }
}

fn worker_row(r: &Row) -> Worker {
    Worker {
        id: r.get(0),
        name: r.get(1),
        created_at: r.get(2),
    }
}

fn gpu_row(r: &Row) -> Gpu {
    Gpu {
        id: r.get(0),
        name: r.get(1),
        worker_id: r.get(2),
        created_at: r.get(3),
    }
}

const TOKEN_COLUMNS: &str = "t.id, t.kind, t.project_id, p.slug, t.scope, t.secret_hash, \
     t.created_at, t.revoked_at, t.worker_id";

fn token_row(r: &Row) -> StoreResult<TokenRecord> {
    let kind: String = r.get(1);
    let hash: Vec<u8> = r.get(5);
    Ok(TokenRecord {
        id: r.get(0),
        kind: TokenKind::from_name(&kind)
            .ok_or_else(|| bad("kind", format!("token kind {kind:?}")))?,
        project_id: r.get(2),
        project_slug: r.get(3),
        scope: r.get(4),
        secret_hash: hash
            .try_into()
            .map_err(|_| bad("secret_hash", "not 32 bytes"))?,
        created_at: r.get(6),
        revoked_at: r.get(7),
        worker_id: r.get(8),
    })
}

const WORKLOAD_COLUMNS: &str = "w.id, w.project_id, p.slug, w.name, w.slug, w.description, \
     w.task_type, w.backend, w.model_name, w.config, w.worker_id, w.gpu_resource_id, \
     w.execution_policy, w.execution_policy_config, w.created_at, w.updated_at, w.status, \
     w.status_message";

fn workload_row(r: &Row) -> StoreResult<WorkloadRecord> {
    Ok(WorkloadRecord {
        id: get(r, 0, "id")?,
        project_id: get(r, 1, "project_id")?,
        project_slug: get(r, 2, "slug")?,
        name: get(r, 3, "name")?,
        slug: get(r, 4, "slug")?,
        description: get(r, 5, "description")?,
        task_type: get(r, 6, "task_type")?,
        backend: Some(get::<Option<String>>(r, 7, "backend")?.ok_or_else(|| {
            bad(
                "backend",
                "missing, and its command names no known engine; set the row's backend or \
                 delete the row",
            )
        })?),
        model_name: get(r, 8, "model_name")?,
        config: parse_json("config", &get::<String>(r, 9, "config")?)?,
        worker_id: get(r, 10, "worker_id")?,
        gpu_resource_id: get(r, 11, "gpu_resource_id")?,
        execution_policy: get(r, 12, "execution_policy")?,
        execution_policy_config: parse_json(
            "execution_policy_config",
            &get::<String>(r, 13, "execution_policy_config")?,
        )?,
        created_at: get(r, 14, "created_at")?,
        updated_at: get(r, 15, "updated_at")?,
        status: get(r, 16, "status")?,
        status_message: get(r, 17, "status_message")?,
    })
}

const JOB_COLUMNS: &str = "id, project_id, workload_id, kind, body, content_type, context, \
     status, result, error, created_at, updated_at, token_id, webhook_url";

fn job_row(r: &Row) -> StoreResult<JobRecord> {
    let opt_json = |i: usize, name: &str| -> StoreResult<Option<Value>> {
        get::<Option<String>>(r, i, name)?
            .map(|t| parse_json(name, &t))
            .transpose()
    };
    Ok(JobRecord {
        id: get(r, 0, "id")?,
        project_id: get(r, 1, "project_id")?,
        workload_id: get(r, 2, "workload_id")?,
        kind: get(r, 3, "kind")?,
        body: get(r, 4, "body")?,
        content_type: get(r, 5, "content_type")?,
        context: opt_json(6, "context")?,
        status: JobStatus::parse(&get::<String>(r, 7, "status")?)?,
        result: get::<Option<String>>(r, 8, "result")?
            .map(|t| serde_json::value::RawValue::from_string(t).map_err(|e| bad("result", e)))
            .transpose()?,
        error: opt_json(9, "error")?,
        created_at: get(r, 10, "created_at")?,
        updated_at: get(r, 11, "updated_at")?,
        token_id: get(r, 12, "token_id")?,
        webhook_url: get(r, 13, "webhook_url")?,
    })
}

const DELIVERY_COLUMNS: &str = "id, workload_id, job_id, event, url, body, state, attempts, \
     next_attempt_ms, last_status, last_error, created_at, updated_at";

fn delivery_row(r: &Row) -> StoreResult<DeliveryRecord> {
    Ok(DeliveryRecord {
        id: get(r, 0, "id")?,
        workload_id: get(r, 1, "workload_id")?,
        job_id: get(r, 2, "job_id")?,
        event: get(r, 3, "event")?,
        url: get(r, 4, "url")?,
        body: get(r, 5, "body")?,
        state: DeliveryState::parse(&get::<String>(r, 6, "state")?)?,
        attempts: u32::try_from(get::<i64>(r, 7, "attempts")?).map_err(|e| bad("attempts", e))?,
        next_attempt_ms: get(r, 8, "next_attempt_ms")?,
        last_status: get::<Option<i64>>(r, 9, "last_status")?
            .map(|s| u16::try_from(s).map_err(|e| bad("last_status", e)))
            .transpose()?,
        last_error: get(r, 10, "last_error")?,
        created_at: get(r, 11, "created_at")?,
        updated_at: get(r, 12, "updated_at")?,
    })
}

const CUSTOM_BACKEND_COLUMNS: &str =
    "id, tenant_id, slug, version, task_type, manifest, sha256, size_bytes, created_at";

fn custom_backend_row(r: &Row) -> StoreResult<CustomBackendRecord> {
    let manifest: String = get(r, 5, "manifest")?;
    Ok(CustomBackendRecord {
        id: get(r, 0, "id")?,
        tenant_id: get(r, 1, "tenant_id")?,
        slug: get(r, 2, "slug")?,
        version: get(r, 3, "version")?,
        task_type: get(r, 4, "task_type")?,
        manifest: serde_json::from_str(&manifest).unwrap_or(Value::Null),
        sha256: get(r, 6, "sha256")?,
        size_bytes: get::<i64>(r, 7, "size_bytes")? as u64,
        created_at: get(r, 8, "created_at")?,
    })
}

fn limit_param(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

#[async_trait::async_trait]
impl Store for PostgresStore {
    fn shared(&self) -> bool {
        true
    }

    async fn lead(&self) -> StoreResult<bool> {
        use std::sync::atomic::Ordering;
        let mut alive = self.alive.lock().await;
        if alive.is_closed() {
            // The lock went with the connection; another Manager may hold it now.
            self.leading.store(false, Ordering::SeqCst);
            match Self::connect_alive(&self.config, self.instance).await {
                Ok(c) => *alive = c,
                // Not leading, for certain: the caller must stop acting as the leader.
                Err(e) => {
                    tracing::warn!(error = %e, "cannot reconnect the PostgreSQL connection that marks this Manager alive; retrying");
                    return Ok(false);
                }
            }
            tracing::info!("reconnected the PostgreSQL connection that marks this Manager alive");
        }
        if self.leading.load(Ordering::SeqCst) {
            return Ok(true);
        }
        let got: bool = alive
            .query_one(
                "SELECT pg_try_advisory_lock($1, hashtext(current_schema()))",
                &[&LEADER_LOCK_SPACE],
            )
            .await
            .map_err(pg_err)?
            .get(0);
        self.leading.store(got, Ordering::SeqCst);
        Ok(got)
    }

    async fn put_serving(&self, workload_id: &str, state: &ServingState) -> StoreResult<()> {
        let text = serde_json::to_string(state)
            .map_err(|e| StoreError::Corrupt(format!("cannot encode a serving state: {e}")))?;
        // A workload deleted meanwhile has nothing to publish (and its row is gone).
        self.execute(
            "INSERT INTO serving (workload_id, state, updated_at)
             SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM workloads WHERE id = $1)
             ON CONFLICT (workload_id)
             DO UPDATE SET state = EXCLUDED.state, updated_at = EXCLUDED.updated_at",
            &[&workload_id, &text, &now_rfc3339()],
        )
        .await?;
        Ok(())
    }

    async fn list_serving(&self) -> StoreResult<Vec<(String, ServingState)>> {
        let rows = self
            .query("SELECT workload_id, state FROM serving", &[])
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id: String = r.get(0);
            let text: String = r.get(1);
            match serde_json::from_str(&text) {
                Ok(state) => out.push((id, state)),
                Err(e) => {
                    tracing::warn!(workload = %id, error = %e, "skipped a serving state that does not parse")
                }
            }
        }
        Ok(out)
    }

    async fn put_gateway_load(&self, loads: &[GatewayLoad], now_ms: i64) -> StoreResult<()> {
        if loads.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = loads.iter().map(|l| l.workload_id.as_str()).collect();
        let counts: Vec<i64> = loads
            .iter()
            .map(|l| i64::try_from(l.in_flight).unwrap_or(i64::MAX))
            .collect();
        let by_replica: Vec<String> = loads
            .iter()
            .map(|l| serde_json::to_string(&l.by_replica).unwrap_or_else(|_| "{}".into()))
            .collect();
        self.execute(
            "INSERT INTO gateway_load (instance, workload_id, in_flight, by_replica, at_ms)
             SELECT $1, t.w, t.n, t.r, $5
             FROM unnest($2::TEXT[], $3::BIGINT[], $4::TEXT[]) AS t(w, n, r)
             WHERE EXISTS (SELECT 1 FROM workloads WHERE id = t.w)
             ON CONFLICT (instance, workload_id) DO UPDATE
             SET in_flight = EXCLUDED.in_flight, by_replica = EXCLUDED.by_replica,
                 at_ms = EXCLUDED.at_ms",
            &[&self.instance, &ids, &counts, &by_replica, &now_ms],
        )
        .await?;
        Ok(())
    }

    async fn gateway_load(&self, since_ms: i64) -> StoreResult<Vec<GatewayLoad>> {
        let rows = self
            .query(
                "SELECT workload_id, in_flight, by_replica FROM gateway_load
                 WHERE instance <> $1 AND at_ms >= $2 ORDER BY workload_id",
                &[&self.instance, &since_ms],
            )
            .await?;
        let mut out: Vec<GatewayLoad> = Vec::new();
        for r in rows {
            let id: String = r.get(0);
            let n: i64 = r.get(1);
            let by: String = r.get(2);
            let by: std::collections::BTreeMap<String, usize> =
                serde_json::from_str(&by).unwrap_or_default();
            if out.last().is_none_or(|l| l.workload_id != id) {
                out.push(GatewayLoad {
                    workload_id: id,
                    ..GatewayLoad::default()
                });
            }
            if let Some(l) = out.last_mut() {
                l.in_flight += usize::try_from(n).unwrap_or(0);
                for (url, k) in by {
                    *l.by_replica.entry(url).or_default() += k;
                }
            }
        }
        Ok(out)
    }

    async fn ensure_project(&self, slug: &str) -> StoreResult<(Project, bool)> {
        let created = self
            .execute(
                "INSERT INTO projects (id, tenant_id, slug, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (slug) DO NOTHING",
                &[&new_id("prj"), &TENANT, &slug, &now_rfc3339()],
            )
            .await?
            == 1;
        let row = self
            .query_opt(
                "SELECT id, slug, created_at FROM projects WHERE slug = $1",
                &[&slug],
            )
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("project {slug:?} vanished")))?;
        Ok((project_row(&row), created))
    }

    async fn project_by_slug(&self, slug: &str) -> StoreResult<Option<Project>> {
        Ok(self
            .query_opt(
                "SELECT id, slug, created_at FROM projects WHERE slug = $1",
                &[&slug],
            )
            .await?
            .map(|r| project_row(&r)))
    }

    async fn list_projects(&self) -> StoreResult<Vec<Project>> {
        Ok(self
            .query(
                "SELECT id, slug, created_at FROM projects ORDER BY slug",
                &[],
            )
            .await?
            .iter()
            .map(project_row)
            .collect())
    }

    async fn insert_token(&self, t: &TokenRecord) -> StoreResult<()> {
        self.execute(
            "INSERT INTO tokens (id, kind, project_id, scope, secret_hash, created_at, revoked_at,
                                 worker_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &t.id,
                &t.kind.name(),
                &t.project_id,
                &t.scope,
                &&t.secret_hash[..],
                &t.created_at,
                &t.revoked_at,
                &t.worker_id,
            ],
        )
        .await
        .map_err(|e| conflict(e, format!("token id {}", t.id)))?;
        Ok(())
    }

    async fn token(&self, id: &str) -> StoreResult<Option<TokenRecord>> {
        self.query_opt(
            &format!(
                "SELECT {TOKEN_COLUMNS} FROM tokens t LEFT JOIN projects p ON p.id = t.project_id
                 WHERE t.id = $1"
            ),
            &[&id],
        )
        .await?
        .map(|r| token_row(&r))
        .transpose()
    }

    async fn list_tokens(&self, project_slug: Option<&str>) -> StoreResult<Vec<TokenRecord>> {
        self.query(
            &format!(
                "SELECT {TOKEN_COLUMNS} FROM tokens t LEFT JOIN projects p ON p.id = t.project_id
                 WHERE t.kind != 'admin' AND ($1::TEXT IS NULL OR p.slug = $1)
                 ORDER BY t.seq"
            ),
            &[&project_slug],
        )
        .await?
        .iter()
        .map(token_row)
        .collect()
    }

    async fn revoke_token(&self, id: &str) -> StoreResult<Option<TokenRecord>> {
        self.execute(
            "UPDATE tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            &[&id, &now_rfc3339()],
        )
        .await?;
        self.token(id).await
    }

    async fn insert_worker(&self, w: &Worker) -> StoreResult<()> {
        self.execute(
            "INSERT INTO workers (id, tenant_id, name, created_at) VALUES ($1, $2, $3, $4)",
            &[&w.id, &TENANT, &w.name, &w.created_at],
        )
        .await?;
        Ok(())
    }

    async fn worker(&self, id: &str) -> StoreResult<Option<Worker>> {
        Ok(self
            .query_opt(
                "SELECT id, name, created_at FROM workers WHERE id = $1",
                &[&id],
            )
            .await?
            .map(|r| worker_row(&r)))
    }

    async fn list_workers(&self) -> StoreResult<Vec<Worker>> {
        Ok(self
            .query("SELECT id, name, created_at FROM workers ORDER BY seq", &[])
            .await?
            .iter()
            .map(worker_row)
            .collect())
    }

    async fn worker_heartbeat(
        &self,
        worker_id: &str,
        address: &str,
        at: &str,
    ) -> StoreResult<bool> {
        let n = self
            .execute(
                "UPDATE workers SET address = $2, last_seen = $3 WHERE id = $1",
                &[&worker_id, &address, &at],
            )
            .await?;
        Ok(n == 1)
    }

    async fn worker_presence(&self, worker_id: &str) -> StoreResult<Option<WorkerPresence>> {
        Ok(self
            .query_opt(
                "SELECT address, last_seen FROM workers
                 WHERE id = $1 AND address IS NOT NULL AND last_seen IS NOT NULL",
                &[&worker_id],
            )
            .await?
            .map(|r| WorkerPresence {
                address: r.get(0),
                last_seen: r.get(1),
            }))
    }

    async fn assign_replica(&self, r: &ReplicaRecord) -> StoreResult<()> {
        self.execute(
            &format!(
                "INSERT INTO replicas ({REPLICA_COLUMNS})
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            ),
            &[
                &r.id,
                &r.workload_id,
                &r.worker_id,
                &r.spec_hash,
                &json_text(&r.launch),
                &r.phase.as_str(),
                &r.port.map(i32::from),
                &r.last_error,
                &r.created_at,
                &r.updated_at,
            ],
        )
        .await
        .map_err(|e| conflict(e, format!("replica id {}", r.id)))?;
        Ok(())
    }

    async fn unassign_replica(&self, id: &str) -> StoreResult<bool> {
        Ok(self
            .execute("DELETE FROM replicas WHERE id = $1", &[&id])
            .await?
            == 1)
    }

    async fn replica(&self, id: &str) -> StoreResult<Option<ReplicaRecord>> {
        self.query_opt(
            &format!("SELECT {REPLICA_COLUMNS} FROM replicas WHERE id = $1"),
            &[&id],
        )
        .await?
        .map(|r| replica_row(&r))
        .transpose()
    }

    async fn replicas_of_worker(&self, worker_id: &str) -> StoreResult<Vec<ReplicaRecord>> {
        self.query(
            &format!("SELECT {REPLICA_COLUMNS} FROM replicas WHERE worker_id = $1 ORDER BY seq"),
            &[&worker_id],
        )
        .await?
        .iter()
        .map(replica_row)
        .collect()
    }

    async fn report_replica(
        &self,
        worker_id: &str,
        report: &ReplicaReport,
        at: &str,
    ) -> StoreResult<bool> {
        let n = self
            .execute(
                "UPDATE replicas SET phase = $3, port = $4, last_error = $5, updated_at = $6
                 WHERE id = $1 AND worker_id = $2",
                &[
                    &report.replica_id,
                    &worker_id,
                    &report.phase.as_str(),
                    &report.port.map(i32::from),
                    &report.last_error,
                    &at,
                ],
            )
            .await?;
        Ok(n == 1)
    }

    async fn clear_replicas(&self) -> StoreResult<usize> {
        Ok(self.execute("DELETE FROM replicas", &[]).await? as usize)
    }

    async fn insert_gpu(&self, g: &Gpu) -> StoreResult<()> {
        self.execute(
            "INSERT INTO gpus (id, tenant_id, name, worker_id, created_at)
             VALUES ($1, $2, $3, $4, $5)",
            &[&g.id, &TENANT, &g.name, &g.worker_id, &g.created_at],
        )
        .await?;
        Ok(())
    }

    async fn gpu(&self, id: &str) -> StoreResult<Option<Gpu>> {
        Ok(self
            .query_opt(
                "SELECT id, name, worker_id, created_at FROM gpus WHERE id = $1",
                &[&id],
            )
            .await?
            .map(|r| gpu_row(&r)))
    }

    async fn list_gpus(&self) -> StoreResult<Vec<Gpu>> {
        Ok(self
            .query(
                "SELECT id, name, worker_id, created_at FROM gpus ORDER BY seq",
                &[],
            )
            .await?
            .iter()
            .map(gpu_row)
            .collect())
    }

    async fn insert_workload(&self, w: &WorkloadRecord) -> StoreResult<()> {
        self.execute(
            "INSERT INTO workloads (id, project_id, slug, name, description, task_type, backend,
                model_name, config, worker_id, gpu_resource_id, execution_policy,
                execution_policy_config, status, status_message, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
            &[
                &w.id,
                &w.project_id,
                &w.slug,
                &w.name,
                &w.description,
                &w.task_type,
                &w.backend,
                &w.model_name,
                &json_text(&w.config),
                &w.worker_id,
                &w.gpu_resource_id,
                &w.execution_policy,
                &json_text(&w.execution_policy_config),
                &w.status,
                &w.status_message,
                &w.created_at,
                &w.updated_at,
            ],
        )
        .await
        .map_err(|e| conflict(e, format!("workload slug {}", w.slug)))?;
        Ok(())
    }

    async fn workload(&self, id: &str) -> StoreResult<Option<WorkloadRecord>> {
        self.query_opt(
            &format!(
                "SELECT {WORKLOAD_COLUMNS} FROM workloads w JOIN projects p ON p.id = w.project_id
                 WHERE w.id = $1"
            ),
            &[&id],
        )
        .await?
        .map(|r| workload_row(&r))
        .transpose()
    }

    async fn workload_by_slug(
        &self,
        project_id: &str,
        slug: &str,
    ) -> StoreResult<Option<WorkloadRecord>> {
        self.query_opt(
            &format!(
                "SELECT {WORKLOAD_COLUMNS} FROM workloads w JOIN projects p ON p.id = w.project_id
                 WHERE w.project_id = $1 AND w.slug = $2"
            ),
            &[&project_id, &slug],
        )
        .await?
        .map(|r| workload_row(&r))
        .transpose()
    }

    async fn list_workloads(&self, project_id: Option<&str>) -> StoreResult<Vec<WorkloadRecord>> {
        Ok(self
            .scan_workloads(project_id)
            .await?
            .into_iter()
            .filter_map(Result::ok)
            .collect())
    }

    async fn quarantined_workloads(&self) -> StoreResult<Vec<(String, String)>> {
        Ok(self
            .scan_workloads(None)
            .await?
            .into_iter()
            .filter_map(Result::err)
            .collect())
    }

    async fn update_workload(&self, w: &WorkloadRecord) -> StoreResult<bool> {
        Ok(self
            .execute(
                "UPDATE workloads SET name = $2, description = $3, task_type = $4, backend = $5,
                    model_name = $6, config = $7, worker_id = $8, gpu_resource_id = $9,
                    execution_policy = $10, execution_policy_config = $11, updated_at = $12
                 WHERE id = $1",
                &[
                    &w.id,
                    &w.name,
                    &w.description,
                    &w.task_type,
                    &w.backend,
                    &w.model_name,
                    &json_text(&w.config),
                    &w.worker_id,
                    &w.gpu_resource_id,
                    &w.execution_policy,
                    &json_text(&w.execution_policy_config),
                    &w.updated_at,
                ],
            )
            .await?
            == 1)
    }

    async fn delete_workload(&self, id: &str) -> StoreResult<bool> {
        Ok(self
            .execute("DELETE FROM workloads WHERE id = $1", &[&id])
            .await?
            == 1)
    }

    async fn set_workload_status(&self, id: &str, status: &str, message: &str) -> StoreResult<()> {
        self.execute(
            "UPDATE workloads SET status = $2, status_message = $3 WHERE id = $1",
            &[&id, &status, &message],
        )
        .await?;
        Ok(())
    }

    async fn idempotency_begin(
        &self,
        token_id: &str,
        key: &str,
        fingerprint: &[u8; 32],
        ttl_secs: i64,
    ) -> StoreResult<IdempotencyBegin> {
        let now = now_unix();
        let fp = &fingerprint[..];
        let mut client = self.client().await?;
        // Expired records of every token go first (in their own statement, so this
        // transaction only ever locks its own key's row), keeping the table small.
        let sweep = client
            .prepare_cached("DELETE FROM idempotency WHERE created_unix <= $1")
            .await
            .map_err(pg_err)?;
        client
            .execute(&sweep, &[&(now - ttl_secs)])
            .await
            .map_err(pg_err)?;
        // The key's row is read under a row lock; when there is none, it is inserted with ON
        // CONFLICT DO NOTHING: of two Managers racing on one key, one inserts and the other
        // waits for it, inserts nothing, and reads the winner's row on its next round.
        for _ in 0..3 {
            let tx = client.transaction().await.map_err(pg_err)?;
            let existing = tx
                .query_opt(
                    "SELECT fingerprint, state, status, body, created_unix FROM idempotency
                     WHERE token_id = $1 AND key = $2 FOR UPDATE",
                    &[&token_id, &key],
                )
                .await
                .map_err(pg_err)?;
            let outcome = match existing {
                Some(r) => {
                    let stored: Vec<u8> = get(&r, 0, "fingerprint")?;
                    let state: String = get(&r, 1, "state")?;
                    let status: Option<i64> = get(&r, 2, "status")?;
                    let body: Option<Vec<u8>> = get(&r, 3, "body")?;
                    let created: i64 = get(&r, 4, "created_unix")?;
                    if now - created >= ttl_secs {
                        tx.execute(
                            "UPDATE idempotency SET fingerprint = $3, state = 'running',
                                status = NULL, body = NULL, created_unix = $4, claimed_by = $5
                             WHERE token_id = $1 AND key = $2",
                            &[&token_id, &key, &fp, &now, &self.instance],
                        )
                        .await
                        .map_err(pg_err)?;
                        IdempotencyBegin::Started
                    } else if stored.as_slice() != fp {
                        IdempotencyBegin::Reused
                    } else if state == "running" {
                        IdempotencyBegin::InUse
                    } else {
                        let status = status
                            .and_then(|s| u16::try_from(s).ok())
                            .ok_or_else(|| StoreError::Corrupt("idempotency status".into()))?;
                        IdempotencyBegin::Replay {
                            status,
                            body: body.unwrap_or_default(),
                        }
                    }
                }
                None => {
                    let inserted = tx
                        .execute(
                            "INSERT INTO idempotency
                                (token_id, key, fingerprint, state, status, body, created_unix,
                                 claimed_by)
                             VALUES ($1, $2, $3, 'running', NULL, NULL, $4, $5)
                             ON CONFLICT (token_id, key) DO NOTHING",
                            &[&token_id, &key, &fp, &now, &self.instance],
                        )
                        .await
                        .map_err(pg_err)?;
                    if inserted == 0 {
                        // Another Manager inserted it meanwhile: read its row.
                        tx.rollback().await.map_err(pg_err)?;
                        continue;
                    }
                    IdempotencyBegin::Started
                }
            };
            tx.commit().await.map_err(pg_err)?;
            return Ok(outcome);
        }
        // Inserted and released again every round: someone holds it only briefly.
        Ok(IdempotencyBegin::InUse)
    }

    async fn idempotency_finish(
        &self,
        token_id: &str,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> StoreResult<()> {
        self.execute(
            "UPDATE idempotency SET state = 'done', status = $3, body = $4
             WHERE token_id = $1 AND key = $2",
            &[&token_id, &key, &i64::from(status), &body],
        )
        .await?;
        Ok(())
    }

    async fn idempotency_abandon(&self, token_id: &str, key: &str) -> StoreResult<()> {
        self.execute(
            "DELETE FROM idempotency WHERE token_id = $1 AND key = $2 AND state = 'running'",
            &[&token_id, &key],
        )
        .await?;
        Ok(())
    }

    async fn idempotency_reset_running(&self) -> StoreResult<()> {
        // Only the claims of Managers that are gone (see the module doc): another live
        // Manager's request is still running.
        self.execute(
            &format!(
                "DELETE FROM idempotency WHERE state = 'running' AND {}",
                claim_is_dead("$1")
            ),
            &[&self.instance],
        )
        .await?;
        Ok(())
    }

    async fn insert_job(&self, j: &JobRecord, limits: QueueLimits) -> StoreResult<Admission> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        // The limits count rows, so two admissions must not count at once: this
        // transaction-scoped lock serializes them across every Manager on the database.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&ADMISSION_LOCK])
            .await
            .map_err(pg_err)?;
        if let Some(token) = &j.token_id {
            let mine: i64 = tx
                .query_one(
                    "SELECT COUNT(*) FROM jobs WHERE token_id = $1 AND status IN ('queued', 'running')",
                    &[token],
                )
                .await
                .map_err(pg_err)?
                .get(0);
            if mine as usize >= limits.per_key {
                return Ok(Admission::KeyQuota);
            }
        }
        let queued: i64 = tx
            .query_one("SELECT COUNT(*) FROM jobs WHERE status = 'queued'", &[])
            .await
            .map_err(pg_err)?
            .get(0);
        if queued as usize >= limits.total {
            return Ok(Admission::QueueFull);
        }
        tx.execute(
            &format!(
                "INSERT INTO jobs ({JOB_COLUMNS})
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
            ),
            &[
                &j.id,
                &j.project_id,
                &j.workload_id,
                &j.kind,
                &j.body,
                &j.content_type,
                &j.context.as_ref().map(json_text),
                &j.status.as_str(),
                &j.result.as_ref().map(|r| r.get()),
                &j.error.as_ref().map(json_text),
                &j.created_at,
                &j.updated_at,
                &j.token_id,
                &j.webhook_url,
            ],
        )
        .await
        .map_err(pg_err)?;
        tx.commit().await.map_err(pg_err)?;
        Ok(Admission::Queued)
    }

    async fn job(&self, id: &str) -> StoreResult<Option<JobRecord>> {
        self.query_opt(
            &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"),
            &[&id],
        )
        .await?
        .map(|r| job_row(&r))
        .transpose()
    }

    async fn list_jobs(
        &self,
        project_id: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<JobRecord>> {
        // Same columns as JOB_COLUMNS, with the body and the result left out.
        self.query(
            "SELECT id, project_id, workload_id, kind, ''::BYTEA, content_type, context, status,
                    NULL::TEXT, error, created_at, updated_at, token_id, webhook_url
             FROM jobs WHERE $1::TEXT IS NULL OR project_id = $1
             ORDER BY seq DESC LIMIT $2",
            &[&project_id, &limit_param(limit)],
        )
        .await?
        .iter()
        .map(job_row)
        .collect()
    }

    async fn claim_next_job(&self) -> StoreResult<Option<JobRecord>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        // The fair order of SQLite's claim (the project, then the workload, running the
        // fewest jobs; then the oldest job): the running counts are grouped once and joined
        // to the queued rows, so the pick is a single row that can be locked. SKIP LOCKED
        // lets another Manager's concurrent claim take the next job instead of waiting for
        // (and then double-claiming) this one.
        let next = tx
            .query_opt(
                "WITH by_project AS (SELECT project_id, COUNT(*) AS n FROM jobs
                                     WHERE status = 'running' GROUP BY project_id),
                      by_workload AS (SELECT workload_id, COUNT(*) AS n FROM jobs
                                      WHERE status = 'running' GROUP BY workload_id)
                 SELECT j.seq FROM jobs j
                 LEFT JOIN by_project p ON p.project_id = j.project_id
                 LEFT JOIN by_workload w ON w.workload_id = j.workload_id
                 WHERE j.status = 'queued'
                 ORDER BY COALESCE(p.n, 0), COALESCE(w.n, 0), j.seq
                 LIMIT 1 FOR UPDATE OF j SKIP LOCKED",
                &[],
            )
            .await
            .map_err(pg_err)?;
        let row = match next {
            Some(r) => {
                let seq: i64 = r.get(0);
                tx.query_opt(
                    &format!(
                        "UPDATE jobs SET status = 'running', updated_at = $1, claimed_by = $3
                         WHERE seq = $2
                         RETURNING {JOB_COLUMNS}"
                    ),
                    &[&now_rfc3339(), &seq, &self.instance],
                )
                .await
                .map_err(pg_err)?
            }
            None => None,
        };
        tx.commit().await.map_err(pg_err)?;
        row.map(|r| job_row(&r)).transpose()
    }

    async fn finish_job(
        &self,
        id: &str,
        status: JobStatus,
        result: Option<&serde_json::value::RawValue>,
        error: Option<&Value>,
        delivery: Option<&DeliveryRecord>,
    ) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        tx.execute(
            "UPDATE jobs SET status = $2, result = $3, error = $4, updated_at = $5 WHERE id = $1",
            &[
                &id,
                &status.as_str(),
                &result.map(|r| r.get()),
                &error.map(json_text),
                &now_rfc3339(),
            ],
        )
        .await
        .map_err(pg_err)?;
        if let Some(d) = delivery {
            tx.execute(
                &format!(
                    "INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS})
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                ),
                &[
                    &d.id,
                    &d.workload_id,
                    &d.job_id,
                    &d.event,
                    &d.url,
                    &d.body,
                    &d.state.as_str(),
                    &i64::from(d.attempts),
                    &d.next_attempt_ms,
                    &d.last_status.map(i64::from),
                    &d.last_error,
                    &d.created_at,
                    &d.updated_at,
                ],
            )
            .await
            .map_err(pg_err)?;
        }
        tx.commit().await.map_err(pg_err)
    }

    async fn delete_finished_jobs_before(&self, cutoff: &str) -> StoreResult<usize> {
        Ok(self
            .execute(
                "DELETE FROM jobs WHERE status IN ('succeeded', 'failed') AND updated_at < $1",
                &[&cutoff],
            )
            .await? as usize)
    }

    async fn requeue_running_jobs(&self) -> StoreResult<usize> {
        Ok(self
            .execute(
                &format!(
                    "UPDATE jobs SET status = 'queued', updated_at = $1, claimed_by = NULL
                     WHERE status = 'running' AND {}",
                    claim_is_dead("$2")
                ),
                &[&now_rfc3339(), &self.instance],
            )
            .await? as usize)
    }

    async fn put_webhook(&self, w: &WebhookRecord) -> StoreResult<bool> {
        // `xmax = 0` holds for a row this statement inserted, not for one it updated.
        let row = self
            .query_opt(
                "INSERT INTO webhooks (workload_id, url, secret, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (workload_id) DO UPDATE
                 SET url = excluded.url, secret = excluded.secret, updated_at = excluded.updated_at
                 RETURNING (xmax = 0)",
                &[
                    &w.workload_id,
                    &w.url,
                    &w.secret,
                    &w.created_at,
                    &w.updated_at,
                ],
            )
            .await?
            .ok_or_else(|| StoreError::Corrupt("the webhook upsert returned no row".into()))?;
        Ok(row.get(0))
    }

    async fn webhook(&self, workload_id: &str) -> StoreResult<Option<WebhookRecord>> {
        Ok(self
            .query_opt(
                "SELECT workload_id, url, secret, created_at, updated_at FROM webhooks
                 WHERE workload_id = $1",
                &[&workload_id],
            )
            .await?
            .map(|r| WebhookRecord {
                workload_id: r.get(0),
                url: r.get(1),
                secret: r.get(2),
                created_at: r.get(3),
                updated_at: r.get(4),
            }))
    }

    async fn delete_webhook(&self, workload_id: &str) -> StoreResult<bool> {
        Ok(self
            .execute(
                "DELETE FROM webhooks WHERE workload_id = $1",
                &[&workload_id],
            )
            .await?
            == 1)
    }

    async fn claim_due_deliveries(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> StoreResult<Vec<DeliveryRecord>> {
        // One statement: the due rows are locked (skipping those another Manager is leasing
        // right now) and leased in the same step.
        let mut deliveries = self
            .query(
                &format!(
                    "UPDATE webhook_deliveries SET next_attempt_ms = $2
                     WHERE id IN (SELECT id FROM webhook_deliveries
                                  WHERE state = 'pending' AND next_attempt_ms <= $1
                                  ORDER BY next_attempt_ms, seq LIMIT $3
                                  FOR UPDATE SKIP LOCKED)
                     RETURNING seq, {DELIVERY_COLUMNS}"
                ),
                &[
                    &now_ms,
                    &now_ms.saturating_add(lease_ms),
                    &limit_param(limit),
                ],
            )
            .await?
            .iter()
            .map(|r| {
                // The RETURNING columns after `seq`, read as a delivery row.
                let seq: i64 = r.get(0);
                let d = DeliveryRecord {
                    id: get(r, 1, "id")?,
                    workload_id: get(r, 2, "workload_id")?,
                    job_id: get(r, 3, "job_id")?,
                    event: get(r, 4, "event")?,
                    url: get(r, 5, "url")?,
                    body: get(r, 6, "body")?,
                    state: DeliveryState::parse(&get::<String>(r, 7, "state")?)?,
                    attempts: u32::try_from(get::<i64>(r, 8, "attempts")?)
                        .map_err(|e| bad("attempts", e))?,
                    next_attempt_ms: get(r, 9, "next_attempt_ms")?,
                    last_status: get::<Option<i64>>(r, 10, "last_status")?
                        .map(|s| u16::try_from(s).map_err(|e| bad("last_status", e)))
                        .transpose()?,
                    last_error: get(r, 11, "last_error")?,
                    created_at: get(r, 12, "created_at")?,
                    updated_at: get(r, 13, "updated_at")?,
                };
                Ok((seq, d))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        deliveries.sort_by_key(|(seq, _)| *seq);
        Ok(deliveries.into_iter().map(|(_, d)| d).collect())
    }

    async fn record_delivery_attempt(&self, id: &str, outcome: &AttemptOutcome) -> StoreResult<()> {
        let (state, next, status, error) = outcome.columns();
        self.execute(
            "UPDATE webhook_deliveries
             SET state = $2, attempts = attempts + 1,
                 next_attempt_ms = COALESCE($3, next_attempt_ms),
                 last_status = $4, last_error = $5, updated_at = $6
             WHERE id = $1",
            &[
                &id,
                &state.as_str(),
                &next,
                &status.map(i64::from),
                &error,
                &now_rfc3339(),
            ],
        )
        .await?;
        Ok(())
    }

    async fn list_deliveries(
        &self,
        workload_id: &str,
        limit: usize,
    ) -> StoreResult<Vec<DeliveryRecord>> {
        self.query(
            "SELECT id, workload_id, job_id, event, url, ''::BYTEA, state, attempts,
                    next_attempt_ms, last_status, last_error, created_at, updated_at
             FROM webhook_deliveries WHERE workload_id = $1
             ORDER BY seq DESC LIMIT $2",
            &[&workload_id, &limit_param(limit)],
        )
        .await?
        .iter()
        .map(delivery_row)
        .collect()
    }

    async fn next_delivery_due(&self) -> StoreResult<Option<i64>> {
        let row = self
            .query_opt(
                "SELECT MIN(next_attempt_ms) FROM webhook_deliveries WHERE state = 'pending'",
                &[],
            )
            .await?;
        Ok(row.and_then(|r| r.get(0)))
    }

    async fn delete_finished_deliveries_before(&self, cutoff: &str) -> StoreResult<usize> {
        Ok(self
            .execute(
                "DELETE FROM webhook_deliveries
                 WHERE state IN ('delivered', 'failed') AND updated_at < $1",
                &[&cutoff],
            )
            .await? as usize)
    }

    async fn insert_custom_backend(&self, b: &CustomBackendRecord) -> StoreResult<()> {
        self.execute(
            "INSERT INTO custom_backends
             (id, tenant_id, slug, version, task_type, manifest, sha256, size_bytes, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &b.id,
                &b.tenant_id,
                &b.slug,
                &b.version,
                &b.task_type,
                &json_text(&b.manifest),
                &b.sha256,
                &(b.size_bytes as i64),
                &b.created_at,
            ],
        )
        .await
        .map_err(|e| conflict(e, format!("custom backend {} {}", b.slug, b.version)))?;
        Ok(())
    }

    async fn custom_backend_version(
        &self,
        tenant_id: &str,
        slug: &str,
        version: &str,
    ) -> StoreResult<Option<CustomBackendRecord>> {
        self.query_opt(
            &format!(
                "SELECT {CUSTOM_BACKEND_COLUMNS} FROM custom_backends
                 WHERE tenant_id = $1 AND slug = $2 AND version = $3"
            ),
            &[&tenant_id, &slug, &version],
        )
        .await?
        .map(|r| custom_backend_row(&r))
        .transpose()
    }

    async fn custom_backend(
        &self,
        tenant_id: &str,
        slug: &str,
    ) -> StoreResult<Option<CustomBackendRecord>> {
        self.query_opt(
            &format!(
                "SELECT {CUSTOM_BACKEND_COLUMNS} FROM custom_backends
                 WHERE tenant_id = $1 AND slug = $2 ORDER BY created_at DESC, seq DESC LIMIT 1"
            ),
            &[&tenant_id, &slug],
        )
        .await?
        .map(|r| custom_backend_row(&r))
        .transpose()
    }

    async fn list_custom_backends(&self, tenant_id: &str) -> StoreResult<Vec<CustomBackendRecord>> {
        self.query(
            &format!(
                "SELECT {CUSTOM_BACKEND_COLUMNS} FROM custom_backends WHERE tenant_id = $1
                 ORDER BY created_at DESC, seq DESC"
            ),
            &[&tenant_id],
        )
        .await?
        .iter()
        .map(custom_backend_row)
        .collect()
    }
}
