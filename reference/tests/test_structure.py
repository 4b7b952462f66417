"""The engine's structure checks (also run by `nox -s lint`) hold, and they do catch what they
look for: an import cycle and a named query nobody uses."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

import check_engine  # noqa: E402


def test_the_engine_has_no_import_cycle_and_no_dead_query() -> None:
    assert check_engine.cycles(check_engine.import_graph()) == []
    assert check_engine.unused_queries() == []


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
