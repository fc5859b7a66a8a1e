// Seed doc 004, text2image: provision, call with the openai client, and the variations.
import { ManagementClient, Backend } from "@inferencekey/sdk";

const mgmt = ManagementClient.fromEnv({ project: "acme" });

const ref = await mgmt.ensure({
  name: "Poster maker",
  slug: "poster-maker",
  model: "stabilityai/stable-diffusion-3.5-large",
  backend: Backend.VllmOmni,
  taskType: "text2image",
  command: "vllm-omni serve stabilityai/stable-diffusion-3.5-large",
  vllmVersion: "0.6.3", // optional: pin the serving runtime
  executionPolicy: "autoscaling",
  // Full autoscaling shape: see /reference/backends-and-policies/.
  executionPolicyConfig: {
    min_workers: 0, max_workers: 3, max_hourly_cost_usd: 5.0,
    workers: { source: "cloud", cloud_pool: {
      gpu_pool: ["NVIDIA A100-SXM4-80GB"], max_hourly_cost_usd: 5.0, max_instances: 3,
    }},
  },
});
// ---- snippet
import OpenAI from "openai";

const client = new OpenAI({
  baseURL: "https://api.inferencekey.com/endpoint/acme/poster-maker/v1",
  apiKey: "ik_live_...",
});
const img = await client.images.generate({
  model: "stabilityai/stable-diffusion-3.5-large",
  prompt: "A neon poster of a llama coding at night",
  size: "1024x1024",
});
console.log(img.data[0].url);
// ---- snippet
import { Backend } from "@inferencekey/sdk";

const base = {
  name: "Poster maker",
  slug: "poster-maker",
  model: "stabilityai/stable-diffusion-3.5-large",
  backend: Backend.VllmOmni,
  taskType: "text2image",
  command: "vllm-omni serve stabilityai/stable-diffusion-3.5-large",
};

// Fixed (cloud): one warm replica for predictable latency.
await mgmt.ensure({ ...base, executionPolicy: "fixed", executionPolicyConfig: { replicas: 1 } });

// Scheduled (private worker): batch render overnight on your hardware.
await mgmt.ensure({ ...base,
  workerId: "wrk_7Yc2...",
  executionPolicy: "scheduled",
  executionPolicyConfig: { cron: "0 1 * * *" } });
