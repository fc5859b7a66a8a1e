//! How a Manager is started, and where its data lives.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::runtime::clock::{Clock, SystemClock};

/// Everything [`crate::start`] needs. `Default` gives a loopback Manager on an ephemeral port
/// in the default data dir; tests and embedders override fields with struct-update syntax.
#[derive(Debug, Clone)]
pub struct ManagerConfig {
    pub host: String,
    /// 0 picks a free port.
    pub port: u16,
    pub data_dir: PathBuf,
    /// Serve workloads whose engine is not installed with the reference engine.
    pub dev: bool,
    /// Run any engine command, not only the one the workload's backend names.
    pub allow_any_command: bool,
    /// Allow binding a non-loopback address.
    pub allow_remote: bool,
    /// How long a data-plane request waits for a workload that is still starting.
    pub cold_start_timeout: Duration,
    /// How to re-run this CLI: spawned as `<self_command> engine …` for the reference engine
    /// and `<self_command> __replica-keeper …` around every engine (under the Python package,
    /// a faster form of that: `runtime::procgroup::keeper_command`).
    pub self_command: Vec<String>,
    /// Environment variables engines get beyond the documented default list.
    pub engine_env: Vec<String>,
    /// Let engine commands carry `--trust-remote-code` (runs code from the model repo).
    pub allow_trust_remote_code: bool,
    /// The job runner's timeout and retention.
    pub job_times: crate::jobs::JobTimes,
    /// How long a connection may take to send a request head, and stay idle between
    /// requests.
    pub header_timeout: Duration,
    /// How long a request body may take to arrive once the Manager starts reading it
    /// (see `body_timeout`); past it the request is answered 408 and its connection closed.
    pub body_timeout: Duration,
    /// What the execution policies read the time from; tests pass a `ManualClock`.
    pub clock: Arc<dyn Clock>,
    /// Replicas this Manager may run across all workloads: the sum of each workload's most
    /// (fixed `replicas`, autoscaling `max_workers`, 1 for scheduled) may not exceed it.
    pub max_replicas: usize,
    /// Webhook delivery: remote destinations, and the retry schedule's time scale.
    pub webhooks: crate::webhooks::WebhookConfig,
    /// Where the durable state lives (`--store`).
    pub store: StoreLocation,
}

/// `--store`: SQLite in the data dir (the default), or a PostgreSQL database several
/// Managers can share.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum StoreLocation {
    /// `<data dir>/manager.db`.
    #[default]
    Sqlite,
    /// A `postgres://` (or `postgresql://`) connection URL.
    Postgres(String),
}

impl StoreLocation {
    /// Reads a `--store` value: `sqlite` or a PostgreSQL URL. The error names the option and
    /// the forms it takes.
    pub fn parse(value: &str) -> Result<Self, String> {
        let v = value.trim();
        if v.is_empty() || v == "sqlite" {
            return Ok(StoreLocation::Sqlite);
        }
        if v.starts_with("postgres://") || v.starts_with("postgresql://") {
            return Ok(StoreLocation::Postgres(v.to_string()));
        }
        Err(format!(
            "--store {:?} (or INFERENCEKEY_STORE) is neither `sqlite` (the default: manager.db \
             in the data dir) nor a PostgreSQL URL such as postgres://user:password@host:5432/db",
            redact_url(v)
        ))
    }

    /// For messages: the location with any password in a URL replaced by `***`.
    pub fn describe(&self) -> String {
        match self {
            StoreLocation::Sqlite => "SQLite in the data dir".into(),
            StoreLocation::Postgres(url) => format!("PostgreSQL at {}", redact_url(url)),
        }
    }
}

impl std::fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// `scheme://user:secret@host/…` → `scheme://user:***@host/…`; a password given as a query
/// parameter (`?password=…`) is cut too.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..]
            .find(['/', '?'])
            .map_or(out.len(), |i| rest_start + i);
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let userinfo = &out[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(rest_start + colon + 1..rest_start + at, "***");
            }
        }
    }
    if let Some(q) = out.find("password=") {
        let end = out[q..].find('&').map_or(out.len(), |i| q + i);
        out.replace_range(q + "password=".len()..end, "***");
    }
    out
}

/// The default for [`ManagerConfig::max_replicas`].
pub const DEFAULT_MAX_REPLICAS: usize = 1024;

impl Default for ManagerConfig {
    fn default() -> Self {
        ManagerConfig {
            host: "127.0.0.1".into(),
            port: 0,
            data_dir: default_data_dir(),
            dev: false,
            allow_any_command: false,
            allow_remote: false,
            cold_start_timeout: Duration::from_secs(60),
            self_command: std::env::current_exe()
                .map(|p| vec![p.to_string_lossy().into_owned()])
                .unwrap_or_default(),
            engine_env: Vec::new(),
            allow_trust_remote_code: false,
            job_times: crate::jobs::JobTimes::default(),
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(60),
            clock: Arc::new(SystemClock::default()),
            max_replicas: DEFAULT_MAX_REPLICAS,
            webhooks: crate::webhooks::WebhookConfig::default(),
            store: StoreLocation::Sqlite,
        }
    }
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.to_string_lossy().trim().is_empty())
        .map(PathBuf::from)
}

/// `$INFERENCEKEY_DATA_DIR`, else `$XDG_DATA_HOME/inferencekey`, else
/// `~/.local/share/inferencekey` (the XDG default).
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = env_path("INFERENCEKEY_DATA_DIR") {
        return dir;
    }
    if let Some(xdg) = env_path("XDG_DATA_HOME") {
        return xdg.join("inferencekey");
    }
    env_path("HOME")
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".local/share/inferencekey")
}

/// True for `localhost` and loopback IP literals.
pub fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_detection() {
        for h in ["127.0.0.1", "localhost", "::1", "[::1]", "127.1.2.3"] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in ["0.0.0.0", "192.168.1.2", "example.com", "::"] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }
}
