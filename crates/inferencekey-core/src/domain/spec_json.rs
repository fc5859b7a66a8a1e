//! The spec as it crosses a language boundary (Python, C, Go): a JSON object with the
//! `WorkloadSpec` field names. JSON keeps the bindings free of per-field marshalling, and one
//! parser here means a spec reads the same from every language.

use crate::domain::enums::{Backend, ExecutionPolicy, TaskType};
use crate::domain::error::{Error, FieldError};
use crate::domain::spec::WorkloadSpec;
use serde_json::{Map, Value};

/// The accepted keys, in declaration order (also the order of the "expected one of" hint).
pub const FIELDS: [&str; 14] = [
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

impl WorkloadSpec {
    /// Parses spec JSON (the bindings' wire form). Only the shape is checked here (an
    /// object, known keys, strings where strings belong, `config` an object): a wrong shape
    /// is a `ValidationError` naming every offending field. Enum strings are kept even when
    /// unknown, and blank required fields become empty strings, because judging values is
    /// [`WorkloadSpec::validate`]'s job, not the parser's.
    pub fn from_json(s: &str) -> Result<WorkloadSpec, Error> {
        parse(s)
    }
}

fn parse(s: &str) -> Result<WorkloadSpec, Error> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::error::ErrorKind;

    #[test]
    fn parses_every_field() {
        let spec = WorkloadSpec::from_json(
            r#"{"name": "Bot", "slug": "bot", "model": "m", "backend": "vllm",
                "command": "vllm serve m", "task_type": "text2text",
                "execution_policy": "fixed", "execution_policy_config": {"replicas": 1},
                "config": {"k": 1}}"#,
        )
        .unwrap();
        assert_eq!(spec.backend, Some(Backend::Vllm));
        assert_eq!(spec.config.as_ref().unwrap()["k"], 1);
        spec.validate().unwrap();
    }

    #[test]
    fn shape_problems_name_every_field() {
        let e = WorkloadSpec::from_json(
            r#"{"name": 1, "slug": "s", "model": "m", "provider": "aws", "config": []}"#,
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Validation);
        let mut fields: Vec<_> = e.problems.iter().map(|p| p.field.as_str()).collect();
        fields.sort();
        assert_eq!(fields, ["config", "name", "provider"]);
        assert!(e.problems.iter().any(|p| p.message.contains("placement")));
        assert!(WorkloadSpec::from_json("[]").is_err());
        assert!(WorkloadSpec::from_json("{").is_err());
    }
}
