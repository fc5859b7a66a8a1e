/**
 * The error classes. The core decides the kind of every failure (docs/contract.md,
 * "Errors"); the addon hands over its fields as JSON and {@link fromNative} picks the class
 * by the kind's name from {@link CLASSES}, which a test checks against the core's own table.
 * Messages come from the core, which never puts a secret in one.
 */
import { camelKey } from "./case";

export interface FieldProblem {
  field: string;
  message: string;
}

export interface PlanChange {
  field: string;
  live: unknown;
  desired: unknown;
}

export interface ErrorFields {
  kind?: string;
  status?: number | null;
  code?: string | null;
  field?: string | null;
  problems?: FieldProblem[];
  requestId?: string | null;
  headers?: Record<string, string>;
  retryAfter?: number | null;
  plan?: PlanChange[] | null;
}

export class InferenceKeyError extends Error {
  /** The core's kind name (`validation`, `auth`, …). */
  readonly kind: string;
  /** The HTTP status, when the server answered. */
  readonly status: number | null;
  readonly code: string | null;
  /** The first offending field, for validation errors. */
  readonly field: string | null;
  /** Every offending field, when several were found. */
  readonly problems: FieldProblem[];
  readonly requestId: string | null;
  /** The error response's headers by lower-case name (empty when no response arrived). */
  readonly headers: Record<string, string>;
  /** Seconds the server asked to wait (`Retry-After`). */
  readonly retryAfter: number | null;
  /** For drift under `OnDrift.Fail`: what ensure() would have changed. */
  readonly plan: PlanChange[] | null;

  constructor(message: string, fields: ErrorFields = {}) {
    super(message);
    this.name = new.target.name;
    this.kind = fields.kind ?? "http";
    this.status = fields.status ?? null;
    this.code = fields.code ?? null;
    this.field = fields.field ?? null;
    this.problems = fields.problems ?? [];
    this.requestId = fields.requestId ?? null;
    this.headers = fields.headers ?? {};
    this.retryAfter = fields.retryAfter ?? null;
    this.plan = fields.plan ?? null;
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      message: this.message,
      kind: this.kind,
      status: this.status,
      code: this.code,
      field: this.field,
      problems: this.problems,
      requestId: this.requestId,
      headers: this.headers,
      retryAfter: this.retryAfter,
      plan: this.plan,
    };
  }
}

export class AuthError extends InferenceKeyError {}
export class PermissionDenied extends InferenceKeyError {}
export class NotFoundError extends InferenceKeyError {}
export class ValidationError extends InferenceKeyError {}
export class DriftError extends ValidationError {}
export class ConflictError extends InferenceKeyError {}
export class RateLimitError extends InferenceKeyError {}
export class ServerError extends InferenceKeyError {}
export class ConnectionError extends InferenceKeyError {}
export class TimeoutError extends InferenceKeyError {}
export class ConfigurationError extends InferenceKeyError {}
export class ProtocolError extends InferenceKeyError {}

/** The class of each core error kind. `http` (a status with no class of its own) is the base. */
export const CLASSES: Readonly<Record<string, typeof InferenceKeyError>> = Object.freeze({
  configuration: ConfigurationError,
  validation: ValidationError,
  drift: DriftError,
  auth: AuthError,
  permission_denied: PermissionDenied,
  not_found: NotFoundError,
  conflict: ConflictError,
  rate_limited: RateLimitError,
  server: ServerError,
  connection: ConnectionError,
  timeout: TimeoutError,
  protocol: ProtocolError,
  http: InferenceKeyError,
});

const PREFIX = "inferencekey:";

/** The kind name of a cancelled call (the caller's AbortSignal fired). */
export const CANCELLED = "cancelled";

/**
 * The error a native rejection stands for, or `e` itself when it is not one of ours. A
 * cancelled call becomes `abortReason` (the signal's reason, as Node's own APIs do).
 */
export function fromNative(e: unknown, abortReason?: () => unknown): unknown {
  if (!(e instanceof Error) || !e.message.startsWith(PREFIX)) return e;
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(e.message.slice(PREFIX.length)) as Record<string, unknown>;
  } catch {
    return new ProtocolError("the native addon reported an undecodable error");
  }
  const kind = String(raw.kind ?? "http");
  if (kind === CANCELLED) {
    const reason = abortReason?.();
    if (reason !== undefined) return reason;
    return new DOMException("The operation was aborted", "AbortError");
  }
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) fields[camelKey(k)] = v;
  const Class = CLASSES[kind] ?? InferenceKeyError;
  return new Class(String(raw.message ?? kind), fields as ErrorFields);
}
