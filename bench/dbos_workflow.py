"""Run in DBOS Transact's own venv (never imported by the bench): `workflows` runs of a 3-step
no-op workflow on `database_url`, `concurrency` at a time; prints one JSON line of figures.

The same shape as the engine's bench run (3 memoized no-op steps per run, 16 in flight), so
steps/s compare directly. DBOS checkpoints each step's output in its system database."""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from dbos import DBOS, DBOSConfig


def main() -> None:
    database_url, workflows, concurrency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    config: DBOSConfig = {"name": "bench", "system_database_url": database_url,
                          "sys_db_pool_size": concurrency + 4, "log_level": "WARNING"}
    DBOS(config=config)

    @DBOS.step()
    def noop(i: int) -> int:
        return i

    @DBOS.workflow()
    def three_steps(n: int) -> int:
        return noop(0) + noop(1) + noop(2) + n * 0

    DBOS.launch()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(three_steps, range(20)))  # warm-up
        started = time.perf_counter()
        list(pool.map(three_steps, range(20, 20 + workflows)))
        elapsed = time.perf_counter() - started
    DBOS.destroy()
    import dbos  # noqa: PLC0415 - only for its version
    print(json.dumps({"workflows": workflows, "stepsPerWorkflow": 3, "concurrency": concurrency,
                      "seconds": round(elapsed, 2),
                      "stepsPerSecond": round(3 * workflows / elapsed, 1),
                      "workflowsPerSecond": round(workflows / elapsed, 1),
                      "dbosVersion": getattr(dbos, "__version__", None)}))


if __name__ == "__main__":
    main()
