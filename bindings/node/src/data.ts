/** The data plane: `DataClient` and per-workload `Endpoint`s (an `ik_live_` key each). */
import { inspect } from "node:util";

import { coreJson, invoke, sync, type CallOptions } from "./call";
import { toCamel } from "./case";
import { NativeIterator, type ClientSettings } from "./management";
import { native, type NativeDataClient, type NativeEndpoint, type NativeTextStream } from "./native";

export interface DataSettings extends ClientSettings {
  /** The default `ik_live_` key for endpoints built without one; default `INFERENCEKEY_API_KEY`. */
  apiKey?: string;
}

export interface EndpointOptions {
  /** This workload's `ik_live_` key. */
  apiKey?: string;
  project?: string;
}

/** A chat/completions request: exactly one of `prompt` / `messages`. */
export interface TextRequest extends CallOptions {
  prompt?: string;
  messages?: Array<Record<string, unknown>>;
  model?: string;
  temperature?: number;
  maxTokens?: number;
  topP?: number;
  stop?: string | string[];
  seed?: number;
  responseFormat?: Record<string, unknown>;
  tools?: unknown[];
  frequencyPenalty?: number;
  presencePenalty?: number;
  logprobs?: boolean;
  n?: number;
  user?: string;
  /** Extra body keys, sent verbatim. */
  extra?: Record<string, unknown>;
}

/** What every result carries besides its body. */
export interface ResponseMeta {
  /** The server's request id (`X-Request-Id`): quote it when reporting a problem. */
  requestId: string | null;
  /** The response headers, by lower-case name. */
  headers: Record<string, string>;
}

export interface TextResult extends ResponseMeta {
  text: string;
  model: string;
  finishReason: string | null;
  usage: Record<string, unknown> | null;
  /** The first choice's message, when it carries more than text (tool calls). */
  message: Record<string, unknown> | null;
  /** The response body as the server sent it. */
  raw: unknown;
}

export interface TextChunk {
  text: string;
  finishReason: string | null;
  model: string | null;
  usage: Record<string, unknown> | null;
  toolCalls: unknown;
  /** The SSE frame's JSON. */
  raw: unknown;
}

export interface EmbedRequest extends CallOptions {
  input: string | string[];
  model?: string;
  extra?: Record<string, unknown>;
}

export interface EmbedResult extends ResponseMeta {
  embeddings: number[][];
  model: string;
  usage: Record<string, unknown> | null;
}

export interface RerankRequest extends CallOptions {
  query: string;
  documents: unknown[];
  topN?: number;
  extra?: Record<string, unknown>;
}

export interface RerankResult extends ResponseMeta {
  results: Array<{ index: number; relevance_score: number; document?: unknown }>;
  model: string;
  usage: Record<string, unknown> | null;
}

export interface JobRequest extends CallOptions {
  /** `chat`, `embeddings`, `rerank`, `audio_speech`, `images`, … */
  kind: string;
  /** A JSON payload; or `data` + `contentType` for bytes. */
  body?: unknown;
  data?: Uint8Array;
  contentType?: string;
  context?: unknown;
  /** Deliver this job's result here (a signed POST) instead of the workload's webhook URL. */
  webhookUrl?: string;
}

export interface JobStatus extends ResponseMeta {
  jobId: string;
  status: string;
  result: unknown;
  error: unknown;
}

function parse<T>(json: string): T {
  return toCamel<T>(JSON.parse(json) as Record<string, unknown>);
}

/**
 * A streamed chat answer: `for await (const chunk of stream)`; `break` or `close()` closes the
 * connection.
 */
export class TextStream extends NativeIterator<TextChunk, NativeTextStream> {
  /**
   * Reads the rest of the stream and resolves with the whole answer as a `TextResult`: the text
   * of every chunk (those already read included), finish reason, usage, tool calls rebuilt from
   * their deltas, request id and headers. Rejects (`ConfigurationError`, code `stream_closed`)
   * when the stream failed or was closed before its end.
   */
  async final(): Promise<TextResult> {
    const stream = await this.opened();
    return parse<TextResult>(await invoke(this.signal, (id) => stream.finalResult(id)));
  }
}

export class DataClient {
  readonly #native: NativeDataClient;

  constructor(settings: DataSettings = {}) {
    this.#native = sync(() => new native.DataClient(coreJson(settings)));
  }

  /** A client from the environment (`INFERENCEKEY_BASE_URL`, `_PROJECT`, `_API_KEY`). */
  static fromEnv(settings: DataSettings = {}): DataClient {
    return new DataClient(settings);
  }

  get baseUrl(): string {
    return this.#native.baseUrl;
  }

  get project(): string | null {
    return this.#native.project;
  }

  /** The endpoint of one workload. Key: `apiKey` > the client's > `INFERENCEKEY_API_KEY`. */
  endpoint(workload: string, options: EndpointOptions = {}): Endpoint {
    const ep = sync(() => this.#native.endpoint(workload, coreJson(options)));
    return new Endpoint(ep);
  }

  [inspect.custom](): string {
    return `DataClient { baseUrl: ${inspect(this.baseUrl)}, project: ${inspect(this.project)} }`;
  }

  toJSON(): Record<string, unknown> {
    return { baseUrl: this.baseUrl, project: this.project };
  }
}

export class Endpoint {
  readonly #native: NativeEndpoint;

  /** @internal built by `DataClient.endpoint()`. */
  constructor(ep: NativeEndpoint) {
    this.#native = ep;
  }

  get projectSlug(): string {
    return this.#native.projectSlug;
  }

  get workloadSlug(): string {
    return this.#native.workloadSlug;
  }

  /** The OpenAI-compatible base URL: `new OpenAI({ baseURL: ep.baseUrl, apiKey: ep.revealApiKey() })`. */
  get baseUrl(): string {
    return this.#native.baseUrl;
  }

  /** The `ik_live_` key, for handing to another OpenAI client. Never shown by inspect or JSON. */
  revealApiKey(): string {
    return this.#native.revealApiKey();
  }

  async generateText(request: TextRequest): Promise<TextResult> {
    const json = coreJson(request);
    return parse<TextResult>(await invoke(request.signal, (id) => this.#native.generateText(json, id)));
  }

  /**
   * A streamed answer: `for await (const chunk of ep.generateTextStream({...}))`. `break`
   * closes the connection; a stream cut short or an in-band error throws `ProtocolError`
   * after the chunks that arrived.
   */
  generateTextStream(request: TextRequest): TextStream {
    const json = coreJson(request);
    return new TextStream(
      (id) => this.#native.generateTextStream(json, id),
      (batch) => (JSON.parse(batch) as Record<string, unknown>[]).map((c) => toCamel<TextChunk>(c)),
      request.signal,
    );
  }

  async embed(request: EmbedRequest): Promise<EmbedResult> {
    const json = coreJson(request);
    return parse<EmbedResult>(await invoke(request.signal, (id) => this.#native.embed(json, id)));
  }

  async rerank(request: RerankRequest): Promise<RerankResult> {
    const json = coreJson(request);
    return parse<RerankResult>(await invoke(request.signal, (id) => this.#native.rerank(json, id)));
  }

  /** Submits an async job; resolves with its id. */
  async submitJob(request: JobRequest): Promise<string> {
    const { data, ...rest } = request;
    const json = coreJson(data === undefined ? rest : { ...rest, bodyB64: Buffer.from(data).toString("base64") });
    return invoke(request.signal, (id) => this.#native.submitJob(json, id));
  }

  async jobStatus(jobId: string, options: CallOptions = {}): Promise<JobStatus> {
    return parse<JobStatus>(await invoke(options.signal, (id) => this.#native.jobStatus(jobId, coreJson(options), id)));
  }

  /** Polls until the job succeeded or failed; `TimeoutError` after `timeout` seconds (default 600). */
  async waitJob(jobId: string, options: CallOptions = {}): Promise<JobStatus> {
    return parse<JobStatus>(await invoke(options.signal, (id) => this.#native.waitJob(jobId, coreJson(options), id)));
  }

  [inspect.custom](): string {
    return `Endpoint { baseUrl: ${inspect(this.baseUrl)}, apiKey: ${inspect(this.#native.redactedApiKey)} }`;
  }

  toJSON(): Record<string, unknown> {
    return {
      projectSlug: this.projectSlug,
      workloadSlug: this.workloadSlug,
      baseUrl: this.baseUrl,
      apiKey: this.#native.redactedApiKey,
    };
  }
}
