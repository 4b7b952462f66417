"""Event ingest over HTTP and gRPC (§18), with our SDK's client on one connection, one caller
at a time: events/s accepted by POST /e and /e/bulk, gRPC SendEvent, SendEvents (100 a
call) and the IngestEvents stream; and WatchRun's delay from a run's end (its stored
updatedAt) to the client receiving the last message."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from durable import Client

from bench.common import Engine, Postgres, engine, percentiles, rounded

FUNCTIONS = [{"id": "noop-watch", "trigger": {"event": "bench.watch"}, "retries": 0}]


def rate(count: int, send: Callable[[list[dict[str, Any]]], None],
         events: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    send(events)
    elapsed = time.perf_counter() - started
    assert len(events) == count
    return count / elapsed


def fresh(count: int, tag: str) -> list[dict[str, Any]]:
    """Events nothing listens to: what is measured is accepting and storing them."""
    return [{"id": f"{tag}-{uuid.uuid4().hex}", "name": "bench.ingest", "data": {"i": i}}
            for i in range(count)]


def run(pg: Postgres, events: int, watches: int) -> dict[str, Any]:
    with engine(pg, FUNCTIONS, steps=1, grpc=True) as eng:
        http = Client(eng.base, eng.workspace, eng.key, timeout=60)
        grpc = Client(f"grpc://127.0.0.1:{eng.grpc_port}", eng.workspace, eng.key,
                      timeout=60)
        try:
            single = max(50, events // 10)
            figures = {
                "httpSingle": rate(single, lambda evs: one_by_one(http, evs),
                                   fresh(single, "hs")),
                "grpcSingle": rate(single, lambda evs: one_by_one(grpc, evs),
                                   fresh(single, "gs")),
                "httpBulk": rate(events, lambda evs: chunks(http, evs), fresh(events, "hb")),
                "grpcBulk": rate(events, lambda evs: chunks(grpc, evs), fresh(events, "gb")),
                "grpcStream": rate(events, lambda evs: stream(grpc, evs), fresh(events, "st")),
            }
            stored = eng_count(eng)
            delays = watch_delays(eng, grpc, watches)
        finally:
            http.close()
            grpc.close()
    d50, d99 = percentiles(delays, 0.5, 0.99)
    return {"events": events, "singleEvents": single,
            "eventsPerSecond": {k: round(v, 1) for k, v in figures.items()},
            "eventsStored": stored, "watchRuns": len(delays),
            "watchRunDelayMsP50": rounded(d50, 2), "watchRunDelayMsP99": rounded(d99, 2)}


def one_by_one(client: Client, events: list[dict[str, Any]]) -> None:
    for event in events:
        client.send(event["name"], event["data"], event_id=event["id"])


def chunks(client: Client, events: list[dict[str, Any]]) -> None:
    for offset in range(0, len(events), 100):
        client.send_many(events[offset:offset + 100])


def stream(client: Client, events: list[dict[str, Any]]) -> None:
    answers = 0
    for answer in client.ingest(iter(events)):
        if "error" in answer:
            raise RuntimeError(f"ingest refused an event: {answer}")
        answers += 1
    if answers != len(events):
        raise RuntimeError(f"{answers} receipts for {len(events)} events")


def eng_count(eng: Engine) -> int:
    with eng.connect() as conn:
        row = conn.execute("SELECT count(*) FROM events WHERE workspace_id = %s",
                           (eng.workspace,)).fetchone()
    return int(row[0]) if row else 0


def watch_delays(eng: Engine, grpc: Client, count: int) -> list[float]:
    """One run at a time: the time from its stored end to the end of WatchRun's stream."""
    delays = []
    for i in range(count):
        receipt = grpc.send("bench.watch", {"i": i, "steps": 1})
        run_id = receipt["runIds"][0]
        last: dict[str, Any] = {}
        changes: Iterator[dict[str, Any]] = grpc.watch_run(run_id)
        for change in changes:
            last = change
        received = time.time()
        if last.get("status") != "completed":
            raise RuntimeError(f"run {run_id} ended {last.get('status')}")
        ended = datetime.fromisoformat(last["at"].replace("Z", "+00:00")).timestamp()
        delays.append(1000 * (received - ended))
    return delays
