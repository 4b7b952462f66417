"""Where a step's time goes, measured: the engine process sampled by py-spy while it runs the
throughput workload (1 process), its CPU samples grouped by what they were doing, next to the
database time per step (pg_stat_statements) and the step overhead measured from the steps
table. Needs `py-spy` (PyPI) and the right to ptrace the engine (root or CAP_SYS_PTRACE)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench import throughput
from bench.common import Engine, Postgres, engine

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


WAITING = "waiting in select (for the app or Postgres)"


def category(stack: str) -> str:
    frames = stack.split(";")
    if frames and frames[-1].startswith(("select (", "poll (")) and "selectors.py" in frames[-1]:
        return WAITING  # only the wall-clock sampler sees these: py-spy skips idle threads
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


# Per step of the measured runs, from the engine's own stamps in the steps table: the HTTP
# round trip (started_at is stamped before the POST, app_ms when the answer is read), the
# answer's handling up to the commit statement (ended_at), and the commit plus the next
# request up to the next POST (the next step's started_at).
PARTS_SQL = """
SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY app_ms) AS http,
       percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY answer_ms) AS answer,
       percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY next_ms) AS next
FROM (SELECT s.app_ms,
             extract(epoch FROM s.ended_at - s.started_at) * 1000 - s.app_ms AS answer_ms,
             extract(epoch FROM lead(s.started_at) OVER w - s.ended_at) * 1000 AS next_ms
      FROM steps s JOIN runs r ON r.id = s.run_id
      WHERE r.workspace_id = %s AND r.function_id = 'noop'
        AND r.event -> 'data' -> 'warmUp' IS NULL AND s.app_ms IS NOT NULL
      WINDOW w AS (PARTITION BY s.run_id, s.namespace ORDER BY s.position)) x
WHERE next_ms IS NOT NULL
"""


def step_parts(eng: Engine) -> dict[str, list[float]]:
    with eng.connect() as conn:
        row = conn.execute(PARTS_SQL, (eng.workspace,)).fetchone()
    names = ("httpMs", "answerToCommitMs", "commitToNextPostMs")
    return {n: [round(v, 2) for v in (row[i] or [])] if row else []
            for i, n in enumerate(names)}


def without_fsync(pg: Postgres, runs: int, steps: int) -> dict[str, Any]:
    """The same workload with the engine's sessions at synchronous_commit off: what the WAL
    flush of each step's commit costs (a measurement only; the engine keeps it on)."""
    before = pg.engine_url_for
    base = before or pg.database_url
    if "?" in base("x"):
        return {}
    pg.engine_url_for = lambda name: base(name) + "?options=-c%20synchronous_commit%3Doff"
    try:
        with engine(pg, throughput.NOOP, processes=1, slots=16, steps=steps) as eng:
            throughput.warm_up(eng, steps)
            result = throughput.drive(eng, runs, steps)
            return {"stepsPerSecond": result["stepsPerSecond"], **step_parts(eng)}
    finally:
        pg.engine_url_for = before


def _py_spy_attaches(spy: str) -> bool:
    """Whether py-spy can read another process here (not in a container without ptrace)."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    try:
        time.sleep(0.3)
        return subprocess.run([spy, "dump", "--pid", str(child.pid)], capture_output=True,
                              timeout=20).returncode == 0
    finally:
        child.kill()
        child.wait()


def run(pg: Postgres, runs: int, steps: int, workdir: Path) -> dict[str, Any]:
    raw = workdir / "engine.samples.txt"
    raw.unlink(missing_ok=True)
    spy = shutil.which("py-spy")
    sampler = spy is None or not _py_spy_attaches(spy)
    wrap = [sys.executable, str(Path(__file__).with_name("sampler.py")), str(raw), "4"] \
        if sampler else None
    with engine(pg, throughput.NOOP, processes=1, slots=16, steps=steps, wrap=wrap) as eng:
        throughput.warm_up(eng, steps)
        pid = eng.engine_pids()[0]
        proc = None
        if sampler:
            os.kill(pid, signal.SIGUSR1)
        else:
            assert spy is not None
            proc = subprocess.Popen([spy, "record", "--format", "raw", "--nonblocking",
                                     "--rate", "250", "-o", str(raw), "-p", str(pid)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        result: dict[str, Any] = {}
        worker = threading.Thread(target=lambda: result.update(throughput.drive(eng, runs,
                                                                                 steps)))
        worker.start()
        worker.join()
        parts = step_parts(eng)
        err = b""
        if proc is None:
            os.kill(pid, signal.SIGUSR2)
            deadline = time.monotonic() + 10
            while not raw.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
        else:
            proc.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            _, err = proc.communicate(timeout=30)
    if not raw.exists():
        return {"error": f"not available: py-spy failed: {err.decode(errors='replace')[-300:]}"}
    counts = parse(raw)
    waiting = counts.pop(WAITING, 0)
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
            "profiler": "wall-clock sampler (bench/sampler.py)" if sampler else "py-spy",
            "engineSamples": total,
            "engineWaitingShare": round(waiting / (total + waiting), 3),
            "engineCpuBreakdown": [{"what": k, "share": round(v / total, 3),
                                    "msPerStep": round(cpu_ms_per_step * v / total, 3)}
                                   for k, v in counts.most_common()],
            "stepParts": parts, "withoutFsync": without_fsync(pg, runs, steps),
            "dbMsPerStep": [{"query": s["query"][:70], "calls": s["calls"],
                             "msPerStep": round(s["totalMs"] / step_count, 3)} for s in db]}
