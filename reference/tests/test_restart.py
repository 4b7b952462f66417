"""Engine crash mid-run: the run resumes on a new engine, no step is committed twice, and a
stale attempt's answer changes nothing."""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from conftest import ADMIN_TOKEN, AppServer, CheckedClient, EngineHandle, query, wait_for
from durable import DurableFunction, Step, provision_app, wsgi
from durable_engine.engine import Claim, Outcome


def test_engine_crash_mid_step_resumes_without_double_commit(database_url: str) -> None:
    counts = {"before": 0, "slow": 0, "after": 0}
    entered = threading.Event()
    release = threading.Event()

    def handler(event: dict[str, Any], step: Step) -> Any:
        def before() -> str:
            counts["before"] += 1
            return "b"

        def slow() -> str:
            counts["slow"] += 1
            if counts["slow"] == 1:
                entered.set()
                release.wait(10)  # the engine dies while this invocation is in flight
            return "s"

        def after() -> str:
            counts["after"] += 1
            return "a"

        return [step.run("before", before), step.run("slow", slow), step.run("after", after)]

    name = f"crash.{uuid.uuid4().hex[:6]}"
    fn = DurableFunction(id="crash", trigger={"event": name}, handler=handler, timeout="1500ms")
    first = EngineHandle(database_url, lease_margin_s=0.5).start()
    created = provision_app(base_url=first.url, name=name, app_url="http://127.0.0.1:1/x",
                            environment="test", admin_token=ADMIN_TOKEN)
    server = AppServer(wsgi([fn], signing_key=created["key"]))
    query(database_url, "UPDATE workspaces SET app_url = %s WHERE id = %s RETURNING id",
          server.url, created["id"])
    second = None
    try:
        client = CheckedClient(first.url, created["id"], created["key"])
        client.sync([fn])
        run_id = client.send(name)["runIds"][0]
        assert entered.wait(10)
        first.stop(crash=True)
        release.set()  # the first attempt's answer now goes nowhere
        second = EngineHandle(database_url, lease_margin_s=0.5).start()
        client = CheckedClient(second.url, created["id"], created["key"])
        run = wait_for(lambda: (r := client.get_run(run_id))["status"] == "completed" and r, 15)
        assert run["output"] == ["b", "s", "a"]
        assert counts == {"before": 1, "slow": 2, "after": 1}  # at-least-once execution...
        rows = query(database_url, "SELECT step_id, count(*) AS n FROM steps WHERE run_id = %s"
                     " GROUP BY step_id ORDER BY step_id", run_id)
        assert [(r["step_id"], r["n"]) for r in rows] == [("after", 1), ("before", 1),
                                                          ("slow", 1)]  # ...memoized once
    finally:
        if second is not None:
            second.stop()
        server.close()


def test_a_stale_attempt_cannot_commit(engine: EngineHandle, database_url: str) -> None:
    name = f"stale.{uuid.uuid4().hex[:6]}"

    def handler(event: dict[str, Any], step: Step) -> Any:
        step.sleep("park", "1h")
        return "x"

    fn = DurableFunction(id="stale", trigger={"event": name}, handler=handler)
    created = provision_app(base_url=engine.url, name=name, app_url="http://127.0.0.1:1/x",
                            environment="test", admin_token=ADMIN_TOKEN)
    server = AppServer(wsgi([fn], signing_key=created["key"]))
    query(database_url, "UPDATE workspaces SET app_url = %s WHERE id = %s RETURNING id",
          server.url, created["id"])
    try:
        client = CheckedClient(engine.url, created["id"], created["key"])
        client.sync([fn])
        run_id = client.send(name)["runIds"][0]
        wait_for(lambda: client.get_run(run_id)["status"] == "sleeping")
        assert engine.server is not None and engine.server.engine is not None
        core = engine.server.engine
        now = datetime.now(UTC)
        late = Claim(run_id, created["id"], "main", "invoke", 0, now, uuid.uuid4())
        op = {"op": "step", "id": "forged", "data": "late answer"}

        async def apply() -> Any:
            ctx = await core._context(run_id, "main")
            assert ctx is not None
            return await core._apply(late, ctx, Outcome(op, None, 200, now, 1.0))

        result = asyncio.run_coroutine_threadsafe(apply(), engine.loop).result(10)
        assert result is None
        steps = query(database_url, "SELECT step_id FROM steps WHERE run_id = %s", run_id)
        assert [s["step_id"] for s in steps] == ["park"]
        stale = query(database_url, "SELECT error FROM deliveries WHERE run_id = %s AND "
                      "error IS NOT NULL", run_id)
        assert [d["error"] for d in stale] == ["stale attempt"]
        assert client.get_run(run_id)["status"] == "sleeping"
    finally:
        server.close()
