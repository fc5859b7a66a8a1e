//! The spec as it crosses the ABI: a JSON object with the `WorkloadSpec` field names.
//!
//! The Python binding has the same parser (`inferencekey-py/src/spec.rs`); it belongs in the
//! core as `WorkloadSpec::from_json`, and both bindings should call it once it is there.

use inferencekey_core::{Backend, Error, ExecutionPolicy, TaskType, WorkloadSpec};

use crate::json::{Reader, Role};

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

fn hint(key: &str) -> Option<&'static str> {
    match key {
        "provider" | "min_vram_gb" => {
            Some("placement is the platform's job, so specs have no such field; remove it")
        }
        "min_replicas" | "max_replicas" | "replicas" | "min_workers" | "max_workers" => {
            Some("belongs inside execution_policy_config, not at the top level")
        }
        _ => None,
    }
}

/// Parses spec JSON. Only the shape is checked (an object, known keys, strings where strings
/// belong, `config` an object); enum strings are kept even when unknown and blank required
/// fields become empty strings, because judging values is `WorkloadSpec::validate`'s job.
pub fn spec_from_json(text: &str) -> Result<WorkloadSpec, Error> {
    let mut r = Reader::parse_hinted(Some(text), "spec", Role::Body, &FIELDS, hint)?;
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
        config: r.object("config"),
        execution_policy: r
            .string("execution_policy")
            .map(|p| ExecutionPolicy::from_wire(&p)),
        execution_policy_config: r.value("execution_policy_config"),
        worker_id: r.string("worker_id"),
        gpu_resource_id: r.string("gpu_resource_id"),
    };
    r.finish()?;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use inferencekey_core::ErrorKind;

    #[test]
    fn parses_every_field() {
        let spec = spec_from_json(
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
        let e = spec_from_json(
            r#"{"name": 1, "slug": "s", "model": "m", "provider": "aws", "config": []}"#,
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Validation);
        let fields: Vec<_> = e.problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["provider", "name", "config"]);
        assert!(e.problems[0].message.contains("placement"));
    }
}
