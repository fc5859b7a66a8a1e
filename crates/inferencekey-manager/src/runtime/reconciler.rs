//! One supervisor per workload turns its desired spec into running replicas.
//!
//! A spec is run as a *generation* of replicas. The first generation serves as soon as any
//! replica is ready. A later change starts a new generation beside the serving one; only
//! when all its replicas are ready does the gateway switch to it and the old one stop, so a
//! rollout drops no traffic. Each replica task launches its engine, health-checks it, and
//! restarts it with exponential backoff when it dies, reporting every state change to the
//! supervisor, which derives the workload's readiness phase from them.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use inferencekey_core::token::scrub;
use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::placement;
use super::policy::{PolicySpec, PolicyState, Want};
use super::process::{self, EngineProcess, Launch, LaunchPlan};
use super::readiness::Phase;
use super::routing::Slot;
use super::{RuntimeSpec, Shared, WorkloadEntry};

/// The Manager's own engines bind loopback only: the gateway is the way in.
const HOST: &str = "127.0.0.1";

/// What running engine processes needs: the HTTP client for health checks, the launch
/// settings, and the host engines bind. The Manager's own worker binds loopback; a worker
/// agent binds the address the Manager reaches it on (docs/contract.md §8).
pub(crate) struct Launcher {
    pub http: reqwest::Client,
    pub settings: process::LaunchSettings,
    pub host: String,
    /// The spare keeper a replica start takes, kept while a workload waits at zero.
    pub spares: Arc<process::SparePool>,
}

impl Launcher {
    pub fn local(http: reqwest::Client, settings: process::LaunchSettings) -> Self {
        Launcher {
            http,
            settings,
            host: HOST.to_string(),
            spares: Arc::default(),
        }
    }
}
/// Health polling while an engine starts, then while it serves.
const STARTUP_POLL: Duration = Duration::from_millis(100);
/// How often a starting engine's health is polled during its first seconds: a scale-from-zero
/// request waits for exactly this, so a coarse poll is added to every cold start (a refused
/// connection to a loopback port costs microseconds).
const STARTUP_POLL_FAST: Duration = Duration::from_millis(5);
const STARTUP_FAST_FOR: Duration = Duration::from_secs(5);

/// The wait before the next health poll of an engine that started `elapsed` ago.
fn startup_poll(elapsed: Duration) -> Duration {
    if elapsed < STARTUP_FAST_FOR {
        STARTUP_POLL_FAST
    } else {
        STARTUP_POLL
    }
}
const SERVING_POLL: Duration = Duration::from_secs(2);
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
/// Consecutive failed health checks before a serving engine is restarted.
const UNHEALTHY_AFTER: u32 = 3;
/// Model servers may download weights before they answer; this is only a backstop.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const BACKOFF_START: Duration = Duration::from_millis(200);
const BACKOFF_CAP: Duration = Duration::from_secs(30);
/// An engine that stayed healthy this long starts its next failure count from zero.
const HEALTHY_RESET: Duration = Duration::from_secs(10);
/// Consecutive failed starts after which a replica stops retrying and the workload reports
/// `error`. Clients end their wait on an `error` frame, so the Manager does too: the
/// replica stays stopped until the workload is updated or the Manager restarts.
const FAIL_AFTER: u32 = 5;
/// How long an engine gets to exit after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Log lines quoted in a failure message.
const TAIL_LINES: usize = 10;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ReplicaStatus {
    Provisioning(String),
    Bootstrapping(String),
    /// Serving at this base URL.
    Ready(String),
    /// Failed [`FAIL_AFTER`] starts in a row and stopped retrying.
    Failing(String),
    /// On an agent not heard from within `LOST_AFTER` (docs/contract.md §8): it takes no
    /// traffic until the agent syncs again.
    WorkerLost(String),
    /// Its worker's agent was lost and the replica was taken off that worker (only for an
    /// unpinned workload's replica on an agent): the supervisor drops it and places another.
    Lost(String),
}

pub(crate) struct ReplicaEvent {
    pub generation: u64,
    pub replica: u64,
    pub status: ReplicaStatus,
}

struct Replica {
    id: u64,
    /// The worker whose agent runs it; `None` for the local worker.
    worker: Option<String>,
    status: ReplicaStatus,
    cancel: CancellationToken,
    /// The gateway's handle on it while it serves.
    slot: Option<Arc<Slot>>,
}

struct Generation {
    id: u64,
    spec: Arc<RuntimeSpec>,
    plan: Option<Arc<LaunchPlan>>,
    started: Instant,
    note: Option<String>,
    /// Set when the spec cannot be run at all; the generation then has no replicas.
    failed: Option<String>,
    /// Which workers its replicas run on.
    placing: Placing,
    /// The last replica of this generation whose worker was lost.
    lost: Option<LostReplica>,
    replicas: Vec<Replica>,
    cancel: CancellationToken,
}

/// A replica whose worker was lost, as readiness keeps saying until the next revision.
struct LostReplica {
    message: String,
    /// The replica placed in its stead, and where.
    again: Option<String>,
}

impl std::fmt::Display for LostReplica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.again {
            Some(again) => write!(f, "{}; placed it again as {again}", self.message),
            None => write!(f, "{}; placing it again", self.message),
        }
    }
}

/// Which workers a generation's replicas may run on (docs/contract.md §8).
#[derive(Debug, Clone, PartialEq)]
enum Placing {
    /// Unpinned: each new replica is placed by [`placement::place`].
    Spread,
    /// Pinned (`worker_id`) to this worker, whose agent runs them all; they stay on it when
    /// it is lost.
    Pinned(String),
    /// Pinned to a worker no agent has synced for: this Manager runs them, as before agents.
    Here,
}

/// A worker as readiness messages name it.
fn worker_name(worker: Option<&str>) -> String {
    match worker {
        Some(w) => format!("worker {w}"),
        None => "the local worker".to_string(),
    }
}

/// Where these replicas run, as readiness messages say it: "the local worker", "worker
/// wrk_…", or, when they are spread, each worker with its count (the local one first).
fn places<'a>(replicas: impl Iterator<Item = &'a Replica>) -> String {
    let mut counts: Vec<(Option<&str>, usize)> = Vec::new();
    for r in replicas {
        let w = r.worker.as_deref();
        match counts.iter_mut().find(|(x, _)| *x == w) {
            Some((_, n)) => *n += 1,
            None => counts.push((w, 1)),
        }
    }
    counts.sort();
    match counts.as_slice() {
        [] => worker_name(None),
        [(w, _)] => worker_name(*w),
        [init @ .., last] => {
            let name = |(w, n): &(Option<&str>, usize)| format!("{} ({n})", worker_name(*w));
            let init: Vec<String> = init.iter().map(name).collect();
            format!("{} and {}", init.join(", "), name(last))
        }
    }
}

impl Generation {
    fn ready_slots(&self) -> Vec<Arc<Slot>> {
        self.replicas
            .iter()
            .filter_map(|r| r.slot.clone())
            .filter(|s| !s.is_draining())
            .collect()
    }

    fn ready_count(&self) -> usize {
        self.ready_slots().len()
    }

    fn all_ready(&self, wanted: usize) -> bool {
        self.replicas.len() >= wanted && self.ready_count() == self.replicas.len()
    }

    /// Where the serving replicas serve (all of them while none does).
    fn place(&self) -> String {
        let serving = || self.replicas.iter().filter(|r| r.slot.is_some());
        if serving().next().is_some() {
            return places(serving());
        }
        match &self.placing {
            Placing::Pinned(w) if self.replicas.is_empty() => worker_name(Some(w)),
            _ => places(self.replicas.iter()),
        }
    }

    fn with_note(&self, message: String) -> String {
        let mut message = message;
        if let Some(lost) = &self.lost {
            message = format!("{message}; {lost}");
        }
        if let Some(note) = &self.note {
            message = format!("{message}; {note}");
        }
        message
    }

    /// The phase this generation is in. `serving` generations count as ready as soon as
    /// one replica serves, since traffic then flows.
    fn summary(&self, serving: bool) -> (Phase, String, &'static str) {
        if let Some(err) = &self.failed {
            return (Phase::Error, self.with_note(err.clone()), "launch");
        }
        let n = self.replicas.len();
        let ready = self.ready_count();
        let plural = if n == 1 { "replica" } else { "replicas" };
        if ready == n {
            let msg = format!("{n} {plural} serving on {}", self.place());
            return (Phase::Ready, self.with_note(msg), "ready");
        }
        let failing = self.replicas.iter().find_map(|r| match &r.status {
            ReplicaStatus::Failing(m) => Some(m.clone()),
            _ => None,
        });
        let worker_lost = self.replicas.iter().find_map(|r| match &r.status {
            ReplicaStatus::WorkerLost(m) => Some(m.clone()),
            _ => None,
        });
        if serving && ready > 0 {
            let others = match (&failing, &worker_lost) {
                (Some(m), _) | (None, Some(m)) => format!("; {m}"),
                // The loss, in the note, says why one is starting.
                (None, None) if self.lost.is_some() => String::new(),
                (None, None) => "; the others are starting".into(),
            };
            let place = self.place();
            let msg = format!("{ready} of {n} {plural} serving on {place}{others}");
            return (Phase::Ready, self.with_note(msg), "ready");
        }
        if let Some(m) = failing {
            return (Phase::Error, self.with_note(m), "restart");
        }
        if let Some(m) = worker_lost {
            return (Phase::Provisioning, self.with_note(m), "launch");
        }
        if let Some(m) = self.replicas.iter().find_map(|r| match &r.status {
            ReplicaStatus::Bootstrapping(m) => Some(m.clone()),
            _ => None,
        }) {
            return (Phase::Bootstrapping, self.with_note(m), "health_check");
        }
        let m = self
            .replicas
            .iter()
            .find_map(|r| match &r.status {
                ReplicaStatus::Provisioning(m) => Some(m.clone()),
                _ => None,
            })
            .unwrap_or_default();
        (Phase::Provisioning, self.with_note(m), "launch")
    }
}

/// Replicas taken out of service, stopped once their in-flight requests are done.
struct Draining {
    slots: Vec<Arc<Slot>>,
    cancel: CancellationToken,
    since: Instant,
}

/// How often the supervisor re-reads its policy and checks draining replicas.
const POLICY_TICK: Duration = Duration::from_millis(200);
/// How often a workload pinned to a worker and running here checks whether that worker's
/// agent has synced meanwhile (then it moves there), and the agents' snapshot that replicas
/// are placed by is read again.
const PLACEMENT_TICK: Duration = crate::agent_wire::SYNC_INTERVAL;
/// A draining replica is stopped after this long even with requests still open (a stream
/// that never ends must not keep an old revision alive forever).
const DRAIN_MAX: Duration = Duration::from_secs(600);

struct Supervisor {
    entry: Arc<WorkloadEntry>,
    shared: Arc<Shared>,
    events: mpsc::UnboundedSender<ReplicaEvent>,
    serving: Option<Generation>,
    pending: Option<Generation>,
    next_generation: u64,
    next_replica: u64,
    tasks: JoinSet<()>,
    policy: PolicyState,
    want: Want,
    /// The reason shown in the status: the one behind the last change of the count.
    shown_reason: String,
    draining: Vec<Draining>,
    /// What was last published for the other Managers (a shared store only).
    published: Option<crate::store::ServingState>,
    /// Held while the workload waits at zero replicas, so the Manager keeps a spare keeper
    /// for the replica that will start it (see [`process::SparePool`]).
    at_zero: Option<process::AtZero>,
}

/// Runs a workload's replicas until `stop` (the workload deleted, or this Manager no longer
/// leading), then stops them all.
pub(super) async fn supervise(
    entry: Arc<WorkloadEntry>,
    shared: Arc<Shared>,
    stop: tokio_util::sync::CancellationToken,
) {
    let (events, mut rx) = mpsc::unbounded_channel();
    let mut spec_rx = entry.spec.subscribe();
    let mut jumps = shared.clock.jumps();
    let first = spec_rx.borrow_and_update().clone();
    let now = shared.clock.now();
    let mut policy = PolicyState::new(&first.policy, now);
    let want = policy.want(now, entry.in_flight(), true);
    let mut sup = Supervisor {
        entry,
        shared,
        events,
        serving: None,
        pending: None,
        next_generation: 0,
        next_replica: 0,
        tasks: JoinSet::new(),
        policy,
        shown_reason: want.reason.clone(),
        want,
        draining: Vec::new(),
        published: None,
        at_zero: None,
    };
    sup.entry.closed.send_replace(sup.want.closed.clone());
    sup.start(first).await;
    sup.publish().await;
    let mut tick = tokio::time::interval(POLICY_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut placement = tokio::time::interval(PLACEMENT_TICK);
    placement.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            // A new spec first: `apply()` has already logged that it is rolling out, and a
            // publish from the old revision's state would log its stale phase after that
            // (a stopped workload's `error`, which a client waiting for the update's
            // readiness would take as final).
            biased;
            _ = stop.cancelled() => break,
            changed = spec_rx.changed() => {
                if changed.is_err() {
                    break;
                }
                let spec = spec_rx.borrow_and_update().clone();
                let latest = sup.latest_spec().cloned();
                if latest.as_ref().is_none_or(|l| l.policy != spec.policy) {
                    sup.policy.update(&spec.policy, sup.shared.clock.now());
                }
                match latest {
                    // An update of a workload that stopped (its launch failed, or its
                    // replicas gave up) starts it again, even when the launch is the same:
                    // the `error` message says so.
                    Some(l) if l.same_launch(&spec) && !sup.stopped() => {
                        for g in [sup.serving.as_mut(), sup.pending.as_mut()].into_iter().flatten() {
                            g.spec = spec.clone();
                        }
                    }
                    _ => sup.start(spec).await,
                }
                sup.decide();
            }
            Some(ev) = rx.recv() => sup.on_event(ev),
            Some(_) = sup.tasks.join_next(), if !sup.tasks.is_empty() => {}
            _ = tick.tick() => sup.decide(),
            _ = placement.tick() => sup.check_placement().await,
            _ = jumps.changed() => sup.decide(),
            _ = sup.entry.demand.notified() => sup.decide(),
        }
        // A spec that arrived meanwhile is handled (and published) next time round.
        if !spec_rx.has_changed().unwrap_or(false) {
            sup.publish().await;
        }
        sup.keep_spare();
    }
    for generation in [sup.serving.take(), sup.pending.take()]
        .into_iter()
        .flatten()
    {
        generation.cancel.cancel();
    }
    for d in sup.draining.drain(..) {
        d.cancel.cancel();
    }
    while sup.tasks.join_next().await.is_some() {}
}

impl Supervisor {
    /// Moves a workload pinned to a worker, and so far run here, to that worker once its
    /// agent has synced: a new generation of the same spec, assigned to the agent, which
    /// takes over as any rollout does (the local replicas serve until the agent's are ready).
    ///
    /// It also keeps the agents' snapshot that unpinned replicas are placed by fresh (one
    /// read a sync interval for the whole runtime).
    async fn check_placement(&mut self) {
        let store = self.shared.store.as_ref();
        self.shared.agents.refresh(store, PLACEMENT_TICK / 2).await;
        let Some(latest) = self.pending.as_ref().or(self.serving.as_ref()) else {
            return;
        };
        let Some(worker) = latest.spec.worker_id.clone() else {
            return;
        };
        if latest.placing != Placing::Here {
            return;
        }
        if let Ok(Some(_)) = self.shared.store.worker_presence(&worker).await {
            tracing::info!(workload = %self.entry.id, worker = %worker, "the worker's agent has synced; moving the workload's replicas to it");
            let spec = latest.spec.clone();
            self.start(spec).await;
        }
    }

    /// The newest revision cannot serve and has stopped trying: its launch plan failed, or
    /// every replica gave up.
    fn stopped(&self) -> bool {
        self.pending
            .as_ref()
            .or(self.serving.as_ref())
            .is_some_and(|g| {
                g.failed.is_some()
                    || (!g.replicas.is_empty()
                        && g.replicas
                            .iter()
                            .all(|r| matches!(r.status, ReplicaStatus::Failing(_))))
            })
    }

    /// While the workload is down to zero replicas of its own (scaled to zero, or outside
    /// its schedule) and runs a process here, the Manager keeps a spare keeper booted, so
    /// the replica that the next request or window starts skips the keeper's boot.
    fn keep_spare(&mut self) {
        let idle = self.want.replicas == 0
            && self.draining.is_empty()
            && [self.serving.as_ref(), self.pending.as_ref()]
                .into_iter()
                .flatten()
                .all(|g| g.replicas.is_empty());
        let runs_here = self
            .pending
            .as_ref()
            .or(self.serving.as_ref())
            .and_then(|g| g.plan.as_ref())
            .is_some_and(|p| matches!(p.launch, process::Launch::Process { .. }));
        if !(idle && runs_here) {
            self.at_zero = None;
            return;
        }
        let launcher = &self.shared.launcher;
        self.at_zero
            .get_or_insert_with(|| process::AtZero::new(launcher.spares.clone()));
        launcher.spares.refill(&launcher.settings);
    }

    fn latest_spec(&self) -> Option<&Arc<RuntimeSpec>> {
        self.pending
            .as_ref()
            .or(self.serving.as_ref())
            .map(|g| &g.spec)
    }

    /// Asks the policy what it wants now and moves the replicas there.
    fn decide(&mut self) {
        let now = self.shared.clock.now();
        let cold = self.serving.as_ref().is_none_or(|g| g.ready_count() == 0);
        for (at, n) in self.entry.load.take_changes() {
            self.policy.record(at, n);
        }
        let want = self.policy.want(now, self.entry.in_flight(), cold);
        // A fixed policy with replicas serving ignores load; anything else (autoscaling,
        // schedules, a cold or stopped workload) may start or scale on the next request.
        let load_blind = matches!(self.policy, PolicyState::Fixed(n) if n > 0) && !cold;
        self.entry.set_demand_matters(!load_blind);
        if want.replicas != self.want.replicas
            || want.closed.is_some() != self.want.closed.is_some()
        {
            self.shown_reason = want.reason.clone();
        }
        self.entry.closed.send_if_modified(|c| {
            if *c == want.closed {
                false
            } else {
                c.clone_from(&want.closed);
                true
            }
        });
        self.want = want;
        let n = self.want.replicas;
        self.entry
            .wanted
            .store(n, std::sync::atomic::Ordering::SeqCst);
        if n == 0 {
            // Nothing to protect: a pending revision takes over at once.
            if let Some(p) = self.pending.take() {
                if let Some(old) = self.serving.replace(p) {
                    self.retire(old);
                }
            }
        }
        let target = match (self.pending.as_mut(), self.serving.as_mut()) {
            (Some(p), _) => Some(p),
            (None, s) => s,
        };
        if let Some(generation) = target {
            let (spawn, remove) = resize(generation, n);
            for r in remove {
                self.retire_replica(r);
            }
            for _ in 0..spawn {
                self.spawn_replica();
            }
        }
        self.promote();
        self.check_drains();
    }

    /// Takes a generation out of service; its engines stop when their requests are done.
    fn retire(&mut self, generation: Generation) {
        let slots = generation
            .replicas
            .iter()
            .filter_map(|r| r.slot.clone())
            .collect();
        self.draining.push(Draining {
            slots,
            cancel: generation.cancel,
            since: Instant::now(),
        });
    }

    fn retire_replica(&mut self, replica: Replica) {
        self.draining.push(Draining {
            slots: replica.slot.into_iter().collect(),
            cancel: replica.cancel,
            since: Instant::now(),
        });
    }

    fn check_drains(&mut self) {
        let entry = &self.entry;
        self.draining.retain(|d| {
            // Idle here and at every other Manager's gateway (a shared store).
            let idle = d
                .slots
                .iter()
                .all(|s| s.drain() && entry.remote_on(s.url()) == 0);
            if idle || d.since.elapsed() > DRAIN_MAX {
                d.cancel.cancel();
                false
            } else {
                true
            }
        });
    }

    /// Switches traffic to the pending generation once it serves everything wanted.
    fn promote(&mut self) {
        let wanted = self.want.replicas;
        if self.pending.as_ref().is_some_and(|p| p.all_ready(wanted)) {
            if let Some(old) = std::mem::replace(&mut self.serving, self.pending.take()) {
                self.retire(old);
            }
        }
    }

    /// Starts one more replica in the generation being sized (pending, else serving).
    fn spawn_replica(&mut self) {
        let id = self.next_replica;
        self.next_replica += 1;
        let entry = self.entry.clone();
        let shared = self.shared.clone();
        let events = self.events.clone();
        let Some(generation) = self.pending.as_mut().or(self.serving.as_mut()) else {
            return;
        };
        let label = format!("replica {}", id + 1);
        let worker = match &generation.placing {
            Placing::Pinned(w) => Some(w.clone()),
            Placing::Here => None,
            Placing::Spread => {
                let held: Vec<Option<&str>> = generation
                    .replicas
                    .iter()
                    .map(|r| r.worker.as_deref())
                    .collect();
                placement::place(&held, &shared.agents.get(), shared.clock.now())
            }
        };
        if let Some(lost) = generation.lost.as_mut().filter(|l| l.again.is_none()) {
            lost.again = Some(format!("{label} on {}", worker_name(worker.as_deref())));
        }
        if let Some(worker_id) = worker {
            let cancel = generation.cancel.child_token();
            generation.replicas.push(Replica {
                id,
                worker: Some(worker_id.clone()),
                status: ReplicaStatus::Provisioning(format!(
                    "{label}: assigning it to worker {worker_id}"
                )),
                cancel: cancel.clone(),
                slot: None,
            });
            let ctx = super::remote::RemoteCtx {
                generation: generation.id,
                replica: id,
                label,
                workload_id: entry.id.clone(),
                worker_id,
                movable: generation.placing == Placing::Spread,
                launch: super::remote::launch_spec(&generation.spec),
                shared,
                events,
                cancel,
            };
            self.tasks.spawn(super::remote::run_remote_replica(ctx));
            return;
        }
        let Some(plan) = generation.plan.clone() else {
            return;
        };
        let cancel = generation.cancel.child_token();
        generation.replicas.push(Replica {
            id,
            worker: None,
            status: ReplicaStatus::Provisioning(format!("{label}: waiting to start")),
            cancel: cancel.clone(),
            slot: None,
        });
        // Logs and pid files are per slot number, so a restarted Manager finds them and a
        // long-lived autoscaled workload does not leave one log per replica ever started.
        let slot_no = generation.replicas.len() - 1;
        // Taken here, not when the task runs: leaving zero drops the workload's `AtZero`,
        // and the last one's drop kills a spare still in the pool.
        let spare = matches!(plan.launch, process::Launch::Process { .. })
            .then(|| shared.launcher.spares.take())
            .flatten();
        let ctx = ReplicaCtx {
            generation: generation.id,
            replica: id,
            label,
            plan,
            launcher: shared.launcher.clone(),
            spare: std::sync::Mutex::new(spare),
            events,
            cancel,
            log_path: shared
                .settings
                .logs_dir()
                .join(&entry.project_slug)
                .join(format!("{}-{slot_no}.log", entry.slug)),
            pid_file: shared
                .settings
                .run_dir()
                .join(format!("{}-{}-{id}.pid", entry.id, generation.id)),
        };
        self.tasks.spawn(run_replica(ctx));
    }

    async fn start(&mut self, spec: Arc<RuntimeSpec>) {
        let id = self.next_generation;
        self.next_generation += 1;
        // A pinned workload goes to its worker's agent once that agent has synced; until
        // then (and for a worker no agent runs) this Manager runs it, as before agents.
        let remote = match &spec.worker_id {
            Some(w) => match self.shared.store.worker_presence(w).await {
                Ok(Some(_)) => Some(w.clone()),
                Ok(None) => None,
                Err(e) => {
                    tracing::warn!(worker = %w, error = %e, "cannot read whether an agent runs this worker; running the workload on the local worker");
                    None
                }
            },
            None => None,
        };
        if let Some(w) = remote {
            let generation = Generation {
                id,
                spec: spec.clone(),
                plan: None,
                started: Instant::now(),
                note: Some(format!("pinned to private worker {w}, run by its agent")),
                failed: None,
                placing: Placing::Pinned(w),
                lost: None,
                replicas: Vec::new(),
                cancel: self.entry.cancel.child_token(),
            };
            self.install(generation);
            return;
        }
        let plan = match &spec.backend {
            Some(inferencekey_core::Backend::Custom(slug)) if spec.command.is_none() => {
                super::custom::plan(slug, &spec, &self.shared).await
            }
            _ => process::plan(&spec, &self.shared.settings, &self.shared.http).await,
        };
        let worker_note = spec.worker_id.as_ref().map(|w| {
            format!("pinned to private worker {w}, which this Manager runs on its local worker")
        });
        let placing = if spec.worker_id.is_some() {
            Placing::Here
        } else {
            // Its replicas are placed when they start: by the agents as they are now.
            let store = self.shared.store.as_ref();
            self.shared.agents.refresh(store, Duration::ZERO).await;
            Placing::Spread
        };
        let mut generation = Generation {
            id,
            spec: spec.clone(),
            plan: None,
            started: Instant::now(),
            note: None,
            failed: None,
            placing,
            lost: None,
            replicas: Vec::new(),
            cancel: self.entry.cancel.child_token(),
        };
        match plan {
            Err(message) => {
                generation.note = worker_note;
                generation.failed = Some(message);
            }
            Ok(plan) => {
                generation.note = match (plan.note.clone(), worker_note) {
                    (Some(a), Some(b)) => Some(format!("{a}; {b}")),
                    (a, b) => a.or(b),
                };
                generation.plan = Some(Arc::new(plan));
            }
        }
        self.install(generation);
    }

    /// Puts a new generation in place: beside the serving one, or instead of it.
    fn install(&mut self, generation: Generation) {
        // While the current generation serves traffic the new one waits beside it; if
        // nothing is serving there is nothing to protect, and the new one takes over now.
        let serving_traffic = self.serving.as_ref().is_some_and(|g| g.ready_count() > 0);
        if serving_traffic && self.want.replicas > 0 {
            if let Some(old) = self.pending.replace(generation) {
                self.retire(old);
            }
        } else {
            let old = [self.serving.replace(generation), self.pending.take()];
            for old in old.into_iter().flatten() {
                self.retire(old);
            }
        }
        self.decide();
    }

    fn on_event(&mut self, ev: ReplicaEvent) {
        if let ReplicaStatus::Lost(message) = ev.status {
            self.on_lost(ev.generation, ev.replica, message);
            return;
        }
        for generation in [self.serving.as_mut(), self.pending.as_mut()]
            .into_iter()
            .flatten()
        {
            if generation.id != ev.generation {
                continue;
            }
            if let Some(r) = generation.replicas.iter_mut().find(|r| r.id == ev.replica) {
                match &ev.status {
                    ReplicaStatus::Ready(url) => {
                        if r.slot.as_ref().is_none_or(|s| s.url() != url) {
                            r.slot = Some(Slot::new(url.clone()));
                        }
                    }
                    // A replica that stopped serving takes no new requests.
                    _ => {
                        if let Some(s) = r.slot.take() {
                            s.drain();
                        }
                    }
                }
                r.status = ev.status;
            }
            break;
        }
        self.promote();
    }

    /// A replica whose worker was lost, already taken off it: dropped, and another placed
    /// (the lost worker is no longer a candidate).
    fn on_lost(&mut self, generation: u64, replica: u64, message: String) {
        let Some(g) = [self.serving.as_mut(), self.pending.as_mut()]
            .into_iter()
            .flatten()
            .find(|g| g.id == generation)
        else {
            return;
        };
        let Some(i) = g.replicas.iter().position(|r| r.id == replica) else {
            return;
        };
        let replica = g.replicas.remove(i);
        tracing::warn!(workload = %self.entry.id, "{message}; placing it again");
        g.lost = Some(LostReplica {
            message,
            again: None,
        });
        self.retire_replica(replica);
        self.decide();
    }

    /// Pushes the ready set to the gateway and the phase to readiness subscribers and the
    /// store, each only when it changed.
    async fn publish(&mut self) {
        if self.entry.cancel.is_cancelled() {
            return;
        }
        let ready: Vec<Arc<Slot>> = self
            .serving
            .as_ref()
            .map(Generation::ready_slots)
            .unwrap_or_default();
        self.entry.ready.send_if_modified(|current| {
            let same = current.len() == ready.len()
                && current.iter().zip(&ready).all(|(a, b)| Arc::ptr_eq(a, b));
            if same {
                false
            } else {
                *current = Arc::from(ready);
                true
            }
        });
        let (focus, is_pending) = match (&self.pending, &self.serving) {
            (Some(p), _) => (p, true),
            (None, Some(s)) => (s, false),
            (None, None) => return,
        };
        let fixed = matches!(focus.spec.policy, PolicySpec::Fixed(_));
        let (phase, mut message, step) = if focus.failed.is_none() && self.want.replicas == 0 {
            // Scaled to zero (ready: the next request starts a replica) or closed by the
            // schedule (requests are refused with the next start).
            match &self.want.closed {
                Some(_) => (Phase::Scheduling, self.shown_reason.clone(), "schedule"),
                None => (Phase::Ready, self.shown_reason.clone(), "ready"),
            }
        } else {
            let (phase, message, step) = focus.summary(!is_pending);
            let message = if fixed {
                message
            } else {
                format!("{message}; {}", self.shown_reason)
            };
            (phase, message, step)
        };
        if is_pending {
            message =
                format!("rolling out the change: {message}; the previous revision keeps serving");
        }
        let elapsed = focus.started.elapsed();
        let changed = self
            .entry
            .readiness
            .send_if_modified(|log| log.push(phase, &message, elapsed, Some(step)));
        if changed {
            if let Err(e) = self
                .shared
                .store
                .set_workload_status(&self.entry.id, phase.as_str(), &message)
                .await
            {
                tracing::error!(workload = %self.entry.id, error = %e, "could not record the phase");
            }
            tracing::info!(
                project = %self.entry.project_slug,
                workload = %self.entry.slug,
                phase = phase.as_str(),
                "{message}"
            );
        }
        if self.shared.store.shared() {
            self.publish_serving().await;
        }
    }

    /// Publishes the readiness and ready replicas for the other Managers' gateways, when
    /// they changed since the last time.
    async fn publish_serving(&mut self) {
        let leader = self.shared.url.get();
        let Some(state) = self.entry.serving_state(self.want.closed.as_ref(), leader) else {
            return;
        };
        if self.published.as_ref() == Some(&state) {
            return;
        }
        match self.shared.store.put_serving(&self.entry.id, &state).await {
            Ok(()) => self.published = Some(state),
            Err(e) => {
                tracing::warn!(workload = %self.entry.id, error = %e, "could not publish what this workload serves to the other Managers; retrying")
            }
        }
    }
}

/// How many replicas to start and which to stop to bring `generation` to `n`. Replicas that
/// are still starting go first, then the newest.
fn resize(generation: &mut Generation, n: usize) -> (usize, Vec<Replica>) {
    if generation.failed.is_some() {
        return (0, Vec::new());
    }
    let len = generation.replicas.len();
    if len <= n {
        return (n - len, Vec::new());
    }
    let mut removed = Vec::new();
    while generation.replicas.len() > n {
        let i = generation
            .replicas
            .iter()
            .rposition(|r| r.slot.is_none())
            .unwrap_or(generation.replicas.len() - 1);
        removed.push(generation.replicas.remove(i));
    }
    (0, removed)
}

/// One engine replica: what [`run_replica`] runs, for the Manager's supervisors and for a
/// worker agent alike.
pub(crate) struct ReplicaCtx {
    pub generation: u64,
    pub replica: u64,
    pub label: String,
    pub plan: Arc<LaunchPlan>,
    pub launcher: Arc<Launcher>,
    /// A booted keeper for this replica's first start (see [`process::SparePool`]).
    pub spare: std::sync::Mutex<Option<process::SpareKeeper>>,
    pub events: mpsc::UnboundedSender<ReplicaEvent>,
    pub cancel: CancellationToken,
    pub log_path: PathBuf,
    pub pid_file: PathBuf,
}

enum Attempt {
    Cancelled,
    /// The replica stopped serving (or never did); `healthy_for` is how long it served.
    Failed {
        reason: String,
        healthy_for: Duration,
    },
}

impl ReplicaCtx {
    fn report(&self, status: ReplicaStatus) {
        // The supervisor outlives its replica tasks; a closed channel means it is stopping.
        let _ = self.events.send(ReplicaEvent {
            generation: self.generation,
            replica: self.replica,
            status,
        });
    }

    async fn healthy(&self, url: &str) -> bool {
        self.launcher
            .http
            .get(url)
            .timeout(HEALTH_TIMEOUT)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    }

    /// Sleeps unless cancelled first; false when cancelled.
    async fn sleep(&self, d: Duration) -> bool {
        tokio::select! {
            _ = self.cancel.cancelled() => false,
            _ = tokio::time::sleep(d) => true,
        }
    }
}

fn describe_exit(status: io::Result<std::process::ExitStatus>) -> String {
    match status {
        Ok(s) => s.to_string(),
        Err(e) => format!("could not wait for it: {e}"),
    }
}

/// What a replica does after its `failures`-th failed start in a row: restart after the
/// returned wait (doubling from [`BACKOFF_START`] up to [`BACKOFF_CAP`]), or, at
/// [`FAIL_AFTER`], stop (`None`).
fn restart_after(failures: u32) -> Option<Duration> {
    if failures >= FAIL_AFTER {
        return None;
    }
    let doublings = failures.saturating_sub(1).min(16);
    Some((BACKOFF_START * 2u32.pow(doublings)).min(BACKOFF_CAP))
}

/// Runs one replica until cancelled, restarting it with backoff when it fails, and stopping
/// it after [`FAIL_AFTER`] failed starts in a row (reported as `error`, which is final).
pub(crate) async fn run_replica(ctx: ReplicaCtx) {
    let mut failures = 0u32;
    loop {
        let attempt = match &ctx.plan.launch {
            Launch::Process { argv, env, health } => attempt_process(&ctx, argv, env, health).await,
            Launch::Ollama { base_url, model } => attempt_ollama(&ctx, base_url, model).await,
        };
        let (reason, healthy_for) = match attempt {
            Attempt::Cancelled => return,
            Attempt::Failed {
                reason,
                healthy_for,
            } => (reason, healthy_for),
        };
        if healthy_for >= HEALTHY_RESET {
            failures = 0;
        }
        failures += 1;
        let Some(wait) = restart_after(failures) else {
            let tail = process::log_tail(&ctx.log_path, TAIL_LINES);
            let tail = if tail.is_empty() {
                String::new()
            } else {
                format!("; last log lines:\n{tail}")
            };
            ctx.report(ReplicaStatus::Failing(format!(
                "{} failed {failures} starts in a row and is stopped: {reason}; fix the cause, \
                 then update the workload (any change starts it again) or restart the \
                 Manager{tail}",
                ctx.label
            )));
            // Stopped for good: wait to be retired with the workload or its revision.
            ctx.cancel.cancelled().await;
            return;
        };
        ctx.report(ReplicaStatus::Provisioning(format!(
            "{}: {reason}; restarting in {:.1}s",
            ctx.label,
            wait.as_secs_f64()
        )));
        if !ctx.sleep(wait).await {
            return;
        }
    }
}

async fn attempt_process(
    ctx: &ReplicaCtx,
    argv: &[String],
    env: &[(String, String)],
    health_path: &str,
) -> Attempt {
    let failed = |reason: String| Attempt::Failed {
        reason,
        healthy_for: Duration::ZERO,
    };
    let host = ctx.launcher.host.as_str();
    let port = match process::free_port_on(host) {
        Ok(p) => p,
        Err(e) => return failed(format!("no free port on {host}: {e}")),
    };
    let argv = process::final_argv(argv, host, port);
    ctx.report(ReplicaStatus::Provisioning(format!(
        "{}: starting `{}`",
        ctx.label,
        scrub(&argv.join(" "))
    )));
    let spawned = process::spawn(
        &argv,
        env,
        host,
        port,
        &ctx.log_path,
        &ctx.pid_file,
        &ctx.launcher.settings,
        ctx.spare.lock().unwrap_or_else(|e| e.into_inner()).take(),
    );
    let mut engine: EngineProcess = match spawned {
        Ok(p) => p,
        Err(e) => return failed(format!("could not start `{}`: {e}", scrub(&argv[0]))),
    };
    let base = crate::agent_wire::replica_url(host, port);
    let health = format!("{base}{health_path}");
    ctx.report(ReplicaStatus::Bootstrapping(format!(
        "{}: engine started (pid {}); waiting for it to answer {health}",
        ctx.label,
        engine.pid()
    )));

    let started = Instant::now();
    loop {
        tokio::select! {
            _ = ctx.cancel.cancelled() => {
                engine.terminate(STOP_GRACE).await;
                return Attempt::Cancelled;
            }
            status = engine.wait() => {
                engine.reap();
                return failed(format!(
                    "the engine exited before it became healthy ({})",
                    describe_exit(status)
                ));
            }
            _ = tokio::time::sleep(startup_poll(started.elapsed())) => {}
        }
        if ctx.healthy(&health).await {
            // Another local process may have bound the port first and answered; traffic
            // goes only to a listener in this replica's own process tree.
            if engine.owns_listener(port) {
                break;
            }
            engine.terminate(STOP_GRACE).await;
            return failed(format!(
                "port {port} answered {health}, but the listener is not this replica's \
                 engine (another local process holds the port); restarting on another port"
            ));
        }
        if started.elapsed() > STARTUP_TIMEOUT {
            engine.terminate(STOP_GRACE).await;
            return failed(format!(
                "the engine did not answer {health} within {} minutes",
                STARTUP_TIMEOUT.as_secs() / 60
            ));
        }
    }

    ctx.report(ReplicaStatus::Ready(base));
    let ready_at = Instant::now();
    let mut misses = 0;
    let reason = loop {
        tokio::select! {
            _ = ctx.cancel.cancelled() => {
                engine.terminate(STOP_GRACE).await;
                return Attempt::Cancelled;
            }
            status = engine.wait() => {
                engine.reap();
                break format!("the engine exited ({})", describe_exit(status));
            }
            _ = tokio::time::sleep(SERVING_POLL) => {}
        }
        if ctx.healthy(&health).await {
            misses = 0;
        } else {
            misses += 1;
            if misses >= UNHEALTHY_AFTER {
                engine.terminate(STOP_GRACE).await;
                break format!("the engine stopped answering {health}");
            }
        }
    };
    Attempt::Failed {
        reason,
        healthy_for: ready_at.elapsed(),
    }
}

async fn attempt_ollama(ctx: &ReplicaCtx, base_url: &str, model: &str) -> Attempt {
    ctx.report(ReplicaStatus::Provisioning(format!(
        "{}: pulling {model} into the Ollama daemon at {base_url}",
        ctx.label
    )));
    let pull = ctx
        .launcher
        .http
        .post(format!("{base_url}/api/pull"))
        .json(&json!({"model": model, "stream": false}))
        .send();
    let pulled = tokio::select! {
        _ = ctx.cancel.cancelled() => return Attempt::Cancelled,
        r = pull => r,
    };
    let failure = match pulled {
        Ok(r) if r.status().is_success() => None,
        Ok(r) => {
            let status = r.status();
            let body = r.text().await.unwrap_or_default();
            Some(format!(
                "Ollama could not pull {model} ({status}): {}",
                scrub(body.trim())
            ))
        }
        Err(e) => Some(format!("the Ollama daemon at {base_url} failed: {e}")),
    };
    if let Some(reason) = failure {
        return Attempt::Failed {
            reason,
            healthy_for: Duration::ZERO,
        };
    }
    ctx.report(ReplicaStatus::Ready(base_url.to_string()));
    let version = format!("{base_url}/api/version");
    let ready_at = Instant::now();
    let mut misses = 0;
    loop {
        if !ctx.sleep(SERVING_POLL).await {
            return Attempt::Cancelled;
        }
        if ctx.healthy(&version).await {
            misses = 0;
        } else {
            misses += 1;
            if misses >= UNHEALTHY_AFTER {
                return Attempt::Failed {
                    reason: format!("the Ollama daemon at {base_url} stopped answering"),
                    healthy_for: ready_at.elapsed(),
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_names_where_replicas_run() {
        let replica = |worker: Option<&str>| Replica {
            id: 0,
            worker: worker.map(str::to_string),
            status: ReplicaStatus::Provisioning(String::new()),
            cancel: CancellationToken::new(),
            slot: None,
        };
        let cases: [(&[Option<&str>], &str); 5] = [
            (&[], "the local worker"),
            (&[None, None], "the local worker"),
            (&[Some("wrk_a")], "worker wrk_a"),
            (
                &[Some("wrk_b"), None, Some("wrk_b")],
                "the local worker (1) and worker wrk_b (2)",
            ),
            (
                &[Some("wrk_b"), Some("wrk_a"), None],
                "the local worker (1), worker wrk_a (1) and worker wrk_b (1)",
            ),
        ];
        for (workers, want) in cases {
            let replicas: Vec<Replica> = workers.iter().map(|w| replica(*w)).collect();
            assert_eq!(places(replicas.iter()), want, "{workers:?}");
        }
    }

    #[test]
    fn restarts_back_off_then_stop() {
        let waits: Vec<Option<Duration>> = (1..=FAIL_AFTER + 1).map(restart_after).collect();
        assert_eq!(
            waits,
            [
                Some(Duration::from_millis(200)),
                Some(Duration::from_millis(400)),
                Some(Duration::from_millis(800)),
                Some(Duration::from_millis(1600)),
                None,
                None,
            ]
        );
        // The doubling is capped well before it could overflow.
        assert!(restart_after(FAIL_AFTER - 1).unwrap() <= BACKOFF_CAP);
    }
}
