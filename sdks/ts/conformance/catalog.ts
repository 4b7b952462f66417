/**
 * The conformance function catalog (conformance/README.md), in the order the manifest lists
 * it. Shared by the conformance app and the replay-vector tests.
 */
import { createFunction, NonRetriableError, type Duration, type DurableFunction, type OutgoingEvent } from "../src/index.js";

const on = (id: string) => ({ event: `conf.${id}` });

export const catalog: DurableFunction<any, any>[] = [
  createFunction({
    id: "serial",
    trigger: on("serial"),
    handler: async ({ step }) => {
      const a = await step.run("a", () => ({ n: 1 }));
      const b = await step.run("b", () => ({ n: a.n + 1 }));
      return { a, b };
    },
  }),
  createFunction({
    id: "echo",
    trigger: on("echo"),
    handler: ({ event }) => ({ event }),
  }),
  createFunction({
    id: "sleeper",
    trigger: on("sleeper"),
    handler: async ({ event, step }) => {
      await step.run("before", () => "x");
      await step.sleep("nap", "duration" in event.data ? (event.data.duration as Duration) : "2s");
      return "slept";
    },
  }),
  createFunction({
    id: "waiter",
    trigger: on("waiter"),
    handler: async ({ event, step }) => {
      const got = await step.waitForEvent("approve", {
        event: "conf.approved",
        match: "userId" in event.data ? { userId: event.data.userId } : null,
        timeout: "1h",
      });
      return { approved: got !== null, got };
    },
  }),
  createFunction({
    id: "sender",
    trigger: on("sender"),
    handler: async ({ event, step }) => {
      const receipts = await step.sendEvent(
        "emit",
        "events" in event.data
          ? (event.data.events as OutgoingEvent[])
          : { id: `child-${event.data.n}`, name: "conf.child", data: { n: event.data.n } },
      );
      return { receipts };
    },
  }),
  createFunction({
    id: "flaky",
    trigger: on("flaky"),
    retries: 2,
    handler: async ({ event, step, attempt }) => {
      const result = await step.run("flaky", () => {
        if (attempt < event.data.failTimes) throw new Error("boom");
        return "ok";
      });
      return { result };
    },
  }),
  createFunction({
    id: "fatal",
    trigger: on("fatal"),
    handler: async ({ event, step }) => {
      const data = event.data;
      await step.run("fatal", () => {
        throw new NonRetriableError("no way", {
          code: "code" in data ? (data.code as string) : "E_FATAL",
          details: "details" in data ? data.details : { why: "test" },
        });
      });
    },
  }),
  createFunction({
    id: "handler-error",
    trigger: on("handler-error"),
    handler: () => {
      throw new Error("handler broke");
    },
  }),
  createFunction({
    id: "with-failure",
    trigger: on("with-failure"),
    retries: 0,
    handler: async ({ step }) => {
      await step.run("explode", () => {
        throw new Error("exploded");
      });
    },
    onFailure: async ({ step, error }) => {
      const cleanup = await step.run("cleanup", () => "cleaned");
      return { cleanup, message: error.message };
    },
  }),
  createFunction({
    id: "parallel",
    trigger: on("parallel"),
    handler: ({ event, step }) => {
      if (!("count" in event.data)) return step.parallel("fan", { a: () => 1, b: () => 2 });
      const tasks: Record<string, () => number> = {};
      for (let i = 0; i < (event.data.count as number); i++) tasks[`t${i}`] = () => i;
      return step.parallel("fan", tasks);
    },
  }),
  createFunction({
    id: "loop",
    trigger: on("loop"),
    handler: async ({ step }) => {
      const results: number[] = [];
      for (const i of [0, 1, 2]) results.push(await step.run("item", () => i));
      return results;
    },
  }),
  createFunction({
    id: "mismatch",
    trigger: on("mismatch"),
    handler: async ({ step }) => {
      await step.run("x", () => 1);
      return "unreachable";
    },
  }),
  createFunction({
    id: "big",
    trigger: on("big"),
    handler: async ({ event, step }) => {
      await step.run("big", () => "x".repeat(event.data.size));
      return "done";
    },
  }),
  createFunction({
    id: "batcher",
    trigger: on("batcher"),
    batch: { maxSize: 3, timeout: "1s" },
    handler: ({ events }) => ({ count: events.length }),
  }),
  createFunction({
    id: "versioned",
    trigger: on("versioned"),
    version: "2",
    handler: () => "v2",
  }),
  createFunction({
    id: "nightly",
    trigger: { cron: "0 3 * * *" },
    handler: () => "tick",
  }),
  createFunction({
    id: "invoker",
    trigger: on("invoker"),
    handler: async ({ event, step }) => {
      const data = (event.data ?? {}) as { input?: unknown; timeout?: Duration };
      const options: { data?: unknown; timeout?: Duration } = {};
      if ("input" in data) options.data = data.input;
      if ("timeout" in data) options.timeout = data.timeout as Duration;
      return { result: await step.invoke("call", "echo", options) };
    },
  }),
];
