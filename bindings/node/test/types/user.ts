// A user's file: must pass `tsc --strict` against the package's .d.ts (test/package.test.mjs).
import {
  Backend,
  DataClient,
  DriftError,
  ExecutionPolicy,
  InferenceKeyError,
  ManagementClient,
  OnDrift,
  TaskType,
  WorkloadSpec,
  webhooks,
  type EndpointRef,
  type TextChunk,
  type TextResult,
} from "@inferencekey/sdk";

export async function main(signal: AbortSignal): Promise<void> {
  const mgmt = ManagementClient.fromEnv({ project: "acme" });
  const spec: WorkloadSpec = {
    name: "Support bot",
    slug: "support-bot",
    model: "meta-llama/Llama-3.1-8B-Instruct",
    backend: Backend.Vllm,
    taskType: TaskType.Text2text,
    command: "vllm serve meta-llama/Llama-3.1-8B-Instruct",
    executionPolicy: ExecutionPolicy.Fixed,
    executionPolicyConfig: { replicas: 1 },
    workerId: "wrk_1",
  };
  try {
    const ref: EndpointRef = await mgmt.ensure(spec, { onDrift: OnDrift.Fail, signal, timeout: 30 });
    const ep = DataClient.fromEnv({ project: "acme" }).endpoint(ref.workloadSlug, { apiKey: process.env.SUPPORT_IK_LIVE });
    const out: TextResult = await ep.generateText({ prompt: "Hola", temperature: 0.2, maxTokens: 300, signal });
    const text: string = out.text;
    for await (const chunk of ep.generateTextStream({ prompt: text })) {
      const c: TextChunk = chunk;
      if (c.finishReason === "stop") break;
    }
    const emb = await ep.embed({ input: ["a", "b"] });
    const n: number = emb.embeddings.length;
    console.log(n, ep.baseUrl);
    for await (const ev of mgmt.readinessEvents("support-bot")) console.log(ev.phase, ev.elapsedMs);
    const ready = await mgmt.waitUntilReady("support-bot", {
      timeout: 120,
      signal,
      onEvent: (ev) => console.log(ev.phase, ev.message),
    });
    const phase: string = ready.phase;
    console.log(phase);
  } catch (e) {
    if (e instanceof DriftError) console.log(e.plan?.map((c) => c.field), e.status, e.field);
    else if (e instanceof InferenceKeyError) console.log(e.code, e.requestId, e.retryAfter);
    else throw e;
  }
  webhooks.verify("{}", "t=1,v1=00", "secret");
}
