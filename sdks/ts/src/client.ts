/** The engine API client: signed JSON POSTs, retries with backoff on 408/429/5xx, no redirects. */
import { Buffer } from "node:buffer";
import { randomUUID } from "node:crypto";
import { HEADERS, LIMITS, SDK_VERSION } from "./constants.js";
import type { FunctionDefinition } from "./definition.js";
import { DurableError } from "./errors.js";
import type { DurableFunction } from "./function.js";
import { byteLength, isPlainObject, toJson } from "./json.js";
import { DurableCore } from "./core.js";
import { outgoingEventProblem, type EventReceipt } from "./step.js";
import { sign, signV2 } from "./signing.js";
import {
  bulkFilter,
  type BulkCancelOptions,
  type BulkCancelPage,
  type BulkRerunOptions,
  type BulkRerunPage,
  type FunctionSummary,
  type RunHistory,
} from "./results.js";

export type RunStatus = "queued" | "running" | "sleeping" | "waiting" | "completed" | "failed" | "cancelled" | "skipped";

export interface EventInput<TData = unknown> {
  /** Idempotency id; generated when absent (a resend with the same id starts nothing). */
  id?: string;
  name: string;
  data?: TData;
  ts?: number;
}

export type { EventReceipt };

/** [API-8] */
export interface RunSummary {
  runId: string;
  functionId: string;
  status: RunStatus;
  eventId: string;
  createdAt: string;
  updatedAt: string;
}

export interface RunPage {
  runs: RunSummary[];
  nextCursor: string | null;
}

export interface RunError {
  message: string;
  name: string;
  code?: string;
  stepId?: string;
  details?: unknown;
}

/** [API-9]: a run with its event, error and committed steps. */
export interface Run extends RunSummary {
  event: Record<string, unknown>;
  events?: Record<string, unknown>[];
  attempt: number;
  output?: unknown;
  error?: RunError;
  skipReason?: string;
  failureHandler?: { status: "running" | "completed" | "failed" };
  steps: { id: string; type: "run" | "sleep" | "wait" | "sendEvent"; data: unknown; at: string }[];
}

export interface CancelAnswer {
  ok: boolean;
  status: RunStatus;
}

export interface RerunAnswer {
  runId: string;
  rerunOf: string;
  fromStepId?: string;
  duplicate: boolean;
}

export interface DeliveryFailure {
  deliveryId: string;
  runId: string;
  functionId: string;
  attempt: number;
  at: string;
  error: RunError;
}

export interface VersionStatus {
  functionId: string;
  versions: { version: string | null; runtimeId: string; active: boolean; runs: Partial<Record<RunStatus, number>> }[];
}

export interface SyncAnswer {
  ok: boolean;
  functions: string[];
  deactivated: string[];
}

/** [ADMIN-2]: the created workspace, with its signing key (only ever returned here). */
export interface ProvisionedApp {
  id: string;
  name: string;
  environment: string;
  appUrl: string;
  activeKeys: number;
  createdAt: string;
  key: string;
}

export interface SearchRunsOptions {
  functionId?: string;
  status?: RunStatus;
  cursor?: string;
  limit?: number;
}

export interface ClientOptions {
  /** Engine URL, e.g. http://localhost:3030 */
  baseUrl: string;
  /** Workspace (app) id. */
  appId: string;
  signingKey: string;
  /** Also sign with the timestamped v2 scheme (default true; v1 is always sent). */
  signatureV2?: boolean;
  /** Retries after the first attempt on 408, 429, 5xx and network errors (default 2). */
  retries?: number;
  /** Per-attempt timeout (default 30,000 ms). */
  timeoutMs?: number;
  maxRequestBytes?: number;
  maxResponseBytes?: number;
  /** Base backoff (ms) before retry k: base * 2^(k-1), jittered, capped at 2 s. Default 100. */
  backoffMs?: number;
  /** Clock in unix ms; injectable for tests. */
  now?: () => number;
  /** fetch implementation; defaults to the global one. */
  fetch?: typeof fetch;
}

export interface ProvisionOptions {
  baseUrl: string;
  name: string;
  appUrl: string;
  environment?: string;
  adminToken?: string;
  timeoutMs?: number;
  maxResponseBytes?: number;
  fetch?: typeof fetch;
}

async function readLimited(response: Response, limit: number): Promise<string> {
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > limit) {
    await response.body?.cancel().catch(() => undefined);
    throw new DurableError(`durable response exceeds ${limit} bytes`, response.status);
  }
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw new DurableError(`durable response exceeds ${limit} bytes`, response.status);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size).toString("utf8");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function retryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

async function post(
  fetchImpl: typeof fetch,
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
  maxResponseBytes: number,
): Promise<{ status: number; text: string }> {
  const response = await fetchImpl(url, {
    method: "POST",
    body,
    headers,
    redirect: "manual",
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: response.status, text: await readLimited(response, maxResponseBytes) };
}

/** A function list to sync: createFunction results, raw definitions, or a served app (brings its capabilities). */
export type SyncSource =
  | readonly (DurableFunction<any, any> | FunctionDefinition)[]
  | { core: DurableCore }
  | DurableCore;

function apiError(path: string, status: number, text: string): DurableError {
  let code: string | undefined;
  let message = text;
  let pointer: string | undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (isPlainObject(parsed) && isPlainObject(parsed.error)) {
      if (typeof parsed.error.code === "string") code = parsed.error.code;
      if (typeof parsed.error.message === "string") message = parsed.error.message;
      if (typeof parsed.error.path === "string") pointer = parsed.error.path;
    }
  } catch {
    // a plain-text answer: keep it as the message
  }
  const error = new DurableError(`durable ${path} failed: ${status}${code ? ` ${code}` : ""} ${message}`.trim(), status, text);
  error.code = code;
  error.path = pointer;
  return error;
}

export class Client {
  readonly baseUrl: string;
  readonly appId: string;
  private readonly signingKey: string;
  private readonly signatureV2: boolean;
  private readonly retries: number;
  private readonly timeoutMs: number;
  private readonly maxRequestBytes: number;
  private readonly maxResponseBytes: number;
  private readonly backoffMs: number;
  private readonly now: () => number;
  private readonly fetchImpl: typeof fetch;

  constructor(options: ClientOptions) {
    if (!options || typeof options.baseUrl !== "string" || !options.baseUrl) throw new TypeError("baseUrl: required");
    if (typeof options.appId !== "string" || !options.appId) throw new TypeError("appId: required");
    if (typeof options.signingKey !== "string" || !options.signingKey) throw new TypeError("signingKey: required");
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.appId = options.appId;
    this.signingKey = options.signingKey;
    this.signatureV2 = options.signatureV2 ?? true;
    this.retries = options.retries ?? 2;
    if (!Number.isSafeInteger(this.retries) || this.retries < 0) throw new TypeError("retries: must be an integer >= 0");
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxRequestBytes = options.maxRequestBytes ?? LIMITS.maxRequestBytes;
    this.maxResponseBytes = options.maxResponseBytes ?? LIMITS.maxResponseBytes;
    this.backoffMs = options.backoffMs ?? 100;
    this.now = options.now ?? Date.now;
    this.fetchImpl = options.fetch ?? globalThis.fetch;
  }

  /** The headers an API call carries: v1 always ([SIG-8]), v2 unless switched off ([SIG-11]). */
  signHeaders(body: string): Record<string, string> {
    const headers: Record<string, string> = {
      "content-type": "application/json",
      [HEADERS.app]: this.appId,
      [HEADERS.signature]: sign(this.signingKey, body),
    };
    if (this.signatureV2) {
      const timestamp = String(this.now());
      headers[HEADERS.timestamp] = timestamp;
      headers[HEADERS.signatureV2] = signV2(this.signingKey, timestamp, body);
    }
    return headers;
  }

  /**
   * POST a signed JSON body to `path`; the answer must be a 200 JSON object. Retries 408,
   * 429, 5xx, network errors and unreadable 200s with jittered exponential backoff;
   * redirects are never followed (a 3xx is an error).
   */
  async request<T = Record<string, unknown>>(path: string, payload: unknown, retries = this.retries): Promise<T> {
    const body = toJson(payload);
    if (byteLength(body) > this.maxRequestBytes) {
      throw new DurableError(`durable ${path} request exceeds ${this.maxRequestBytes} bytes`);
    }
    for (let attempt = 0; ; attempt++) {
      let failure: DurableError;
      let status: number | undefined;
      let text = "";
      try {
        // Signed per attempt: a v2 timestamp must be fresh on every retry.
        ({ status, text } = await post(this.fetchImpl, this.baseUrl + path, body, this.signHeaders(body), this.timeoutMs, this.maxResponseBytes));
      } catch (error) {
        if (error instanceof DurableError) throw error; // answer over the size limit: retrying will not shrink it
        failure = new DurableError(`durable ${path} request failed: ${error instanceof Error ? error.message : String(error)}`);
        failure.cause = error;
      }
      if (status === 200) {
        let parsed: unknown;
        let cause: unknown;
        try {
          parsed = JSON.parse(text);
        } catch (error) {
          cause = error;
        }
        if (isPlainObject(parsed)) return parsed as T;
        failure = new DurableError(`durable ${path} returned invalid JSON`, status, text);
        if (cause !== undefined) failure.cause = cause;
      } else if (status !== undefined) {
        failure = apiError(path, status, text);
        if (!retryableStatus(status)) throw failure;
      }
      if (attempt >= retries) throw failure!;
      const base = Math.min(2_000, this.backoffMs * 2 ** attempt);
      await sleep(base * (0.5 + Math.random() / 2));
    }
  }

  /** Register the app's functions ([API-6]); a served app also sends its capabilities. */
  sync(source: SyncSource): Promise<SyncAnswer> {
    const core = source instanceof DurableCore ? source : "core" in source && source.core instanceof DurableCore ? source.core : null;
    if (core) {
      const manifest = core.manifest();
      const payload: Record<string, unknown> = { sdkVersion: SDK_VERSION, functions: manifest.functions };
      if (manifest.capabilities) payload.capabilities = manifest.capabilities;
      if (manifest.maxRequestBytes !== undefined) payload.maxRequestBytes = manifest.maxRequestBytes;
      return this.request("/fn/sync", payload);
    }
    const list = source as readonly (DurableFunction<any, any> | FunctionDefinition)[];
    const definitions = list.map((fn) => ("definition" in fn && typeof fn.definition === "function" ? fn.definition() : fn));
    return this.request("/fn/sync", { sdkVersion: SDK_VERSION, functions: definitions });
  }

  /** Send one event; resending the same `id` is idempotent ([EVT-4]). */
  async send<TData = unknown>(event: EventInput<TData>): Promise<EventReceipt>;
  async send<TData = unknown>(name: string, data?: TData, options?: { id?: string }): Promise<EventReceipt>;
  async send(first: string | EventInput, data?: unknown, options: { id?: string } = {}): Promise<EventReceipt> {
    // As the published client: `send(name)` and `send(name, null)` send data `{}`.
    const event = typeof first === "string" ? { name: first, data: data ?? {}, id: options.id } : first;
    const normalized = this.normalizeEvent(event);
    try {
      return await this.request<EventReceipt>("/e", normalized);
    } catch (error) {
      if (error instanceof DurableError) error.eventIds = [normalized.id];
      throw error;
    }
  }

  /** Send 1-100 events in one all-or-nothing call; receipts in request order. */
  async sendMany(events: readonly EventInput[]): Promise<EventReceipt[]> {
    if (!Array.isArray(events) || events.length < 1 || events.length > LIMITS.maxEventsPerSend) {
      throw new TypeError(`sendMany requires 1-${LIMITS.maxEventsPerSend} events`);
    }
    const normalized = events.map((event, index) => this.normalizeEvent(event, `events[${index}]`));
    try {
      const answer = await this.request<{ events?: unknown }>("/e/bulk", { events: normalized });
      if (!Array.isArray(answer.events)) throw new DurableError("durable /e/bulk answer has no events list", 200);
      return answer.events as EventReceipt[];
    } catch (error) {
      if (error instanceof DurableError) error.eventIds = normalized.map((event) => event.id);
      throw error;
    }
  }

  /** A page of runs, newest first; pass `nextCursor` back for the next page. */
  searchRuns(options: SearchRunsOptions = {}): Promise<RunPage> {
    const filters: Record<string, unknown> = {};
    for (const name of ["functionId", "status", "cursor", "limit"] as const) {
      if (options[name] !== undefined && options[name] !== null) filters[name] = options[name];
    }
    return this.request("/runs/search", filters);
  }

  getRun(runId: string): Promise<Run> {
    return this.request("/runs/get", { runId });
  }

  /** `ok` is true when the run is cancelled after the call. */
  cancelRun(runId: string): Promise<CancelAnswer> {
    return this.request("/runs/cancel", { runId });
  }

  /** Run the function again from the top with the same event(s). */
  rerun(runId: string, options: { idempotencyKey?: string } = {}): Promise<RerunAnswer> {
    return this.rerunCall({ runId }, options.idempotencyKey);
  }

  /** Run again, keeping the memos committed before `stepId`. */
  rerunFromStep(runId: string, stepId: string, options: { idempotencyKey?: string } = {}): Promise<RerunAnswer> {
    return this.rerunCall({ runId, stepId }, options.idempotencyKey);
  }

  private async rerunCall(payload: { runId: string; stepId?: string }, idempotencyKey?: string): Promise<RerunAnswer> {
    const key = idempotencyKey ?? randomUUID();
    try {
      return await this.request("/runs/rerun", { ...payload, idempotencyKey: key });
    } catch (error) {
      if (error instanceof DurableError) error.idempotencyKey = key;
      throw error;
    }
  }

  /** Failed runs (their last failed delivery), newest first. */
  async listFailures(limit = 50): Promise<DeliveryFailure[]> {
    const answer = await this.request<{ failures?: unknown }>("/failures/search", { limit });
    if (!Array.isArray(answer.failures)) throw new DurableError("durable /failures/search answer has no failures list", 200);
    return answer.failures as DeliveryFailure[];
  }

  /** Move a failed run back to the queue at its current position. */
  async retryFailure(deliveryId: string): Promise<boolean> {
    const answer = await this.request<{ ok?: unknown }>("/failures/retry", { deliveryId });
    return answer.ok === true;
  }

  /** Every live version of a function (id without `@version`) and its run counts. */
  getVersionStatus(functionId: string): Promise<VersionStatus> {
    return this.request("/versions/status", { functionId });
  }

  /** Every invocation the engine sent for the run, oldest first, one page per call ([API-19]). */
  async runHistory(runId: string, options: { cursor?: string; limit?: number } = {}): Promise<RunHistory> {
    const payload: Record<string, unknown> = { runId };
    if (options.cursor !== undefined) payload.cursor = options.cursor;
    if (options.limit !== undefined) payload.limit = options.limit;
    return requireList("/runs/history", await this.request<RunHistory>("/runs/history", payload), "attempts");
  }

  /** Cancel the non-terminal runs matching the filter, one page per call ([API-16], [API-17]); repeat with `nextCursor`. */
  async bulkCancel(options: BulkCancelOptions): Promise<BulkCancelPage> {
    const payload: Record<string, unknown> = bulkFilter(options);
    if (options.cursor !== undefined) payload.cursor = options.cursor;
    if (options.limit !== undefined) payload.limit = options.limit;
    return requireList("/runs/bulk-cancel", await this.request<BulkCancelPage>("/runs/bulk-cancel", payload), "cancelled");
  }

  /**
   * Rerun the runs matching the filter, one page per call ([API-18]). A failure is a
   * DurableError carrying `idempotencyKey`: retry (and fetch later pages) with the same key.
   */
  async bulkRerun(options: BulkRerunOptions): Promise<BulkRerunPage> {
    const key = options.idempotencyKey ?? randomUUID();
    const payload: Record<string, unknown> = { ...bulkFilter(options), idempotencyKey: key };
    if (options.cursor !== undefined) payload.cursor = options.cursor;
    if (options.limit !== undefined) payload.limit = options.limit;
    try {
      return requireList("/runs/bulk-rerun", await this.request<BulkRerunPage>("/runs/bulk-rerun", payload), "reruns");
    } catch (error) {
      if (error instanceof DurableError) error.idempotencyKey = key;
      throw error;
    }
  }

  /** Every live runtime id of the workspace with its trigger and run counts ([API-21]). */
  async listFunctions(): Promise<FunctionSummary[]> {
    const answer = await this.request<{ functions: FunctionSummary[] }>("/functions/list", {});
    return requireList("/functions/list", answer, "functions").functions;
  }

  /** The event as sent: `id` generated and `data` `{}` when absent; invalid envelopes refused here. */
  private normalizeEvent(event: EventInput, where = "event"): { id: string; name: string; data: unknown; ts?: number } {
    const problem = outgoingEventProblem(event);
    if (problem) throw new TypeError(`${where} ${problem}`);
    const normalized: { id: string; name: string; data: unknown; ts?: number } = {
      id: event.id ?? randomUUID(),
      name: event.name,
      data: event.data === undefined ? {} : event.data,
    };
    if (event.ts !== undefined) normalized.ts = event.ts;
    return normalized;
  }
}

function requireList<T extends object>(path: string, answer: T, member: keyof T & string): T {
  if (!Array.isArray(answer[member])) {
    throw new DurableError(`durable ${path} answered without a ${member} list`, 200, JSON.stringify(answer));
  }
  return answer;
}

/** Create a workspace (app x environment) on an engine; answers its id and signing key. */
export async function provisionApp(options: ProvisionOptions): Promise<ProvisionedApp> {
  const body = toJson({ name: options.name, environment: options.environment ?? "dev", appUrl: options.appUrl });
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (options.adminToken) headers.authorization = `Bearer ${options.adminToken}`;
  const { status, text } = await post(
    options.fetch ?? globalThis.fetch,
    `${options.baseUrl.replace(/\/+$/, "")}/api/apps`,
    body,
    headers,
    options.timeoutMs ?? 30_000,
    options.maxResponseBytes ?? LIMITS.maxResponseBytes,
  );
  if (status !== 200) throw apiError("/api/apps", status, text);
  const parsed: unknown = JSON.parse(text);
  if (!isPlainObject(parsed)) throw new DurableError("provision answer is not a JSON object", status, text);
  return parsed as unknown as ProvisionedApp;
}

export interface AdminOptions {
  baseUrl: string;
  appId: string;
  adminToken?: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

async function adminPost<T>(options: AdminOptions, action: string): Promise<T> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (options.adminToken) headers.authorization = `Bearer ${options.adminToken}`;
  const path = `/api/apps/${encodeURIComponent(options.appId)}/${action}`;
  const { status, text } = await post(
    options.fetch ?? globalThis.fetch,
    `${options.baseUrl.replace(/\/+$/, "")}${path}`,
    "{}",
    headers,
    options.timeoutMs ?? 30_000,
    LIMITS.maxResponseBytes,
  );
  if (status !== 200) throw apiError(path, status, text);
  return JSON.parse(text) as T;
}

/** Add a second signing key to a workspace (key rotation step 1); answers the new key. */
export function rotateAppKey(options: AdminOptions): Promise<{ id: string; key: string; activeKeys: number }> {
  return adminPost(options, "rotate-key");
}

/** Drop the older key once apps verify with the new one (key rotation step 3). */
export function retireAppKey(options: AdminOptions): Promise<{ id: string; activeKeys: number }> {
  return adminPost(options, "retire-key");
}
