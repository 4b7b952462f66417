"""Leases that heartbeat: a live engine keeps its in-flight invocation however long the
function's timeoutMs, and a killed engine's run is claimed by another within one lease
(< 15 s with the default lease), with the fencing that keeps a step from committing twice."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from conftest import CheckedClient, EngineHandle, provision_served, query, wait_for
from durable import DurableFunction, Step
from durable_engine.engine import Config


def test_a_killed_engines_run_is_reclaimed_within_a_lease_while_a_live_one_keeps_it(
        database_url: str) -> None:
    lease_s = Config.lease_s  # the default lease
    calls: list[float] = []
    entered, release = threading.Event(), threading.Event()

    def handler(event: dict[str, Any], step: Step) -> Any:
        def slow() -> str:
            calls.append(time.monotonic())
            if len(calls) == 1:
                entered.set()
                release.wait(120)  # far longer than a lease; timeoutMs allows it
            return "done"

        return step.run("slow", slow)

    name = f"lease.{uuid.uuid4().hex[:6]}"
    fn = DurableFunction(id="held", trigger={"event": name}, handler=handler, timeout="300s")
    first = EngineHandle(database_url, lease_s=lease_s).start()
    second = EngineHandle(database_url, lease_s=lease_s).start()
    created, server = provision_served(first.url, database_url, name, [fn])
    try:
        client = CheckedClient(second.url, created["id"], created["key"])
        client.sync([fn])
        run_id = client.send(name)["runIds"][0]
        assert entered.wait(15)
        # Both engines up for longer than a lease: the holder's heartbeat keeps the run.
        time.sleep(lease_s * 1.5)
        assert len(calls) == 1
        holder = query(database_url, "SELECT lease_until - now() AS left FROM queue "
                       "WHERE run_id = %s AND lease_token IS NOT NULL", run_id)
        assert holder and holder[0]["left"].total_seconds() > 0
        owner = first if run_id in first.server.engine._driving else second  # type: ignore
        other = second if owner is first else first
        killed_at = time.monotonic()
        owner.stop(crash=True)
        wait_for(lambda: len(calls) >= 2, 20)
        recovered_s = calls[1] - killed_at
        print(f"\nrun reclaimed {recovered_s:.2f} s after its engine was killed "
              f"(lease {lease_s:.0f} s, timeoutMs 300000)")
        assert recovered_s < 15.0
        release.set()  # the killed engine's invocation answers now: its lease is void
        status = CheckedClient(other.url, created["id"], created["key"])
        run = wait_for(lambda: (r := status.get_run(run_id))["status"] == "completed" and r, 30)
        assert run["output"] == "done"
        rows = query(database_url, "SELECT count(*) AS n FROM steps WHERE run_id = %s", run_id)
        assert rows[0]["n"] == 1  # memoized once
    finally:
        release.set()
        for handle in (first, second):
            if handle.server is not None:
                handle.stop()
        server.close()
