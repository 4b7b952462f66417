"""The statements on the engine's hot paths never scan the queue, whatever the parameters:
with thousands of sleeping runs queued, the plan Postgres may cache for each (its generic plan,
built without the parameters' values) reads the queue through an index only. A range test in
an EXISTS is planned from statistics and can read every sleeping row when none is due: the
claim, run creation (its hand-off check) and the idle wait each ask for a min() instead."""

from __future__ import annotations

import re

import psycopg
import pytest
from durable_engine.db import load_queries

QUERIES = load_queries()
HOT = ("runs_create", "next_due", "claim", "flow_probe", "commit_steps")


def generic_plan(conn: psycopg.Connection, name: str) -> str:
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    sql = re.sub(r"%\((\w+)\)s", number, QUERIES[name])
    return "\n".join(row[0] for row in conn.execute("EXPLAIN (GENERIC_PLAN) " + sql))


@pytest.fixture(scope="module")
def sleeping(database_url: str) -> str:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO workspaces (id, name, environment, app_url, keys) "
                     "VALUES ('plans', 'plans', 'test', 'http://127.0.0.1:1/x', '{k}')")
        conn.execute("INSERT INTO runs (id, workspace_id, function_id, event, status, "
                     "created_at) SELECT 'sleeper-' || g, 'plans', 'f', '{}', 'sleeping', "
                     "now() FROM generate_series(1, 20000) g")
        conn.execute("INSERT INTO queue (run_id, workspace_id, priority, due_at) "
                     "SELECT 'sleeper-' || g, 'plans', 0, now() + interval '1 hour' "
                     "FROM generate_series(1, 20000) g")
        conn.execute("ANALYZE queue")
    return database_url


@pytest.mark.parametrize("name", HOT)
def test_a_hot_statement_reads_the_queue_through_an_index(sleeping: str, name: str) -> None:
    with psycopg.connect(sleeping) as conn:
        plan = generic_plan(conn, name)
    assert "Seq Scan on queue" not in plan, plan


def test_the_check_sees_a_scan(sleeping: str) -> None:
    """The same check flags the EXISTS form the hot statements avoid."""
    sql = "SELECT EXISTS (SELECT 1 FROM queue WHERE lease_token IS NULL AND due_at <= $1)"
    with psycopg.connect(sleeping) as conn:
        plan = "\n".join(row[0] for row in conn.execute("EXPLAIN (GENERIC_PLAN) " + sql))
    assert "Seq Scan on queue" in plan
