/** The sans-IO core and the replay model, beyond what the spec vectors cover. */
import { describe, expect, it } from "vitest";
import {
  createCore,
  createFunction,
  NonRetriableError,
  sign,
  signV2,
  type CoreOptions,
  type DurableFunction,
} from "../src/index.js";
import { invokeHeaders, manifestHeaders } from "./helpers.js";
import { VERSION } from "../src/version.js";

const KEY = "core-test-key";
const NOW = 1_767_225_600_000;

function app(functions: DurableFunction<any, any>[], options: Partial<CoreOptions> = {}) {
  return createCore({ functions, signingKey: KEY, now: () => NOW, ...options });
}

async function invoke(
  core: ReturnType<typeof createCore>,
  request: Record<string, unknown>,
  v2 = true,
): Promise<Record<string, unknown>> {
  const body = JSON.stringify({ runId: "run-1", event: { id: "e1", name: "x", data: {} }, steps: {}, attempt: 0, ...request });
  const answer = await core.handle("POST", invokeHeaders(KEY, body, { v2, now: NOW }), body);
  expect(answer.status).toBe(200);
  return JSON.parse(answer.body) as Record<string, unknown>;
}

const fn = (id: string, handler: DurableFunction["config"]["handler"], extra: object = {}) =>
  createFunction({ id, trigger: { event: `t.${id}` }, handler, ...extra });

describe("replay", () => {
  it("a try/catch around a step cannot swallow the stop", async () => {
    let after = 0;
    const f = fn("guarded", async ({ step }) => {
      try {
        await step.run("a", () => 1);
      } catch {
        return "swallowed";
      }
      after++;
      return "after";
    });
    expect(await invoke(app([f]), { functionId: "guarded" })).toEqual({ op: "step", id: "a", data: 1 });
    expect(after).toBe(0);
  });

  it("steps started together: the first one is the op, the others never run", async () => {
    let ran = 0;
    const f = fn("both", async ({ step }) => {
      const [a, b] = await Promise.all([
        step.run("a", () => ++ran),
        step.run("b", () => ++ran),
      ]);
      return { a, b };
    });
    expect(await invoke(app([f]), { functionId: "both" })).toEqual({ op: "step", id: "a", data: 1 });
    expect(ran).toBe(1);
    expect(await invoke(app([f]), { functionId: "both", steps: { a: { type: "run", data: 1 } } })).toEqual({
      op: "step",
      id: "b",
      data: 2,
    });
  });

  it("a step that is not awaited still wins over the handler's return", async () => {
    const f = fn("fire", ({ step }) => {
      void step.run("bg", async () => "late");
      return "returned";
    });
    expect(await invoke(app([f]), { functionId: "fire" })).toEqual({ op: "step", id: "bg", data: "late" });
  });

  it("a step inside a step.run callback fails the outer step", async () => {
    const f = fn("nested", async ({ step }) => step.run("outer", () => step.run("inner", () => 1)));
    const op = await invoke(app([f]), { functionId: "nested" });
    expect(op).toMatchObject({ op: "error", id: "outer", retryable: true });
  });

  it("without step-occurrences a reused id returns the first memo (v1 behaviour)", async () => {
    const f = fn("loop", async ({ step }) => {
      const out: number[] = [];
      for (const i of [0, 1]) out.push(await step.run("item", () => i));
      return out;
    });
    const core = app([f], { capabilities: "none" });
    expect(await invoke(core, { functionId: "loop", steps: { item: { type: "run", data: 0 } } }, false)).toEqual({
      op: "done",
      data: [0, 0],
    });
  });

  it("without strict-replay a memo of another type is a plain retryable handler error", async () => {
    const f = fn("m", async ({ step }) => step.run("x", () => 1));
    const op = await invoke(app([f], { capabilities: ["timestamped-signatures"] }), {
      functionId: "m",
      steps: { x: { type: "sleep", data: null } },
    });
    expect(op).toEqual({ op: "error", id: null, message: 'step "x" already used as a sleep', name: "Error", retryable: true });
  });

  it("strict replay names the suffixed id", async () => {
    const f = fn("m2", async ({ step }) => {
      await step.run("x", () => 1);
      await step.run("x", () => 2);
    });
    const op = await invoke(app([f]), {
      functionId: "m2",
      steps: { x: { type: "run", data: 1 }, "x#2": { type: "wait", data: null } },
    });
    expect(op).toEqual({
      op: "error",
      id: "x#2",
      message: 'step "x#2" was memoized as wait, not run',
      name: "NonDeterministicError",
      code: "NON_DETERMINISTIC",
      retryable: false,
    });
  });

  it("undefined becomes null; values without a JSON form become a non-retryable error", async () => {
    const core = app([
      fn("undef", async ({ step }) => step.run("u", () => undefined)),
      fn("nan", async ({ step }) => step.run("n", () => Number.NaN)),
      fn("big", async ({ step }) => step.run("b", () => 10n)),
      fn("circular", () => {
        const value: Record<string, unknown> = {};
        value.self = value;
        return value;
      }),
      fn("void", () => undefined),
    ]);
    expect(await invoke(core, { functionId: "undef" })).toEqual({ op: "step", id: "u", data: null });
    expect(await invoke(core, { functionId: "void" })).toEqual({ op: "done", data: null });
    const unserializable = {
      op: "error",
      id: null,
      message: "workflow response is not serializable or exceeds the response limit",
      retryable: false,
    };
    for (const id of ["nan", "big", "circular"]) expect(await invoke(core, { functionId: id })).toEqual(unserializable);
  });

  it("error details: bounded, serializable, code cut to 100 characters; thrown non-errors", async () => {
    const core = app([
      fn("huge", () => {
        throw new NonRetriableError("huge", { code: "C".repeat(150), details: "d".repeat(70_000) });
      }),
      fn("cyclic", () => {
        const details: Record<string, unknown> = {};
        details.me = details;
        throw new NonRetriableError("cyclic", { details, name: "CustomFatal" });
      }),
      fn("string", () => {
        throw "just a string";
      }),
    ]);
    expect(await invoke(core, { functionId: "huge" })).toEqual({
      op: "error",
      id: null,
      message: "huge",
      name: "NonRetriableError",
      code: "C".repeat(100),
      details: { truncated: true, reason: "error details exceed 64 KiB" },
      retryable: false,
    });
    expect(await invoke(core, { functionId: "cyclic" })).toEqual({
      op: "error",
      id: null,
      message: "cyclic",
      name: "CustomFatal",
      details: { serializationError: "error details are not JSON-serializable" },
      retryable: false,
    });
    expect(await invoke(core, { functionId: "string" })).toEqual({
      op: "error",
      id: null,
      message: "just a string",
      name: "Error",
      retryable: true,
    });
  });

  it("parallel and sendEvent bounds are non-retriable with their codes", async () => {
    const core = app([
      fn("p0", async ({ step }) => step.parallel("p", {})),
      fn("s0", async ({ step }) => step.sendEvent("s", [])),
    ]);
    expect(await invoke(core, { functionId: "p0" })).toMatchObject({ op: "error", id: null, code: "INVALID_PARALLEL", retryable: false });
    expect(await invoke(core, { functionId: "s0" })).toMatchObject({ op: "error", id: null, code: "INVALID_EVENTS", retryable: false });
  });

  it("sleep and wait ops carry until from the clock; match defaults to null", async () => {
    const core = app([
      fn("w", async ({ step }) => step.waitForEvent("w", { event: "x.done", timeout: "1m" })),
      fn("s", async ({ step }) => step.sleep("s", 1500)),
    ]);
    expect(await invoke(core, { functionId: "w" })).toEqual({
      op: "wait",
      id: "w",
      event: "x.done",
      match: null,
      until: new Date(NOW + 60_000).toISOString(),
    });
    expect(await invoke(core, { functionId: "s" })).toEqual({ op: "sleep", id: "s", until: "2026-01-01T00:00:01.500Z" });
  });

  it("an invalid duration is an error of the handler, not a crash", async () => {
    const core = app([fn("bad", async ({ step }) => step.sleep("s", "soon" as never))]);
    expect(await invoke(core, { functionId: "bad" })).toMatchObject({ op: "error", id: null, message: 'invalid duration: "soon"' });
  });

  it("the handler gets runId, attempt and events; the failure handler gets the failure", async () => {
    const seen: unknown[] = [];
    const f = fn(
      "ctx",
      ({ runId, attempt, events, event }) => {
        seen.push({ runId, attempt, count: events.length, first: events[0] === event || events[0]?.id === event.id });
        return "ok";
      },
      {
        onFailure: ({ error, runId }: { error: { message: string; name: string; code?: string; stepId?: string }; runId: string }) => ({
          runId,
          message: error.message,
          name: error.name,
          code: error.code,
          stepId: error.stepId,
        }),
      },
    );
    const core = app([f]);
    await invoke(core, { functionId: "ctx", runId: "r9", attempt: 2 });
    await invoke(core, {
      functionId: "ctx",
      events: [
        { id: "e1", name: "x", data: {} },
        { id: "e2", name: "x", data: {} },
      ],
    });
    expect(seen).toEqual([
      { runId: "r9", attempt: 2, count: 1, first: true },
      { runId: "run-1", attempt: 0, count: 2, first: true },
    ]);
    expect(
      await invoke(core, {
        functionId: "ctx",
        failure: { message: "it broke", name: "TypeError", code: "E1", stepId: "s1" },
      }),
    ).toEqual({ op: "done", data: { runId: "run-1", message: "it broke", name: "TypeError", code: "E1", stepId: "s1" } });
  });
});

describe("robustness", () => {
  it("step calls the handler never awaited cannot crash the process (no unhandled rejection)", async () => {
    const f = fn("sloppy", ({ step }) => {
      void step.run("a", async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        return 1;
      });
      void step.run("b", () => 2); // rejected: a step is already running
      void step.sleep("c", "not a duration" as never);
      return "ignored";
    });
    expect(await invoke(app([f]), { functionId: "sloppy" })).toEqual({ op: "step", id: "a", data: 1 });
    await new Promise((resolve) => setTimeout(resolve, 20)); // vitest fails the run on an unhandled rejection
  });

  it("an Error subclass is named by its class", async () => {
    class QuotaExceeded extends Error {}
    const f = fn("quota", async ({ step }) =>
      step.run("q", () => {
        throw new QuotaExceeded("over quota");
      }),
    );
    expect(await invoke(app([f]), { functionId: "quota" })).toEqual({
      op: "error",
      id: "q",
      message: "over quota",
      name: "QuotaExceeded",
      retryable: true,
    });
  });

  it("sendEvent refuses an event that is not a valid envelope", async () => {
    const core = app([
      fn("noname", async ({ step }) => step.sendEvent("s", { data: {} } as never)),
      fn("extra", async ({ step }) => step.sendEvent("s", [{ name: "ok" }, { name: "x", user: "u" }])),
    ]);
    expect(await invoke(core, { functionId: "noname" })).toMatchObject({
      op: "error",
      id: null,
      message: "step.sendEvent: event 0 needs a name of 1-200 characters",
      code: "INVALID_EVENTS",
      retryable: false,
    });
    expect(await invoke(core, { functionId: "extra" })).toMatchObject({ message: 'step.sendEvent: event 1 has unknown member "user"' });
  });

  it("a v2 app also requires a valid v1 signature [SIG-9]", async () => {
    const core = app([fn("f", () => "ok")]);
    const body = JSON.stringify({ functionId: "f", runId: "r", event: {}, steps: {} });
    const headers = invokeHeaders(KEY, body, { v2: true, now: NOW });
    headers["x-durable-signature"] = sign("other", body);
    expect((await core.handle("POST", headers, body)).status).toBe(401);
    delete headers["x-durable-signature"];
    expect((await core.handle("POST", headers, body)).status).toBe(401);
  });
});

describe("HTTP-level answers of the core", () => {
  const core = app([fn("f", () => "ok")]);

  it("405 with Allow, 413 over maxRequestBytes, 400 for bad JSON and bad shapes", async () => {
    const put = await core.handle("PUT", {}, "");
    expect(put.status).toBe(405);
    expect(put.headers.allow).toBe("GET, POST");
    const small = app([fn("f", () => "ok")], { maxRequestBytes: 65_536 });
    expect((await small.handle("POST", {}, "x".repeat(65_537))).status).toBe(413);
    expect(() => app([], { maxRequestBytes: 65_535 })).toThrow(/maxRequestBytes/);
    for (const [body, text] of [
      ["{nope", "invalid JSON"],
      ["[]", "invalid request"],
    ] as const) {
      const answer = await core.handle("POST", invokeHeaders(KEY, body, { v2: true, now: NOW }), body);
      expect([answer.status, answer.body]).toEqual([400, text]);
    }
    // Known members of the wrong type: one non-retryable op, with strict-replay [INV-7] or without [INV-8].
    const v1 = app([fn("f", () => "ok")], { capabilities: "none" });
    for (const [body, problem] of [
      ['{"functionId":"f","steps":[]}', "steps must be an object of memos"],
      ['{"functionId":"f","steps":{"a":1}}', "steps must be an object of memos"],
      ['{"functionId":"f","attempt":-1}', "attempt must be a non-negative integer"],
      ['{"functionId":"f","attempt":1.5}', "attempt must be a non-negative integer"],
      ['{"functionId":"f","event":"x"}', "event must be an object"],
      ['{"functionId":"f","events":[1]}', "events must be an array of objects"],
      ['{"functionId":"f","failure":"x"}', "failure must be an object"],
      ['{"functionId":"f","runId":7}', "runId must be a string"],
    ] as const) {
      const answer = await core.handle("POST", invokeHeaders(KEY, body, { v2: true, now: NOW }), body);
      expect([answer.status, JSON.parse(answer.body)]).toEqual([
        200,
        { op: "error", id: null, message: `invalid request: ${problem}`, name: "InvalidRequestError", retryable: false },
      ]);
      const plain = await v1.handle("POST", invokeHeaders(KEY, body), body);
      expect([plain.status, JSON.parse(plain.body)]).toEqual([
        200,
        { op: "error", id: null, message: `invalid request: ${problem}`, name: "InvalidRequestError", retryable: false },
      ]);
    }
    // Checked after the function lookup [ERR-4].
    const unknown = '{"functionId":"nope","steps":[]}';
    const answer = await core.handle("POST", invokeHeaders(KEY, unknown, { v2: true, now: NOW }), unknown);
    expect(answer.body).toBe('{"op":"error","id":null,"message":"unknown function nope","retryable":false}');
  });

  it("a v2 app refuses a POST with only the v1 signature, and signs answers both ways", async () => {
    const body = JSON.stringify({ functionId: "f", runId: "r", event: {}, steps: {} });
    expect((await core.handle("POST", invokeHeaders(KEY, body), body)).status).toBe(401);
    const answer = await core.handle("POST", invokeHeaders(KEY, body, { v2: true, now: NOW - 1000 }), body);
    expect(answer.status).toBe(200);
    expect(answer.body).toBe('{"op":"done","data":"ok"}');
    expect(answer.headers["x-durable-signature"]).toBe(sign(KEY, answer.body));
    expect(answer.headers["x-durable-signature-v2"]).toBe(signV2(KEY, String(NOW - 1000), answer.body));
    const v1 = app([fn("f", () => "ok")], { capabilities: "none" });
    const plain = await v1.handle("POST", invokeHeaders(KEY, body), body);
    expect(plain.status).toBe(200);
    expect(plain.headers["x-durable-signature-v2"]).toBeUndefined();
  });

  it("key rotation: the fallback key verifies, answers are signed with the primary", async () => {
    const rotated = app([fn("f", () => "ok")], { signingKey: "new-key", signingKeyFallback: KEY });
    const body = JSON.stringify({ functionId: "f", runId: "r", event: {}, steps: {} });
    const answer = await rotated.handle("POST", invokeHeaders(KEY, body, { v2: true, now: NOW }), body);
    expect(answer.status).toBe(200);
    expect(answer.headers["x-durable-signature"]).toBe(sign("new-key", answer.body));
    const wrong = await rotated.handle("POST", invokeHeaders("third-key", body, { v2: true, now: NOW }), body);
    expect(wrong.status).toBe(401);
  });

  it("manifest: capabilities and maxRequestBytes; plain v1 lists no capabilities", async () => {
    const answer = await core.handle("GET", manifestHeaders(KEY, NOW), "");
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({
      functions: [{ id: "f", trigger: { event: "t.f" }, priority: 0, enabled: true, hasOnFailure: false }],
      sdkVersion: `ts/${VERSION}`,
      capabilities: ["timestamped-signatures", "key-rotation", "step-occurrences", "strict-replay", "step-invoke", "trace-context"],
      maxRequestBytes: 1_048_576,
    });
    const v1 = app([fn("f", () => "ok")], { capabilities: "none" });
    const plain = JSON.parse((await v1.handle("GET", manifestHeaders(KEY, NOW), "")).body) as Record<string, unknown>;
    expect(Object.keys(plain)).toEqual(["functions", "sdkVersion", "maxRequestBytes"]);
    expect((await core.handle("GET", manifestHeaders(KEY, NOW - 300_001), "")).status).toBe(401);
  });

  it("discovery answers the key only in dev mode", async () => {
    const dev = app([fn("f", () => "ok")], { dev: true, appId: "app-1", appName: "Shop" });
    const found = await dev.handle("GET", { "X-Durable-Discovery": "true" }, "");
    expect(found.status).toBe(200);
    expect(JSON.parse(found.body)).toMatchObject({ signingKey: KEY, appId: "app-1", appName: "Shop" });
    expect((await core.handle("GET", { "x-durable-discovery": "true" }, "")).status).toBe(401);
  });

  it("accepts Headers objects, header arrays and Uint8Array bodies", async () => {
    const body = JSON.stringify({ functionId: "f", runId: "r", event: {}, steps: {} });
    const headers = new Headers(invokeHeaders(KEY, body, { v2: true, now: NOW }));
    const answer = await core.handle("POST", headers, new TextEncoder().encode(body));
    expect(answer.status).toBe(200);
    const invalidUtf8 = new Uint8Array([0xff, 0xfe]);
    const bad = await core.handle("POST", invokeHeaders(KEY, Buffer.from(invalidUtf8).toString("latin1"), {}), invalidUtf8);
    expect(bad.status).toBe(401);
  });
});
