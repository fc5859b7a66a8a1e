// Seed doc 004, text2text: provision, call, and the variations.
import { ManagementClient, Backend } from "@inferencekey/sdk";

const mgmt = ManagementClient.fromEnv({ project: "acme" });

const ref = await mgmt.ensure({
  name: "Support bot",
  slug: "support-bot",
  model: "meta-llama/Llama-3.1-8B-Instruct",
  backend: Backend.Vllm,
  taskType: "text2text", // server default; explicit for clarity
  command: "vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 8192",
  executionPolicy: "fixed",
  executionPolicyConfig: { replicas: 1 },
});
console.log(ref.projectSlug, ref.workloadSlug); // acme support-bot
// ---- snippet
import { DataClient } from "@inferencekey/sdk";

const data = DataClient.fromEnv({ project: "acme" });
const ep = data.endpoint("support-bot", { apiKey: process.env.SUPPORT_IK_LIVE });

const out = await ep.generateText({
  prompt: "Hola, ¿cuál es mi saldo?",
  temperature: 0.2,
  maxTokens: 300,
});
console.log(out.text, out.model);
// ---- snippet
import { Backend } from "@inferencekey/sdk";

const base = {
  name: "Support bot",
  slug: "support-bot",
  model: "meta-llama/Llama-3.1-8B-Instruct",
  backend: Backend.Vllm,
  command: "vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 8192",
};

// Autoscaling (cloud): worker count tracks load between a floor and a ceiling.
// Cloud autoscaling needs a cost ceiling and a GPU pool; worker bounds are
// min_workers / max_workers (NOT min/max_replicas).
await mgmt.ensure({ ...base,
  executionPolicy: "autoscaling",
  executionPolicyConfig: {
    min_workers: 0, max_workers: 5,
    max_hourly_cost_usd: 5.0, // required, must be > 0
    workers: {
      source: "cloud",
      cloud_pool: {
        // display names from the cloud catalog (dashboard → GPU Resources)
        gpu_pool: ["NVIDIA A100-SXM4-80GB"],
        max_hourly_cost_usd: 5.0,
        max_instances: 5,
        allowed_cuda_versions: ["13.0"], // optional CUDA pin
      },
    },
  } });

// Scheduled: daytime-only assistant.
await mgmt.ensure({ ...base,
  executionPolicy: "scheduled",
  executionPolicyConfig: { window: "Mon-Fri 08:00-20:00 Europe/Madrid" } });

// Private worker + fixed: pin to your own GPU box.
await mgmt.ensure({ ...base,
  workerId: "wrk_7Yc2...",
  executionPolicy: "fixed",
  executionPolicyConfig: { replicas: 2 } });
