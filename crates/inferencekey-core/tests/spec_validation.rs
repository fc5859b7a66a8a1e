//! Spec-level validation through the public API: every spec in the seed docs validates, bad
//! specs fail with the right kind and field, and a spec is always in sync with the workload
//! created from it.

use inferencekey_core::diff::diff;
use inferencekey_core::wire::Workload;
use inferencekey_core::{Backend, ErrorKind, ExecutionPolicy, TaskType, WorkloadSpec};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// Stands in for the docs' elided `"wrk_7Yc2..."`.
const WORKER: &str = "wrk_7Yc2abcd";

fn spec(name: &str, slug: &str, model: &str, backend: Backend, command: &str) -> WorkloadSpec {
    WorkloadSpec {
        name: name.into(),
        slug: slug.into(),
        model: model.into(),
        backend: Some(backend),
        command: Some(command.into()),
        ..Default::default()
    }
}

fn task(mut s: WorkloadSpec, t: TaskType) -> WorkloadSpec {
    s.task_type = Some(t);
    s
}

fn policy(mut s: WorkloadSpec, p: ExecutionPolicy, config: Value) -> WorkloadSpec {
    s.execution_policy = Some(p);
    s.execution_policy_config = Some(config);
    s
}

fn private(mut s: WorkloadSpec) -> WorkloadSpec {
    s.worker_id = Some(WORKER.into());
    s
}

fn cloud_autoscaling(max: u32, cuda: bool) -> Value {
    let mut pool = json!({
        "gpu_pool": ["NVIDIA A100-SXM4-80GB"], "max_hourly_cost_usd": 5.0, "max_instances": max,
    });
    if cuda {
        pool["allowed_cuda_versions"] = json!(["13.0"]);
    }
    json!({
        "min_workers": 0, "max_workers": max, "max_hourly_cost_usd": 5.0,
        "workers": {"source": "cloud", "cloud_pool": pool},
    })
}

fn private_autoscaling() -> Value {
    json!({
        "min_workers": 1, "max_workers": 4,
        "workers": {"source": "private", "private_worker_ids": [WORKER]},
    })
}

fn fixed(n: u32) -> Value {
    json!({ "replicas": n })
}

fn cron(expr: &str) -> Value {
    json!({ "cron": expr })
}

/// Every WorkloadSpec in seed 004 ("Three axes, one spec"): each modality with its base
/// policy and its variations, cloud and private; plus the specs of seed 003.
fn seed_specs() -> Vec<(&'static str, WorkloadSpec)> {
    use ExecutionPolicy::{Autoscaling, Fixed, Scheduled};
    let support = spec(
        "Support bot",
        "support-bot",
        "meta-llama/Llama-3.1-8B-Instruct",
        Backend::Vllm,
        "vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 8192",
    );
    let billing = task(
        spec(
            "Billing embeddings",
            "billing",
            "BAAI/bge-large-en-v1.5",
            Backend::Vllm,
            "vllm serve BAAI/bge-large-en-v1.5 --task embed",
        ),
        TaskType::Embedding,
    );
    let poster = task(
        spec(
            "Poster maker",
            "poster-maker",
            "stabilityai/stable-diffusion-3.5-large",
            Backend::VllmOmni,
            "vllm-omni serve stabilityai/stable-diffusion-3.5-large",
        ),
        TaskType::Text2image,
    );
    let voice = task(
        spec(
            "Voice over",
            "voice-over",
            "hexgrad/Kokoro-82M",
            Backend::VllmOmni,
            "vllm-omni serve hexgrad/Kokoro-82M",
        ),
        TaskType::Text2audio,
    );
    let transcriber = task(
        spec(
            "Transcriber",
            "transcriber",
            "openai/whisper-large-v3",
            Backend::VllmOmni,
            "vllm-omni serve openai/whisper-large-v3",
        ),
        TaskType::Audio2text,
    );
    let reranker = spec(
        "Search reranker",
        "search-reranker",
        "BAAI/bge-reranker-v2-m3",
        Backend::Vllm,
        "vllm serve BAAI/bge-reranker-v2-m3 --task score",
    );
    let placement = WorkloadSpec {
        name: "Placement demo".into(),
        slug: "placement-demo".into(),
        model: "meta-llama/Llama-3.1-8B-Instruct".into(),
        backend: Some(Backend::Vllm),
        ..Default::default()
    };
    let mut poster_pinned = poster.clone();
    poster_pinned.vllm_version = Some("0.6.3".into());
    let mut support_pinned = support.clone();
    support_pinned.name = "support-bot".into();
    support_pinned.vllm_version = Some("0.6.3".into());
    let mut support_autoscaling = support.clone();
    support_autoscaling.name = "support-bot".into();
    support_autoscaling.execution_policy = Some(Autoscaling);

    vec![
        // 004: cloud vs private placement.
        ("placement cloud", placement.clone()),
        ("placement private", private(placement)),
        // 004 text2text.
        (
            "text2text fixed",
            policy(task(support.clone(), TaskType::Text2text), Fixed, fixed(1)),
        ),
        (
            "text2text autoscaling cloud",
            policy(support.clone(), Autoscaling, cloud_autoscaling(5, true)),
        ),
        (
            "text2text scheduled window",
            policy(
                support.clone(),
                Scheduled,
                json!({"window": "Mon-Fri 08:00-20:00 Europe/Madrid"}),
            ),
        ),
        (
            "text2text private fixed",
            private(policy(support.clone(), Fixed, fixed(2))),
        ),
        // 004 embedding.
        (
            "embedding scheduled",
            policy(billing.clone(), Scheduled, cron("0 2 * * *")),
        ),
        ("embedding fixed", policy(billing.clone(), Fixed, fixed(1))),
        (
            "embedding private autoscaling",
            private(policy(billing.clone(), Autoscaling, private_autoscaling())),
        ),
        // 004 text2image.
        (
            "text2image autoscaling",
            policy(poster_pinned, Autoscaling, cloud_autoscaling(3, false)),
        ),
        ("text2image fixed", policy(poster.clone(), Fixed, fixed(1))),
        (
            "text2image private scheduled",
            private(policy(poster, Scheduled, cron("0 1 * * *"))),
        ),
        // 004 text2audio.
        (
            "text2audio private fixed",
            private(policy(voice.clone(), Fixed, fixed(1))),
        ),
        (
            "text2audio autoscaling",
            policy(voice.clone(), Autoscaling, cloud_autoscaling(4, false)),
        ),
        (
            "text2audio scheduled",
            policy(voice, Scheduled, cron("0 6 * * *")),
        ),
        // 004 audio2text.
        (
            "audio2text autoscaling",
            policy(
                transcriber.clone(),
                Autoscaling,
                cloud_autoscaling(6, false),
            ),
        ),
        (
            "audio2text private fixed",
            private(policy(transcriber.clone(), Fixed, fixed(1))),
        ),
        (
            "audio2text scheduled",
            policy(transcriber, Scheduled, cron("0 0 * * *")),
        ),
        // 004 async-only modalities.
        (
            "reranker autoscaling",
            policy(
                task(reranker.clone(), TaskType::Reranker),
                Autoscaling,
                cloud_autoscaling(3, false),
            ),
        ),
        (
            "classification autoscaling",
            policy(
                task(reranker.clone(), TaskType::Classification),
                Autoscaling,
                cloud_autoscaling(3, false),
            ),
        ),
        (
            "reward autoscaling",
            policy(
                task(reranker, TaskType::Reward),
                Autoscaling,
                cloud_autoscaling(3, false),
            ),
        ),
        // 003: backend config, task type, and a policy with its config omitted.
        ("003 vllm_version pin", support_pinned),
        (
            "003 embedding",
            task(
                spec(
                    "billing-embeddings",
                    "billing",
                    "BAAI/bge-large-en-v1.5",
                    Backend::Vllm,
                    "vllm serve BAAI/bge-large-en-v1.5",
                ),
                TaskType::Embedding,
            ),
        ),
        ("003 autoscaling without config", support_autoscaling),
    ]
}

#[test]
fn every_seed_spec_validates() {
    let specs = seed_specs();
    for (label, s) in &specs {
        assert_eq!(s.problems(), vec![], "{label}");
        s.validate().unwrap_or_else(|e| panic!("{label}: {e}"));
    }
    // All five documented modalities and all three policies, cloud and private, are covered.
    for t in [
        TaskType::Text2text,
        TaskType::Embedding,
        TaskType::Text2image,
        TaskType::Text2audio,
        TaskType::Audio2text,
        TaskType::Reranker,
    ] {
        assert!(specs.iter().any(|(_, s)| s.task_type.as_ref() == Some(&t)));
    }
    for p in ExecutionPolicy::KNOWN {
        for pinned in [false, true] {
            assert!(
                specs
                    .iter()
                    .any(|(_, s)| s.execution_policy.as_ref() == Some(p)
                        && s.worker_id.is_some() == pinned),
                "{p} pinned={pinned}"
            );
        }
    }
}

#[test]
fn seed_specs_are_in_sync_with_what_they_create() {
    for (label, s) in seed_specs() {
        let live = created(&s);
        assert_eq!(diff(&s, &live), vec![], "{label}");
    }
}

/// The workload the server would answer for a create of `s`.
fn created(s: &WorkloadSpec) -> Workload {
    let mut body = s.create_body();
    body.insert("id".into(), json!("wl_1"));
    serde_json::from_value(Value::Object(body)).expect("create body decodes as a Workload")
}

fn base() -> WorkloadSpec {
    seed_specs().swap_remove(2).1
}

fn autoscaling(config: Value) -> WorkloadSpec {
    policy(base(), ExecutionPolicy::Autoscaling, config)
}

fn cloud_with(patch: impl FnOnce(&mut Value)) -> WorkloadSpec {
    let mut c = cloud_autoscaling(5, false);
    patch(&mut c);
    autoscaling(c)
}

fn config_map(v: Value) -> Option<Map<String, Value>> {
    v.as_object().cloned()
}

#[test]
fn invalid_specs_fail_with_kind_and_field() {
    use ErrorKind::{Configuration, Validation};
    use ExecutionPolicy::{Fixed, Scheduled};
    let live = "ik_live_abcdefghij_SECRETSECRET";
    let sdk = "ik_sdk_abcdefghij_SECRETSECRET";
    let with = |f: &dyn Fn(&mut WorkloadSpec)| {
        let mut s = base();
        f(&mut s);
        s
    };
    let cases: Vec<(&str, WorkloadSpec, ErrorKind, &str)> = vec![
        (
            "blank name",
            with(&|s| s.name = "  ".into()),
            Validation,
            "name",
        ),
        (
            "blank slug",
            with(&|s| s.slug = String::new()),
            Validation,
            "slug",
        ),
        (
            "blank model",
            with(&|s| s.model = "\t".into()),
            Validation,
            "model",
        ),
        (
            "slug without alphanumerics",
            with(&|s| s.slug = "--!!--".into()),
            Validation,
            "slug",
        ),
        (
            "slug over 63",
            with(&|s| s.slug = "a".repeat(64)),
            Validation,
            "slug",
        ),
        (
            "project not a slug",
            with(&|s| s.project = Some("***".into())),
            Validation,
            "project",
        ),
        (
            "unknown task_type",
            with(&|s| s.task_type = Some(TaskType::Other("text-to-text".into()))),
            Validation,
            "task_type",
        ),
        (
            "custom backend not a slug",
            with(&|s| s.backend = Some(Backend::Custom("My Engine".into()))),
            Validation,
            "backend",
        ),
        (
            "unknown execution_policy",
            with(&|s| s.execution_policy = Some(ExecutionPolicy::Other("burst".into()))),
            Validation,
            "execution_policy",
        ),
        (
            "blank command",
            with(&|s| s.command = Some(" ".into())),
            Validation,
            "command",
        ),
        (
            "no backend",
            with(&|s| s.backend = None),
            Validation,
            "backend",
        ),
        (
            "padded backend",
            with(&|s| s.backend = Some(Backend::from_wire(" vllm"))),
            Validation,
            "backend",
        ),
        (
            "padded model",
            with(&|s| s.model = " meta-llama/Llama-3.1-8B-Instruct".into()),
            Validation,
            "model",
        ),
        (
            "model with a trailing newline",
            with(&|s| s.model = "m\n".into()),
            Validation,
            "model",
        ),
        (
            "padded worker_id",
            with(&|s| s.worker_id = Some("wrk_1 ".into())),
            Validation,
            "worker_id",
        ),
        (
            "padded gpu_resource_id",
            with(&|s| s.gpu_resource_id = Some(" gpu_1".into())),
            Validation,
            "gpu_resource_id",
        ),
        (
            "blank worker_id",
            with(&|s| s.worker_id = Some("".into())),
            Validation,
            "worker_id",
        ),
        (
            "blank gpu_resource_id",
            with(&|s| s.gpu_resource_id = Some(" ".into())),
            Validation,
            "gpu_resource_id",
        ),
        (
            "vllm_version on ollama",
            with(&|s| {
                s.backend = Some(Backend::Ollama);
                s.command = None;
                s.vllm_version = Some("0.6.3".into());
            }),
            Validation,
            "vllm_version",
        ),
        (
            "command conflicts with config.command",
            with(&|s| s.config = config_map(json!({"command": "vllm serve other"}))),
            Validation,
            "command",
        ),
        (
            "vllm_version conflicts with config.vllm_version",
            with(&|s| {
                s.vllm_version = Some("0.6.3".into());
                s.config = config_map(json!({"vllm_version": "0.5.0"}));
            }),
            Validation,
            "vllm_version",
        ),
        // Secrets anywhere in the spec.
        (
            "token in command",
            with(&|s| s.command = Some(format!("vllm serve m --api-key {live}"))),
            Configuration,
            "command",
        ),
        (
            "token in description",
            with(&|s| s.description = Some(format!("key: {sdk}"))),
            Configuration,
            "description",
        ),
        (
            "token in name",
            with(&|s| s.name = format!("bot {live}")),
            Configuration,
            "name",
        ),
        (
            "token in model",
            with(&|s| s.model = live.into()),
            Configuration,
            "model",
        ),
        (
            "token in nested config",
            with(&|s| s.config = config_map(json!({"env": {"HF_TOKEN": "x", "KEY": live}}))),
            Configuration,
            "config.env.KEY",
        ),
        (
            "token in a config list",
            with(&|s| s.config = config_map(json!({"args": ["--port", sdk]}))),
            Configuration,
            "config.args[1]",
        ),
        (
            "token in a policy config value",
            cloud_with(|c| c["workers"]["cloud_pool"]["gpu_pool"] = json!([live])),
            Configuration,
            "execution_policy_config.workers.cloud_pool.gpu_pool[0]",
        ),
        (
            "token in worker_id",
            with(&|s| s.worker_id = Some(live.into())),
            Configuration,
            "worker_id",
        ),
        // execution_policy_config rules.
        (
            "config not an object",
            policy(base(), Fixed, json!([1])),
            Validation,
            "execution_policy_config",
        ),
        (
            "fixed replicas 0",
            policy(base(), Fixed, fixed(0)),
            Validation,
            "execution_policy_config.replicas",
        ),
        (
            "fixed replicas boolean",
            policy(base(), Fixed, json!({"replicas": true})),
            Validation,
            "execution_policy_config.replicas",
        ),
        (
            "fixed replicas string",
            policy(base(), Fixed, json!({"replicas": "2"})),
            Validation,
            "execution_policy_config.replicas",
        ),
        (
            "policy omitted, autoscaling key",
            with(&|s| {
                s.execution_policy = None;
                s.execution_policy_config = Some(json!({"max_workers": 2}));
            }),
            Validation,
            "execution_policy_config.max_workers",
        ),
        (
            "scheduled with neither",
            policy(base(), Scheduled, json!({})),
            Validation,
            "execution_policy_config",
        ),
        (
            "scheduled with both",
            policy(
                base(),
                Scheduled,
                json!({"cron": "0 2 * * *", "window": "Daily 08:00-20:00 UTC"}),
            ),
            Validation,
            "execution_policy_config",
        ),
        (
            "cron with seconds",
            policy(base(), Scheduled, cron("0 0 2 * * *")),
            Validation,
            "execution_policy_config.cron",
        ),
        (
            "window with unknown zone",
            policy(
                base(),
                Scheduled,
                json!({"window": "Mon-Fri 08:00-20:00 Europe/Atlantis"}),
            ),
            Validation,
            "execution_policy_config.window",
        ),
        (
            "min_replicas instead of min_workers",
            cloud_with(|c| {
                let v = c.as_object_mut().unwrap().remove("min_workers").unwrap();
                c["min_replicas"] = v;
            }),
            Validation,
            "execution_policy_config.min_replicas",
        ),
        (
            "max_workers below min_workers",
            cloud_with(|c| c["min_workers"] = json!(6)),
            Validation,
            "execution_policy_config.max_workers",
        ),
        (
            "cloud without a cost ceiling",
            cloud_with(|c| {
                c.as_object_mut().unwrap().remove("max_hourly_cost_usd");
            }),
            Validation,
            "execution_policy_config.max_hourly_cost_usd",
        ),
        (
            "cost ceiling zero",
            cloud_with(|c| c["max_hourly_cost_usd"] = json!(0)),
            Validation,
            "execution_policy_config.max_hourly_cost_usd",
        ),
        (
            "empty gpu_pool",
            cloud_with(|c| c["workers"]["cloud_pool"]["gpu_pool"] = json!([])),
            Validation,
            "execution_policy_config.workers.cloud_pool.gpu_pool",
        ),
        (
            "blank gpu_pool entry",
            cloud_with(|c| c["workers"]["cloud_pool"]["gpu_pool"] = json!([""])),
            Validation,
            "execution_policy_config.workers.cloud_pool.gpu_pool[0]",
        ),
        (
            "unknown cloud_pool key",
            cloud_with(|c| c["workers"]["cloud_pool"]["region"] = json!("eu")),
            Validation,
            "execution_policy_config.workers.cloud_pool.region",
        ),
        (
            "bad source",
            cloud_with(|c| c["workers"]["source"] = json!("aws")),
            Validation,
            "execution_policy_config.workers.source",
        ),
        (
            "private without worker ids",
            autoscaling(
                json!({"max_workers": 2, "workers": {"source": "private", "private_worker_ids": []}}),
            ),
            Validation,
            "execution_policy_config.workers.private_worker_ids",
        ),
        (
            "legacy gpu_pool with cuda pin",
            autoscaling(json!({
                "max_workers": 2, "max_hourly_cost_usd": 1, "gpu_pool": ["A"],
                "allowed_cuda_versions": ["13.0"],
            })),
            Validation,
            "execution_policy_config.allowed_cuda_versions",
        ),
        (
            "workers and legacy gpu_pool",
            cloud_with(|c| c["gpu_pool"] = json!(["A"])),
            Validation,
            "execution_policy_config.gpu_pool",
        ),
        (
            "neither workers nor gpu_pool",
            autoscaling(json!({"max_workers": 2, "max_hourly_cost_usd": 1})),
            Validation,
            "execution_policy_config.workers",
        ),
    ];
    assert!(cases.len() >= 30);
    for (label, s, kind, field) in cases {
        let err = s.validate().expect_err(label);
        assert_eq!(err.kind, kind, "{label}: {err}");
        assert_eq!(err.field.as_deref(), Some(field), "{label}: {err}");
        let text = format!("{err} {err:?}");
        assert!(!text.contains("SECRET"), "{label} leaks: {text}");
        match kind {
            Validation => {
                assert!(err.to_string().starts_with("validation error: "), "{label}");
                assert_eq!(s.problems().first().map(|p| p.field.as_str()), Some(field));
            }
            _ => assert!(
                err.message.contains("secrets must never go in specs"),
                "{label}"
            ),
        }
    }
}

/// A token used as a key must not come back in `.field` or the message.
#[test]
fn token_in_a_policy_config_key_is_a_configuration_error() {
    let s = cloud_with(|c| c["ik_live_abcdefghij_SECRETSECRET"] = json!(1));
    let err = s.validate().expect_err("token in key");
    assert_eq!(err.kind, ErrorKind::Configuration);
    let field = err.field.as_deref().unwrap_or_default();
    assert!(field.starts_with("execution_policy_config."), "{field}");
    assert!(!err.to_string().contains("SECRET"));
}

#[test]
fn every_problem_is_reported_at_once() {
    let mut s = cloud_with(|c| c["workers"]["cloud_pool"]["gpu_pool"] = json!([]));
    s.name = " ".into();
    s.slug = "!!".into();
    let err = s.validate().expect_err("three problems");
    let fields: Vec<&str> = err.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "name",
            "slug",
            "execution_policy_config.workers.cloud_pool.gpu_pool"
        ]
    );
    assert_eq!(err.field.as_deref(), Some("name"));
}

// ---- property: a valid spec is in sync with the workload it creates ----

fn text(re: &'static str) -> impl Strategy<Value = String> {
    // No `_` anywhere, so a generated string can never look like an `ik_` token.
    proptest::string::string_regex(re).expect("valid regex")
}

fn arb_backend() -> impl Strategy<Value = Option<Backend>> {
    // Always some backend: the Manager requires one, so the SDK does too.
    prop_oneof![
        prop::sample::select(Backend::KNOWN.to_vec()).prop_map(Some),
        text("[a-z][a-z0-9]{0,8}(-[a-z0-9]{1,5})?").prop_map(|s| Some(Backend::from_wire(&s))),
    ]
}

fn arb_json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
        (-1.0e6f64..1.0e6).prop_map(Value::from),
        text("[a-zA-Z0-9 ./:=-]{0,16}").prop_map(Value::String),
    ]
}

fn arb_config() -> impl Strategy<Value = Option<Map<String, Value>>> {
    let value = arb_json_leaf().prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map(text("[a-z]{1,6}"), inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    prop::option::of(
        prop::collection::btree_map(
            text("[a-z]{1,10}").prop_filter("set through the spec field", |k| k != "command"),
            value,
            0..4,
        )
        .prop_map(|m| m.into_iter().collect()),
    )
}

fn arb_gpu_names() -> impl Strategy<Value = Value> {
    prop::collection::vec(
        prop_oneof![
            Just("NVIDIA A100-SXM4-80GB".to_string()),
            Just("NVIDIA H100 80GB HBM3".to_string()),
            text("[A-Za-z0-9][A-Za-z0-9 -]{0,20}"),
        ],
        1..4,
    )
    .prop_map(|v| json!(v))
}

fn arb_policy() -> impl Strategy<Value = (Option<ExecutionPolicy>, Option<Value>)> {
    use ExecutionPolicy::{Autoscaling, Fixed, Scheduled};
    // Integers only: `2.0` is refused (issue #19, finding 13).
    let replicas = (1u32..20).prop_map(|n| json!({ "replicas": n }));
    let schedule = prop_oneof![
        prop::sample::select(vec![
            "0 2 * * *",
            "*/15 * * * *",
            "30 4 * JAN-MAR MON-FRI",
            "0 9-17 * * 1-5",
            "0 0 1,15 * *",
        ])
        .prop_map(|c| json!({ "cron": c })),
        prop::sample::select(vec![
            "Mon-Fri 08:00-20:00 Europe/Madrid",
            "Daily 22:00-06:00 UTC",
            "Sat,Sun 10:00-14:00 America/New_York",
        ])
        .prop_map(|w| json!({ "window": w })),
    ];
    let bounds = (0u32..4, 0u32..6).prop_map(|(min, extra)| (min, min.max(1) + extra));
    let cost = (1u32..400).prop_map(|c| f64::from(c) / 4.0);
    let cloud = (
        bounds.clone(),
        cost.clone(),
        arb_gpu_names(),
        prop::option::of(1u32..10),
        prop::option::of(prop::sample::select(vec!["12.4", "13.0", "12.8.1"])),
    )
        .prop_map(|((min, max), cost, pool, instances, cuda)| {
            let mut cloud_pool = json!({ "gpu_pool": pool });
            if let Some(n) = instances {
                cloud_pool["max_instances"] = json!(n);
            }
            if let Some(v) = cuda {
                cloud_pool["allowed_cuda_versions"] = json!([v]);
            }
            json!({
                "min_workers": min, "max_workers": max, "max_hourly_cost_usd": cost,
                "workers": {"source": "cloud", "cloud_pool": cloud_pool},
            })
        });
    let private = (
        bounds.clone(),
        prop::option::of(cost.clone()),
        prop::collection::vec(text("wrk[A-Za-z0-9]{1,10}"), 1..3),
    )
        .prop_map(|((min, max), cost, ids)| {
            let mut c = json!({
                "min_workers": min, "max_workers": max,
                "workers": {"source": "private", "private_worker_ids": ids},
            });
            if let Some(cost) = cost {
                c["max_hourly_cost_usd"] = json!(cost);
            }
            c
        });
    let legacy = (bounds, cost, arb_gpu_names()).prop_map(|((min, max), cost, pool)| {
        json!({"min_workers": min, "max_workers": max, "max_hourly_cost_usd": cost, "gpu_pool": pool})
    });
    prop_oneof![
        Just((None, None)),
        replicas.clone().prop_map(|c| (None, Some(c))),
        Just((Some(Fixed), None)),
        replicas.prop_map(|c| (Some(Fixed), Some(c))),
        schedule.prop_map(|c| (Some(Scheduled), Some(c))),
        Just((Some(Autoscaling), None)),
        cloud.prop_map(|c| (Some(Autoscaling), Some(c))),
        private.prop_map(|c| (Some(Autoscaling), Some(c))),
        legacy.prop_map(|c| (Some(Autoscaling), Some(c))),
    ]
}

prop_compose! {
    fn arb_spec()(
        // Free text, kept exactly as given: padding included.
        name in text(" ?[A-Za-z0-9][A-Za-z0-9 .'-]{0,30} ?"),
        slug in text("[A-Za-z0-9][A-Za-z0-9 .-]{0,40}"),
        model in text("[A-Za-z0-9][A-Za-z0-9./:-]{0,40}"),
        backend in arb_backend(),
        task_type in prop::option::of(prop::sample::select(TaskType::KNOWN.to_vec())),
        description in prop::option::of(text("[^_]{0,30}")),
        command in prop::option::of(text("[a-z][a-z0-9 ./=-]{0,40}")),
        vllm_version in prop::option::of(text("[0-9]\\.[0-9]{1,2}\\.[0-9]")),
        config in arb_config(),
        worker_id in prop::option::of(text("wrk[A-Za-z0-9]{1,10}")),
        gpu_resource_id in prop::option::of(text("gpu[A-Za-z0-9]{1,10}")),
        (execution_policy, execution_policy_config) in arb_policy(),
    ) -> WorkloadSpec {
        let takes_version = backend.as_ref().is_none_or(Backend::takes_vllm_version);
        let command = command.filter(|_| backend.as_ref().is_none_or(Backend::takes_command));
        WorkloadSpec {
            name,
            slug,
            model,
            backend,
            project: None,
            description,
            command,
            vllm_version: vllm_version.filter(|_| takes_version),
            task_type,
            config,
            execution_policy,
            execution_policy_config,
            worker_id,
            gpu_resource_id,
        }
    }
}

/// Changes one declared field of `s` and returns the plan field that change must show up as.
fn mutate(s: &mut WorkloadSpec, which: usize) -> String {
    let field = |f: &str| f.to_string();
    match which % 12 {
        0 => {
            s.name = format!("{} x", s.name.trim());
            field("name")
        }
        1 => {
            s.description = Some(
                s.description
                    .as_deref()
                    .map_or("new".into(), |d| format!("{d}!")),
            );
            field("description")
        }
        2 => {
            let now = s.task_type.clone().unwrap_or_default();
            let next = TaskType::KNOWN.iter().find(|t| **t != now).unwrap().clone();
            s.task_type = Some(next);
            field("task_type")
        }
        3 => {
            s.backend = Some(if s.backend == Some(Backend::Vllm) {
                Backend::VllmOmni
            } else {
                Backend::Vllm
            });
            field("backend")
        }
        4 => {
            s.model = format!("{}-v2", s.model.trim());
            field("model_name")
        }
        5 => {
            s.command = Some(
                s.command
                    .as_deref()
                    .map_or("serve".into(), |c| format!("{c} --x")),
            );
            field("config.command")
        }
        6 => {
            s.vllm_version = Some(
                s.vllm_version
                    .as_deref()
                    .map_or("9.9.9".into(), |v| format!("{v}.1")),
            );
            field("config.vllm_version")
        }
        7 => {
            s.worker_id = Some(
                s.worker_id
                    .as_deref()
                    .map_or("wrkNew".into(), |w| format!("{w}x")),
            );
            field("worker_id")
        }
        8 => {
            s.gpu_resource_id = Some(
                s.gpu_resource_id
                    .as_deref()
                    .map_or("gpuNew".into(), |g| format!("{g}x")),
            );
            field("gpu_resource_id")
        }
        9 => {
            let next = ExecutionPolicy::KNOWN
                .iter()
                .find(|p| Some(*p) != s.execution_policy.as_ref())
                .unwrap()
                .clone();
            s.execution_policy = Some(next);
            field("execution_policy")
        }
        10 => match s.execution_policy_config.as_mut() {
            Some(c) if c.get("replicas").is_some() => {
                c["replicas"] = json!(c["replicas"].as_u64().unwrap() + 1);
                field("execution_policy_config.replicas")
            }
            Some(c) if c.get("cron").is_some() => {
                c["cron"] = json!("59 23 * * *");
                field("execution_policy_config.cron")
            }
            Some(c) if c.get("window").is_some() => {
                c["window"] = json!("Mon 01:00-02:00 Asia/Tokyo");
                field("execution_policy_config.window")
            }
            Some(c) => {
                c["max_workers"] = json!(c["max_workers"].as_u64().unwrap() + 1);
                field("execution_policy_config.max_workers")
            }
            None => {
                // A fresh config shows up key by key, so declare a one-key config; the policy
                // stays as it is, so it is the only change.
                let (key, value) = match s.execution_policy {
                    Some(ExecutionPolicy::Scheduled) => ("cron", json!("0 3 * * *")),
                    Some(ExecutionPolicy::Autoscaling) => ("max_workers", json!(2)),
                    _ => ("replicas", json!(3)),
                };
                s.execution_policy_config = Some(json!({ key: value }));
                format!("execution_policy_config.{key}")
            }
        },
        _ => {
            let config = s.config.get_or_insert_with(Map::new);
            let key = config
                .keys()
                .find(|k| *k != "command" && *k != "vllm_version")
                .cloned()
                .unwrap_or_else(|| "added".into());
            // Generated values are ASCII, so this string differs from any old value.
            config.insert(key.clone(), json!("\u{2603} changed"));
            format!("config.{key}")
        }
    }
}

proptest! {
    #[test]
    fn valid_spec_round_trips_through_create_without_drift(s in arb_spec()) {
        prop_assert!(s.validate().is_ok(), "{:?}: {:?}", s, s.validate().err());
        let live = created(&s);
        prop_assert_eq!(diff(&s, &live), vec![]);
    }

    #[test]
    fn one_mutation_is_one_change(s in arb_spec(), which in 0usize..12) {
        let live = created(&s);
        let mut changed = s.clone();
        let want = mutate(&mut changed, which);
        let plan = diff(&changed, &live);
        prop_assert_eq!(plan.len(), 1, "{:?}", plan);
        prop_assert_eq!(&plan[0].field, &want);
    }
}

/// Free text goes to the server exactly as written, and the workload created from it is in
/// sync with the spec: nothing is trimmed on the way, so nothing drifts forever.
#[test]
fn padded_free_text_is_sent_as_written() {
    let mut s = base();
    s.name = "  Support bot ".into();
    s.description = Some(" tabs\tand spaces ".into());
    s.command = Some(" vllm serve m ".into());
    assert!(s.validate().is_ok(), "{:?}", s.validate());
    let body = s.create_body();
    assert_eq!(body["name"], json!("  Support bot "));
    assert_eq!(body["description"], json!(" tabs\tand spaces "));
    assert_eq!(body["config"]["command"], json!(" vllm serve m "));
    assert_eq!(diff(&s, &created(&s)), vec![]);
    // A live name that differs only by padding is drift, reconciled to the spec's.
    let mut live = created(&s);
    live.name = Some("Support bot".into());
    let plan = diff(&s, &live);
    assert_eq!(plan.len(), 1);
    assert_eq!(plan[0].desired, json!("  Support bot "));
}

#[test]
fn spec_fields_have_wire_paths() {
    use inferencekey_core::spec::wire_field;
    assert_eq!(wire_field("model"), "model_name");
    assert_eq!(wire_field("command"), "config.command");
    assert_eq!(wire_field("vllm_version"), "config.vllm_version");
    assert_eq!(
        wire_field("execution_policy_config.workers[0]"),
        "execution_policy_config.workers[0]"
    );
    assert_eq!(wire_field("backend"), "backend");
}
