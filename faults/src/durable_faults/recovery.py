"""Recovery time after a kill: how long a run held by a `kill -9`ed engine process waits before
another process invokes it again, with the function's default timeout (no `timeoutMs`).

Parts: one `durable serve` with no worker slots (the API only), worker A, then worker B. A run's
first step body holds its invocation (the app blocks); once A holds it, B is started and is
ready, A is killed, and the figure is the time from the kill to the app receiving that run's
next invocation (from B). Repeated `samples` times on fresh runs; the target is < 15 s."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from durable import Client, DurableFunction, provision_app

from .app import FaultyApp
from .cluster import ADMIN_TOKEN, EngineProcess, Postgres, migrate

EVENT = "faults/held"
TARGET_S = 15.0


class Holder:
    """Step bodies that record when each run's body starts; a run's first body blocks."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.starts: dict[int, list[float]] = {}
        self.release = threading.Event()

    def body(self, n: int) -> str:
        with self.lock:
            seen = self.starts.setdefault(n, [])
            seen.append(time.time())
            first = len(seen) == 1
        if first:
            self.release.wait(600)  # held until the suite ends; its engine dies meanwhile
        return "ok"

    def function(self) -> DurableFunction:
        def handler(event: dict[str, Any], step: Any) -> Any:
            n = int(event["data"]["n"])
            return step.run("hold", lambda: self.body(n))

        return DurableFunction(id="faults-held", trigger={"event": EVENT}, handler=handler,
                               retries=3)

    def count(self, n: int) -> int:
        with self.lock:
            return len(self.starts.get(n, []))


def wait(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def measure(base: Path, database_url: str | None, samples: int = 1,
            give_up_s: float = 420.0) -> dict[str, Any]:
    """Kill the process holding a run `samples` times; seconds from kill to re-invocation."""
    pg = Postgres(base, database_url)
    holder = Holder()
    app = FaultyApp([holder.function()], 0.0, 0)
    engines: list[EngineProcess] = []
    figures: list[float | None] = []
    try:
        pg.start()
        migrate(pg.url, base / "recovery-migrate.log")
        api = EngineProcess("serve", pg.url, base / "recovery-serve.log", slots=0)
        engines.append(api)
        api.start()
        api.wait_ready()
        app.start()
        created = provision_app(base_url=api.base_url, name="recovery", app_url=app.url,
                                environment="faults", admin_token=ADMIN_TOKEN)
        app.signing_key = created["key"]
        client = Client(api.base_url, created["id"], created["key"], timeout=5)
        client.sync(app.functions)
        holding = EngineProcess("worker", pg.url, base / "recovery-worker0.log", slots=4)
        engines.append(holding)
        holding.start()
        for n in range(samples):
            client.send(EVENT, {"n": n})
            if not wait(lambda n=n: holder.count(n) >= 1, 60):
                raise RuntimeError(f"run {n} was never invoked; see {base}")
            successor = EngineProcess("worker", pg.url,
                                      base / f"recovery-worker{len(engines)}.log", slots=4)
            engines.append(successor)
            successor.start()
            time.sleep(3)  # the successor is up and polling before the kill
            killed = time.time()
            holding.kill9()
            if wait(lambda n=n: holder.count(n) >= 2, give_up_s):
                figures.append(round(holder.starts[n][1] - killed, 2))
            else:
                figures.append(None)
                break
            holding = successor
    finally:
        holder.release.set()
        for engine in engines:
            engine.stop()
        app.close()
        pg.close()
    measured = [f for f in figures if f is not None]
    return {"samples": figures, "recoveryS": max(measured) if len(measured) == len(figures)
            else None, "gaveUpAfterS": give_up_s, "targetS": TARGET_S,
            "meets": bool(figures) and len(measured) == len(figures)
            and max(measured) < TARGET_S}


def describe(result: dict[str, Any]) -> str:
    value = result["recoveryS"]
    shown = (f"{value:.1f} s (worst of {', '.join(f'{s:.1f}' for s in result['samples'])})"
             if value is not None else f"not within {result['gaveUpAfterS']:.0f} s")
    return (f"recovery after kill -9 (default timeout): {shown}; target < "
            f"{result['targetS']:.0f} s: {'meets' if result['meets'] else 'MISSES'}")
