//! The Manager-wide replica limit (`--max-replicas`): the sum over all workloads of the most
//! replicas each may run. The per-workload limit is the core's (`policy::MAX_REPLICAS`), so
//! the SDK refuses the same configs locally; this one depends on what else runs here.

use inferencekey_core::enums::ExecutionPolicy;

use crate::api::errors::ApiError;
use crate::runtime::PolicySpec;
use crate::state::AppState;
use crate::store::WorkloadRecord;

fn most(w: &WorkloadRecord) -> usize {
    let policy = ExecutionPolicy::from_wire(&w.execution_policy);
    PolicySpec::from_config(&policy, &w.execution_policy_config).max_replicas()
}

/// Refuses `record` (about to be created or updated) when it would take this Manager past
/// its limit, naming the field that sets its count.
pub async fn check(app: &AppState, record: &WorkloadRecord) -> Result<(), ApiError> {
    let limit = app.config.max_replicas;
    let mine = most(record);
    let others: usize = app
        .store
        .list_workloads(None)
        .await?
        .iter()
        .filter(|w| w.id != record.id)
        .map(most)
        .sum();
    if others + mine <= limit {
        return Ok(());
    }
    let field = match ExecutionPolicy::from_wire(&record.execution_policy) {
        ExecutionPolicy::Autoscaling => "execution_policy_config.max_workers",
        _ => "execution_policy_config.replicas",
    };
    Err(ApiError::validation(
        field,
        format!(
            "asks for up to {mine} replica(s), and the other workloads on this Manager may run \
             {others}: together past its limit of {limit} (set with `inferencekey serve \
             --max-replicas N`); lower it, or delete or shrink another workload"
        ),
    ))
}
