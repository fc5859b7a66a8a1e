"""Quickstart: a real embedding model, a semantic search, ensure's plans, and a chat.

Run against a local Manager (`./scripts/quickstart` does all of this for you):

    inferencekey serve --dev &
    eval "$(inferencekey init --project acme)"
    export INFERENCEKEY_API_KEY="$(inferencekey key create --project acme --all)"
    python examples/quickstart.py

The embedding model is all-MiniLM-L6-v2 from PyPI, converted to GGUF on first use (cached in
your cache directory) and served by llama.cpp through the Manager; see semantic_search.py.
"""

from __future__ import annotations

import time

from semantic_search import DOCUMENTS, QUESTIONS, embedding_spec, search, table

from inferencekey import (
    Backend,
    DataClient,
    ExecutionPolicy,
    ManagementClient,
    OnDrift,
    WorkloadSpec,
)

mgmt = ManagementClient.from_env()  # INFERENCEKEY_BASE_URL, _PROJECT, _SDK_TOKEN
data = DataClient.from_env()  # INFERENCEKEY_API_KEY is the default ik_live_ key

print("== 1. A real embedding model: all-MiniLM-L6-v2 on llama.cpp")
spec = embedding_spec()
started = time.monotonic()
ref = mgmt.ensure(spec)
print(f"ensure {ref.project_slug}/{ref.workload_slug}: {ref.action}")
results = search(data.endpoint(ref.workload_slug), QUESTIONS, DOCUMENTS)
print(f"semantic search over {len(DOCUMENTS)} documents ({time.monotonic() - started:.1f} s):")
print(table(results))

print()
print("== 2. ensure() is idempotent, and shows drift before it writes")
again = mgmt.ensure(spec)
print(f"second ensure of the same spec: {again.action} (no write)")
edited = WorkloadSpec(
    name=spec.name,
    slug=spec.slug,
    model=spec.model,
    backend=spec.backend,
    task_type=spec.task_type,
    command=str(spec.command).replace("-c 512", "-c 256"),
    description="document search, shorter context",
)
plan = mgmt.ensure(edited, on_drift=OnDrift.DRY_RUN)
print(f"after editing the spec, a dry run: {plan.action}")
for field, live, wanted in plan.plan:
    print(f"  {field}: {live!r} -> {wanted!r}")

print()
print("== 3. Chat: the reference engine (no model loaded; it echoes the prompt)")
print("   To chat with a real model, declare backend=Backend.LLAMACPP and")
print("   command='llama-server -m /path/to/model.gguf' (see README: a local GGUF model).")
chat = mgmt.ensure(
    WorkloadSpec(
        name="Support bot",
        slug="support-bot",
        model="meta-llama/Llama-3.1-8B-Instruct",
        backend=Backend.VLLM,
        command="vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 8192",
        execution_policy=ExecutionPolicy.FIXED,
        execution_policy_config={"replicas": 1},
    )
)
bot = data.endpoint(chat.workload_slug)
out = bot.generate_text(prompt="Hola, ¿cuál es mi saldo?", temperature=0.2, max_tokens=24)
print(f"text [reference engine]: {out.text}")
print("stream [reference engine]: ", end="", flush=True)
with bot.generate_text_stream(prompt="Tell me a story", max_tokens=16) as stream:
    for chunk in stream:
        print(chunk.text, end="", flush=True)
print()
