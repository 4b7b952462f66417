/**
 * The TypeScript SDK's vector driver (conformance driver protocol 1, conformance/PORTING.md):
 * durations through `parseDuration`, the parser step.sleep, waitForEvent timeouts and
 * function options call when they are declared. One JSON line in, one line out.
 */
import { createInterface } from "node:readline";
import { InvalidDurationError, parseDuration } from "../src/index.js";

type Answer = Record<string, unknown>;

function durations(input: unknown): Answer {
  try {
    return { valid: true, ms: parseDuration(input) };
  } catch (error) {
    if (error instanceof InvalidDurationError) return { valid: false };
    throw error;
  }
}

function answer(line: string): Answer {
  try {
    const request = JSON.parse(line) as { area: string; case: { input: unknown } };
    if (request.area !== "durations") return { unsupported: true };
    return durations(request.case.input);
  } catch (error) {
    return { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on("line", (line) => {
  if (line.trim() !== "") process.stdout.write(`${JSON.stringify(answer(line))}\n`);
});
