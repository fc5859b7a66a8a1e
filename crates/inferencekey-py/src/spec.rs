//! The spec as it crosses a language boundary: a JSON object with the `WorkloadSpec` field
//! names. JSON keeps the binding free of per-field marshalling, and the same parser serves the
//! domain functions and the clients, so a spec means the same thing on every path.

use inferencekey_core::{Backend, Error, ExecutionPolicy, FieldError, TaskType, WorkloadSpec};
use serde_json::{Map, Value};

/// The accepted keys, in declaration order (also the order of the "expected one of" hint).
const FIELDS: [&str; 14] = [
    "name",
    "slug",
    "model",
    "backend",
    "project",
    "description",
    "command",
    "vllm_version",
    "task_type",
    "config",
    "execution_policy",
    "execution_policy_config",
    "worker_id",
    "gpu_resource_id",
];

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Reads fields out of the object, collecting every type problem instead of stopping at the
/// first, so one error names all of them (as local validation does).
struct Reader<'a> {
    map: &'a Map<String, Value>,
    problems: Vec<FieldError>,
}

impl Reader<'_> {
    /// A string field; `null` or absent is `None`.
    fn string(&mut self, field: &str) -> Option<String> {
        match self.map.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                self.problems.push(FieldError::new(
                    field,
                    format!("must be a string, not {}", json_type(other)),
                ));
                None
            }
        }
    }
}

/// Parses spec JSON into the core's `WorkloadSpec`. Only the shape is checked here (an object,
/// known keys, strings where strings belong, `config` an object): a wrong shape is a
/// `ValidationError` naming every offending field. Enum strings are kept even when unknown,
/// and blank required fields become empty strings, because judging values is
/// [`WorkloadSpec::validate`]'s job, not the parser's.
pub fn spec_from_json(s: &str) -> Result<WorkloadSpec, Error> {
    let value: Value = serde_json::from_str(s).map_err(|e| {
        Error::validation(vec![FieldError::new(
            "spec",
            format!("is not valid JSON: {e}"),
        )])
    })?;
    let Value::Object(map) = value else {
        return Err(Error::validation(vec![FieldError::new(
            "spec",
            format!(
                "must be a JSON object with WorkloadSpec fields, not {}",
                json_type(&value)
            ),
        )]));
    };
    let mut r = Reader {
        map: &map,
        problems: Vec::new(),
    };
    for key in map.keys() {
        if !FIELDS.contains(&key.as_str()) {
            let hint = match key.as_str() {
                "provider" | "min_vram_gb" => {
                    "placement is the platform's job, so specs have no such field; remove it"
                        .to_string()
                }
                "min_replicas" | "max_replicas" | "replicas" | "min_workers" | "max_workers" => {
                    "belongs inside execution_policy_config, not at the top level".to_string()
                }
                _ => format!(
                    "is not a WorkloadSpec field; expected one of: {}",
                    FIELDS.join(", ")
                ),
            };
            r.problems.push(FieldError::new(key.clone(), hint));
        }
    }
    let spec = WorkloadSpec {
        name: r.string("name").unwrap_or_default(),
        slug: r.string("slug").unwrap_or_default(),
        model: r.string("model").unwrap_or_default(),
        backend: r.string("backend").map(|b| Backend::from_wire(&b)),
        project: r.string("project"),
        description: r.string("description"),
        command: r.string("command"),
        vllm_version: r.string("vllm_version"),
        task_type: r.string("task_type").map(|t| TaskType::from_wire(&t)),
        config: match map.get("config") {
            None | Some(Value::Null) => None,
            Some(Value::Object(c)) => Some(c.clone()),
            Some(other) => {
                r.problems.push(FieldError::new(
                    "config",
                    format!("must be an object, not {}", json_type(other)),
                ));
                None
            }
        },
        execution_policy: r
            .string("execution_policy")
            .map(|p| ExecutionPolicy::from_wire(&p)),
        execution_policy_config: map
            .get("execution_policy_config")
            .filter(|v| !v.is_null())
            .cloned(),
        worker_id: r.string("worker_id"),
        gpu_resource_id: r.string("gpu_resource_id"),
    };
    if r.problems.is_empty() {
        Ok(spec)
    } else {
        Err(Error::validation(r.problems))
    }
}
