//! The agent API (`/agent`, `ik_worker_` tokens, docs/contract.md §8): where a worker agent
//! on another host reports its replicas and is told which to run.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use inferencekey_core::domain::decode::{decode, no_hint, Role};
use inferencekey_core::token::scrub;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::errors::ApiError;
use super::{json_object, API_BODY_LIMIT};
use crate::agent_wire::{
    Assignment, LaunchSpec, SyncRequest, SyncResponse, LOST_AFTER, SYNC_INTERVAL,
};
use crate::auth::WorkerAuth;
use crate::openapi::UpdateErrors;
use crate::state::App;
use crate::store::{ReplicaPhase, ReplicaReport};

/// A reported error is kept to this many characters (it is shown in readiness messages).
const LAST_ERROR_MAX: usize = 2000;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(sync))
}

/// The host part of an address an agent reports: an IP address or a host name, without a
/// scheme, port or path (the Manager adds `http://` and the replica's port).
fn check_address(raw: &str) -> Result<String, ApiError> {
    let address = raw.trim();
    let is_ip = address.parse::<std::net::IpAddr>().is_ok();
    let is_name = !address.is_empty()
        && address.len() <= 253
        && address
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if is_ip || is_name {
        Ok(address.to_string())
    } else {
        Err(ApiError::validation(
            "address",
            format!(
                "{:?} is not an IP address or host name; send the host the replicas are \
                 reachable on, without a scheme or port, e.g. \"127.0.0.2\"",
                scrub(address)
            ),
        ))
    }
}

fn reports(req: &SyncRequest) -> Result<Vec<ReplicaReport>, ApiError> {
    let phases: Vec<&str> = ReplicaPhase::REPORTED.iter().map(|p| p.as_str()).collect();
    req.replicas
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let field = |name: &str| format!("replicas[{i}].{name}");
            let phase = ReplicaPhase::parse(r.phase.trim())
                .filter(|p| ReplicaPhase::REPORTED.contains(p))
                .ok_or_else(|| {
                    ApiError::validation(
                        field("phase"),
                        format!(
                            "{:?} is not a phase; expected one of: {}",
                            scrub(&r.phase),
                            phases.join(", ")
                        ),
                    )
                })?;
            if r.port == Some(0) {
                return Err(ApiError::validation(
                    field("port"),
                    "must be a port from 1 to 65535",
                ));
            }
            if phase == ReplicaPhase::Ready && r.port.is_none() {
                return Err(ApiError::validation(
                    field("port"),
                    "is required when the phase is ready: the port the replica serves on",
                ));
            }
            let last_error = r
                .last_error
                .as_deref()
                .map(|e| scrub(e).chars().take(LAST_ERROR_MAX).collect());
            Ok(ReplicaReport {
                replica_id: r.replica_id.trim().to_string(),
                phase,
                port: r.port,
                last_error,
            })
        })
        .collect()
}

/// One agent sync: records the worker's heartbeat and its replicas' states, and answers
/// the replicas assigned to it (docs/contract.md §8).
#[utoipa::path(
    post,
    path = "/agent/v1/sync",
    operation_id = "agentSync",
    tag = "agent",
    security(("workerToken" = [])),
    request_body(content = SyncRequest, content_type = "application/json"),
    responses((status = 200, description = "The replicas assigned to the worker", body = SyncResponse), UpdateErrors),
)]
async fn sync(
    State(app): State<App>,
    WorkerAuth(who): WorkerAuth,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|r| ApiError::from_body_rejection(r, API_BODY_LIMIT))?;
    let obj = json_object(&body)?;
    let req: SyncRequest = decode(obj.into(), "body", Role::Request, no_hint)
        .map_err(|e| ApiError::from_problems(&e.problems))?;
    let mine = who.worker_id.as_deref().unwrap_or_default();
    let claimed = req.worker_id.as_deref().unwrap_or(mine);
    if claimed.trim() != mine {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "scope_insufficient",
            format!(
                "this token was issued for worker {mine:?}; it cannot sync as {:?}",
                scrub(claimed)
            ),
        )
        .with_field("worker_id"));
    }
    let address = check_address(&req.address)?;
    let reports = reports(&req)?;
    let now = app
        .runtime
        .now()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    for report in &reports {
        // A replica taken off the worker meanwhile is not in the answer: the agent stops it.
        app.store.report_replica(mine, report, &now).await?;
    }
    let assigned = app.store.replicas_of_worker(mine).await?;
    // An assigned replica the agent does not report is not running there (a restarted
    // agent, or one that has not started it yet): whatever it reported before, such as a
    // port that a dead engine served on, no longer holds.
    for r in &assigned {
        let reported = reports.iter().any(|p| p.replica_id == r.id);
        if !reported && r.phase != ReplicaPhase::Assigned {
            let reset = ReplicaReport {
                replica_id: r.id.clone(),
                phase: ReplicaPhase::Assigned,
                port: None,
                last_error: None,
            };
            app.store.report_replica(mine, &reset, &now).await?;
        }
    }
    // The heartbeat last: the Manager takes the worker's replicas as they are reported only
    // once the reports above are written, never a stale port with a fresh heartbeat.
    if !app.store.worker_heartbeat(mine, &address, &now).await? {
        return Err(ApiError::not_found(format!(
            "worker {mine:?} is no longer registered"
        )));
    }
    let replicas = assigned
        .into_iter()
        .filter_map(|r| {
            let launch: LaunchSpec = serde_json::from_value(r.launch).ok()?;
            Some(Assignment {
                replica_id: r.id,
                workload_id: r.workload_id,
                spec_hash: r.spec_hash,
                launch,
            })
        })
        .collect();
    Ok(Json(SyncResponse {
        worker_id: mine.to_string(),
        sync_interval_ms: SYNC_INTERVAL.as_millis() as u64,
        lost_after_ms: LOST_AFTER.as_millis() as u64,
        replicas,
    })
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_hosts_only() {
        for ok in ["127.0.0.2", "::1", "gpu-box-1.lan", "localhost"] {
            assert_eq!(check_address(ok).unwrap(), ok);
        }
        for bad in [
            "",
            "http://127.0.0.2",
            "127.0.0.2:8000",
            "a b",
            "box/x",
            "a..b",
        ] {
            let e = check_address(bad).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("address"), "{bad}");
        }
    }
}
