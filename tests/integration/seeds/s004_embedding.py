# Seed doc 004, embedding: provision, call, and the variations.
from inferencekey import ManagementClient, WorkloadSpec, Backend, ExecutionPolicy

mgmt = ManagementClient.from_env(project="acme")

ref = mgmt.ensure(WorkloadSpec(
    name="Billing embeddings",
    slug="billing",
    model="BAAI/bge-large-en-v1.5",
    backend=Backend.VLLM,
    task_type="embedding",
    command="vllm serve BAAI/bge-large-en-v1.5 --task embed",
    execution_policy=ExecutionPolicy.SCHEDULED,
    execution_policy_config={"cron": "0 2 * * *"}, # nightly at 02:00
))

from inferencekey import DataClient

data = DataClient.from_env(project="acme")
emb = data.endpoint("billing", api_key="ik_live_...").embed(input=["invoice #42", "refund policy"])
print(len(emb.embeddings), "vectors", emb.model)

from inferencekey import WorkloadSpec, Backend, ExecutionPolicy

base = dict(
    name="Billing embeddings",
    slug="billing",
    model="BAAI/bge-large-en-v1.5",
    backend=Backend.VLLM,
    task_type="embedding",
    command="vllm serve BAAI/bge-large-en-v1.5 --task embed",
)

# Fixed (cloud): always-on for live RAG queries.
mgmt.ensure(WorkloadSpec(**base,
    execution_policy=ExecutionPolicy.FIXED,
    execution_policy_config={"replicas": 1}))

# Autoscaling (private worker): scale on your own hardware. See the full
# config shapes in Backends & policies (/reference/backends-and-policies/).
mgmt.ensure(WorkloadSpec(**base,
    worker_id="wrk_7Yc2...",
    execution_policy=ExecutionPolicy.AUTOSCALING,
    execution_policy_config={
        "min_workers": 1,
        "max_workers": 4,
        "workers": {"source": "private", "private_worker_ids": ["wrk_7Yc2..."]},
    }))
