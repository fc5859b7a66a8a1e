//! Durable state: projects, tokens, workers, workloads, idempotency records and jobs.
//!
//! Everything the Manager must remember across a restart goes through [`Store`]. It is a trait
//! so a PostgreSQL store can replace SQLite when one machine is not enough; the API layers only
//! see these records. Methods are async: [`PostgresStore`] waits on its server; [`SqliteStore`]
//! runs its short statements inline on the calling task (no `.await` inside, so its lock is
//! never held across one), as the store did when the trait was synchronous.

mod health;
mod migrations;
mod postgres;
mod sqlite;
#[cfg(test)]
pub(crate) mod suite;

pub use health::{StorageProblem, Watched};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use inferencekey_core::token::TokenKind;
use serde_json::Value;

/// A storage failure. Callers branch on `Conflict` (a UNIQUE constraint) and `Unavailable`
/// (SQLite's disk is full or failing, or the PostgreSQL server is unreachable: a 503 the
/// client may retry); everything else is an internal error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("already exists: {0}")]
    Conflict(String),
    #[error(
        "the store is unavailable (its disk is full or failing, or its server is unreachable): {0}"
    )]
    Unavailable(String),
    #[error("database error: {0}")]
    Db(rusqlite::Error),
    #[error("database error: {}", postgres::describe(.0))]
    Postgres(tokio_postgres::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        match &e {
            rusqlite::Error::SqliteFailure(f, _)
                if matches!(
                    f.code,
                    ErrorCode::DiskFull
                        | ErrorCode::SystemIoFailure
                        | ErrorCode::ReadOnly
                        | ErrorCode::CannotOpen
                ) =>
            {
                StoreError::Unavailable(e.to_string())
            }
            _ => StoreError::Db(e),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: String,
    pub slug: String,
    pub created_at: String,
}

/// A token as stored: never the secret, only its SHA-256.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// The public `<id>` part of `ik_<kind>_<id>_<secret>`.
    pub id: String,
    pub kind: TokenKind,
    /// Set for `sdk` and `live` tokens; admin and worker tokens belong to no project.
    pub project_id: Option<String>,
    pub project_slug: Option<String>,
    /// For `live` keys: a workload slug, or `*` for every workload of the project.
    pub scope: Option<String>,
    pub secret_hash: [u8; 32],
    pub created_at: String,
    pub revoked_at: Option<String>,
    /// Set for `worker` tokens only: the registered worker the agent holding it acts for.
    pub worker_id: Option<String>,
}

impl std::fmt::Debug for TokenRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRecord")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("project_slug", &self.project_slug)
            .field("scope", &self.scope)
            .field("worker_id", &self.worker_id)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worker {
    pub id: String,
    pub name: String,
    pub created_at: String,
}

/// Where a worker's agent was last heard from (docs/contract.md §8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerPresence {
    /// The host its replicas are reachable on, as the agent reported it.
    pub address: String,
    /// RFC 3339, by the Manager's policy clock.
    pub last_seen: String,
}

/// A replica's phase as its agent reports it: the readiness phases a replica goes through,
/// plus `assigned` until the agent first reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaPhase {
    Assigned,
    Provisioning,
    Bootstrapping,
    Ready,
    Error,
}

impl ReplicaPhase {
    /// Every phase an agent may report (not `assigned`, which only the Manager writes).
    pub const REPORTED: [ReplicaPhase; 4] = [
        ReplicaPhase::Provisioning,
        ReplicaPhase::Bootstrapping,
        ReplicaPhase::Ready,
        ReplicaPhase::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReplicaPhase::Assigned => "assigned",
            ReplicaPhase::Provisioning => "provisioning",
            ReplicaPhase::Bootstrapping => "bootstrapping",
            ReplicaPhase::Ready => "ready",
            ReplicaPhase::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [ReplicaPhase::Assigned]
            .into_iter()
            .chain(ReplicaPhase::REPORTED)
            .find(|p| p.as_str() == s)
    }
}

/// A replica the reconciler assigned to a worker that runs an agent: what the agent is told
/// to run, and what it last reported of it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicaRecord {
    pub id: String,
    pub workload_id: String,
    pub worker_id: String,
    /// Hex SHA-256 of `launch` as sent: the agent restarts a replica whose hash changed.
    pub spec_hash: String,
    /// The engine launch spec: `task_type`, `backend`, `model`, `command`, `config`.
    pub launch: Value,
    pub phase: ReplicaPhase,
    pub port: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// One replica's state in an agent's sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaReport {
    pub replica_id: String,
    pub phase: ReplicaPhase,
    pub port: Option<u16>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gpu {
    pub id: String,
    pub name: String,
    pub worker_id: Option<String>,
    pub created_at: String,
}

/// A workload's desired state plus its last recorded readiness phase.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadRecord {
    pub id: String,
    pub project_id: String,
    pub project_slug: String,
    pub name: String,
    pub slug: String,
    pub description: Option<String>,
    pub task_type: String,
    pub backend: Option<String>,
    pub model_name: String,
    /// Always an object.
    pub config: Value,
    pub worker_id: Option<String>,
    pub gpu_resource_id: Option<String>,
    pub execution_policy: String,
    /// Always an object: the validated config or the filled-in default.
    pub execution_policy_config: Value,
    pub created_at: String,
    pub updated_at: String,
    pub status: String,
    pub status_message: String,
}

/// What [`Store::idempotency_begin`] found for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// No live record: this request now owns the key and must finish or abandon it.
    Started,
    /// A finished request with the same body: answer exactly this.
    Replay { status: u16, body: Vec<u8> },
    /// The same request is still being processed.
    InUse,
    /// The key was used with a different request.
    Reused,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> StoreResult<Self> {
        Ok(match s {
            "queued" => JobStatus::Queued,
            "running" => JobStatus::Running,
            "succeeded" => JobStatus::Succeeded,
            "failed" => JobStatus::Failed,
            other => return Err(StoreError::Corrupt(format!("job status {other:?}"))),
        })
    }
}

/// Bounds on the job queue, checked atomically with each insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    /// Unfinished (queued or running) jobs one key may have.
    pub per_key: usize,
    /// Queued jobs the whole Manager holds.
    pub total: usize,
}

/// What [`Store::insert_job`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Queued,
    /// The submitting key has `per_key` unfinished jobs already.
    KeyQuota,
    /// The queue holds `total` jobs already.
    QueueFull,
}

#[derive(Debug, Clone)]
pub struct JobRecord {
    pub id: String,
    pub project_id: String,
    pub workload_id: String,
    /// The key that submitted it (absent for jobs stored before quotas existed).
    pub token_id: Option<String>,
    /// The canonical kind (aliases resolved).
    pub kind: String,
    pub body: Vec<u8>,
    pub content_type: String,
    pub context: Option<Value>,
    pub status: JobStatus,
    /// Kept as the JSON text it was stored as: results can be large, and a parsed tree
    /// costs many times the text's size.
    pub result: Option<Box<serde_json::value::RawValue>>,
    pub error: Option<Value>,
    pub created_at: String,
    pub updated_at: String,
    /// Where this job's result is delivered, instead of its workload's webhook URL.
    pub webhook_url: Option<String>,
}

/// A workload's webhook destination. The secret signs every delivery of the workload; it is
/// shown once when made and never in a `Debug` print (so never in a log line).
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookRecord {
    pub workload_id: String,
    pub url: String,
    pub secret: String,
    pub created_at: String,
    pub updated_at: String,
}

impl std::fmt::Debug for WebhookRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookRecord")
            .field("workload_id", &self.workload_id)
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Delivered,
    /// Every attempt of the schedule failed (or the delivery can never succeed).
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> StoreResult<Self> {
        Ok(match s {
            "pending" => DeliveryState::Pending,
            "delivered" => DeliveryState::Delivered,
            "failed" => DeliveryState::Failed,
            other => return Err(StoreError::Corrupt(format!("delivery state {other:?}"))),
        })
    }
}

/// One outbox row: a webhook delivery and how its attempts went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub id: String,
    pub workload_id: String,
    pub job_id: String,
    /// The `X-InferenceKey-Event` header: `job` or `ping`.
    pub event: String,
    pub url: String,
    /// The exact bytes signed and sent.
    pub body: Vec<u8>,
    pub state: DeliveryState,
    pub attempts: u32,
    /// Unix milliseconds of the next attempt (while pending).
    pub next_attempt_ms: i64,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// What one attempt of a delivery came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered {
        status: u16,
    },
    /// Try again at `next_attempt_ms`.
    Retry {
        next_attempt_ms: i64,
        status: Option<u16>,
        error: String,
    },
    GaveUp {
        status: Option<u16>,
        error: String,
    },
}

impl AttemptOutcome {
    /// The delivery row's new `state`, `next_attempt_ms`, `last_status` and `last_error`:
    /// one mapping for every store.
    pub(crate) fn columns(&self) -> (DeliveryState, Option<i64>, Option<u16>, Option<&str>) {
        match self {
            AttemptOutcome::Delivered { status } => {
                (DeliveryState::Delivered, None, Some(*status), None)
            }
            AttemptOutcome::Retry {
                next_attempt_ms,
                status,
                error,
            } => (
                DeliveryState::Pending,
                Some(*next_attempt_ms),
                *status,
                Some(error.as_str()),
            ),
            AttemptOutcome::GaveUp { status, error } => {
                (DeliveryState::Failed, None, *status, Some(error.as_str()))
            }
        }
    }
}

/// A published custom backend (docs/contract.md §7): one version of a tenant's package.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomBackendRecord {
    pub id: String,
    pub tenant_id: String,
    pub slug: String,
    pub version: String,
    pub task_type: String,
    /// The checked `manifest.json` (slug filled in).
    pub manifest: Value,
    pub sha256: String,
    pub size_bytes: u64,
    pub created_at: String,
}

/// What the leading Manager serves of one workload, published in a shared store for the
/// other Managers' gateways (docs/manager.md, "Several Managers"): its readiness and where
/// its ready replicas listen. Stored as JSON, so a field added later is read by an older
/// Manager as unknown and ignored.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ServingState {
    pub phase: String,
    pub message: String,
    #[serde(default)]
    pub step: Option<String>,
    #[serde(default)]
    pub elapsed_ms: u64,
    /// The ready replicas' base URLs, in the leader's routing order.
    #[serde(default)]
    pub urls: Vec<String>,
    /// Replicas the policy wants now.
    #[serde(default)]
    pub wanted: usize,
    /// Set while the workload's schedule keeps it down.
    #[serde(default)]
    pub closed: Option<ClosedState>,
    /// The leading Manager's URL: a follower names it, since "the local worker" in the
    /// message is the leader's machine.
    #[serde(default)]
    pub leader: Option<String>,
}

/// One Manager's gateway load on one workload, as a follower reports it to the leader.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GatewayLoad {
    pub workload_id: String,
    /// Requests in flight, held ones included.
    pub in_flight: usize,
    /// Of those, the ones sent to each replica (by its URL): the leader stops a draining
    /// replica only once no Manager has a request on it.
    pub by_replica: std::collections::BTreeMap<String, usize>,
}

/// A schedule's closed window as [`ServingState`] carries it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClosedState {
    pub message: String,
    /// RFC 3339.
    #[serde(default)]
    pub next_start: Option<String>,
}

/// The Manager's persistence. Implementations must make each method atomic.
///
/// Async so a networked store (PostgreSQL) can wait for its server without blocking the
/// Manager's worker; `async_trait` keeps it object-safe (`Arc<dyn Store>`).
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Whether other Managers may write the same store at the same time (PostgreSQL), so
    /// what this one caches (verified tokens) must be re-read now and then.
    fn shared(&self) -> bool {
        false
    }

    /// Takes the leader lease, or keeps it: true while this store holds it. The leading
    /// Manager alone runs supervisors (engines, agents' assignments, the autoscaler); the
    /// others serve the control API and the gateway from what it publishes. A store no other
    /// Manager shares always leads.
    async fn lead(&self) -> StoreResult<bool> {
        Ok(true)
    }

    /// Publishes what the leader serves of a workload (a shared store; others keep nothing).
    async fn put_serving(&self, _workload_id: &str, _state: &ServingState) -> StoreResult<()> {
        Ok(())
    }

    /// Every workload's published [`ServingState`].
    async fn list_serving(&self) -> StoreResult<Vec<(String, ServingState)>> {
        Ok(Vec::new())
    }

    /// Records this Manager's gateway load (requests in flight, held ones included) per
    /// workload, reported at `now_ms` (Unix milliseconds), so the leader's autoscaler counts
    /// requests that arrive at the other Managers (a shared store; others keep nothing).
    async fn put_gateway_load(&self, _loads: &[GatewayLoad], _now_ms: i64) -> StoreResult<()> {
        Ok(())
    }

    /// The other Managers' gateway load per workload, summed over reports made at or after
    /// `since_ms`.
    async fn gateway_load(&self, _since_ms: i64) -> StoreResult<Vec<GatewayLoad>> {
        Ok(Vec::new())
    }

    /// Creates the project if it does not exist; the flag says whether it was created.
    async fn ensure_project(&self, slug: &str) -> StoreResult<(Project, bool)>;
    async fn project_by_slug(&self, slug: &str) -> StoreResult<Option<Project>>;
    async fn list_projects(&self) -> StoreResult<Vec<Project>>;

    async fn insert_token(&self, token: &TokenRecord) -> StoreResult<()>;
    async fn token(&self, id: &str) -> StoreResult<Option<TokenRecord>>;
    /// Every non-admin token, optionally of one project, oldest first. Worker tokens belong
    /// to no project: they are listed only when no project is given.
    async fn list_tokens(&self, project_slug: Option<&str>) -> StoreResult<Vec<TokenRecord>>;
    /// Marks a token revoked (keeping the first revocation time) and returns it.
    async fn revoke_token(&self, id: &str) -> StoreResult<Option<TokenRecord>>;

    async fn insert_worker(&self, worker: &Worker) -> StoreResult<()>;
    async fn worker(&self, id: &str) -> StoreResult<Option<Worker>>;
    async fn list_workers(&self) -> StoreResult<Vec<Worker>>;
    /// Records an agent's sync for its worker: the address it is reachable on, heard from
    /// `at`. False when the worker is not registered.
    async fn worker_heartbeat(&self, worker_id: &str, address: &str, at: &str)
        -> StoreResult<bool>;
    /// Where and when the worker's agent was last heard from; `None` if it never was.
    async fn worker_presence(&self, worker_id: &str) -> StoreResult<Option<WorkerPresence>>;
    /// Records a replica assigned to a worker (phase `assigned`).
    async fn assign_replica(&self, replica: &ReplicaRecord) -> StoreResult<()>;
    /// Takes a replica off its worker; false when it was not assigned.
    async fn unassign_replica(&self, id: &str) -> StoreResult<bool>;
    async fn replica(&self, id: &str) -> StoreResult<Option<ReplicaRecord>>;
    /// The replicas assigned to a worker, oldest first.
    async fn replicas_of_worker(&self, worker_id: &str) -> StoreResult<Vec<ReplicaRecord>>;
    /// Records what a worker's agent reports of one replica; false (and nothing written)
    /// when the replica is not assigned to that worker (taken off it, or another's).
    async fn report_replica(
        &self,
        worker_id: &str,
        report: &ReplicaReport,
        at: &str,
    ) -> StoreResult<bool>;
    /// Takes every replica off its worker: a Manager that owns its store alone starts with
    /// none assigned (its supervisors assign them again).
    async fn clear_replicas(&self) -> StoreResult<usize>;
    async fn insert_gpu(&self, gpu: &Gpu) -> StoreResult<()>;
    async fn gpu(&self, id: &str) -> StoreResult<Option<Gpu>>;
    async fn list_gpus(&self) -> StoreResult<Vec<Gpu>>;

    /// Fails with [`StoreError::Conflict`] when the project already has the slug.
    async fn insert_workload(&self, workload: &WorkloadRecord) -> StoreResult<()>;
    async fn workload(&self, id: &str) -> StoreResult<Option<WorkloadRecord>>;
    async fn workload_by_slug(
        &self,
        project_id: &str,
        slug: &str,
    ) -> StoreResult<Option<WorkloadRecord>>;
    /// Workloads of one project (or all), oldest first; rows that do not parse are left out.
    async fn list_workloads(&self, project_id: Option<&str>) -> StoreResult<Vec<WorkloadRecord>>;
    /// Workload rows that do not parse: `(id, why)`. They are never run or listed.
    async fn quarantined_workloads(&self) -> StoreResult<Vec<(String, String)>>;
    /// Replaces the desired-state fields; returns false when the workload is gone.
    async fn update_workload(&self, workload: &WorkloadRecord) -> StoreResult<bool>;
    async fn delete_workload(&self, id: &str) -> StoreResult<bool>;
    async fn set_workload_status(&self, id: &str, status: &str, message: &str) -> StoreResult<()>;

    /// Claims `key` for `token_id`, or reports what an earlier request with it did.
    /// Records older than `ttl_secs` are treated as absent.
    async fn idempotency_begin(
        &self,
        token_id: &str,
        key: &str,
        fingerprint: &[u8; 32],
        ttl_secs: i64,
    ) -> StoreResult<IdempotencyBegin>;
    async fn idempotency_finish(
        &self,
        token_id: &str,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> StoreResult<()>;
    /// Releases a claimed key without an answer, so a retry can run again.
    async fn idempotency_abandon(&self, token_id: &str, key: &str) -> StoreResult<()>;
    /// Drops claims left by a crash: after a restart nothing can still be running.
    async fn idempotency_reset_running(&self) -> StoreResult<()>;

    /// Queues a job unless its key or the whole queue is at its limit.
    async fn insert_job(&self, job: &JobRecord, limits: QueueLimits) -> StoreResult<Admission>;
    async fn job(&self, id: &str) -> StoreResult<Option<JobRecord>>;
    /// The newest jobs of one project (or all), newest first, without their bodies and
    /// results (which may be large): for listings.
    async fn list_jobs(
        &self,
        project_id: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<JobRecord>>;
    /// Atomically moves the next queued job to `running` and returns it. Fair: the next job
    /// is the oldest of the project with the fewest running jobs (then of its workload with
    /// the fewest), so one tenant's backlog never blocks another's.
    async fn claim_next_job(&self) -> StoreResult<Option<JobRecord>>;
    /// Records a job's outcome and, in the same transaction, queues its webhook delivery.
    async fn finish_job(
        &self,
        id: &str,
        status: JobStatus,
        result: Option<&serde_json::value::RawValue>,
        error: Option<&Value>,
        delivery: Option<&DeliveryRecord>,
    ) -> StoreResult<()>;
    /// Deletes finished jobs last updated before `cutoff` (RFC 3339); returns how many.
    async fn delete_finished_jobs_before(&self, cutoff: &str) -> StoreResult<usize>;
    /// Puts jobs a crash left `running` back in the queue; returns how many.
    async fn requeue_running_jobs(&self) -> StoreResult<usize>;

    /// Creates or replaces a workload's webhook; true when it was created.
    async fn put_webhook(&self, webhook: &WebhookRecord) -> StoreResult<bool>;
    async fn webhook(&self, workload_id: &str) -> StoreResult<Option<WebhookRecord>>;
    async fn delete_webhook(&self, workload_id: &str) -> StoreResult<bool>;
    /// Pending deliveries due at `now_ms`, oldest due first, at most `limit`; each is leased
    /// (its next attempt moved to `now_ms + lease_ms`) so it is not claimed twice while in
    /// flight, and a crash mid-attempt only delays it by the lease.
    async fn claim_due_deliveries(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> StoreResult<Vec<DeliveryRecord>>;
    /// Records one attempt (counting it) and its outcome.
    async fn record_delivery_attempt(&self, id: &str, outcome: &AttemptOutcome) -> StoreResult<()>;
    /// A workload's newest deliveries, newest first, without their bodies.
    async fn list_deliveries(
        &self,
        workload_id: &str,
        limit: usize,
    ) -> StoreResult<Vec<DeliveryRecord>>;
    /// The earliest next attempt of any pending delivery (to sleep until it).
    async fn next_delivery_due(&self) -> StoreResult<Option<i64>>;
    /// Deletes finished deliveries last updated before `cutoff` (RFC 3339).
    async fn delete_finished_deliveries_before(&self, cutoff: &str) -> StoreResult<usize>;

    /// Records a published custom backend; [`StoreError::Conflict`] when the tenant already
    /// has this slug and version.
    async fn insert_custom_backend(&self, backend: &CustomBackendRecord) -> StoreResult<()>;
    /// One published version of a slug.
    async fn custom_backend_version(
        &self,
        tenant_id: &str,
        slug: &str,
        version: &str,
    ) -> StoreResult<Option<CustomBackendRecord>>;
    /// The newest published version of a slug: the one workloads naming it run.
    async fn custom_backend(
        &self,
        tenant_id: &str,
        slug: &str,
    ) -> StoreResult<Option<CustomBackendRecord>>;
    /// Every published version of the tenant's backends, newest first.
    async fn list_custom_backends(&self, tenant_id: &str) -> StoreResult<Vec<CustomBackendRecord>>;
}
