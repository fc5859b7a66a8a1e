//! Numbered schema migrations. `PRAGMA user_version` records how many have run; each new
//! migration is appended (never edited) so an old data dir upgrades in place.

use rusqlite::Connection;

pub(super) const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    r#"
    CREATE TABLE tenants (
        id TEXT PRIMARY KEY,
        slug TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL
    );
    INSERT INTO tenants (id, slug, created_at)
        VALUES ('tnt_local', 'local', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));

    CREATE TABLE projects (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL REFERENCES tenants(id),
        slug TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL
    );

    CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('sdk', 'live', 'admin')),
        project_id TEXT REFERENCES projects(id) ON DELETE CASCADE,
        scope TEXT,
        secret_hash BLOB NOT NULL,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    );
    CREATE INDEX tokens_by_project ON tokens(project_id);

    CREATE TABLE workers (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL REFERENCES tenants(id),
        name TEXT NOT NULL,
        created_at TEXT NOT NULL
    );

    CREATE TABLE gpus (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL REFERENCES tenants(id),
        name TEXT NOT NULL,
        worker_id TEXT REFERENCES workers(id),
        created_at TEXT NOT NULL
    );

    CREATE TABLE workloads (
        id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        slug TEXT NOT NULL,
        name TEXT NOT NULL,
        description TEXT,
        task_type TEXT NOT NULL,
        backend TEXT,
        model_name TEXT NOT NULL,
        config TEXT NOT NULL,
        worker_id TEXT REFERENCES workers(id),
        gpu_resource_id TEXT REFERENCES gpus(id),
        execution_policy TEXT NOT NULL,
        execution_policy_config TEXT NOT NULL,
        status TEXT NOT NULL,
        status_message TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (project_id, slug)
    );

    CREATE TABLE idempotency (
        token_id TEXT NOT NULL,
        key TEXT NOT NULL,
        fingerprint BLOB NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('running', 'done')),
        status INTEGER,
        body BLOB,
        created_unix INTEGER NOT NULL,
        PRIMARY KEY (token_id, key)
    );

    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        workload_id TEXT NOT NULL REFERENCES workloads(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        body BLOB NOT NULL,
        content_type TEXT NOT NULL,
        context TEXT,
        status TEXT NOT NULL,
        result TEXT,
        error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX jobs_queue ON jobs(status, created_at);
    "#,
    // 2: jobs remember the key that submitted them (per-key quotas), and the queue is
    // indexed for fair claims and for retention.
    r#"
    ALTER TABLE jobs ADD COLUMN token_id TEXT;
    CREATE INDEX jobs_by_token ON jobs(token_id, status);
    CREATE INDEX jobs_fair ON jobs(status, project_id, workload_id);
    CREATE INDEX jobs_finished ON jobs(status, updated_at);
    "#,
    // 3: webhook delivery (docs/contract.md §6). A workload's destination and signing secret
    // (the secret is kept in the clear: the Manager must sign with it); a job's own
    // destination; and the outbox, one row per delivery, written in the transaction that
    // finishes the job so a crash between the two cannot lose one. The outbox row carries
    // the whole body (a job past its retention may be deleted before its last retry) and no
    // foreign key to the job for the same reason.
    r#"
    CREATE TABLE webhooks (
        workload_id TEXT PRIMARY KEY REFERENCES workloads(id) ON DELETE CASCADE,
        url TEXT NOT NULL,
        secret TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    ALTER TABLE jobs ADD COLUMN webhook_url TEXT;
    CREATE TABLE webhook_deliveries (
        id TEXT PRIMARY KEY,
        workload_id TEXT NOT NULL REFERENCES workloads(id) ON DELETE CASCADE,
        job_id TEXT NOT NULL,
        event TEXT NOT NULL,
        url TEXT NOT NULL,
        body BLOB NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms INTEGER NOT NULL,
        last_status INTEGER,
        last_error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX webhook_deliveries_due ON webhook_deliveries(state, next_attempt_ms);
    CREATE INDEX webhook_deliveries_by_workload ON webhook_deliveries(workload_id, created_at);
    "#,
    // 4: custom backends (docs/contract.md §7). One row per published (slug, version) of a
    // tenant; the archive itself lives under the data dir, named by its SHA-256.
    r#"
    CREATE TABLE custom_backends (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL REFERENCES tenants(id),
        slug TEXT NOT NULL,
        version TEXT NOT NULL,
        task_type TEXT NOT NULL,
        manifest TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size_bytes INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (tenant_id, slug, version)
    );
    CREATE INDEX custom_backends_by_slug ON custom_backends(tenant_id, slug, created_at);
    "#,
    // 5: worker tokens (`ik_worker_`), a third kind, each for one registered worker. SQLite
    // cannot alter a CHECK, so the table is rebuilt: the same rows under the same rowids (the
    // listing order), then renamed into place. No table references `tokens`, so dropping the
    // old one checks no foreign key. A worker token names its worker and no other token does.
    r#"
    CREATE TABLE tokens_v5 (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('sdk', 'live', 'admin', 'worker')),
        project_id TEXT REFERENCES projects(id) ON DELETE CASCADE,
        scope TEXT,
        secret_hash BLOB NOT NULL,
        created_at TEXT NOT NULL,
        revoked_at TEXT,
        worker_id TEXT REFERENCES workers(id) ON DELETE CASCADE,
        CHECK ((kind = 'worker') = (worker_id IS NOT NULL))
    );
    INSERT INTO tokens_v5 (rowid, id, kind, project_id, scope, secret_hash, created_at, revoked_at)
        SELECT rowid, id, kind, project_id, scope, secret_hash, created_at, revoked_at
        FROM tokens;
    DROP TABLE tokens;
    ALTER TABLE tokens_v5 RENAME TO tokens;
    CREATE INDEX tokens_by_project ON tokens(project_id);
    CREATE INDEX tokens_by_worker ON tokens(worker_id);
    "#,
    // 6: worker agents (docs/contract.md §8). A worker's agent reports where it is reachable
    // and is heard from at each sync; `replicas` holds what the reconciler assigned to a
    // worker run by an agent (the launch spec and its hash) and what the agent last reported
    // of each (its phase, port and last error).
    r#"
    ALTER TABLE workers ADD COLUMN address TEXT;
    ALTER TABLE workers ADD COLUMN last_seen TEXT;
    CREATE TABLE replicas (
        id TEXT PRIMARY KEY,
        workload_id TEXT NOT NULL REFERENCES workloads(id) ON DELETE CASCADE,
        worker_id TEXT NOT NULL REFERENCES workers(id) ON DELETE CASCADE,
        spec_hash TEXT NOT NULL,
        launch TEXT NOT NULL,
        phase TEXT NOT NULL
            CHECK (phase IN ('assigned', 'provisioning', 'bootstrapping', 'ready', 'error')),
        port INTEGER CHECK (port BETWEEN 1 AND 65535),
        last_error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX replicas_by_worker ON replicas(worker_id);
    "#,
];

/// Brings the schema up to date, all pending migrations in one transaction.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let current: usize =
        conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    if current >= MIGRATIONS.len() {
        return Ok(());
    }
    let tx = conn.transaction()?;
    for sql in &MIGRATIONS[current..] {
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "user_version", MIGRATIONS.len() as i64)?;
    tx.commit()
}

/// Gives a backend to the workload rows that have none: before `backend` was required
/// (issue 16) a workload could be created or patched without one, and a strict client (the
/// public SDK) then fails on every listing that holds it. A row whose command names a known
/// engine gets that engine's backend (`vllm serve m` → `vllm`); any other keeps none, and the
/// store then quarantines it (`workload_row` refuses it), so listings stay readable and the
/// operator is told. Runs at every open; returns the ids filled in and their backends.
pub fn fill_missing_backends(conn: &Connection) -> rusqlite::Result<Vec<(String, String)>> {
    let rows: Vec<(String, String)> = conn
        .prepare("SELECT id, config FROM workloads WHERE backend IS NULL")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut filled = Vec::new();
    for (id, config) in rows {
        let command = serde_json::from_str::<serde_json::Value>(&config)
            .ok()
            .and_then(|c| c.get("command")?.as_str().map(str::to_string));
        let Some(backend) = command
            .as_deref()
            .and_then(crate::runtime::process::backend_of_command)
        else {
            continue;
        };
        conn.execute(
            "UPDATE workloads SET backend = ?2 WHERE id = ?1 AND backend IS NULL",
            [&id, &backend.as_str().to_string()],
        )?;
        filled.push((id, backend.as_str().to_string()));
    }
    Ok(filled)
}

/// The PostgreSQL schema: the same tables, columns and constraints as [`MIGRATIONS`] in
/// PostgreSQL's dialect (`BYTEA` for `BLOB`, `BIGINT` for `INTEGER`). Each table that SQLite
/// orders by `rowid` has a `seq BIGSERIAL` column for the same insertion order. JSON columns
/// stay `TEXT`, as in SQLite: a job's result is returned as the exact text stored (`JSONB`
/// would reorder its keys). Timestamps stay RFC 3339 text, compared as text as in SQLite.
/// Numbered on their own (PostgreSQL 1 is SQLite 1-4, each later one says which SQLite one it
/// matches); `schema_version` records how many have run. Beyond SQLite's columns, running
/// jobs and idempotency claims record the Manager that holds them (`claimed_by`, see
/// `PostgresStore`), so a starting Manager only releases what a dead one left.
pub const POSTGRES_MIGRATIONS: &[&str] = &[
    // 1: the whole schema of SQLite migrations 1-4.
    r#"
    CREATE TABLE tenants (
        id TEXT PRIMARY KEY,
        slug TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL
    );
    INSERT INTO tenants (id, slug, created_at)
        VALUES ('tnt_local', 'local', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'));

    CREATE TABLE projects (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL REFERENCES tenants(id),
        slug TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL
    );

    CREATE TABLE tokens (
        seq BIGSERIAL NOT NULL,
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('sdk', 'live', 'admin')),
        project_id TEXT REFERENCES projects(id) ON DELETE CASCADE,
        scope TEXT,
        secret_hash BYTEA NOT NULL,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    );
    CREATE INDEX tokens_by_project ON tokens(project_id);

    CREATE TABLE workers (
        seq BIGSERIAL NOT NULL,
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL REFERENCES tenants(id),
        name TEXT NOT NULL,
        created_at TEXT NOT NULL
    );

    CREATE TABLE gpus (
        seq BIGSERIAL NOT NULL,
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL REFERENCES tenants(id),
        name TEXT NOT NULL,
        worker_id TEXT REFERENCES workers(id),
        created_at TEXT NOT NULL
    );

    CREATE TABLE workloads (
        seq BIGSERIAL NOT NULL,
        id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        slug TEXT NOT NULL,
        name TEXT NOT NULL,
        description TEXT,
        task_type TEXT NOT NULL,
        backend TEXT,
        model_name TEXT NOT NULL,
        config TEXT NOT NULL,
        worker_id TEXT REFERENCES workers(id),
        gpu_resource_id TEXT REFERENCES gpus(id),
        execution_policy TEXT NOT NULL,
        execution_policy_config TEXT NOT NULL,
        status TEXT NOT NULL,
        status_message TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (project_id, slug)
    );

    CREATE TABLE idempotency (
        token_id TEXT NOT NULL,
        key TEXT NOT NULL,
        fingerprint BYTEA NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('running', 'done')),
        status BIGINT,
        body BYTEA,
        created_unix BIGINT NOT NULL,
        claimed_by INTEGER,
        PRIMARY KEY (token_id, key)
    );
    CREATE INDEX idempotency_by_age ON idempotency(created_unix);

    CREATE TABLE jobs (
        seq BIGSERIAL NOT NULL UNIQUE,
        id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        workload_id TEXT NOT NULL REFERENCES workloads(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        body BYTEA NOT NULL,
        content_type TEXT NOT NULL,
        context TEXT,
        status TEXT NOT NULL,
        result TEXT,
        error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        token_id TEXT,
        webhook_url TEXT,
        claimed_by INTEGER
    );
    CREATE INDEX jobs_queue ON jobs(status, seq);
    CREATE INDEX jobs_by_token ON jobs(token_id, status);
    CREATE INDEX jobs_fair ON jobs(status, project_id, workload_id);
    CREATE INDEX jobs_finished ON jobs(status, updated_at);

    CREATE TABLE webhooks (
        workload_id TEXT PRIMARY KEY REFERENCES workloads(id) ON DELETE CASCADE,
        url TEXT NOT NULL,
        secret TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE webhook_deliveries (
        seq BIGSERIAL NOT NULL,
        id TEXT PRIMARY KEY,
        workload_id TEXT NOT NULL REFERENCES workloads(id) ON DELETE CASCADE,
        job_id TEXT NOT NULL,
        event TEXT NOT NULL,
        url TEXT NOT NULL,
        body BYTEA NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
        attempts BIGINT NOT NULL DEFAULT 0,
        next_attempt_ms BIGINT NOT NULL,
        last_status BIGINT,
        last_error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX webhook_deliveries_due ON webhook_deliveries(state, next_attempt_ms);
    CREATE INDEX webhook_deliveries_by_workload ON webhook_deliveries(workload_id, seq);

    CREATE TABLE custom_backends (
        seq BIGSERIAL NOT NULL,
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL REFERENCES tenants(id),
        slug TEXT NOT NULL,
        version TEXT NOT NULL,
        task_type TEXT NOT NULL,
        manifest TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size_bytes BIGINT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (tenant_id, slug, version)
    );
    CREATE INDEX custom_backends_by_slug ON custom_backends(tenant_id, slug, created_at);
    "#,
    // 2: SQLite migration 5, worker tokens. The kind's CHECK was declared inline in
    // migration 1, so PostgreSQL named it `tokens_kind_check` (<table>_<column>_check); it is
    // dropped and added again with `worker`, under the same name.
    r#"
    ALTER TABLE tokens DROP CONSTRAINT tokens_kind_check;
    ALTER TABLE tokens ADD CONSTRAINT tokens_kind_check
        CHECK (kind IN ('sdk', 'live', 'admin', 'worker'));
    ALTER TABLE tokens ADD COLUMN worker_id TEXT REFERENCES workers(id) ON DELETE CASCADE;
    ALTER TABLE tokens ADD CONSTRAINT tokens_worker_check
        CHECK ((kind = 'worker') = (worker_id IS NOT NULL));
    CREATE INDEX tokens_by_worker ON tokens(worker_id);
    "#,
    // 3: SQLite migration 6, worker agents.
    r#"
    ALTER TABLE workers ADD COLUMN address TEXT;
    ALTER TABLE workers ADD COLUMN last_seen TEXT;
    CREATE TABLE replicas (
        seq BIGSERIAL NOT NULL,
        id TEXT PRIMARY KEY,
        workload_id TEXT NOT NULL REFERENCES workloads(id) ON DELETE CASCADE,
        worker_id TEXT NOT NULL REFERENCES workers(id) ON DELETE CASCADE,
        spec_hash TEXT NOT NULL,
        launch TEXT NOT NULL,
        phase TEXT NOT NULL
            CHECK (phase IN ('assigned', 'provisioning', 'bootstrapping', 'ready', 'error')),
        port INTEGER CHECK (port BETWEEN 1 AND 65535),
        last_error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX replicas_by_worker ON replicas(worker_id);
    "#,
    // 4: several Managers (no SQLite counterpart: one SQLite store is one Manager). The
    // leader publishes each workload's readiness and ready replicas in `serving` for the
    // other Managers' gateways; each other Manager reports its gateway's requests in flight
    // per workload in `gateway_load`, for the leader's autoscaler and its draining replicas
    // (`by_replica`: a JSON object of replica URL to requests; `at_ms` is Unix ms, and a
    // report older than a few seconds no longer counts).
    r#"
    CREATE TABLE serving (
        workload_id TEXT PRIMARY KEY REFERENCES workloads(id) ON DELETE CASCADE,
        state TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE gateway_load (
        instance INTEGER NOT NULL,
        workload_id TEXT NOT NULL REFERENCES workloads(id) ON DELETE CASCADE,
        in_flight BIGINT NOT NULL,
        by_replica TEXT NOT NULL,
        at_ms BIGINT NOT NULL,
        PRIMARY KEY (instance, workload_id)
    );
    "#,
];
