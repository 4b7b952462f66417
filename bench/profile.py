"""Where a step's time goes, measured: the engine process sampled by py-spy while it runs the
throughput workload (1 process), its CPU samples grouped by what they were doing, next to the
database time per step (pg_stat_statements) and the step overhead measured from the steps
table. Needs `py-spy` (PyPI) and the right to ptrace the engine (root or CAP_SYS_PTRACE)."""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from bench import throughput
from bench.common import Postgres, engine

# First match wins, checked from the innermost frame outwards.
CATEGORIES = [
    ("json / hmac (codec, signatures)", ("json/", "hmac.py", "hashlib", "orjson")),
    ("HTTP to the app (aiohttp client)", ("aiohttp/client", "aiohttp/connector",
                                          "aiohttp/http_parser", "aiohttp/streams",
                                          "aiohttp/client_reqrep", "yarl/", "multidict/")),
    ("HTTP API (aiohttp server)", ("aiohttp/web", "aiohttp/http_writer")),
    ("Postgres client (psycopg: send, parse, rows)", ("psycopg/", "psycopg_pool/",
                                                      "psycopg_binary")),
    ("logging", ("logging/",)),
    ("asyncio event loop", ("asyncio/", "selectors.py", "uvloop")),
]


def category(stack: str) -> str:
    frames = stack.split(";")
    for frame in reversed(frames):
        for name, markers in CATEGORIES:
            if any(m in frame for m in markers):
                return name
    for frame in reversed(frames):
        if "durable_engine" in frame:
            return "engine code (state, SQL params, context)"
    return "other (interpreter, GC, imports)"


def parse(raw: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if stack and n.isdigit():
            counts[category(stack)] += int(n)
    return counts


def run(pg: Postgres, runs: int, steps: int, workdir: Path) -> dict[str, Any]:
    spy = shutil.which("py-spy")
    if spy is None:
        return {"error": "not available: py-spy is not installed (pip install py-spy)"}
    raw = workdir / "engine.pyspy.txt"
    with engine(pg, throughput.NOOP, processes=1, slots=16, steps=steps) as eng:
        throughput.warm_up(eng, steps)
        proc = subprocess.Popen([spy, "record", "--raw", "--nonblocking", "--rate", "250",
                                 "-o", str(raw), "-p", str(eng.engine_pids()[0])],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        result: dict[str, Any] = {}
        worker = threading.Thread(target=lambda: result.update(throughput.drive(eng, runs,
                                                                                 steps)))
        worker.start()
        worker.join()
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    if not raw.exists():
        return {"error": f"not available: py-spy failed: {err.decode(errors='replace')[-300:]}"}
    counts = parse(raw)
    total = sum(counts.values()) or 1
    step_count = runs * steps
    cpu_ms_per_step = result["engineCpuMsPerStep"]
    db = result.get("topStatements") or []
    return {"runs": runs, "steps": steps, "stepsPerSecond": result["stepsPerSecond"],
            "stepOverheadMsP50": result["stepOverheadMsP50"],
            "stepOverheadMsP99": result["stepOverheadMsP99"],
            "engineCpuMsPerStep": cpu_ms_per_step,
            "postgresCpuMsPerStep": result["postgresCpuMsPerStep"],
            "engineCpuPct": result["engineCpuPct"], "appCpuPct": result["appCpuPct"],
            "postgresCpuPct": result["postgresCpuPct"],
            "engineSamples": total,
            "engineCpuBreakdown": [{"what": k, "share": round(v / total, 3),
                                    "msPerStep": round(cpu_ms_per_step * v / total, 3)}
                                   for k, v in counts.most_common()],
            "dbMsPerStep": [{"query": s["query"][:70], "calls": s["calls"],
                             "msPerStep": round(s["totalMs"] / step_count, 3)} for s in db]}
