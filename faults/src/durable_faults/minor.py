"""Protocol 1.1 under the same faults, in a workspace of its own (so the main verdict is not
disturbed): step.invoke parents whose children run while engine processes are killed, and a
singleton function sent bursts of events per key.

Verdict: every parent completed with exactly one child, that child completed, and the
parent's invoke memo names it and holds its output ([INVOKE-4]); a sampler that reads the
runs table every 100 ms never sees two live runs of one singleton key ([SINGLE-4]); nothing
is left running.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
from durable import Client, DurableFunction, provision_app
from psycopg.rows import dict_row

from .app import FaultyApp

PARENT_EVENT = "faults/parent"
SINGLE_EVENT = "faults/single"
KEYS = 3
LIVE = ("queued", "running", "sleeping", "waiting")


def functions() -> list[DurableFunction]:
    def parent(event: dict[str, Any], step: Any) -> Any:
        n = event["data"]["n"]
        got = step.invoke("call", "faults-child", {"n": n})
        return {"n": n, "child": got}

    def child(event: dict[str, Any], step: Any) -> Any:
        n = event["data"]["n"]
        first = step.run("a", lambda: n * 10)
        step.sleep("nap", "1s")
        return step.run("b", lambda: first + 1)

    def single(event: dict[str, Any], step: Any) -> Any:
        step.run("a", lambda: event["data"]["k"])
        step.sleep("hold", "2s")
        return event["data"]["k"]

    return [
        DurableFunction(id="faults-parent", trigger={"event": PARENT_EVENT}, handler=parent,
                        retries=20, timeout=3000),
        DurableFunction(id="faults-child", trigger={"event": "faults/never"}, handler=child,
                        retries=20, timeout=3000),
        DurableFunction(id="faults-single", trigger={"event": SINGLE_EVENT}, handler=single,
                        retries=20, timeout=3000, singleton={"key": "k", "mode": "skip"}),
    ]


@dataclass
class Minor:
    url: str  # the database
    parents: int
    singles: int
    workspace_id: str = ""
    client: Client | None = None
    app: FaultyApp | None = None
    acked: set[str] = field(default_factory=set)
    violations: list[str] = field(default_factory=list)
    samples: int = 0
    send_retries: int = 0

    def start(self, base_url: str, admin_token: str, fault_rate: float, seed: int) -> None:
        self.app = FaultyApp(functions(), fault_rate, seed)
        self.app.start()
        created = provision_app(base_url=base_url, name="faults-1-1", app_url=self.app.url,
                                environment="faults", admin_token=admin_token)
        self.workspace_id = created["id"]
        self.app.signing_key = created["key"]
        self.client = Client(base_url, self.workspace_id, created["key"], timeout=5)
        self.client.sync(self.app.functions)

    def sender(self, window: float, stop: threading.Event) -> threading.Thread:
        """Parent events spread over the window; singleton events in bursts per key."""
        plan = [(i * window * 0.9 / max(self.parents, 1), PARENT_EVENT, {"n": i},
                 f"parent-{i}") for i in range(self.parents)]
        plan += [(i * window * 0.9 / max(self.singles, 1), SINGLE_EVENT,
                  {"k": i % KEYS}, f"single-{i}") for i in range(self.singles)]
        plan.sort(key=lambda item: item[0])
        t0 = time.monotonic()

        def run() -> None:
            assert self.client is not None
            for at, name, data, event_id in plan:
                while time.monotonic() - t0 < at and not stop.is_set():
                    time.sleep(0.02)
                while event_id not in self.acked and not stop.is_set():
                    try:
                        self.client.send(name, data, event_id=event_id, retries=0)
                        self.acked.add(event_id)
                    except Exception:  # noqa: BLE001 - an engine killed mid-request: resend
                        self.send_retries += 1
                        time.sleep(0.3)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def sampler(self, stop: threading.Event) -> threading.Thread:
        """[SINGLE-4]: never two live runs of one singleton key, at any sample."""
        sql = ("SELECT singleton_key, count(*) AS n FROM runs WHERE workspace_id = %s"
               " AND singleton_key IS NOT NULL AND status = ANY(%s)"
               " GROUP BY singleton_key HAVING count(*) > 1")

        def run() -> None:
            while not stop.is_set():
                try:
                    with psycopg.connect(self.url, connect_timeout=2) as conn:
                        while not stop.is_set():
                            rows = conn.execute(sql, (self.workspace_id, list(LIVE))).fetchall()
                            self.samples += 1
                            for key, n in rows:
                                self.violations.append(f"{n} live runs of singleton key {key}")
                            time.sleep(0.1)
                except psycopg.Error:  # Postgres restarting: sample again when it is back
                    time.sleep(0.2)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def rows(self) -> list[dict[str, Any]]:
        with psycopg.connect(self.url, row_factory=dict_row, connect_timeout=5) as conn:
            return conn.execute(
                "SELECT r.id, r.function_id, r.status, r.output, r.event, r.parent_run_id,"
                " (SELECT s.data FROM steps s WHERE s.run_id = r.id AND s.step_id = 'call'"
                "  AND s.namespace = 'main') AS memo FROM runs r WHERE r.workspace_id = %s",
                (self.workspace_id,)).fetchall()

    def settled(self) -> bool:
        try:
            return not any(r["status"] in LIVE for r in self.rows())
        except psycopg.Error:
            return False

    def judge(self) -> tuple[list[str], dict[str, Any]]:
        rows = self.rows()
        problems = list(dict.fromkeys(self.violations))
        parents = [r for r in rows if r["function_id"] == "faults-parent"]
        children = [r for r in rows if r["function_id"] == "faults-child"]
        by_parent: dict[str, list[dict[str, Any]]] = {}
        for child in children:
            by_parent.setdefault(str(child["parent_run_id"]), []).append(child)
        sent_parents = sum(1 for e in self.acked if e.startswith("parent-"))
        if len(parents) != sent_parents:
            problems.append(f"{len(parents)} parent runs for {sent_parents} parent events")
        for parent in parents:
            n = parent["event"]["data"]["n"]
            mine = by_parent.get(parent["id"], [])
            memo = parent["memo"] or {}
            if parent["status"] != "completed":
                problems.append(f"parent {n} is {parent['status']}")
            if len(mine) != 1:
                problems.append(f"parent {n} has {len(mine)} children, expected exactly 1")
                continue
            child = mine[0]
            if child["status"] != "completed":
                problems.append(f"the child of parent {n} is {child['status']}")
            if memo.get("runId") != child["id"] or memo.get("status") != "completed" or \
                    memo.get("output") != n * 10 + 1:
                problems.append(f"parent {n}'s invoke memo {memo!r} is not its child's result")
            elif parent["output"] != {"n": n, "child": n * 10 + 1}:
                problems.append(f"parent {n} returned {parent['output']!r}")
        stuck = [r for r in rows if r["status"] in LIVE]
        if stuck:
            problems.append(f"{len(stuck)} runs of the protocol 1.1 workspace never ended")
        singles = [r for r in rows if r["function_id"] == "faults-single"]
        figures = {
            "parents": len(parents), "children": len(children),
            "singleton_runs": len(singles),
            "singleton_skipped": sum(1 for r in singles if r["status"] == "skipped"),
            "singleton_samples": self.samples, "singleton_violations": len(self.violations),
            "send_retries": self.send_retries, "ok": not problems,
        }
        return problems, figures

    def close(self) -> None:
        if self.app is not None:
            self.app.close()
