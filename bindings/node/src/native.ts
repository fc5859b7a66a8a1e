/**
 * Loads the native addon. Two places, in order:
 *
 * 1. `native/inferencekey.<platform>-<arch>[-<libc>].node` inside this package — the addon
 *    built locally for this machine (what `npm pack` of a local build ships);
 * 2. `@inferencekey/sdk-<platform>-<arch>[-<libc>]` — the per-platform package layout
 *    napi-rs publishes (one npm package per target, listed as optionalDependencies).
 */
import * as path from "node:path";

import { platformTriple } from "./platform";

/** The JSON-in/JSON-out surface of crates/inferencekey-node (see its lib.rs). */
export interface NativeStream {
  next(cancel?: number | null): Promise<string | null>;
  close(): void;
}

export interface NativeTextStream extends NativeStream {
  finalResult(cancel?: number | null): Promise<string>;
}

export interface NativeManagementClient {
  readonly baseUrl: string;
  readonly project: string | null;
  ensure(spec: string, options: string, cancel?: number | null): Promise<string>;
  get(slug: string, options: string, cancel?: number | null): Promise<string>;
  list(options: string, cancel?: number | null): Promise<string>;
  delete(slug: string, options: string, cancel?: number | null): Promise<string>;
  waitUntilReady(
    slug: string,
    options: string,
    cancel?: number | null,
    onEvent?: ((json: string) => void) | null,
  ): Promise<string>;
  readinessEvents(slug: string, options: string, cancel?: number | null): Promise<NativeStream>;
}

export interface NativeEndpoint {
  readonly projectSlug: string;
  readonly workloadSlug: string;
  readonly baseUrl: string;
  readonly redactedApiKey: string;
  revealApiKey(): string;
  generateText(request: string, cancel?: number | null): Promise<string>;
  generateTextStream(request: string, cancel?: number | null): Promise<NativeTextStream>;
  embed(request: string, cancel?: number | null): Promise<string>;
  rerank(request: string, cancel?: number | null): Promise<string>;
  submitJob(request: string, cancel?: number | null): Promise<string>;
  jobStatus(jobId: string, options: string, cancel?: number | null): Promise<string>;
  waitJob(jobId: string, options: string, cancel?: number | null): Promise<string>;
}

export interface NativeDataClient {
  readonly baseUrl: string;
  readonly project: string | null;
  endpoint(workload: string, options: string): NativeEndpoint;
}

export interface Native {
  version(): string;
  errorKinds(): string[];
  cancelId(): number;
  cancel(id: number): void;
  release(id: number): void;
  verifyWebhook(body: Buffer, header: string, secret: Buffer, tolerance?: number | null, now?: number | null): void;
  signWebhook(body: Buffer, secret: Buffer, t: number): string;
  validateSpec(spec: string): void;
  enums(): Record<string, string[]>;
  typeFields(name: string): string[] | null;
  ManagementClient: new (settings: string) => NativeManagementClient;
  DataClient: new (settings: string) => NativeDataClient;
}

function load(): Native {
  const triple = platformTriple();
  const local = path.join(__dirname, "..", "native", `inferencekey.${triple}.node`);
  const errors: string[] = [];
  for (const candidate of [local, `@inferencekey/sdk-${triple}`]) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return require(candidate) as Native;
    } catch (e) {
      errors.push(`${candidate}: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  throw new Error(
    `@inferencekey/sdk has no native addon for ${triple}. Tried:\n  ${errors.join("\n  ")}\n` +
      "Build it from a checkout with `npm run build` in bindings/node (needs Rust), or install the platform package.",
  );
}

export const native: Native = load();
