/**
 * Trace context ([TRACE-4]): the run's W3C traceparent, parsed, and a hook around each
 * invocation of a handler so that the app's tracing continues the engine's trace.
 *
 * The SDK depends on no tracing library: `opentelemetryHook(api)` takes the
 * `@opentelemetry/api` module the app already has (`import * as otel from "@opentelemetry/api"`).
 */

import { TRACEPARENT } from "./constants.js";

/** A W3C Trace Context version 00 traceparent, split into its fields. */
export interface TraceContext {
  /** 32 lowercase hex digits. */
  readonly traceId: string;
  /** 16 lowercase hex digits: the engine's span for this invocation. */
  readonly parentId: string;
  readonly flags: number;
  readonly sampled: boolean;
  readonly traceparent: string;
}

/** The context of a valid traceparent; null for anything else (never throws). */
export function parseTraceparent(value: unknown): TraceContext | null {
  if (typeof value !== "string" || !TRACEPARENT.test(value)) return null;
  const [, traceId, parentId, flags] = value.split("-") as [string, string, string, string];
  const bits = parseInt(flags, 16);
  return { traceId, parentId, flags: bits, sampled: (bits & 1) === 1, traceparent: value };
}

/** What a trace hook is told about the invocation it wraps. */
export interface TracedInvocation {
  readonly trace: TraceContext;
  readonly functionId: string;
  readonly runId: string;
  readonly attempt: number;
  /** The invocation runs the function's onFailure handler. */
  readonly failure: boolean;
}

/**
 * Called for each invocation that carries a traceparent: call `run()` (the handler) inside
 * your tracing context and return its promise. `run()` settles when the handler returns or
 * throws, or when a step ends the invocation (then it resolves with `undefined`).
 */
export type TraceHook = (invocation: TracedInvocation, run: () => Promise<unknown>) => Promise<unknown>;

/** The members of `@opentelemetry/api` that `opentelemetryHook` uses. */
export interface OpenTelemetryApi {
  trace: {
    getTracer(name: string): OpenTelemetryTracer;
    setSpanContext(context: unknown, spanContext: {
      traceId: string;
      spanId: string;
      traceFlags: number;
      isRemote?: boolean;
    }): unknown;
  };
  context: { active(): unknown };
  ROOT_CONTEXT: unknown;
  SpanKind: { SERVER: number };
  SpanStatusCode: { ERROR: number };
}

/** The members of an OpenTelemetry tracer that `opentelemetryHook` uses. */
export interface OpenTelemetryTracer {
  startActiveSpan<F extends (span: OpenTelemetrySpan) => unknown>(
    name: string,
    options: { kind?: number; attributes?: Record<string, string | number | boolean> },
    context: never,
    fn: F,
  ): ReturnType<F>;
}

/** The members of an OpenTelemetry span that `opentelemetryHook` uses. */
export interface OpenTelemetrySpan {
  recordException(exception: Error | string): void;
  setStatus(status: { code: number; message?: string }): unknown;
  end(): void;
}

/**
 * A trace hook that opens one OpenTelemetry span per invocation, a child of the engine's span
 * and active while the handler runs (so the app's own spans nest under it, given a context
 * manager such as AsyncLocalStorageContextManager). A step ending the invocation is not an
 * error; an exception of your code is.
 */
export function opentelemetryHook(
  api: OpenTelemetryApi,
  options: { tracer?: OpenTelemetryTracer; spanName?: (functionId: string) => string } = {},
): TraceHook {
  const tracer = options.tracer ?? api.trace.getTracer("durable");
  const spanName = options.spanName ?? ((functionId: string) => `durable ${functionId}`);
  return (invocation, run) => {
    const { trace } = invocation;
    const parent = api.trace.setSpanContext(api.ROOT_CONTEXT, {
      traceId: trace.traceId,
      spanId: trace.parentId,
      traceFlags: trace.flags,
      isRemote: true,
    });
    const attributes = {
      "durable.run_id": invocation.runId,
      "durable.function_id": invocation.functionId,
      "durable.attempt": invocation.attempt,
      "durable.failure_handler": invocation.failure,
    };
    return tracer.startActiveSpan(
      spanName(invocation.functionId),
      { kind: api.SpanKind.SERVER, attributes },
      parent as never,
      (span: OpenTelemetrySpan) =>
        run().then(
          (value) => {
            span.end();
            return value;
          },
          (error: unknown) => {
            span.recordException(error instanceof Error ? error : String(error));
            span.setStatus({ code: api.SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
            span.end();
            throw error;
          },
        ),
    );
  };
}
