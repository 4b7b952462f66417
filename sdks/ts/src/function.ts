/** createFunction: a workflow, its flow-control options and its wire definition. */
import { type Duration, InvalidDurationError, parseDuration } from "./duration.js";
import {
  type CancelOnDefinition,
  type FunctionDefinition,
  type IdempotencyDefinition,
  type Trigger,
  validateDefinition,
} from "./definition.js";
import { DefinitionError, type FailureError } from "./errors.js";
import type { Step } from "./step.js";

/** An event as the engine delivers it. */
export interface DurableEvent<TData = any> {
  id: string;
  name: string;
  data: TData;
  ts?: number;
  [extra: string]: unknown;
}

export interface HandlerContext<TEvent extends DurableEvent = DurableEvent> {
  /** The triggering event (the first one, for a batch). */
  event: TEvent;
  /** Every event of the batch, in arrival order; `[event]` for an ordinary run. */
  events: TEvent[];
  step: Step;
  runId: string;
  /** 0-based attempt at the run's current position (resets when a step is memoized). */
  attempt: number;
}

export interface FailureContext<TEvent extends DurableEvent = DurableEvent> {
  event: TEvent;
  step: Step;
  error: FailureError;
  runId: string;
}

export interface KeyOption {
  /** A dotted path into the event's `data` ("tenantId", "user.id"). */
  key?: string;
}

export interface ConcurrencyOption extends KeyOption {
  limit: number;
}

export interface WindowOption extends KeyOption {
  limit: number;
  period: Duration;
}

export interface DebounceOption extends KeyOption {
  period: Duration;
}

export interface BatchOption extends KeyOption {
  maxSize: number;
  timeout: Duration;
}

/** [CANCEL-1]: cancel a live run when `event` arrives whose `match` paths equal the run's. */
export interface CancelOnOption {
  event: string;
  /** Key path in the cancelling event → key path in the run's own event. */
  match?: Record<string, string>;
  /** Only within this long after the run was created. */
  timeout?: Duration;
}

export interface IdempotencyOption {
  /** Key path in the event; events with the same value share one run per period. */
  key: string;
  /** Default 24 h. */
  period?: Duration;
}

export interface SingletonOption extends KeyOption {
  mode: "skip" | "cancel";
}

export interface FunctionConfig<TEvent extends DurableEvent = DurableEvent, TResult = unknown> {
  id: string;
  trigger: Trigger;
  handler: (context: HandlerContext<TEvent>) => TResult | Promise<TResult>;
  concurrency?: ConcurrencyOption | ConcurrencyOption[];
  /** -600..600 seconds of head start in the queue. */
  priority?: number;
  throttle?: WindowOption;
  rateLimit?: WindowOption;
  debounce?: DebounceOption;
  batch?: BatchOption;
  /** Retries after the first attempt (0-20, engine default 3). */
  retries?: number;
  timeout?: Duration;
  version?: string;
  enabled?: boolean;
  onFailure?: (context: FailureContext<TEvent>) => unknown;
  /** Protocol 1.1 ([MINOR-2]): sent only when set. */
  cancelOn?: CancelOnOption[];
  idempotency?: IdempotencyOption;
  singleton?: SingletonOption;
}

export interface DurableFunction<TEvent extends DurableEvent = DurableEvent, TResult = unknown> {
  readonly id: string;
  readonly version: string | undefined;
  /** `id@version` when versioned, else `id`: what invokes name in `functionId`. */
  readonly runtimeId: string;
  readonly config: Readonly<FunctionConfig<TEvent, TResult>>;
  definition(): FunctionDefinition;
}

// Wire field (JSON Pointer head) -> the option a user wrote, so errors name their field.
const OPTION_NAMES: Record<string, string> = {
  timeoutMs: "timeout",
  hasOnFailure: "onFailure",
  periodMs: "period",
};

function optionPath(pointer: string): string {
  const segments = pointer
    .split("/")
    .slice(1)
    .map((segment) => segment.replace(/~1/g, "/").replace(/~0/g, "~"));
  if (segments[0] === "batch" && segments[1] === "timeoutMs") segments[1] = "timeout";
  return segments
    .map((segment) => (/^[0-9]+$/.test(segment) ? `[${segment}]` : `.${OPTION_NAMES[segment] ?? segment}`))
    .join("")
    .replace(/^\./, "") || "definition";
}

function duration(value: unknown, field: string): number {
  try {
    return parseDuration(value);
  } catch (error) {
    if (error instanceof InvalidDurationError) {
      throw new DefinitionError(field, `${error.message} (use "<int><ms|s|m|h|d>" or milliseconds)`);
    }
    throw error;
  }
}

function keyed<T extends object>(rule: KeyOption, base: T): T & KeyOption {
  return rule.key === undefined ? base : { ...base, key: rule.key };
}

function requireRule(value: unknown, field: string): asserts value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new DefinitionError(field, "must be an object");
  }
}

function buildDefinition(config: FunctionConfig<any, any>): FunctionDefinition {
  if (typeof config !== "object" || config === null) {
    throw new DefinitionError("config", "createFunction needs an options object");
  }
  if (typeof config.handler !== "function") throw new DefinitionError("handler", "must be a function");
  if (config.onFailure !== undefined && typeof config.onFailure !== "function") {
    throw new DefinitionError("onFailure", "must be a function");
  }
  const definition: FunctionDefinition = {
    id: config.id,
    trigger: config.trigger,
    priority: config.priority ?? 0,
    enabled: config.enabled ?? true,
    hasOnFailure: config.onFailure !== undefined,
  };
  if (config.version !== undefined) definition.version = config.version;
  if (config.retries !== undefined) definition.retries = config.retries;
  if (config.timeout !== undefined) definition.timeoutMs = duration(config.timeout, "timeout");
  if (config.concurrency !== undefined) {
    const toRule = (rule: ConcurrencyOption, field: string) => {
      requireRule(rule, field);
      return keyed(rule, { limit: rule.limit });
    };
    definition.concurrency = Array.isArray(config.concurrency)
      ? config.concurrency.map((rule, index) => toRule(rule, `concurrency[${index}]`))
      : toRule(config.concurrency, "concurrency");
  }
  for (const name of ["throttle", "rateLimit"] as const) {
    const rule = config[name];
    if (rule === undefined) continue;
    requireRule(rule, name);
    definition[name] = keyed(rule, { limit: rule.limit, periodMs: duration(rule.period, `${name}.period`) });
  }
  if (config.debounce !== undefined) {
    requireRule(config.debounce, "debounce");
    definition.debounce = keyed(config.debounce, { periodMs: duration(config.debounce.period, "debounce.period") });
  }
  if (config.batch !== undefined) {
    requireRule(config.batch, "batch");
    definition.batch = keyed(config.batch, {
      maxSize: config.batch.maxSize,
      timeoutMs: duration(config.batch.timeout, "batch.timeout"),
    });
  }
  if (config.cancelOn !== undefined) {
    if (!Array.isArray(config.cancelOn)) throw new DefinitionError("cancelOn", "must be an array of rules");
    definition.cancelOn = config.cancelOn.map((rule, index) => {
      requireRule(rule, `cancelOn[${index}]`);
      const wire: CancelOnDefinition = { event: rule.event };
      if (rule.match !== undefined) wire.match = rule.match;
      if (rule.timeout !== undefined) wire.timeoutMs = duration(rule.timeout, `cancelOn[${index}].timeout`);
      return wire;
    });
  }
  if (config.idempotency !== undefined) {
    requireRule(config.idempotency, "idempotency");
    const wire = {} as IdempotencyDefinition;
    if (config.idempotency.key !== undefined) wire.key = config.idempotency.key;
    if (config.idempotency.period !== undefined) {
      wire.periodMs = duration(config.idempotency.period, "idempotency.period");
    }
    definition.idempotency = wire;
  }
  if (config.singleton !== undefined) {
    requireRule(config.singleton, "singleton");
    definition.singleton = keyed(config.singleton, { mode: config.singleton.mode });
  }
  const problem = validateDefinition(definition);
  if (problem) throw new DefinitionError(optionPath(problem.path), problem.message);
  return definition;
}

/** Declare a durable function. Throws DefinitionError naming the bad option. */
export function createFunction<TEvent extends DurableEvent = DurableEvent, TResult = unknown>(
  config: FunctionConfig<TEvent, TResult>,
): DurableFunction<TEvent, TResult> {
  const definition = buildDefinition(config);
  const frozen = JSON.stringify(definition);
  const runtimeId = definition.version === undefined ? definition.id : `${definition.id}@${definition.version}`;
  return Object.freeze({
    id: definition.id,
    version: definition.version,
    runtimeId,
    config: Object.freeze({ ...config }),
    definition: () => JSON.parse(frozen) as FunctionDefinition,
  });
}
