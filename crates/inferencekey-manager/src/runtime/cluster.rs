//! Several Managers on one shared store (PostgreSQL; docs/manager.md, "Several Managers").
//!
//! Every Manager serves the control API and the gateway; one at a time leads: it holds the
//! store's leader lease and alone runs the supervisors (engines, agents' assignments, the
//! autoscaler). This module is the loop that makes that so, every [`TICK`]:
//!
//! * it takes or keeps the lease; a Manager that gains it starts a supervisor for every
//!   workload (the one that held it died, or lost its database connection, and its engines
//!   with it), and one that loses it stops its own;
//! * it reads the workloads, so a workload created, changed or deleted through another
//!   Manager is run (leader) and routed (everyone) here too;
//! * a follower shows what the leader publishes ([`ServingState`]: readiness and ready
//!   replicas' URLs) and reports its gateway's requests in flight; the leader adds the
//!   followers' reports to each workload's load, so the autoscaler and a cold start from zero
//!   see requests wherever they arrived.
//!
//! Short polling rather than LISTEN/NOTIFY: a notification lost while a connection is being
//! replaced would leave a follower stale until the next change, and a poll bounds the
//! staleness at one tick whatever happens to the connections.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::policy::Closed;
use super::readiness::Phase;
use super::routing::Slot;
use super::{reconciler, Runtime, Shared, WorkloadEntry};
use crate::store::{ClosedState, GatewayLoad, ServingState};
use crate::util::now_unix_ms as now_ms;

/// How often the lease, the workloads, the serving states and the loads are read.
pub(super) const TICK: Duration = Duration::from_millis(250);
/// The workload list is read every this many ticks (1 s).
const SLOW_EVERY: u32 = 4;
/// A follower's load report counts for this long after it was made.
const LOAD_FRESH: Duration = Duration::from_secs(3);

/// Waits until `leader` is no longer `from` (forever if its sender is gone).
async fn flipped(leader: &mut watch::Receiver<bool>, from: bool) {
    if leader.wait_for(|l| *l != from).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// One workload for its whole life in the registry: supervised while this Manager leads,
/// idle (its gateway state fed by [`Runtime::cluster_tick`]) while another does.
pub(super) async fn run_entry(
    entry: Arc<WorkloadEntry>,
    shared: Arc<Shared>,
    mut leader: watch::Receiver<bool>,
) {
    loop {
        let leading = *leader.borrow_and_update();
        if leading {
            // What a follower routed to was the old leader's replicas: gone with it.
            entry.ready.send_replace(Arc::from(Vec::new()));
            let stop = entry.cancel.child_token();
            let supervise = reconciler::supervise(entry.clone(), shared.clone(), stop.clone());
            tokio::pin!(supervise);
            tokio::select! {
                _ = &mut supervise => {}
                _ = flipped(&mut leader, true) => {
                    stop.cancel();
                    supervise.await;
                }
            }
            entry.ready.send_replace(Arc::from(Vec::new()));
        } else {
            tokio::select! {
                _ = entry.cancel.cancelled() => {}
                _ = flipped(&mut leader, false) => {}
            }
        }
        if entry.cancel.is_cancelled() {
            break;
        }
    }
}

impl WorkloadEntry {
    /// Shows what the leader publishes of this workload: its readiness, and its ready
    /// replicas as this gateway's slots (a slot whose URL stays keeps its request count).
    fn follow(&self, state: &ServingState) {
        self.ready.send_if_modified(|current| {
            if current.len() == state.urls.len()
                && current.iter().zip(&state.urls).all(|(s, u)| s.url() == u)
            {
                return false;
            }
            let old: HashMap<&str, &Arc<Slot>> = current.iter().map(|s| (s.url(), s)).collect();
            let next: Vec<Arc<Slot>> = state
                .urls
                .iter()
                .map(|u| {
                    old.get(u.as_str())
                        .map(|s| Arc::clone(s))
                        .unwrap_or_else(|| Slot::new(u.clone()))
                })
                .collect();
            let mut draining = self
                .followed_draining
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            for s in current.iter() {
                if !state.urls.iter().any(|u| u == s.url()) && !s.drain() {
                    draining.push(s.clone());
                }
            }
            *current = Arc::from(next);
            true
        });
        self.wanted
            .store(state.wanted, std::sync::atomic::Ordering::SeqCst);
        let closed = state.closed.as_ref().map(|c| Closed {
            message: c.message.clone(),
            next_start: c
                .next_start
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.to_utc()),
        });
        self.closed.send_if_modified(|current| {
            if *current == closed {
                false
            } else {
                current.clone_from(&closed);
                true
            }
        });
        if let Some(phase) = Phase::parse(&state.phase) {
            let message = match &state.leader {
                Some(url) => format!("{} (run by the leading Manager, {url})", state.message),
                None => state.message.clone(),
            };
            self.readiness.send_if_modified(|log| {
                log.push(
                    phase,
                    &message,
                    Duration::from_millis(state.elapsed_ms),
                    state.step.as_deref(),
                )
            });
        }
    }

    /// This gateway's requests on this workload, per replica: the ready slots and the ones
    /// the leader has stopped listing that still carry requests.
    fn local_load(&self) -> GatewayLoad {
        let mut by_replica = std::collections::BTreeMap::new();
        let mut draining = self
            .followed_draining
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        draining.retain(|s| s.in_flight() > 0);
        for s in self.ready.borrow().iter().chain(draining.iter()) {
            let n = s.in_flight();
            if n > 0 {
                *by_replica.entry(s.url().to_string()).or_insert(0) += n;
            }
        }
        GatewayLoad {
            workload_id: self.id.clone(),
            in_flight: self.load.local(),
            by_replica,
        }
    }

    /// What the leader publishes of this workload now: its newest readiness event, the
    /// ready slots and the policy's wants.
    pub(super) fn serving_state(
        &self,
        closed: Option<&Closed>,
        leader: Option<&String>,
    ) -> Option<ServingState> {
        let log = self.readiness.borrow();
        let last = log.last()?;
        Some(ServingState {
            phase: last.phase.clone(),
            message: last.message.clone(),
            step: last.step.clone(),
            elapsed_ms: last.elapsed_ms,
            urls: self
                .ready
                .borrow()
                .iter()
                .map(|s| s.url().to_string())
                .collect(),
            wanted: self.wanted.load(std::sync::atomic::Ordering::SeqCst),
            closed: closed.map(|c| ClosedState {
                message: c.message.clone(),
                next_start: c.next_start.map(|t| t.to_rfc3339()),
            }),
            leader: leader.cloned(),
        })
    }
}

/// What the cluster loop remembers between ticks.
#[derive(Default)]
pub(super) struct ClusterState {
    tick: u32,
    /// The loads this follower last reported, so a drop to zero is reported once.
    reported: HashMap<String, usize>,
}

impl Runtime {
    /// Whether this Manager runs the supervisors now.
    pub fn leading(&self) -> bool {
        *self.leader.borrow()
    }

    /// `alone` (a store of its own), `leader` or `follower` (a shared store), as
    /// `GET /admin/status` shows it.
    pub fn role(&self) -> &'static str {
        match (self.shared.store.shared(), self.leading()) {
            (false, _) => "alone",
            (true, true) => "leader",
            (true, false) => "follower",
        }
    }

    /// Every workload entry, as of now.
    fn entries(&self) -> Vec<Arc<WorkloadEntry>> {
        self.registry
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .by_id
            .values()
            .cloned()
            .collect()
    }

    /// Takes or keeps the lease and switches the supervisors to match.
    async fn check_lease(&self) {
        let was = self.leading();
        let leading = match self.shared.store.lead().await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the leader lease; keeping the current role");
                was
            }
        };
        if leading == was {
            return;
        }
        if leading {
            // The previous leader's assignments belong to its supervisors, which are gone:
            // this Manager's assign them again, and agents stop the old ones at their next
            // sync.
            match self.shared.store.clear_replicas().await {
                Ok(n) if n > 0 => tracing::info!(
                    count = n,
                    "took the previous leader's replicas off agents' workers"
                ),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "could not take the previous leader's replicas off agents' workers")
                }
            }
            tracing::info!("this Manager leads now: it runs the workloads' replicas");
        } else {
            tracing::error!("this Manager lost the leader lease (its database connection closed): it stops its replicas and follows the leader");
        }
        self.leader.send_replace(leading);
    }

    /// Reads every workload and makes the registry match: new and changed ones applied,
    /// ones deleted through another Manager removed.
    async fn sync_workloads(&self) {
        let before: HashSet<String> = self
            .registry
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .by_id
            .keys()
            .cloned()
            .collect();
        let listed = match self.shared.store.list_workloads(None).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the workloads to follow other Managers' changes");
                return;
            }
        };
        let ids: HashSet<&str> = listed.iter().map(|w| w.id.as_str()).collect();
        for w in &listed {
            // Only what changed since it was applied here: applying the same record again
            // would count as an update, which restarts a workload that stopped trying.
            let newer = self.get(&w.id).is_none_or(|e| {
                w.updated_at > *e.applied_at.lock().unwrap_or_else(|e| e.into_inner())
            });
            if newer {
                self.apply(w);
            }
        }
        // Only what was here before the read: one created meanwhile is missing from it.
        for id in before {
            if !ids.contains(id.as_str()) {
                self.remove(&id);
            }
        }
    }

    /// A follower: show the leader's serving states and report this gateway's load.
    async fn follow_leader(&self, state: &mut ClusterState) {
        let entries = self.entries();
        match self.shared.store.list_serving().await {
            Ok(states) => {
                let states: HashMap<String, ServingState> = states.into_iter().collect();
                for e in &entries {
                    if let Some(s) = states.get(&e.id) {
                        e.follow(s);
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read what the leader serves"),
        }
        let mut loads = Vec::new();
        for e in &entries {
            let load = e.local_load();
            let last = state.reported.get(&e.id).copied().unwrap_or(0);
            if load.in_flight > 0 || last != load.in_flight {
                loads.push(load);
            }
        }
        if let Err(e) = self.shared.store.put_gateway_load(&loads, now_ms()).await {
            tracing::warn!(error = %e, "cannot report this gateway's load to the leader");
            return;
        }
        for l in loads {
            state.reported.insert(l.workload_id, l.in_flight);
        }
    }

    /// The leader: count the followers' requests in each workload's load, waking its
    /// supervisor when they rose (a held request at a follower starts a scaled-to-zero
    /// workload as one here does).
    async fn count_followers(&self, state: &mut ClusterState) {
        state.reported.clear();
        let since = now_ms() - i64::try_from(LOAD_FRESH.as_millis()).unwrap_or(0);
        let mut loads: HashMap<String, GatewayLoad> =
            match self.shared.store.gateway_load(since).await {
                Ok(l) => l.into_iter().map(|l| (l.workload_id.clone(), l)).collect(),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the other Managers' gateway load");
                    return;
                }
            };
        let entries = self.entries();
        for e in entries {
            let load = loads.remove(&e.id).unwrap_or_default();
            *e.remote_by_replica
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = load.by_replica.into_iter().collect();
            let before = e.load.current();
            if e.load.set_remote(load.in_flight) && e.load.current() > before {
                e.demand.notify_one();
            }
        }
    }

    /// One round of the cluster loop.
    pub(super) async fn cluster_tick(&self, state: &mut ClusterState) {
        // The lease every tick: keeping it is a local check, and a follower's attempt is one
        // query, so a leader's death is taken over (and a lost lease noticed) within a tick.
        self.check_lease().await;
        if state.tick % SLOW_EVERY == 0 {
            self.sync_workloads().await;
        }
        state.tick = state.tick.wrapping_add(1);
        if self.leading() {
            self.count_followers(state).await;
        } else {
            self.follow_leader(state).await;
        }
    }

    /// Runs the cluster loop until shutdown; only for a shared store. The first lease check
    /// is made before this returns, so a Manager alone on its database leads from the start.
    pub async fn start_cluster(self: &Arc<Self>, url: &str) {
        if !self.shared.store.shared() {
            return;
        }
        let _ = self.shared.url.set(url.to_string());
        self.check_lease().await;
        let rt = self.clone();
        let stop: CancellationToken = self.shutdown.clone();
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .spawn(async move {
                let mut state = ClusterState {
                    tick: 1,
                    ..ClusterState::default()
                };
                let mut every = tokio::time::interval(TICK);
                every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = every.tick() => rt.cluster_tick(&mut state).await,
                    }
                }
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::process::LaunchSettings;
    use crate::runtime::NotReady;
    use crate::store::{SqliteStore, WorkloadRecord};

    fn record(id: &str, updated_at: &str) -> WorkloadRecord {
        WorkloadRecord {
            id: id.into(),
            project_id: "prj_1".into(),
            project_slug: "acme".into(),
            name: "bot".into(),
            slug: "bot".into(),
            description: None,
            task_type: "text2text".into(),
            backend: Some("vllm".into()),
            model_name: "m".into(),
            config: serde_json::json!({"command": "vllm serve m"}),
            worker_id: None,
            gpu_resource_id: None,
            execution_policy: "fixed".into(),
            execution_policy_config: serde_json::json!({"replicas": 1}),
            created_at: "2026-03-02T10:00:00.000Z".into(),
            updated_at: updated_at.into(),
            status: "scheduling".into(),
            status_message: String::new(),
        }
    }

    /// A runtime that follows (as a Manager does while another holds the lease).
    fn follower(dir: &std::path::Path) -> Runtime {
        let store = Arc::new(SqliteStore::open(&dir.join("manager.db")).unwrap());
        let settings = LaunchSettings {
            dev: true,
            allow_any_command: false,
            self_command: vec![],
            data_dir: dir.to_path_buf(),
            engine_env: vec![],
            allow_trust_remote_code: false,
        };
        let clock = Arc::new(crate::runtime::clock::ManualClock::new(
            chrono::DateTime::parse_from_rfc3339("2026-03-02T10:00:00Z")
                .unwrap()
                .to_utc(),
        ));
        let http = crate::server::http_client().unwrap();
        let rt = Runtime::new(store, http, settings, clock);
        rt.leader.send_replace(false);
        rt
    }

    fn state(urls: &[&str]) -> ServingState {
        ServingState {
            phase: "ready".into(),
            message: format!("{} replicas serving", urls.len()),
            step: Some("ready".into()),
            elapsed_ms: 5,
            urls: urls.iter().map(|u| u.to_string()).collect(),
            wanted: urls.len(),
            closed: None,
            leader: None,
        }
    }

    #[tokio::test]
    async fn a_follower_routes_to_the_leaders_replicas_and_reports_its_requests_on_them() {
        let dir = tempfile::tempdir().unwrap();
        let rt = follower(dir.path());
        assert_eq!(rt.role(), "alone", "SQLite: no other Manager");
        rt.apply(&record("wl_1", "2026-03-02T10:00:00.000Z"));
        let e = rt.get("wl_1").unwrap();
        assert!(e.phase().1.contains("leading Manager"), "{:?}", e.phase());
        assert!(
            e.pick().is_none(),
            "nothing routed before the leader publishes"
        );

        let mut two = state(&["http://a", "http://b"]);
        two.leader = Some("http://127.0.0.1:7000".into());
        e.follow(&two);
        assert_eq!(
            e.phase(),
            (
                Phase::Ready,
                "2 replicas serving (run by the leading Manager, http://127.0.0.1:7000)"
                    .to_string()
            )
        );
        assert_eq!(e.counts()["wanted"], 2);
        let on_a = e.pick().unwrap();
        let other = e.pick().unwrap();
        assert_ne!(on_a.url(), other.url(), "least loaded first");
        drop(other);
        let _guard = e.begin();
        assert_eq!(e.local_load().in_flight, 1);

        // The leader stops listing the replica this gateway still has a request on: no new
        // request goes there, and it is reported until the request ends.
        let (gone, kept) = if on_a.url() == "http://a" {
            ("http://a", "http://b")
        } else {
            ("http://b", "http://a")
        };
        e.follow(&state(&[kept]));
        for _ in 0..3 {
            assert_eq!(e.pick().unwrap().url(), kept);
        }
        let load = e.local_load();
        assert_eq!(load.by_replica.get(gone), Some(&1), "{load:?}");
        drop(on_a);
        assert!(e.local_load().by_replica.is_empty());

        // An older listing is not applied over what was applied.
        rt.apply(&record("wl_1", "2026-03-02T09:00:00.000Z"));
        assert_eq!(
            *e.applied_at.lock().unwrap(),
            "2026-03-02T10:00:00.000Z".to_string()
        );

        // A closed schedule is refused with its next start, as the leader's gateway does.
        let mut closed = state(&[]);
        closed.phase = "scheduling".into();
        closed.closed = Some(ClosedState {
            message: "outside window".into(),
            next_start: Some("2026-03-09T08:00:00+00:00".into()),
        });
        e.follow(&closed);
        match e.wait_ready(Duration::from_millis(10)).await {
            Err(NotReady::Closed(c)) => {
                assert_eq!(
                    c.next_start.unwrap().to_rfc3339(),
                    "2026-03-09T08:00:00+00:00"
                )
            }
            other => panic!("{other:?}"),
        }
        rt.shutdown().await;
    }
}
