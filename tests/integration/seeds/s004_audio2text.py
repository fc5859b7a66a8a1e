# Seed doc 004, audio2text: provision, transcribe with the openai client, and the variations.
from inferencekey import ManagementClient, WorkloadSpec, Backend, ExecutionPolicy

mgmt = ManagementClient.from_env(project="acme")

ref = mgmt.ensure(WorkloadSpec(
    name="Transcriber",
    slug="transcriber",
    model="openai/whisper-large-v3",
    backend=Backend.VLLM_OMNI,
    task_type="audio2text",
    command="vllm-omni serve openai/whisper-large-v3",
    execution_policy=ExecutionPolicy.AUTOSCALING,
    # Full autoscaling shape: see /reference/backends-and-policies/.
    execution_policy_config={
        "min_workers": 0, "max_workers": 6, "max_hourly_cost_usd": 5.0,
        "workers": {"source": "cloud", "cloud_pool": {
            "gpu_pool": ["NVIDIA A100-SXM4-80GB"], "max_hourly_cost_usd": 5.0, "max_instances": 6,
        }},
    },
))

from openai import OpenAI

client = OpenAI(
    base_url="https://api.inferencekey.com/endpoint/acme/transcriber/v1",
    api_key="ik_live_...",
)
with open("call.mp3", "rb") as audio:
    tr = client.audio.transcriptions.create(
        model="openai/whisper-large-v3",
        file=audio,
    )
print(tr.text)

from inferencekey import WorkloadSpec, Backend, ExecutionPolicy

base = dict(
    name="Transcriber",
    slug="transcriber",
    model="openai/whisper-large-v3",
    backend=Backend.VLLM_OMNI,
    task_type="audio2text",
    command="vllm-omni serve openai/whisper-large-v3",
)

# Fixed (private worker): always-on, audio stays on your hardware.
mgmt.ensure(WorkloadSpec(**base,
    worker_id="wrk_7Yc2...",
    execution_policy=ExecutionPolicy.FIXED,
    execution_policy_config={"replicas": 1}))

# Scheduled (cloud): transcribe the day's recordings overnight.
mgmt.ensure(WorkloadSpec(**base,
    execution_policy=ExecutionPolicy.SCHEDULED,
    execution_policy_config={"cron": "0 0 * * *"}))
