//! Replicas on a worker run by an agent (docs/contract.md §8).
//!
//! A replica placed on a worker whose agent has synced (every replica of a workload pinned
//! to that worker, or an unpinned one placed there, see `placement`) is not launched here: it
//! is a row in the store's `replicas` table, which the agent is answered with at its next
//! sync. This task stands for one such replica in the supervisor, exactly as a local replica
//! task does: it assigns the row, turns what the agent reports (and whether the agent is
//! still heard from) into the same [`ReplicaStatus`] events, and takes the row off when the
//! supervisor stops the replica. Rollouts, scaling, draining and the gateway's routing stay
//! the supervisor's, unchanged; a ready remote replica is a slot whose URL is the agent's
//! address and the replica's port.
//!
//! A worker not heard from for [`LOST_AFTER`] is lost: its replica leaves the ready set. An
//! unpinned workload's replica is then taken off the worker and ends as
//! [`ReplicaStatus::Lost`], and the supervisor places another; a pinned one waits for its
//! worker to sync again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::placement::parse_seen;
use super::reconciler::{ReplicaEvent, ReplicaStatus};
use super::{RuntimeSpec, Shared};
use crate::agent_wire::{replica_url, LaunchSpec, LOST_AFTER};
use crate::store::{ReplicaPhase, ReplicaRecord};
use crate::util::new_id;

/// How often the store is read for the agent's reports.
const POLL: Duration = Duration::from_millis(250);
/// The wait before assigning again after the store refused.
const RETRY: Duration = Duration::from_secs(1);
/// How long, in the Manager's own running time, a worker stays lost before an unpinned
/// replica leaves it. `last_seen` is by the policy clock, which cannot tell an agent that is
/// gone from a Manager that was not listening (a suspended process, a clock that jumped):
/// after that every agent looks lost until its next sync, so only a worker still silent
/// several sync intervals after the Manager saw it lost is taken as gone.
const CONFIRM_LOST: Duration =
    Duration::from_millis(3 * crate::agent_wire::SYNC_INTERVAL.as_millis() as u64);

/// The launch spec of a runtime spec, as an agent is sent it.
pub(super) fn launch_spec(spec: &RuntimeSpec) -> LaunchSpec {
    LaunchSpec {
        task_type: spec.task_type.as_str().to_string(),
        backend: spec.backend.as_ref().map(|b| b.as_str().to_string()),
        model: spec.model.clone(),
        command: spec.command.clone(),
        config: spec.config.clone(),
    }
}

pub(super) struct RemoteCtx {
    pub generation: u64,
    pub replica: u64,
    pub label: String,
    pub workload_id: String,
    pub worker_id: String,
    /// Whether it may leave its worker when the worker is lost (an unpinned workload's).
    pub movable: bool,
    pub launch: LaunchSpec,
    pub shared: Arc<Shared>,
    pub events: mpsc::UnboundedSender<ReplicaEvent>,
    pub cancel: CancellationToken,
}

impl RemoteCtx {
    fn send(&self, status: ReplicaStatus) {
        let _ = self.events.send(ReplicaEvent {
            generation: self.generation,
            replica: self.replica,
            status,
        });
    }

    /// Sleeps `d` unless cancelled first; false when cancelled.
    async fn pause(&self, d: Duration) -> bool {
        tokio::select! {
            _ = self.cancel.cancelled() => false,
            _ = tokio::time::sleep(d) => true,
        }
    }

    /// The replica's status from its row and the worker's last sync, with that sync's time
    /// when the worker is lost.
    async fn observe(&self, id: &str) -> (ReplicaStatus, Option<String>) {
        let mut lost = None;
        let status = self.status(id, &mut lost).await;
        (status, lost)
    }

    async fn status(&self, id: &str, lost: &mut Option<String>) -> ReplicaStatus {
        let (label, worker) = (&self.label, &self.worker_id);
        let store = &self.shared.store;
        let (presence, row) = match (store.worker_presence(worker).await, store.replica(id).await) {
            (Ok(p), Ok(r)) => (p, r),
            (Err(e), _) | (_, Err(e)) => {
                return ReplicaStatus::Provisioning(format!(
                    "{label}: cannot read its state on worker {worker}: {e}"
                ))
            }
        };
        let Some(presence) = presence else {
            return ReplicaStatus::Provisioning(format!(
                "{label}: assigned to worker {worker}, whose agent has not synced"
            ));
        };
        let now = self.shared.clock.now();
        let seen = parse_seen(&presence.last_seen);
        if (now - seen).to_std().unwrap_or_default() > LOST_AFTER {
            let then = if self.movable {
                format!(
                    "it is placed again elsewhere unless the agent syncs within {} s",
                    CONFIRM_LOST.as_secs()
                )
            } else {
                "the workload is pinned to that worker, so the replica waits for it to sync \
                 again"
                    .to_string()
            };
            let message = format!(
                "{label}: worker {worker} is lost: its agent was last heard from at {} (more \
                 than {} s ago); {then}",
                presence.last_seen,
                LOST_AFTER.as_secs()
            );
            *lost = Some(presence.last_seen);
            return ReplicaStatus::WorkerLost(message);
        }
        let Some(row) = row else {
            return ReplicaStatus::Provisioning(format!(
                "{label}: assigning it to worker {worker}"
            ));
        };
        let at = &presence.address;
        match (row.phase, row.port) {
            (ReplicaPhase::Ready, Some(port)) => ReplicaStatus::Ready(replica_url(at, port)),
            (ReplicaPhase::Assigned, _) => ReplicaStatus::Provisioning(format!(
                "{label}: assigned to worker {worker} at {at}; waiting for its agent to start it"
            )),
            (ReplicaPhase::Provisioning, _) => {
                ReplicaStatus::Provisioning(format!("{label}: starting on worker {worker} at {at}"))
            }
            (ReplicaPhase::Bootstrapping | ReplicaPhase::Ready, _) => {
                ReplicaStatus::Bootstrapping(format!(
                    "{label}: waiting for its engine on worker {worker} at {at} to answer its \
                     health check"
                ))
            }
            (ReplicaPhase::Error, _) => ReplicaStatus::Failing(format!(
                "{label} failed on worker {worker}: {}",
                row.last_error
                    .as_deref()
                    .unwrap_or("its agent gave no reason")
            )),
        }
    }
}

/// One replica on an agent's worker, from assignment until the supervisor stops it.
pub(super) async fn run_remote_replica(ctx: RemoteCtx) {
    let now = crate::util::now_rfc3339();
    let record = ReplicaRecord {
        id: new_id("rep"),
        workload_id: ctx.workload_id.clone(),
        worker_id: ctx.worker_id.clone(),
        spec_hash: ctx.launch.hash(),
        launch: serde_json::to_value(&ctx.launch).unwrap_or_default(),
        phase: ReplicaPhase::Assigned,
        port: None,
        last_error: None,
        created_at: now.clone(),
        updated_at: now,
    };
    loop {
        match ctx.shared.store.assign_replica(&record).await {
            Ok(()) => break,
            Err(e) => {
                ctx.send(ReplicaStatus::Provisioning(format!(
                    "{}: cannot assign it to worker {}: {e}; retrying",
                    ctx.label, ctx.worker_id
                )));
                if !ctx.pause(RETRY).await {
                    return;
                }
            }
        }
    }
    let mut last = None;
    // When this task first saw the worker lost, in its running time.
    let mut lost_since: Option<Instant> = None;
    loop {
        let (status, lost) = ctx.observe(&record.id).await;
        if last.as_ref() != Some(&status) {
            ctx.send(status.clone());
            last = Some(status);
        }
        match lost.filter(|_| ctx.movable) {
            Some(seen) => {
                let since = *lost_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= CONFIRM_LOST {
                    leave_lost_worker(&ctx, &record.id, &seen).await;
                    return;
                }
            }
            None => lost_since = None,
        }
        if !ctx.pause(POLL).await {
            break;
        }
    }
    unassign(&ctx, &record.id).await;
}

async fn unassign(ctx: &RemoteCtx, id: &str) {
    if let Err(e) = ctx.shared.store.unassign_replica(id).await {
        tracing::warn!(replica = %id, worker = %ctx.worker_id, error = %e, "could not take a stopped replica off its worker; its agent keeps running it until the Manager restarts");
    }
}

/// Takes the replica off its lost worker (an agent that comes back is no longer told to run
/// it) and tells the supervisor, which places another by agents read after the loss.
async fn leave_lost_worker(ctx: &RemoteCtx, id: &str, last_seen: &str) {
    unassign(ctx, id).await;
    let store = ctx.shared.store.as_ref();
    ctx.shared.agents.refresh(store, Duration::ZERO).await;
    ctx.send(ReplicaStatus::Lost(format!(
        "{} on worker {} was lost (its agent was last heard from at {last_seen})",
        ctx.label, ctx.worker_id
    )));
}
