// Seed doc 004, embedding: provision, call, and the variations.
import { ManagementClient, Backend } from "@inferencekey/sdk";

const mgmt = ManagementClient.fromEnv({ project: "acme" });

const ref = await mgmt.ensure({
  name: "Billing embeddings",
  slug: "billing",
  model: "BAAI/bge-large-en-v1.5",
  backend: Backend.Vllm,
  taskType: "embedding",
  command: "vllm serve BAAI/bge-large-en-v1.5 --task embed",
  executionPolicy: "scheduled",
  executionPolicyConfig: { cron: "0 2 * * *" }, // nightly at 02:00
});
// ---- snippet
import { DataClient } from "@inferencekey/sdk";

const data = DataClient.fromEnv({ project: "acme" });
const emb = await data
  .endpoint("billing", { apiKey: "ik_live_..." })
  .embed({ input: ["invoice #42", "refund policy"] });
console.log(emb.embeddings.length, "vectors", emb.model);
// ---- snippet
import { Backend } from "@inferencekey/sdk";

const base = {
  name: "Billing embeddings",
  slug: "billing",
  model: "BAAI/bge-large-en-v1.5",
  backend: Backend.Vllm,
  taskType: "embedding",
  command: "vllm serve BAAI/bge-large-en-v1.5 --task embed",
};

// Fixed (cloud): always-on for live RAG queries.
await mgmt.ensure({ ...base, executionPolicy: "fixed", executionPolicyConfig: { replicas: 1 } });

// Autoscaling (private worker): scale on your own hardware. See the full
// config shapes in Backends & policies (/reference/backends-and-policies/).
await mgmt.ensure({ ...base,
  workerId: "wrk_7Yc2...",
  executionPolicy: "autoscaling",
  executionPolicyConfig: {
    min_workers: 1, max_workers: 4,
    workers: { source: "private", private_worker_ids: ["wrk_7Yc2..."] },
  } });
