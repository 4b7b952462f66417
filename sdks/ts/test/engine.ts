/**
 * A minimal in-test engine: drives a run through an app's handler the way the engine
 * does (invoke, take the op, memoize it, invoke again) until it ends.
 */
import type { DurableCore } from "../src/index.js";
import { invokeHeaders } from "./helpers.js";

export interface Transcript {
  ops: Record<string, unknown>[];
  result: Record<string, unknown>;
}

export async function drive(
  core: DurableCore,
  key: string,
  functionId: string,
  event: Record<string, unknown>,
  answers: { wait?: (op: Record<string, unknown>) => unknown } = {},
  maxInvokes = 50,
): Promise<Transcript> {
  const steps: Record<string, { type: string; data: unknown }> = {};
  const ops: Record<string, unknown>[] = [];
  for (let attempt = 0, i = 0; i < maxInvokes; i++) {
    const body = JSON.stringify({ functionId, runId: "run-drive", event, steps, attempt });
    const answer = await core.handle("POST", invokeHeaders(key, body, { v2: true }), body);
    if (answer.status !== 200) throw new Error(`invoke answered ${answer.status}: ${answer.body}`);
    const op = JSON.parse(answer.body) as Record<string, unknown>;
    ops.push(op);
    const id = op.id as string;
    switch (op.op) {
      case "step":
        steps[id] = { type: "run", data: op.data };
        attempt = 0;
        break;
      case "sleep":
        steps[id] = { type: "sleep", data: null };
        break;
      case "wait":
        steps[id] = { type: "wait", data: answers.wait ? answers.wait(op) : null };
        break;
      case "sendEvent":
        steps[id] = {
          type: "sendEvent",
          data: (op.events as { id?: string; name: string }[]).map((e, n) => ({ id: e.id ?? `gen-${n}`, name: e.name, duplicate: false })),
        };
        break;
      case "error":
        if (op.retryable !== true) return { ops, result: op };
        attempt++;
        break;
      case "done":
        return { ops, result: op };
      default:
        throw new Error(`unknown op ${String(op.op)}`);
    }
  }
  throw new Error("run did not finish");
}
