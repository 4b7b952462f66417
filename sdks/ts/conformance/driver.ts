/**
 * The TypeScript SDK's vector driver (conformance driver protocol 1, conformance/PORTING.md):
 * durations through `parseDuration`, the parser step.sleep, waitForEvent timeouts and
 * function options call when they are declared; the `client` area through `Client.send`;
 * `signatures` through the app's own request check with the vector's clock.
 * One JSON line in, one line out.
 */
import { createInterface } from "node:readline";
import { Client, DurableError, InvalidDurationError, createCore, parseDuration } from "../src/index.js";

type Answer = Record<string, unknown>;

function durations(input: unknown): Answer {
  try {
    return { valid: true, ms: parseDuration(input) };
  } catch (error) {
    if (error instanceof InvalidDurationError) return { valid: false };
    throw error;
  }
}

interface ClientCase {
  engineUrl: string;
  appId: string;
  key: string;
  event: { id: string; name: string; data: unknown };
}

/** The `client` area: send the case's event with the SDK's Client, defaults only. */
async function client(input: ClientCase): Promise<Answer> {
  const sender = new Client({ baseUrl: input.engineUrl, appId: input.appId, signingKey: input.key });
  try {
    return { receipt: await sender.send(input.event.name, input.event.data, { id: input.event.id }) };
  } catch (error) {
    if (error instanceof DurableError) return { failed: error.message };
    throw error;
  }
}

interface SignatureCase {
  hop: string;
  keys: string[];
  body: string;
  now: number;
  headers: Record<string, string>;
}

/** The `signatures` area: would the app accept this request with its clock at `now`? */
async function signatures(input: SignatureCase): Promise<Answer> {
  const core = createCore({
    functions: [],
    signingKey: input.keys[0] as string,
    signingKeyFallback: input.keys[1],
    capabilities: input.hop === "invoke-v2" ? ["timestamped-signatures"] : "none",
    now: () => input.now,
  });
  const reply = await core.handle(input.hop === "manifest" ? "GET" : "POST", input.headers, input.body);
  return { valid: reply.status !== 401 };
}

async function answer(line: string): Promise<Answer> {
  try {
    const request = JSON.parse(line) as { area: string; case: { input: unknown } & ClientCase & SignatureCase };
    if (request.area === "client") return await client(request.case);
    if (request.area === "signatures") return await signatures(request.case);
    if (request.area !== "durations") return { unsupported: true };
    return durations(request.case.input);
  } catch (error) {
    return { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }
}

// One request at a time, answered in order (a client case awaits the network).
let queue: Promise<void> = Promise.resolve();
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on("line", (line) => {
  if (line.trim() === "") return;
  queue = queue.then(async () => {
    process.stdout.write(`${JSON.stringify(await answer(line))}\n`);
  });
});
