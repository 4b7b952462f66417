/** Compact JSON (no spaces), the encoding every SDK uses on the wire. */
import { Buffer } from "node:buffer";

export class SerializationError extends Error {
  override name = "SerializationError";
}

function strict(_key: string, value: unknown): unknown {
  // Python's json.dumps(allow_nan=False) refuses these; JSON.stringify would silently write null.
  if (typeof value === "number" && !Number.isFinite(value)) {
    throw new SerializationError(`${value} is not valid JSON`);
  }
  return value;
}

/** Encode a value as compact JSON; throws SerializationError when it has no JSON form. */
export function toJson(value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value === undefined ? null : value, strict);
  } catch (error) {
    if (error instanceof SerializationError) throw error;
    throw new SerializationError(error instanceof Error ? error.message : String(error));
  }
  if (text === undefined) throw new SerializationError("value is not JSON-serializable");
  return text;
}

/** Normalize a user value through JSON, as a memo would come back on replay. */
export function roundTrip<T>(value: T): unknown {
  return JSON.parse(toJson(value));
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function byteLength(text: string): number {
  return Buffer.byteLength(text, "utf8");
}
