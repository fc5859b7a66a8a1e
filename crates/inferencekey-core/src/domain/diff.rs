//! Drift detection (docs/contract.md, "ensure"): compare a spec with the live workload on the fields the
//! spec declares, and turn the differences into a plan and a minimal PATCH body.

use serde_json::{Map, Value};

use crate::domain::spec::WorkloadSpec;
use crate::domain::wire::Workload;

pub use crate::domain::plan::{Change, Plan};

/// Values are equal for drift purposes: numbers by value (`5 == 5.0`), objects key by key,
/// arrays element by element.
pub fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| values_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        _ => a == b,
    }
}

/// Compares only the keys `desired` declares, recursing into nested objects, so keys the
/// server filled in (defaults, bookkeeping) are never drift.
fn diff_declared(path: &str, live: Option<&Value>, desired: &Map<String, Value>, out: &mut Plan) {
    let live_obj = live.and_then(Value::as_object);
    for (key, want) in desired {
        let field = format!("{path}.{key}");
        let have = live_obj.and_then(|o| o.get(key));
        match (want, have) {
            (Value::Object(want_obj), Some(have @ Value::Object(_))) => {
                diff_declared(&field, Some(have), want_obj, out)
            }
            (_, Some(have)) if values_equal(want, have) => {}
            (_, have) => out.push(Change {
                field,
                live: have.cloned().unwrap_or(Value::Null),
                desired: want.clone(),
            }),
        }
    }
}

fn diff_scalar(field: &str, live: Option<&str>, desired: Option<&str>, out: &mut Plan) {
    if let Some(want) = desired {
        if live != Some(want) {
            out.push(Change {
                field: field.to_string(),
                live: live.map_or(Value::Null, |s| Value::String(s.to_string())),
                desired: Value::String(want.to_string()),
            });
        }
    }
}

/// The plan that would bring `live` in line with `spec`. Only declared fields are compared;
/// `task_type` is always compared (an omitted task type means the default, `text2text`).
pub fn diff(spec: &WorkloadSpec, live: &Workload) -> Plan {
    let mut plan = Plan::new();
    diff_scalar(
        "name",
        live.name.as_deref(),
        Some(spec.name.as_str()),
        &mut plan,
    );
    diff_scalar(
        "description",
        live.description.as_deref(),
        spec.description.as_deref(),
        &mut plan,
    );
    let task = spec.task_type.clone().unwrap_or_default();
    diff_scalar(
        "task_type",
        Some(live.task_type.as_ref().map_or("text2text", |t| t.as_str())),
        Some(task.as_str()),
        &mut plan,
    );
    diff_scalar(
        "backend",
        live.backend.as_ref().map(|b| b.as_str()),
        spec.backend.as_ref().map(|b| b.as_str()),
        &mut plan,
    );
    diff_scalar(
        "model_name",
        live.model_name.as_deref(),
        Some(spec.model.as_str()),
        &mut plan,
    );
    if let Some(config) = spec.wire_config() {
        diff_declared("config", live.config.as_ref(), &config, &mut plan);
    }
    diff_scalar(
        "worker_id",
        live.worker_id.as_deref(),
        spec.worker_id.as_deref(),
        &mut plan,
    );
    diff_scalar(
        "gpu_resource_id",
        live.gpu_resource_id.as_deref(),
        spec.gpu_resource_id.as_deref(),
        &mut plan,
    );
    diff_scalar(
        "execution_policy",
        live.execution_policy.as_ref().map(|p| p.as_str()),
        spec.execution_policy.as_ref().map(|p| p.as_str()),
        &mut plan,
    );
    if let Some(Value::Object(epc)) = &spec.execution_policy_config {
        diff_declared(
            "execution_policy_config",
            live.execution_policy_config.as_ref(),
            epc,
            &mut plan,
        );
    }
    plan
}

/// Overlays `desired` on `live`, recursively, keeping keys only the server has.
fn overlay(live: Option<&Value>, desired: &Map<String, Value>) -> Value {
    let mut merged = live.and_then(Value::as_object).cloned().unwrap_or_default();
    for (k, v) in desired {
        let next = match v {
            Value::Object(obj) => overlay(merged.get(k), obj),
            other => other.clone(),
        };
        merged.insert(k.clone(), next);
    }
    Value::Object(merged)
}

/// The PATCH body for `plan`: exactly the top-level fields that drifted. Drifted objects
/// (`config`, `execution_policy_config`) are sent whole — the live object with the declared
/// keys overlaid — because the server replaces objects rather than merging them. When the
/// policy itself changes, the old policy's config keys would be invalid for the new one, so
/// the declared config is sent as is.
pub fn update_body(spec: &WorkloadSpec, live: &Workload, plan: &Plan) -> Map<String, Value> {
    let mut body = Map::new();
    let policy_changes = plan.iter().any(|c| c.field == "execution_policy");
    for change in plan {
        let top = change.field.split('.').next().unwrap_or_default();
        if body.contains_key(top) {
            continue;
        }
        let value = match top {
            "config" => overlay(
                live.config.as_ref(),
                &spec.wire_config().unwrap_or_default(),
            ),
            "execution_policy_config" => match &spec.execution_policy_config {
                Some(Value::Object(epc)) if !policy_changes => {
                    overlay(live.execution_policy_config.as_ref(), epc)
                }
                Some(v) => v.clone(),
                None => continue,
            },
            _ => change.desired.clone(),
        };
        body.insert(top.to_string(), value);
    }
    if policy_changes && !body.contains_key("execution_policy_config") {
        if let Some(epc) = &spec.execution_policy_config {
            body.insert("execution_policy_config".into(), epc.clone());
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::enums::{Backend, ExecutionPolicy, TaskType};
    use serde_json::json;

    fn spec() -> WorkloadSpec {
        WorkloadSpec {
            name: "Support bot".into(),
            slug: "support-bot".into(),
            model: "m".into(),
            backend: Some(Backend::Vllm),
            command: Some("vllm serve m".into()),
            execution_policy: Some(ExecutionPolicy::Autoscaling),
            execution_policy_config: Some(json!({
                "min_workers": 0, "max_workers": 5, "max_hourly_cost_usd": 5,
                "workers": {"source": "cloud", "cloud_pool": {"gpu_pool": ["A"]}}
            })),
            ..Default::default()
        }
    }

    fn live_of(spec: &WorkloadSpec) -> Workload {
        let mut body = spec.create_body();
        body.insert("id".into(), json!("wl_1"));
        serde_json::from_value(Value::Object(body)).unwrap()
    }

    #[test]
    fn in_sync_is_empty() {
        let s = spec();
        assert!(diff(&s, &live_of(&s)).is_empty());
    }

    #[test]
    fn server_echo_is_not_drift() {
        let s = spec();
        let mut live = live_of(&s);
        // The server echoes 5.0 for 5 and adds keys of its own.
        live.execution_policy_config = Some(json!({
            "min_workers": 0, "max_workers": 5.0, "max_hourly_cost_usd": 5.0,
            "workers": {"source": "cloud", "cloud_pool": {"gpu_pool": ["A"], "max_instances": 5}},
            "cooldown_s": 300
        }));
        live.config = Some(json!({"command": "vllm serve m", "port": 8000}));
        live.description = Some("set in the dashboard".into());
        assert_eq!(diff(&s, &live), vec![]);
    }

    #[test]
    fn nested_drift_and_patch_keeps_server_keys() {
        let s = spec();
        let mut live = live_of(&s);
        live.execution_policy_config = Some(json!({
            "min_workers": 0, "max_workers": 3, "max_hourly_cost_usd": 5,
            "workers": {"source": "cloud", "cloud_pool": {"gpu_pool": ["A"], "max_instances": 3}}
        }));
        let plan = diff(&s, &live);
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].field, "execution_policy_config.max_workers");
        let body = update_body(&s, &live, &plan);
        assert_eq!(body.len(), 1);
        assert_eq!(body["execution_policy_config"]["max_workers"], json!(5));
        assert_eq!(
            body["execution_policy_config"]["workers"]["cloud_pool"]["max_instances"],
            json!(3)
        );
    }

    #[test]
    fn task_type_is_always_compared() {
        let s = spec();
        let mut live = live_of(&s);
        live.task_type = Some(TaskType::Embedding);
        let plan = diff(&s, &live);
        assert_eq!(plan[0].field, "task_type");
        assert_eq!(plan[0].desired, json!("text2text"));
    }

    #[test]
    fn policy_change_sends_declared_config() {
        let mut s = spec();
        let mut live = live_of(&s);
        live.execution_policy = Some(ExecutionPolicy::Fixed);
        live.execution_policy_config = Some(json!({"replicas": 1}));
        s.name = "Renamed".into();
        let plan = diff(&s, &live);
        let body = update_body(&s, &live, &plan);
        assert_eq!(body["name"], json!("Renamed"));
        assert_eq!(body["execution_policy"], json!("autoscaling"));
        assert!(body["execution_policy_config"].get("replicas").is_none());
    }

    #[test]
    fn numbers_by_value() {
        assert!(values_equal(&json!(5), &json!(5.0)));
        assert!(values_equal(
            &json!([1, {"a": 2}]),
            &json!([1.0, {"a": 2.0}])
        ));
        assert!(!values_equal(&json!(5), &json!("5")));
        assert!(!values_equal(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
    }
}
