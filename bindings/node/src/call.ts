/**
 * How every method runs a native call: options split into the `signal` (ours) and the rest
 * (the core's, snake_cased), a cancel id wired to the signal, and native errors turned into
 * the error classes.
 */
import { toSnake } from "./case";
import { fromNative } from "./errors";
import { native } from "./native";

/** Accepted by every method. */
export interface CallOptions {
  /** Aborting drops the call in the core and closes its connection; the Promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** This call's total deadline in seconds, retries included. */
  timeout?: number;
  /** This call's retry count (0 to 100), instead of the client's. */
  maxRetries?: number;
}

/** `options` without `signal`, as the JSON of the core's snake_case type. */
export function coreJson(options: object | undefined | null): string {
  if (options == null) return "{}";
  return JSON.stringify(toSnake(options, "signal"));
}

function rethrow(e: unknown): never {
  throw fromNative(e);
}

/**
 * Runs `run` with a cancel id bound to `signal`. Without a signal (the hot path) no async
 * frame, no cancel id and no listener: the native Promise with its errors mapped.
 */
export function invoke<T>(
  signal: AbortSignal | undefined,
  run: (cancel: number | null) => Promise<T>,
): Promise<T> {
  if (signal === undefined) {
    let p: Promise<T>;
    try {
      p = run(null);
    } catch (e) {
      return Promise.reject(fromNative(e));
    }
    return p.then(undefined, rethrow);
  }
  return invokeAbortable(signal, run);
}

async function invokeAbortable<T>(signal: AbortSignal, run: (cancel: number | null) => Promise<T>): Promise<T> {
  signal.throwIfAborted();
  const id = native.cancelId();
  const onAbort = (): void => native.cancel(id);
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    return await run(id);
  } catch (e) {
    throw fromNative(e, () => (signal.aborted ? signal.reason : undefined));
  } finally {
    signal.removeEventListener("abort", onAbort);
    native.release(id);
  }
}

/** The synchronous native calls (constructors, `endpoint()`): errors mapped, no signal. */
export function sync<T>(run: () => T): T {
  try {
    return run();
  } catch (e) {
    throw fromNative(e);
  }
}
