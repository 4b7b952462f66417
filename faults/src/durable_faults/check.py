"""The verdict, read from the engine's database and the app's journal."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import psycopg
from psycopg.rows import dict_row

from .app import DOOMED_MESSAGE

TERMINAL = ("completed", "failed", "cancelled")


def queries() -> dict[str, str]:
    text = resources.files(__package__).joinpath("checks.sql").read_text()
    parts = re.split(r"^--\s*name:\s*([a-z_]+)\s*$", text, flags=re.MULTILINE)
    return {name: sql.strip() for name, sql in zip(parts[1::2], parts[2::2], strict=True)}


Q = queries()


def fetch(url: str, name: str, **params: Any) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=dict_row, connect_timeout=5) as conn:
        return conn.execute(Q[name], params).fetchall()


def progress(url: str, workspace_id: str) -> Counter[str]:
    return Counter({r["status"]: r["runs"] for r in
                    fetch(url, "status_counts", workspace_id=workspace_id)})


@dataclass
class Verdict:
    sent: int
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    lost: int = 0
    stuck: int = 0
    duplicate_runs: int = 0
    twice: int = 0
    phantom_memos: int = 0
    failed_as_designed: int = 0
    unexpected: int = 0
    memos: int = 0
    executions: int = 0
    deliveries: int = 0
    failed_deliveries: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.stuck or self.twice or self.duplicate_runs
                    or self.phantom_memos or self.unexpected)


def judge(url: str, workspace_id: str, sent: set[int], steps: int,
          journal: list[tuple[int, str, str]], doomed: set[int]) -> Verdict:
    """doomed: runs whose step always throws; they must fail with that error, the others
    must complete."""
    v = Verdict(sent=len(sent), executions=len(journal))
    runs = fetch(url, "run_states", workspace_id=workspace_id)
    by_n: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        by_n[run["n"]].append(run)
    executed: dict[tuple[int, str], set[str]] = defaultdict(set)
    for n, step, token in journal:
        executed[(n, step)].add(token)

    for n in sorted(sent):
        found = by_n.get(n, [])
        if not found:
            v.lost += 1
            v.problems.append(f"n={n}: event acknowledged but no run exists")
        if len(found) > 1:
            v.duplicate_runs += len(found) - 1
            v.problems.append(f"n={n}: {len(found)} runs for one event id")
    for run in runs:
        status = run["status"]
        if status in TERMINAL:
            setattr(v, status, getattr(v, status) + 1)
        else:
            v.stuck += 1
            v.problems.append(f"run {run['id']} (n={run['n']}) still {status}; queue "
                              f"due {run['due_at']} lease until {run['lease_until']}")
        if run["n"] in doomed:
            error = run["error"] or {}
            # Its last attempt may have met an injected fault instead: then the run fails
            # with RETRIES_EXHAUSTED and that delivery error ([RETRY-5]), still readable.
            readable = DOOMED_MESSAGE in error.get("message", "") or (
                error.get("code") == "RETRIES_EXHAUSTED" and error.get("message"))
            if status == "failed" and readable:
                v.failed_as_designed += 1
            elif status in TERMINAL:
                v.unexpected += 1
                v.problems.append(f"run {run['id']} (n={run['n']}) should fail with "
                                  f"{DOOMED_MESSAGE!r} or RETRIES_EXHAUSTED: {status} "
                                  f"{run['error']}")
        elif status in ("failed", "cancelled"):
            v.unexpected += 1
            v.problems.append(f"run {run['id']} (n={run['n']}) {status}: {run['error']}")

    n_of = {run["id"]: run["n"] for run in runs}
    memo_of: dict[str, dict[str, Any]] = defaultdict(dict)
    for memo in fetch(url, "memos", workspace_id=workspace_id):
        v.memos += memo["type"] == "run"
        memo_of[memo["run_id"]][memo["step_id"]] = memo["data"]
        if memo["type"] == "run" and memo["data"] not in executed[(n_of[memo["run_id"]],
                                                                   memo["step_id"])]:
            v.phantom_memos += 1
            v.problems.append(f"run {memo['run_id']}: memo {memo['step_id']} = "
                              f"{memo['data']!r} matches no execution in the journal")
    for dup in fetch(url, "memo_duplicates", workspace_id=workspace_id):
        v.twice += 1
        v.problems.append(f"run {dup['run_id']}: step {dup['step_id']} committed "
                          f"{dup['commits']} times")
    # A step committed twice with different values shows up as a run whose handler saw one
    # value while the journal of memos holds another.
    for run in runs:
        if run["status"] != "completed":
            continue
        tokens = (run["output"] or {}).get("tokens")
        memos = memo_of[run["id"]]
        expected = [memos.get(f"s{i}") for i in range(steps)]
        if tokens != expected:
            v.twice += 1
            v.problems.append(f"run {run['id']}: output {tokens!r} differs from its memos "
                              f"{expected!r}")
    for row in fetch(url, "leftovers", workspace_id=workspace_id):
        v.stuck += 1
        v.problems.append(f"run {row['id']} is {row['status']} but still has a {row['what']}")
    for row in fetch(url, "deliveries", workspace_id=workspace_id):
        v.deliveries, v.failed_deliveries = row["attempts"], row["failed"]
    return v
