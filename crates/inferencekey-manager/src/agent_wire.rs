//! The agent protocol's bodies (docs/contract.md §8): one declaration for the Manager's
//! `POST /agent/v1/sync` and for a worker agent that calls it.
//!
//! Pull over HTTP: the agent calls the Manager every [`SYNC_INTERVAL`] with the state of the
//! replicas it runs, and is answered with the replicas assigned to its worker. Nothing is
//! pushed, so an agent needs no address the Manager can reach except the one its replicas
//! serve on, and a lost call only delays the next state by one interval.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

/// How often an agent syncs (the answer says so; an agent follows the answer).
pub const SYNC_INTERVAL: Duration = Duration::from_secs(2);
/// A worker whose agent has not synced for this long is lost: its replicas stop taking
/// traffic and readiness says so until it is heard from again.
pub const LOST_AFTER: Duration = Duration::from_secs(15);

/// What an agent sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    /// The worker the agent runs for: the one its token was issued for. Optional: left out,
    /// it is the token's worker (an agent started without `--worker-id` learns its id from
    /// the answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    /// The host the agent's replicas are reachable on from the Manager (an IP address or a
    /// host name, no scheme or port), e.g. `127.0.0.2`.
    pub address: String,
    /// The replicas the agent runs now, as it sees them.
    #[serde(default)]
    pub replicas: Vec<ReplicaState>,
}

/// One replica as the agent reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplicaState {
    pub replica_id: String,
    /// `provisioning` (starting its process), `bootstrapping` (waiting for its health
    /// check), `ready` (serving on `port`) or `error` (it stopped trying; `last_error` says
    /// why).
    pub phase: String,
    /// Where it serves on the agent's address; required when `ready`.
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub last_error: Option<String>,
}

/// The Manager's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncResponse {
    pub worker_id: String,
    /// When to sync next, in milliseconds.
    pub sync_interval_ms: u64,
    /// The worker is lost when it has not synced for this long, in milliseconds.
    pub lost_after_ms: u64,
    /// Every replica assigned to the worker: run these and stop any other.
    pub replicas: Vec<Assignment>,
}

/// A replica the worker must run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    pub replica_id: String,
    pub workload_id: String,
    /// Hex SHA-256 of `launch`: a replica whose hash changed is another revision.
    pub spec_hash: String,
    pub launch: LaunchSpec,
}

/// What a replica runs: the launch part of a workload, which the agent plans with its own
/// launcher and allowlist, as the Manager does for its local worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LaunchSpec {
    pub task_type: String,
    pub backend: Option<String>,
    pub model: String,
    pub command: Option<String>,
    /// The workload's `config` object.
    #[schema(value_type = Object)]
    pub config: Value,
}

impl LaunchSpec {
    /// The hash of this spec as sent (its JSON text), hex.
    pub fn hash(&self) -> String {
        let text = serde_json::to_string(self).unwrap_or_default();
        Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// The base URL of a replica serving on `port` of `address` (an IPv6 address in brackets).
pub fn replica_url(address: &str, port: u16) -> String {
    if address.contains(':') {
        format!("http://[{address}]:{port}")
    } else {
        format!("http://{address}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_hash_follows_the_launch() {
        let a = LaunchSpec {
            task_type: "text2text".into(),
            backend: Some("vllm".into()),
            model: "m".into(),
            command: Some("vllm serve m".into()),
            config: json!({"command": "vllm serve m"}),
        };
        let same = a.clone();
        let other = LaunchSpec {
            model: "n".into(),
            ..a.clone()
        };
        assert_eq!(a.hash(), same.hash());
        assert_ne!(a.hash(), other.hash());
        assert_eq!(a.hash().len(), 64);
        assert_eq!(replica_url("127.0.0.2", 80), "http://127.0.0.2:80");
        assert_eq!(replica_url("::1", 80), "http://[::1]:80");
    }
}
