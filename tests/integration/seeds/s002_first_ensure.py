# Seed doc 002 (your first ensure()): provision.py and its continuation.
from inferencekey import ManagementClient, WorkloadSpec, Backend
# Control-plane client, scoped to one project.
# Reads INFERENCEKEY_SDK_TOKEN from the environment.
mgmt = ManagementClient.from_env(project="acme")
ref = mgmt.ensure(
    WorkloadSpec(
        name="support-bot",
        slug="support-bot", # idempotency key
        model="meta-llama/Llama-3.1-8B-Instruct",
        backend=Backend.VLLM,
        command=(
            "vllm serve meta-llama/Llama-3.1-8B-Instruct "
            "--max-model-len 8192"
        ),
    )
    # on_drift defaults to OnDrift.RECONCILE
)
print("project: ", ref.project_slug)
print("workload:", ref.workload_slug)

from inferencekey import DataClient
data = DataClient.from_env(project="acme")
ep = data.endpoint(ref.workload_slug, api_key="ik_live_...")
out = ep.generate_text(prompt="Hola", temperature=0.2, max_tokens=300)
print(out.text)
