/** Verifying signed job-result deliveries (docs/contract.md, "Webhooks"). */
import { sync } from "./call";
import { native } from "./native";

export const SIGNATURE_HEADER = "X-InferenceKey-Signature";

function bytes(v: string | Uint8Array): Buffer {
  return typeof v === "string" ? Buffer.from(v, "utf8") : Buffer.from(v);
}

/**
 * Throws `ValidationError` (code `invalid_signature`, `signature_expired` or
 * `malformed_signature`) unless `signatureHeader` signs the raw `body` with `secret`.
 */
export function verify(
  body: string | Uint8Array,
  signatureHeader: string,
  secret: string | Uint8Array,
  options: { tolerance?: number; now?: number } = {},
): void {
  sync(() => native.verifyWebhook(bytes(body), signatureHeader, bytes(secret), options.tolerance ?? null, options.now ?? null));
}

/** The signature header value for `body` at unix time `t` (for tests and senders). */
export function sign(body: string | Uint8Array, secret: string | Uint8Array, t: number): string {
  return sync(() => native.signWebhook(bytes(body), bytes(secret), t));
}
