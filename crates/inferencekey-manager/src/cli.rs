//! The `inferencekey` command line: `serve` runs a Manager in the foreground; `init`, `key`,
//! `worker`, `gpu` and `status` talk to the running one over its admin API, finding it through
//! the data dir; `engine` runs the reference engine.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use reqwest::Method;
use serde_json::{json, Value};

use crate::config::{default_data_dir, ManagerConfig};
use crate::server::{http_client, start, ADMIN_TOKEN_FILE, LOCK_FILE, MANAGER_FILE};

const USAGE_ERROR: i32 = 2;
const FAILURE: i32 = 1;

#[derive(Parser)]
#[command(
    name = "inferencekey",
    version,
    about = "The local InferenceKey Manager and its tools",
    after_help = "From the Python package also: `inferencekey plan FILE` and `inferencekey apply FILE` \
                  (ensure() over a file of specs; see `inferencekey plan --help`), and \
                  `inferencekey backend package|publish|list` (custom backends)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct DataDir {
    /// The Manager's data dir [default: $INFERENCEKEY_DATA_DIR, else
    /// $XDG_DATA_HOME/inferencekey, else ~/.local/share/inferencekey].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

impl DataDir {
    fn path(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(default_data_dir)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run a Manager in the foreground until Ctrl-C or SIGTERM.
    Serve(ServeArgs),
    #[command(flatten)]
    Client(ClientCommand),
    /// Run the reference engine (an OpenAI-compatible server that loads no model).
    #[command(disable_help_flag = true)]
    Engine {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<String>,
    },
}

/// The verbs that talk to a running Manager.
#[derive(Subcommand)]
enum ClientCommand {
    /// Create a project (if needed) and print the environment for an ik_sdk_ token.
    Init {
        #[arg(long)]
        project: String,
        #[command(flatten)]
        dir: DataDir,
    },
    /// Create, list and revoke ik_live_ data-plane keys.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Register and list private workers.
    Worker {
        #[command(subcommand)]
        command: WorkerCommand,
    },
    /// Register and list GPU resources.
    Gpu {
        #[command(subcommand)]
        command: GpuCommand,
    },
    /// Print a one-time login link to the running Manager's dashboard (valid 2 minutes).
    Dashboard {
        #[command(flatten)]
        dir: DataDir,
    },
    /// Show the running Manager, its projects and workloads.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        dir: DataDir,
    },
}

#[derive(Args)]
struct ServeArgs {
    /// Serve workloads whose engine is not installed with the reference engine.
    #[arg(long)]
    dev: bool,
    /// Address to listen on; a non-loopback address needs --allow-remote.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    #[command(flatten)]
    dir: DataDir,
    /// Run any engine command, not only the engine a workload's backend names.
    #[arg(long)]
    allow_any_command: bool,
    /// Allow listening on a non-loopback address.
    #[arg(long)]
    allow_remote: bool,
    /// Pass this environment variable to engines too (repeatable), e.g. HF_TOKEN; by default
    /// engines get only a documented list without secrets (docs/security.md).
    #[arg(long, value_name = "NAME")]
    engine_env: Vec<String>,
    /// Let engine commands carry --trust-remote-code, which runs Python code shipped with a
    /// model repository.
    #[arg(long)]
    allow_trust_remote_code: bool,
    /// Seconds one job's engine request may take before the job fails with job_timeout.
    #[arg(long, value_name = "SECS", default_value_t = 600,
          value_parser = clap::value_parser!(u64).range(1..=604_800))]
    job_timeout: u64,
    /// Seconds a finished job and its result are kept.
    #[arg(long, value_name = "SECS", default_value_t = 86_400,
          value_parser = clap::value_parser!(u64).range(1..=31_536_000))]
    job_retention: u64,
    /// Seconds a connection may take to send a request head, and stay idle between requests.
    #[arg(long, value_name = "SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_timeout: u64,
    /// Seconds a request body may take to arrive once the Manager starts reading it; a body
    /// that stalls or drips past it is answered 408 and its connection closed.
    #[arg(long, value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    body_timeout: u64,
    /// Seconds a data-plane request waits for a workload that is still starting.
    #[arg(long, value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    cold_start_timeout: u64,
    /// Most replicas this Manager runs across all workloads (each workload counts its
    /// fixed replicas or autoscaling max_workers); a spec past it is refused.
    #[arg(long, value_name = "N", default_value_t = crate::config::DEFAULT_MAX_REPLICAS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    max_replicas: usize,
    /// Deliver webhooks to any address; by default only loopback destinations are taken
    /// (the local Manager is for development).
    #[arg(long)]
    allow_remote_webhooks: bool,
    /// Where the Manager keeps its state: `sqlite` (the default: manager.db in the data dir)
    /// or a PostgreSQL URL (postgres://user:password@host:5432/db) that several Managers can
    /// share (docs/storage.md).
    #[arg(long, value_name = "URL", env = "INFERENCEKEY_STORE", hide_env_values = true,
          value_parser = crate::config::StoreLocation::parse)]
    store: Option<crate::config::StoreLocation>,
    /// Divide the webhook retry schedule (1 min, 5 min, 15 min, 1 h, 6 h) by this, so tests
    /// see the retries in milliseconds.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    webhook_time_scale: u32,
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Issue an ik_live_ key and print it (only this once).
    Create {
        #[arg(long)]
        project: String,
        /// The workload slug the key may call (it need not exist yet).
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        workload: Option<String>,
        /// A key for every workload of the project.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        dir: DataDir,
    },
    /// Revoke a token or key by id; it stops working at once.
    Revoke {
        key_id: String,
        #[command(flatten)]
        dir: DataDir,
    },
    /// List tokens and keys (ids and scopes, never secrets).
    List {
        #[arg(long)]
        project: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        dir: DataDir,
    },
}

#[derive(Subcommand)]
enum WorkerCommand {
    /// Register a private worker and print its id.
    Register {
        #[arg(long)]
        name: String,
        #[command(flatten)]
        dir: DataDir,
    },
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        dir: DataDir,
    },
    /// Run this host as a registered worker's agent, in the foreground until Ctrl-C or
    /// SIGTERM: sync with the Manager and run the replicas it assigns (docs/contract.md §8).
    Run(WorkerRunArgs),
    /// Issue an ik_worker_ token for a registered worker and print it (shown this once): the
    /// token its agent runs with. Revoke it with `key revoke ID`.
    Token {
        /// The worker's id, as `worker register` printed it.
        worker_id: String,
        #[command(flatten)]
        dir: DataDir,
    },
}

#[derive(Args)]
struct WorkerRunArgs {
    /// The Manager's base URL, e.g. http://127.0.0.1:8080.
    #[arg(long, value_name = "URL")]
    manager: String,
    /// The worker's ik_worker_ token (`inferencekey worker token ID`); prefer the
    /// environment variable, which other users of the host cannot read from the process list.
    #[arg(long, env = "INFERENCEKEY_WORKER_TOKEN", hide_env_values = true)]
    token: String,
    /// The worker's id, as `worker register` printed it [default: the worker the token was
    /// issued for, asked of the Manager].
    #[arg(long, value_name = "ID")]
    worker_id: Option<String>,
    /// The address engines bind and the Manager reaches them on (an IP address or host
    /// name of this host).
    #[arg(long, default_value = "127.0.0.1")]
    address: String,
    /// Where the agent keeps its engines' logs and pid files [default: the Manager's
    /// default data dir, under agents/<worker id>].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Serve workloads whose engine is not installed here with the reference engine.
    #[arg(long)]
    dev: bool,
    /// Run any engine command, not only the engine a workload's backend names.
    #[arg(long)]
    allow_any_command: bool,
    /// Pass this environment variable to engines too (repeatable).
    #[arg(long, value_name = "NAME")]
    engine_env: Vec<String>,
    /// Let engine commands carry --trust-remote-code.
    #[arg(long)]
    allow_trust_remote_code: bool,
}

#[derive(Subcommand)]
enum GpuCommand {
    /// Register a GPU resource and print its id.
    Register {
        /// Its display name, e.g. "NVIDIA L4".
        #[arg(long)]
        name: String,
        /// The worker it is attached to.
        #[arg(long)]
        worker: Option<String>,
        #[command(flatten)]
        dir: DataDir,
    },
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        dir: DataDir,
    },
}

/// The whole CLI; `args` excludes the program name. `self_command` is how to run this CLI
/// again (the Manager spawns `<self_command> engine …`). Returns the process exit code.
pub fn cli_main(args: Vec<String>, self_command: Vec<String>) -> i32 {
    // The engine parses its own flags (including --help).
    if args.first().map(String::as_str) == Some("engine") {
        return inferencekey_engine::run_cli(&args[1..]);
    }
    // Every engine runs under a keeper process (see runtime::procgroup).
    if args.first().map(String::as_str) == Some(crate::runtime::procgroup::KEEPER_ARG) {
        return crate::runtime::procgroup::keeper_main(&args[1..]);
    }
    let cli = match Cli::try_parse_from(std::iter::once("inferencekey".to_string()).chain(args)) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { USAGE_ERROR } else { 0 };
        }
    };
    match cli.command {
        Command::Serve(a) => {
            let code = serve(a, self_command);
            // The log is written in batches: its last lines go out before the process ends.
            crate::logging::flush();
            code
        }
        Command::Engine { args } => inferencekey_engine::run_cli(&args),
        Command::Client(ClientCommand::Worker {
            command: WorkerCommand::Run(a),
        }) => {
            let code = worker_run(a, self_command);
            crate::logging::flush();
            code
        }
        Command::Client(c) => client(c),
    }
}

fn serve(a: ServeArgs, self_command: Vec<String>) -> i32 {
    crate::logging::init();
    let config = ManagerConfig {
        host: a.host,
        port: a.port,
        data_dir: a.dir.path(),
        dev: a.dev,
        allow_any_command: a.allow_any_command,
        allow_remote: a.allow_remote,
        cold_start_timeout: Duration::from_secs(a.cold_start_timeout),
        self_command,
        engine_env: a.engine_env,
        allow_trust_remote_code: a.allow_trust_remote_code,
        job_times: crate::jobs::JobTimes {
            timeout: Duration::from_secs(a.job_timeout),
            retention: Duration::from_secs(a.job_retention),
        },
        header_timeout: Duration::from_secs(a.header_timeout),
        body_timeout: Duration::from_secs(a.body_timeout),
        max_replicas: a.max_replicas,
        webhooks: crate::webhooks::WebhookConfig {
            allow_remote: a.allow_remote_webhooks,
            time_scale: a.webhook_time_scale,
        },
        store: a.store.unwrap_or_default(),
        ..ManagerConfig::default()
    };
    let mut config = config;
    if let Some(start) = std::env::var("INFERENCEKEY_DEV_CLOCK")
        .ok()
        .filter(|v| !v.trim().is_empty())
    {
        match chrono::DateTime::parse_from_rfc3339(start.trim()) {
            Ok(t) if config.dev => {
                config.clock =
                    std::sync::Arc::new(crate::runtime::clock::OffsetClock::new(t.to_utc()));
                eprintln!("inferencekey: schedules run on a clock started at {t} (INFERENCEKEY_DEV_CLOCK)");
            }
            Ok(_) => {
                eprintln!("inferencekey: INFERENCEKEY_DEV_CLOCK is only honoured with --dev; unset it or add --dev");
                return USAGE_ERROR;
            }
            Err(e) => {
                eprintln!("inferencekey: INFERENCEKEY_DEV_CLOCK={start:?} is not an RFC 3339 time such as 2026-12-01T02:00:00Z ({e})");
                return USAGE_ERROR;
            }
        }
    }
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    // One worker unless TOKIO_WORKER_THREADS says otherwise. The gateway's work per request
    // is a few tens of µs, and with one worker per core every request hopped between
    // workers: tokio wakes an idle worker to steal each newly woken task (the handler, the
    // engine connection's task), so a proxied call paid several futex wake-ups and context
    // switches. One worker halved the gateway's added latency and its CPU per call
    // (benches/README.md, "Manager gateway"). The cost: the store's SQLite calls run inline
    // on the worker (short WAL transactions), so a burst of control-plane writes delays
    // data-plane frames by as long; a Manager serving heavy traffic on many cores can set
    // TOKIO_WORKER_THREADS.
    if std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        builder.worker_threads(1);
    }
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("inferencekey: cannot start the async runtime: {e}");
            return FAILURE;
        }
    };
    runtime.block_on(async {
        let manager = match start(config).await {
            Ok(m) => m,
            Err(e) => {
                eprintln!("inferencekey: {e}");
                return FAILURE;
            }
        };
        eprintln!(
            "inferencekey manager listening on {} (data dir {})",
            manager.url,
            manager.data_dir.display()
        );
        wait_for_stop_signal().await;
        eprintln!("inferencekey: stopping engines and shutting down");
        manager.shutdown().await;
        0
    })
}

fn worker_run(a: WorkerRunArgs, self_command: Vec<String>) -> i32 {
    crate::logging::init();
    let token = inferencekey_core::config::check_token(
        &a.token,
        inferencekey_core::token::TokenKind::Worker,
        "--token",
    );
    let token = match token {
        Ok(t) => t,
        Err(e) => {
            eprintln!("inferencekey: {e} (issue one with `inferencekey worker token ID`)");
            return USAGE_ERROR;
        }
    };
    let manager = a.manager.trim().trim_end_matches('/').to_string();
    if !(manager.starts_with("http://") || manager.starts_with("https://")) {
        eprintln!(
            "inferencekey: --manager {manager:?} is not an http(s) URL, e.g. http://127.0.0.1:8080"
        );
        return USAGE_ERROR;
    }
    let address = a.address.trim().to_string();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("inferencekey: cannot start the async runtime: {e}");
            return FAILURE;
        }
    };
    runtime.block_on(async {
        let stop = tokio_util::sync::CancellationToken::new();
        let stopper = stop.clone();
        tokio::spawn(async move {
            wait_for_stop_signal().await;
            eprintln!("inferencekey worker agent: stopping engines and shutting down");
            stopper.cancel();
        });
        let worker_id = match a.worker_id.as_deref().map(str::trim) {
            Some(id) => id.to_string(),
            None => match crate::agent::worker_of_token(&manager, &token, &address, &stop).await {
                Ok(Some(id)) => id,
                Ok(None) => return 0,
                Err(e) => {
                    eprintln!("inferencekey worker agent: {e}");
                    return FAILURE;
                }
            },
        };
        let data_dir = a
            .data_dir
            .unwrap_or_else(|| crate::agent::default_data_dir(&worker_id));
        let config = crate::agent::AgentConfig {
            manager,
            token,
            worker_id,
            address,
            settings: crate::runtime::process::LaunchSettings {
                dev: a.dev,
                allow_any_command: a.allow_any_command,
                self_command,
                data_dir,
                engine_env: a.engine_env,
                allow_trust_remote_code: a.allow_trust_remote_code,
            },
        };
        let agent = tokio::spawn(crate::agent::run(config, stop.clone()));
        match agent.await {
            Ok(Ok(())) => 0,
            Ok(Err(e)) => {
                eprintln!("inferencekey worker agent: {e}");
                FAILURE
            }
            Err(e) => {
                eprintln!("inferencekey worker agent: {e}");
                FAILURE
            }
        }
    })
}

async fn wait_for_stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match term.as_mut() {
                Some(s) => { s.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}

/// A CLI failure: the message and exit code.
struct Failure(String, i32);

fn no_manager(dir: &Path) -> Failure {
    let d = dir.display();
    Failure(
        format!("no Manager is running for data dir {d}; start one with: inferencekey serve --data-dir {d}"),
        FAILURE,
    )
}

fn pid_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    pid > 0
        && (unsafe { libc::kill(pid, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM))
}

/// Whether a live Manager holds the data dir's lock. `manager.json` outlives a crash, and
/// its pid may be reused; the lock dies with the process, so only it says a Manager runs —
/// the CLI never sends the admin token to whoever took a dead Manager's port.
fn lock_is_held(dir: &Path) -> bool {
    use std::os::unix::io::AsRawFd;
    let Ok(file) = std::fs::File::open(dir.join(LOCK_FILE)) else {
        return false;
    };
    // SAFETY: flock on a descriptor we own; closing it (drop) releases a lock we got.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) };
    rc != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EWOULDBLOCK)
}

/// How to reach the Manager of a data dir.
struct Remote {
    dir: PathBuf,
    url: String,
    pid: i64,
    token: String,
    http: reqwest::Client,
}

impl Remote {
    fn find(dir: &Path) -> Result<Remote, Failure> {
        let text = std::fs::read_to_string(dir.join(MANAGER_FILE)).map_err(|_| no_manager(dir))?;
        let info: Value = serde_json::from_str(&text).map_err(|_| no_manager(dir))?;
        let url = info["url"]
            .as_str()
            .ok_or_else(|| no_manager(dir))?
            .to_string();
        let pid = info["pid"].as_i64().unwrap_or(0);
        if !pid_alive(i32::try_from(pid).unwrap_or(0)) || !lock_is_held(dir) {
            return Err(no_manager(dir));
        }
        let token_path = dir.join(ADMIN_TOKEN_FILE);
        let token = std::fs::read_to_string(&token_path)
            .map_err(|e| {
                Failure(
                    format!(
                        "could not read the admin token {}: {e}",
                        token_path.display()
                    ),
                    FAILURE,
                )
            })?
            .trim()
            .to_string();
        let http = http_client().map_err(|e| Failure(e.to_string(), FAILURE))?;
        Ok(Remote {
            dir: dir.to_path_buf(),
            url,
            pid,
            token,
            http,
        })
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Failure> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(30));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.map_err(|e| {
            if e.is_connect() {
                no_manager(&self.dir)
            } else {
                Failure(
                    format!("the Manager at {} did not answer: {e}", self.url),
                    FAILURE,
                )
            }
        })?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(value);
        }
        let message = value
            .pointer("/error/message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or(text);
        Err(Failure(
            format!("{message} (HTTP {})", status.as_u16()),
            FAILURE,
        ))
    }
}

fn client(command: ClientCommand) -> i32 {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("inferencekey: cannot start the async runtime: {e}");
            return FAILURE;
        }
    };
    match runtime.block_on(run_client(command)) {
        Ok(out) => {
            if !out.is_empty() {
                println!("{out}");
            }
            0
        }
        Err(Failure(message, code)) => {
            eprintln!("inferencekey: {message}");
            code
        }
    }
}

/// A value as a terminal may show it: control characters (escape sequences, carriage
/// returns, newlines) and bidirectional overrides are written escaped, so a tenant's model
/// name cannot rewrite the operator's screen.
fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => printable(s),
        other => printable(&other.to_string()),
    }
}

fn printable(s: &str) -> String {
    let risky =
        |c: char| c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    if !s.chars().any(risky) {
        return s.to_string();
    }
    s.chars()
        .map(|c| {
            if risky(c) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Left-aligned columns, for lists people read.
fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    std::iter::once(line(header.iter().map(|h| h.to_string()).collect()))
        .chain(rows.into_iter().map(line))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `storage ok`, or why writes fail (a full disk) and how much of the log was lost.
fn storage_line(storage: &Value) -> String {
    let log = &storage["log"];
    let lost =
        log["dropped_lines"].as_u64().unwrap_or(0) + log["failed_writes"].as_u64().unwrap_or(0);
    let lost = if lost > 0 {
        format!("; {lost} log lines lost")
    } else {
        String::new()
    };
    if storage["ok"].as_bool() != Some(false) {
        return format!("storage   ok{lost}");
    }
    format!(
        "storage   UNAVAILABLE since {}: {}; changes fail with 503 storage_unavailable until disk \
         space is freed, reads keep working{lost}",
        text(&storage["since"]),
        text(&storage["problem"])
    )
}

fn list_of(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or_default()
}

async fn run_client(command: ClientCommand) -> Result<String, Failure> {
    match command {
        ClientCommand::Dashboard { dir } => {
            let m = Remote::find(&dir.path())?;
            let link = m
                .call(Method::POST, "/admin/dashboard/login-codes", None)
                .await?;
            Ok(text(&link["url"]))
        }
        ClientCommand::Init { project, dir } => {
            let m = Remote::find(&dir.path())?;
            let p = m
                .call(
                    Method::POST,
                    "/admin/projects",
                    Some(json!({"slug": project})),
                )
                .await?;
            let slug = text(&p["slug"]);
            let t = m
                .call(
                    Method::POST,
                    &format!("/admin/projects/{slug}/sdk-tokens"),
                    None,
                )
                .await?;
            Ok(format!(
                "export INFERENCEKEY_BASE_URL={}\nexport INFERENCEKEY_PROJECT={slug}\nexport INFERENCEKEY_SDK_TOKEN={}",
                m.url,
                text(&t["token"])
            ))
        }
        ClientCommand::Key { command } => match command {
            KeyCommand::Create {
                project,
                workload,
                all,
                dir,
            } => {
                let m = Remote::find(&dir.path())?;
                let body = match workload {
                    Some(w) if !all => json!({"workload": w}),
                    _ => json!({"all": true}),
                };
                let k = m
                    .call(
                        Method::POST,
                        &format!("/admin/projects/{project}/keys"),
                        Some(body),
                    )
                    .await?;
                Ok(text(&k["key"]))
            }
            KeyCommand::Revoke { key_id, dir } => {
                let m = Remote::find(&dir.path())?;
                // A whole key pasted by mistake is reduced to its id before it leaves here.
                let id = inferencekey_core::token::parse_token(&key_id)
                    .map_or(key_id.as_str(), |t| t.id)
                    .to_string();
                let k = m
                    .call(Method::POST, &format!("/admin/keys/{id}/revoke"), None)
                    .await?;
                Ok(format!(
                    "revoked {} (at {})",
                    text(&k["id"]),
                    text(&k["revoked_at"])
                ))
            }
            KeyCommand::List { project, json, dir } => {
                let m = Remote::find(&dir.path())?;
                let path = match &project {
                    Some(p) => format!("/admin/keys?project={p}"),
                    None => "/admin/keys".into(),
                };
                let keys = m.call(Method::GET, &path, None).await?;
                if json {
                    return Ok(format!("{keys:#}"));
                }
                let rows = list_of(&keys)
                    .iter()
                    .map(|k| {
                        ["id", "kind", "project", "scope", "created_at", "revoked_at"]
                            .iter()
                            .map(|f| text(&k[*f]))
                            .collect()
                    })
                    .collect();
                Ok(table(
                    &["ID", "KIND", "PROJECT", "SCOPE", "CREATED", "REVOKED"],
                    rows,
                ))
            }
        },
        ClientCommand::Worker { command } => match command {
            WorkerCommand::Register { name, dir } => {
                let m = Remote::find(&dir.path())?;
                let w = m
                    .call(Method::POST, "/admin/workers", Some(json!({"name": name})))
                    .await?;
                Ok(text(&w["id"]))
            }
            WorkerCommand::List { json, dir } => {
                let m = Remote::find(&dir.path())?;
                let workers = m.call(Method::GET, "/admin/workers", None).await?;
                if json {
                    return Ok(format!("{workers:#}"));
                }
                let rows = list_of(&workers)
                    .iter()
                    .map(|w| {
                        ["id", "name", "created_at"]
                            .iter()
                            .map(|f| text(&w[*f]))
                            .collect()
                    })
                    .collect();
                Ok(table(&["ID", "NAME", "CREATED"], rows))
            }
            WorkerCommand::Run(_) => Err(Failure(
                "`worker run` runs in the foreground; it is not a call to a Manager".into(),
                FAILURE,
            )),
            WorkerCommand::Token { worker_id, dir } => {
                let m = Remote::find(&dir.path())?;
                let t = m
                    .call(
                        Method::POST,
                        &format!(
                            "/admin/workers/{}/tokens",
                            percent_encoding::utf8_percent_encode(
                                worker_id.trim(),
                                percent_encoding::NON_ALPHANUMERIC
                            )
                        ),
                        Some(json!({})),
                    )
                    .await?;
                Ok(text(&t["token"]))
            }
        },
        ClientCommand::Gpu { command } => match command {
            GpuCommand::Register { name, worker, dir } => {
                let m = Remote::find(&dir.path())?;
                let g = m
                    .call(
                        Method::POST,
                        "/admin/gpus",
                        Some(json!({"name": name, "worker_id": worker})),
                    )
                    .await?;
                Ok(text(&g["id"]))
            }
            GpuCommand::List { json, dir } => {
                let m = Remote::find(&dir.path())?;
                let gpus = m.call(Method::GET, "/admin/gpus", None).await?;
                if json {
                    return Ok(format!("{gpus:#}"));
                }
                let rows = list_of(&gpus)
                    .iter()
                    .map(|g| {
                        ["id", "name", "worker_id", "created_at"]
                            .iter()
                            .map(|f| text(&g[*f]))
                            .collect()
                    })
                    .collect();
                Ok(table(&["ID", "NAME", "WORKER", "CREATED"], rows))
            }
        },
        ClientCommand::Status { json, dir } => {
            let m = Remote::find(&dir.path())?;
            let status = m.call(Method::GET, "/admin/status", None).await?;
            if json {
                return Ok(format!("{status:#}"));
            }
            let mut out = vec![
                format!("manager   {} (pid {})", m.url, m.pid),
                format!("data dir  {}", m.dir.display()),
                storage_line(&status["storage"]),
            ];
            match status["role"].as_str() {
                Some("leader") => out.push(
                    "role      leader: runs the workloads' replicas for every Manager on its \
                     database"
                        .to_string(),
                ),
                Some("follower") => out.push(
                    "role      follower: serves the API and the gateway; another Manager on its \
                     database runs the replicas, and this one takes over if it stops"
                        .to_string(),
                ),
                _ => {}
            }
            for q in list_of(&status["quarantined"]) {
                out.push(format!(
                    "QUARANTINED workload {}: its stored row does not parse ({}); it is not run \
                     or listed until the row is fixed or deleted",
                    text(&q["id"]),
                    text(&q["problem"])
                ));
            }
            let projects = list_of(&status["projects"]);
            if projects.is_empty() {
                out.push(
                    "no projects yet; create one with: inferencekey init --project <slug>".into(),
                );
            }
            for p in projects {
                out.push(format!("project {}", text(&p["slug"])));
                let rows: Vec<Vec<String>> = list_of(&p["workloads"])
                    .iter()
                    .map(|w| {
                        let r = &w["replicas"];
                        let replicas = if r.is_object() {
                            format!("{}/{}", text(&r["ready"]), text(&r["wanted"]))
                        } else {
                            "-".into()
                        };
                        let mut row: Vec<String> =
                            ["slug", "status"].iter().map(|f| text(&w[*f])).collect();
                        row.push(replicas);
                        row.extend(
                            ["task_type", "model_name", "status_message"]
                                .iter()
                                .map(|f| text(&w[*f])),
                        );
                        row
                    })
                    .collect();
                if rows.is_empty() {
                    out.push("  (no workloads)".into());
                } else {
                    for line in table(
                        &[
                            "WORKLOAD",
                            "PHASE",
                            "READY/WANTED",
                            "TASK",
                            "MODEL",
                            "MESSAGE",
                        ],
                        rows,
                    )
                    .lines()
                    {
                        out.push(format!("  {line}"));
                    }
                }
            }
            Ok(out.join("\n"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_exit_2() {
        assert_eq!(cli_main(vec!["frobnicate".into()], vec![]), USAGE_ERROR);
        assert_eq!(
            cli_main(
                vec![
                    "key".into(),
                    "create".into(),
                    "--project".into(),
                    "p".into()
                ],
                vec![]
            ),
            USAGE_ERROR
        );
        assert_eq!(cli_main(vec!["--help".into()], vec![]), 0);
    }

    #[test]
    fn client_verbs_without_a_manager_fail_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let args = vec![
            "status".to_string(),
            "--data-dir".into(),
            dir.path().to_string_lossy().into_owned(),
        ];
        assert_eq!(cli_main(args, vec![]), FAILURE);
    }

    #[test]
    fn terminal_escapes_are_shown_not_obeyed() {
        let v = json!("m\u{1b}[2J\rX\u{202E}");
        assert_eq!(text(&v), "m\\u{1b}[2J\\u{d}X\\u{202e}");
        assert_eq!(text(&json!("plain/model-1")), "plain/model-1");
    }

    #[test]
    fn tables_align() {
        let t = table(&["A", "BB"], vec![vec!["long".into(), "x".into()]]);
        assert_eq!(t, "A     BB\nlong  x");
    }
}
