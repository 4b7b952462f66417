/**
 * The TypeScript SDK's conformance app (harness protocol v1, conformance/README.md):
 * serves the catalog at http://127.0.0.1:$PORT/api/durable through the node:http adapter.
 */
import { createServer } from "node:http";
import { nodeHandler, type Capability } from "../src/index.js";
import { catalog } from "./catalog.js";

const env = process.env;
const signingKey = env.DURABLE_SIGNING_KEY;
if (!signingKey) {
  console.error("DURABLE_SIGNING_KEY is required");
  process.exit(2);
}
const port = Number(env.PORT ?? "3000");
// Harness contract: unset or empty = every capability, "none" = plain v1, else a
// comma-separated list (createCore refuses a name it does not implement).
const chosen = (env.DURABLE_CAPABILITIES ?? "").trim();
const capabilities: readonly Capability[] | "none" | "all" =
  chosen === "" ? "all" : chosen.toLowerCase() === "none" ? "none" : (chosen.split(",").map((name) => name.trim()).filter((name) => name !== "") as Capability[]);

const listener = nodeHandler({
  functions: catalog,
  signingKey,
  signingKeyFallback: env.DURABLE_SIGNING_KEY_FALLBACK || undefined,
  appId: env.DURABLE_APP_ID || undefined,
  appName: env.DURABLE_APP_NAME || undefined,
  // Dev mode (harness protocol: DURABLE_DEV=1) answers unsigned dev discovery requests.
  dev: ["1", "true", "yes"].includes((env.DURABLE_DEV ?? "").trim().toLowerCase()),
  capabilities,
});

const server = createServer((request, response) => {
  const path = (request.url ?? "/").split("?")[0];
  if (path !== "/api/durable") {
    response.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found");
    return;
  }
  listener(request, response);
});

server.listen(port, "127.0.0.1", () => {
  console.log(`conformance-ts listening on http://127.0.0.1:${port}/api/durable`);
});

const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
