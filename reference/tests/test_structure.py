"""The engine's structure checks (also run by `nox -s lint`) hold, and they do catch what they
look for: an import cycle, a named query nobody uses, and a named query executed outside
store/."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

import check_engine  # noqa: E402


def test_the_engine_has_no_import_cycle_and_no_dead_query() -> None:
    assert check_engine.cycles(check_engine.import_graph()) == []
    assert check_engine.unused_queries() == []
    assert check_engine.queries_outside_store() == []


def test_a_named_query_executed_outside_the_store_is_found(tmp_path: Path) -> None:
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "things.py").write_text(
        'async def get(conn, queries):\n    return await conn.execute(queries["thing_get"])\n')
    (tmp_path / "service").mkdir()
    (tmp_path / "service" / "things.py").write_text(
        "class Ops:\n    async def get(self, conn):\n"
        '        await conn.execute(self.engine.q("thing_get"))\n'
        '        await conn.execute(self.engine.queries["thing_put"])\n')
    (tmp_path / "helper.py").write_text(
        "async def f(conn, q):\n    await conn.execute(q(NAME))\n"
        "def g(queries, name):\n    return queries[name]\n")  # a lookup by variable: fine
    found = check_engine.queries_outside_store(tmp_path, allowed={})
    assert found == [
        "helper.py:2: q(NAME) executes a named query outside store/ (add a function to store/)",
        "service/things.py:3: q('thing_get') executes a named query outside store/ "
        "(add a function to store/)",
        "service/things.py:4: queries['thing_put'] executes a named query outside store/ "
        "(add a function to store/)"]
    # an allowed module is not reported; one that no longer needs to be is
    found = check_engine.queries_outside_store(
        tmp_path, allowed={"helper.py": "why", "service/things.py": "why", "gone.py": "why"})
    assert found == ["gone.py executes no named query any more: drop it from QUERIES_ALLOWED"]


def test_the_engine_has_no_long_module_without_a_reason() -> None:
    assert check_engine.long_modules() == []


def test_a_long_module_without_a_reason_is_found(tmp_path: Path) -> None:
    body = "x = 1\n" * (check_engine.LONG + 1)
    (tmp_path / "short.py").write_text('"""Short."""\n' + "x = 1\n" * 10)
    (tmp_path / "long.py").write_text('"""Does many things."""\n' + body)
    (tmp_path / "said.py").write_text('"""Does many things.\n\nLonger than the others: '
                                      'one table of rules read top to bottom."""\n' + body)
    (tmp_path / "made_pb2.py").write_text(body)
    assert check_engine.long_modules(tmp_path) == [
        f"long.py: {check_engine.LONG + 2} lines; split it, or say at its top why not "
        '("Longer than ...")']


def test_a_cycle_through_a_function_level_import_is_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert check_engine.cycles(graph) == [["a", "b", "c"]]
    assert check_engine.cycles({"a": {"b"}, "b": set()}) == []


def test_imports_under_type_checking_do_not_count(tmp_path: Path) -> None:
    import ast

    known = {"durable_engine.x", "durable_engine.y"}
    source = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import y\n"
              "def f():\n    from .y import thing\n")
    found = check_engine._imports(ast.parse(source), "durable_engine.x", False, known)
    assert found == {"durable_engine.y"}  # the function-level import, not the typing one
    only_typing = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import y\n"
    assert check_engine._imports(ast.parse(only_typing), "durable_engine.x", False,
                                 known) == set()
