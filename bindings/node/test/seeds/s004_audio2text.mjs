// Seed doc 004, audio2text: provision, transcribe with the openai client, and the variations.
import { ManagementClient, Backend } from "@inferencekey/sdk";

const mgmt = ManagementClient.fromEnv({ project: "acme" });

const ref = await mgmt.ensure({
  name: "Transcriber",
  slug: "transcriber",
  model: "openai/whisper-large-v3",
  backend: Backend.VllmOmni,
  taskType: "audio2text",
  command: "vllm-omni serve openai/whisper-large-v3",
  executionPolicy: "autoscaling",
  // Full autoscaling shape: see /reference/backends-and-policies/.
  executionPolicyConfig: {
    min_workers: 0, max_workers: 6, max_hourly_cost_usd: 5.0,
    workers: { source: "cloud", cloud_pool: {
      gpu_pool: ["NVIDIA A100-SXM4-80GB"], max_hourly_cost_usd: 5.0, max_instances: 6,
    }},
  },
});
// ---- snippet
import { createReadStream } from "node:fs";
import OpenAI from "openai";

const client = new OpenAI({
  baseURL: "https://api.inferencekey.com/endpoint/acme/transcriber/v1",
  apiKey: "ik_live_...",
});
const tr = await client.audio.transcriptions.create({
  model: "openai/whisper-large-v3",
  file: createReadStream("call.mp3"),
});
console.log(tr.text);
// ---- snippet
import { Backend } from "@inferencekey/sdk";

const base = {
  name: "Transcriber",
  slug: "transcriber",
  model: "openai/whisper-large-v3",
  backend: Backend.VllmOmni,
  taskType: "audio2text",
  command: "vllm-omni serve openai/whisper-large-v3",
};

// Fixed (private worker): always-on, audio stays on your hardware.
await mgmt.ensure({ ...base,
  workerId: "wrk_7Yc2...",
  executionPolicy: "fixed",
  executionPolicyConfig: { replicas: 1 } });

// Scheduled (cloud): transcribe the day's recordings overnight.
await mgmt.ensure({ ...base, executionPolicy: "scheduled", executionPolicyConfig: { cron: "0 0 * * *" } });
