//! The worker agent (`inferencekey worker run`): runs a worker's replicas on this host for a
//! Manager elsewhere, through the agent protocol (docs/contract.md §8, [`crate::agent_wire`]).
//!
//! Each round it sends the state of its replicas and is answered with the ones assigned to
//! its worker; it starts the new ones, stops the ones no longer listed, and keeps the others.
//! A replica runs exactly as one of the Manager's own: planned by the same launcher and
//! allowlist ([`process::plan`]) with this agent's flags, then launched, health-checked and
//! restarted with backoff by the same replica task ([`reconciler::run_replica`]), binding
//! the agent's address instead of loopback. A Manager that cannot be reached is retried
//! every round while the replicas keep running; a refused token ends the agent.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use inferencekey_core::enums::{Backend, ExecutionPolicy, TaskType};
use inferencekey_core::token::{scrub, Secret};
use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::agent_wire::{Assignment, ReplicaState, SyncRequest, SyncResponse, SYNC_INTERVAL};
use crate::runtime::process::{self, LaunchSettings};
use crate::runtime::reconciler::{self, Launcher, ReplicaCtx, ReplicaEvent, ReplicaStatus};
use crate::runtime::{PolicySpec, RuntimeSpec};

/// How long one sync call may take.
const SYNC_TIMEOUT: Duration = Duration::from_secs(10);

/// What the agent needs to run.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The Manager's base URL, e.g. `http://127.0.0.1:8080`.
    pub manager: String,
    pub token: Secret,
    pub worker_id: String,
    /// The host the agent's engines bind and the Manager reaches them on.
    pub address: String,
    pub settings: LaunchSettings,
}

/// Why the agent stopped.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("the Manager refused this agent ({status}): {message}")]
    Refused { status: u16, message: String },
    #[error("{0}")]
    Setup(String),
}

struct Running {
    index: u64,
    spec_hash: String,
    status: ReplicaStatus,
    cancel: CancellationToken,
}

/// A replica's status as the protocol reports it.
fn state(replica_id: &str, status: &ReplicaStatus) -> ReplicaState {
    let (phase, port, last_error) = match status {
        // The lost ones are only the Manager's, for a replica on an agent; never one's own.
        ReplicaStatus::Provisioning(_) | ReplicaStatus::WorkerLost(_) | ReplicaStatus::Lost(_) => {
            ("provisioning", None, None)
        }
        ReplicaStatus::Bootstrapping(_) => ("bootstrapping", None, None),
        ReplicaStatus::Ready(url) => {
            let port = url.rsplit(':').next().and_then(|p| p.parse().ok());
            ("ready", port, None)
        }
        ReplicaStatus::Failing(m) => ("error", None, Some(m.clone())),
    };
    ReplicaState {
        replica_id: replica_id.to_string(),
        phase: phase.to_string(),
        port,
        last_error,
    }
}

/// The runtime spec an assignment's launch describes (one replica, no policy: the Manager
/// decides how many).
fn runtime_spec(a: &Assignment) -> RuntimeSpec {
    let l = &a.launch;
    RuntimeSpec {
        task_type: TaskType::from_wire(&l.task_type),
        backend: l.backend.as_deref().map(Backend::from_wire),
        model: l.model.clone(),
        command: l.command.clone(),
        config: l.config.clone(),
        worker_id: None,
        policy: PolicySpec::from_config(&ExecutionPolicy::Fixed, &json!({"replicas": 1})),
    }
}

struct Agent {
    config: AgentConfig,
    http: reqwest::Client,
    launcher: Arc<Launcher>,
    events: mpsc::UnboundedSender<ReplicaEvent>,
    running: HashMap<String, Running>,
    next: u64,
    tasks: JoinSet<()>,
}

impl Agent {
    async fn sync(&self) -> Result<SyncResponse, SyncFailure> {
        let body = SyncRequest {
            worker_id: Some(self.config.worker_id.clone()),
            address: self.config.address.clone(),
            replicas: self
                .running
                .iter()
                .map(|(id, r)| state(id, &r.status))
                .collect(),
        };
        post_sync(&self.http, &self.config.manager, &self.config.token, &body).await
    }

    /// Starts what is assigned and not running, stops what runs and is not assigned.
    async fn apply(&mut self, answer: &SyncResponse) {
        let wanted: HashMap<&str, &Assignment> = answer
            .replicas
            .iter()
            .map(|a| (a.replica_id.as_str(), a))
            .collect();
        self.running.retain(|id, r| {
            let keep = wanted
                .get(id.as_str())
                .is_some_and(|a| a.spec_hash == r.spec_hash);
            if !keep {
                tracing::info!(replica = %id, "stopping a replica no longer assigned here");
                r.cancel.cancel();
            }
            keep
        });
        for a in &answer.replicas {
            if !self.running.contains_key(&a.replica_id) {
                self.start(a).await;
            }
        }
    }

    async fn start(&mut self, a: &Assignment) {
        let index = self.next;
        self.next += 1;
        let label = format!("replica {}", a.replica_id);
        let cancel = CancellationToken::new();
        let spec = runtime_spec(a);
        let custom = matches!(spec.backend, Some(Backend::Custom(_))) && spec.command.is_none();
        let plan = if custom {
            Err(
                "published custom backends are not run by worker agents yet; run the \
                 workload on the Manager's own worker (no worker_id)"
                    .to_string(),
            )
        } else {
            process::plan(&spec, &self.launcher.settings, &self.http).await
        };
        let status = match plan {
            Err(message) => {
                tracing::warn!(replica = %a.replica_id, "{message}");
                ReplicaStatus::Failing(format!("{label} cannot run here: {message}"))
            }
            Ok(plan) => {
                let settings = &self.launcher.settings;
                let ctx = ReplicaCtx {
                    generation: 0,
                    replica: index,
                    label: label.clone(),
                    plan: Arc::new(plan),
                    launcher: self.launcher.clone(),
                    spare: Default::default(),
                    events: self.events.clone(),
                    cancel: cancel.clone(),
                    log_path: settings.logs_dir().join(format!("{}.log", a.replica_id)),
                    pid_file: settings.run_dir().join(format!("{}.pid", a.replica_id)),
                };
                tracing::info!(replica = %a.replica_id, workload = %a.workload_id, "starting a replica assigned here");
                self.tasks.spawn(reconciler::run_replica(ctx));
                ReplicaStatus::Provisioning(format!("{label}: starting"))
            }
        };
        self.running.insert(
            a.replica_id.clone(),
            Running {
                index,
                spec_hash: a.spec_hash.clone(),
                status,
                cancel,
            },
        );
    }

    fn on_event(&mut self, ev: ReplicaEvent) {
        if let Some(r) = self.running.values_mut().find(|r| r.index == ev.replica) {
            r.status = ev.status;
        }
    }
}

enum SyncFailure {
    Retry(String),
    Fatal(AgentError),
}

/// One `POST /agent/v1/sync`: the answer, or whether to retry.
async fn post_sync(
    http: &reqwest::Client,
    manager: &str,
    token: &Secret,
    body: &SyncRequest,
) -> Result<SyncResponse, SyncFailure> {
    let resp = http
        .post(format!("{manager}/agent/v1/sync"))
        .bearer_auth(token.expose())
        .timeout(SYNC_TIMEOUT)
        .json(body)
        .send()
        .await
        .map_err(|e| SyncFailure::Retry(format!("cannot reach the Manager: {e}")))?;
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    match status {
        200 => serde_json::from_str(&text)
            .map_err(|e| SyncFailure::Retry(format!("the Manager's answer does not read: {e}"))),
        401 | 403 | 404 => Err(SyncFailure::Fatal(AgentError::Refused {
            status,
            message: scrub(&text),
        })),
        _ => Err(SyncFailure::Retry(format!(
            "the Manager answered {status}: {}",
            scrub(&text)
        ))),
    }
}

/// The worker `token` was issued for, asked of the Manager (an agent started without
/// `--worker-id`): a first sync that reports no replica, which is what a starting agent
/// runs. Retried every sync interval until the Manager answers; `None` when `stop` came
/// first.
pub async fn worker_of_token(
    manager: &str,
    token: &Secret,
    address: &str,
    stop: &CancellationToken,
) -> Result<Option<String>, AgentError> {
    let http = crate::server::http_client().map_err(|e| AgentError::Setup(e.to_string()))?;
    let body = SyncRequest {
        worker_id: None,
        address: address.to_string(),
        replicas: Vec::new(),
    };
    loop {
        match post_sync(&http, manager, token, &body).await {
            Ok(answer) => return Ok(Some(answer.worker_id)),
            Err(SyncFailure::Fatal(e)) => return Err(e),
            Err(SyncFailure::Retry(why)) => {
                eprintln!("inferencekey worker agent: {why}; retrying");
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return Ok(None),
            _ = tokio::time::sleep(SYNC_INTERVAL) => {}
        }
    }
}

/// Runs the agent until `stop` is cancelled (then stops every engine) or the Manager
/// refuses it.
pub async fn run(config: AgentConfig, stop: CancellationToken) -> Result<(), AgentError> {
    let http = crate::server::http_client().map_err(|e| AgentError::Setup(e.to_string()))?;
    for dir in [config.settings.logs_dir(), config.settings.run_dir()] {
        std::fs::create_dir_all(&dir)
            .map_err(|e| AgentError::Setup(format!("cannot create {}: {e}", dir.display())))?;
    }
    let killed = process::kill_leftovers(&config.settings.run_dir(), &config.settings.data_dir);
    if killed > 0 {
        tracing::info!(count = killed, "stopped engines a previous run left behind");
    }
    let (events, mut rx) = mpsc::unbounded_channel();
    let mut agent = Agent {
        launcher: Arc::new(Launcher {
            http: http.clone(),
            settings: config.settings.clone(),
            host: config.address.clone(),
            spares: Default::default(),
        }),
        http,
        config,
        events,
        running: HashMap::new(),
        next: 0,
        tasks: JoinSet::new(),
    };
    let mut interval = SYNC_INTERVAL;
    let mut synced_once = false;
    let result = loop {
        match agent.sync().await {
            Ok(answer) => {
                if !synced_once {
                    eprintln!(
                        "inferencekey worker agent: synced with {} as worker {} (replicas serve on {})",
                        agent.config.manager, agent.config.worker_id, agent.config.address
                    );
                    synced_once = true;
                }
                interval = Duration::from_millis(answer.sync_interval_ms.clamp(100, 60_000));
                agent.apply(&answer).await;
            }
            Err(SyncFailure::Fatal(e)) => break Err(e),
            Err(SyncFailure::Retry(why)) => {
                tracing::warn!("{why}; retrying in {:.1}s", interval.as_secs_f64());
                eprintln!("inferencekey worker agent: {why}; retrying");
            }
        }
        let deadline = tokio::time::Instant::now() + interval;
        // Replica events until the next round; a state change is reported next round.
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep_until(deadline) => break,
                Some(ev) = rx.recv() => agent.on_event(ev),
                Some(_) = agent.tasks.join_next(), if !agent.tasks.is_empty() => {}
            }
        }
        if stop.is_cancelled() {
            break Ok(());
        }
    };
    for r in agent.running.values() {
        r.cancel.cancel();
    }
    while agent.tasks.join_next().await.is_some() {}
    result
}

/// Where an agent keeps its engines' logs and pid files when no data dir is given.
pub fn default_data_dir(worker_id: &str) -> PathBuf {
    crate::config::default_data_dir()
        .join("agents")
        .join(worker_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_reported_phases() {
        let s = state("r", &ReplicaStatus::Ready("http://127.0.0.2:8123".into()));
        assert_eq!((s.phase.as_str(), s.port), ("ready", Some(8123)));
        let s = state("r", &ReplicaStatus::Ready("http://[::1]:9".into()));
        assert_eq!(s.port, Some(9));
        let s = state("r", &ReplicaStatus::Failing("boom".into()));
        assert_eq!(
            (s.phase.as_str(), s.last_error.as_deref()),
            ("error", Some("boom"))
        );
        for (status, phase) in [
            (ReplicaStatus::Provisioning("x".into()), "provisioning"),
            (ReplicaStatus::Bootstrapping("x".into()), "bootstrapping"),
        ] {
            assert_eq!(state("r", &status).phase, phase);
        }
    }
}
