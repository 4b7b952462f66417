/**
 * An example app: serves the onboarding workflow at http://127.0.0.1:3000/api/durable with
 * the node:http adapter. Point a dev engine at it (DURABLE_DEV_APP_URL), or provision a
 * workspace and set DURABLE_SIGNING_KEY.
 *
 *   npm run example        (compiles to .build/ and starts it)
 */
import { createServer } from "node:http";
import { nodeHandler } from "../src/index.js";
import { onboarding } from "./onboarding.js";

const durable = nodeHandler({
  functions: [onboarding],
  signingKey: process.env.DURABLE_SIGNING_KEY ?? "dev-signing-key",
  appName: "onboarding-example",
  dev: process.env.NODE_ENV !== "production",
});

const port = Number(process.env.PORT ?? "3000");
createServer((request, response) => {
  if (request.url?.startsWith("/api/durable")) return durable(request, response);
  response.writeHead(404).end("not found");
}).listen(port, "127.0.0.1", () => {
  console.log(`example app on http://127.0.0.1:${port}/api/durable`);
});
