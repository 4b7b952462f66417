// Replay benchmark: one invoke whose 1,000 steps are all memoized, through the sans-IO
// handler (signature checks, JSON parse of the memo map, replay, answer signing).
// Run with `npm run bench` (builds dist/ first). Target: median < 5 ms.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createCore, createFunction, sign, signV2 } from "../dist/index.js";

const STEPS = 1000;
const WARMUP = 20;
const RUNS = Number(process.env.BENCH_RUNS ?? 200);
const KEY = "bench-key";

const distinct = createFunction({
  id: "distinct",
  trigger: { event: "bench" },
  handler: async ({ step }) => {
    let total = 0;
    for (let i = 0; i < STEPS; i++) total += await step.run(`step-${i}`, () => i);
    return { total };
  },
});
const loop = createFunction({
  id: "loop",
  trigger: { event: "bench" },
  handler: async ({ step }) => {
    let total = 0;
    for (let i = 0; i < STEPS; i++) total += await step.run("item", () => i);
    return { total };
  },
});

function body(functionId, idOf) {
  const steps = {};
  for (let i = 0; i < STEPS; i++) steps[idOf(i)] = { type: "run", data: i };
  return JSON.stringify({ functionId, runId: "run-bench", event: { id: "e", name: "bench", data: {}, ts: 0 }, steps, attempt: 0 });
}

const core = createCore({ functions: [distinct, loop], signingKey: KEY });
const expected = `{"op":"done","data":{"total":${(STEPS * (STEPS - 1)) / 2}}}`;

async function measure(functionId, payload) {
  const times = [];
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const timestamp = String(Date.now());
    const headers = {
      "x-durable-signature": sign(KEY, payload),
      "x-durable-timestamp": timestamp,
      "x-durable-signature-v2": signV2(KEY, timestamp, payload),
    };
    const started = process.hrtime.bigint();
    const answer = await core.handle("POST", headers, payload);
    const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
    if (answer.status !== 200 || answer.body !== expected) {
      throw new Error(`${functionId}: unexpected answer ${answer.status} ${answer.body.slice(0, 200)}`);
    }
    if (i >= WARMUP) times.push(elapsed);
  }
  times.sort((a, b) => a - b);
  const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
  return { case: functionId, steps: STEPS, runs: RUNS, bodyBytes: Buffer.byteLength(payload), medianMs: at(0.5), p95Ms: at(0.95), minMs: times[0] };
}

const results = [
  await measure("distinct", body("distinct", (i) => `step-${i}`)),
  await measure("loop", body("loop", (i) => (i === 0 ? "item" : `item#${i + 1}`))),
];

console.log(`TS SDK replay benchmark (${STEPS} memoized steps per invoke, ${RUNS} runs, node ${process.version})`);
console.log("case       body bytes   median ms   p95 ms   min ms");
for (const r of results) {
  console.log(
    `${r.case.padEnd(10)} ${String(r.bodyBytes).padStart(10)} ${r.medianMs.toFixed(3).padStart(11)} ${r.p95Ms.toFixed(3).padStart(8)} ${r.minMs.toFixed(3).padStart(8)}`,
  );
}
const target = 5;
const worst = Math.max(...results.map((r) => r.medianMs));
console.log(`median ${worst.toFixed(3)} ms: ${worst < target ? "within" : "OVER"} the ${target} ms target`);

const out = join(dirname(fileURLToPath(import.meta.url)), "results");
mkdirSync(out, { recursive: true });
writeFileSync(join(out, "replay.json"), JSON.stringify({ sdk: "ts", node: process.version, target_ms: target, results }, null, 2) + "\n");
