//! Workload bodies: parsing create/update requests, validating the result with the SDK's own
//! rules (`inferencekey_core::WorkloadSpec`), filling server defaults, and the response shape
//! (CONTRACT.md §3.2).

use inferencekey_core::domain::decode::json_type;
use inferencekey_core::enums::{Backend, ExecutionPolicy, TaskType};
use inferencekey_core::error::FieldError;
use inferencekey_core::policy::default_policy_config;
use inferencekey_core::slug::{canonical_slug, validate_slug};
use inferencekey_core::spec::wire_field;
use inferencekey_core::wire::Workload;
use inferencekey_core::WorkloadSpec;
use serde_json::{json, Map, Value};

use super::errors::ApiError;
use crate::runtime::process::{check_command, CommandPolicy};
use crate::runtime::readiness::Phase;
use crate::store::{Project, Store, WorkloadRecord};
use crate::util::{new_id, now_rfc3339};
use inferencekey_core::token::scrub;

/// Fields a client may write.
const WRITABLE: &[&str] = &[
    "name",
    "slug",
    "description",
    "task_type",
    "backend",
    "model_name",
    "config",
    "worker_id",
    "gpu_resource_id",
    "execution_policy",
    "execution_policy_config",
];

/// Fields the server sets; a client echoing a whole workload back gets a clear message.
const READ_ONLY: &[&str] = &[
    "id",
    "project_id",
    "project_slug",
    "created_at",
    "updated_at",
    "status",
    "status_message",
];

/// A field that was absent, explicitly `null`, or set.
#[derive(Debug, Clone, PartialEq, Default)]
enum Field<T> {
    #[default]
    Absent,
    Null,
    Set(T),
}

impl<T> Field<T> {
    fn set(self) -> Option<T> {
        match self {
            Field::Set(v) => Some(v),
            _ => None,
        }
    }
}

#[derive(Debug, Default)]
struct Body {
    name: Field<String>,
    slug: Field<String>,
    description: Field<String>,
    task_type: Field<String>,
    backend: Field<String>,
    model_name: Field<String>,
    config: Field<Map<String, Value>>,
    worker_id: Field<String>,
    gpu_resource_id: Field<String>,
    execution_policy: Field<String>,
    execution_policy_config: Field<Value>,
}

fn string_field(key: &str, v: Value) -> Result<Field<String>, ApiError> {
    match v {
        Value::Null => Ok(Field::Null),
        Value::String(s) => Ok(Field::Set(s)),
        other => Err(ApiError::validation(
            key,
            format!("must be a string, got {}", json_type(&other)),
        )),
    }
}

fn parse_body(obj: Map<String, Value>) -> Result<Body, ApiError> {
    let mut b = Body::default();
    let mut workload_slug = None;
    for (key, value) in obj {
        match key.as_str() {
            "name" => b.name = string_field(&key, value)?,
            "slug" => b.slug = string_field(&key, value)?,
            // Accepted so a workload read back can be written again; it must agree with slug.
            "workload_slug" => workload_slug = string_field(&key, value)?.set(),
            "description" => b.description = string_field(&key, value)?,
            "task_type" => b.task_type = string_field(&key, value)?,
            "backend" => b.backend = string_field(&key, value)?,
            "model_name" => b.model_name = string_field(&key, value)?,
            "worker_id" => b.worker_id = string_field(&key, value)?,
            "gpu_resource_id" => b.gpu_resource_id = string_field(&key, value)?,
            "execution_policy" => b.execution_policy = string_field(&key, value)?,
            "config" => {
                b.config = match value {
                    Value::Null => Field::Null,
                    Value::Object(m) => Field::Set(m),
                    other => {
                        return Err(ApiError::validation(
                            "config",
                            format!(
                        "must be an object such as {{\"command\": \"vllm serve <model>\"}}, got {}",
                        json_type(&other)
                    ),
                        ))
                    }
                }
            }
            "execution_policy_config" => {
                b.execution_policy_config = match value {
                    Value::Null => Field::Null,
                    // The shape is checked by the policy rules, which name the policy.
                    v => Field::Set(v),
                }
            }
            "provider" | "min_vram_gb" => {
                return Err(ApiError::validation(
                    key.as_str(),
                    "is not a workload field: placement is the platform's job; pin a \
                     registered worker with worker_id if you must",
                ))
            }
            "model" => {
                return Err(ApiError::validation(
                    "model",
                    "is not a wire field; send the model as model_name",
                ))
            }
            k if READ_ONLY.contains(&k) => {
                return Err(ApiError::validation(
                    k,
                    "is set by the server and cannot be written",
                ))
            }
            _ => {
                return Err(ApiError::validation(
                    key.as_str(),
                    format!("unknown field; accepted fields: {}", WRITABLE.join(", ")),
                ))
            }
        }
    }
    if let Some(ws) = workload_slug {
        match &b.slug {
            Field::Set(s) if canonical_slug(s) != canonical_slug(&ws) => {
                return Err(ApiError::validation(
                    "workload_slug",
                    "disagrees with slug; send only slug",
                ))
            }
            Field::Set(_) => {}
            _ => b.slug = Field::Set(ws),
        }
    }
    Ok(b)
}

/// Fails for a field that may not be `null` on update.
fn not_null<T>(field: &str, value: Field<T>) -> Result<Option<T>, ApiError> {
    match value {
        Field::Null => Err(ApiError::validation(
            field,
            "cannot be null; omit it to keep the current value",
        )),
        other => Ok(other.set()),
    }
}

/// `execution_policy_config` for `policy` when none is given, or a 400 naming the field.
fn default_config(policy: &str) -> Result<Value, ApiError> {
    let parsed = ExecutionPolicy::from_wire(policy);
    if !parsed.is_known() {
        // Spec validation reports the unknown policy itself.
        return Ok(json!({}));
    }
    default_policy_config(&parsed).ok_or_else(|| {
        ApiError::validation(
            "execution_policy_config",
            format!(
                "is required for the {policy} policy: give {{\"cron\": \"0 2 * * *\"}} or \
                 {{\"window\": \"Mon-Fri 08:00-20:00 Europe/Madrid\"}}"
            ),
        )
    })
}

/// A new workload from a create body: parsed, defaulted and validated.
pub async fn create_record(
    obj: Map<String, Value>,
    project: &Project,
    store: &dyn Store,
    policy: CommandPolicy,
) -> Result<WorkloadRecord, ApiError> {
    let b = parse_body(obj)?;
    let name = b.name.set().ok_or_else(|| {
        ApiError::validation(
            "name",
            "is required: a human-readable name for the workload",
        )
    })?;
    let model_name = b.model_name.set().ok_or_else(|| {
        ApiError::validation(
            "model_name",
            "is required: the model to serve, e.g. \"meta-llama/Llama-3.1-8B-Instruct\"",
        )
    })?;
    let slug = match b.slug.set() {
        Some(s) => validate_slug(&s, "slug"),
        None => validate_slug(&name, "slug").map_err(|e| {
            FieldError::new("slug", format!("was not given and the name {}", e.message))
        }),
    }
    .map_err(|e| ApiError::validation(e.field, e.message))?;
    let execution_policy = b
        .execution_policy
        .set()
        .unwrap_or_else(|| ExecutionPolicy::Fixed.as_str().to_string());
    let execution_policy_config = match b.execution_policy_config.set() {
        Some(v) => v,
        None => default_config(&execution_policy)?,
    };
    let now = now_rfc3339();
    let record = WorkloadRecord {
        id: new_id("wl"),
        project_id: project.id.clone(),
        project_slug: project.slug.clone(),
        // Strings are stored as sent (docs/contract.md §3.2): validation refuses the ones
        // that must match exactly, and nothing is trimmed behind the client's back.
        name,
        slug,
        description: b.description.set(),
        task_type: b
            .task_type
            .set()
            .unwrap_or_else(|| TaskType::default().as_str().to_string()),
        backend: b.backend.set(),
        model_name,
        config: Value::Object(b.config.set().unwrap_or_default()),
        worker_id: b.worker_id.set(),
        gpu_resource_id: b.gpu_resource_id.set(),
        execution_policy,
        execution_policy_config,
        created_at: now.clone(),
        updated_at: now,
        status: Phase::Scheduling.as_str().to_string(),
        status_message: "placing the workload on the local worker".into(),
    };
    validate(&record, store, policy).await?;
    Ok(record)
}

/// `current` with an update body applied, or `None` when the body changes nothing.
pub async fn update_record(
    current: &WorkloadRecord,
    obj: Map<String, Value>,
    store: &dyn Store,
    policy: CommandPolicy,
) -> Result<Option<WorkloadRecord>, ApiError> {
    let b = parse_body(obj)?;
    let mut w = current.clone();
    if let Some(slug) = not_null("slug", b.slug)? {
        if canonical_slug(&slug) != current.slug {
            return Err(ApiError::validation(
                "slug",
                format!(
                    "is immutable: this workload is {:?}; create a new workload to use another slug",
                    current.slug
                ),
            ));
        }
    }
    if let Some(name) = not_null("name", b.name)? {
        w.name = name;
    }
    if let Some(model) = not_null("model_name", b.model_name)? {
        w.model_name = model;
    }
    if let Some(t) = not_null("task_type", b.task_type)? {
        w.task_type = t;
    }
    match b.description {
        Field::Absent => {}
        Field::Null => w.description = None,
        Field::Set(d) => w.description = Some(d),
    }
    match b.backend {
        Field::Absent => {}
        Field::Null => {
            return Err(ApiError::validation(
                "backend",
                "cannot be removed: every workload names the engine that serves it; send \
                 another backend to change it",
            ))
        }
        Field::Set(v) => w.backend = Some(v),
    }
    match b.worker_id {
        Field::Absent => {}
        Field::Null => w.worker_id = None,
        Field::Set(v) => w.worker_id = Some(v),
    }
    match b.gpu_resource_id {
        Field::Absent => {}
        Field::Null => w.gpu_resource_id = None,
        Field::Set(v) => w.gpu_resource_id = Some(v),
    }
    // Objects are replaced, not merged: the SDK sends the whole object it wants.
    match b.config {
        Field::Absent => {}
        Field::Null => w.config = json!({}),
        Field::Set(m) => w.config = Value::Object(m),
    }
    let policy_changed = match not_null("execution_policy", b.execution_policy)? {
        Some(p) => {
            let changed = p != w.execution_policy;
            w.execution_policy = p;
            changed
        }
        None => false,
    };
    match b.execution_policy_config {
        Field::Set(v) => w.execution_policy_config = v,
        // A new policy without a config gets the new policy's defaults, not the old keys.
        Field::Null => w.execution_policy_config = default_config(&w.execution_policy)?,
        Field::Absent if policy_changed => {
            w.execution_policy_config = default_config(&w.execution_policy)?
        }
        Field::Absent => {}
    }
    if w == *current {
        return Ok(None);
    }
    validate(&w, store, policy).await?;
    w.updated_at = now_rfc3339();
    Ok(Some(w))
}

fn string_in_config(
    config: &mut Map<String, Value>,
    key: &str,
) -> Result<Option<String>, ApiError> {
    match config.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(ApiError::validation(
            format!("config.{key}"),
            format!("must be a string, got {}", json_type(&other)),
        )),
    }
}

/// Checks a complete workload with the SDK's rules plus what only the server knows:
/// registered workers and GPUs, and which engine commands this Manager runs.
async fn validate(
    w: &WorkloadRecord,
    store: &dyn Store,
    policy: CommandPolicy,
) -> Result<(), ApiError> {
    let mut config = w.config.as_object().cloned().unwrap_or_default();
    let command = string_in_config(&mut config, "command")?;
    let vllm_version = string_in_config(&mut config, "vllm_version")?;
    let spec = WorkloadSpec {
        name: w.name.clone(),
        slug: w.slug.clone(),
        model: w.model_name.clone(),
        backend: w.backend.as_deref().map(Backend::from_wire),
        project: None,
        description: w.description.clone(),
        command: command.clone(),
        vllm_version,
        task_type: Some(TaskType::from_wire(&w.task_type)),
        config: Some(config),
        execution_policy: Some(ExecutionPolicy::from_wire(&w.execution_policy)),
        execution_policy_config: Some(w.execution_policy_config.clone()),
        worker_id: w.worker_id.clone(),
        gpu_resource_id: w.gpu_resource_id.clone(),
    };
    // The model name reaches the engine's command line: it must never read as a flag.
    if w.model_name.starts_with('-') {
        return Err(ApiError::validation(
            "model_name",
            format!(
                "{:?} starts with '-', so an engine would read it as a flag; give the model's \
                 name or path",
                scrub(&w.model_name)
            ),
        ));
    }
    if let Err(e) = spec.check_secrets() {
        let mut err = ApiError::bad_request(e.message.clone());
        err.field = e.field.as_deref().map(wire_field);
        return Err(err);
    }
    // The SDK's rules, reported under the wire's field names (`model` is `model_name`).
    let problems: Vec<FieldError> = spec
        .problems()
        .into_iter()
        .map(|p| FieldError::new(wire_field(&p.field), p.message))
        .collect();
    if !problems.is_empty() {
        return Err(ApiError::from_problems(&problems));
    }

    if let Some(worker) = &w.worker_id {
        if store.worker(worker).await?.is_none() {
            return Err(ApiError::validation(
                "worker_id",
                format!(
                    "{worker:?} is not a registered worker; register one with \
                     `inferencekey worker register --name <name>`"
                ),
            ));
        }
    }
    if let Some(gpu) = &w.gpu_resource_id {
        if store.gpu(gpu).await?.is_none() {
            return Err(ApiError::validation(
                "gpu_resource_id",
                format!("{gpu:?} is not a registered GPU resource"),
            ));
        }
    }
    let private_ids = w
        .execution_policy_config
        .pointer("/workers/private_worker_ids")
        .and_then(Value::as_array);
    for (i, id) in private_ids.into_iter().flatten().enumerate() {
        let field = format!("execution_policy_config.workers.private_worker_ids[{i}]");
        let Some(id) = id.as_str() else {
            return Err(ApiError::validation(field, "must be a worker id string"));
        };
        if store.worker(id).await?.is_none() {
            return Err(ApiError::validation(
                field,
                format!("{id:?} is not a registered worker"),
            ));
        }
    }

    if let Some(command) = &command {
        check_command(spec.backend.as_ref(), command, policy)
            .map_err(|e| ApiError::validation(e.field, e.message))?;
    }
    if let Some(Backend::Custom(slug)) = &spec.backend {
        check_custom_backend(store, slug, &w.task_type, command.is_some(), policy).await?;
    }
    Ok(())
}

/// A workload naming a custom backend (docs/contract.md §7) runs the tenant's published
/// package of that slug, so the slug must be published and declare the workload's task type.
/// The one exception is local development: with `--allow-any-command`, a workload that brings
/// its own `config.command` runs that command under any backend name it likes.
async fn check_custom_backend(
    store: &dyn Store,
    slug: &str,
    task_type: &str,
    has_command: bool,
    policy: CommandPolicy,
) -> Result<(), ApiError> {
    let tenant = inferencekey_core::custom_backend::LOCAL_TENANT;
    match store.custom_backend(tenant, slug).await? {
        None if has_command && policy.allow_any => Ok(()),
        None => Err(ApiError::validation(
            "backend",
            format!(
                "no custom backend {slug:?} is published for this tenant; publish it with \
                 `inferencekey backend package DIR -o {slug}.tar.gz && inferencekey backend \
                 publish {slug}.tar.gz`, or use one of: {}",
                Backend::known_list()
            ),
        )),
        Some(_) if has_command => Err(ApiError::validation(
            "config.command",
            format!(
                "the custom backend {slug:?} is started by the Manager from its package; \
                 remove config.command"
            ),
        )),
        Some(b) if b.task_type != task_type => Err(ApiError::validation(
            "task_type",
            format!(
                "the custom backend {slug:?} serves task_type {:?}, not {task_type:?}; set \
                 task_type to {:?} or publish a backend for {task_type:?}",
                b.task_type, b.task_type
            ),
        )),
        Some(_) => Ok(()),
    }
}

/// The wire form of a workload, rendered through the core's [`Workload`] (the type every SDK
/// decodes), so the Manager's answer and the clients' reading of it have one declaration.
/// Absent optional fields are omitted rather than sent as `null`. `live` is the runtime's
/// current phase, fresher than the stored one.
pub fn to_json(w: &WorkloadRecord, live: Option<(Phase, String)>) -> Value {
    let (status, status_message) = match live {
        Some((phase, message)) => (phase.as_str().to_string(), message),
        None => (w.status.clone(), w.status_message.clone()),
    };
    let wire = Workload {
        id: Some(w.id.clone()),
        project_id: Some(w.project_id.clone()),
        project_slug: Some(w.project_slug.clone()),
        name: Some(w.name.clone()),
        slug: Some(w.slug.clone()),
        workload_slug: Some(w.slug.clone()),
        description: w.description.clone(),
        task_type: Some(TaskType::from_wire(&w.task_type)),
        backend: w.backend.as_deref().map(Backend::from_wire),
        model_name: Some(w.model_name.clone()),
        config: Some(w.config.clone()),
        worker_id: w.worker_id.clone(),
        gpu_resource_id: w.gpu_resource_id.clone(),
        execution_policy: Some(ExecutionPolicy::from_wire(&w.execution_policy)),
        execution_policy_config: Some(w.execution_policy_config.clone()),
        created_at: Some(w.created_at.clone()),
        updated_at: Some(w.updated_at.clone()),
        status: Some(status),
        status_message: Some(status_message),
        extra: Map::new(),
    };
    match serde_json::to_value(wire) {
        Ok(Value::Object(mut out)) => {
            out.retain(|_, v| !v.is_null());
            Value::Object(out)
        }
        // A struct of strings and JSON values always serialises to an object.
        _ => Value::Null,
    }
}
