/** The product page's example compiles under strict tsc (tsconfig includes examples/) and runs. */
import { describe, expect, it } from "vitest";
import { createCore } from "../src/index.js";
import { onboarding, sentMail } from "../examples/onboarding.js";
import { drive } from "./engine.js";
import { invokeHeaders } from "./helpers.js";

const KEY = "onboarding-key";

describe("the product page example", () => {
  const core = createCore({ functions: [onboarding], signingKey: KEY });
  const event = { id: "evt-1", name: "user.created", data: { id: "u-1", tenantId: "t1" } };

  it("declares the documented definition", () => {
    expect(onboarding.definition()).toEqual({
      id: "onboarding",
      trigger: { event: "user.created" },
      priority: 0,
      enabled: true,
      hasOnFailure: false,
      concurrency: { limit: 2, key: "tenantId" },
    });
  });

  it("invoke -> ops, replayed with memos: load, sleep 2d, wait 7d, email, done", async () => {
    sentMail.length = 0;
    const started = Date.now();
    const approval = { id: "evt-2", name: "approval.received", data: { userId: "u-1" } };
    const { ops, result } = await drive(core, KEY, "onboarding", event, { wait: () => approval });
    expect(ops.map((op) => [op.op, op.id])).toEqual([
      ["step", "load-user"],
      ["sleep", "cooldown"],
      ["wait", "approve"],
      ["step", "send-email"],
      ["done", undefined],
    ]);
    expect(ops[0]).toEqual({ op: "step", id: "load-user", data: { id: "u-1", email: "ada@example.com" } });
    const sleep = ops[1] as { until: string };
    expect(Math.abs(Date.parse(sleep.until) - (started + 2 * 86_400_000))).toBeLessThan(5_000);
    expect(ops[2]).toMatchObject({ op: "wait", event: "approval.received", match: { userId: "u-1" } });
    expect(ops[3]).toEqual({ op: "step", id: "send-email", data: { to: "ada@example.com" } });
    expect(result).toEqual({ op: "done", data: { approved: true } });
    expect(sentMail).toHaveLength(1);
  });

  it("a wait that times out (memo null) gives approved: false", async () => {
    const { result } = await drive(core, KEY, "onboarding", event, { wait: () => null });
    expect(result).toEqual({ op: "done", data: { approved: false } });
  });

  it("an unknown user fails the load step with a retryable error", async () => {
    const body = JSON.stringify({ functionId: "onboarding", runId: "r", event: { ...event, data: { id: "nobody" } }, steps: {} });
    const answer = await core.handle("POST", invokeHeaders(KEY, body, { v2: true }), body);
    expect(JSON.parse(answer.body)).toEqual({ op: "error", id: "load-user", message: "no user nobody", name: "Error", retryable: true });
  });
});
