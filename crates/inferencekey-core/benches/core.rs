//! Core hot paths: SSE decoding (every streamed token passes through it), and the pure
//! planning steps `ensure()` runs on every call: validate, diff, PATCH body, list decoding.
//!
//! Run: `cargo bench -p inferencekey-core --bench core`; smoke: `... -- --test`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use inferencekey_core::diff::{diff, update_body};
use inferencekey_core::enums::{Backend, ExecutionPolicy};
use inferencekey_core::sse::{SseDecoder, SseEvent};
use inferencekey_core::wire::{decode_workload_list, Workload};
use inferencekey_core::WorkloadSpec;
use serde_json::{json, Value};

const MODEL: &str = "meta-llama/Llama-3.1-8B-Instruct";

/// An OpenAI `chat.completion.chunk` stream as vLLM sends it: a role delta, `n` content
/// deltas of a few characters, a finish chunk with usage, then `data: [DONE]`.
fn chat_stream(n: usize) -> Vec<u8> {
    let words = [
        "Hola", ", ", "¿qué", " tal", "?", " The", " quick", " brown", " fox", " 👋",
    ];
    let mut out = Vec::with_capacity(n * 260);
    let mut frame = |delta: Value, finish: Value, usage: Option<Value>| {
        let mut chunk = json!({
            "id": "chatcmpl-7f3a9c2e4b1d4e8f9a0b1c2d3e4f5a6b",
            "object": "chat.completion.chunk",
            "created": 1_718_000_000,
            "model": MODEL,
            "system_fingerprint": null,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        });
        if let Some(usage) = usage {
            chunk["usage"] = usage;
        }
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(chunk.to_string().as_bytes());
        out.extend_from_slice(b"\n\n");
    };
    frame(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
        None,
    );
    for i in 0..n {
        frame(
            json!({"content": words[i % words.len()]}),
            Value::Null,
            None,
        );
    }
    frame(
        json!({}),
        json!("stop"),
        Some(json!({"prompt_tokens": 12, "completion_tokens": n, "total_tokens": n + 12})),
    );
    out.extend_from_slice(b"data: [DONE]\n\n");
    out
}

fn decode(chunks: std::slice::Chunks<'_, u8>, events: &mut Vec<SseEvent>) -> usize {
    let mut decoder = SseDecoder::new();
    events.clear();
    for chunk in chunks {
        decoder.push(chunk, events).expect("valid stream");
    }
    decoder.finish(events).expect("valid stream");
    assert!(decoder.done());
    events.len()
}

fn sse(c: &mut Criterion) {
    let mut group = c.benchmark_group("sse");
    let big = chat_stream(10_000);
    let mut events = Vec::with_capacity(10_100);
    group.throughput(Throughput::Bytes(big.len() as u64));
    group.bench_function("chat_10k_events_4KiB_chunks", |b| {
        b.iter(|| decode(black_box(&big[..]).chunks(4096), &mut events))
    });
    let small = chat_stream(500);
    group.throughput(Throughput::Bytes(small.len() as u64));
    group.bench_function("chat_500_events_1B_chunks", |b| {
        b.iter(|| decode(black_box(&small[..]).chunks(1), &mut events))
    });
    group.finish();
}

/// The seed docs' cloud autoscaling example (Backends and policies).
fn autoscaling_spec() -> WorkloadSpec {
    WorkloadSpec {
        name: "support-bot".into(),
        slug: "support-bot".into(),
        model: MODEL.into(),
        backend: Some(Backend::Vllm),
        command: Some(format!("vllm serve {MODEL} --max-model-len 8192")),
        execution_policy: Some(ExecutionPolicy::Autoscaling),
        execution_policy_config: Some(json!({
            "min_workers": 0, "max_workers": 5, "max_hourly_cost_usd": 5.0,
            "workers": {"source": "cloud", "cloud_pool": {
                "gpu_pool": ["NVIDIA A100-SXM4-80GB"], "max_hourly_cost_usd": 5.0,
                "max_instances": 5, "allowed_cuda_versions": ["13.0"]
            }}
        })),
        ..Default::default()
    }
}

/// A live workload as the server echoes it, with server-only keys and drift nested two
/// levels deep in the autoscaling config.
fn drifted_live(spec: &WorkloadSpec) -> Workload {
    let mut body = spec.create_body();
    body.insert("id".into(), json!("wl_01J9Z"));
    body.insert("project_id".into(), json!(42));
    body.insert("created_at".into(), json!("2025-01-01T00:00:00Z"));
    body.insert(
        "config".into(),
        json!({"command": format!("vllm serve {MODEL}"), "port": 8000}),
    );
    body.insert(
        "execution_policy_config".into(),
        json!({
            "min_workers": 0, "max_workers": 3, "max_hourly_cost_usd": 5,
            "scale_down_delay_s": 300,
            "workers": {"source": "cloud", "cloud_pool": {
                "gpu_pool": ["NVIDIA A100-SXM4-80GB", "NVIDIA H100 80GB HBM3"],
                "max_hourly_cost_usd": 5, "max_instances": 3, "region": "eu"
            }}
        }),
    );
    serde_json::from_value(Value::Object(body)).expect("valid workload")
}

fn planning(c: &mut Criterion) {
    let spec = autoscaling_spec();
    let live = drifted_live(&spec);
    let plan = diff(&spec, &live);
    assert!(!plan.is_empty(), "the bench live workload must drift");

    let mut group = c.benchmark_group("plan");
    group.bench_function("validate_autoscaling_spec", |b| {
        b.iter(|| black_box(&spec).validate())
    });
    group.bench_function("diff_nested_autoscaling", |b| {
        b.iter(|| diff(black_box(&spec), black_box(&live)))
    });
    group.bench_function("update_body_nested_autoscaling", |b| {
        b.iter(|| update_body(black_box(&spec), black_box(&live), black_box(&plan)))
    });
    group.bench_function("diff_and_update_body", |b| {
        b.iter(|| {
            let plan = diff(black_box(&spec), black_box(&live));
            update_body(&spec, &live, &plan)
        })
    });
    group.finish();
}

fn wire(c: &mut Criterion) {
    let spec = autoscaling_spec();
    let template = drifted_live(&spec);
    let list: Vec<Workload> = (0..1000)
        .map(|i| Workload {
            id: Some(format!("wl_{i:05}")),
            slug: Some(format!("workload-{i}")),
            name: Some(format!("Workload {i}")),
            status: Some("ready".into()),
            ..template.clone()
        })
        .collect();
    let body = serde_json::to_vec(&list).expect("serializable");
    assert_eq!(
        decode_workload_list(&body).map(|v| v.len()).ok(),
        Some(1000)
    );

    let mut group = c.benchmark_group("wire");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("decode_workload_list_1000", |b| {
        b.iter(|| decode_workload_list(black_box(&body)))
    });
    group.finish();
}

criterion_group!(benches, sse, planning, wire);
criterion_main!(benches);
