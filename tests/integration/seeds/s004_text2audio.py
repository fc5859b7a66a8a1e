# Seed doc 004, text2audio: provision on a private worker, call with the openai client,
# and the variations.
from inferencekey import ManagementClient, WorkloadSpec, Backend, ExecutionPolicy

mgmt = ManagementClient.from_env(project="acme")

ref = mgmt.ensure(WorkloadSpec(
    name="Voice over",
    slug="voice-over",
    model="hexgrad/Kokoro-82M",
    backend=Backend.VLLM_OMNI,
    task_type="text2audio",
    command="vllm-omni serve hexgrad/Kokoro-82M",
    worker_id="wrk_7Yc2...", # private worker
    execution_policy=ExecutionPolicy.FIXED,
    execution_policy_config={"replicas": 1},
))

from openai import OpenAI

client = OpenAI(
    base_url="https://api.inferencekey.com/endpoint/acme/voice-over/v1",
    api_key="ik_live_...",
)
speech = client.audio.speech.create(
    model="hexgrad/Kokoro-82M",
    voice="af_heart",
    input="Hola, su pedido va en camino.",
)
speech.stream_to_file("out.mp3")

from inferencekey import WorkloadSpec, Backend, ExecutionPolicy

base = dict(
    name="Voice over",
    slug="voice-over",
    model="hexgrad/Kokoro-82M",
    backend=Backend.VLLM_OMNI,
    task_type="text2audio",
    command="vllm-omni serve hexgrad/Kokoro-82M",
)

# Autoscaling (cloud): scale with podcast/render demand.
mgmt.ensure(WorkloadSpec(**base,
    execution_policy=ExecutionPolicy.AUTOSCALING,
    # Compact cloud autoscaling; full shape at /reference/backends-and-policies/.
    execution_policy_config={
        "min_workers": 0, "max_workers": 4, "max_hourly_cost_usd": 5.0,
        "workers": {"source": "cloud", "cloud_pool": {
            "gpu_pool": ["NVIDIA A100-SXM4-80GB"], "max_hourly_cost_usd": 5.0, "max_instances": 4,
        }},
    }))

# Scheduled (cloud): generate daily briefings each morning.
mgmt.ensure(WorkloadSpec(**base,
    execution_policy=ExecutionPolicy.SCHEDULED,
    execution_policy_config={"cron": "0 6 * * *"}))
