import { readdirSync, readFileSync, existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { sign, signV2 } from "../src/index.js";

const here = dirname(fileURLToPath(import.meta.url));
export const SPEC_DIR = resolve(here, "../../../spec");
export const VECTORS_DIR = process.env.DURABLE_VECTORS_DIR ?? join(SPEC_DIR, "vectors");

export interface VectorFile<TCase> {
  file: string;
  area: string;
  description: string;
  cases: TCase[];
}

/** Every vector file of an area, globbed so new files are picked up. */
export function loadVectors<TCase>(area: string): VectorFile<TCase>[] {
  const folder = join(VECTORS_DIR, area);
  if (!existsSync(folder)) return [];
  return readdirSync(folder)
    .filter((name) => name.endsWith(".json"))
    .sort()
    .map((name) => {
      const document = JSON.parse(readFileSync(join(folder, name), "utf8")) as Omit<VectorFile<TCase>, "file">;
      return { file: `${area}/${name}`, ...document };
    });
}

/** Headers the engine sends with an invoke: v1 always, v2 when asked. */
export function invokeHeaders(key: string, body: string, options: { v2?: boolean; now?: number } = {}): Record<string, string> {
  const headers: Record<string, string> = { "content-type": "application/json", "x-durable-signature": sign(key, body) };
  if (options.v2) {
    const timestamp = String(options.now ?? Date.now());
    headers["x-durable-timestamp"] = timestamp;
    headers["x-durable-signature-v2"] = signV2(key, timestamp, body);
  }
  return headers;
}

export function manifestHeaders(key: string, now = Date.now()): Record<string, string> {
  const timestamp = String(now);
  return { "x-durable-timestamp": timestamp, "x-durable-signature": sign(key, timestamp) };
}

/** Resolve spec placeholders: {"$afterMs": N} (an ISO instant near invoke + N) and {"$type": "string"}. */
export function matchesExpected(actual: unknown, expected: unknown, invokedAt: number): boolean {
  if (expected !== null && typeof expected === "object" && !Array.isArray(expected)) {
    const record = expected as Record<string, unknown>;
    const keys = Object.keys(record);
    if (keys.length === 1 && keys[0] === "$afterMs") {
      if (typeof actual !== "string" || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(actual)) return false;
      return Math.abs(Date.parse(actual) - (invokedAt + Number(record.$afterMs))) <= 5_000;
    }
    if (keys.length === 1 && keys[0] === "$type") {
      const type = record.$type;
      if (type === "string") return typeof actual === "string";
      if (type === "number") return typeof actual === "number";
      return false;
    }
    if (actual === null || typeof actual !== "object" || Array.isArray(actual)) return false;
    const other = actual as Record<string, unknown>;
    const actualKeys = Object.keys(other);
    if (actualKeys.length !== keys.length) return false;
    return keys.every((key) => key in other && matchesExpected(other[key], record[key], invokedAt));
  }
  if (Array.isArray(expected)) {
    return (
      Array.isArray(actual) &&
      actual.length === expected.length &&
      expected.every((item, index) => matchesExpected(actual[index], item, invokedAt))
    );
  }
  return Object.is(actual, expected) || (typeof actual === "number" && actual === expected);
}
