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

use super::process::{self, EngineProcess, Launch, LaunchPlan};
use super::readiness::Phase;
use super::{RuntimeSpec, Shared, WorkloadEntry};

/// Engines bind loopback only: the gateway is the way in.
const HOST: &str = "127.0.0.1";
/// Health polling while an engine starts, then while it serves.
const STARTUP_POLL: Duration = Duration::from_millis(100);
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
/// Consecutive failed starts before the workload reports `error` (it keeps retrying).
const FAIL_AFTER: u32 = 5;
/// How long an engine gets to exit after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Log lines quoted in a failure message.
const TAIL_LINES: usize = 10;

#[derive(Debug, Clone, PartialEq)]
enum ReplicaStatus {
    Provisioning(String),
    Bootstrapping(String),
    /// Serving at this base URL.
    Ready(String),
    /// Failing persistently; still being retried.
    Failing(String),
}

struct ReplicaEvent {
    generation: u64,
    index: usize,
    status: ReplicaStatus,
}

struct Generation {
    id: u64,
    spec: Arc<RuntimeSpec>,
    started: Instant,
    note: Option<String>,
    /// Set when the spec cannot be run at all; the generation then has no replicas.
    failed: Option<String>,
    replicas: Vec<ReplicaStatus>,
    cancel: CancellationToken,
}

impl Generation {
    fn ready_urls(&self) -> Vec<String> {
        self.replicas
            .iter()
            .filter_map(|r| match r {
                ReplicaStatus::Ready(url) => Some(url.clone()),
                _ => None,
            })
            .collect()
    }

    fn all_ready(&self) -> bool {
        !self.replicas.is_empty()
            && self
                .replicas
                .iter()
                .all(|r| matches!(r, ReplicaStatus::Ready(_)))
    }

    fn with_note(&self, message: String) -> String {
        match &self.note {
            Some(note) => format!("{message}; {note}"),
            None => message,
        }
    }

    /// The phase this generation is in. `serving` generations count as ready as soon as
    /// one replica serves, since traffic then flows.
    fn summary(&self, serving: bool) -> (Phase, String, &'static str) {
        if let Some(err) = &self.failed {
            return (Phase::Error, self.with_note(err.clone()), "launch");
        }
        let n = self.replicas.len();
        let ready = self.ready_urls().len();
        let plural = if n == 1 { "replica" } else { "replicas" };
        if ready == n {
            let msg = format!("{n} {plural} serving on the local worker");
            return (Phase::Ready, self.with_note(msg), "ready");
        }
        let failing = self.replicas.iter().find_map(|r| match r {
            ReplicaStatus::Failing(m) => Some(m.clone()),
            _ => None,
        });
        if serving && ready > 0 {
            let others = match &failing {
                Some(m) => format!("; {m}"),
                None => "; the others are starting".into(),
            };
            let msg = format!("{ready} of {n} {plural} serving on the local worker{others}");
            return (Phase::Ready, self.with_note(msg), "ready");
        }
        if let Some(m) = failing {
            return (Phase::Error, self.with_note(m), "restart");
        }
        if let Some(m) = self.replicas.iter().find_map(|r| match r {
            ReplicaStatus::Bootstrapping(m) => Some(m.clone()),
            _ => None,
        }) {
            return (Phase::Bootstrapping, self.with_note(m), "health_check");
        }
        let m = self
            .replicas
            .iter()
            .find_map(|r| match r {
                ReplicaStatus::Provisioning(m) => Some(m.clone()),
                _ => None,
            })
            .unwrap_or_default();
        (Phase::Provisioning, self.with_note(m), "launch")
    }
}

struct Supervisor {
    entry: Arc<WorkloadEntry>,
    shared: Arc<Shared>,
    events: mpsc::UnboundedSender<ReplicaEvent>,
    serving: Option<Generation>,
    pending: Option<Generation>,
    next_generation: u64,
    tasks: JoinSet<()>,
}

pub(super) async fn supervise(entry: Arc<WorkloadEntry>, shared: Arc<Shared>) {
    let (events, mut rx) = mpsc::unbounded_channel();
    let mut spec_rx = entry.spec.subscribe();
    let mut sup = Supervisor {
        entry,
        shared,
        events,
        serving: None,
        pending: None,
        next_generation: 0,
        tasks: JoinSet::new(),
    };
    let first = spec_rx.borrow_and_update().clone();
    sup.start(first).await;
    sup.publish();
    loop {
        tokio::select! {
            _ = sup.entry.cancel.cancelled() => break,
            changed = spec_rx.changed() => {
                if changed.is_err() {
                    break;
                }
                let spec = spec_rx.borrow_and_update().clone();
                if sup.latest_spec().is_none_or(|s| **s != *spec) {
                    sup.start(spec).await;
                }
            }
            Some(ev) = rx.recv() => sup.on_event(ev),
            Some(_) = sup.tasks.join_next(), if !sup.tasks.is_empty() => {}
        }
        sup.publish();
    }
    for generation in [sup.serving.take(), sup.pending.take()]
        .into_iter()
        .flatten()
    {
        generation.cancel.cancel();
    }
    while sup.tasks.join_next().await.is_some() {}
}

impl Supervisor {
    fn latest_spec(&self) -> Option<&Arc<RuntimeSpec>> {
        self.pending
            .as_ref()
            .or(self.serving.as_ref())
            .map(|g| &g.spec)
    }

    async fn start(&mut self, spec: Arc<RuntimeSpec>) {
        let id = self.next_generation;
        self.next_generation += 1;
        let plan = process::plan(&spec, &self.shared.settings, &self.shared.http).await;
        let worker_note = spec.worker_id.as_ref().map(|w| {
            format!("pinned to private worker {w}, which this Manager runs on its local worker")
        });
        let worker_note = match (worker_note, spec.policy_note.clone()) {
            (Some(a), Some(b)) => Some(format!("{a}; {b}")),
            (a, b) => a.or(b),
        };
        let mut generation = Generation {
            id,
            spec: spec.clone(),
            started: Instant::now(),
            note: None,
            failed: None,
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
                let plan = Arc::new(plan);
                for index in 0..spec.replicas {
                    generation
                        .replicas
                        .push(ReplicaStatus::Provisioning(format!(
                            "replica {} of {}: waiting to start",
                            index + 1,
                            spec.replicas
                        )));
                    let ctx = ReplicaCtx {
                        generation: id,
                        index,
                        label: format!("replica {} of {}", index + 1, spec.replicas),
                        plan: plan.clone(),
                        shared: self.shared.clone(),
                        events: self.events.clone(),
                        cancel: generation.cancel.clone(),
                        log_path: self
                            .shared
                            .settings
                            .logs_dir()
                            .join(&self.entry.project_slug)
                            .join(format!("{}-{index}.log", self.entry.slug)),
                        pid_file: self
                            .shared
                            .settings
                            .run_dir()
                            .join(format!("{}-{id}-{index}.pid", self.entry.id)),
                    };
                    self.tasks.spawn(run_replica(ctx));
                }
            }
        }
        // While the current generation serves traffic the new one waits beside it; if
        // nothing is serving there is nothing to protect, and the new one takes over now.
        let serving_traffic = self
            .serving
            .as_ref()
            .is_some_and(|g| !g.ready_urls().is_empty());
        if serving_traffic {
            if let Some(old) = self.pending.replace(generation) {
                old.cancel.cancel();
            }
        } else {
            for old in [self.serving.replace(generation), self.pending.take()]
                .into_iter()
                .flatten()
            {
                old.cancel.cancel();
            }
        }
    }

    fn on_event(&mut self, ev: ReplicaEvent) {
        for generation in [self.serving.as_mut(), self.pending.as_mut()]
            .into_iter()
            .flatten()
        {
            if generation.id == ev.generation {
                if let Some(slot) = generation.replicas.get_mut(ev.index) {
                    *slot = ev.status;
                }
                break;
            }
        }
        if self.pending.as_ref().is_some_and(Generation::all_ready) {
            if let Some(old) = std::mem::replace(&mut self.serving, self.pending.take()) {
                old.cancel.cancel();
            }
        }
    }

    /// Pushes the ready set to the gateway and the phase to readiness subscribers and the
    /// store, each only when it changed.
    fn publish(&self) {
        if self.entry.cancel.is_cancelled() {
            return;
        }
        let ready: Vec<String> = self
            .serving
            .as_ref()
            .map(Generation::ready_urls)
            .unwrap_or_default();
        self.entry.ready.send_if_modified(|current| {
            if **current == *ready {
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
        let (phase, mut message, step) = focus.summary(!is_pending);
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
            if let Err(e) =
                self.shared
                    .store
                    .set_workload_status(&self.entry.id, phase.as_str(), &message)
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
    }
}

struct ReplicaCtx {
    generation: u64,
    index: usize,
    label: String,
    plan: Arc<LaunchPlan>,
    shared: Arc<Shared>,
    events: mpsc::UnboundedSender<ReplicaEvent>,
    cancel: CancellationToken,
    log_path: PathBuf,
    pid_file: PathBuf,
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
            index: self.index,
            status,
        });
    }

    async fn healthy(&self, url: &str) -> bool {
        self.shared
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

/// Runs one replica until cancelled, restarting it with backoff whenever it fails.
async fn run_replica(ctx: ReplicaCtx) {
    let mut backoff = BACKOFF_START;
    let mut failures = 0u32;
    loop {
        let attempt = match &ctx.plan.launch {
            Launch::Process { argv } => attempt_process(&ctx, argv).await,
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
            backoff = BACKOFF_START;
            failures = 0;
        }
        failures += 1;
        let wait = format!("{:.1}s", backoff.as_secs_f64());
        if failures >= FAIL_AFTER {
            let tail = process::log_tail(&ctx.log_path, TAIL_LINES);
            let tail = if tail.is_empty() {
                String::new()
            } else {
                format!("; last log lines:\n{tail}")
            };
            ctx.report(ReplicaStatus::Failing(format!(
                "{} keeps failing ({failures} attempts, retrying in {wait}): {reason}{tail}",
                ctx.label
            )));
        } else {
            ctx.report(ReplicaStatus::Provisioning(format!(
                "{}: {reason}; restarting in {wait}",
                ctx.label
            )));
        }
        if !ctx.sleep(backoff).await {
            return;
        }
        backoff = (backoff * 2).min(BACKOFF_CAP);
    }
}

async fn attempt_process(ctx: &ReplicaCtx, argv: &[String]) -> Attempt {
    let failed = |reason: String| Attempt::Failed {
        reason,
        healthy_for: Duration::ZERO,
    };
    let port = match process::free_port() {
        Ok(p) => p,
        Err(e) => return failed(format!("no free loopback port: {e}")),
    };
    let argv = process::final_argv(argv, HOST, port);
    ctx.report(ReplicaStatus::Provisioning(format!(
        "{}: starting `{}`",
        ctx.label,
        scrub(&argv.join(" "))
    )));
    let spawned = process::spawn(
        &argv,
        HOST,
        port,
        &ctx.log_path,
        &ctx.pid_file,
        &ctx.shared.settings,
    );
    let mut engine: EngineProcess = match spawned {
        Ok(p) => p,
        Err(e) => return failed(format!("could not start `{}`: {e}", scrub(&argv[0]))),
    };
    let base = format!("http://{HOST}:{port}");
    let health = format!("{base}/health");
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
            _ = tokio::time::sleep(STARTUP_POLL) => {}
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
        .shared
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
