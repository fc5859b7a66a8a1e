"""Every WorkloadSpec the product docs show (shared/seeds), written as the docs write
them, with the placeholder worker id "wrk_7Yc2..." replaced by a plain id."""

from __future__ import annotations

from typing import Any

from inferencekey import Backend, ExecutionPolicy, WorkloadSpec

WORKER = "wrk_7Yc2abcd"


def _cloud_autoscaling(max_workers: int, cuda: bool = False) -> dict[str, Any]:
    cloud_pool: dict[str, Any] = {
        "gpu_pool": ["NVIDIA A100-SXM4-80GB"],
        "max_hourly_cost_usd": 5.0,
        "max_instances": max_workers,
    }
    if cuda:
        cloud_pool["allowed_cuda_versions"] = ["13.0"]
    return {
        "min_workers": 0,
        "max_workers": max_workers,
        "max_hourly_cost_usd": 5.0,
        "workers": {"source": "cloud", "cloud_pool": cloud_pool},
    }


def seed_specs() -> dict[str, WorkloadSpec]:
    specs: dict[str, WorkloadSpec] = {}

    # --- 004: Three axes, one spec ------------------------------------------------
    specs["text2text"] = WorkloadSpec(
        name="Support bot",
        slug="support-bot",
        model="meta-llama/Llama-3.1-8B-Instruct",
        backend=Backend.VLLM,
        task_type="text2text",  # server default; explicit for clarity
        command="vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 8192",
        execution_policy=ExecutionPolicy.FIXED,
        execution_policy_config={"replicas": 1},
    )
    base: dict[str, Any] = dict(
        name="Support bot",
        slug="support-bot",
        model="meta-llama/Llama-3.1-8B-Instruct",
        backend=Backend.VLLM,
        command="vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 8192",
    )
    specs["text2text autoscaling cloud"] = WorkloadSpec(
        **base,
        execution_policy=ExecutionPolicy.AUTOSCALING,
        execution_policy_config={
            "min_workers": 0,
            "max_workers": 5,
            "max_hourly_cost_usd": 5.0,  # required, must be > 0
            "workers": {
                "source": "cloud",
                "cloud_pool": {
                    # display names from the cloud catalog (dashboard → GPU Resources)
                    "gpu_pool": ["NVIDIA A100-SXM4-80GB"],
                    "max_hourly_cost_usd": 5.0,
                    "max_instances": 5,
                    "allowed_cuda_versions": ["13.0"],  # optional CUDA pin
                },
            },
        },
    )
    specs["text2text scheduled"] = WorkloadSpec(
        **base,
        execution_policy=ExecutionPolicy.SCHEDULED,
        execution_policy_config={"window": "Mon-Fri 08:00-20:00 Europe/Madrid"},
    )
    specs["text2text private fixed"] = WorkloadSpec(
        **base,
        worker_id=WORKER,
        execution_policy=ExecutionPolicy.FIXED,
        execution_policy_config={"replicas": 2},
    )

    specs["embedding"] = WorkloadSpec(
        name="Billing embeddings",
        slug="billing",
        model="BAAI/bge-large-en-v1.5",
        backend=Backend.VLLM,
        task_type="embedding",
        command="vllm serve BAAI/bge-large-en-v1.5 --task embed",
        execution_policy=ExecutionPolicy.SCHEDULED,
        execution_policy_config={"cron": "0 2 * * *"},  # nightly at 02:00
    )
    base = dict(
        name="Billing embeddings",
        slug="billing",
        model="BAAI/bge-large-en-v1.5",
        backend=Backend.VLLM,
        task_type="embedding",
        command="vllm serve BAAI/bge-large-en-v1.5 --task embed",
    )
    specs["embedding fixed"] = WorkloadSpec(
        **base, execution_policy=ExecutionPolicy.FIXED, execution_policy_config={"replicas": 1}
    )
    specs["embedding autoscaling private"] = WorkloadSpec(
        **base,
        worker_id=WORKER,
        execution_policy=ExecutionPolicy.AUTOSCALING,
        execution_policy_config={
            "min_workers": 1,
            "max_workers": 4,
            "workers": {"source": "private", "private_worker_ids": [WORKER]},
        },
    )

    specs["text2image"] = WorkloadSpec(
        name="Poster maker",
        slug="poster-maker",
        model="stabilityai/stable-diffusion-3.5-large",
        backend=Backend.VLLM_OMNI,
        task_type="text2image",
        command="vllm-omni serve stabilityai/stable-diffusion-3.5-large",
        vllm_version="0.6.3",  # optional: pin the serving runtime
        execution_policy=ExecutionPolicy.AUTOSCALING,
        execution_policy_config=_cloud_autoscaling(3),
    )
    base = dict(
        name="Poster maker",
        slug="poster-maker",
        model="stabilityai/stable-diffusion-3.5-large",
        backend=Backend.VLLM_OMNI,
        task_type="text2image",
        command="vllm-omni serve stabilityai/stable-diffusion-3.5-large",
    )
    specs["text2image fixed"] = WorkloadSpec(
        **base, execution_policy=ExecutionPolicy.FIXED, execution_policy_config={"replicas": 1}
    )
    specs["text2image scheduled private"] = WorkloadSpec(
        **base,
        worker_id=WORKER,
        execution_policy=ExecutionPolicy.SCHEDULED,
        execution_policy_config={"cron": "0 1 * * *"},
    )

    specs["text2audio"] = WorkloadSpec(
        name="Voice over",
        slug="voice-over",
        model="hexgrad/Kokoro-82M",
        backend=Backend.VLLM_OMNI,
        task_type="text2audio",
        command="vllm-omni serve hexgrad/Kokoro-82M",
        worker_id=WORKER,  # private worker
        execution_policy=ExecutionPolicy.FIXED,
        execution_policy_config={"replicas": 1},
    )
    base = dict(
        name="Voice over",
        slug="voice-over",
        model="hexgrad/Kokoro-82M",
        backend=Backend.VLLM_OMNI,
        task_type="text2audio",
        command="vllm-omni serve hexgrad/Kokoro-82M",
    )
    specs["text2audio autoscaling"] = WorkloadSpec(
        **base,
        execution_policy=ExecutionPolicy.AUTOSCALING,
        execution_policy_config=_cloud_autoscaling(4),
    )
    specs["text2audio scheduled"] = WorkloadSpec(
        **base,
        execution_policy=ExecutionPolicy.SCHEDULED,
        execution_policy_config={"cron": "0 6 * * *"},
    )

    specs["audio2text"] = WorkloadSpec(
        name="Transcriber",
        slug="transcriber",
        model="openai/whisper-large-v3",
        backend=Backend.VLLM_OMNI,
        task_type="audio2text",
        command="vllm-omni serve openai/whisper-large-v3",
        execution_policy=ExecutionPolicy.AUTOSCALING,
        execution_policy_config=_cloud_autoscaling(6),
    )
    base = dict(
        name="Transcriber",
        slug="transcriber",
        model="openai/whisper-large-v3",
        backend=Backend.VLLM_OMNI,
        task_type="audio2text",
        command="vllm-omni serve openai/whisper-large-v3",
    )
    specs["audio2text private fixed"] = WorkloadSpec(
        **base,
        worker_id=WORKER,
        execution_policy=ExecutionPolicy.FIXED,
        execution_policy_config={"replicas": 1},
    )
    specs["audio2text scheduled"] = WorkloadSpec(
        **base,
        execution_policy=ExecutionPolicy.SCHEDULED,
        execution_policy_config={"cron": "0 0 * * *"},
    )

    specs["reranker"] = WorkloadSpec(
        name="Search reranker",
        slug="search-reranker",
        model="BAAI/bge-reranker-v2-m3",
        backend=Backend.VLLM,
        task_type="reranker",  # also: "classification", "reward"
        command="vllm serve BAAI/bge-reranker-v2-m3 --task score",
        execution_policy=ExecutionPolicy.AUTOSCALING,
        execution_policy_config=_cloud_autoscaling(3),
    )

    # --- 000 / 002 / 003: the other pages -----------------------------------------
    specs["architecture"] = WorkloadSpec(
        name="support-bot",
        slug="support-bot",
        model="meta-llama/Llama-3.1-8B-Instruct",
        backend=Backend.VLLM,
        command="vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 8192",
    )
    specs["pinned vllm_version"] = WorkloadSpec(
        name="support-bot",
        slug="support-bot",
        model="meta-llama/Llama-3.1-8B-Instruct",
        backend=Backend.VLLM,
        command="vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 8192",
        vllm_version="0.6.3",  # optional: pin the engine version
    )
    specs["billing-embeddings"] = WorkloadSpec(
        name="billing-embeddings",
        slug="billing",
        model="BAAI/bge-large-en-v1.5",
        backend=Backend.VLLM,
        command="vllm serve BAAI/bge-large-en-v1.5",
        task_type="embedding",
    )
    specs["autoscaling with server defaults"] = WorkloadSpec(
        name="support-bot",
        slug="support-bot",
        model="meta-llama/Llama-3.1-8B-Instruct",
        backend=Backend.VLLM,
        command="vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 8192",
        execution_policy="autoscaling",
    )
    return specs
