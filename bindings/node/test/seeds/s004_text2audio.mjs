// Seed doc 004, text2audio: provision, synthesise with the openai client, and the variations.
import { ManagementClient, Backend } from "@inferencekey/sdk";

const mgmt = ManagementClient.fromEnv({ project: "acme" });

const ref = await mgmt.ensure({
  name: "Voice over",
  slug: "voice-over",
  model: "hexgrad/Kokoro-82M",
  backend: Backend.VllmOmni,
  taskType: "text2audio",
  command: "vllm-omni serve hexgrad/Kokoro-82M",
  workerId: "wrk_7Yc2...", // private worker
  executionPolicy: "fixed",
  executionPolicyConfig: { replicas: 1 },
});
// ---- snippet
import { writeFile } from "node:fs/promises";
import OpenAI from "openai";

const client = new OpenAI({
  baseURL: "https://api.inferencekey.com/endpoint/acme/voice-over/v1",
  apiKey: "ik_live_...",
});
const speech = await client.audio.speech.create({
  model: "hexgrad/Kokoro-82M",
  voice: "af_heart",
  input: "Hola, su pedido va en camino.",
});
await writeFile("out.mp3", Buffer.from(await speech.arrayBuffer()));
// ---- snippet
import { Backend } from "@inferencekey/sdk";

const base = {
  name: "Voice over",
  slug: "voice-over",
  model: "hexgrad/Kokoro-82M",
  backend: Backend.VllmOmni,
  taskType: "text2audio",
  command: "vllm-omni serve hexgrad/Kokoro-82M",
};

// Autoscaling (cloud): scale with podcast/render demand.
await mgmt.ensure({ ...base,
  executionPolicy: "autoscaling",
  // Compact cloud autoscaling; full shape at /reference/backends-and-policies/.
  executionPolicyConfig: {
    min_workers: 0, max_workers: 4, max_hourly_cost_usd: 5.0,
    workers: { source: "cloud", cloud_pool: {
      gpu_pool: ["NVIDIA A100-SXM4-80GB"], max_hourly_cost_usd: 5.0, max_instances: 4,
    }},
  } });

// Scheduled (cloud): generate daily briefings each morning.
await mgmt.ensure({ ...base, executionPolicy: "scheduled", executionPolicyConfig: { cron: "0 6 * * *" } });
