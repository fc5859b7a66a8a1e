//! Starting and stopping a Manager: data dir, lock, store, admin token, HTTP server,
//! reconciler and job runner.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::Router;
use inferencekey_core::token::{parse_token, redact, TokenKind};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::api::{self, errors, API_BODY_LIMIT};
use crate::auth::Auth;
use crate::config::StoreLocation;
use crate::config::{is_loopback_host, ManagerConfig};
use crate::gateway;
use crate::jobs::Jobs;
use crate::runtime::process::{kill_leftovers, LaunchSettings};
use crate::runtime::Runtime;
use crate::state::{App, AppState};
use crate::store::{PostgresStore, SqliteStore, Store, StoreError, Watched};

/// Why a Manager could not start.
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    #[error("configuration error: {0}")]
    Config(String),
    #[error("{0}")]
    AlreadyRunning(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    #[error("the Manager's store failed: {0}")]
    Store(#[from] StoreError),
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> ManagerError {
    let context = context.into();
    move |source| ManagerError::Io { context, source }
}

/// File names inside the data dir.
pub const DB_FILE: &str = "manager.db";
pub const ADMIN_TOKEN_FILE: &str = "admin_token";
pub const MANAGER_FILE: &str = "manager.json";
pub const ADDRESS_FILE: &str = "address";
pub const LOCK_FILE: &str = "manager.lock";

/// How long shutdown waits for open connections (readiness streams, waiting requests).
const DRAIN: Duration = Duration::from_secs(5);

/// A started Manager. Call [`RunningManager::shutdown`] to stop its engines cleanly.
pub struct RunningManager {
    pub url: String,
    /// The `ik_admin_` token; never printed by `Debug`.
    pub admin_token: String,
    pub data_dir: PathBuf,
    state: App,
    stop: CancellationToken,
    server: JoinHandle<()>,
    jobs: JoinHandle<()>,
    webhooks: JoinHandle<()>,
    /// Holds the data dir's exclusive lock for the Manager's lifetime.
    _lock: File,
}

impl fmt::Debug for RunningManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningManager")
            .field("url", &self.url)
            .field("admin_token", &redact(&self.admin_token))
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl RunningManager {
    /// Stops accepting requests, stops the job runner and every engine, and removes the
    /// address files.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        if tokio::time::timeout(DRAIN, &mut self.server).await.is_err() {
            self.server.abort();
        }
        self.state.jobs.shutdown();
        let _ = (&mut self.jobs).await;
        self.state.webhooks.shutdown();
        let _ = (&mut self.webhooks).await;
        self.state.runtime.shutdown().await;
        let _ = fs::remove_file(self.data_dir.join(MANAGER_FILE));
        let _ = fs::remove_file(self.data_dir.join(ADDRESS_FILE));
        tracing::info!("manager stopped");
    }
}

impl Drop for RunningManager {
    fn drop(&mut self) {
        // Without a clean shutdown the server still stops; engines die with their tasks
        // (kill-on-drop) or with the process (parent-death signal).
        self.stop.cancel();
    }
}

/// Locks the data dir so two Managers never share one store and one set of engines.
fn lock_data_dir(dir: &Path) -> Result<File, ManagerError> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(io_err(format!("could not open {}", path.display())))?;
    // SAFETY: flock on a descriptor we own; no memory is shared.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
            return Err(ManagerError::AlreadyRunning(format!(
                "a Manager is already running for data dir {} (see {})",
                dir.display(),
                dir.join(MANAGER_FILE).display()
            )));
        }
        return Err(io_err(format!("could not lock {}", path.display()))(err));
    }
    Ok(file)
}

/// Reads the admin token from the data dir, creating it (mode 0600) on first start.
async fn admin_token(dir: &Path, auth: &Auth) -> Result<String, ManagerError> {
    let path = dir.join(ADMIN_TOKEN_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => {
            let token = text.trim().to_string();
            if parse_token(&token).is_none_or(|t| t.kind != TokenKind::Admin) {
                return Err(ManagerError::Config(format!(
                    "{} does not hold an ik_admin_ token; delete it to have a new one issued",
                    path.display()
                )));
            }
            auth.register_admin_token(&token).await?;
            Ok(token)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let issued = auth.issue(TokenKind::Admin, None, None).await?;
            let mut f = OpenOptions::new()
                .create_new(true)
                .write(true)
                .mode(0o600)
                .open(&path)
                .map_err(io_err(format!("could not create {}", path.display())))?;
            writeln!(f, "{}", issued.token)
                .map_err(io_err(format!("could not write {}", path.display())))?;
            Ok(issued.token)
        }
        Err(e) => Err(io_err(format!("could not read {}", path.display()))(e)),
    }
}

/// Writes a file atomically (temp file + rename) so readers never see half of it.
fn write_atomic(path: &Path, contents: &str) -> Result<(), ManagerError> {
    let tmp = path.with_extension("tmp");
    OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(contents.as_bytes()))
        .and_then(|()| fs::rename(&tmp, path))
        .map_err(io_err(format!("could not write {}", path.display())))
}

/// The Manager's own pooled client (health checks, jobs, Ollama, the CLI's admin calls):
/// loopback only, so no proxy.
pub fn http_client() -> Result<reqwest::Client, ManagerError> {
    // reqwest is built without a default crypto provider; engines are plain HTTP, but the
    // builder still wants one installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(5))
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(256)
        .build()
        .map_err(|e| ManagerError::Config(format!("could not build the HTTP client: {e}")))
}

fn router(state: App) -> Router {
    let body_timeout = state.config.body_timeout;
    // The documented routes carry their OpenAPI operations; the document is rendered from
    // them once, by crate::openapi::document.
    let (documented, _) = api::router().split_for_parts();
    let api = documented
        .merge(crate::dashboard::router())
        .layer(DefaultBodyLimit::max(API_BODY_LIMIT));
    api.merge(gateway::router())
        .fallback(errors::route_not_found)
        .method_not_allowed_fallback(errors::method_not_allowed)
        .layer(middleware::from_fn_with_state(
            body_timeout,
            crate::body_timeout::limit,
        ))
        .layer(middleware::from_fn(crate::request_context::request_context))
        .with_state(state)
}

/// Starts a Manager: returns once it is listening, with its engines being (re)started in the
/// background.
pub async fn start(config: ManagerConfig) -> Result<RunningManager, ManagerError> {
    if !config.allow_remote && !is_loopback_host(&config.host) {
        return Err(ManagerError::Config(format!(
            "refusing to listen on {:?}, which is not a loopback address: the Manager would be \
             reachable from the network; pass --allow-remote if that is what you want",
            config.host
        )));
    }
    let dir = config.data_dir.clone();
    if !dir.exists() {
        fs::create_dir_all(&dir).map_err(io_err(format!("could not create {}", dir.display())))?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
            .map_err(io_err(format!("could not restrict {}", dir.display())))?;
    }
    let lock = lock_data_dir(&dir)?;
    // A Manager that crashed left its address behind: nobody may find this one through it
    // before it is listening (the CLI also checks the lock, see cli::Remote::find).
    let _ = fs::remove_file(dir.join(MANAGER_FILE));
    let _ = fs::remove_file(dir.join(ADDRESS_FILE));

    let inner: Arc<dyn Store> = match &config.store {
        StoreLocation::Sqlite => Arc::new(SqliteStore::open(&dir.join(DB_FILE))?),
        StoreLocation::Postgres(url) => Arc::new(PostgresStore::open(url).await.map_err(|e| {
            ManagerError::Config(format!(
                "--store {}: cannot open the PostgreSQL store: {e}; check that the server is \
                 running and reachable and that the URL's user, password, host, port and \
                 database are right (or leave --store out to use SQLite in the data dir)",
                crate::config::redact_url(url)
            ))
        })?),
    };
    let storage = Arc::new(Watched::new(inner));
    let store: Arc<dyn Store> = storage.clone();
    // After the open: SQLite creates its files (and WAL files) with the default umask.
    match crate::datadir::tighten(&dir) {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            count = n,
            "restricted the data dir to its owner (0700 directories, 0600 files)"
        ),
        Err(e) => {
            return Err(io_err(format!("could not restrict {}", dir.display()))(e));
        }
    }
    store.idempotency_reset_running().await?;
    if !store.shared() {
        // Replicas a previous run assigned to agents' workers belong to supervisors that are
        // gone; this run's supervisors assign them again, and the agents stop the old ones
        // when their next sync no longer lists them. (A shared store keeps them: another
        // Manager's supervisors may own them.)
        let cleared = store.clear_replicas().await?;
        if cleared > 0 {
            tracing::info!(
                count = cleared,
                "took the previous run's replicas off agents' workers"
            );
        }
    }
    let requeued = store.requeue_running_jobs().await?;
    let auth = Auth::new(store.clone());
    let admin_token = admin_token(&dir, &auth).await?;

    let settings = LaunchSettings {
        dev: config.dev,
        allow_any_command: config.allow_any_command,
        self_command: config.self_command.clone(),
        data_dir: dir.clone(),
        engine_env: config.engine_env.clone(),
        allow_trust_remote_code: config.allow_trust_remote_code,
    };
    let leftovers = kill_leftovers(&settings.run_dir(), &dir);
    if leftovers > 0 {
        tracing::warn!(count = leftovers, "stopped engines left by a previous run");
    }

    let http = http_client()?;
    let runtime = Arc::new(Runtime::new(
        store.clone(),
        http.clone(),
        settings,
        config.clock.clone(),
    ));
    let webhooks = Arc::new(
        crate::webhooks::Webhooks::new(store.clone(), config.webhooks)
            .map_err(ManagerError::Config)?,
    );
    let jobs = Arc::new(Jobs::new(
        store.clone(),
        runtime.clone(),
        http.clone(),
        config.job_times,
        webhooks.clone(),
    ));

    let listener = tokio::net::TcpListener::bind((config.host.as_str(), config.port))
        .await
        .map_err(io_err(format!(
            "could not listen on {}:{}",
            config.host, config.port
        )))?;
    let addr = listener
        .local_addr()
        .map_err(io_err("could not read the listening address"))?;
    let url = format!("http://{addr}");

    let state = Arc::new(AppState {
        config,
        url: url.clone(),
        store: store.clone(),
        storage,
        auth,
        runtime: runtime.clone(),
        jobs: jobs.clone(),
        webhooks: webhooks.clone(),
        http,
        engine: crate::engine_client::engine_client(),
        dashboard: Default::default(),
    });
    let stop = CancellationToken::new();
    let app = crate::front::Front::new(state.clone(), router(state.clone()));
    let shutdown = stop.clone();
    let fd_limit = crate::http_limits::raise_fd_limit();
    let max_conns = crate::http_limits::max_connections(fd_limit);
    tracing::debug!(fd_limit, max_conns, "connection limits");
    let header_timeout = state.config.header_timeout;
    let server = tokio::spawn(crate::http_limits::serve(
        listener,
        app,
        shutdown,
        header_timeout,
        max_conns,
        DRAIN,
    ));

    let manager_json = serde_json::json!({
        "url": url,
        "pid": std::process::id(),
        "data_dir": dir,
        "started_at": crate::util::now_rfc3339(),
        "version": env!("CARGO_PKG_VERSION"),
    });
    write_atomic(&dir.join(MANAGER_FILE), &format!("{manager_json:#}\n"))?;
    write_atomic(&dir.join(ADDRESS_FILE), &url)?;

    // With a shared store: take the leader lease if no other Manager holds it, and follow
    // the others' changes from now on (runtime::cluster).
    runtime.start_cluster(&url).await;
    for w in store.list_workloads(None).await? {
        runtime.apply(&w);
    }
    for (id, why) in store.quarantined_workloads().await? {
        tracing::error!(
            workload = %id,
            error = %why,
            "quarantined a workload whose stored row does not parse: it is not run or listed \
             (fix or delete the row; `inferencekey status` lists it)"
        );
    }
    if requeued > 0 {
        tracing::info!(
            count = requeued,
            "re-queued jobs interrupted by the last shutdown"
        );
    }
    let jobs_task = tokio::spawn(jobs.run());
    let webhooks_task = tokio::spawn(webhooks.run());

    Ok(RunningManager {
        url,
        admin_token,
        data_dir: dir,
        state,
        stop,
        server,
        jobs: jobs_task,
        webhooks: webhooks_task,
        _lock: lock,
    })
}
