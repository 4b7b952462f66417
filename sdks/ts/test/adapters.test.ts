/** Each adapter over real HTTP on 127.0.0.1 (random free ports). */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFunction, expressHandler, nodeHandler, serve, verifyAnswer, type ServeOptions } from "../src/index.js";
import { invokeHeaders, manifestHeaders } from "./helpers.js";

const KEY = "adapter-key";
const options: ServeOptions = {
  signingKey: KEY,
  maxRequestBytes: 65_536,
  functions: [
    createFunction({
      id: "hello",
      trigger: { event: "hello" },
      handler: async ({ event, step }) => {
        const greeting = await step.run("greet", () => `hello ${event.data.name}`);
        return { greeting };
      },
    }),
  ],
};

/** Bridge node:http to a fetch handler, the way Bun/Deno/Next.js hand it a Request. */
function fetchServer(handler: (request: Request) => Promise<Response>): Server {
  return createServer(async (req: IncomingMessage, res: ServerResponse) => {
    req.on("error", () => undefined); // the handler may cancel an oversized body mid-stream
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) if (typeof value === "string") headers.set(name, value);
    const hasBody = req.method !== "GET" && req.method !== "HEAD";
    const request = new Request(`http://${req.headers.host}${req.url}`, {
      method: req.method,
      headers,
      body: hasBody ? (Readable.toWeb(req) as ReadableStream) : null,
      ...(hasBody ? { duplex: "half" } : {}),
    } as RequestInit);
    const response = await handler(request);
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
  });
}

/** A minimal Connect/Express-style stack: middlewares called with (req, res, next). */
type Middleware = (req: IncomingMessage & Record<string, unknown>, res: ServerResponse, next: (error?: unknown) => void) => void;
function connectServer(...stack: Middleware[]): Server {
  return createServer((req, res) => {
    let index = 0;
    const next = (error?: unknown): void => {
      if (error) {
        res.writeHead(500).end("middleware error");
        return;
      }
      const middleware = stack[index++];
      if (!middleware) {
        res.writeHead(404).end("not found");
        return;
      }
      middleware(req as IncomingMessage & Record<string, unknown>, res, next);
    };
    next();
  });
}

/** Like express.json(): consumes the stream and leaves a parsed object. */
const jsonParser: Middleware = (req, _res, next) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    req.body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : {};
    next();
  });
};

/** Like express.json({ verify }) keeping req.rawBody. */
const rawKeepingParser: Middleware = (req, _res, next) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    req.rawBody = Buffer.concat(chunks);
    try {
      req.body = JSON.parse(String(req.rawBody));
    } catch {
      req.body = {};
    }
    next();
  });
};

/** Like express.raw(): req.body is the Buffer. */
const rawParser: Middleware = (req, _res, next) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    req.body = Buffer.concat(chunks);
    next();
  });
};

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/durable`;
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

const servers: Record<string, Server> = {
  fetch: fetchServer(serve(options)),
  "node:http": createServer(nodeHandler(options)),
  express: connectServer(expressHandler(options)),
  "express after a raw-keeping parser": connectServer(rawKeepingParser, expressHandler(options)),
  "express after express.raw()": connectServer(rawParser, expressHandler(options)),
};
const urls: Record<string, string> = {};

beforeAll(async () => {
  for (const [name, server] of Object.entries(servers)) urls[name] = await listen(server);
});
afterAll(async () => {
  await Promise.all(Object.values(servers).map(close));
});

const invokeBody = (steps: object = {}) =>
  JSON.stringify({ functionId: "hello", runId: "r1", event: { id: "e1", name: "hello", data: { name: "Zürich ✓" } }, steps });

for (const name of Object.keys(servers)) {
  describe(`${name} adapter`, () => {
    it("answers a signed manifest GET, signed", async () => {
      const response = await fetch(urls[name] as string, { headers: manifestHeaders(KEY) });
      expect(response.status).toBe(200);
      const body = await response.text();
      expect(JSON.parse(body).functions[0].id).toBe("hello");
      const headers = Object.fromEntries(response.headers);
      expect(verifyAnswer([KEY], body, headers)).toBe(true);
    });

    it("runs an invoke: step op, then done on replay, bytes signed v1 + v2", async () => {
      const first = invokeBody();
      const headers = invokeHeaders(KEY, first, { v2: true });
      const response = await fetch(urls[name] as string, { method: "POST", headers, body: first });
      const text = await response.text();
      expect(response.status).toBe(200);
      expect(text).toBe('{"op":"step","id":"greet","data":"hello Zürich ✓"}');
      expect(verifyAnswer([KEY], text, Object.fromEntries(response.headers), headers["x-durable-timestamp"])).toBe(true);
      const second = invokeBody({ greet: { type: "run", data: "hi" } });
      const done = await fetch(urls[name] as string, { method: "POST", headers: invokeHeaders(KEY, second, { v2: true }), body: second });
      expect(await done.text()).toBe('{"op":"done","data":{"greeting":"hi"}}');
    });

    it("401 on a bad signature, 405 on PUT, 413 on a body over the limit", async () => {
      const body = invokeBody();
      const bad = await fetch(urls[name] as string, { method: "POST", headers: invokeHeaders("wrong", body, { v2: true }), body });
      expect([bad.status, await bad.text()]).toEqual([401, "invalid signature"]);
      const put = await fetch(urls[name] as string, { method: "PUT", body: "x" });
      expect(put.status).toBe(405);
      expect(put.headers.get("allow")).toBe("GET, POST");
      const big = "x".repeat(70_000);
      const tooLarge = await fetch(urls[name] as string, { method: "POST", headers: invokeHeaders(KEY, big, { v2: true }), body: big });
      expect(tooLarge.status).toBe(413);
    });
  });
}

describe("express adapter behind a parser that consumed the body", () => {
  const server = connectServer(jsonParser, expressHandler(options));
  let url = "";
  beforeAll(async () => {
    url = await listen(server);
  });
  afterAll(() => close(server));

  it("answers 400 explaining how to mount it, never a crash", async () => {
    const body = invokeBody();
    const response = await fetch(url, { method: "POST", headers: invokeHeaders(KEY, body, { v2: true }), body });
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/mount durable before express.json/);
  });
});

describe("fetch handler without a declared length", () => {
  it("stops reading a streamed body at maxRequestBytes and answers 413", async () => {
    const handler = serve(options);
    let pulled = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        if (pulled > 100) controller.close();
        else controller.enqueue(new Uint8Array(10_000));
      },
    });
    const request = new Request("http://127.0.0.1/api/durable", { method: "POST", body: stream, duplex: "half" } as RequestInit);
    const response = await handler(request);
    expect(response.status).toBe(413);
    expect(pulled).toBeLessThan(20);
  });
});
