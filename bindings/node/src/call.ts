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
  const { signal: _signal, ...rest } = options as { signal?: unknown };
  return JSON.stringify(toSnake(rest));
}

/** Runs `run` with a cancel id bound to `signal`. */
export async function invoke<T>(
  signal: AbortSignal | undefined,
  run: (cancel: number | null) => Promise<T>,
): Promise<T> {
  if (signal === undefined) {
    try {
      return await run(null);
    } catch (e) {
      throw fromNative(e);
    }
  }
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
