"""Side by side on the same Postgres, in one run: pgbench (the limit), our engine and DBOS
Transact, each doing runs of 3 memoized no-op steps with 16 in flight.

DBOS lives in its own venv (`bench/.venv-dbos`, created here with `pip install dbos`); its
workflow is `bench/dbos_workflow.py`, run in that venv against a database of its own. When it
cannot be installed or run, the column says why instead of a figure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg

from bench import throughput
from bench.common import ROOT, Postgres, engine

VENV = ROOT / ".venv-dbos"
STEPS = 3


def dbos_python() -> tuple[Path | None, str | None]:
    """The DBOS venv's interpreter (created on first use), or why there is none."""
    python = VENV / "bin" / "python"
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True,
                           capture_output=True, timeout=120)
        check = subprocess.run([str(python), "-c", "import dbos"], capture_output=True)
        if check.returncode != 0:
            install = subprocess.run([str(python), "-m", "pip", "install", "-q", "dbos"],
                                     capture_output=True, text=True, timeout=900)
            if install.returncode != 0:
                return None, "pip install dbos failed: " + install.stderr.strip()[-300:]
        version = subprocess.run([str(python), "-m", "pip", "show", "dbos"],
                                 capture_output=True, text=True).stdout
        for line in version.splitlines():
            if line.startswith("Version:"):
                return python, line.split(":", 1)[1].strip()
        return python, None
    except (OSError, subprocess.SubprocessError) as error:
        return None, f"could not create the DBOS venv: {error}"


def run_dbos(pg: Postgres, runs: int, concurrency: int) -> dict[str, Any]:
    python, version = dbos_python()
    if python is None:
        return {"error": f"not available: {version}"}
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS dbos_bench")
        conn.execute("CREATE DATABASE dbos_bench")
    done = subprocess.run([str(python), str(ROOT / "dbos_workflow.py"),
                           pg.database_url("dbos_bench"), str(runs), str(concurrency)],
                          capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        return {"error": "not available: DBOS run failed: " + done.stderr.strip()[-400:]}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["dbosVersion"] = version
    return result


def run(pg: Postgres, runs: int, pgbench_tps16: float, slots: int) -> dict[str, Any]:
    with engine(pg, throughput.NOOP, processes=1, slots=slots, steps=STEPS) as eng:
        throughput.warm_up(eng, STEPS)
        ours = throughput.drive(eng, runs, STEPS)
    ours.pop("topStatements", None)
    dbos = run_dbos(pg, runs, slots)
    out: dict[str, Any] = {"runs": runs, "steps": STEPS, "inFlight": slots,
                           "pgbenchTps16": pgbench_tps16, "durable": ours, "dbos": dbos}
    ours["fractionOfPgbench16"] = round(ours["stepsPerSecond"] / pgbench_tps16, 3)
    if "stepsPerSecond" in dbos:
        dbos["fractionOfPgbench16"] = round(dbos["stepsPerSecond"] / pgbench_tps16, 3)
        out["durableOverDbos"] = round(ours["stepsPerSecond"] / dbos["stepsPerSecond"], 2)
    return out
