# Seed doc 004, async-only modalities: a reranker.
from inferencekey import ManagementClient, WorkloadSpec, Backend, ExecutionPolicy

mgmt = ManagementClient.from_env(project="acme")

# Reranker — async-only. classification / reward follow the same shape.
mgmt.ensure(WorkloadSpec(
    name="Search reranker",
    slug="search-reranker",
    model="BAAI/bge-reranker-v2-m3",
    backend=Backend.VLLM,
    task_type="reranker", # also: "classification", "reward"
    command="vllm serve BAAI/bge-reranker-v2-m3 --task score",
    execution_policy=ExecutionPolicy.AUTOSCALING,
    # Full autoscaling shape: see /reference/backends-and-policies/.
    execution_policy_config={
        "min_workers": 0, "max_workers": 3, "max_hourly_cost_usd": 5.0,
        "workers": {"source": "cloud", "cloud_pool": {
            "gpu_pool": ["NVIDIA A100-SXM4-80GB"], "max_hourly_cost_usd": 5.0, "max_instances": 3,
        }},
    },
))
