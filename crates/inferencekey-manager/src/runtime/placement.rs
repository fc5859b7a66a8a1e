//! Where a new replica of an unpinned workload runs: the Manager's own machine (the local
//! worker) or a worker whose agent is live (docs/contract.md §8).
//!
//! The rule, per replica: the live worker holding the fewest replicas of this workload's
//! revision; ties go to the local worker, then to the agent with the fewest replicas assigned
//! overall (the store's `replicas` rows), then to the lowest worker id. So a one-replica
//! workload stays local and three replicas with two live agents get one on each. Running
//! replicas are never moved to balance (an agent that joins gets only new replicas).
//!
//! The supervisors decide synchronously, so the agents' presence is read from the store into
//! a snapshot ([`AgentsCache`]) that is refreshed when a workload starts, when a replica's
//! worker is lost, and otherwise every sync interval.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::agent_wire::LOST_AFTER;
use crate::store::{Store, StoreResult};

/// A worker whose agent has synced, as last read from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AgentView {
    pub worker_id: String,
    /// Its last sync, by the policy clock.
    pub last_seen: DateTime<Utc>,
    /// Replicas assigned to it, of every workload.
    pub assigned: usize,
}

impl AgentView {
    /// Heard from within [`LOST_AFTER`] of `now`.
    pub fn live(&self, now: DateTime<Utc>) -> bool {
        (now - self.last_seen).to_std().unwrap_or_default() <= LOST_AFTER
    }
}

/// An agent's `last_seen` as stored (RFC 3339); a value that does not parse counts as never.
pub(crate) fn parse_seen(last_seen: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(last_seen)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Where a new replica goes: `None` for the local worker, else the agent's worker id.
/// `held` is where this workload's revision already has replicas (`None` = local).
pub(crate) fn place(
    held: &[Option<&str>],
    agents: &[AgentView],
    now: DateTime<Utc>,
) -> Option<String> {
    let count = |w: Option<&str>| held.iter().filter(|h| **h == w).count();
    let local = (count(None), 0u8, 0usize, "");
    agents
        .iter()
        .filter(|a| a.live(now))
        .map(|a| {
            let id = a.worker_id.as_str();
            (count(Some(id)), 1u8, a.assigned, id)
        })
        .chain(std::iter::once(local))
        .min()
        .and_then(|(_, is_agent, _, id)| (is_agent == 1).then(|| id.to_string()))
}

/// Reads every registered worker whose agent has synced, with its replica count.
async fn read_agents(store: &dyn Store) -> StoreResult<Vec<AgentView>> {
    let mut agents = Vec::new();
    for w in store.list_workers().await? {
        let Some(presence) = store.worker_presence(&w.id).await? else {
            continue;
        };
        let assigned = store.replicas_of_worker(&w.id).await?.len();
        agents.push(AgentView {
            worker_id: w.id,
            last_seen: parse_seen(&presence.last_seen),
            assigned,
        });
    }
    Ok(agents)
}

/// The agents as last read, shared by the runtime's supervisors.
#[derive(Debug, Default)]
pub(crate) struct AgentsCache {
    inner: Mutex<Option<(Instant, Arc<[AgentView]>)>>,
}

impl AgentsCache {
    /// The snapshot as last read (empty before the first read).
    pub fn get(&self) -> Arc<[AgentView]> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner
            .as_ref()
            .map(|(_, a)| a.clone())
            .unwrap_or_else(|| Arc::from(Vec::new()))
    }

    /// Reads the agents again unless the snapshot is younger than `max_age`. A store that
    /// cannot be read keeps the last snapshot (its agents turn lost as their `last_seen` ages).
    pub async fn refresh(&self, store: &dyn Store, max_age: Duration) {
        let fresh = {
            let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            inner.as_ref().is_some_and(|(at, _)| at.elapsed() < max_age)
        };
        if fresh {
            return;
        }
        match read_agents(store).await {
            Ok(agents) => {
                let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
                *inner = Some((Instant::now(), Arc::from(agents)));
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the workers' agents; placing replicas by the last reading");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        parse_seen(s)
    }

    const NOW: &str = "2026-03-02T10:00:20Z";

    fn agent(id: &str, seen: &str, assigned: usize) -> AgentView {
        AgentView {
            worker_id: id.to_string(),
            last_seen: t(seen),
            assigned,
        }
    }

    #[test]
    fn replicas_go_to_the_live_worker_with_fewest_of_the_workload() {
        let fresh = "2026-03-02T10:00:18Z";
        let a = agent("wrk_a", fresh, 0);
        let b = agent("wrk_b", fresh, 0);
        let busy_a = agent("wrk_a", fresh, 5);
        let lost_a = agent("wrk_a", "2026-03-02T10:00:04Z", 0);
        let edge_a = agent("wrk_a", "2026-03-02T10:00:05Z", 0);
        // What, where the workload's replicas are, the agents, where the next one goes.
        type Case<'a> = (
            &'a str,
            Vec<Option<&'a str>>,
            Vec<AgentView>,
            Option<&'a str>,
        );
        let cases: Vec<Case> = vec![
            ("no agents: local", vec![], vec![], None),
            (
                "no agents, many local: still local",
                vec![None, None],
                vec![],
                None,
            ),
            (
                "a tie goes to the local worker",
                vec![],
                vec![a.clone()],
                None,
            ),
            (
                "then to an agent",
                vec![None],
                vec![a.clone()],
                Some("wrk_a"),
            ),
            (
                "then back to local",
                vec![None, Some("wrk_a")],
                vec![a.clone()],
                None,
            ),
            (
                "agents tie by id",
                vec![None],
                vec![b.clone(), a.clone()],
                Some("wrk_a"),
            ),
            (
                "three replicas, two agents: one on each",
                vec![None, Some("wrk_a")],
                vec![a.clone(), b.clone()],
                Some("wrk_b"),
            ),
            (
                "agents tie by replicas assigned overall",
                vec![None],
                vec![busy_a.clone(), b.clone()],
                Some("wrk_b"),
            ),
            (
                "fewest of this workload before overall",
                vec![None, Some("wrk_b")],
                vec![busy_a.clone(), b.clone()],
                Some("wrk_a"),
            ),
            (
                "a lost agent is not a candidate",
                vec![None],
                vec![lost_a.clone()],
                None,
            ),
            (
                "nor when the others hold more",
                vec![None, Some("wrk_b")],
                vec![lost_a, b.clone()],
                None,
            ),
            (
                "heard from exactly LOST_AFTER ago is live",
                vec![None],
                vec![edge_a],
                Some("wrk_a"),
            ),
        ];
        for (what, held, agents, want) in cases {
            assert_eq!(
                place(&held, &agents, t(NOW)).as_deref(),
                want,
                "{what}: held {held:?}"
            );
        }
    }

    #[test]
    fn spreading_three_replicas_over_two_agents() {
        let fresh = "2026-03-02T10:00:19Z";
        let agents = [agent("wrk_b", fresh, 1), agent("wrk_a", fresh, 1)];
        let mut held: Vec<Option<String>> = Vec::new();
        for _ in 0..6 {
            let refs: Vec<Option<&str>> = held.iter().map(|h| h.as_deref()).collect();
            let next = place(&refs, &agents, t(NOW));
            held.push(next);
        }
        let got: Vec<Option<&str>> = held.iter().map(|h| h.as_deref()).collect();
        assert_eq!(
            got,
            [
                None,
                Some("wrk_a"),
                Some("wrk_b"),
                None,
                Some("wrk_a"),
                Some("wrk_b")
            ]
        );
    }

    #[test]
    fn unparsable_last_seen_is_never() {
        assert!(!agent("w", "yesterday", 0).live(t(NOW)));
    }
}
