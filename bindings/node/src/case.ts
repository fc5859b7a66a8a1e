/**
 * The one naming rule between JavaScript and the core: the fields of a request, option or
 * result object are camelCase here and snake_case in the core. Only the object's own keys
 * are renamed — values (a spec's `executionPolicyConfig`, chat `messages`, `extra`, job
 * bodies) are the user's or the server's JSON and pass through as they are.
 */

export function snakeKey(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
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

/** The object's keys in snake_case; `undefined` values are dropped (absent). */
export function toSnake(obj: object | undefined | null): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (obj == null) return out;
  for (const [k, v] of Object.entries(obj)) {
    if (v !== undefined) out[snakeKey(k)] = v;
  }
  return out;
}

/** The object's keys in camelCase. */
export function toCamel<T>(obj: Record<string, unknown>): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) out[camelKey(k)] = v;
  return out as T;
}
