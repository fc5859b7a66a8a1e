/** The control plane: `ManagementClient` (an `ik_sdk_` token, one project). */
import { inspect } from "node:util";

import { coreJson, invoke, sync, type CallOptions } from "./call";
import { toCamel } from "./case";
import type { OnDrift } from "./enums";
import type { PlanChange } from "./errors";
import { native, type NativeManagementClient, type NativeStream } from "./native";
import { specJson, type WorkloadSpec } from "./spec";

export interface ClientSettings {
  /** Default `INFERENCEKEY_BASE_URL`, else the hosted platform. */
  baseUrl?: string;
  /** Default `INFERENCEKEY_PROJECT`. */
  project?: string;
  /** Default total deadline of each call, seconds. */
  timeout?: number;
  connectTimeout?: number;
  /** Idle timeout: the longest wait for the next bytes (or stream event), seconds. */
  readTimeout?: number;
  maxRetries?: number;
}

export interface ManagementSettings extends ClientSettings {
  /** Default `INFERENCEKEY_SDK_TOKEN`. */
  sdkToken?: string;
}

export interface ProjectOptions extends CallOptions {
  /** Another project than the client's. */
  project?: string;
}

export interface WaitOptions extends ProjectOptions {
  /**
   * Called with each readiness event as it arrives, the final `ready` one included, in order;
   * every call has happened by the time `waitUntilReady` settles. If it throws, the wait
   * stops and `waitUntilReady` rejects with what it threw.
   */
  onEvent?: (event: ReadinessEvent) => void;
}

export interface EnsureOptions extends ProjectOptions {
  onDrift?: OnDrift | (string & {});
}

/** A workload as the control plane returns it (top-level keys camelCased). */
export interface Workload {
  id?: string | null;
  projectId?: string | null;
  projectSlug?: string | null;
  name?: string | null;
  slug?: string | null;
  workloadSlug?: string | null;
  description?: string | null;
  taskType?: string | null;
  backend?: string | null;
  modelName?: string | null;
  config?: Record<string, unknown> | null;
  workerId?: string | null;
  gpuResourceId?: string | null;
  executionPolicy?: string | null;
  executionPolicyConfig?: Record<string, unknown> | null;
  createdAt?: string | null;
  updatedAt?: string | null;
  status?: string | null;
  statusMessage?: string | null;
  [key: string]: unknown;
}

export type EnsureAction = "created" | "updated" | "unchanged" | "drifted" | "would_create" | "would_update";

/** What `ensure()` returns: which workload to talk to, and what happened. */
export interface EndpointRef {
  projectSlug: string;
  workloadSlug: string;
  /** `null` only for `would_create`. */
  workloadId: string | null;
  action: EnsureAction;
  plan: PlanChange[];
  workload: Workload | null;
  /** Under `OnDrift.Warn` with drift: the warning (also emitted as a process warning). */
  warning: string | null;
}

export interface ReadinessEvent {
  phase: string;
  message: string;
  elapsedMs: number;
  step?: string;
}

function workload(raw: Record<string, unknown>): Workload {
  return toCamel<Workload>(raw);
}

/** An async iterator over a native stream of JSON items; `return()` (a `break`) closes it. */
export class NativeIterator<T, S extends NativeStream = NativeStream> implements AsyncIterableIterator<T> {
  #open: (cancel: number | null) => Promise<S>;
  #decode: (json: string) => T[];
  #signal: AbortSignal | undefined;
  #stream: S | undefined;
  #buffer: T[] = [];
  #index = 0;
  #done = false;
  #onAbort = (): void => this.close();

  constructor(
    open: (cancel: number | null) => Promise<S>,
    decode: (json: string) => T[],
    signal: AbortSignal | undefined,
  ) {
    this.#open = open;
    this.#decode = decode;
    this.#signal = signal;
    signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** The native stream, opened (the request sent) on first use. */
  protected async opened(): Promise<S> {
    if (this.#stream === undefined) {
      this.#stream = await invoke(this.#signal, (id) => this.#open(id));
      if (this.#done) this.#stream.close();
    }
    return this.#stream;
  }

  /** The caller's `AbortSignal`, for calls beyond `next`. */
  protected get signal(): AbortSignal | undefined {
    return this.#signal;
  }

  async next(): Promise<IteratorResult<T, undefined>> {
    if (this.#index < this.#buffer.length) {
      return { value: this.#buffer[this.#index++] as T, done: false };
    }
    this.#signal?.throwIfAborted();
    if (this.#done) return { value: undefined, done: true };
    try {
      const stream = await this.opened();
      const batch = await invoke(this.#signal, (id) => stream.next(id));
      // An abort closes the stream too, which may end it (null) before the cancel lands.
      this.#signal?.throwIfAborted();
      if (batch === null) {
        this.close();
        return { value: undefined, done: true };
      }
      this.#buffer = this.#decode(batch);
      this.#index = 1;
      return { value: this.#buffer[0] as T, done: false };
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** Called by `break` / `return` in a `for await` loop: closes the connection. */
  async return(): Promise<IteratorResult<T, undefined>> {
    this.close();
    return { value: undefined, done: true };
  }

  /** Closes the connection; iteration ends. */
  close(): void {
    this.#done = true;
    this.#buffer = [];
    this.#index = 0;
    this.#stream?.close();
    this.#signal?.removeEventListener("abort", this.#onAbort);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

export class ManagementClient {
  readonly #native: NativeManagementClient;

  /** Settings fall back to the `INFERENCEKEY_*` environment; a missing or data-plane token throws here. */
  constructor(settings: ManagementSettings = {}) {
    this.#native = sync(() => new native.ManagementClient(coreJson(settings)));
  }

  /** A client from the environment (`INFERENCEKEY_SDK_TOKEN`, `_BASE_URL`, `_PROJECT`). */
  static fromEnv(settings: ManagementSettings = {}): ManagementClient {
    return new ManagementClient(settings);
  }

  get baseUrl(): string {
    return this.#native.baseUrl;
  }

  get project(): string | null {
    return this.#native.project;
  }

  /** Makes the platform match `spec`: create, patch or nothing, per `onDrift` (default reconcile). */
  async ensure(spec: WorkloadSpec, options: EnsureOptions = {}): Promise<EndpointRef> {
    const json = specJson(spec);
    const raw = JSON.parse(
      await invoke(options.signal, (id) => this.#native.ensure(json, coreJson(options), id)),
    ) as Record<string, unknown>;
    const ref = toCamel<EndpointRef>(raw);
    ref.workload = raw.workload ? workload(raw.workload as Record<string, unknown>) : null;
    if (ref.warning) process.emitWarning(ref.warning, { type: "InferenceKeyDriftWarning" });
    return ref;
  }

  /** The workload with this slug; `NotFoundError` when there is none. */
  async get(slug: string, options: ProjectOptions = {}): Promise<Workload> {
    const raw = await invoke(options.signal, (id) => this.#native.get(slug, coreJson(options), id));
    return workload(JSON.parse(raw) as Record<string, unknown>);
  }

  async list(options: ProjectOptions = {}): Promise<Workload[]> {
    const raw = await invoke(options.signal, (id) => this.#native.list(coreJson(options), id));
    return (JSON.parse(raw) as Record<string, unknown>[]).map(workload);
  }

  async delete(slug: string, options: ProjectOptions = {}): Promise<void> {
    await invoke(options.signal, (id) => this.#native.delete(slug, coreJson(options), id));
  }

  /**
   * Resolves with the `ready` event; `TimeoutError` after `timeout` seconds (default 600);
   * `ServerError` (code `workload_error`) when the workload fails to start. `onEvent` sees the
   * progress of a long wait; aborting `signal` stops the wait and closes its stream.
   */
  async waitUntilReady(slug: string, options: WaitOptions = {}): Promise<ReadinessEvent> {
    const { onEvent, signal, ...rest } = options;
    const json = coreJson(rest);
    const event = (raw: string): ReadinessEvent => toCamel<ReadinessEvent>(JSON.parse(raw) as Record<string, unknown>);
    if (onEvent === undefined) {
      return event(await invoke(signal, (id) => this.#native.waitUntilReady(slug, json, id, null)));
    }
    if (typeof onEvent !== "function") {
      throw new TypeError(`waitUntilReady: onEvent must be a function (event) => void, not ${typeof onEvent}`);
    }
    // One controller for the native call: the caller's signal aborts it, and so does an
    // exception from `onEvent` (then the wait rejects with that exception).
    const stop = new AbortController();
    const forward = (): void => stop.abort(signal?.reason);
    if (signal?.aborted) forward();
    signal?.addEventListener("abort", forward, { once: true });
    let drained!: () => void;
    const done = new Promise<void>((resolve) => (drained = resolve));
    const deliver = (raw: string): void => {
      if (raw === "") return drained();
      if (stop.signal.aborted) return;
      try {
        onEvent(event(raw));
      } catch (e) {
        stop.abort(e);
      }
    };
    let started = false;
    try {
      const raw = await invoke(stop.signal, (id) => {
        const pending = this.#native.waitUntilReady(slug, json, id, deliver);
        started = true;
        return pending;
      });
      await done;
      // An exception from the last `onEvent` call (the `ready` event) still wins.
      stop.signal.throwIfAborted();
      return event(raw);
    } catch (e) {
      // A failed wait (not an aborted one) settles after its events were delivered too.
      if (started && !stop.signal.aborted) await done;
      throw stop.signal.aborted ? stop.signal.reason : e;
    } finally {
      signal?.removeEventListener("abort", forward);
    }
  }

  /** The workload's readiness events until `ready` or `error`; `break` closes the stream. */
  readinessEvents(slug: string, options: ProjectOptions = {}): AsyncIterableIterator<ReadinessEvent> {
    const json = coreJson(options);
    return new NativeIterator(
      (id) => this.#native.readinessEvents(slug, json, id),
      (item) => [toCamel<ReadinessEvent>(JSON.parse(item) as Record<string, unknown>)],
      options.signal,
    );
  }

  [inspect.custom](): string {
    return `ManagementClient { baseUrl: ${inspect(this.baseUrl)}, project: ${inspect(this.project)} }`;
  }

  toJSON(): Record<string, unknown> {
    return { baseUrl: this.baseUrl, project: this.project };
  }
}
