/** The workload spec as an object literal with camelCase fields (docs: "Backends & policies"). */
import { toSnake } from "./case";
import { sync } from "./call";
import type { Backend, ExecutionPolicy, TaskType } from "./enums";
import { native } from "./native";

export interface WorkloadSpec {
  name: string;
  /** The idempotency key of `ensure()`. */
  slug: string;
  model: string;
  backend?: Backend | (string & {});
  project?: string;
  description?: string;
  /** How a vllm / vllm-omni backend launches the model. */
  command?: string;
  vllmVersion?: string;
  /** Default `text2text`. */
  taskType?: TaskType | (string & {});
  /** Backend configuration, passed as written. */
  config?: Record<string, unknown>;
  executionPolicy?: ExecutionPolicy | (string & {});
  /** The policy's parameters, validated by the core and the Manager; keys as the docs write them. */
  executionPolicyConfig?: Record<string, unknown>;
  /** Pins the workload to a registered private worker. */
  workerId?: string;
  gpuResourceId?: string;
}

/** The spec's JSON as the core reads it. */
export function specJson(spec: WorkloadSpec): string {
  return JSON.stringify(toSnake(spec));
}

/**
 * A spec, checked: `WorkloadSpec({...})` returns a copy after the core's local checks
 * (throws `ValidationError` / `ConfigurationError` naming the field). `ensure()` runs the
 * same checks, so calling this is optional.
 */
export function WorkloadSpec(spec: WorkloadSpec): WorkloadSpec {
  sync(() => native.validateSpec(specJson(spec)));
  return { ...spec };
}
