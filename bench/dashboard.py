"""Dashboard live updates: SSE delivery latency and what open pages cost.

One `durable serve --prod` process with the bench app; runs (3 no-op steps) flow at a fixed
rate. Windows of the same length, alternating: with 0 and with N open SSE streams of a runs page
(logged-in sessions, aiohttp clients reading text/event-stream like a browser's EventSource).
For each window: statements/s and transactions/s against the engine's database, engine CPU %.
Latency: from a run's status change (the `updatedAt` the engine stamps, carried by the row)
to the event read by a stream client, over every event every client received.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from typing import Any

import aiohttp

from bench.common import Postgres, engine, percentiles, rounded

FUNCTIONS = [{"id": "noop", "trigger": {"event": "bench.dash"}, "retries": 0}]
UPDATED = re.compile(r'title="([0-9T:.\-]+Z)"')


def _parse_iso(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class Flow:
    """Sends `rate` runs per second from a thread until stopped."""

    def __init__(self, eng: Any, rate: int) -> None:
        self.eng, self.rate = eng, rate
        self.stop = threading.Event()
        self.sent = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        tick = 0
        started = time.monotonic()
        while not self.stop.is_set():
            self.eng.send("bench.dash", [{"i": tick * 10 + j, "steps": 3}
                                         for j in range(max(1, self.rate // 10))])
            self.sent += max(1, self.rate // 10)
            tick += 1
            pause = started + tick / 10 - time.monotonic()
            if pause > 0:
                self.stop.wait(pause)


async def _login(base: str, token: str) -> str:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{base}/login", data={"token": token},
                                allow_redirects=False) as response:
            cookie = response.cookies.get("durable_session")
            if response.status != 303 or cookie is None:
                raise RuntimeError(f"dashboard login failed: {response.status}")
            return cookie.value


async def _reader(url: str, cookie: str, latencies: list[float], ready: asyncio.Event,
                  counts: list[int]) -> None:
    async with aiohttp.ClientSession(cookies={"durable_session": cookie},
                                     timeout=aiohttp.ClientTimeout(total=None)) as session:
        async with session.get(url, headers={"Accept": "text/event-stream"}) as response:
            ready.set()
            data: list[str] = []
            async for raw in response.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("data: "):
                    data.append(line[6:])
                elif line == "" and data:
                    now = time.time()
                    stamps = UPDATED.findall("\n".join(data))
                    if stamps:
                        latencies.append((now - _parse_iso(stamps[-1])) * 1000)
                        counts[0] += 1
                    data = []


def _window(pg: Postgres, eng: Any, seconds: float) -> dict[str, Any]:
    pg.reset_statements()
    calls0, xacts0 = pg.statement_calls(eng.database), pg.xact_commits(eng.database)
    cpu0, wall0 = eng.engine_cpu(), time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - wall0
    cpu = eng.engine_cpu() - cpu0
    calls1, xacts1 = pg.statement_calls(eng.database), pg.xact_commits(eng.database)
    return {"seconds": round(wall, 1),
            "statementsPerSecond": (round((calls1 - calls0) / wall, 1)
                                    if calls0 is not None and calls1 is not None else None),
            "transactionsPerSecond": round((xacts1 - xacts0) / wall, 1),
            "engineCpuPct": round(100 * cpu / wall, 1)}


def _mean(windows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"seconds": round(sum(w["seconds"] for w in windows), 1)}
    for key in ("statementsPerSecond", "transactionsPerSecond", "engineCpuPct"):
        values = [w[key] for w in windows if w[key] is not None]
        out[key] = round(sum(values) / len(values), 1) if values else None
    return out


def run(pg: Postgres, seconds: int, clients: int, rate: int, rounds: int = 2
        ) -> dict[str, Any]:
    """`rounds` pairs of windows, without then with the streams (the machine's other load
    drifts: interleaving gives both the same share of it); each figure is the windows' mean."""
    quiet_windows: list[dict[str, Any]] = []
    watched_windows: list[dict[str, Any]] = []
    latencies: list[float] = []
    samples: list[float] = []
    counts = [0]
    received = 0
    with engine(pg, FUNCTIONS, steps=3) as eng:
        token = eng.env["DURABLE_ADMIN_TOKEN"]
        flow = Flow(eng, rate)
        flow.thread.start()
        loop = asyncio.new_event_loop()
        holder = threading.Thread(target=loop.run_forever, daemon=True)
        holder.start()
        try:
            time.sleep(3)  # steady state
            cookie = asyncio.run_coroutine_threadsafe(_login(eng.base, token), loop).result(60)

            async def open_streams() -> list[asyncio.Task[None]]:
                url = f"{eng.base}/w/{eng.workspace}/runs/live"
                tasks = []
                for _ in range(clients):
                    ready = asyncio.Event()
                    tasks.append(asyncio.create_task(_reader(
                        url, cookie, latencies, ready, counts)))
                    await asyncio.wait_for(ready.wait(), 30)
                return tasks

            async def close(tasks: list[asyncio.Task[None]]) -> None:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

            for _ in range(rounds):
                quiet_windows.append(_window(pg, eng, seconds / rounds))
                tasks = asyncio.run_coroutine_threadsafe(open_streams(), loop).result(120)
                time.sleep(1)
                latencies.clear()
                counts[0] = 0
                watched_windows.append(_window(pg, eng, seconds / rounds))
                received += counts[0]
                samples += latencies
                asyncio.run_coroutine_threadsafe(close(tasks), loop).result(30)
                time.sleep(1)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            flow.stop.set()
            flow.thread.join(10)
        alive = eng.alive()
    quiet, watched = _mean(quiet_windows), _mean(watched_windows)
    p50, p99 = percentiles(samples, 0.5, 0.99)
    extra_cpu = watched["engineCpuPct"] - quiet["engineCpuPct"]
    return {"clients": clients, "runsPerSecond": rate, "stepsPerRun": 3,
            "without": quiet, "withClients": watched,
            "windows": {"without": quiet_windows, "withClients": watched_windows},
            "extraEngineCpuPct": round(extra_cpu, 1),
            "extraEngineCpuShare": (round(extra_cpu / quiet["engineCpuPct"], 3)
                                    if quiet["engineCpuPct"] else None),
            "extraStatementsPerSecond": (
                round(watched["statementsPerSecond"] - quiet["statementsPerSecond"], 1)
                if watched["statementsPerSecond"] is not None and
                quiet["statementsPerSecond"] is not None else None),
            "eventsReceived": received,
            "extraEngineCpuUsPerDelivery": (round(extra_cpu / 100 * watched["seconds"] * 1e6
                                                  / received, 1) if received else None),
            "latencyMsP50": rounded(p50),
            "latencyMsP99": rounded(p99), "engineAlive": alive,
            "latencyFrom": "the run's updatedAt (engine clock at the transition) to the SSE "
                           "client reading the event (same machine clock)"}
