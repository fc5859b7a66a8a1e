// Seed doc 004, reranker (async-only): provision.
import { ManagementClient, Backend } from "@inferencekey/sdk";

const mgmt = ManagementClient.fromEnv({ project: "acme" });

// Reranker — async-only. classification / reward follow the same shape.
await mgmt.ensure({
  name: "Search reranker",
  slug: "search-reranker",
  model: "BAAI/bge-reranker-v2-m3",
  backend: Backend.Vllm,
  taskType: "reranker", // also: "classification", "reward"
  command: "vllm serve BAAI/bge-reranker-v2-m3 --task score",
  executionPolicy: "autoscaling",
  // Full autoscaling shape: see /reference/backends-and-policies/.
  executionPolicyConfig: {
    min_workers: 0, max_workers: 3, max_hourly_cost_usd: 5.0,
    workers: { source: "cloud", cloud_pool: {
      gpu_pool: ["NVIDIA A100-SXM4-80GB"], max_hourly_cost_usd: 5.0, max_instances: 3,
    }},
  },
});
