//! `WorkloadSpec`: what the user declares, its validation (docs/contract.md §4 step 1) and its
//! wire form (§3.2).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::domain::decode::{decode_str, field_names, Role};
use crate::domain::enums::{Backend, ExecutionPolicy, TaskType};
use crate::domain::error::{Error, FieldError};
use crate::domain::policy::validate_policy_config;
use crate::domain::slug::validate_slug;
use crate::domain::token::contains_token;

/// A declared workload. `slug` is the idempotency key; there is no provider and no VRAM floor
/// because placement is the platform's job.
///
/// This serde form is the spec as it crosses a language boundary (Python, C, Go, Node, Java):
/// a JSON object with these field names, parsed by [`WorkloadSpec::from_json`]. Only the shape
/// is checked there; enum strings are kept even when unknown and absent required strings are
/// empty, because judging values is [`WorkloadSpec::validate`]'s job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkloadSpec {
    pub name: String,
    pub slug: String,
    pub model: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<Backend>,
    /// Overrides the client's project for this workload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The engine launch command; sent as `config.command`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Pins the vLLM runtime; sent as `config.vllm_version`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vllm_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_type: Option<TaskType>,
    /// Backend config; `command` / `vllm_version` are merged into it on the wire.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_policy: Option<ExecutionPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_policy_config: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu_resource_id: Option<String>,
}

/// A better word than "not a field" for keys users carry over from other platforms.
fn spec_hint(key: &str) -> Option<String> {
    match key {
        "provider" | "min_vram_gb" => {
            Some("placement is the platform's job, so specs have no such field; remove it".into())
        }
        "min_replicas" | "max_replicas" | "replicas" | "min_workers" | "max_workers" => {
            Some("belongs inside execution_policy_config, not at the top level".into())
        }
        _ => None,
    }
}

fn blank(s: &str) -> bool {
    s.trim().is_empty()
}

/// Leading or trailing whitespace in an identifier-like string.
fn padded(s: &str) -> bool {
    s.trim() != s
}

/// The wire path of a spec field path, for the Manager's answers: the spec's `model` is the
/// wire's `model_name`, and `command` / `vllm_version` travel inside `config`
/// (docs/contract.md §3.2). Other paths are the same on both sides.
pub fn wire_field(path: &str) -> String {
    let split = path.find(['.', '[']).unwrap_or(path.len());
    let (head, tail) = path.split_at(split);
    match head {
        "model" => format!("model_name{tail}"),
        "command" | "vllm_version" => format!("config.{head}{tail}"),
        _ => path.to_string(),
    }
}

/// Walks every string in a JSON value (keys included), calling `f` with its path.
fn walk_strings(path: &str, v: &Value, f: &mut dyn FnMut(&str, &str)) {
    match v {
        Value::String(s) => f(path, s),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk_strings(&format!("{path}[{i}]"), item, f);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                let p = format!("{path}.{}", crate::domain::token::scrub(k));
                f(&p, k);
                walk_strings(&p, item, f);
            }
        }
        _ => {}
    }
}

impl WorkloadSpec {
    /// The canonical slug (docs/contract.md §3.3); empty when the slug is unusable.
    pub fn canonical_slug(&self) -> String {
        crate::domain::slug::canonical_slug(&self.slug)
    }

    /// `config` as sent on the wire: the explicit config with `command` and `vllm_version`
    /// folded in. `None` when nothing is declared.
    pub fn wire_config(&self) -> Option<Map<String, Value>> {
        let mut config = self.config.clone().unwrap_or_default();
        if let Some(cmd) = &self.command {
            config.insert("command".into(), Value::String(cmd.clone()));
        }
        if let Some(v) = &self.vllm_version {
            config.insert("vllm_version".into(), Value::String(v.clone()));
        }
        (!config.is_empty() || self.config.is_some()).then_some(config)
    }

    /// The accepted JSON keys, in declaration order (read from the serde derive).
    pub fn fields() -> &'static [&'static str] {
        field_names::<WorkloadSpec>()
    }

    /// Parses spec JSON (the bindings' wire form). Only the shape is checked here (an
    /// object, known keys, strings where strings belong, `config` an object): a wrong shape
    /// is a `ValidationError` naming every offending field; `null` counts as absent.
    pub fn from_json(s: &str) -> Result<WorkloadSpec, Error> {
        decode_str(Some(s), "spec", Role::Request, spec_hint)
    }

    /// The spec's JSON, the form [`WorkloadSpec::from_json`] reads; absent fields omitted.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Fails with `ConfigurationError` when any string in the spec carries a token: specs are
    /// stored and printed in plans, so a secret there would leak. The walk is over the
    /// serialised spec, so a field added to the struct is covered without a line here.
    pub fn check_secrets(&self) -> Result<(), Error> {
        let mut found: Option<String> = None;
        let mut check = |path: &str, s: &str| {
            if found.is_none() && contains_token(s) {
                found = Some(path.to_string());
            }
        };
        if let Value::Object(fields) = self.to_json() {
            for (key, value) in &fields {
                walk_strings(key, value, &mut check);
            }
        }
        match found {
            None => Ok(()),
            Some(field) => Err(Error::configuration(format!(
                "secrets must never go in specs: {field} contains an ik_ token; pass keys to the client instead"
            ))
            .with_field(field)),
        }
    }

    /// Every problem with the spec, each naming its field. The Manager runs the same checks,
    /// so a spec the SDK accepts is one the Manager accepts and vice versa.
    ///
    /// No string is ever changed on its way to the server (docs/contract.md §3.2): free text
    /// (`name`, `description`, `command`, other `config` values) is kept exactly as given,
    /// and identifiers that must match something exactly (`model`, `backend`, `task_type`,
    /// `execution_policy`, `worker_id`, `gpu_resource_id`) are refused when padded with
    /// whitespace. The slug alone is canonicalised, as §3.3 documents.
    pub fn problems(&self) -> Vec<FieldError> {
        let mut out = Vec::new();
        for (field, value) in [
            ("name", &self.name),
            ("slug", &self.slug),
            ("model", &self.model),
        ] {
            if blank(value) {
                out.push(FieldError::new(field, "is required and must not be blank"));
            }
        }
        if !blank(&self.model) && padded(&self.model) {
            out.push(FieldError::new(
                "model",
                format!(
                    "{:?} starts or ends with whitespace, which no model name does; remove it",
                    crate::domain::token::scrub(&self.model)
                ),
            ));
        }
        if self.backend.is_none() {
            out.push(FieldError::new(
                "backend",
                format!(
                    "is required: the engine that serves the model, one of {} (or a custom \
                     backend slug)",
                    Backend::known_list()
                ),
            ));
        }
        if !blank(&self.slug) {
            if let Err(e) = validate_slug(&self.slug, "slug") {
                out.push(e);
            }
        }
        // A model name reaches an engine's command line: never as a flag.
        if self.model.trim_start().starts_with('-') {
            out.push(FieldError::new(
                "model",
                "must not start with '-' (an engine would read it as a flag)",
            ));
        }
        if let Some(config) = &self.config {
            let depth = json_depth(&serde_json::Value::Object(config.clone()));
            if depth > MAX_JSON_DEPTH {
                out.push(FieldError::new(
                    "config",
                    format!("nests {depth} levels deep; at most {MAX_JSON_DEPTH} are allowed"),
                ));
            }
        }
        if let Some(epc) = &self.execution_policy_config {
            let depth = json_depth(epc);
            if depth > MAX_JSON_DEPTH {
                out.push(FieldError::new(
                    "execution_policy_config",
                    format!("nests {depth} levels deep; at most {MAX_JSON_DEPTH} are allowed"),
                ));
            }
        }
        if let Some(p) = &self.project {
            if let Err(e) = validate_slug(p, "project") {
                out.push(e);
            }
        }
        if let Some(Backend::Custom(name)) = &self.backend {
            if let Err(e) = Backend::parse_user(name, "backend") {
                out.push(e);
            }
        }
        if let Some(TaskType::Other(t)) = &self.task_type {
            if let Err(e) = TaskType::parse_strict(t, "task_type") {
                out.push(e);
            }
        }
        if let Some(ExecutionPolicy::Other(p)) = &self.execution_policy {
            if let Err(e) = ExecutionPolicy::parse_strict(p, "execution_policy") {
                out.push(e);
            }
        }
        for (field, value) in [
            ("command", &self.command),
            ("vllm_version", &self.vllm_version),
            ("worker_id", &self.worker_id),
            ("gpu_resource_id", &self.gpu_resource_id),
        ] {
            if value.as_deref().is_some_and(blank) {
                out.push(FieldError::new(field, "must not be blank; omit it instead"));
            }
        }
        for (field, value) in [
            ("worker_id", &self.worker_id),
            ("gpu_resource_id", &self.gpu_resource_id),
        ] {
            if value.as_deref().is_some_and(|v| !blank(v) && padded(v)) {
                out.push(FieldError::new(
                    field,
                    "starts or ends with whitespace; give the registered id exactly",
                ));
            }
        }
        if let Some(config) = &self.config {
            for (field, key, own) in [
                ("command", "command", &self.command),
                ("vllm_version", "vllm_version", &self.vllm_version),
            ] {
                if let (Some(own), Some(inner)) = (own, config.get(key)) {
                    if inner.as_str() != Some(own.as_str()) {
                        out.push(FieldError::new(
                            field,
                            format!("conflicts with config.{key}; set it in one place only"),
                        ));
                    }
                }
            }
        }
        if self.vllm_version.is_some() {
            if let Some(b) = &self.backend {
                if !b.takes_vllm_version() {
                    out.push(FieldError::new(
                        "vllm_version",
                        format!("only applies to the vllm and vllm-omni backends, not {b}"),
                    ));
                }
            }
        }
        out.extend(validate_policy_config(
            self.execution_policy.as_ref(),
            self.execution_policy_config.as_ref(),
            "execution_policy_config",
        ));
        out
    }

    /// Local validation before any request: secrets first (a `ConfigurationError`), then every
    /// field problem at once (a `ValidationError` whose `.field` is the first).
    pub fn validate(&self) -> Result<(), Error> {
        self.check_secrets()?;
        let problems = self.problems();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::validation(problems))
        }
    }

    /// The `POST /api/projects/{project}/workloads` body. Absent optional fields are omitted.
    pub fn create_body(&self) -> Map<String, Value> {
        let mut body = Map::new();
        let s = |v: &str| Value::String(v.to_string());
        body.insert("name".into(), s(&self.name));
        body.insert("slug".into(), s(&self.canonical_slug()));
        if let Some(d) = &self.description {
            body.insert("description".into(), s(d));
        }
        body.insert(
            "task_type".into(),
            s(self.task_type.clone().unwrap_or_default().as_str()),
        );
        if let Some(b) = &self.backend {
            body.insert("backend".into(), s(b.as_str()));
        }
        body.insert("model_name".into(), s(&self.model));
        if let Some(config) = self.wire_config() {
            body.insert("config".into(), Value::Object(config));
        }
        if let Some(w) = &self.worker_id {
            body.insert("worker_id".into(), s(w));
        }
        if let Some(g) = &self.gpu_resource_id {
            body.insert("gpu_resource_id".into(), s(g));
        }
        if let Some(p) = &self.execution_policy {
            body.insert("execution_policy".into(), s(p.as_str()));
        }
        if let Some(epc) = &self.execution_policy_config {
            body.insert("execution_policy_config".into(), epc.clone());
        }
        body
    }
}

/// How deeply a spec's `config` (or `execution_policy_config`) may nest. One limit for the
/// SDK and the Manager, well inside the JSON decoders' recursion limits (serde_json: 128)
/// once a workload is wrapped in a list answer, so whatever the Manager stores every
/// binding can read back.
pub const MAX_JSON_DEPTH: usize = 32;

/// The nesting depth of a JSON value: a scalar is 0, `{}` / `[]` are 1.
pub fn json_depth(v: &serde_json::Value) -> usize {
    // Iterative, so a hostile value cannot overflow this stack either.
    let mut max = 0;
    let mut stack = vec![(v, 0usize)];
    while let Some((v, d)) = stack.pop() {
        match v {
            serde_json::Value::Object(m) => {
                max = max.max(d + 1);
                stack.extend(m.values().map(|c| (c, d + 1)));
            }
            serde_json::Value::Array(a) => {
                max = max.max(d + 1);
                stack.extend(a.iter().map(|c| (c, d + 1)));
            }
            _ => max = max.max(d),
        }
    }
    max
}

#[cfg(test)]
mod json_tests {
    use super::*;
    use crate::domain::enums::Backend;
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
    fn the_field_list_is_the_serialised_one() {
        let full = WorkloadSpec {
            backend: Some(Backend::Vllm),
            project: Some("p".into()),
            description: Some("d".into()),
            command: Some("c".into()),
            vllm_version: Some("v".into()),
            task_type: Some(TaskType::default()),
            config: Some(Map::new()),
            execution_policy: Some(ExecutionPolicy::Fixed),
            execution_policy_config: Some(Value::Null),
            worker_id: Some("w".into()),
            gpu_resource_id: Some("g".into()),
            ..Default::default()
        };
        let Value::Object(m) = full.to_json() else {
            panic!("not an object")
        };
        let mut declared: Vec<&str> = WorkloadSpec::fields().to_vec();
        declared.sort_unstable();
        assert_eq!(m.keys().map(String::as_str).collect::<Vec<_>>(), declared);
        assert_eq!(
            WorkloadSpec::from_json(&full.to_json().to_string())
                .unwrap()
                .backend,
            full.backend
        );
    }

    #[test]
    fn a_secret_anywhere_in_the_spec_is_found() {
        let token = "ik_live_abcdefghij_SECRETSECRETSECRET";
        for (field, spec) in [
            (
                "name",
                WorkloadSpec {
                    name: token.into(),
                    ..Default::default()
                },
            ),
            (
                "backend",
                WorkloadSpec {
                    backend: Some(Backend::from_wire(token)),
                    ..Default::default()
                },
            ),
            (
                "execution_policy",
                WorkloadSpec {
                    execution_policy: Some(ExecutionPolicy::from_wire(token)),
                    ..Default::default()
                },
            ),
            (
                "config.k[0]",
                WorkloadSpec {
                    config: serde_json::json!({"k": [token]}).as_object().cloned(),
                    ..Default::default()
                },
            ),
        ] {
            let e = spec.check_secrets().unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field));
            assert!(!e.to_string().contains("SECRET"));
        }
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
