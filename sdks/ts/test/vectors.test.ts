/** Every spec vector (spec/vectors/<area>/*.json), run against this SDK. */
import { describe, expect, it } from "vitest";
import {
  Client,
  createCore,
  cronProblem,
  parseDuration,
  sign,
  signV2,
  validateDefinition,
  verifyAnswer,
  verifyApiRequest,
  type Capability,
} from "../src/index.js";
import { catalog } from "../conformance/catalog.js";
import { invokeHeaders, loadVectors, matchesExpected } from "./helpers.js";

interface BaseCase {
  id: string;
  description: string;
  requirements: string[];
  capabilities?: Capability[];
  withoutCapabilities?: Capability[];
}

function forEachFile<T extends BaseCase>(area: string, body: (cases: T[]) => void): void {
  const files = loadVectors<T>(area);
  if (files.length === 0) {
    it.skip(`no ${area} vectors yet`, () => undefined);
    return;
  }
  for (const file of files) {
    describe(file.file, () => {
      it("has cases", () => expect(file.cases.length).toBeGreaterThan(0));
      body(file.cases);
    });
  }
}

// ------------------------------------------------------------------------ signatures

interface SignatureCase extends BaseCase {
  hop: "invoke" | "invoke-v2" | "manifest" | "response" | "response-v2" | "api" | "api-v2";
  keys: string[];
  signingKey?: string;
  body: string;
  timestamp?: string;
  requestTimestamp?: string;
  now: number;
  headers: Record<string, string>;
  valid: boolean;
  expectedSignatures?: Record<string, string>;
}

describe("signature vectors", () => {
  forEachFile<SignatureCase>("signatures", (cases) => {
    for (const c of cases) {
      it(`${c.id}: ${c.description}`, async () => {
        const capabilities = c.capabilities ?? "none";
        switch (c.hop) {
          case "invoke":
          case "invoke-v2":
          case "manifest": {
            // Through the sans-IO handler, as the app verifies it.
            const core = createCore({
              functions: catalog,
              signingKey: c.keys[0] as string,
              signingKeyFallback: c.keys[1],
              capabilities,
              now: () => c.now,
            });
            const method = c.hop === "manifest" ? "GET" : "POST";
            const answer = await core.handle(method, c.headers, c.hop === "manifest" ? "" : c.body);
            expect(answer.status).toBe(c.valid ? 200 : 401);
            if (c.valid) {
              // The answer is signed with the primary key; the engine can verify it.
              const requestTimestamp = c.hop === "invoke" ? undefined : c.headers["x-durable-timestamp"];
              const timestamped = core.capabilities.includes("timestamped-signatures");
              expect(verifyAnswer([c.keys[0] as string], answer.body, answer.headers, timestamped ? requestTimestamp : undefined)).toBe(true);
            }
            break;
          }
          case "response":
          case "response-v2":
            expect(verifyAnswer(c.keys, c.body, c.headers, c.hop === "response-v2" ? c.requestTimestamp : undefined)).toBe(c.valid);
            break;
          case "api":
          case "api-v2":
            expect(verifyApiRequest(c.keys, c.body, c.headers, c.now)).toBe(c.valid);
            break;
        }
        if (c.valid && c.expectedSignatures && c.signingKey) {
          // What a producer computes with this SDK's signing functions.
          const key = c.signingKey;
          const message = c.hop === "manifest" ? (c.timestamp as string) : c.body;
          for (const [header, value] of Object.entries(c.expectedSignatures)) {
            if (header === "x-durable-signature") expect(sign(key, message)).toBe(value);
            else {
              const timestamp = (c.hop === "response-v2" ? c.requestTimestamp : c.timestamp) as string;
              expect(signV2(key, timestamp, c.body)).toBe(value);
            }
          }
          if (c.hop === "api" || c.hop === "api-v2") {
            const client = new Client({
              baseUrl: "http://127.0.0.1:1",
              appId: c.headers["x-durable-app"] ?? "app",
              signingKey: key,
              signatureV2: c.hop === "api-v2",
              now: () => Number(c.timestamp),
            });
            const headers = client.signHeaders(c.body);
            for (const [header, value] of Object.entries(c.expectedSignatures)) expect(headers[header]).toBe(value);
          }
        }
      });
    }
  });
});

// ------------------------------------------------------------------------ replay

interface ReplayCase extends BaseCase {
  function: string;
  request: Record<string, unknown>;
  method?: string;
  rawBody?: string;
  headers?: Record<string, string>;
  expect?: unknown;
  expectStatus?: number;
}

const KEY = "replay-test-key";

async function runReplay(c: ReplayCase, capabilities: "all" | "none") {
  const core = createCore({ functions: catalog, signingKey: KEY, capabilities });
  const body = c.rawBody ?? JSON.stringify(c.request);
  const invokedAt = Date.now();
  const headers = c.headers ?? invokeHeaders(KEY, body, { v2: capabilities === "all", now: invokedAt });
  const answer = await core.handle(c.method ?? "POST", headers, body);
  return { answer, invokedAt };
}

describe("replay vectors (catalog through the sans-IO handler)", () => {
  forEachFile<ReplayCase>("replay", (cases) => {
    for (const c of cases) {
      const modes: ("all" | "none")[] = c.capabilities?.length
        ? ["all"]
        : c.withoutCapabilities?.length
          ? ["none"]
          : ["all", "none"];
      for (const mode of modes) {
        it(`${c.id} [capabilities ${mode}]: ${c.description}`, async () => {
          const { answer, invokedAt } = await runReplay(c, mode);
          if (c.expectStatus !== undefined) {
            expect(answer.status).toBe(c.expectStatus);
            return;
          }
          expect(answer.status).toBe(200);
          const op = JSON.parse(answer.body) as Record<string, unknown>;
          if (!matchesExpected(op, c.expect, invokedAt)) expect(op).toEqual(c.expect);
          // Compact JSON with `op` first, as every SDK writes it.
          expect(answer.body).toBe(JSON.stringify(op));
          expect(Object.keys(op)[0]).toBe("op");
        });
      }
    }
  });
});

// ------------------------------------------------------------------------ definitions

interface DefinitionCase extends BaseCase {
  definition: unknown;
  valid: boolean;
  errorPath?: string;
}

describe("definition vectors", () => {
  forEachFile<DefinitionCase>("definitions", (cases) => {
    for (const c of cases) {
      it(`${c.id}: ${c.description}`, () => {
        const problem = validateDefinition(c.definition);
        if (c.valid) expect(problem).toBeNull();
        else expect(problem?.path).toBe(c.errorPath);
      });
    }
  });
});

// ------------------------------------------------------------------------ durations and cron

interface DurationCase extends BaseCase {
  input: string | number;
  valid: boolean;
  ms?: number;
}

describe("duration vectors", () => {
  forEachFile<DurationCase>("durations", (cases) => {
    for (const c of cases) {
      it(`${c.id}: ${c.description}`, () => {
        if (c.valid) expect(parseDuration(c.input)).toBe(c.ms);
        else expect(() => parseDuration(c.input)).toThrow(/invalid duration/);
      });
    }
  });
});

interface CronCase extends BaseCase {
  expr: string;
  valid: boolean;
}

describe("cron vectors (validity: the SDK refuses what the engine would)", () => {
  forEachFile<CronCase>("cron", (cases) => {
    for (const c of cases) {
      it(`${c.id}: ${c.description}`, () => {
        expect(cronProblem(c.expr) === null).toBe(c.valid);
      });
    }
  });
});

// ------------------------------------------------------------------------ api (client side of /e and /e/bulk)

interface ApiCase extends BaseCase {
  path: string;
  body?: unknown;
  rawBody?: string;
  valid: boolean;
}

describe("api vectors: the client refuses the events the engine would refuse", () => {
  forEachFile<ApiCase>("api", (cases) => {
    for (const c of cases.filter((x) => (x.path === "/e" || x.path === "/e/bulk") && x.rawBody === undefined)) {
      it(`${c.id}: ${c.description}`, async () => {
        const sent: string[] = [];
        const fakeFetch = (async (_url: string | URL | Request, init?: RequestInit) => {
          sent.push(String(init?.body));
          const receipt = { id: "r", name: "n", ts: 1, duplicate: false, runIds: [] };
          const answer = c.path === "/e" ? receipt : { events: [receipt] };
          return new Response(JSON.stringify(answer), { status: 200 });
        }) as typeof fetch;
        const client = new Client({ baseUrl: "http://engine.invalid", appId: "a", signingKey: "k", fetch: fakeFetch });
        const call = () =>
          c.path === "/e"
            ? client.send(c.body as never)
            : client.sendMany(((c.body as { events?: unknown }).events ?? c.body) as never);
        if (c.valid) {
          await call();
          const body = JSON.parse(sent[0] as string) as Record<string, unknown>;
          const events = c.path === "/e" ? [body] : (body.events as Record<string, unknown>[]);
          const expected = c.path === "/e" ? [c.body] : (c.body as { events: Record<string, unknown>[] }).events;
          events.forEach((event, index) => {
            const original = expected[index] as Record<string, unknown>;
            expect(event).toMatchObject({ ...original, data: "data" in original ? original.data : {} });
            expect(typeof event.id).toBe("string");
          });
        } else {
          await expect(call()).rejects.toThrow(TypeError);
          expect(sent).toHaveLength(0);
        }
      });
    }
  });
});
