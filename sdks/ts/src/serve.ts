/** Thin adapters over the sans-IO core: fetch (Request -> Response), node:http, Express-style. */
import { Buffer } from "node:buffer";
import type { IncomingMessage, ServerResponse } from "node:http";
import { type CoreOptions, type CoreResponse, DurableCore } from "./core.js";

export type ServeOptions = CoreOptions;

/** A fetch-style handler (Node 18+, Bun, Deno, Next.js route handlers, Hono). */
export interface ServeHandler {
  (request: Request): Promise<Response>;
  /** The sans-IO core behind it: `core.handle(method, headers, body)`. */
  readonly core: DurableCore;
}

const TOO_LARGE = (limit: number): CoreResponse => ({
  status: 413,
  headers: { "content-type": "text/plain; charset=utf-8" },
  body: `request body exceeds ${limit} bytes`,
});

async function readFetchBody(request: Request, limit: number): Promise<Uint8Array | null> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > limit) return null;
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}

function toFetchResponse(answer: CoreResponse): Response {
  return new Response(answer.body, { status: answer.status, headers: answer.headers });
}

/** Serve durable functions: returns `(request: Request) => Promise<Response>`. */
export function serve(options: ServeOptions): ServeHandler {
  const core = new DurableCore(options);
  const handler = async (request: Request): Promise<Response> => {
    if (request.method !== "POST") {
      return toFetchResponse(await core.handle(request.method, request.headers, ""));
    }
    const body = await readFetchBody(request, core.maxRequestBytes);
    if (body === null) return toFetchResponse(TOO_LARGE(core.maxRequestBytes));
    return toFetchResponse(await core.handle(request.method, request.headers, body));
  };
  return Object.assign(handler, { core });
}

function coreOf(target: ServeHandler | ServeOptions | DurableCore): DurableCore {
  if (target instanceof DurableCore) return target;
  if (typeof target === "function" && target.core instanceof DurableCore) return target.core;
  return new DurableCore(target as ServeOptions);
}

function readNodeBody(request: IncomingMessage, limit: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers["content-length"] ?? "0");
    if (declared > limit) {
      request.resume();
      resolve(null);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    request.on("data", (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    request.on("end", () => resolve(over ? null : Buffer.concat(chunks, size)));
    request.on("error", reject);
  });
}

function writeNode(response: ServerResponse, answer: CoreResponse): void {
  const body = Buffer.from(answer.body, "utf8");
  response.writeHead(answer.status, { ...answer.headers, "content-length": String(body.length) });
  response.end(body);
}

async function handleNode(core: DurableCore, request: IncomingMessage, response: ServerResponse, preRead?: Buffer | string): Promise<void> {
  const method = request.method ?? "GET";
  let body: Buffer | string | null = "";
  if (method === "POST") {
    body = preRead ?? (await readNodeBody(request, core.maxRequestBytes));
    if (body === null || Buffer.byteLength(body) > core.maxRequestBytes) {
      writeNode(response, TOO_LARGE(core.maxRequestBytes));
      return;
    }
  }
  writeNode(response, await core.handle(method, request.headers, body));
}

/** A `node:http` request listener: `http.createServer(nodeHandler(options))`. */
export function nodeHandler(
  target: ServeHandler | ServeOptions | DurableCore,
): (request: IncomingMessage, response: ServerResponse) => void {
  const core = coreOf(target);
  return (request, response) => {
    handleNode(core, request, response).catch(() => {
      if (!response.headersSent) writeNode(response, { status: 400, headers: { "content-type": "text/plain; charset=utf-8" }, body: "invalid request" });
      else response.destroy();
    });
  };
}

type ExpressRequest = IncomingMessage & { body?: unknown; rawBody?: unknown };
type Next = (error?: unknown) => void;

/**
 * Express/Connect-style middleware: `app.use("/api/durable", expressHandler(options))`.
 * Mount it before JSON body parsers (or keep `req.rawBody` / use `express.raw()`): the
 * signature covers the exact bytes the engine sent.
 */
export function expressHandler(
  target: ServeHandler | ServeOptions | DurableCore,
): (request: ExpressRequest, response: ServerResponse, next: Next) => void {
  const core = coreOf(target);
  return (request, response, next) => {
    let preRead: Buffer | string | undefined;
    if (Buffer.isBuffer(request.rawBody) || typeof request.rawBody === "string") preRead = request.rawBody;
    else if (Buffer.isBuffer(request.body) || typeof request.body === "string") preRead = request.body;
    else if (request.method === "POST" && request.readableEnded) {
      writeNode(response, {
        status: 400,
        headers: { "content-type": "text/plain; charset=utf-8" },
        body: "request body was consumed by a body parser before durable could verify its signature: mount durable before express.json() or use express.raw()",
      });
      return;
    }
    handleNode(core, request, response, preRead).catch(next);
  };
}
