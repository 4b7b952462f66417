"""Throughput: N runs x M no-op steps through the engine, against pgbench's commit rate.

Everything runs in this one invocation on the same machine: an embedded Postgres (fsync on),
pgbench's two-statement write transaction with 1 and 16 clients, then the engine (its own
process) driving a no-op app (its own process). The engine's figure is memoized steps per
second; its ratio to pgbench's tps is the number to compare across runs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import psycopg
from durable_engine.db import migrate
from durable_engine.pg import EmbeddedPostgres, bin_path

ROOT = Path(__file__).resolve().parent
PGBENCH_SCRIPT = """\\set aid random(1, 100000)
UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, :aid, 1, now());
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def pgbench(pg: EmbeddedPostgres, database: str, clients: int, seconds: int, workdir: Path
            ) -> float:
    script = workdir / "write.sql"
    script.write_text(PGBENCH_SCRIPT)
    result = subprocess.run(
        [str(bin_path("pgbench")), "-h", pg.host, "-p", str(pg.port), "-U", "postgres",
         "-n", "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds),
         "-f", str(script), database], capture_output=True, text=True, check=True)
    match = re.search(r"tps = ([0-9.]+)", result.stdout)
    if match is None:
        raise RuntimeError(f"pgbench printed no tps:\n{result.stdout}\n{result.stderr}")
    return float(match.group(1))


def post(url: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def engine_run(pg_url: str, runs: int, steps: int, slots: int, processes: int,
               latency_events: int = 0) -> dict[str, Any]:
    engine_port, app_port = free_port(), free_port()
    token = uuid.uuid4().hex
    env = {**os.environ, "DURABLE_ADMIN_TOKEN": token, "DURABLE_WORKER_SLOTS": str(slots)}
    engines = [subprocess.Popen(
        [sys.executable, "-m", "durable_engine.cli", "serve" if i == 0 else "worker", "--prod",
         "--database-url", pg_url, "--port", str(engine_port), "--host", "127.0.0.1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for i in range(processes)]
    app = None
    try:
        base = f"http://127.0.0.1:{engine_port}"
        wait_http(base + "/health")
        created = post(base + "/api/apps", json.dumps({
            "name": f"bench-{uuid.uuid4().hex[:6]}", "environment": "bench",
            "appUrl": f"http://127.0.0.1:{app_port}/api/durable"}).encode(),
            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        key = created["key"]
        app = subprocess.Popen([sys.executable, str(ROOT / "noop_app.py"), str(app_port), key,
                                str(steps)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(f"http://127.0.0.1:{app_port}/api/durable")

        def signed(path: str, value: Any) -> dict[str, Any]:
            body = json.dumps(value, separators=(",", ":")).encode()
            return post(base + path, body, {
                "X-Durable-App": created["id"], "Content-Type": "application/json",
                "X-Durable-Signature": hmac.new(key.encode(), body, hashlib.sha256).hexdigest()})

        signed("/fn/sync", {"sdkVersion": "bench/0", "functions": [
            {"id": "noop", "trigger": {"event": "bench.go"}, "retries": 0},
            {"id": "ping", "trigger": {"event": "bench.ping"}, "retries": 0}]})
        started = time.monotonic()
        for offset in range(0, runs, 100):
            signed("/e/bulk", {"events": [{"name": "bench.go", "data": {"i": i}}
                                          for i in range(offset, min(runs, offset + 100))]})
        sent = time.monotonic() - started
        with psycopg.connect(pg_url) as conn:
            while True:
                row = conn.execute("SELECT count(*) FILTER (WHERE status = 'completed'),"
                                   " count(*) FILTER (WHERE status = 'failed') FROM runs"
                                   " WHERE workspace_id = %s", (created["id"],)).fetchone()
                assert row is not None
                if row[0] + row[1] >= runs:
                    break
                if time.monotonic() - started > 600:
                    raise RuntimeError(f"only {row[0]} of {runs} runs completed in 600 s")
                time.sleep(0.05)
            elapsed = time.monotonic() - started
            overhead = conn.execute(
                "SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY"
                " extract(epoch FROM s.started_at - s.queued_at) * 1000) FROM steps s"
                " JOIN runs r ON r.id = s.run_id WHERE r.workspace_id = %s"
                " AND s.position > 0", (created["id"],)).fetchone()
        # Latency on an idle engine: single events, one every 20 ms.
        for i in range(latency_events):
            signed("/e", {"name": "bench.ping", "data": {"i": i}})
            time.sleep(0.02)
        with psycopg.connect(pg_url) as conn:
            deadline = time.monotonic() + 60
            while latency_events and time.monotonic() < deadline:
                done = conn.execute("SELECT count(*) FROM runs WHERE workspace_id = %s AND"
                                    " function_id = 'ping' AND status = 'completed'",
                                    (created["id"],)).fetchone()
                if done and done[0] >= latency_events:
                    break
                time.sleep(0.05)
            first = conn.execute(
                "SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY ms) FROM ("
                " SELECT extract(epoch FROM min(d.at) - e.received_at) * 1000 AS ms"
                " FROM runs r JOIN events e ON e.workspace_id = r.workspace_id"
                " AND e.id = r.event_id JOIN deliveries d ON d.run_id = r.id"
                " WHERE r.workspace_id = %s AND r.function_id = 'ping'"
                " GROUP BY r.id, e.received_at) x", (created["id"],)).fetchone()
        completed, failed = row
        return {"runs": runs, "stepsPerRun": steps, "processes": processes,
                "workerSlots": slots,
                "completed": completed, "failed": failed, "seconds": round(elapsed, 3),
                "sendSeconds": round(sent, 3),
                "stepsPerSecond": round(runs * steps / elapsed, 1),
                "invocationsPerSecond": round(runs * (steps + 1) / elapsed, 1),
                "queueToInvokeMsP50": round(overhead[0][0], 3) if overhead[0] else None,
                "queueToInvokeMsP99": round(overhead[0][1], 3) if overhead[0] else None,
                "eventToFirstInvokeMsP50": round(first[0][0], 1) if first[0] else None,
                "eventToFirstInvokeMsP99": round(first[0][1], 1) if first[0] else None}
    finally:
        for process in (app, *engines):
            if process is not None:
                process.terminate()
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()


def main(argv: list[str]) -> int:
    runs = int(os.environ.get("BENCH_RUNS", 300))
    steps = int(os.environ.get("BENCH_STEPS", 10))
    seconds = int(os.environ.get("BENCH_PGBENCH_SECONDS", 10))
    # engine configurations: <processes>x<worker slots per process>
    configs = [tuple(int(n) for n in c.split("x"))
               for c in os.environ.get("BENCH_ENGINES", "1x16,1x48,2x32").split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="durable-bench-"))
    pg = EmbeddedPostgres(workdir / "pgdata", free_port())
    pg.start()
    try:
        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE pgbench")
            conn.execute("CREATE DATABASE durable")
            fsync = conn.execute("SHOW fsync").fetchone()
        base = pg.url.rsplit("/", 1)[0]
        subprocess.run([str(bin_path("pgbench")), "-h", pg.host, "-p", str(pg.port), "-U",
                        "postgres", "-i", "-q", "-s", "1", "pgbench"], capture_output=True,
                       check=True)
        tps1 = pgbench(pg, "pgbench", 1, seconds, workdir)
        tps16 = pgbench(pg, "pgbench", 16, seconds, workdir)
        migrate(f"{base}/durable")
        results = [engine_run(f"{base}/durable", runs, steps, slots, processes,
                              latency_events=100 if index == 0 else 0)
                   for index, (processes, slots) in enumerate(configs)]
    finally:
        pg.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    report = {"machine": {"cpus": os.cpu_count(), "fsync": fsync[0] if fsync else None},
              "pgbench": {"script": "UPDATE + INSERT (two-statement write)",
                          "seconds": seconds, "tps1Client": tps1, "tps16Clients": tps16},
              "engine": results}
    for result in results:
        result["fractionOfPgbench1"] = round(result["stepsPerSecond"] / tps1, 3)
        result["fractionOfPgbench16"] = round(result["stepsPerSecond"] / tps16, 3)
    print(f"pgbench two-statement write: {tps1:,.0f} tps (1 client), "
          f"{tps16:,.0f} tps (16 clients), fsync={report['machine']['fsync']}")
    print(f"{'procs':>5} {'slots':>5} {'runs':>5} {'steps':>5} {'seconds':>8} {'steps/s':>9} "
          f"{'vs pgb1':>8} {'vs pgb16':>8} {'p50 ms':>7} {'p99 ms':>7}")
    for r in results:
        print(f"{r['processes']:>5} {r['workerSlots']:>5} {r['runs']:>5} "
              f"{r['stepsPerRun']:>5} {r['seconds']:>8} "
              f"{r['stepsPerSecond']:>9,.0f} {r['fractionOfPgbench1']:>8.1%} "
              f"{r['fractionOfPgbench16']:>8.1%} {r['queueToInvokeMsP50'] or 0:>7.1f} "
              f"{r['queueToInvokeMsP99'] or 0:>7.1f}")
    latency = results[0]
    print(f"event accepted -> first invoke (idle engine, 100 single events): "
          f"p50 {latency['eventToFirstInvokeMsP50']} ms, "
          f"p99 {latency['eventToFirstInvokeMsP99']} ms")
    out = ROOT / "results" / "throughput.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {out.relative_to(ROOT.parent)}")
    return 0

