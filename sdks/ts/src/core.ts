/**
 * The sans-IO protocol core: `handle(method, headers, body)` -> `{status, headers, body}`.
 * No sockets here; adapters for fetch, node:http and Express sit on top (serve.ts).
 */
import {
  ALL_CAPABILITIES,
  CAPABILITIES,
  type Capability,
  ERROR_CODES,
  HEADERS,
  LIMITS,
  SDK_VERSION,
  TRACEPARENT,
} from "./constants.js";
import type { FunctionDefinition } from "./definition.js";
import { FailureError, InvokeError } from "./errors.js";
import type { DurableEvent, DurableFunction, FailureContext, HandlerContext } from "./function.js";
import { byteLength, isPlainObject, SerializationError, toJson } from "./json.js";
import { freshTimestamp, matchesAnyKey, sign, signV2, v2Message, type Bytes } from "./signing.js";
import { errorOp, Invocation, type Op, Step, type StepMemo } from "./step.js";
import { parseTraceparent, type TraceHook } from "./trace.js";

export interface CoreOptions {
  functions: readonly DurableFunction<any, any>[];
  /** The workspace signing key. */
  signingKey: string;
  /** The previous key during a rotation: signatures made with it are accepted too. */
  signingKeyFallback?: string | undefined;
  appId?: string | undefined;
  appName?: string | undefined;
  /** Dev mode answers unsigned discovery requests (the dev engine learns the key from it). */
  dev?: boolean | undefined;
  /** Capabilities to advertise: every one this SDK supports unless told otherwise ("none" = plain v1). */
  capabilities?: readonly Capability[] | "none" | "all" | undefined;
  /** Largest invoke body accepted (advertised in the manifest). Default 1 MiB. */
  maxRequestBytes?: number | undefined;
  /** Largest answer produced. Default 1 MiB. */
  maxResponseBytes?: number | undefined;
  /** Clock in unix ms; injectable for tests. */
  now?: (() => number) | undefined;
  /**
   * Where an exception of your code is logged (with its stack, never the event's data):
   * `console` by default, any object with an `error(message, error)` method (pino, winston,
   * a test double), or `null` for none.
   */
  logger?: Logger | null | undefined;
  /**
   * Wraps each invocation that carries a traceparent ([TRACE-4]), e.g.
   * `opentelemetryHook(otel)` to continue the engine's trace in OpenTelemetry.
   */
  traceHook?: TraceHook | undefined;
}

/** The part of a logger the SDK uses; `console` is one. */
export interface Logger {
  error(message: string, ...rest: unknown[]): void;
}

export type HeaderInput =
  | Record<string, string | readonly string[] | undefined>
  | { forEach(callback: (value: string, name: string) => void): void }
  | Iterable<readonly [string, string]>;

export interface CoreResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface Manifest {
  functions: FunctionDefinition[];
  sdkVersion: string;
  capabilities?: Capability[];
  maxRequestBytes?: number;
  signingKey?: string;
  appId?: string;
  appName?: string;
}

export interface InvokeRequest {
  functionId: string;
  runId: string;
  event: DurableEvent;
  events?: DurableEvent[];
  steps?: Record<string, StepMemo>;
  attempt?: number;
  traceparent?: string;
  failure?: { message: string; name?: string; code?: string; stepId?: string; details?: unknown } | null;
}

const TEXT = { "content-type": "text/plain; charset=utf-8" };

function text(status: number, body: string, extra: Record<string, string> = {}): CoreResponse {
  return { status, headers: { ...TEXT, ...extra }, body };
}

/** Lowercase header map from any common header container. */
export function normalizeHeaders(headers: HeaderInput | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  if (typeof (headers as { forEach?: unknown }).forEach === "function" && !Array.isArray(headers)) {
    (headers as { forEach(callback: (value: string, name: string) => void): void }).forEach((value, name) => {
      out[name.toLowerCase()] = value;
    });
    return out;
  }
  if (Symbol.iterator in (headers as object)) {
    for (const [name, value] of headers as Iterable<readonly [string, string]>) out[name.toLowerCase()] = value;
    return out;
  }
  for (const [name, value] of Object.entries(headers as Record<string, string | readonly string[] | undefined>)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = typeof value === "string" ? value : value.join(", ");
  }
  return out;
}

function resolveCapabilities(option: CoreOptions["capabilities"]): Capability[] {
  if (option === undefined || option === "all") return [...ALL_CAPABILITIES];
  if (option === "none") return [];
  for (const capability of option) {
    if (!ALL_CAPABILITIES.includes(capability)) throw new TypeError(`capabilities: unknown capability ${capability}`);
  }
  return ALL_CAPABILITIES.filter((capability) => option.includes(capability));
}

/**
 * Normalize an invoke body, or say what is wrong with it ([INV-7]). Absent members take
 * their defaults and unknown members are ignored, so newer engines can add fields.
 */
function parseInvoke(request: Record<string, unknown>): InvokeRequest | string {
  const event = request.event ?? {};
  const steps = request.steps ?? {};
  const attempt = request.attempt ?? 0;
  const failure = request.failure ?? null;
  const events = request.events ?? null;
  const runId = request.runId ?? "";
  if (!isPlainObject(event)) return "event must be an object";
  if (!isPlainObject(steps) || !Object.values(steps).every(isPlainObject)) return "steps must be an object of memos";
  if (typeof attempt !== "number" || !Number.isSafeInteger(attempt) || attempt < 0) {
    return "attempt must be a non-negative integer";
  }
  if (events !== null && (!Array.isArray(events) || !events.every(isPlainObject))) return "events must be an array of objects";
  if (failure !== null && !isPlainObject(failure)) return "failure must be an object";
  if (typeof runId !== "string") return "runId must be a string";
  const invoke: InvokeRequest = {
    functionId: request.functionId as string,
    runId,
    event: event as DurableEvent,
    steps: steps as Record<string, StepMemo>,
    attempt,
    failure: failure as InvokeRequest["failure"],
  };
  if (events !== null) invoke.events = events as DurableEvent[];
  // [TRACE-4]: only a valid traceparent is continued; anything else is as if absent
  if (typeof request.traceparent === "string" && TRACEPARENT.test(request.traceparent)) {
    invoke.traceparent = request.traceparent;
  }
  return invoke;
}

/** [ERR-4] */
function unknownFunction(functionId: unknown): Op {
  const name = functionId === undefined || functionId === null ? "?" : typeof functionId === "string" ? functionId : JSON.stringify(functionId);
  return { op: "error", id: null, message: `unknown function ${name}`, retryable: false };
}

function failureError(failure: Record<string, unknown>): FailureError {
  const text = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);
  const fields: ConstructorParameters<typeof FailureError>[1] = { name: text(failure.name) ?? "Error" };
  const code = text(failure.code);
  const stepId = text(failure.stepId);
  if (code !== undefined) fields.code = code;
  if (stepId !== undefined) fields.stepId = stepId;
  if (failure.details !== undefined) fields.details = failure.details;
  return new FailureError(text(failure.message) ?? "unknown failure", fields);
}

export class DurableCore {
  readonly capabilities: Capability[];
  readonly maxRequestBytes: number;
  readonly maxResponseBytes: number;
  private readonly keys: string[];
  private readonly byRuntimeId = new Map<string, DurableFunction<any, any>>();
  private readonly now: () => number;
  private readonly definitions: FunctionDefinition[];

  constructor(private readonly options: CoreOptions) {
    if (typeof options.signingKey !== "string" || options.signingKey.length === 0) {
      throw new TypeError("signingKey: a non-empty signing key is required");
    }
    if (options.signingKeyFallback !== undefined && typeof options.signingKeyFallback !== "string") {
      throw new TypeError("signingKeyFallback: must be a string");
    }
    this.keys = [options.signingKey];
    if (options.signingKeyFallback) this.keys.push(options.signingKeyFallback);
    if (!Array.isArray(options.functions)) throw new TypeError("functions: must be an array of createFunction results");
    for (const fn of options.functions) {
      if (this.byRuntimeId.has(fn.runtimeId)) {
        throw new TypeError(`functions: "${fn.runtimeId}" is declared twice (id and version must be unique)`);
      }
      this.byRuntimeId.set(fn.runtimeId, fn);
    }
    this.definitions = options.functions.map((fn) => fn.definition());
    this.capabilities = resolveCapabilities(options.capabilities);
    if (options.traceHook !== undefined && typeof options.traceHook !== "function") {
      throw new TypeError("traceHook must be a function");
    }
    this.maxRequestBytes = options.maxRequestBytes ?? LIMITS.maxRequestBytes;
    this.maxResponseBytes = options.maxResponseBytes ?? LIMITS.maxResponseBytes;
    if (!Number.isSafeInteger(this.maxRequestBytes) || this.maxRequestBytes < LIMITS.minRequestBytes) {
      throw new TypeError(`maxRequestBytes: must be an integer >= ${LIMITS.minRequestBytes}`);
    }
    if (!Number.isSafeInteger(this.maxResponseBytes) || this.maxResponseBytes < 1) {
      throw new TypeError("maxResponseBytes: must be a positive integer");
    }
    this.now = options.now ?? Date.now;
  }

  private has(capability: Capability): boolean {
    return this.capabilities.includes(capability);
  }

  /** The manifest answered to a signed GET. */
  manifest(): Manifest {
    const manifest: Manifest = { functions: this.definitions, sdkVersion: SDK_VERSION };
    if (this.capabilities.length > 0) manifest.capabilities = [...this.capabilities];
    manifest.maxRequestBytes = this.maxRequestBytes;
    return manifest;
  }

  /** Handle one request to the durable endpoint. Never throws. */
  async handle(method: string, headers: HeaderInput | undefined, body: Bytes = ""): Promise<CoreResponse> {
    try {
      return await this.dispatch(String(method).toUpperCase(), normalizeHeaders(headers), body ?? "");
    } catch {
      return text(500, "internal error");
    }
  }

  private async dispatch(method: string, headers: Record<string, string>, body: Bytes): Promise<CoreResponse> {
    if (method === "GET") return this.get(headers);
    if (method !== "POST") return text(405, "method not allowed", { allow: "GET, POST" });
    const size = typeof body === "string" ? byteLength(body) : body.byteLength;
    if (size > this.maxRequestBytes) return text(413, `request body exceeds ${this.maxRequestBytes} bytes`);

    const timestamp = headers[HEADERS.timestamp];
    const now = this.now();
    let requestTimestamp: string | undefined;
    if (this.has(CAPABILITIES.timestampedSignatures)) {
      // [SIG-9]: the V2 signature and the window, in addition to the v1 signature of [SIG-4].
      const valid =
        freshTimestamp(timestamp, now) &&
        matchesAnyKey(this.keys, v2Message(timestamp as string, body), headers[HEADERS.signatureV2]) &&
        matchesAnyKey(this.keys, body, headers[HEADERS.signature]);
      if (!valid) return text(401, "invalid signature");
      requestTimestamp = timestamp;
    } else if (!matchesAnyKey(this.keys, body, headers[HEADERS.signature])) {
      return text(401, "invalid signature");
    }

    let request: unknown;
    try {
      request = JSON.parse(typeof body === "string" ? body : new TextDecoder("utf-8", { fatal: true }).decode(body));
    } catch {
      return text(400, "invalid JSON");
    }
    if (!isPlainObject(request)) return text(400, "invalid request");
    if (!this.byRuntimeId.has(request.functionId as string)) {
      return this.signed(unknownFunction(request.functionId), requestTimestamp, true);
    }
    const invoke = parseInvoke(request);
    if (typeof invoke === "string") {
      // [INV-7], [INV-8]: one non-retryable op, with or without strict-replay (never a 400).
      const op: Op = { op: "error", id: null, message: `invalid request: ${invoke}`, name: "InvalidRequestError", retryable: false };
      return this.signed(op, requestTimestamp, true);
    }

    const op = await this.invoke(invoke);
    return this.signed(op, requestTimestamp, true);
  }

  private get(headers: Record<string, string>): CoreResponse {
    if (headers[HEADERS.discovery] === "true" && this.options.dev) {
      const discovery: Manifest = { ...this.manifest(), signingKey: this.options.signingKey };
      if (this.options.appId !== undefined) discovery.appId = this.options.appId;
      if (this.options.appName !== undefined) discovery.appName = this.options.appName;
      return this.signed(discovery, undefined, false);
    }
    const timestamp = headers[HEADERS.timestamp];
    if (!freshTimestamp(timestamp, this.now()) || !matchesAnyKey(this.keys, timestamp ?? "", headers[HEADERS.signature])) {
      return text(401, "invalid signature");
    }
    return this.signed(this.manifest(), this.has(CAPABILITIES.timestampedSignatures) ? timestamp : undefined, false);
  }

  /** Run the named function's handler (or failure handler) up to its first new step. */
  async invoke(request: InvokeRequest): Promise<Op> {
    const fn = this.byRuntimeId.get(request.functionId);
    if (!fn) return unknownFunction(request.functionId);
    const failure = request.failure ?? null;
    if (failure !== null && fn.config.onFailure === undefined) {
      return {
        op: "error",
        id: null,
        message: "onFailure handler not found",
        name: "MissingFailureHandlerError",
        code: ERROR_CODES.missingFailureHandler,
        retryable: false,
      };
    }
    const invocation = new Invocation(
      request.steps ?? {},
      this.has(CAPABILITIES.stepOccurrences),
      this.has(CAPABILITIES.strictReplay),
      this.now,
      this.has(CAPABILITIES.stepInvoke),
      this.has(CAPABILITIES.traceContext) && typeof request.traceparent === "string" && TRACEPARENT.test(request.traceparent)
        ? request.traceparent
        : null,
    );
    const step = new Step(invocation);
    let outcome: Promise<Op>;
    let thrown: unknown;
    const call = (): unknown => {
      if (failure !== null) {
        const error = failureError(failure as Record<string, unknown>);
        const context: FailureContext = { event: request.event, step, error, runId: request.runId };
        return (fn.config.onFailure as (context: FailureContext) => unknown)(context);
      }
      const events = Array.isArray(request.events) ? request.events : [request.event];
      const context: HandlerContext = {
        event: request.event,
        events,
        step,
        runId: request.runId,
        attempt: request.attempt ?? 0,
      };
      return fn.config.handler(context);
    };
    const trace = parseTraceparent(invocation.traceparent);
    const hook = this.options.traceHook;
    try {
      let result: unknown;
      if (hook === undefined || trace === null) {
        result = call();
      } else {
        // The hook's run() settles when the handler does or when a step ends the invocation.
        const run = (): Promise<unknown> =>
          Promise.race([new Promise<unknown>((resolve) => resolve(call())), invocation.stopped.then(() => undefined)]);
        result = hook(
          { trace, functionId: fn.runtimeId, runId: request.runId, attempt: request.attempt ?? 0, failure: failure !== null },
          run,
        );
      }
      outcome = Promise.resolve(result).then(
        (data): Op => ({ op: "done", data: data === undefined ? null : data }),
        (error: unknown): Op => {
          thrown = error;
          return errorOp(error instanceof InvokeError ? error.stepId : null, error);
        },
      );
    } catch (error) {
      thrown = error;
      outcome = Promise.resolve(errorOp(error instanceof InvokeError ? error.stepId : null, error));
    }
    const first = await Promise.race([invocation.stopped, outcome]);
    // A step that started before the handler settled (e.g. not awaited) still wins.
    const op = invocation.claimed ? await invocation.stopped : first;
    if (op.op === "error") {
      this.logError(fn.runtimeId, request, failure !== null, op, invocation.claimed ? invocation.thrown : thrown);
    }
    return op;
  }

  /** One line for an exception of the user's code, with the error (and so its stack). */
  private logError(
    runtimeId: string,
    request: InvokeRequest,
    inFailureHandler: boolean,
    op: Extract<Op, { op: "error" }>,
    thrown: unknown,
  ): void {
    const logger = this.options.logger === undefined ? console : this.options.logger;
    if (logger === null) return;
    const where = inFailureHandler ? "onFailure handler of" : "function";
    const step = op.id ? `, step ${op.id}` : "";
    const retry = op.retryable ? "the engine retries it" : "not retried";
    const message =
      `durable: ${where} ${runtimeId} raised ${op.name ?? "Error"}: ${op.message} ` +
      `(run ${request.runId}, attempt ${request.attempt ?? 0}${step}; ${retry})`;
    try {
      if (thrown === undefined) logger.error(message);
      else logger.error(message, thrown);
    } catch {
      // a broken logger never changes the answer to the engine
    }
  }

  private signed(value: unknown, requestTimestamp: string | undefined, isOp: boolean): CoreResponse {
    let body: string;
    try {
      body = toJson(value);
      if (byteLength(body) > this.maxResponseBytes) throw new SerializationError("response too large");
    } catch (error) {
      if (!(error instanceof SerializationError) || !isOp) throw error;
      body = toJson({
        op: "error",
        id: null,
        message: "workflow response is not serializable or exceeds the response limit",
        retryable: false,
      });
    }
    const key = this.options.signingKey;
    const headers: Record<string, string> = {
      "content-type": "application/json",
      [HEADERS.signature]: sign(key, body),
    };
    if (requestTimestamp !== undefined) headers[HEADERS.signatureV2] = signV2(key, requestTimestamp, body);
    return { status: 200, headers, body };
  }
}

export function createCore(options: CoreOptions): DurableCore {
  return new DurableCore(options);
}
