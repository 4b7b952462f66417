/** HMAC-SHA256 signatures of every hop (v1 over the body, v2 over `timestamp + "." + body`). */
import { Buffer } from "node:buffer";
import { createHmac, timingSafeEqual } from "node:crypto";
import { LIMITS } from "./constants.js";

export type Bytes = Uint8Array | string;

/** Lowercase hex HMAC-SHA256 of `message` under `key` (the key's UTF-8 bytes). */
export function sign(key: string, message: Bytes): string {
  return createHmac("sha256", key).update(message).digest("hex");
}

/** The v2 MAC input: `timestamp + "." + body`, as bytes. */
export function v2Message(timestamp: string, body: Bytes): Buffer {
  const bodyBytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
  return Buffer.concat([Buffer.from(`${timestamp}.`, "utf8"), bodyBytes]);
}

export function signV2(key: string, timestamp: string, body: Bytes): string {
  return sign(key, v2Message(timestamp, body));
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Constant-time check of `signature` against every key (no early exit on the first key). */
export function matchesAnyKey(keys: readonly string[], message: Bytes, signature: string | undefined): boolean {
  if (typeof signature !== "string" || !HEX64.test(signature)) return false;
  const given = Buffer.from(signature, "utf8");
  let ok = false;
  for (const key of keys) {
    const expected = Buffer.from(sign(key, message), "utf8");
    if (timingSafeEqual(expected, given)) ok = true;
  }
  return ok;
}

/** A timestamp header is a decimal count of unix milliseconds within the window of `now`. */
export function freshTimestamp(
  timestamp: string | undefined,
  now: number,
  windowMs: number = LIMITS.signatureWindowMs,
): boolean {
  if (typeof timestamp !== "string" || !/^[0-9]{1,16}$/.test(timestamp)) return false;
  return Math.abs(now - Number(timestamp)) <= windowMs;
}

/**
 * Verify a signed answer of the app (what the engine checks): the v1 body signature, and
 * with `requestTimestamp` also the V2 signature binding the answer to that request.
 */
export function verifyAnswer(
  keys: readonly string[],
  body: Bytes,
  headers: Record<string, string | undefined>,
  requestTimestamp?: string,
): boolean {
  if (!matchesAnyKey(keys, body, headers["x-durable-signature"])) return false;
  if (requestTimestamp === undefined) return true;
  return matchesAnyKey(keys, v2Message(requestTimestamp, body), headers["x-durable-signature-v2"]);
}

/**
 * Verify an app -> engine API call (what the engine checks): `X-Durable-App` must be
 * present; with a timestamp the V2 signature (window included) decides, else v1.
 */
export function verifyApiRequest(
  keys: readonly string[],
  body: Bytes,
  headers: Record<string, string | undefined>,
  now: number,
): boolean {
  if (!headers["x-durable-app"]) return false;
  const timestamp = headers["x-durable-timestamp"];
  if (timestamp !== undefined || headers["x-durable-signature-v2"] !== undefined) {
    return freshTimestamp(timestamp, now) && matchesAnyKey(keys, v2Message(timestamp ?? "", body), headers["x-durable-signature-v2"]);
  }
  return matchesAnyKey(keys, body, headers["x-durable-signature"]);
}
