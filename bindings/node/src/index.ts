/**
 * `@inferencekey/sdk`: the InferenceKey SDK for Node.js, a thin layer over the Rust core
 * (crates/inferencekey-node). Every method returns a Promise and takes `{ signal, timeout }`.
 */
export { Backend, ExecutionPolicy, OnDrift, TaskType } from "./enums";
export {
  AuthError,
  CLASSES as ERROR_CLASSES,
  ConfigurationError,
  ConflictError,
  ConnectionError,
  DriftError,
  InferenceKeyError,
  NotFoundError,
  PermissionDenied,
  ProtocolError,
  RateLimitError,
  ServerError,
  TimeoutError,
  ValidationError,
} from "./errors";
export type { ErrorFields, FieldProblem, PlanChange } from "./errors";
export { ManagementClient } from "./management";
export type {
  ClientSettings,
  EndpointRef,
  EnsureAction,
  EnsureOptions,
  ManagementSettings,
  ProjectOptions,
  ReadinessEvent,
  WaitOptions,
  Workload,
} from "./management";
export { DataClient, Endpoint, TextStream } from "./data";
export type {
  DataSettings,
  EmbedRequest,
  EmbedResult,
  EndpointOptions,
  JobRequest,
  JobStatus,
  RerankRequest,
  RerankResult,
  ResponseMeta,
  TextChunk,
  TextRequest,
  TextResult,
} from "./data";
export type { CallOptions } from "./call";
export { WorkloadSpec } from "./spec";
export * as webhooks from "./webhooks";

import { native } from "./native";

/** The SDK version. */
export const VERSION: string = native.version();
