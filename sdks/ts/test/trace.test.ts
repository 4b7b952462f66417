/**
 * Trace context for handlers ([TRACE-4]): `step.trace` is the engine's traceparent parsed, a
 * `traceHook` wraps each invocation that carries one, and `opentelemetryHook(otel)` continues
 * the engine's trace in OpenTelemetry (the SDK itself depends on no tracing library).
 */
import { readFileSync } from "node:fs";
import * as otel from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createCore,
  createFunction,
  opentelemetryHook,
  parseTraceparent,
  serve,
  type CoreOptions,
  type DurableFunction,
  type TracedInvocation,
} from "../src/index.js";
import { invokeHeaders } from "./helpers.js";

const KEY = "trace-test-key";
const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const ENGINE_SPAN = "00f067aa0ba902b7";
const TRACE = `00-${TRACE_ID}-${ENGINE_SPAN}-01`;

function app(functions: DurableFunction<any, any>[], options: Partial<CoreOptions> = {}) {
  return createCore({ functions, signingKey: KEY, logger: null, ...options });
}

async function invoke(core: ReturnType<typeof createCore>, request: Record<string, unknown>) {
  const body = JSON.stringify({ runId: "r1", event: { id: "e1", name: "go", data: {} }, steps: {}, attempt: 0, ...request });
  const answer = await core.handle("POST", invokeHeaders(KEY, body, { v2: true }), body);
  expect(answer.status).toBe(200);
  return JSON.parse(answer.body) as Record<string, unknown>;
}

const work = createFunction({
  id: "work",
  trigger: { event: "go" },
  handler: async ({ event, step }) => {
    const seen = step.trace;
    if ((event.data as { fail?: boolean }).fail) throw new Error("boom");
    await step.run("a", () => 1);
    return seen === null ? null : [seen.traceId, seen.parentId, seen.sampled];
  },
});

describe("parseTraceparent", () => {
  it("splits a valid traceparent and refuses anything else", () => {
    expect(parseTraceparent(TRACE)).toEqual({ traceId: TRACE_ID, parentId: ENGINE_SPAN, flags: 1, sampled: true, traceparent: TRACE });
    expect(parseTraceparent(TRACE.slice(0, -2) + "00")?.sampled).toBe(false);
    for (const bad of [null, 7, "", "00-bad", TRACE.toUpperCase(), `01-${TRACE_ID}-${ENGINE_SPAN}-01`, `00-${"0".repeat(32)}-${ENGINE_SPAN}-01`, `00-${TRACE_ID}-${"0".repeat(16)}-01`]) {
      expect(parseTraceparent(bad)).toBeNull();
    }
  });
});

describe("step.trace and traceHook", () => {
  const memo = { a: { type: "run", data: 1 } };

  it("exposes the invocation's trace, and none without one or with trace-context off", async () => {
    expect(await invoke(app([work]), { functionId: "work", traceparent: TRACE, steps: memo })).toEqual({
      op: "done",
      data: [TRACE_ID, ENGINE_SPAN, true],
    });
    expect((await invoke(app([work]), { functionId: "work", steps: memo })).data).toBeNull();
    expect((await invoke(app([work]), { functionId: "work", traceparent: "00-x", steps: memo })).data).toBeNull();
    const off = app([work], { capabilities: ["strict-replay"] });
    expect((await invoke(off, { functionId: "work", traceparent: TRACE, steps: memo })).data).toBeNull();
  });

  it("wraps each traced invocation; run() settles when a step ends it or the handler throws", async () => {
    const calls: [string, unknown][] = [];
    const traceHook = async (invocation: TracedInvocation, run: () => Promise<unknown>) => {
      calls.push(["enter", invocation]);
      try {
        const value = await run();
        calls.push(["exit", value]);
        return value;
      } catch (error) {
        calls.push(["error", (error as Error).message]);
        throw error;
      }
    };
    const core = app([work], { traceHook });
    expect(await invoke(core, { functionId: "work", traceparent: TRACE, attempt: 2 })).toMatchObject({ op: "step", id: "a" });
    expect(calls).toEqual([
      ["enter", { trace: parseTraceparent(TRACE), functionId: "work", runId: "r1", attempt: 2, failure: false }],
      ["exit", undefined],
    ]);
    calls.length = 0;
    const failing = { functionId: "work", traceparent: TRACE, event: { id: "e2", name: "go", data: { fail: true } } };
    expect(await invoke(core, failing)).toMatchObject({ op: "error", message: "boom" });
    expect(calls.map((c) => c[0])).toEqual(["enter", "error"]);
    calls.length = 0;
    expect(await invoke(core, { functionId: "work" })).toMatchObject({ op: "step" });
    expect(calls).toEqual([]); // no traceparent: the hook is not called
    expect(() => app([work], { traceHook: "no" as never })).toThrow(/traceHook/);
  });
});

describe("opentelemetryHook", () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const manager = new AsyncLocalStorageContextManager();
  beforeAll(() => {
    otel.context.setGlobalContextManager(manager.enable());
    otel.trace.setGlobalTracerProvider(provider);
  });
  afterAll(async () => {
    otel.trace.disable();
    otel.context.disable();
    await provider.shutdown();
  });

  const nested = createFunction({
    id: "nested",
    trigger: { event: "go" },
    handler: async ({ event, step }) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      otel.trace.getTracer("app").startSpan("inside").end(); // a child of the active span
      if ((event.data as { fail?: boolean }).fail) throw new Error("boom");
      return step.run("a", () => 1);
    },
  });

  it("opens a span per invocation, a child of the engine's span, with the app's spans under it", async () => {
    exporter.reset();
    const core = app([nested], { traceHook: opentelemetryHook(otel) });
    expect(await invoke(core, { functionId: "nested", traceparent: TRACE })).toMatchObject({ op: "step" });
    const [inside, outer] = exporter.getFinishedSpans();
    expect(outer?.name).toBe("durable nested");
    expect(outer?.spanContext().traceId).toBe(TRACE_ID);
    expect(outer?.parentSpanContext?.spanId).toBe(ENGINE_SPAN);
    expect(outer?.parentSpanContext?.isRemote).toBe(true);
    expect(outer?.attributes["durable.run_id"]).toBe("r1");
    expect(outer?.status.code).toBe(otel.SpanStatusCode.UNSET); // a step is not an error
    expect(inside?.parentSpanContext?.spanId).toBe(outer?.spanContext().spanId);

    exporter.reset();
    const failing = { functionId: "nested", traceparent: TRACE, event: { id: "e2", name: "go", data: { fail: true } } };
    expect(await invoke(core, failing)).toMatchObject({ op: "error" });
    const failed = exporter.getFinishedSpans().at(-1);
    expect(failed?.status.code).toBe(otel.SpanStatusCode.ERROR);
    expect(failed?.events[0]?.name).toBe("exception");
  });

  it("runs the README example", async () => {
    exporter.reset();
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const block = /```js\n(import \* as otel[\s\S]*?)```/.exec(readme)?.[1];
    if (!block) throw new Error("README has no trace hook example");
    const made = new Function("otel", "createFunction", "opentelemetryHook", "serve", "process", block.replace(/^import .*$/gm, "") + "\nreturn { handler };")(
      otel,
      createFunction,
      opentelemetryHook,
      serve,
      { env: { DURABLE_SIGNING_KEY: KEY } },
    ) as { handler: (request: Request) => Promise<Response> };
    const body = JSON.stringify({
      functionId: "ship",
      runId: "r9",
      attempt: 0,
      traceparent: TRACE,
      steps: { label: { type: "run", data: { order: "o1" } } },
      event: { id: "e9", name: "order.paid", data: { orderId: "o1" } },
    });
    const response = await made.handler(new Request("http://app/api/durable", { method: "POST", headers: invokeHeaders(KEY, body, { v2: true }), body }));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ op: "done", data: { order: "o1", trace: TRACE_ID } });
    const [span] = exporter.getFinishedSpans();
    expect(span?.name).toBe("durable ship");
    expect(span?.parentSpanContext?.spanId).toBe(ENGINE_SPAN);
  });
});
