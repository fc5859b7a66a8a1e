"""Quickstart: declare two workloads, ensure them, and call them.

Run against a local Manager (`./scripts/quickstart` does all of this for you):

    inferencekey serve --dev &
    eval "$(inferencekey init --project acme)"
    export INFERENCEKEY_API_KEY="$(inferencekey key create --project acme --all)"
    python examples/quickstart.py
"""

from inferencekey import Backend, DataClient, ExecutionPolicy, ManagementClient, WorkloadSpec

mgmt = ManagementClient.from_env()  # INFERENCEKEY_BASE_URL, _PROJECT, _SDK_TOKEN

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
embeddings = mgmt.ensure(
    WorkloadSpec(
        name="Billing embeddings",
        slug="billing",
        model="BAAI/bge-large-en-v1.5",
        backend=Backend.VLLM,
        task_type="embedding",
        command="vllm serve BAAI/bge-large-en-v1.5 --task embed",
    )
)
print(f"ensure: {chat.project_slug}/{chat.workload_slug} {chat.action}, {embeddings.workload_slug} {embeddings.action}")

data = DataClient.from_env()  # INFERENCEKEY_API_KEY is the default ik_live_ key
bot = data.endpoint(chat.workload_slug)

out = bot.generate_text(prompt="Hola, ¿cuál es mi saldo?", temperature=0.2, max_tokens=24)
print(f"text ({out.model}): {out.text}")

print("stream: ", end="", flush=True)
with bot.generate_text_stream(prompt="Tell me a story", max_tokens=16) as stream:
    for chunk in stream:
        print(chunk.text, end="", flush=True)
print()

emb = data.endpoint(embeddings.workload_slug).embed(input=["invoice #42", "refund policy"])
print(f"embeddings: {len(emb.embeddings)} vectors of {len(emb.embeddings[0])} dimensions from {emb.model}")
