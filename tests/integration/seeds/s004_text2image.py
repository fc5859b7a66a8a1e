# Seed doc 004, text2image: provision, call with the openai client, and the variations.
from inferencekey import ManagementClient, WorkloadSpec, Backend, ExecutionPolicy

mgmt = ManagementClient.from_env(project="acme")

ref = mgmt.ensure(WorkloadSpec(
    name="Poster maker",
    slug="poster-maker",
    model="stabilityai/stable-diffusion-3.5-large",
    backend=Backend.VLLM_OMNI,
    task_type="text2image",
    command="vllm-omni serve stabilityai/stable-diffusion-3.5-large",
    vllm_version="0.6.3", # optional: pin the serving runtime
    execution_policy=ExecutionPolicy.AUTOSCALING,
    # Full autoscaling shape: see /reference/backends-and-policies/.
    execution_policy_config={
        "min_workers": 0, "max_workers": 3, "max_hourly_cost_usd": 5.0,
        "workers": {"source": "cloud", "cloud_pool": {
            "gpu_pool": ["NVIDIA A100-SXM4-80GB"], "max_hourly_cost_usd": 5.0, "max_instances": 3,
        }},
    },
))

from openai import OpenAI

client = OpenAI(
    base_url="https://api.inferencekey.com/endpoint/acme/poster-maker/v1",
    api_key="ik_live_...",
)
img = client.images.generate(
    model="stabilityai/stable-diffusion-3.5-large",
    prompt="A neon poster of a llama coding at night",
    size="1024x1024",
)
print(img.data[0].url)

from inferencekey import WorkloadSpec, Backend, ExecutionPolicy

base = dict(
    name="Poster maker",
    slug="poster-maker",
    model="stabilityai/stable-diffusion-3.5-large",
    backend=Backend.VLLM_OMNI,
    task_type="text2image",
    command="vllm-omni serve stabilityai/stable-diffusion-3.5-large",
)

# Fixed (cloud): one warm replica for predictable latency.
mgmt.ensure(WorkloadSpec(**base,
    execution_policy=ExecutionPolicy.FIXED,
    execution_policy_config={"replicas": 1}))

# Scheduled (private worker): batch render overnight on your hardware.
mgmt.ensure(WorkloadSpec(**base,
    worker_id="wrk_7Yc2...",
    execution_policy=ExecutionPolicy.SCHEDULED,
    execution_policy_config={"cron": "0 1 * * *"}))
