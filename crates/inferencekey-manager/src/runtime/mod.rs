//! The local worker: desired state in, engine processes out. One supervisor task per workload
//! runs its replicas (see `reconciler`); the registry here is what the control plane tells
//! about changes and what the gateway asks for a ready replica, without touching the store.

mod autoscaler;
pub mod clock;
mod cluster;
mod custom;
pub mod engine_env;
mod llamacpp;
mod placement;
mod policy;
pub mod process;
pub mod procgroup;
pub mod readiness;
pub(crate) mod reconciler;
mod remote;
mod routing;
mod schedule;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use inferencekey_core::enums::{Backend, ExecutionPolicy, TaskType};
use serde_json::Value;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::store::{Store, WorkloadRecord};
use clock::Clock;
pub use policy::{Closed, PolicySpec};
use process::LaunchSettings;
use readiness::{Phase, ReadinessLog};
pub use routing::{InFlight, Lease};
use routing::{Load, Slot};

/// The part of a workload that decides what runs. Two specs whose launch parts compare equal
/// need no rollout, so renaming a workload or editing its description restarts nothing, and
/// a policy change only retargets the replica count.
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeSpec {
    pub task_type: TaskType,
    pub backend: Option<Backend>,
    pub model: String,
    pub command: Option<String>,
    pub config: Value,
    pub worker_id: Option<String>,
    /// How many replicas, when: fixed, a schedule, or the autoscaler.
    pub policy: PolicySpec,
}

impl RuntimeSpec {
    pub fn from_record(w: &WorkloadRecord) -> Self {
        let policy = ExecutionPolicy::from_wire(&w.execution_policy);
        RuntimeSpec {
            task_type: TaskType::from_wire(&w.task_type),
            backend: w.backend.as_deref().map(Backend::from_wire),
            model: w.model_name.clone(),
            command: w
                .config
                .get("command")
                .and_then(Value::as_str)
                .map(str::to_string),
            config: w.config.clone(),
            worker_id: w.worker_id.clone(),
            policy: PolicySpec::from_config(&policy, &w.execution_policy_config),
        }
    }

    /// True when both run the same engine the same way (only the policy may differ).
    pub fn same_launch(&self, other: &RuntimeSpec) -> bool {
        self.task_type == other.task_type
            && self.backend == other.backend
            && self.model == other.model
            && self.command == other.command
            && self.config == other.config
            && self.worker_id == other.worker_id
    }
}

/// Why a request could not get a ready replica.
#[derive(Debug, Clone, PartialEq)]
pub enum NotReady {
    /// The workload is in the `error` phase; the message says why.
    Failed(String),
    /// Still starting when the wait ran out; the current phase and message.
    Timeout {
        phase: &'static str,
        message: String,
    },
    /// The workload was deleted while waiting.
    Gone,
    /// Its schedule keeps it down; when it next starts.
    Closed(Closed),
    /// Too many requests are already held waiting for a replica to start.
    QueueFull(usize),
}

/// Requests a workload may hold at the gateway while its first replica starts.
pub const HOLD_QUEUE: usize = 256;

/// One workload as the runtime sees it.
pub struct WorkloadEntry {
    pub id: String,
    pub project_slug: String,
    pub slug: String,
    spec: watch::Sender<Arc<RuntimeSpec>>,
    /// The replicas serving traffic, with their request counts.
    ready: watch::Sender<Arc<[Arc<Slot>]>>,
    readiness: watch::Sender<ReadinessLog>,
    /// Set while the schedule keeps the workload down.
    closed: watch::Sender<Option<Closed>>,
    /// Requests at the gateway for this workload, held ones included.
    load: Arc<Load>,
    held: AtomicUsize,
    /// Replicas the policy wants now.
    wanted: AtomicUsize,
    /// Woken when a request arrives, so a scaled-to-zero workload starts at once.
    demand: Notify,
    /// Whether an arriving request can change the supervisor's decision, as of its last one:
    /// false while a fixed policy's replicas serve (it wants the same count whatever the
    /// load). Waking the supervisor on every request then only re-decided the same thing,
    /// ~8% of the gateway's instructions per proxied call.
    demand_matters: AtomicBool,
    next: AtomicUsize,
    cancel: CancellationToken,
    /// The `updated_at` of the record applied last: an older one (a workload listing read
    /// before an update through the API) is not applied over it.
    applied_at: Mutex<String>,
    /// The leader: the other Managers' requests in flight per replica URL, as last reported
    /// (a draining replica is stopped only once none is left anywhere).
    remote_by_replica: Mutex<HashMap<String, usize>>,
    /// A follower: slots the leader no longer lists that still carry this gateway's
    /// requests, so they are reported until they finish.
    followed_draining: Mutex<Vec<Arc<Slot>>>,
}

struct Held<'a>(&'a AtomicUsize);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl WorkloadEntry {
    pub fn task_type(&self) -> TaskType {
        self.spec.borrow().task_type.clone()
    }

    /// The model of a workload served by the shared Ollama daemon (the gateway pins
    /// requests to it); `None` for every other backend.
    pub fn ollama_model(&self) -> Option<String> {
        let spec = self.spec.borrow();
        (spec.backend == Some(Backend::Ollama)).then(|| spec.model.clone())
    }

    /// Whether the replicas run a published custom backend's runtime (docs/contract.md §7),
    /// whose one route is `/process`: the gateway and the jobs runner send it jobs.
    pub fn custom_runtime(&self) -> bool {
        let spec = self.spec.borrow();
        matches!(spec.backend, Some(Backend::Custom(_))) && spec.command.is_none()
    }

    pub fn phase(&self) -> (Phase, String) {
        let log = self.readiness.borrow();
        (log.phase(), log.message().to_string())
    }

    pub fn subscribe_readiness(&self) -> watch::Receiver<ReadinessLog> {
        self.readiness.subscribe()
    }

    /// Counts a request against the workload until the returned guard drops.
    pub fn begin(&self) -> InFlight {
        let guard = InFlight::begin(&self.load);
        if self.demand_matters.load(Ordering::SeqCst) {
            self.demand.notify_one();
        }
        guard
    }

    pub fn in_flight(&self) -> usize {
        self.load.current()
    }

    /// Requests the other Managers' gateways have in flight on the replica at `url`.
    pub(crate) fn remote_on(&self, url: &str) -> usize {
        self.remote_by_replica
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(url)
            .copied()
            .unwrap_or(0)
    }

    /// Set by the supervisor after each decision: see `demand_matters`.
    pub(crate) fn set_demand_matters(&self, matters: bool) {
        self.demand_matters.store(matters, Ordering::SeqCst);
    }

    /// Replicas wanted by the policy, replicas serving, and requests in flight: what
    /// `status` shows beside the phase.
    pub fn counts(&self) -> serde_json::Value {
        serde_json::json!({
            "wanted": self.wanted.load(Ordering::SeqCst),
            "ready": self.ready.borrow().len(),
            "in_flight": self.in_flight(),
        })
    }

    /// The least-loaded ready replica; `None` when none is ready.
    pub fn pick(&self) -> Option<Lease> {
        let set = self.ready.borrow().clone();
        if set.is_empty() {
            return None;
        }
        routing::pick(&set, self.next.fetch_add(1, Ordering::Relaxed) % set.len())
    }

    /// A ready replica, holding the request up to `timeout` while one starts (a cold start
    /// from zero included). At most [`HOLD_QUEUE`] requests are held at once.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<Lease, NotReady> {
        if let Some(closed) = self.closed.borrow().clone() {
            return Err(NotReady::Closed(closed));
        }
        if let Some(lease) = self.pick() {
            return Ok(lease);
        }
        if self.held.fetch_add(1, Ordering::SeqCst) >= HOLD_QUEUE {
            self.held.fetch_sub(1, Ordering::SeqCst);
            return Err(NotReady::QueueFull(HOLD_QUEUE));
        }
        let _held = Held(&self.held);
        let deadline = tokio::time::Instant::now() + timeout;
        let mut ready_rx = self.ready.subscribe();
        let mut phase_rx = self.readiness.subscribe();
        let mut closed_rx = self.closed.subscribe();
        loop {
            if let Some(lease) = self.pick() {
                return Ok(lease);
            }
            if self.cancel.is_cancelled() {
                return Err(NotReady::Gone);
            }
            if let Some(closed) = self.closed.borrow().clone() {
                return Err(NotReady::Closed(closed));
            }
            let (phase, message) = self.phase();
            if phase == Phase::Error {
                return Err(NotReady::Failed(message));
            }
            let changed = tokio::time::timeout_at(deadline, async {
                tokio::select! {
                    r = ready_rx.changed() => r.is_ok(),
                    r = phase_rx.changed() => r.is_ok(),
                    r = closed_rx.changed() => r.is_ok(),
                    _ = self.cancel.cancelled() => false,
                }
            })
            .await;
            match changed {
                Err(_) => {
                    return Err(NotReady::Timeout {
                        phase: phase.as_str(),
                        message,
                    })
                }
                Ok(false) => return Err(NotReady::Gone),
                Ok(true) => {}
            }
        }
    }
}

/// foldhash rather than SipHash: every data-plane call looks its workload up by slug, and
/// hashing was a visible share of the gateway's CPU; foldhash is still seeded per map.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

#[derive(Default)]
struct Registry {
    by_id: HashMap<String, Arc<WorkloadEntry>>,
    /// Project slug, then workload slug: looked up with the path's `&str`s, no key built.
    by_slug: FastMap<String, FastMap<String, Arc<WorkloadEntry>>>,
}

/// What every supervisor shares.
pub(crate) struct Shared {
    pub store: Arc<dyn Store>,
    pub http: reqwest::Client,
    pub settings: LaunchSettings,
    pub clock: Arc<dyn Clock>,
    /// `http` and `settings` again, for the engine replicas, binding loopback.
    pub launcher: Arc<reconciler::Launcher>,
    /// The workers' agents as last read, for placing replicas.
    pub agents: placement::AgentsCache,
    /// This Manager's URL, with a shared store (what a leader publishes as its own).
    pub url: std::sync::OnceLock<String>,
}

pub struct Runtime {
    shared: Arc<Shared>,
    registry: RwLock<Registry>,
    tasks: Mutex<JoinSet<()>>,
    shutdown: CancellationToken,
    /// Whether this Manager runs the supervisors: always with a store of its own; with a
    /// shared one, while it holds the leader lease (see `cluster`).
    leader: watch::Sender<bool>,
}

impl Runtime {
    pub fn new(
        store: Arc<dyn Store>,
        http: reqwest::Client,
        settings: LaunchSettings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Runtime {
            leader: watch::Sender::new(!store.shared()),
            shared: Arc::new(Shared {
                store,
                launcher: Arc::new(reconciler::Launcher::local(http.clone(), settings.clone())),
                http,
                settings,
                clock,
                agents: placement::AgentsCache::default(),
                url: std::sync::OnceLock::new(),
            }),
            registry: RwLock::new(Registry::default()),
            tasks: Mutex::new(JoinSet::new()),
            shutdown: CancellationToken::new(),
        }
    }

    /// The policy clock (the wall clock, or a test's).
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.shared.clock.now()
    }

    pub fn get(&self, id: &str) -> Option<Arc<WorkloadEntry>> {
        self.registry
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .by_id
            .get(id)
            .cloned()
    }

    pub fn lookup(&self, project_slug: &str, slug: &str) -> Option<Arc<WorkloadEntry>> {
        self.registry
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .by_slug
            .get(project_slug)?
            .get(slug)
            .cloned()
    }

    /// [`WorkloadEntry::counts`] of a workload, when the runtime knows it.
    pub fn counts(&self, id: &str) -> Option<Value> {
        self.get(id).map(|e| e.counts())
    }

    /// The live phase of a workload, when the runtime knows it.
    pub fn phase(&self, id: &str) -> Option<(Phase, String)> {
        self.get(id).map(|e| e.phase())
    }

    /// Makes the runtime match a created or updated workload. A change to what runs starts
    /// a rollout and is visible in the readiness log before this returns, so a client that
    /// waits for readiness right after its update never sees the old revision's `ready`.
    pub fn apply(&self, w: &WorkloadRecord) {
        if self.shutdown.is_cancelled() {
            return;
        }
        let spec = Arc::new(RuntimeSpec::from_record(w));
        if let Some(entry) = self.get(&w.id) {
            {
                let mut applied = entry.applied_at.lock().unwrap_or_else(|e| e.into_inner());
                if w.updated_at < *applied {
                    return;
                }
                applied.clone_from(&w.updated_at);
            }
            let relaunch = !entry.spec.borrow().same_launch(&spec);
            // A workload in `error` has stopped trying; any update starts it again (its
            // error message says so), even one the runtime would not otherwise see.
            let stopped = entry.readiness.borrow().phase() == Phase::Error;
            let changed = entry.spec.send_if_modified(|current| {
                if **current == *spec && !stopped {
                    false
                } else {
                    *current = spec.clone();
                    true
                }
            });
            // A follower's readiness is the leader's, as it publishes it.
            if changed && (relaunch || stopped) && self.leading() {
                let message = if relaunch {
                    "rolling out the change on the local worker"
                } else {
                    "starting the workload again after the update"
                };
                entry.readiness.send_modify(|log| {
                    log.push(Phase::Scheduling, message, Duration::ZERO, Some("schedule"));
                });
            }
            return;
        }
        let entry = Arc::new(WorkloadEntry {
            id: w.id.clone(),
            project_slug: w.project_slug.clone(),
            slug: w.slug.clone(),
            spec: watch::Sender::new(spec),
            ready: watch::Sender::new(Arc::from(Vec::new())),
            closed: watch::Sender::new(None),
            load: Load::new(self.shared.clock.clone()),
            held: AtomicUsize::new(0),
            wanted: AtomicUsize::new(0),
            demand: Notify::new(),
            demand_matters: AtomicBool::new(true),
            readiness: watch::Sender::new(ReadinessLog::new(if self.leading() {
                "placing the workload on the local worker"
            } else {
                "waiting for the leading Manager to place the workload"
            })),
            next: AtomicUsize::new(0),
            cancel: self.shutdown.child_token(),
            applied_at: Mutex::new(w.updated_at.clone()),
            remote_by_replica: Mutex::new(HashMap::new()),
            followed_draining: Mutex::new(Vec::new()),
        });
        {
            let mut reg = self.registry.write().unwrap_or_else(|e| e.into_inner());
            reg.by_id.insert(w.id.clone(), entry.clone());
            reg.by_slug
                .entry(w.project_slug.clone())
                .or_default()
                .insert(w.slug.clone(), entry.clone());
        }
        let shared = self.shared.clone();
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .spawn(cluster::run_entry(entry, shared, self.leader.subscribe()));
    }

    /// Stops a deleted workload's replicas (in the background) and forgets it.
    pub fn remove(&self, id: &str) {
        let entry = {
            let mut reg = self.registry.write().unwrap_or_else(|e| e.into_inner());
            let entry = reg.by_id.remove(id);
            if let Some(e) = &entry {
                if let Some(project) = reg.by_slug.get_mut(&e.project_slug) {
                    project.remove(&e.slug);
                    if project.is_empty() {
                        reg.by_slug.remove(&e.project_slug);
                    }
                }
            }
            entry
        };
        if let Some(entry) = entry {
            entry
                .readiness
                .send_modify(|log| log.close("the workload was deleted"));
            entry.cancel.cancel();
        }
    }

    /// Stops every engine and waits until they are gone.
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        let mut tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        while tasks.join_next().await.is_some() {}
        let mut reg = self.registry.write().unwrap_or_else(|e| e.into_inner());
        reg.by_id.clear();
        reg.by_slug.clear();
    }
}
