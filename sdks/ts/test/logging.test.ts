/** An exception of the user's code is logged with its stack, never with the event's data. */
import { afterEach, describe, expect, it, vi } from "vitest";
import { createCore, createFunction, NonRetriableError, type Logger } from "../src/index.js";
import { invokeHeaders } from "./helpers.js";

const KEY = "log-key";

function explode(_token: string): never {
  throw new RangeError("card declined");
}

const billing = createFunction({
  id: "billing",
  version: "2",
  trigger: { event: "e" },
  handler: async ({ event, step }) => step.run("charge", () => explode((event.data as { token: string }).token)),
  onFailure: async () => {
    throw new NonRetriableError("cleanup failed", { code: "CLEANUP" });
  },
});

const stepsOnly = createFunction({ id: "steps", trigger: { event: "e" }, handler: async ({ step }) => step.run("a", () => 1) });

async function invoke(logger: Logger | null | undefined, request: Record<string, unknown>) {
  const core = createCore({ functions: [billing, stepsOnly], signingKey: KEY, ...(logger === undefined ? {} : { logger }) });
  const body = JSON.stringify({ runId: "run-7", event: { name: "e", data: { token: "secret-card-token" } }, steps: {}, ...request });
  const answer = await core.handle("POST", invokeHeaders(KEY, body, { v2: true }), body);
  return JSON.parse(answer.body) as Record<string, unknown>;
}

function recorder() {
  const lines: unknown[][] = [];
  return { lines, logger: { error: (...args: unknown[]) => void lines.push(args) } };
}

afterEach(() => vi.restoreAllMocks());

describe("logging of user exceptions", () => {
  it("a step's exception: one line with ids, attempt and step, the error (with its stack) beside it", async () => {
    const { lines, logger } = recorder();
    const op = await invoke(logger, { functionId: "billing@2", attempt: 2 });
    expect(op).toMatchObject({ op: "error", id: "charge", name: "RangeError", retryable: true });
    expect(lines).toHaveLength(1);
    const [message, error] = lines[0] as [string, Error];
    expect(message).toBe(
      "durable: function billing@2 raised RangeError: card declined (run run-7, attempt 2, step charge; the engine retries it)",
    );
    expect(error).toBeInstanceOf(RangeError);
    expect(error.stack).toMatch(/explode/);
    expect(JSON.stringify(lines)).not.toContain("secret-card-token");
  });

  it("an onFailure handler's exception is logged as such; a run that only steps logs nothing", async () => {
    const { lines, logger } = recorder();
    await invoke(logger, { functionId: "billing@2", failure: { message: "x", name: "Error" } });
    await invoke(logger, { functionId: "steps" });
    expect(lines).toHaveLength(1);
    expect(lines[0]?.[0]).toMatch(/^durable: onFailure handler of billing@2 raised NonRetriableError: cleanup failed .*not retried\)$/);
  });

  it("console.error by default, nothing with logger: null", async () => {
    const spy = vi.spyOn(console, "error").mockImplementation(() => undefined);
    await invoke(undefined, { functionId: "billing@2" });
    expect(spy).toHaveBeenCalledTimes(1);
    expect(spy.mock.calls[0]?.[1]).toBeInstanceOf(RangeError);
    await invoke(null, { functionId: "billing@2" });
    expect(spy).toHaveBeenCalledTimes(1);
  });

  it("a logger that throws does not change the answer", async () => {
    const op = await invoke({ error: () => { throw new Error("logger down"); } }, { functionId: "billing@2" });
    expect(op).toMatchObject({ op: "error", id: "charge", retryable: true });
  });
});
