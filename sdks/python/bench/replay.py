"""Replay benchmark: one invoke whose 1,000 steps are all memoized, through handle_request.

Prints the median (and min / p90) of several runs; the time covers what the app does per
invoke: verifying both signatures, parsing the body, replaying 1,000 `step.run` calls,
serializing and signing the answer. Wall-clock time is the figure; the CPU time of the
thread is printed too, because on a shared machine other processes inflate wall time.
Writes bench/results/replay-python.json at the repo root when that folder exists.
Target: < 5 ms.

    python sdks/python/bench/replay.py [--steps 1000] [--runs 51]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from durable import DurableFunction, Step, __version__, handle_request  # noqa: E402
from durable.signing import sign, sign_v2  # noqa: E402

KEY = "bench-signing-key"


def build(steps: int) -> tuple[list[DurableFunction], bytes]:
    def handler(event: dict[str, Any], step: Step) -> Any:
        total = 0
        for index in range(steps):
            total += step.run(f"step-{index}", lambda: 1)["n"]
        return total

    functions = [DurableFunction(id="replay", trigger={"event": "bench.replay"}, handler=handler)]
    memo = {f"step-{i}": {"type": "run", "data": {"n": i % 7}} for i in range(steps)}
    body = json.dumps(
        {"functionId": "replay", "runId": "run-bench", "attempt": 0,
         "event": {"id": "e1", "name": "bench.replay", "data": {}, "ts": 0}, "steps": memo},
        separators=(",", ":"),
    ).encode()
    return functions, body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=51)
    args = parser.parse_args()

    functions, body = build(args.steps)
    expected = sum(i % 7 for i in range(args.steps))
    timings_ms: list[float] = []
    cpu_ms: list[float] = []
    for run in range(args.runs + 3):
        timestamp = str(int(time.time() * 1000))
        headers = {"X-Durable-Signature": sign(KEY, body), "X-Durable-Timestamp": timestamp,
                   "X-Durable-Signature-V2": sign_v2(KEY, timestamp, body)}
        started, cpu_started = time.perf_counter(), time.thread_time()
        response = handle_request("POST", headers, body, functions, signing_key=KEY)
        elapsed = (time.perf_counter() - started) * 1000
        cpu_elapsed = (time.thread_time() - cpu_started) * 1000
        answer = json.loads(response.body)
        if response.status != 200 or answer != {"op": "done", "data": expected}:
            raise SystemExit(f"unexpected answer: {response.status} {response.body[:200]!r}")
        if run >= 3:  # the first runs warm caches and are not counted
            timings_ms.append(elapsed)
            cpu_ms.append(cpu_elapsed)

    timings_ms.sort()
    median = statistics.median(timings_ms)
    p90 = timings_ms[int(len(timings_ms) * 0.9) - 1]
    result = {
        "benchmark": "sdk-replay",
        "sdk": "python",
        "sdkVersion": __version__,
        "python": platform.python_version(),
        "steps": args.steps,
        "runs": args.runs,
        "requestBytes": len(body),
        "medianMs": round(median, 3),
        "minMs": round(timings_ms[0], 3),
        "p90Ms": round(p90, 3),
        "cpuMedianMs": round(statistics.median(cpu_ms), 3),
        "loadAverage1m": round(os.getloadavg()[0], 2),
        "targetMs": 5,
        "withinTarget": median < 5,
    }
    print(f"{'replay of':<22}{args.steps} memoized steps in one invoke ({len(body):,} bytes)")
    print(f"{'median':<22}{median:.3f} ms   (target < 5 ms)")
    print(f"{'min / p90':<22}{timings_ms[0]:.3f} / {p90:.3f} ms over {args.runs} runs")
    print(f"{'median CPU time':<22}{statistics.median(cpu_ms):.3f} ms"
          f"   (load average {os.getloadavg()[0]:.2f})")
    results = ROOT / "bench" / "results"
    if results.is_dir():
        (results / "replay-python.json").write_text(json.dumps(result, indent=2) + "\n")
        print(f"written {results / 'replay-python.json'}")


if __name__ == "__main__":
    main()
