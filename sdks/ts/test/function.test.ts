import { describe, expect, it } from "vitest";
import { createCore, createFunction, cronProblem, DefinitionError, type FunctionConfig } from "../src/index.js";

const handler = () => null;

function fails(config: Partial<FunctionConfig> & Record<string, unknown>, field: string): void {
  const build = () => createFunction({ id: "f", trigger: { event: "e" }, handler, ...config } as FunctionConfig);
  expect(build).toThrow(DefinitionError);
  try {
    build();
  } catch (error) {
    expect((error as DefinitionError).field).toBe(field);
    expect((error as Error).message.startsWith(`${field}: `)).toBe(true);
  }
}

describe("createFunction", () => {
  it("writes the v1 definition byte for byte as the Python package does", () => {
    const fn = createFunction({
      id: "everything",
      trigger: { event: "user.created" },
      concurrency: [{ limit: 5 }, { limit: 1, key: "tenantId" }],
      priority: 10,
      throttle: { limit: 10, period: "1m", key: "user.id" },
      rateLimit: { limit: 100, period: "1h" },
      retries: 5,
      timeout: "30s",
      version: "2025-01",
      enabled: false,
      onFailure: () => null,
      handler,
    });
    // Key order of durable/function.py: id, trigger, priority, enabled, hasOnFailure, then the optional ones.
    expect(JSON.stringify(fn.definition())).toBe(
      '{"id":"everything","trigger":{"event":"user.created"},"priority":10,"enabled":false,"hasOnFailure":true,' +
        '"version":"2025-01","retries":5,"timeoutMs":30000,"concurrency":[{"limit":5},{"limit":1,"key":"tenantId"}],' +
        '"throttle":{"limit":10,"periodMs":60000,"key":"user.id"},"rateLimit":{"limit":100,"periodMs":3600000}}',
    );
    expect(fn.runtimeId).toBe("everything@2025-01");
  });

  it("debounce and batch become periodMs / maxSize + timeoutMs", () => {
    const debounced = createFunction({ id: "d", trigger: { event: "e" }, debounce: { period: "5s", key: "id" }, handler });
    expect(JSON.stringify(debounced.definition())).toBe(
      '{"id":"d","trigger":{"event":"e"},"priority":0,"enabled":true,"hasOnFailure":false,"debounce":{"periodMs":5000,"key":"id"}}',
    );
    const batched = createFunction({ id: "b", trigger: { cron: "0 3 * * *" }, batch: { maxSize: 3, timeout: 1000 }, handler });
    expect(batched.definition().batch).toEqual({ maxSize: 3, timeoutMs: 1000 });
    expect(batched.runtimeId).toBe("b");
  });

  it("the definition is a copy: callers cannot mutate the function", () => {
    const fn = createFunction({ id: "c", trigger: { event: "e" }, handler });
    (fn.definition() as { id: string }).id = "changed";
    expect(fn.definition().id).toBe("c");
  });

  it("rejects bad options, naming the option", () => {
    fails({ id: "" }, "id");
    fails({ id: "x".repeat(201) }, "id");
    fails({ trigger: { event: "" } }, "trigger.event");
    fails({ trigger: { event: "a", cron: "* * * * *" } as never }, "trigger");
    fails({ trigger: { cron: "0 3 * *" } }, "trigger.cron");
    fails({ priority: 601 }, "priority");
    fails({ priority: 1.5 }, "priority");
    fails({ retries: 21 }, "retries");
    fails({ retries: -1 }, "retries");
    fails({ version: "" }, "version");
    fails({ enabled: "yes" as never }, "enabled");
    fails({ timeout: "5x" as never }, "timeout");
    fails({ timeout: -1 }, "timeout");
    fails({ concurrency: { limit: 0 } }, "concurrency.limit");
    fails({ concurrency: [{ limit: 1 }, { limit: 0 }] }, "concurrency[1].limit");
    fails({ concurrency: Array.from({ length: 11 }, () => ({ limit: 1 })) }, "concurrency");
    fails({ concurrency: { limit: 1, key: "a..b" } }, "concurrency.key");
    fails({ throttle: { limit: 1, period: "1 s" as never } }, "throttle.period");
    fails({ rateLimit: { limit: 1, period: 0 } }, "rateLimit.period");
    fails({ batch: { maxSize: 101, timeout: "1s" } }, "batch.maxSize");
    fails({ batch: { maxSize: 2, timeout: 0 } }, "batch.timeout");
    fails({ batch: { maxSize: 2, timeout: "1s" }, debounce: { period: "1s" } }, "batch");
    fails({ debounce: { period: "1s" }, throttle: { limit: 1, period: "1s" } }, "debounce");
    fails({ handler: "nope" as never }, "handler");
    fails({ onFailure: 3 as never }, "onFailure");
  });

  it("cron: single spaces, case-sensitive zones, nothing that never fires", () => {
    const ok = (expr: string) => expect(cronProblem(expr), expr).toBeNull();
    const bad = (expr: string) => expect(cronProblem(expr), expr).not.toBeNull();
    ok("0 3 * * *");
    ok("TZ=Europe/Amsterdam 30 0 9 * * mon-fri");
    ok("0 0 30 2 MON");
    ok("5/15 * * * *");
    bad("0  3 * * *");
    bad(" 0 3 * * *");
    bad("0 3 * * * ");
    bad("0\t3 * * *");
    bad("TZ=europe/amsterdam 0 3 * * *");
    bad("TZ= 0 3 * * *");
    bad("TZ=UTC");
    bad("0 0 31 4,6 *");
    bad("0 0 L * *");
  });

  it("serve refuses two functions with the same runtime id", () => {
    const a = createFunction({ id: "same", trigger: { event: "e" }, handler });
    const b = createFunction({ id: "same", trigger: { event: "f" }, handler });
    const c = createFunction({ id: "same", version: "2", trigger: { event: "f" }, handler });
    expect(() => createCore({ functions: [a, b], signingKey: "k" })).toThrow(/declared twice/);
    expect(() => createCore({ functions: [a, c], signingKey: "k" })).not.toThrow();
  });
});

describe("protocol 1.1 definition members", () => {
  it("leaves them out unless set [MINOR-2]", () => {
    const definition = createFunction({ id: "f", trigger: { event: "e" }, handler }).definition();
    expect(Object.keys(definition)).not.toContain("cancelOn");
    expect(Object.keys(definition)).not.toContain("idempotency");
    expect(Object.keys(definition)).not.toContain("singleton");
  });

  it("runs the README example and gives the wire members", async () => {
    const { readFileSync } = await import("node:fs");
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const block = /### Cancel on event[\s\S]*?```js\n([\s\S]*?)```/.exec(readme)?.[1];
    if (!block) throw new Error("README has no protocol 1.1 example");
    const body = block.replace(/^import .*$/m, "") + "\nreturn { fulfilOrder, report };";
    const made = new Function("createFunction", body)(createFunction) as Record<string, { definition(): Record<string, unknown> }>;
    const fulfil = made.fulfilOrder!.definition();
    expect(fulfil.cancelOn).toEqual([{ event: "order.refunded", match: { orderId: "order.id" }, timeoutMs: 7 * 86_400_000 }]);
    expect(fulfil.idempotency).toEqual({ key: "order.id", periodMs: 86_400_000 });
    expect(fulfil.singleton).toBeUndefined();
    expect(made.report!.definition().singleton).toEqual({ key: "tenantId", mode: "skip" });
  });

  it("names the bad option", () => {
    fails({ cancelOn: [] }, "cancelOn");
    fails({ cancelOn: [{ event: "x", match: { a: "b..c" } }] }, "cancelOn[0].match.a");
    fails({ cancelOn: [{ event: "x", timeout: "soon" as never }] }, "cancelOn[0].timeout");
    fails({ idempotency: { period: "1h" } as never }, "idempotency");
    fails({ singleton: { mode: "queue" } as never }, "singleton.mode");
    fails({ singleton: { mode: "skip" }, debounce: { period: "1s" } }, "singleton");
  });
});
