/**
 * The step API and the replay machinery behind it. A handler is replayed from the top on
 * every invoke: a step whose id is memoized resolves at once with its memo; the first step
 * that is not memoized becomes the invocation's one op, and the handler never resumes
 * (its promise stays pending, so user try/catch cannot swallow the stop).
 */
import { ERROR_CODES, INVOKE_CODES, LIMITS, TRACEPARENT, type StepType } from "./constants.js";
import { InvalidDurationError, parseDuration, type Duration } from "./duration.js";
import { InvokeError, NonRetriableError } from "./errors.js";
import { byteLength, SerializationError, toJson } from "./json.js";
import type { DurableEvent } from "./function.js";
import { parseTraceparent, type TraceContext } from "./trace.js";

export interface StepMemo {
  type: StepType;
  data?: unknown;
}

export type Op =
  | { op: "step"; id: string; data: unknown }
  | {
      op: "error";
      id: string | null;
      message: string;
      name?: string;
      code?: string;
      details?: unknown;
      retryable: boolean;
    }
  | { op: "sendEvent"; id: string; events: OutgoingEvent[] }
  | { op: "sleep"; id: string; until: string }
  | { op: "wait"; id: string; event: string; match: Record<string, unknown> | null; until: string }
  | { op: "invoke"; id: string; function: string; app: string | null; data: unknown; until: string | null }
  | { op: "done"; data: unknown };

export interface OutgoingEvent<TData = unknown> {
  id?: string;
  name: string;
  data?: TData;
  ts?: number;
  [extra: string]: unknown;
}

/** What the engine answers for an accepted event ([EVT-4]). */
export interface EventReceipt {
  id: string;
  name: string;
  ts: number;
  /** True when the id was already accepted: nothing new was started. */
  duplicate: boolean;
  /** Runs created synchronously for the event. */
  runIds: string[];
}

export interface InvokeOptions {
  /** The data of the child's event (`{}` when omitted). */
  data?: unknown;
  /** Give up (and cancel the child) after this long; no limit when omitted. */
  timeout?: Duration;
  /** Another app of the same environment, by id; this app when omitted. */
  app?: string;
}

export interface WaitForEventOptions {
  /** Name of the event to wait for. */
  event: string;
  /** `{path: expected}` over the incoming event's data; null or omitted matches any. */
  match?: Record<string, unknown> | null;
  timeout: Duration;
}

/**
 * A promise that never settles. A fresh one per call: a shared one would keep every
 * stopped handler's continuation alive forever through its reaction list.
 */
function never(): Promise<never> {
  return new Promise<never>(() => undefined);
}

/**
 * A rejected promise already marked as handled: a step call the user did not await must
 * not become an unhandled rejection that takes the whole server down.
 */
function rejected(error: unknown): Promise<never> {
  const promise = Promise.reject(error);
  promise.catch(() => undefined);
  return promise;
}

/** Fields of an `error` op for anything a workflow threw. */
export function errorFields(error: unknown): { message: string; name: string; code?: string; details?: unknown } {
  if (!(error instanceof Error)) {
    return { message: typeof error === "string" ? error : safeString(error), name: "Error" };
  }
  const fields: { message: string; name: string; code?: string; details?: unknown } = {
    message: error.message,
    name: errorName(error),
  };
  if (error instanceof NonRetriableError) {
    if (error.code) fields.code = error.code.slice(0, LIMITS.maxErrorCodeChars);
    if (error.details !== undefined) fields.details = boundedDetails(error.details);
  }
  return fields;
}

/** The error's class name: `name`, or the subclass name when `name` was left at "Error". */
function errorName(error: Error): string {
  const name = typeof error.name === "string" && error.name ? error.name : "Error";
  const constructorName = (error.constructor as { name?: unknown } | undefined)?.name;
  if (name === "Error" && typeof constructorName === "string" && constructorName) return constructorName;
  return name;
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return "unknown error";
  }
}

function boundedDetails(details: unknown): unknown {
  try {
    const text = toJson(details);
    if (byteLength(text) > LIMITS.maxErrorDetailsBytes) {
      return { truncated: true, reason: "error details exceed 64 KiB" };
    }
    return JSON.parse(text);
  } catch (error) {
    if (error instanceof SerializationError) {
      return { serializationError: "error details are not JSON-serializable" };
    }
    throw error;
  }
}

export function errorOp(id: string | null, error: unknown): Op {
  return {
    op: "error",
    id,
    ...errorFields(error),
    retryable: !(error instanceof NonRetriableError),
  };
}

const ENVELOPE = new Set(["id", "name", "data", "ts", "traceparent"]);

/** Why an event cannot be sent ([EVT-1], [EVT-2]), or null. */
export function outgoingEventProblem(event: unknown): string | null {
  if (typeof event !== "object" || event === null || Array.isArray(event)) return "must be an object";
  const record = event as Record<string, unknown>;
  for (const name of Object.keys(record)) if (!ENVELOPE.has(name)) return `has unknown member "${name}"`;
  const limit = LIMITS.eventNameChars;
  if (typeof record.name !== "string" || record.name.length < 1 || record.name.length > limit) {
    return `needs a name of 1-${limit} characters`;
  }
  if (record.name.startsWith("durable/")) return `name "${record.name}" is reserved for the engine`;
  if (record.id !== undefined && (typeof record.id !== "string" || record.id.length < 1 || record.id.length > 200)) {
    return "id must be 1-200 characters";
  }
  if (record.ts !== undefined && (typeof record.ts !== "number" || !Number.isSafeInteger(record.ts) || record.ts < 0)) {
    return "ts must be unix milliseconds";
  }
  if (record.traceparent !== undefined && (typeof record.traceparent !== "string" || !TRACEPARENT.test(record.traceparent))) {
    return "traceparent must be a W3C traceparent (version 00)";
  }
  return null;
}

function untilFrom(now: number, ms: number): string {
  return new Date(now + ms).toISOString();
}

/** Per-invoke replay state. Counts step ids, holds memos, and captures the one op. */
export class Invocation {
  private readonly counts = new Map<string, number>();
  private resolveStop!: (op: Op) => void;
  /** Settles with the op once a step ends the invocation. */
  readonly stopped: Promise<Op>;
  claimed = false;
  /** What a step's callback threw, when a step ended the invocation with an error. */
  thrown: unknown = undefined;
  private running = 0;

  constructor(
    private readonly memos: Record<string, StepMemo>,
    private readonly occurrences: boolean,
    private readonly strict: boolean,
    readonly now: () => number,
    /** step-invoke advertised. */
    readonly invokes: boolean = true,
    /** The run's traceparent, when the engine sent one and trace-context is advertised. */
    readonly traceparent: string | null = null,
  ) {
    this.stopped = new Promise<Op>((resolve) => {
      this.resolveStop = resolve;
    });
  }

  /** The id a step call is memoized under: `id`, then `id#2`, `id#3`... (decision 0003). */
  stepId(id: unknown): string {
    if (typeof id !== "string" || id.length === 0) throw new TypeError("step id must be a non-empty string");
    if (!this.occurrences) return id;
    const count = (this.counts.get(id) ?? 0) + 1;
    this.counts.set(id, count);
    return count === 1 ? id : `${id}#${count}`;
  }

  /**
   * The memo for `id`, undefined when none. A memo of another type stops the invocation
   * with NON_DETERMINISTIC (strict replay), or throws a plain error (v1 behaviour).
   */
  memo(id: string, type: StepType): StepMemo | undefined | null {
    if (!Object.prototype.hasOwnProperty.call(this.memos, id)) return undefined;
    const memo = this.memos[id] as StepMemo;
    if (memo.type !== type) {
      if (!this.strict) throw new Error(`step "${id}" already used as a ${String(memo.type)}`);
      this.stop({
        op: "error",
        id,
        message: `step "${id}" was memoized as ${String(memo.type)}, not ${type}`,
        name: "NonDeterministicError",
        code: ERROR_CODES.nonDeterministic,
        retryable: false,
      });
      return null;
    }
    return memo;
  }

  /** Ends the invocation with `op` unless another step already did. */
  stop(op: Op): void {
    if (this.claimed) return;
    this.claimed = true;
    this.resolveStop(op);
  }

  /** A step call after the invocation has stopped: never settles, except inside a running step. */
  halted(): Promise<never> {
    if (this.running > 0) {
      return rejected(new Error("steps cannot be called inside step.run callbacks"));
    }
    return never();
  }

  async execute(id: string, callback: () => unknown): Promise<void> {
    this.claimed = true;
    this.running++;
    let op: Op;
    try {
      const data = await callback();
      op = { op: "step", id, data: data === undefined ? null : data };
    } catch (error) {
      this.thrown = error;
      op = errorOp(id, error);
    } finally {
      this.running--;
    }
    this.resolveStop(op);
  }
}

/** The `step` object a handler receives. */
export class Step {
  /** @internal */
  constructor(private readonly invocation: Invocation) {}

  /** Run `callback` once; its JSON result is memoized and returned on every replay. */
  run<T>(id: string, callback: () => T | Promise<T>): Promise<Awaited<T>> {
    const invocation = this.invocation;
    if (invocation.claimed) return invocation.halted();
    let stepId: string;
    let memo: StepMemo | undefined | null;
    try {
      stepId = invocation.stepId(id);
      memo = invocation.memo(stepId, "run");
    } catch (error) {
      return rejected(error);
    }
    if (memo === null) return never();
    if (memo !== undefined) return Promise.resolve(memo.data as Awaited<T>);
    if (typeof callback !== "function") {
      return rejected(new TypeError("step.run needs a callback"));
    }
    void invocation.execute(stepId, callback);
    return never();
  }

  /** Park the run for `duration` ("2d", "30s", or milliseconds). */
  sleep(id: string, duration: Duration): Promise<void> {
    const invocation = this.invocation;
    if (invocation.claimed) return invocation.halted();
    try {
      const ms = declaredMs(duration);
      const stepId = invocation.stepId(id);
      const memo = invocation.memo(stepId, "sleep");
      if (memo === null) return never();
      if (memo !== undefined) return Promise.resolve();
      invocation.stop({ op: "sleep", id: stepId, until: untilFrom(invocation.now(), ms) });
      return never();
    } catch (error) {
      return rejected(error);
    }
  }

  /** Park until a matching event arrives (resolves to it) or `timeout` passes (resolves to null). */
  waitForEvent<TEvent extends DurableEvent = DurableEvent>(
    id: string,
    options: WaitForEventOptions,
  ): Promise<TEvent | null> {
    const invocation = this.invocation;
    if (invocation.claimed) return invocation.halted();
    try {
      const ms = declaredMs(options?.timeout);
      const stepId = invocation.stepId(id);
      const memo = invocation.memo(stepId, "wait");
      if (memo === null) return never();
      if (memo !== undefined) return Promise.resolve((memo.data ?? null) as TEvent | null);
      if (typeof options !== "object" || options === null) {
        throw new TypeError("step.waitForEvent needs { event, timeout, match? }");
      }
      if (typeof options.event !== "string" || options.event.length === 0) {
        throw new TypeError("step.waitForEvent: event must be a non-empty string");
      }
      const match = options.match ?? null;
      if (match !== null && (typeof match !== "object" || Array.isArray(match))) {
        throw new TypeError("step.waitForEvent: match must be an object or null");
      }
      invocation.stop({
        op: "wait",
        id: stepId,
        event: options.event,
        match,
        until: untilFrom(invocation.now(), ms),
      });
      return never();
    } catch (error) {
      return rejected(error);
    }
  }

  /** Send 1-100 events from the workflow; resolves to the engine's receipts. */
  sendEvent(id: string, events: OutgoingEvent | OutgoingEvent[]): Promise<EventReceipt[]> {
    const invocation = this.invocation;
    if (invocation.claimed) return invocation.halted();
    try {
      const stepId = invocation.stepId(id);
      const memo = invocation.memo(stepId, "sendEvent");
      if (memo === null) return never();
      if (memo !== undefined) return Promise.resolve((memo.data ?? []) as EventReceipt[]);
      const list = Array.isArray(events) ? events : [events];
      if (list.length < 1 || list.length > LIMITS.maxEventsPerSend) {
        throw new NonRetriableError(`step.sendEvent requires 1-${LIMITS.maxEventsPerSend} events`, {
          code: ERROR_CODES.invalidEvents,
        });
      }
      list.forEach((event, index) => {
        const problem = outgoingEventProblem(event);
        if (problem) {
          throw new NonRetriableError(`step.sendEvent: event ${index} ${problem}`, { code: ERROR_CODES.invalidEvents });
        }
      });
      const traceparent = invocation.traceparent; // [TRACE-4]: sent events continue the trace
      const sent = traceparent === null ? list : list.map((event) => ("traceparent" in event ? event : { ...event, traceparent }));
      invocation.stop({ op: "sendEvent", id: stepId, events: sent });
      return never();
    } catch (error) {
      return rejected(error);
    }
  }

  /**
   * Run `fn` (a function id or runtime id, of this app or `options.app`) as a child run and
   * resolve to its output; reject with InvokeError when it failed, was cancelled or
   * outlived `options.timeout` ([INVOKE-8]).
   */
  invoke<T = unknown>(id: string, fn: string, options: InvokeOptions = {}): Promise<T> {
    const invocation = this.invocation;
    if (invocation.claimed) return invocation.halted();
    try {
      const ms = options?.timeout === undefined ? null : declaredMs(options.timeout); // [INVOKE-9]
      const stepId = invocation.stepId(id);
      const memo = invocation.memo(stepId, "invoke");
      if (memo === null) return never();
      if (memo !== undefined) return invokeResult<T>(stepId, memo.data);
      if (!invocation.invokes) {
        throw new NonRetriableError("step.invoke needs the step-invoke capability, which this app turned off", {
          code: ERROR_CODES.capabilityOff,
        });
      }
      if (typeof fn !== "string" || fn.length === 0) throw new TypeError("step.invoke needs a function id");
      if (options.app !== undefined && (typeof options.app !== "string" || options.app.length === 0)) {
        throw new TypeError("step.invoke: app must be an app id");
      }
      invocation.stop({
        op: "invoke",
        id: stepId,
        function: fn,
        app: options.app ?? null,
        data: options.data === undefined ? {} : options.data,
        until: ms === null ? null : untilFrom(invocation.now(), ms),
      });
      return never();
    } catch (error) {
      return rejected(error);
    }
  }

  /** The run's W3C traceparent when the engine sent one ([TRACE-4]), else null. */
  get traceparent(): string | null {
    return this.invocation.traceparent;
  }

  /** The traceparent's fields (trace id, the engine's span id, flags), else null. */
  get trace(): TraceContext | null {
    return parseTraceparent(this.invocation.traceparent);
  }

  /** Run 1-20 callables concurrently inside one `run` step; memoizes `{name: result}`. */
  parallel<T extends Record<string, () => unknown>>(
    id: string,
    tasks: T,
  ): Promise<{ [K in keyof T]: Awaited<ReturnType<T[K]>> }> {
    const names = typeof tasks === "object" && tasks !== null ? Object.keys(tasks) : [];
    if (names.length < 1 || names.length > LIMITS.maxParallelTasks) {
      if (this.invocation.claimed) return this.invocation.halted();
      return rejected(
        new NonRetriableError(`step.parallel requires 1-${LIMITS.maxParallelTasks} tasks`, {
          code: ERROR_CODES.invalidParallel,
        }),
      );
    }
    return this.run(id, async () => {
      const results = await Promise.all(names.map((name) => (tasks[name] as () => unknown)()));
      const out: Record<string, unknown> = {};
      names.forEach((name, index) => {
        out[name] = results[index];
      });
      return out as { [K in keyof T]: Awaited<ReturnType<T[K]>> };
    });
  }
}

/** [INVOKE-8]: an invoke memo's output, or its InvokeError. */
function invokeResult<T>(stepId: string, data: unknown): Promise<T> {
  const result = (typeof data === "object" && data !== null ? data : {}) as Record<string, unknown>;
  const status = String(result.status);
  if (status === "completed") return Promise.resolve(result.output as T);
  const error = (typeof result.error === "object" && result.error !== null ? result.error : {}) as Record<string, unknown>;
  const message = typeof error.message === "string" ? error.message : `the invoked run ended ${status}`;
  return rejected(
    new InvokeError(message, INVOKE_CODES[status] ?? "INVOKE_FAILED", {
      runId: result.runId ?? null,
      status,
      error: result.error ?? null,
    }, stepId),
  );
}

/** A step's duration; an invalid one is a non-retriable error of the handler ([ERR-8]). */
function declaredMs(value: unknown): number {
  try {
    return parseDuration(value);
  } catch (error) {
    if (error instanceof InvalidDurationError) {
      throw new NonRetriableError(error.message, { code: ERROR_CODES.invalidDuration });
    }
    throw error;
  }
}
