/** Protocol 1.1 app side: step.invoke ([INVOKE-1], [INVOKE-8], [INVOKE-9]) and trace context ([TRACE-4]). */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createCore, createFunction, InvokeError, type CoreOptions, type DurableFunction } from "../src/index.js";
import { invokeHeaders } from "./helpers.js";

const KEY = "p11-test-key";
const NOW = 1_767_225_600_000;
const TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

function app(functions: DurableFunction<any, any>[], options: Partial<CoreOptions> = {}) {
  return createCore({ functions, signingKey: KEY, now: () => NOW, ...options });
}

async function invoke(core: ReturnType<typeof createCore>, request: Record<string, unknown>) {
  const body = JSON.stringify({ runId: "run-1", event: { id: "e1", name: "x", data: {} }, steps: {}, attempt: 0, ...request });
  const answer = await core.handle("POST", invokeHeaders(KEY, body, { v2: true, now: NOW }), body);
  expect(answer.status).toBe(200);
  return JSON.parse(answer.body) as Record<string, unknown>;
}

const parent = createFunction({
  id: "parent",
  trigger: { event: "go" },
  handler: async ({ event, step }) => {
    try {
      return { ok: await step.invoke("call", "child", { data: { n: 21 }, timeout: "1m" }) };
    } catch (error) {
      if ((event.data as { uncaught?: boolean }).uncaught || !(error instanceof InvokeError)) throw error;
      return { code: error.code, details: error.details };
    }
  },
});

describe("step.invoke", () => {
  it("answers the invoke op with until = now + timeout", async () => {
    expect(await invoke(app([parent]), { functionId: "parent" })).toEqual({
      op: "invoke",
      id: "call",
      function: "child",
      app: null,
      data: { n: 21 },
      until: new Date(NOW + 60_000).toISOString(),
    });
  });

  it("returns the child's output from the memo", async () => {
    const memo = { type: "invoke", data: { runId: "c1", status: "completed", output: { doubled: 42 } } };
    expect(await invoke(app([parent]), { functionId: "parent", steps: { call: memo } })).toEqual({
      op: "done",
      data: { ok: { doubled: 42 } },
    });
  });

  it("raises InvokeError with the code of the status and the memo in details", async () => {
    const error = { name: "DurableError", code: "INVOKE_TIMEOUT", message: "too slow" };
    const memo = { type: "invoke", data: { runId: "c1", status: "timedOut", error } };
    expect(await invoke(app([parent]), { functionId: "parent", steps: { call: memo } })).toEqual({
      op: "done",
      data: { code: "INVOKE_TIMEOUT", details: { runId: "c1", status: "timedOut", error } },
    });
  });

  it("uncaught, fails the run at the invoke step, not retried", async () => {
    const error = { name: "Error", message: "no stock" };
    const memo = { type: "invoke", data: { runId: "c1", status: "failed", error } };
    const event = { id: "e1", name: "go", data: { uncaught: true } };
    expect(await invoke(app([parent]), { functionId: "parent", event, steps: { call: memo } })).toEqual({
      op: "error",
      id: "call",
      message: "no stock",
      name: "InvokeError",
      code: "INVOKE_FAILED",
      details: { runId: "c1", status: "failed", error },
      retryable: false,
    });
  });

  it("is refused without the step-invoke capability", async () => {
    const op = await invoke(app([parent], { capabilities: ["strict-replay"] }), {
      functionId: "parent",
      event: { id: "e1", name: "go", data: { uncaught: true } },
    });
    expect(op).toMatchObject({ op: "error", code: "CAPABILITY_OFF", retryable: false });
  });

  it("runs the README example", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const block = /### Child functions[\s\S]*?```js\n([\s\S]*?)```/.exec(readme)?.[1];
    if (!block) throw new Error("README has no step.invoke example");
    const made = new Function("createFunction", "InvokeError", block.replace(/^import .*$/m, "") + "\nreturn { checkout };")(
      createFunction,
      InvokeError,
    ) as { checkout: DurableFunction };
    return invoke(app([made.checkout]), { functionId: "checkout", event: { id: "e1", name: "cart.checkout", data: { cartId: "k1" } } }).then(
      (op) => expect(op).toMatchObject({ op: "invoke", id: "charge", function: "charge-card", data: { cartId: "k1" } }),
    );
  });
});

describe("trace context", () => {
  const sender = createFunction({
    id: "sender",
    trigger: { event: "go" },
    handler: async ({ step }) => {
      await step.sendEvent("out", [{ name: "a" }, { name: "b", traceparent: `00-${"1".repeat(32)}-${"2".repeat(16)}-01` }]);
      return step.traceparent;
    },
  });

  it("adds the invocation's traceparent to sent events that have none", async () => {
    const op = await invoke(app([sender]), { functionId: "sender", traceparent: TRACE });
    expect(op).toEqual({
      op: "sendEvent",
      id: "out",
      events: [
        { name: "a", traceparent: TRACE },
        { name: "b", traceparent: `00-${"1".repeat(32)}-${"2".repeat(16)}-01` },
      ],
    });
  });

  it("adds nothing without one, or when trace-context is off", async () => {
    const events = [{ name: "a" }, { name: "b", traceparent: `00-${"1".repeat(32)}-${"2".repeat(16)}-01` }];
    expect(await invoke(app([sender]), { functionId: "sender" })).toEqual({ op: "sendEvent", id: "out", events });
    const off = app([sender], { capabilities: ["strict-replay"] });
    expect(await invoke(off, { functionId: "sender", traceparent: TRACE })).toEqual({ op: "sendEvent", id: "out", events });
  });

  it("exposes it to the handler", async () => {
    const memo = { out: { type: "sendEvent", data: [] } };
    expect(await invoke(app([sender]), { functionId: "sender", traceparent: TRACE, steps: memo })).toEqual({ op: "done", data: TRACE });
  });
});
