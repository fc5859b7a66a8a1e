//! The SQLite [`Store`]: one connection in WAL mode behind a mutex. Statements are short and
//! the lock is never held across an `.await`, which on one machine is faster than a pool.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use inferencekey_core::token::TokenKind;
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, Row};
use serde_json::Value;

use super::{
    migrations, Admission, AttemptOutcome, CustomBackendRecord, DeliveryRecord, DeliveryState, Gpu,
    IdempotencyBegin, JobRecord, JobStatus, Project, QueueLimits, ReplicaPhase, ReplicaRecord,
    ReplicaReport, Store, StoreError, StoreResult, TokenRecord, WebhookRecord, Worker,
    WorkerPresence, WorkloadRecord,
};
use crate::util::{new_id, now_rfc3339, now_unix};

const TENANT: &str = "tnt_local";

pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and runs pending migrations.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrations::migrate(&mut conn)?;
        for (id, backend) in migrations::fill_missing_backends(&conn)? {
            tracing::warn!(
                workload = %id,
                backend = %backend,
                "this workload had no backend (it was created before backend was required); \
                 set it from its engine command"
            );
        }
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    /// Every workload row, parsed, or its id and why it does not parse.
    #[allow(clippy::type_complexity)]
    fn scan_workloads(
        &self,
        project_id: Option<&str>,
    ) -> StoreResult<Vec<Result<WorkloadRecord, (String, String)>>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {WORKLOAD_COLUMNS} FROM workloads w JOIN projects p ON p.id = w.project_id
             WHERE ?1 IS NULL OR w.project_id = ?1
             ORDER BY w.rowid"
        ))?;
        let rows = stmt.query_map([project_id], |r| {
            let id: String = r.get(0)?;
            Ok(workload_row(r).map_err(|e| (id, e.to_string())))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (each statement is
        // atomic), so a poisoned lock is still safe to use.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

const CUSTOM_BACKEND_COLUMNS: &str =
    "id, tenant_id, slug, version, task_type, manifest, sha256, size_bytes, created_at";

fn custom_backend_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CustomBackendRecord> {
    let manifest: String = r.get(5)?;
    Ok(CustomBackendRecord {
        id: r.get(0)?,
        tenant_id: r.get(1)?,
        slug: r.get(2)?,
        version: r.get(3)?,
        task_type: r.get(4)?,
        manifest: serde_json::from_str(&manifest).unwrap_or(Value::Null),
        sha256: r.get(6)?,
        size_bytes: r.get::<_, i64>(7)? as u64,
        created_at: r.get(8)?,
    })
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.code == ErrorCode::ConstraintViolation
            && (f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY))
}

fn json_text(v: &Value) -> String {
    v.to_string()
}

fn parse_json(column: &str, text: &str) -> rusqlite::Result<Value> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("column {column}: {e}").into(),
        )
    })
}

const TOKEN_COLUMNS: &str = "t.id, t.kind, t.project_id, p.slug, t.scope, t.secret_hash, \
     t.created_at, t.revoked_at, t.worker_id";

/// Row mappers, one per record type, so every query reads its columns the same way.
fn project_row(r: &Row<'_>) -> rusqlite::Result<Project> {
    Ok(Project {
        id: r.get(0)?,
        slug: r.get(1)?,
        created_at: r.get(2)?,
    })
}

fn worker_row(r: &Row<'_>) -> rusqlite::Result<Worker> {
    Ok(Worker {
        id: r.get(0)?,
        name: r.get(1)?,
        created_at: r.get(2)?,
    })
}

fn gpu_row(r: &Row<'_>) -> rusqlite::Result<Gpu> {
    Ok(Gpu {
        id: r.get(0)?,
        name: r.get(1)?,
        worker_id: r.get(2)?,
        created_at: r.get(3)?,
    })
}

fn token_row(r: &Row<'_>) -> rusqlite::Result<TokenRecord> {
    let kind: String = r.get(1)?;
    let hash: Vec<u8> = r.get(5)?;
    let bad = |what: String| {
        rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, what.into())
    };
    Ok(TokenRecord {
        id: r.get(0)?,
        kind: TokenKind::from_name(&kind).ok_or_else(|| bad(format!("token kind {kind:?}")))?,
        project_id: r.get(2)?,
        project_slug: r.get(3)?,
        scope: r.get(4)?,
        secret_hash: hash
            .try_into()
            .map_err(|_| bad("token hash is not 32 bytes".into()))?,
        created_at: r.get(6)?,
        revoked_at: r.get(7)?,
        worker_id: r.get(8)?,
    })
}

const REPLICA_COLUMNS: &str = "id, workload_id, worker_id, spec_hash, launch, phase, port, \
     last_error, created_at, updated_at";

fn replica_row(r: &Row<'_>) -> rusqlite::Result<ReplicaRecord> {
    let phase: String = r.get(5)?;
    Ok(ReplicaRecord {
        id: r.get(0)?,
        workload_id: r.get(1)?,
        worker_id: r.get(2)?,
        spec_hash: r.get(3)?,
        launch: parse_json("launch", &r.get::<_, String>(4)?)?,
        phase: ReplicaPhase::parse(&phase).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                5,
                rusqlite::types::Type::Text,
                format!("replica phase {phase:?}").into(),
            )
        })?,
        port: r.get(6)?,
        last_error: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
    })
}

const WORKLOAD_COLUMNS: &str = "w.id, w.project_id, p.slug, w.name, w.slug, w.description, \
     w.task_type, w.backend, w.model_name, w.config, w.worker_id, w.gpu_resource_id, \
     w.execution_policy, w.execution_policy_config, w.created_at, w.updated_at, w.status, \
     w.status_message";

fn workload_row(r: &Row<'_>) -> rusqlite::Result<WorkloadRecord> {
    Ok(WorkloadRecord {
        id: r.get(0)?,
        project_id: r.get(1)?,
        project_slug: r.get(2)?,
        name: r.get(3)?,
        slug: r.get(4)?,
        description: r.get(5)?,
        task_type: r.get(6)?,
        backend: Some(r.get::<_, Option<String>>(7)?.ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                7,
                rusqlite::types::Type::Null,
                "column backend: missing, and its command names no known engine (the workload \
                 was created before backend was required); set the row's backend or delete the \
                 row"
                .into(),
            )
        })?),
        model_name: r.get(8)?,
        config: parse_json("config", &r.get::<_, String>(9)?)?,
        worker_id: r.get(10)?,
        gpu_resource_id: r.get(11)?,
        execution_policy: r.get(12)?,
        execution_policy_config: parse_json("execution_policy_config", &r.get::<_, String>(13)?)?,
        created_at: r.get(14)?,
        updated_at: r.get(15)?,
        status: r.get(16)?,
        status_message: r.get(17)?,
    })
}

const JOB_COLUMNS: &str = "id, project_id, workload_id, kind, body, content_type, context, \
     status, result, error, created_at, updated_at, token_id, webhook_url";

fn job_row(r: &Row<'_>) -> rusqlite::Result<(JobRecord, String)> {
    let opt_json = |i: usize, name: &str| -> rusqlite::Result<Option<Value>> {
        r.get::<_, Option<String>>(i)?
            .map(|t| parse_json(name, &t))
            .transpose()
    };
    let status: String = r.get(7)?;
    Ok((
        JobRecord {
            id: r.get(0)?,
            project_id: r.get(1)?,
            workload_id: r.get(2)?,
            kind: r.get(3)?,
            body: r.get(4)?,
            content_type: r.get(5)?,
            context: opt_json(6, "context")?,
            // Parsed by the caller, which can return a typed error.
            status: JobStatus::Queued,
            result: r
                .get::<_, Option<String>>(8)?
                .map(|t| {
                    serde_json::value::RawValue::from_string(t).map_err(|e| {
                        rusqlite::Error::FromSqlConversionFailure(
                            8,
                            rusqlite::types::Type::Text,
                            format!("column result: {e}").into(),
                        )
                    })
                })
                .transpose()?,
            error: opt_json(9, "error")?,
            created_at: r.get(10)?,
            updated_at: r.get(11)?,
            token_id: r.get(12)?,
            webhook_url: r.get(13)?,
        },
        status,
    ))
}

fn finish_job_row(row: Option<(JobRecord, String)>) -> StoreResult<Option<JobRecord>> {
    row.map(|(mut job, status)| {
        job.status = JobStatus::parse(&status)?;
        Ok(job)
    })
    .transpose()
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn ensure_project(&self, slug: &str) -> StoreResult<(Project, bool)> {
        let conn = self.conn();
        let id = new_id("prj");
        let created = conn.execute(
            "INSERT INTO projects (id, tenant_id, slug, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (slug) DO NOTHING",
            params![id, TENANT, slug, now_rfc3339()],
        )? == 1;
        let project = conn.query_row(
            "SELECT id, slug, created_at FROM projects WHERE slug = ?1",
            [slug],
            project_row,
        )?;
        Ok((project, created))
    }

    async fn project_by_slug(&self, slug: &str) -> StoreResult<Option<Project>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT id, slug, created_at FROM projects WHERE slug = ?1",
                [slug],
                project_row,
            )
            .optional()?)
    }

    async fn list_projects(&self) -> StoreResult<Vec<Project>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached("SELECT id, slug, created_at FROM projects ORDER BY slug")?;
        let rows = stmt.query_map([], project_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    async fn insert_token(&self, t: &TokenRecord) -> StoreResult<()> {
        self.conn()
            .execute(
                "INSERT INTO tokens (id, kind, project_id, scope, secret_hash, created_at, revoked_at,
                                     worker_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    t.id,
                    t.kind.name(),
                    t.project_id,
                    t.scope,
                    &t.secret_hash[..],
                    t.created_at,
                    t.revoked_at,
                    t.worker_id
                ],
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict(format!("token id {}", t.id))
                } else {
                    e.into()
                }
            })?;
        Ok(())
    }

    async fn token(&self, id: &str) -> StoreResult<Option<TokenRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens t LEFT JOIN projects p ON p.id = t.project_id
             WHERE t.id = ?1"
        ))?;
        Ok(stmt.query_row([id], token_row).optional()?)
    }

    async fn list_tokens(&self, project_slug: Option<&str>) -> StoreResult<Vec<TokenRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens t LEFT JOIN projects p ON p.id = t.project_id
             WHERE t.kind != 'admin' AND (?1 IS NULL OR p.slug = ?1)
             ORDER BY t.rowid"
        ))?;
        let rows = stmt.query_map([project_slug], token_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    async fn revoke_token(&self, id: &str) -> StoreResult<Option<TokenRecord>> {
        {
            let conn = self.conn();
            conn.execute(
                "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, now_rfc3339()],
            )?;
        }
        self.token(id).await
    }

    async fn insert_worker(&self, w: &Worker) -> StoreResult<()> {
        self.conn().execute(
            "INSERT INTO workers (id, tenant_id, name, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![w.id, TENANT, w.name, w.created_at],
        )?;
        Ok(())
    }

    async fn worker(&self, id: &str) -> StoreResult<Option<Worker>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT id, name, created_at FROM workers WHERE id = ?1",
                [id],
                worker_row,
            )
            .optional()?)
    }

    async fn list_workers(&self) -> StoreResult<Vec<Worker>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached("SELECT id, name, created_at FROM workers ORDER BY rowid")?;
        let rows = stmt.query_map([], worker_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    async fn worker_heartbeat(
        &self,
        worker_id: &str,
        address: &str,
        at: &str,
    ) -> StoreResult<bool> {
        let n = self.conn().execute(
            "UPDATE workers SET address = ?2, last_seen = ?3 WHERE id = ?1",
            params![worker_id, address, at],
        )?;
        Ok(n == 1)
    }

    async fn worker_presence(&self, worker_id: &str) -> StoreResult<Option<WorkerPresence>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT address, last_seen FROM workers
                 WHERE id = ?1 AND address IS NOT NULL AND last_seen IS NOT NULL",
                [worker_id],
                |r| {
                    Ok(WorkerPresence {
                        address: r.get(0)?,
                        last_seen: r.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    async fn assign_replica(&self, r: &ReplicaRecord) -> StoreResult<()> {
        self.conn()
            .execute(
                &format!(
                    "INSERT INTO replicas ({REPLICA_COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
                ),
                params![
                    r.id,
                    r.workload_id,
                    r.worker_id,
                    r.spec_hash,
                    json_text(&r.launch),
                    r.phase.as_str(),
                    r.port,
                    r.last_error,
                    r.created_at,
                    r.updated_at
                ],
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict(format!("replica id {}", r.id))
                } else {
                    e.into()
                }
            })?;
        Ok(())
    }

    async fn unassign_replica(&self, id: &str) -> StoreResult<bool> {
        Ok(self
            .conn()
            .execute("DELETE FROM replicas WHERE id = ?1", [id])?
            == 1)
    }

    async fn replica(&self, id: &str) -> StoreResult<Option<ReplicaRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {REPLICA_COLUMNS} FROM replicas WHERE id = ?1"
        ))?;
        Ok(stmt.query_row([id], replica_row).optional()?)
    }

    async fn replicas_of_worker(&self, worker_id: &str) -> StoreResult<Vec<ReplicaRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {REPLICA_COLUMNS} FROM replicas WHERE worker_id = ?1 ORDER BY rowid"
        ))?;
        let rows = stmt.query_map([worker_id], replica_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    async fn report_replica(
        &self,
        worker_id: &str,
        report: &ReplicaReport,
        at: &str,
    ) -> StoreResult<bool> {
        let n = self.conn().execute(
            "UPDATE replicas SET phase = ?3, port = ?4, last_error = ?5, updated_at = ?6
             WHERE id = ?1 AND worker_id = ?2",
            params![
                report.replica_id,
                worker_id,
                report.phase.as_str(),
                report.port,
                report.last_error,
                at
            ],
        )?;
        Ok(n == 1)
    }

    async fn clear_replicas(&self) -> StoreResult<usize> {
        Ok(self.conn().execute("DELETE FROM replicas", [])?)
    }

    async fn insert_gpu(&self, g: &Gpu) -> StoreResult<()> {
        self.conn().execute(
            "INSERT INTO gpus (id, tenant_id, name, worker_id, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![g.id, TENANT, g.name, g.worker_id, g.created_at],
        )?;
        Ok(())
    }

    async fn gpu(&self, id: &str) -> StoreResult<Option<Gpu>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT id, name, worker_id, created_at FROM gpus WHERE id = ?1",
                [id],
                gpu_row,
            )
            .optional()?)
    }

    async fn list_gpus(&self) -> StoreResult<Vec<Gpu>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached("SELECT id, name, worker_id, created_at FROM gpus ORDER BY rowid")?;
        let rows = stmt.query_map([], gpu_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    async fn insert_workload(&self, w: &WorkloadRecord) -> StoreResult<()> {
        self.conn()
            .execute(
                "INSERT INTO workloads (id, project_id, slug, name, description, task_type, backend,
                    model_name, config, worker_id, gpu_resource_id, execution_policy,
                    execution_policy_config, status, status_message, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
                params![
                    w.id,
                    w.project_id,
                    w.slug,
                    w.name,
                    w.description,
                    w.task_type,
                    w.backend,
                    w.model_name,
                    json_text(&w.config),
                    w.worker_id,
                    w.gpu_resource_id,
                    w.execution_policy,
                    json_text(&w.execution_policy_config),
                    w.status,
                    w.status_message,
                    w.created_at,
                    w.updated_at
                ],
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict(format!("workload slug {}", w.slug))
                } else {
                    e.into()
                }
            })?;
        Ok(())
    }

    async fn workload(&self, id: &str) -> StoreResult<Option<WorkloadRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {WORKLOAD_COLUMNS} FROM workloads w JOIN projects p ON p.id = w.project_id
             WHERE w.id = ?1"
        ))?;
        Ok(stmt.query_row([id], workload_row).optional()?)
    }

    async fn workload_by_slug(
        &self,
        project_id: &str,
        slug: &str,
    ) -> StoreResult<Option<WorkloadRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {WORKLOAD_COLUMNS} FROM workloads w JOIN projects p ON p.id = w.project_id
             WHERE w.project_id = ?1 AND w.slug = ?2"
        ))?;
        Ok(stmt
            .query_row([project_id, slug], workload_row)
            .optional()?)
    }

    async fn list_workloads(&self, project_id: Option<&str>) -> StoreResult<Vec<WorkloadRecord>> {
        // Rows that do not parse are left out (see `quarantined_workloads`): one bad row must
        // not stop the Manager, or a listing, for every tenant.
        Ok(self
            .scan_workloads(project_id)?
            .into_iter()
            .filter_map(Result::ok)
            .collect())
    }

    async fn quarantined_workloads(&self) -> StoreResult<Vec<(String, String)>> {
        Ok(self
            .scan_workloads(None)?
            .into_iter()
            .filter_map(Result::err)
            .collect())
    }

    async fn update_workload(&self, w: &WorkloadRecord) -> StoreResult<bool> {
        Ok(self.conn().execute(
            "UPDATE workloads SET name = ?2, description = ?3, task_type = ?4, backend = ?5,
                model_name = ?6, config = ?7, worker_id = ?8, gpu_resource_id = ?9,
                execution_policy = ?10, execution_policy_config = ?11, updated_at = ?12
             WHERE id = ?1",
            params![
                w.id,
                w.name,
                w.description,
                w.task_type,
                w.backend,
                w.model_name,
                json_text(&w.config),
                w.worker_id,
                w.gpu_resource_id,
                w.execution_policy,
                json_text(&w.execution_policy_config),
                w.updated_at
            ],
        )? == 1)
    }

    async fn delete_workload(&self, id: &str) -> StoreResult<bool> {
        Ok(self
            .conn()
            .execute("DELETE FROM workloads WHERE id = ?1", [id])?
            == 1)
    }

    async fn set_workload_status(&self, id: &str, status: &str, message: &str) -> StoreResult<()> {
        self.conn().execute(
            "UPDATE workloads SET status = ?2, status_message = ?3 WHERE id = ?1",
            params![id, status, message],
        )?;
        Ok(())
    }

    async fn idempotency_begin(
        &self,
        token_id: &str,
        key: &str,
        fingerprint: &[u8; 32],
        ttl_secs: i64,
    ) -> StoreResult<IdempotencyBegin> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let now = now_unix();
        let existing = tx
            .query_row(
                "SELECT fingerprint, state, status, body, created_unix FROM idempotency
                 WHERE token_id = ?1 AND key = ?2",
                params![token_id, key],
                |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                        r.get::<_, Option<Vec<u8>>>(3)?,
                        r.get::<_, i64>(4)?,
                    ))
                },
            )
            .optional()?;
        let outcome = match existing {
            Some((fp, state, status, body, created)) if now - created < ttl_secs => {
                if fp.as_slice() != fingerprint.as_slice() {
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
            _ => {
                tx.execute(
                    "INSERT OR REPLACE INTO idempotency
                        (token_id, key, fingerprint, state, status, body, created_unix)
                     VALUES (?1, ?2, ?3, 'running', NULL, NULL, ?4)",
                    params![token_id, key, &fingerprint[..], now],
                )?;
                // Expired records of every token go at the same time, keeping the table small.
                tx.execute(
                    "DELETE FROM idempotency WHERE created_unix <= ?1",
                    [now - ttl_secs],
                )?;
                IdempotencyBegin::Started
            }
        };
        tx.commit()?;
        Ok(outcome)
    }

    async fn idempotency_finish(
        &self,
        token_id: &str,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> StoreResult<()> {
        self.conn().execute(
            "UPDATE idempotency SET state = 'done', status = ?3, body = ?4
             WHERE token_id = ?1 AND key = ?2",
            params![token_id, key, status, body],
        )?;
        Ok(())
    }

    async fn idempotency_abandon(&self, token_id: &str, key: &str) -> StoreResult<()> {
        self.conn().execute(
            "DELETE FROM idempotency WHERE token_id = ?1 AND key = ?2 AND state = 'running'",
            params![token_id, key],
        )?;
        Ok(())
    }

    async fn idempotency_reset_running(&self) -> StoreResult<()> {
        self.conn()
            .execute("DELETE FROM idempotency WHERE state = 'running'", [])?;
        Ok(())
    }

    async fn insert_job(&self, j: &JobRecord, limits: QueueLimits) -> StoreResult<Admission> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        if let Some(token) = &j.token_id {
            let mine: i64 = tx.query_row(
                "SELECT COUNT(*) FROM jobs WHERE token_id = ?1 AND status IN ('queued', 'running')",
                [token],
                |r| r.get(0),
            )?;
            if mine as usize >= limits.per_key {
                return Ok(Admission::KeyQuota);
            }
        }
        let queued: i64 = tx.query_row(
            "SELECT COUNT(*) FROM jobs WHERE status = 'queued'",
            [],
            |r| r.get(0),
        )?;
        if queued as usize >= limits.total {
            return Ok(Admission::QueueFull);
        }
        tx.execute(
            &format!(
                "INSERT INTO jobs ({JOB_COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
            ),
            params![
                j.id,
                j.project_id,
                j.workload_id,
                j.kind,
                j.body,
                j.content_type,
                j.context.as_ref().map(json_text),
                j.status.as_str(),
                j.result.as_ref().map(|r| r.get()),
                j.error.as_ref().map(json_text),
                j.created_at,
                j.updated_at,
                j.token_id,
                j.webhook_url
            ],
        )?;
        tx.commit()?;
        Ok(Admission::Queued)
    }

    async fn job(&self, id: &str) -> StoreResult<Option<JobRecord>> {
        let row = {
            let conn = self.conn();
            let mut stmt =
                conn.prepare_cached(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"))?;
            stmt.query_row([id], job_row).optional()?
        };
        finish_job_row(row)
    }

    async fn list_jobs(
        &self,
        project_id: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<JobRecord>> {
        let rows = {
            let conn = self.conn();
            // Same columns as JOB_COLUMNS, with the body and the result left out.
            let mut stmt = conn.prepare_cached(
                "SELECT id, project_id, workload_id, kind, x'', content_type, context, status,
                        NULL, error, created_at, updated_at, token_id, webhook_url
                 FROM jobs WHERE ?1 IS NULL OR project_id = ?1
                 ORDER BY rowid DESC LIMIT ?2",
            )?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = stmt
                .query_map(params![project_id, limit], job_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows
        };
        rows.into_iter()
            .map(|(mut job, status)| {
                job.status = JobStatus::parse(&status)?;
                Ok(job)
            })
            .collect()
    }

    async fn claim_next_job(&self) -> StoreResult<Option<JobRecord>> {
        let row = {
            let mut conn = self.conn();
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            // One candidate per (project, workload): its oldest queued job. The queue is
            // bounded (QueueLimits), so this grouped scan of the index stays small.
            let next: Option<i64> = tx
                .prepare_cached(
                    "WITH running AS (SELECT project_id, workload_id FROM jobs
                                      WHERE status = 'running'),
                          cand AS (SELECT project_id, workload_id, MIN(rowid) AS first FROM jobs
                                   WHERE status = 'queued' GROUP BY project_id, workload_id)
                     SELECT first FROM cand c
                     ORDER BY (SELECT COUNT(*) FROM running r WHERE r.project_id = c.project_id),
                              (SELECT COUNT(*) FROM running r WHERE r.workload_id = c.workload_id),
                              first
                     LIMIT 1",
                )?
                .query_row([], |r| r.get(0))
                .optional()?;
            let row = match next {
                Some(rowid) => tx
                    .prepare_cached(&format!(
                        "UPDATE jobs SET status = 'running', updated_at = ?1 WHERE rowid = ?2
                         RETURNING {JOB_COLUMNS}"
                    ))?
                    .query_row(params![now_rfc3339(), rowid], job_row)
                    .optional()?,
                None => None,
            };
            tx.commit()?;
            row
        };
        finish_job_row(row)
    }

    async fn finish_job(
        &self,
        id: &str,
        status: JobStatus,
        result: Option<&serde_json::value::RawValue>,
        error: Option<&Value>,
        delivery: Option<&DeliveryRecord>,
    ) -> StoreResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "UPDATE jobs SET status = ?2, result = ?3, error = ?4, updated_at = ?5 WHERE id = ?1",
            params![
                id,
                status.as_str(),
                result.map(|r| r.get()),
                error.map(json_text),
                now_rfc3339()
            ],
        )?;
        if let Some(d) = delivery {
            insert_delivery(&tx, d)?;
        }
        tx.commit()?;
        Ok(())
    }

    async fn delete_finished_jobs_before(&self, cutoff: &str) -> StoreResult<usize> {
        Ok(self.conn().execute(
            "DELETE FROM jobs WHERE status IN ('succeeded', 'failed') AND updated_at < ?1",
            [cutoff],
        )?)
    }

    async fn requeue_running_jobs(&self) -> StoreResult<usize> {
        Ok(self.conn().execute(
            "UPDATE jobs SET status = 'queued', updated_at = ?1 WHERE status = 'running'",
            [now_rfc3339()],
        )?)
    }

    async fn put_webhook(&self, w: &WebhookRecord) -> StoreResult<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let existed: bool = tx
            .query_row(
                "SELECT 1 FROM webhooks WHERE workload_id = ?1",
                [&w.workload_id],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        tx.execute(
            "INSERT INTO webhooks (workload_id, url, secret, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (workload_id) DO UPDATE
             SET url = excluded.url, secret = excluded.secret, updated_at = excluded.updated_at",
            params![w.workload_id, w.url, w.secret, w.created_at, w.updated_at],
        )?;
        tx.commit()?;
        Ok(!existed)
    }

    async fn webhook(&self, workload_id: &str) -> StoreResult<Option<WebhookRecord>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT workload_id, url, secret, created_at, updated_at FROM webhooks
                 WHERE workload_id = ?1",
                [workload_id],
                |r| {
                    Ok(WebhookRecord {
                        workload_id: r.get(0)?,
                        url: r.get(1)?,
                        secret: r.get(2)?,
                        created_at: r.get(3)?,
                        updated_at: r.get(4)?,
                    })
                },
            )
            .optional()?)
    }

    async fn delete_webhook(&self, workload_id: &str) -> StoreResult<bool> {
        Ok(self
            .conn()
            .execute("DELETE FROM webhooks WHERE workload_id = ?1", [workload_id])?
            == 1)
    }

    async fn claim_due_deliveries(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> StoreResult<Vec<DeliveryRecord>> {
        let rows = {
            let mut conn = self.conn();
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = tx
                .prepare_cached(&format!(
                    "UPDATE webhook_deliveries SET next_attempt_ms = ?2
                     WHERE id IN (SELECT id FROM webhook_deliveries
                                  WHERE state = 'pending' AND next_attempt_ms <= ?1
                                  ORDER BY next_attempt_ms, rowid LIMIT ?3)
                     RETURNING {DELIVERY_COLUMNS}"
                ))?
                .query_map(
                    params![now_ms, now_ms.saturating_add(lease_ms), limit],
                    delivery_row,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            tx.commit()?;
            rows
        };
        rows.into_iter().map(finish_delivery_row).collect()
    }

    async fn record_delivery_attempt(&self, id: &str, outcome: &AttemptOutcome) -> StoreResult<()> {
        let (state, next, status, error) = outcome.columns();
        self.conn().execute(
            "UPDATE webhook_deliveries
             SET state = ?2, attempts = attempts + 1,
                 next_attempt_ms = COALESCE(?3, next_attempt_ms),
                 last_status = ?4, last_error = ?5, updated_at = ?6
             WHERE id = ?1",
            params![id, state.as_str(), next, status, error, now_rfc3339()],
        )?;
        Ok(())
    }

    async fn list_deliveries(
        &self,
        workload_id: &str,
        limit: usize,
    ) -> StoreResult<Vec<DeliveryRecord>> {
        let rows = {
            let conn = self.conn();
            let mut stmt = conn.prepare_cached(
                "SELECT id, workload_id, job_id, event, url, x'', state, attempts,
                        next_attempt_ms, last_status, last_error, created_at, updated_at
                 FROM webhook_deliveries WHERE workload_id = ?1
                 ORDER BY rowid DESC LIMIT ?2",
            )?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = stmt
                .query_map(params![workload_id, limit], delivery_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows
        };
        rows.into_iter().map(finish_delivery_row).collect()
    }

    async fn next_delivery_due(&self) -> StoreResult<Option<i64>> {
        Ok(self.conn().query_row(
            "SELECT MIN(next_attempt_ms) FROM webhook_deliveries WHERE state = 'pending'",
            [],
            |r| r.get(0),
        )?)
    }

    async fn delete_finished_deliveries_before(&self, cutoff: &str) -> StoreResult<usize> {
        Ok(self.conn().execute(
            "DELETE FROM webhook_deliveries
             WHERE state IN ('delivered', 'failed') AND updated_at < ?1",
            [cutoff],
        )?)
    }

    async fn insert_custom_backend(&self, b: &CustomBackendRecord) -> StoreResult<()> {
        self.conn()
            .execute(
                "INSERT INTO custom_backends
                 (id, tenant_id, slug, version, task_type, manifest, sha256, size_bytes, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    b.id,
                    b.tenant_id,
                    b.slug,
                    b.version,
                    b.task_type,
                    json_text(&b.manifest),
                    b.sha256,
                    b.size_bytes as i64,
                    b.created_at
                ],
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict(format!("custom backend {} {}", b.slug, b.version))
                } else {
                    e.into()
                }
            })?;
        Ok(())
    }

    async fn custom_backend_version(
        &self,
        tenant_id: &str,
        slug: &str,
        version: &str,
    ) -> StoreResult<Option<CustomBackendRecord>> {
        Ok(self
            .conn()
            .query_row(
                &format!(
                    "SELECT {CUSTOM_BACKEND_COLUMNS} FROM custom_backends
                     WHERE tenant_id = ?1 AND slug = ?2 AND version = ?3"
                ),
                [tenant_id, slug, version],
                custom_backend_row,
            )
            .optional()?)
    }

    async fn custom_backend(
        &self,
        tenant_id: &str,
        slug: &str,
    ) -> StoreResult<Option<CustomBackendRecord>> {
        Ok(self
            .conn()
            .query_row(
                &format!(
                    "SELECT {CUSTOM_BACKEND_COLUMNS} FROM custom_backends
                     WHERE tenant_id = ?1 AND slug = ?2 ORDER BY created_at DESC, rowid DESC LIMIT 1"
                ),
                [tenant_id, slug],
                custom_backend_row,
            )
            .optional()?)
    }

    async fn list_custom_backends(&self, tenant_id: &str) -> StoreResult<Vec<CustomBackendRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {CUSTOM_BACKEND_COLUMNS} FROM custom_backends WHERE tenant_id = ?1
             ORDER BY created_at DESC, rowid DESC"
        ))?;
        let rows = stmt.query_map([tenant_id], custom_backend_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

const DELIVERY_COLUMNS: &str = "id, workload_id, job_id, event, url, body, state, attempts, \
     next_attempt_ms, last_status, last_error, created_at, updated_at";

fn insert_delivery(conn: &Connection, d: &DeliveryRecord) -> rusqlite::Result<()> {
    conn.execute(
        &format!(
            "INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
        ),
        params![
            d.id,
            d.workload_id,
            d.job_id,
            d.event,
            d.url,
            d.body,
            d.state.as_str(),
            d.attempts,
            d.next_attempt_ms,
            d.last_status,
            d.last_error,
            d.created_at,
            d.updated_at
        ],
    )?;
    Ok(())
}

fn delivery_row(r: &Row<'_>) -> rusqlite::Result<(DeliveryRecord, String)> {
    let state: String = r.get(6)?;
    Ok((
        DeliveryRecord {
            id: r.get(0)?,
            workload_id: r.get(1)?,
            job_id: r.get(2)?,
            event: r.get(3)?,
            url: r.get(4)?,
            body: r.get(5)?,
            // Parsed by the caller, which can return a typed error.
            state: DeliveryState::Pending,
            attempts: r.get(7)?,
            next_attempt_ms: r.get(8)?,
            last_status: r.get(9)?,
            last_error: r.get(10)?,
            created_at: r.get(11)?,
            updated_at: r.get(12)?,
        },
        state,
    ))
}

fn finish_delivery_row((mut d, state): (DeliveryRecord, String)) -> StoreResult<DeliveryRecord> {
    d.state = DeliveryState::parse(&state)?;
    Ok(d)
}

#[cfg(test)]
mod tests {
    //! What only SQLite has: old data dirs upgraded in place, and a store reopened from its
    //! file. Everything else is in the shared suite (`super::super::suite`).
    use super::*;
    use crate::store::suite::workload;
    use serde_json::json;

    #[tokio::test]
    async fn rows_without_a_backend_are_filled_from_their_command_or_quarantined() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manager.db");
        let (p, ids) = {
            let s = SqliteStore::open(&path).unwrap();
            let (p, _) = s.ensure_project("acme").await.unwrap();
            let mut ids = Vec::new();
            for (slug, command) in [
                ("vllm", json!("vllm serve m")),
                (
                    "sglang",
                    json!("python3 -m sglang.launch_server --model-path m"),
                ),
                ("custom", json!("my-server --port {port}")),
                ("none", Value::Null),
            ] {
                let mut w = workload(&p, slug);
                w.config = if command.is_null() {
                    json!({})
                } else {
                    json!({ "command": command })
                };
                s.insert_workload(&w).await.unwrap();
                ids.push(w.id);
            }
            // What an older Manager stored: no backend at all.
            s.conn()
                .execute("UPDATE workloads SET backend = NULL", [])
                .unwrap();
            (p, ids)
        };
        let s = SqliteStore::open(&path).unwrap();
        let listed: Vec<(String, Option<String>)> = s
            .list_workloads(Some(&p.id))
            .await
            .unwrap()
            .into_iter()
            .map(|w| (w.slug, w.backend))
            .collect();
        assert_eq!(
            listed,
            vec![
                ("vllm".to_string(), Some("vllm".to_string())),
                ("sglang".to_string(), Some("sglang".to_string())),
            ]
        );
        let quarantined: Vec<String> = s
            .quarantined_workloads()
            .await
            .unwrap()
            .into_iter()
            .map(|(id, why)| {
                assert!(why.contains("column backend: missing"), "{why}");
                id
            })
            .collect();
        assert_eq!(quarantined, ids[2..].to_vec());
    }

    #[tokio::test]
    async fn a_reopened_store_keeps_its_outbox() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manager.db");
        let (p, w) = {
            let s = SqliteStore::open(&path).unwrap();
            let (p, _) = s.ensure_project("acme").await.unwrap();
            let w = workload(&p, "bot");
            s.insert_workload(&w).await.unwrap();
            (p, w)
        };
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.project_by_slug("acme").await.unwrap().unwrap(), p);
        assert_eq!(s.workload(&w.id).await.unwrap().unwrap(), w);
    }

    /// A data dir from before worker tokens (schema 4) keeps its tokens, in their order, when
    /// migration 5 rebuilds the table for the new kind; the rebuilt CHECKs still refuse an
    /// unknown kind and a worker token without its worker.
    #[tokio::test]
    async fn a_data_dir_from_before_worker_tokens_is_upgraded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manager.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "foreign_keys", "ON").unwrap();
            for sql in &migrations::MIGRATIONS[..4] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 4).unwrap();
            conn.execute_batch(
                "INSERT INTO projects (id, tenant_id, slug, created_at)
                     VALUES ('prj_old', 'tnt_local', 'old', '2026-01-01T00:00:00.000Z');
                 INSERT INTO tokens (id, kind, project_id, scope, secret_hash, created_at)
                     VALUES ('b_live', 'live', 'prj_old', '*', zeroblob(32), '2026-01-01'),
                            ('a_sdk', 'sdk', 'prj_old', NULL, zeroblob(32), '2026-01-02'),
                            ('c_admin', 'admin', NULL, NULL, zeroblob(32), '2026-01-03');",
            )
            .unwrap();
            assert!(conn
                .execute_batch(
                    "INSERT INTO tokens (id, kind, secret_hash, created_at)
                     VALUES ('early', 'worker', zeroblob(32), '2026-01-04')"
                )
                .is_err());
        }
        let s = SqliteStore::open(&path).unwrap();
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
                ("b_live".to_string(), TokenKind::Live),
                ("a_sdk".to_string(), TokenKind::Sdk)
            ],
            "the insertion order is kept"
        );
        assert_eq!(
            s.token("c_admin").await.unwrap().unwrap().kind,
            TokenKind::Admin
        );
        let w = Worker {
            id: new_id("wrk"),
            name: "box".into(),
            created_at: now_rfc3339(),
        };
        s.insert_worker(&w).await.unwrap();
        s.conn()
            .execute_batch(&format!(
                "INSERT INTO tokens (id, kind, secret_hash, created_at, worker_id)
                 VALUES ('wt', 'worker', zeroblob(32), '2026-01-04', '{}')",
                w.id
            ))
            .unwrap();
        for bad in [
            "INSERT INTO tokens (id, kind, secret_hash, created_at)
             VALUES ('x1', 'other', zeroblob(32), '2026-01-04')",
            "INSERT INTO tokens (id, kind, secret_hash, created_at)
             VALUES ('x2', 'worker', zeroblob(32), '2026-01-04')",
        ] {
            assert!(s.conn().execute_batch(bad).is_err(), "{bad}");
        }
        let version: i64 = s
            .conn()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version as usize, migrations::MIGRATIONS.len());
    }
}
