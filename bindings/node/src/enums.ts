/**
 * The wire strings of the core's enums, with the docs' Node casing (`Backend.Vllm`). A test
 * checks every list against the core's (`native.enums()`); anywhere a field takes one of
 * these, a plain string works too.
 */

export const Backend = Object.freeze({
  Ollama: "ollama",
  Vllm: "vllm",
  VllmOmni: "vllm-omni",
  Sglang: "sglang",
  Llamacpp: "llamacpp",
  Stablediffusioncpp: "stablediffusioncpp",
} as const);
export type Backend = (typeof Backend)[keyof typeof Backend];

export const TaskType = Object.freeze({
  Text2text: "text2text",
  Embedding: "embedding",
  Text2image: "text2image",
  Text2video: "text2video",
  Text2audio: "text2audio",
  Image2image: "image2image",
  Image2video: "image2video",
  Audio2text: "audio2text",
  Omni: "omni",
  Reranker: "reranker",
  Classification: "classification",
  Reward: "reward",
  Forecast: "forecast",
} as const);
export type TaskType = (typeof TaskType)[keyof typeof TaskType];

export const ExecutionPolicy = Object.freeze({
  Fixed: "fixed",
  Scheduled: "scheduled",
  Autoscaling: "autoscaling",
} as const);
export type ExecutionPolicy = (typeof ExecutionPolicy)[keyof typeof ExecutionPolicy];

/** What `ensure()` does when the live workload differs from the spec (default `Reconcile`). */
export const OnDrift = Object.freeze({
  Reconcile: "reconcile",
  Fail: "fail",
  DryRun: "dry_run",
  Warn: "warn",
  Ignore: "ignore",
} as const);
export type OnDrift = (typeof OnDrift)[keyof typeof OnDrift];
