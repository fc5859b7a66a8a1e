/**
 * The one naming rule between JavaScript and the core: the fields of a request, option or
 * result object are camelCase here and snake_case in the core. Only the object's own keys
 * are renamed — values (a spec's `executionPolicyConfig`, chat `messages`, `extra`, job
 * bodies) are the user's or the server's JSON and pass through as they are.
 */

const snakeCache = new Map<string, string>();

export function snakeKey(key: string): string {
  let out = snakeCache.get(key);
  if (out === undefined) {
    out = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    if (snakeCache.size < 1024) snakeCache.set(key, out);
  }
  return out;
}

const camelCache = new Map<string, string>();

export function camelKey(key: string): string {
  let out = camelCache.get(key);
  if (out === undefined) {
    out = key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    if (camelCache.size < 1024) camelCache.set(key, out);
  }
  return out;
}

/**
 * The object's keys in snake_case; `undefined` values are dropped (absent), and so is the key
 * `skip` (a call's `signal`, which is ours, not the core's). A plain loop over own keys: this
 * runs on every call, and `Object.entries` + destructuring cost an array per key.
 */
export function toSnake(obj: object | undefined | null, skip?: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (obj == null) return out;
  const src = obj as Record<string, unknown>;
  for (const k of Object.keys(src)) {
    if (k === skip) continue;
    const v = src[k];
    if (v !== undefined) out[snakeKey(k)] = v;
  }
  return out;
}

/** The object's keys in camelCase. */
export function toCamel<T>(obj: Record<string, unknown>): T {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(obj)) out[camelKey(k)] = obj[k];
  return out as T;
}
