/** The SDK's constants agree with spec/registry.json. */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ALL_CAPABILITIES, ERROR_CODES, HEADERS, LIMITS, createCore, createFunction } from "../src/index.js";
import { OPS, STEP_TYPES } from "../src/constants.js";
import { SPEC_DIR } from "./helpers.js";

const path = join(SPEC_DIR, "registry.json");
const registry = existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as Record<string, any>) : null;

describe.skipIf(registry === null)("spec/registry.json", () => {
  const r = registry as Record<string, any>;

  it("header names", () => {
    for (const [name, value] of Object.entries(HEADERS)) {
      expect(r.headers[name].toLowerCase()).toBe(value);
    }
  });

  it("ops, their field order and memo types", () => {
    expect([...OPS].sort()).toEqual(Object.keys(r.ops).sort());
    expect([...STEP_TYPES]).toEqual(r.memoTypes);
  });

  it("capabilities: every one the registry defines, in its order", () => {
    expect([...ALL_CAPABILITIES]).toEqual(Object.keys(r.capabilities));
  });

  it("op error codes exist in the registry with where=op and retryable=false", () => {
    for (const code of Object.values(ERROR_CODES)) {
      expect(r.errorCodes[code], code).toBeDefined();
      expect(r.errorCodes[code].where).toBe("op");
      expect(r.errorCodes[code].retryable).toBe(false);
    }
  });

  it("limits", () => {
    const l = r.limits;
    expect(LIMITS.signatureWindowMs).toBe(l.timestampWindowMs);
    expect(LIMITS.maxRequestBytes).toBe(l.appRequestBytesDefault);
    expect(LIMITS.maxResponseBytes).toBe(l.appResponseBytes);
    expect(LIMITS.maxErrorCodeChars).toBe(l.errorCodeChars);
    expect(LIMITS.maxErrorDetailsBytes).toBe(l.errorDetailsBytes);
    expect(LIMITS.maxEventsPerSend).toBe(l.eventsPerCall);
    expect(LIMITS.maxParallelTasks).toBe(l.parallelTasks);
    expect(LIMITS.maxFunctionIdChars).toBe(l.functionIdChars);
    expect(LIMITS.maxVersionChars).toBe(l.versionChars);
    expect(LIMITS.maxRetries).toBe(l.retriesMax);
    expect(LIMITS.maxConcurrencyRules).toBe(l.concurrencyRules);
    expect(LIMITS.minPriority).toBe(l.priorityMin);
    expect(LIMITS.maxPriority).toBe(l.priorityMax);
    expect(LIMITS.batchMaxSize).toBe(l.batchMaxSize);
    expect(LIMITS.keyPathChars).toBe(l.keyPathChars);
    expect(LIMITS.eventNameChars).toBe(l.eventNameChars);
    expect(LIMITS.maxDurationMs).toBe(l.maxDurationMs);
  });

  it("definition defaults", () => {
    const fn = createFunction({ id: "f", trigger: { event: "e" }, handler: () => null });
    const d = fn.definition();
    expect(d.priority).toBe(r.defaults.priority);
    expect(d.enabled).toBe(r.defaults.enabled);
    expect(d.hasOnFailure).toBe(r.defaults.hasOnFailure);
    const core = createCore({ functions: [fn], signingKey: "k" });
    expect(core.maxRequestBytes).toBe(r.defaults.maxRequestBytes);
  });

  it("allowed methods", () => {
    expect(r.appEndpoint.allowedMethods).toEqual(["GET", "POST"]);
  });
});
