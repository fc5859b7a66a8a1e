//! Hostile input for everything the SDK decodes or validates: the SSE decoder, the wire
//! decoders, error bodies, spec JSON, validation, slugs and token redaction. Each property
//! runs many cases of arbitrary or adversarial input and asserts the outcome is a typed result
//! (never a panic), that limits hold, and that no secret survives into printable text.
//!
//! Case counts default to a CI-sized budget; `HOSTILE_CASES_SCALE=10` (or more) turns the
//! same properties into a longer fuzzing run. docs/reliability.md lists the per-property
//! counts.

use inferencekey_core::diff::{diff, update_body};
use inferencekey_core::enums::{Backend, ExecutionPolicy, TaskType};
use inferencekey_core::error::ErrorKind;
use inferencekey_core::slug::{canonical_slug, validate_slug, MAX_SLUG_LEN};
use inferencekey_core::sse::{SseDecoder, SseEvent};
use inferencekey_core::token::{parse_token, redact, scrub};
use inferencekey_core::wire::{decode_workload, decode_workload_list, error_from_response};
use inferencekey_core::WorkloadSpec;
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{json, Map, Value};

/// A property's case budget: `base` times `HOSTILE_CASES_SCALE` (default 1).
fn cases(base: u32) -> Config {
    let scale: u32 = std::env::var("HOSTILE_CASES_SCALE")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .filter(|s| *s > 0)
        .unwrap_or(1);
    Config {
        cases: base.saturating_mul(scale),
        // Shrinking is for humans reading a failure; keep it short so a failure still
        // reports within CI's budget.
        max_shrink_iters: 2_000,
        failure_persistence: None,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------

/// Characters from a fixed alphabet, `min..max` of them. Built from `select` rather than a
/// regex strategy: regex generation dominates the run time of debug builds, which CI uses.
fn chars_from(alphabet: &'static str, min: usize, max: usize) -> BoxedStrategy<String> {
    let set: Vec<char> = alphabet.chars().collect();
    prop::collection::vec(prop::sample::select(set), min..max)
        .prop_map(String::from_iter)
        .boxed()
}

const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Any text: arbitrary code points, and often the characters slugs and tokens are made of.
fn any_text(max: usize) -> BoxedStrategy<String> {
    prop_oneof![
        prop::collection::vec(any::<char>(), 0..max).prop_map(String::from_iter),
        chars_from("AZaz09 _-.:/\\\"é👋\u{0}\n\t", 0, max),
    ]
    .boxed()
}

/// Arbitrary JSON, biased towards the shapes the decoders look at.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        any::<u64>().prop_map(|n| json!(n)),
        any_text(24).prop_map(Value::String),
        prop_oneof![
            Just("text2text"),
            Just("vllm"),
            Just("fixed"),
            Just("autoscaling"),
            Just("scheduled"),
            Just("0 2 * * *"),
            Just("Mon-Fri 08:00-20:00 Europe/Madrid"),
            Just("cloud"),
            Just("private"),
            Just("NVIDIA L4"),
            Just("ik_live_abc_def"),
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((json_key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Object keys: the names the decoders know, mixed with noise.
fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "id", "slug", "workload_slug", "name", "model", "model_name", "backend", "task_type",
            "config", "command", "execution_policy", "execution_policy_config", "replicas",
            "cron", "window", "min_workers", "max_workers", "max_hourly_cost_usd", "workers",
            "source", "cloud_pool", "gpu_pool", "private_worker_ids", "max_instances",
            "allowed_cuda_versions", "worker_id", "gpu_resource_id", "project", "description",
            "vllm_version", "error", "code", "message", "field", "param", "type", "detail",
            "workloads", "status", "project_slug", "min_replicas",
        ])
        .prop_map(str::to_string),
        1 => any_text(10),
    ]
}

/// A well-formed token of any kind, with a secret long enough to be unmistakable.
fn token() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["ik_sdk_", "ik_live_"]),
        chars_from(ALNUM, 1, 17),
        chars_from(ALNUM, 24, 41),
    )
        .prop_map(|(p, id, secret)| format!("{p}{id}_{secret}"))
}

/// The secret part of a well-formed token.
fn secret_of(token: &str) -> &str {
    parse_token(token).expect("generated tokens parse").secret
}

/// Free text around a token. Its characters cannot extend the token (a letter, digit or
/// `_` right after it would make it another, malformed run) and it never contains `ik_`
/// (see `scrub_leaves_no_secret` for why).
fn surrounding_text() -> impl Strategy<Value = String> {
    chars_from(" \t\n:=,;\"'(){}[]/.é👋-", 0, 13)
}

/// Pieces SSE streams are made of: fields, line endings, BOMs, comments, UTF-8 fragments.
const SSE_PIECES: &[&[u8]] = &[
    b"data: ",
    b"data:",
    b"event: ",
    b"id: ",
    b"retry: ",
    b": keep-alive",
    b"\n",
    b"\r",
    b"\r\n",
    b"\n\n",
    b"[DONE]",
    b"\xEF\xBB\xBF",
    b"\xF0\x9F\x91",
    b"{\"choices\":[{\"delta\":{\"content\":\"x\"}}]}",
    b"{\"error\":{\"message\":\"m\"}}",
    b"1234",
];

/// SSE-shaped streams: table pieces, single arbitrary bytes, and long runs without a line
/// ending (to reach the size bound). Drawn as plain tuples because nested strategy unions
/// are slow to generate in debug builds, and CI runs these in debug.
fn sse_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec((0u8..20, any::<u8>(), 1u16..600), 0..80).prop_map(|picks| {
        let mut out = Vec::new();
        for (kind, byte, len) in picks {
            match kind as usize {
                k if k < SSE_PIECES.len() => out.extend_from_slice(SSE_PIECES[k]),
                16 | 17 => out.push(byte),
                18 => out.extend(std::iter::repeat_n(b'x', len as usize)),
                _ => out.extend(std::iter::repeat_n(byte, (len % 8) as usize)),
            }
        }
        out
    })
}

fn split<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.extend([0, bytes.len()]);
    points.sort_unstable();
    points.windows(2).map(|w| &bytes[w[0]..w[1]]).collect()
}

/// Decodes chunk by chunk; returns the events, whether it failed, and whether `[DONE]` came.
fn decode(max: usize, chunks: &[&[u8]]) -> (Vec<SseEvent>, bool, bool) {
    let mut d = SseDecoder::with_max_event_size(max);
    let mut out = Vec::new();
    let mut failed = false;
    for c in chunks {
        if let Err(e) = d.push(c, &mut out) {
            assert_eq!(e.kind, ErrorKind::Protocol);
            assert_eq!(e.code.as_deref(), Some("sse_event_too_large"));
            // A failed decoder stays failed: a caller cannot read on past a cut.
            assert!(d.push(b"data: more\n\n", &mut out).is_err());
            assert!(d.finish(&mut out).is_err());
            failed = true;
            break;
        }
    }
    if !failed {
        failed = d.finish(&mut out).is_err();
    }
    (out, failed, d.done())
}

/// Specs built from plausible and hostile pieces.
fn spec() -> impl Strategy<Value = WorkloadSpec> {
    let text = prop_oneof![
        Just(String::new()),
        Just("  ".to_string()),
        chars_from("ABCxyz0189 _.-", 1, 21),
        any_text(70),
        chars_from("abcxyz", 64, 81),
    ];
    let opt_text = prop::option::of(text.clone());
    let policy = prop::option::of(prop_oneof![
        Just(ExecutionPolicy::Fixed),
        Just(ExecutionPolicy::Scheduled),
        Just(ExecutionPolicy::Autoscaling),
        any_text(8).prop_map(|s| ExecutionPolicy::from_wire(&s)),
    ]);
    let task = prop::option::of(prop_oneof![
        Just(TaskType::Text2text),
        Just(TaskType::Embedding),
        Just(TaskType::Reranker),
        any_text(10).prop_map(|s| TaskType::from_wire(&s)),
    ]);
    let backend = prop::option::of(prop_oneof![
        Just(Backend::Vllm),
        Just(Backend::Ollama),
        Just(Backend::Llamacpp),
        any_text(10).prop_map(|s| Backend::from_wire(&s)),
    ]);
    let config = prop::option::of(
        prop::collection::vec((json_key(), json_value()), 0..4)
            .prop_map(|kv| kv.into_iter().collect::<Map<_, _>>()),
    );
    (
        (text.clone(), text.clone(), text, backend, opt_text.clone()),
        (opt_text.clone(), opt_text.clone(), opt_text.clone(), task),
        (config, policy, prop::option::of(json_value())),
        (opt_text.clone(), opt_text),
    )
        .prop_map(
            |(
                (name, slug, model, backend, project),
                (description, command, vllm_version, task_type),
                (config, execution_policy, execution_policy_config),
                (worker_id, gpu_resource_id),
            )| WorkloadSpec {
                name,
                slug,
                model,
                backend,
                project,
                description,
                command,
                vllm_version,
                task_type,
                config,
                execution_policy,
                execution_policy_config,
                worker_id,
                gpu_resource_id,
            },
        )
}

/// The spec's JSON as the bindings send it.
fn spec_json(s: &WorkloadSpec) -> Value {
    s.to_json()
}

// ---------------------------------------------------------------------------------------
// SSE decoder
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(4_000))]

    /// Any bytes, cut anywhere: a typed outcome, the event bound holds, and chunking never
    /// changes what is decoded.
    #[test]
    fn sse_any_bytes_any_chunking(
        bytes in sse_bytes(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
        max in prop_oneof![Just(64usize), Just(512), Just(SseDecoder::DEFAULT_MAX_EVENT_SIZE)],
    ) {
        let whole = decode(max, &[&bytes]);
        let pieces = split(&bytes, &cuts);
        let chunked = decode(max, &pieces);
        prop_assert_eq!(&whole, &chunked);
        for ev in &whole.0 {
            // The bound counts bytes on the wire; an invalid byte decodes to U+FFFD (3 bytes).
            prop_assert!(ev.data.len() <= 3 * max, "an event over the bound was delivered");
            prop_assert!(ev.data != "[DONE]");
        }
    }
}

proptest! {
    #![proptest_config(cases(3_000))]

    /// Raw bytes with no structure at all, one byte at a time (the worst split).
    #[test]
    fn sse_raw_bytes_bytewise(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        prop_assert_eq!(decode(128, &[&bytes]), decode(128, &singles));
    }
}

proptest! {
    #![proptest_config(cases(5_000))]

    /// A valid OpenAI stream with bytes flipped, dropped or duplicated never panics, and
    /// `[DONE]` is reported only when the sentinel really arrived intact.
    #[test]
    fn sse_mutated_openai_stream(
        n in 1usize..20,
        edits in prop::collection::vec((any::<usize>(), 0u8..3, any::<u8>()), 0..8),
    ) {
        let mut stream = Vec::new();
        for i in 0..n {
            stream.extend_from_slice(
                format!("data: {{\"choices\":[{{\"delta\":{{\"content\":\"t{i}\"}}}}]}}\n\n")
                    .as_bytes(),
            );
        }
        stream.extend_from_slice(b"data: [DONE]\n\n");
        for (at, op, byte) in edits {
            let i = at % (stream.len() + 1);
            match op {
                0 if i < stream.len() => stream[i] = byte,
                1 if i < stream.len() => { stream.remove(i); }
                _ => stream.insert(i, byte),
            }
        }
        let (events, failed, done) = decode(SseDecoder::DEFAULT_MAX_EVENT_SIZE, &[&stream]);
        prop_assert!(!failed);
        if done {
            let text = String::from_utf8_lossy(&stream);
            prop_assert!(text.contains("[DONE]"));
        }
        prop_assert!(events.len() <= n + 8);
    }
}

// ---------------------------------------------------------------------------------------
// Wire decoders
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(5_000))]

    /// Arbitrary bytes: a workload or a typed protocol error, never a panic.
    #[test]
    fn wire_decoders_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Err(e) = decode_workload(&bytes) {
            prop_assert_eq!(e.kind, ErrorKind::Protocol);
        }
        if let Err(e) = decode_workload_list(&bytes) {
            prop_assert_eq!(e.kind, ErrorKind::Protocol);
        }
    }
}

proptest! {
    #![proptest_config(cases(1_000))]

    /// Arbitrary JSON with the workload's field names: the decoders tolerate unknown fields
    /// and types they can read; whatever they accept survives a serialise/decode round trip.
    #[test]
    fn wire_decoders_any_json(v in json_value()) {
        let bytes = serde_json::to_vec(&v).unwrap();
        if let Ok(w) = decode_workload(&bytes) {
            // What was accepted serialises and decodes again (floats may lose their last
            // digit in text, so values are not compared).
            prop_assert!(decode_workload(&serde_json::to_vec(&w).unwrap()).is_ok());
        }
        match decode_workload_list(&bytes) {
            Ok(list) => {
                // Only the three documented shapes decode.
                let shaped = matches!(&v, Value::Null | Value::Array(_))
                    || v.get("workloads").is_some()
                    || v.is_object();
                prop_assert!(shaped, "{} decoded as a list", v);
                if let Value::Array(items) = &v {
                    prop_assert_eq!(list.len(), items.len());
                }
            }
            Err(e) => prop_assert_eq!(e.kind, ErrorKind::Protocol),
        }
    }
}

proptest! {
    #![proptest_config(cases(250))]

    /// Objects shaped like workloads whose values have every JSON type: unknown enum
    /// strings are kept, ids may be numbers, and the diff against any spec is total.
    #[test]
    fn workload_shapes_and_diff(
        fields in prop::collection::vec((json_key(), json_value()), 0..12),
        s in spec(),
    ) {
        let obj: Map<String, Value> = fields.into_iter().collect();
        let bytes = serde_json::to_vec(&Value::Object(obj.clone())).unwrap();
        if let Ok(w) = decode_workload(&bytes) {
            if let Some(Value::String(t)) = obj.get("task_type") {
                prop_assert_eq!(w.task_type.as_ref().map(|t| t.as_str()), Some(t.as_str()));
            }
            let plan = diff(&s, &w);
            let body = update_body(&s, &w, &plan);
            for change in plan.iter() {
                prop_assert!(!change.field.is_empty());
            }
            prop_assert!(body.len() <= plan.len() + 2);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Error bodies
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(1_000))]

    /// Any status and any body: the kind follows the status table, the status is kept, and
    /// a quoted raw body is bounded.
    #[test]
    fn error_from_any_response(
        status in prop_oneof![100u16..600, any::<u16>()],
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..2048),
            json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
            json_value().prop_map(|v| serde_json::to_vec(&json!({"error": v})).unwrap()),
        ],
        request_id in prop::option::of(chars_from("abz09_", 1, 21)),
    ) {
        let e = error_from_response(status, &body, request_id.clone());
        prop_assert_eq!(e.kind, ErrorKind::from_status(status));
        prop_assert_eq!(e.status, Some(status));
        prop_assert_eq!(&e.request_id, &request_id);
        // An empty `{"error": ""}` gives an empty message: see
        // tests/reliability/test_security.py::test_error_message_never_empty (a known bug).
        let has_empty_string = body.windows(2).any(|w| w == b"\"\"");
        prop_assert!(!e.message.is_empty() || has_empty_string);
        if serde_json::from_slice::<Value>(&body).is_err() {
            prop_assert!(e.message.chars().count() <= 500 || e.message.starts_with("HTTP "));
        }
        let _ = e.to_string();
    }
}

proptest! {
    #![proptest_config(cases(3_000))]

    /// A token anywhere in an error body's message, detail or raw text never reaches the
    /// error's message or its printed form.
    #[test]
    fn error_text_never_carries_a_secret(
        status in 400u16..600,
        tok in token(),
        before in surrounding_text(),
        after in surrounding_text(),
        shape in 0u8..5,
    ) {
        let text = format!("{before}{tok}{after}");
        let body = match shape {
            0 => serde_json::to_vec(&json!({"error": {"code": "x", "message": text}})).unwrap(),
            1 => serde_json::to_vec(&json!({"error": "x", "message": text})).unwrap(),
            2 => serde_json::to_vec(&json!({"detail": text})).unwrap(),
            3 => serde_json::to_vec(&json!({"error": {"message": text, "type": "t"}})).unwrap(),
            _ => text.clone().into_bytes(),
        };
        let e = error_from_response(status, &body, None);
        let secret = secret_of(&tok);
        prop_assert!(!e.message.contains(secret), "{}", e.message);
        prop_assert!(!e.to_string().contains(secret));
        let debug = format!("{:?}", e);
        prop_assert!(!debug.contains(secret));
    }
}

// ---------------------------------------------------------------------------------------
// Spec JSON and validation
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(1_000))]

    /// Any text as spec JSON: a spec or a validation error that names at least one field.
    #[test]
    fn spec_from_any_text(text in prop_oneof![any_text(200), json_value().prop_map(|v| v.to_string())]) {
        match WorkloadSpec::from_json(&text) {
            Ok(s) => { let _ = s.validate(); }
            Err(e) => {
                prop_assert_eq!(e.kind, ErrorKind::Validation);
                prop_assert!(!e.problems.is_empty());
                prop_assert_eq!(e.field.as_deref(), Some(e.problems[0].field.as_str()));
            }
        }
    }
}

proptest! {
    #![proptest_config(cases(300))]

    /// Objects with the spec's keys and values of any type: only shape errors from the
    /// parser, each naming its field; a spec that parses reads back the same.
    #[test]
    fn spec_from_any_object(fields in prop::collection::vec((json_key(), json_value()), 0..10)) {
        let obj = Value::Object(fields.into_iter().collect());
        match WorkloadSpec::from_json(&obj.to_string()) {
            Ok(s) => {
                let again = WorkloadSpec::from_json(&spec_json(&s).to_string()).unwrap();
                prop_assert_eq!(&s.name, &again.name);
                prop_assert_eq!(&s.config, &again.config);
                prop_assert_eq!(&s.execution_policy_config, &again.execution_policy_config);
            }
            Err(e) => {
                prop_assert_eq!(e.kind, ErrorKind::Validation);
                for p in &e.problems {
                    prop_assert!(obj.get(&p.field).is_some(), "{} is not a key of {}", p.field, obj);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(cases(400))]

    /// Validation over generated specs is total and deterministic; a spec it accepts
    /// produces a create body with a canonical, bounded slug and the required fields exactly as
    /// written (non-blank; the model unpadded, since a padded one is refused).
    #[test]
    fn validation_is_total(s in spec()) {
        let first = s.validate();
        let second = s.validate();
        prop_assert_eq!(first.is_ok(), second.is_ok());
        match first {
            Ok(()) => {
                let body = s.create_body();
                let slug = body["slug"].as_str().unwrap();
                prop_assert!(!slug.is_empty() && slug.len() <= MAX_SLUG_LEN);
                prop_assert_eq!(canonical_slug(slug), slug);
                prop_assert_eq!(body["name"].as_str().unwrap(), s.name.as_str());
                prop_assert!(!s.name.trim().is_empty());
                prop_assert_eq!(body["model_name"].as_str().unwrap(), s.model.as_str());
                prop_assert_eq!(s.model.trim(), s.model.as_str());
                prop_assert!(!s.model.is_empty());
                // What validates locally also parses from its JSON form.
                let back = WorkloadSpec::from_json(&spec_json(&s).to_string());
                prop_assert!(back.is_ok());
            }
            Err(e) => {
                prop_assert!(matches!(e.kind, ErrorKind::Validation | ErrorKind::Configuration));
                prop_assert!(e.field.as_deref().is_some_and(|f| !f.is_empty()));
            }
        }
    }
}

proptest! {
    #![proptest_config(cases(400))]

    /// A token planted in any string of a spec, nested configs included, is refused before
    /// any request, and the refusal does not quote it.
    #[test]
    fn secrets_in_specs_are_refused(
        s in spec(),
        tok in token(),
        at in 0u8..7,
        path in prop::collection::vec(json_key(), 1..4),
    ) {
        let mut s = s;
        match at {
            0 => s.name = format!("bot {tok}"),
            1 => s.description = Some(tok.clone()),
            2 => s.command = Some(format!("vllm serve m --api-key {tok}")),
            3 => s.model = tok.clone(),
            4 => {
                // Deep inside config, at a generated path.
                let mut v = json!(tok);
                for k in path.iter().rev() {
                    v = json!({ k.clone(): v });
                }
                s.config = Some(v.as_object().cloned().unwrap());
            }
            5 => s.execution_policy_config = Some(json!({"workers": {"cloud_pool": {"gpu_pool": [tok]}}})),
            _ => s.worker_id = Some(tok.clone()),
        }
        let e = s.validate().unwrap_err();
        prop_assert_eq!(e.kind, ErrorKind::Configuration);
        prop_assert!(e.message.contains("secrets must never go in specs"));
        prop_assert!(!e.to_string().contains(secret_of(&tok)));
        let debug = format!("{:?}", e);
        prop_assert!(!debug.contains(secret_of(&tok)));
    }
}

proptest! {
    #![proptest_config(cases(1_000))]

    /// The policy rules on arbitrary configs: total, and every problem is reported under
    /// `execution_policy_config`.
    #[test]
    fn policy_config_is_total(
        policy in prop_oneof![
            Just(ExecutionPolicy::Fixed),
            Just(ExecutionPolicy::Scheduled),
            Just(ExecutionPolicy::Autoscaling),
        ],
        config in json_value(),
    ) {
        let s = WorkloadSpec {
            name: "n".into(),
            slug: "s".into(),
            model: "m".into(),
            backend: Some(inferencekey_core::Backend::Vllm),
            execution_policy: Some(policy),
            execution_policy_config: Some(config.clone()),
            ..Default::default()
        };
        if let Err(e) = s.validate() {
            if e.kind == ErrorKind::Validation {
                for p in &e.problems {
                    prop_assert!(
                        p.field.starts_with("execution_policy_config"),
                        "{} for {}", p.field, config
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Slugs and tokens
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(5_000))]

    /// The canonical slug is idempotent and URL-safe, and validation bounds its length.
    #[test]
    fn slugs(raw in prop_oneof![any_text(100), chars_from("AZaz09 _.-", 0, 100)]) {
        let c = canonical_slug(&raw);
        prop_assert_eq!(canonical_slug(&c), c.clone());
        prop_assert!(c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
        prop_assert!(!c.starts_with('-') && !c.ends_with('-') && !c.contains("--"));
        match validate_slug(&raw, "slug") {
            Ok(v) => prop_assert!(v == c && !v.is_empty() && v.len() <= MAX_SLUG_LEN),
            Err(e) => prop_assert_eq!(e.field, "slug"),
        }
    }
}

proptest! {
    #![proptest_config(cases(3_000))]

    /// `redact` shows the kind and at most 8 characters of the id, never the secret.
    #[test]
    fn redact_hides_the_secret(tok in token(), junk in any_text(40)) {
        let r = redact(&tok);
        prop_assert!(!r.contains(secret_of(&tok)));
        prop_assert!(r.ends_with('…'));
        prop_assert!(r.chars().count() <= "ik_live_".len() + 8 + 1);
        let j = redact(&junk);
        prop_assert!(j == "ik…" || parse_token(&junk).is_some());
    }
}

proptest! {
    #![proptest_config(cases(3_000))]

    /// Scrubbing free text with tokens in it leaves no secret, and leaves text
    /// without `ik_` alone.
    ///
    /// The surrounding text never contains `ik_`: a token glued to an `ik_…` run survives
    /// scrubbing (tests/reliability/test_security.py::test_scrub_glued_token, a known bug).
    #[test]
    fn scrub_leaves_no_secret(
        parts in prop::collection::vec((surrounding_text(), prop::option::of(token())), 1..6),
    ) {
        let mut text = String::new();
        let mut secrets = Vec::new();
        for (t, tok) in &parts {
            text.push_str(t);
            if let Some(tok) = tok {
                text.push_str(tok);
                secrets.push(secret_of(tok).to_string());
            }
        }
        let out = scrub(&text);
        for s in &secrets {
            prop_assert!(!out.contains(s.as_str()), "{}", out);
        }
        // Scrubbing again still leaves no secret. (It is not idempotent: a second pass
        // mangles the redacted forms; see test_security.py::test_scrub_is_idempotent.)
        let twice = scrub(&out);
        for s in &secrets {
            prop_assert!(!twice.contains(s.as_str()));
        }
        if !text.contains("ik_") {
            prop_assert_eq!(out, text);
        }
    }
}

proptest! {
    #![proptest_config(cases(3_000))]

    /// Scrub on arbitrary text never panics (multi-byte characters next to `ik_` included)
    /// and never grows text by more than the redaction marks it adds.
    #[test]
    fn scrub_any_text(text in prop_oneof![
        any_text(200),
        prop::collection::vec(prop::sample::select(vec!["ik_", "sdk_", "live_", "admin_", "a", "0", "_", " ", "é"]), 0..40)
            .prop_map(|v| v.concat()),
    ]) {
        let out = scrub(&text);
        prop_assert!(out.len() <= text.len() + 3 * text.matches("ik_").count());
    }
}

/// A number in a spec reads back as the same number (serde_json's `float_roundtrip`): the
/// value proptest found one ulp off, which ensure() would have reported as drift forever.
#[test]
fn spec_numbers_read_back_exactly() {
    let text = r#"{"name":"n","slug":"s","model":"m","backend":"vllm","config":{"id":1.7270177162837175e-212}}"#;
    let s = WorkloadSpec::from_json(text).unwrap();
    let again = WorkloadSpec::from_json(&spec_json(&s).to_string()).unwrap();
    assert_eq!(s.config, again.config);
    assert_eq!(
        s.config.unwrap()["id"].as_f64(),
        Some(1.7270177162837175e-212)
    );
}
