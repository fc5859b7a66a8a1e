# Seed doc 004, text2text: provision, call, and the policy/worker variations.
from inferencekey import ManagementClient, WorkloadSpec, Backend, ExecutionPolicy

mgmt = ManagementClient.from_env(project="acme") # reads INFERENCEKEY_SDK_TOKEN

ref = mgmt.ensure(WorkloadSpec(
    name="Support bot",
    slug="support-bot",
    model="meta-llama/Llama-3.1-8B-Instruct",
    backend=Backend.VLLM,
    task_type="text2text", # server default; explicit for clarity
    command="vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 8192",
    execution_policy=ExecutionPolicy.FIXED,
    execution_policy_config={"replicas": 1},
))
print(ref.project_slug, ref.workload_slug) # acme support-bot

from inferencekey import DataClient

data = DataClient.from_env(project="acme")
ep = data.endpoint("support-bot", api_key="ik_live_...")

out = ep.generate_text(prompt="Hola, ¿cuál es mi saldo?", temperature=0.2, max_tokens=300)
print(out.text, out.model)

from inferencekey import WorkloadSpec, Backend, ExecutionPolicy

base = dict(
    name="Support bot",
    slug="support-bot",
    model="meta-llama/Llama-3.1-8B-Instruct",
    backend=Backend.VLLM,
    command="vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 8192",
)

# Autoscaling (cloud): worker count tracks load between a floor and a ceiling.
# Cloud autoscaling needs a cost ceiling and a GPU pool; worker bounds are
# min_workers / max_workers (NOT min/max_replicas).
mgmt.ensure(WorkloadSpec(**base,
    execution_policy=ExecutionPolicy.AUTOSCALING,
    execution_policy_config={
        "min_workers": 0,
        "max_workers": 5,
        "max_hourly_cost_usd": 5.0, # required, must be > 0
        "workers": {
            "source": "cloud",
            "cloud_pool": {
                # display names from the cloud catalog (dashboard → GPU Resources)
                "gpu_pool": ["NVIDIA A100-SXM4-80GB"],
                "max_hourly_cost_usd": 5.0,
                "max_instances": 5,
                "allowed_cuda_versions": ["13.0"], # optional CUDA pin
            },
        },
    }))

# Scheduled: daytime-only assistant.
mgmt.ensure(WorkloadSpec(**base,
    execution_policy=ExecutionPolicy.SCHEDULED,
    execution_policy_config={"window": "Mon-Fri 08:00-20:00 Europe/Madrid"}))

# Private worker + fixed: pin to your own GPU box.
mgmt.ensure(WorkloadSpec(**base,
    worker_id="wrk_7Yc2...",
    execution_policy=ExecutionPolicy.FIXED,
    execution_policy_config={"replicas": 2}))
