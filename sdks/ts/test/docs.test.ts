/** The README quick start runs as written: built package, real process, real HTTP. */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sign, signV2 } from "../src/index.js";
import { manifestHeaders } from "./helpers.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const KEY = "dev-key";

function quickStart(): string {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const block = /## Quick start[\s\S]*?```js\n([\s\S]*?)```/.exec(readme);
  if (!block) throw new Error("README has no js quick start");
  return block[1] as string;
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

let child: ChildProcess | undefined;
let url = "";

beforeAll(async () => {
  // The package imports itself by name ("@durable/sdk" via package.json exports): build dist/.
  execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", join(root, "tsconfig.build.json")]);
  const folder = join(root, ".build", "readme");
  mkdirSync(folder, { recursive: true });
  const file = join(folder, "server.mjs");
  writeFileSync(file, quickStart());
  const port = await freePort();
  url = `http://127.0.0.1:${port}/api/durable`;
  child = spawn(process.execPath, [file], { env: { ...process.env, PORT: String(port), DURABLE_SIGNING_KEY: KEY }, stdio: "pipe" });
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error("quick start server did not start");
}, 60_000);

afterAll(() => {
  child?.kill("SIGTERM");
});

describe("README quick start", () => {
  it("answers 401 unsigned and the manifest when signed", async () => {
    const unsigned = await fetch(url);
    expect([unsigned.status, await unsigned.text()]).toEqual([401, "invalid signature"]);
    const manifest = await fetch(url, { headers: manifestHeaders(KEY) });
    expect(manifest.status).toBe(200);
    expect(((await manifest.json()) as { functions: unknown[] }).functions[0]).toMatchObject({ id: "onboarding", concurrency: { limit: 2, key: "tenantId" } });
  });

  it("runs the workflow step by step", async () => {
    const post = async (steps: object) => {
      const body = JSON.stringify({ functionId: "onboarding", runId: "r", event: { id: "e", name: "user.created", data: { userId: "u1" }, ts: 1 }, steps, attempt: 0 });
      const timestamp = String(Date.now());
      const response = await fetch(url, {
        method: "POST",
        headers: { "x-durable-signature": sign(KEY, body), "x-durable-timestamp": timestamp, "x-durable-signature-v2": signV2(KEY, timestamp, body) },
        body,
      });
      return (await response.json()) as Record<string, unknown>;
    };
    expect(await post({})).toEqual({ op: "step", id: "load-user", data: { id: "u1", plan: "free" } });
    const memo = { "load-user": { type: "run", data: { id: "u1", plan: "free" } } };
    expect(await post(memo)).toMatchObject({ op: "sleep", id: "cooldown" });
    const slept = { ...memo, cooldown: { type: "sleep", data: null } };
    expect(await post(slept)).toEqual({ op: "sendEvent", id: "welcome", events: [{ name: "user.welcomed", data: { userId: "u1" } }] });
    expect(await post({ ...slept, welcome: { type: "sendEvent", data: [] } })).toEqual({ op: "done", data: { user: { id: "u1", plan: "free" } } });
  });
});
