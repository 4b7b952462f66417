/** The engine API client against a real HTTP fake engine on 127.0.0.1. */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  Client,
  createFunction,
  DurableError,
  provisionApp,
  retireAppKey,
  rotateAppKey,
  serve,
  SDK_VERSION,
  verifyApiRequest,
} from "../src/index.js";

const KEY = "client-key";

interface Seen {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  verified: boolean;
}

type Reply = { status: number; body: string; headers?: Record<string, string> };

let seen: Seen[] = [];
let script: ((request: Seen) => Reply)[] = [];
let fallback: (request: Seen) => Reply = () => ({ status: 200, body: '{"ok":true}' });
let server: Server;
let base = "";

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

beforeAll(async () => {
  server = createServer(async (request, response) => {
    const body = await readBody(request);
    const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k, String(v)]));
    const entry: Seen = {
      method: request.method ?? "",
      path: request.url ?? "",
      headers,
      body,
      verified: verifyApiRequest([KEY], body, headers, Date.now()),
    };
    seen.push(entry);
    const reply = (script.shift() ?? fallback)(entry);
    response.writeHead(reply.status, { "content-type": "application/json", ...reply.headers });
    response.end(reply.body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => {
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  seen = [];
  script = [];
  fallback = () => ({ status: 200, body: '{"ok":true}' });
});

const client = (options: Partial<ConstructorParameters<typeof Client>[0]> = {}) =>
  new Client({ baseUrl: `${base}/`, appId: "app-1", signingKey: KEY, backoffMs: 1, ...options });

describe("Client", () => {
  it("every engine API call: path, compact body, v1 + v2 signatures the engine accepts", async () => {
    const c = client();
    const receipt = { id: "e1", name: "user.created", ts: 1, duplicate: false, runIds: ["r1"] };
    fallback = (request) => {
      const answers: Record<string, unknown> = {
        "/e": receipt,
        "/e/bulk": { events: [receipt] },
        "/runs/search": { runs: [], nextCursor: null },
        "/runs/get": { runId: "r1", status: "completed" },
        "/runs/cancel": { ok: true, status: "cancelled" },
        "/runs/rerun": { runId: "r2", rerunOf: "r1", duplicate: false },
        "/failures/search": { failures: [{ deliveryId: "d1" }] },
        "/failures/retry": { ok: true },
        "/versions/status": { functionId: "f", versions: [] },
        "/fn/sync": { ok: true, functions: ["f"], deactivated: [] },
      };
      return { status: 200, body: JSON.stringify(answers[request.path] ?? { ok: false }) };
    };
    expect(await c.send("user.created", { id: 1 }, { id: "e1" })).toEqual(receipt);
    expect(await c.send({ name: "user.created" })).toEqual(receipt);
    expect(await c.sendMany([{ name: "a", id: "x" }])).toEqual([receipt]);
    expect(await c.searchRuns({ functionId: "f", limit: 5 })).toEqual({ runs: [], nextCursor: null });
    expect((await c.getRun("r1")).status).toBe("completed");
    expect(await c.cancelRun("r1")).toEqual({ ok: true, status: "cancelled" });
    expect((await c.rerun("r1", { idempotencyKey: "k1" })).runId).toBe("r2");
    expect((await c.rerunFromStep("r1", "s1")).rerunOf).toBe("r1");
    expect(await c.listFailures(10)).toEqual([{ deliveryId: "d1" }]);
    expect(await c.retryFailure("d1")).toBe(true);
    expect((await c.getVersionStatus("f")).functionId).toBe("f");
    const fn = createFunction({ id: "f", trigger: { event: "e" }, handler: () => null });
    expect((await c.sync([fn])).functions).toEqual(["f"]);
    expect((await c.sync(serve({ functions: [fn], signingKey: KEY }))).ok).toBe(true);

    expect(seen.map((s) => s.path)).toEqual([
      "/e", "/e", "/e/bulk", "/runs/search", "/runs/get", "/runs/cancel", "/runs/rerun", "/runs/rerun",
      "/failures/search", "/failures/retry", "/versions/status", "/fn/sync", "/fn/sync",
    ]);
    expect(seen.every((s) => s.method === "POST" && s.verified && s.headers["x-durable-app"] === "app-1")).toBe(true);
    expect(seen.every((s) => s.headers["x-durable-signature"]?.length === 64 && s.headers["x-durable-signature-v2"]?.length === 64)).toBe(true);
    expect(seen[0]?.body).toBe('{"id":"e1","name":"user.created","data":{"id":1}}');
    expect(JSON.parse(seen[1]?.body ?? "").data).toEqual({});
    expect(seen[3]?.body).toBe('{"functionId":"f","limit":5}');
    expect(seen[6]?.body).toBe('{"runId":"r1","idempotencyKey":"k1"}');
    expect(JSON.parse(seen[7]?.body ?? "")).toMatchObject({ runId: "r1", stepId: "s1" });
    expect(JSON.parse(seen[11]?.body ?? "")).toEqual({ sdkVersion: SDK_VERSION, functions: [fn.definition()] });
    expect(JSON.parse(seen[12]?.body ?? "")).toMatchObject({
      capabilities: ["timestamped-signatures", "key-rotation", "step-occurrences", "strict-replay", "step-invoke", "trace-context"],
      maxRequestBytes: 1_048_576,
    });
  });

  it("v1 only when v2 is switched off; the engine verifies v1", async () => {
    await client({ signatureV2: false }).cancelRun("r1");
    expect(seen[0]?.headers["x-durable-signature-v2"]).toBeUndefined();
    expect(seen[0]?.verified).toBe(true);
  });

  it("retries 408, 429 and 5xx with backoff, re-signing each attempt", async () => {
    script = [
      () => ({ status: 503, body: "{}" }),
      () => ({ status: 429, body: "{}" }),
      () => ({ status: 200, body: '{"ok":true,"status":"cancelled"}' }),
    ];
    expect(await client().cancelRun("r1")).toEqual({ ok: true, status: "cancelled" });
    expect(seen).toHaveLength(3);
    script = [() => ({ status: 500, body: "{}" }), () => ({ status: 500, body: "{}" }), () => ({ status: 500, body: "{}" })];
    await expect(client({ retries: 2 }).getRun("r1")).rejects.toMatchObject({ status: 500 });
    expect(seen).toHaveLength(6);
  });

  it("does not retry a 4xx; the engine's error code and path are on the error", async () => {
    script = [
      () => ({ status: 400, body: '{"error":{"code":"INVALID_REQUEST","message":"bad","path":"/runId"}}' }),
    ];
    const error = (await client().getRun("r1").catch((e: unknown) => e)) as DurableError;
    expect(error).toBeInstanceOf(DurableError);
    expect([error.status, error.code, error.path]).toEqual([400, "INVALID_REQUEST", "/runId"]);
    expect(seen).toHaveLength(1);
  });

  it("never follows a redirect", async () => {
    script = [() => ({ status: 302, body: "", headers: { location: `${base}/elsewhere` } })];
    await expect(client().getRun("r1")).rejects.toMatchObject({ status: 302 });
    expect(seen.map((s) => s.path)).toEqual(["/runs/get"]);
  });

  it("refuses an answer over maxResponseBytes and a non-object answer", async () => {
    script = [() => ({ status: 200, body: JSON.stringify({ big: "x".repeat(2000) }) })];
    await expect(client({ maxResponseBytes: 1000 }).getRun("r1")).rejects.toThrow(/exceeds 1000 bytes/);
    fallback = () => ({ status: 200, body: "[1,2]" });
    await expect(client({ retries: 1 }).getRun("r1")).rejects.toThrow(/invalid JSON/);
  });

  it("network errors are retried, then reported; failed sends carry their event ids", async () => {
    const down = new Client({ baseUrl: "http://127.0.0.1:1", appId: "a", signingKey: KEY, retries: 1, backoffMs: 1 });
    const error = (await down.send("x", {}, { id: "evt-keep" }).catch((e: unknown) => e)) as DurableError;
    expect(error.message).toMatch(/request failed/);
    expect(error.eventIds).toEqual(["evt-keep"]);
  });

  it("provisions a workspace and rotates / retires its key with the admin token", async () => {
    const app = { id: "app-9", name: "shop", environment: "prod", appUrl: "http://x", activeKeys: 1, createdAt: "t", key: "k" };
    script = [
      () => ({ status: 200, body: JSON.stringify(app) }),
      () => ({ status: 200, body: '{"id":"app-9","key":"k2","activeKeys":2}' }),
      () => ({ status: 200, body: '{"id":"app-9","activeKeys":1}' }),
    ];
    expect(await provisionApp({ baseUrl: base, name: "shop", environment: "prod", appUrl: "http://x", adminToken: "T" })).toEqual(app);
    expect((await rotateAppKey({ baseUrl: base, appId: "app-9", adminToken: "T" })).activeKeys).toBe(2);
    expect((await retireAppKey({ baseUrl: base, appId: "app-9", adminToken: "T" })).activeKeys).toBe(1);
    expect(seen.map((s) => [s.path, s.headers.authorization])).toEqual([
      ["/api/apps", "Bearer T"],
      ["/api/apps/app-9/rotate-key", "Bearer T"],
      ["/api/apps/app-9/retire-key", "Bearer T"],
    ]);
    expect(seen[0]?.body).toBe('{"name":"shop","environment":"prod","appUrl":"http://x"}');
    script = [() => ({ status: 401, body: '{"error":{"code":"UNAUTHORIZED","message":"no"}}' })];
    await expect(provisionApp({ baseUrl: base, name: "s", appUrl: "u" })).rejects.toMatchObject({ code: "UNAUTHORIZED" });
  });

  it("run history, bulk cancel / rerun by filter and the function list: requests and typed answers", async () => {
    const history = {
      runId: "r1",
      attempts: [{ deliveryId: "d1", namespace: "main", attempt: 0, at: "2026-01-01T00:00:00.000Z", durationMs: 12, httpStatus: 500, op: null, error: "500: boom", code: null }],
      nextCursor: null,
    };
    const functions = [{ functionId: "f", runtimeId: "f@2", version: "2", trigger: { event: "e" }, active: true, runs: { completed: 3 } }];
    script = [
      () => ({ status: 200, body: JSON.stringify(history) }),
      () => ({ status: 200, body: '{"cancelled":["r1","r2"],"nextCursor":"c2"}' }),
      () => ({ status: 200, body: '{"reruns":[{"runId":"r9","rerunOf":"r1","duplicate":false}],"nextCursor":null}' }),
      () => ({ status: 200, body: '{"reruns":[],"nextCursor":null}' }),
      () => ({ status: 200, body: JSON.stringify({ functions }) }),
    ];
    const c = client();
    const page = await c.runHistory("r1", { cursor: "c1", limit: 10 });
    expect(page.attempts[0]?.httpStatus).toBe(500);
    expect(await c.bulkCancel({ functionId: "f", status: "queued", createdFrom: new Date(Date.UTC(2026, 0, 1)), limit: 2 })).toEqual({ cancelled: ["r1", "r2"], nextCursor: "c2" });
    expect((await c.bulkRerun({ status: "failed", idempotencyKey: "bulk-1", limit: 5 })).reruns[0]?.runId).toBe("r9");
    await c.bulkRerun({ createdTo: "2026-02-01T00:00:00Z" });
    expect(await c.listFunctions()).toEqual(functions);
    expect(seen.map((s) => [s.path, JSON.parse(s.body)])).toEqual([
      ["/runs/history", { runId: "r1", cursor: "c1", limit: 10 }],
      ["/runs/bulk-cancel", { functionId: "f", status: "queued", createdFrom: "2026-01-01T00:00:00.000Z", limit: 2 }],
      ["/runs/bulk-rerun", { status: "failed", idempotencyKey: "bulk-1", limit: 5 }],
      ["/runs/bulk-rerun", { createdTo: "2026-02-01T00:00:00Z", idempotencyKey: expect.stringMatching(/^[0-9a-f-]{36}$/) }],
      ["/functions/list", {}],
    ]);
    expect(seen.every((s) => s.verified)).toBe(true);
  });

  it("bulk calls need a filter; nothing is sent without one", async () => {
    await expect(client().bulkCancel({ limit: 5 })).rejects.toThrow(TypeError);
    await expect(client().bulkRerun({ idempotencyKey: "k" })).rejects.toThrow(/needs a filter/);
    expect(seen).toHaveLength(0);
  });

  it("errors carry the API's code, the rerun's key and the underlying cause", async () => {
    script = [
      () => ({ status: 404, body: '{"error":{"code":"NOT_FOUND","message":"no such run"}}' }),
      () => ({ status: 409, body: '{"error":{"code":"CONFLICT","message":"key reused","path":"/status"}}' }),
      () => ({ status: 200, body: "{not json" }),
      () => ({ status: 200, body: '{"cancelled":"r1"}' }),
    ];
    const missing = (await client().runHistory("nope").catch((e: unknown) => e)) as DurableError;
    expect([missing.status, missing.code]).toEqual([404, "NOT_FOUND"]);
    expect(missing.message).toMatch(/no such run/);
    const conflict = (await client().bulkRerun({ status: "failed", idempotencyKey: "again" }).catch((e: unknown) => e)) as DurableError;
    expect([conflict.code, conflict.path, conflict.idempotencyKey]).toEqual(["CONFLICT", "/status", "again"]);
    const unreadable = (await client({ retries: 0 }).listFunctions().catch((e: unknown) => e)) as DurableError;
    expect(unreadable).toBeInstanceOf(DurableError);
    expect(unreadable.cause).toBeInstanceOf(SyntaxError);
    const shapeless = (await client().bulkCancel({ status: "queued" }).catch((e: unknown) => e)) as DurableError;
    expect(shapeless.message).toMatch(/without a cancelled list/);
    const down = new Client({ baseUrl: "http://127.0.0.1:1", appId: "a", signingKey: KEY, retries: 0 });
    const unreachable = (await down.listFunctions().catch((e: unknown) => e)) as DurableError;
    expect(unreachable.status).toBeUndefined();
    expect(unreachable.cause).toBeInstanceOf(Error);
  });
});
