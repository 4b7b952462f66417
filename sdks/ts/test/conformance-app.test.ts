/** conformance/start serves exactly the catalog of conformance/README.md, over real HTTP. */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sign, signV2 } from "../src/index.js";
import { manifestHeaders } from "./helpers.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const KEY = "conformance-key";
const OLD = "conformance-old-key";

function catalogIds(): string[] {
  const readme = readFileSync(join(root, "../../conformance/README.md"), "utf8");
  const start = readme.indexOf("## Function catalog");
  const table = readme.slice(start, readme.indexOf("The conformance app serves nothing else", start));
  return [...table.matchAll(/^\| `([a-z-]+)` \|/gm)].map((match) => match[1] as string);
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolvePort(port));
    });
  });
}

async function start(env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn(join(root, "conformance/start"), [], {
    env: { ...process.env, PORT: String(port), DURABLE_SIGNING_KEY: KEY, ...env },
    stdio: "ignore",
  });
  const url = `http://127.0.0.1:${port}/api/durable`;
  for (let i = 0; i < 300; i++) {
    try {
      const response = await fetch(url);
      if (response.status === 401) return { child, url };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  child.kill();
  throw new Error("conformance app did not start");
}

let full: { child: ChildProcess; url: string };
let plain: { child: ChildProcess; url: string };

beforeAll(async () => {
  full = await start({ DURABLE_SIGNING_KEY_FALLBACK: OLD, DURABLE_APP_ID: "app-conf" });
  plain = await start({ DURABLE_CAPABILITIES: "none" });
}, 90_000);

afterAll(() => {
  full?.child.kill("SIGTERM");
  plain?.child.kill("SIGTERM");
});

describe("conformance app", () => {
  it("lists the catalog in the README's order with every capability", async () => {
    const manifest = (await (await fetch(full.url, { headers: manifestHeaders(KEY) })).json()) as {
      functions: { id: string; version?: string; trigger: Record<string, string> }[];
      capabilities: string[];
    };
    const ids = catalogIds();
    expect(ids.length).toBeGreaterThanOrEqual(16);
    expect(manifest.functions.map((f) => f.id)).toEqual(ids);
    expect(manifest.capabilities).toEqual(["timestamped-signatures", "key-rotation", "step-occurrences", "strict-replay", "step-invoke", "trace-context"]);
    expect(manifest.functions.find((f) => f.id === "nightly")?.trigger).toEqual({ cron: "0 3 * * *" });
  });

  it("accepts the fallback key and requires v2 by default; plain v1 with DURABLE_CAPABILITIES=none", async () => {
    const body = JSON.stringify({ functionId: "echo", runId: "r", event: { id: "e", name: "conf.echo", data: 1, ts: 1 }, steps: {}, attempt: 0 });
    const timestamp = String(Date.now());
    const v2 = { "x-durable-signature": sign(OLD, body), "x-durable-timestamp": timestamp, "x-durable-signature-v2": signV2(OLD, timestamp, body) };
    const answer = await fetch(full.url, { method: "POST", headers: v2, body });
    expect(answer.status).toBe(200);
    expect(await answer.text()).toBe('{"op":"done","data":{"event":{"id":"e","name":"conf.echo","data":1,"ts":1}}}');
    expect((await fetch(full.url, { method: "POST", headers: { "x-durable-signature": sign(KEY, body) }, body })).status).toBe(401);
    const v1 = await fetch(plain.url, { method: "POST", headers: { "x-durable-signature": sign(KEY, body) }, body });
    expect(v1.status).toBe(200);
    const manifest = (await (await fetch(plain.url, { headers: manifestHeaders(KEY) })).json()) as Record<string, unknown>;
    expect(manifest.capabilities).toBeUndefined();
  });
});
