"""Structure checks of the engine package, run by `nox -s lint` (stdlib only):

- no import cycle between the modules of durable_engine (imports inside `if TYPE_CHECKING:`
  do not count: they never run);
- every named query (`-- name: x` under queries/) is used by the engine's code;
- named queries are executed only from store/ (`queries["x"]`, `q("x")`, `self.q(...)` in any
  other module is a finding), except in the modules of QUERIES_ALLOWED, each with its reason;
  an allowed module that no longer executes one must leave the list;
- no module is longer than LONG lines unless its docstring says why ("Longer than ...").
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "durable_engine"
NAME = re.compile(r"^-- name: (\w+)", re.M)

# Modules outside store/ still executing named queries, and why (the list only shrinks).
LONG = 400
QUERIES_ALLOWED: dict[str, str] = {}  # none left: every named query runs in store/


def module_name(path: Path) -> str:
    parts = ["durable_engine", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, current: str, is_package: bool, known: set[str]) -> set[str]:
    found: set[str] = set()

    def resolve(level: int, module: str | None) -> str:
        base = current.split(".") if is_package else current.split(".")[:-1]
        base = base[: len(base) - (level - 1)] if level > 1 else base
        return ".".join([*base, *([module] if module else [])])

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("durable_engine"))
        elif isinstance(node, ast.ImportFrom):
            target = resolve(node.level, node.module) if node.level else (node.module or "")
            if target.startswith("durable_engine"):
                found.add(target)
                found.update(f"{target}.{a.name}" for a in node.names
                             if f"{target}.{a.name}" in known)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {name for name in found if name in known and name != current}


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    known = set(files)
    return {name: _imports(ast.parse(path.read_text()), name, path.name == "__init__.py", known)
            for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), plus self-loops."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strong(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                strong(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in sorted(graph):
        if node not in index:
            strong(node)
    return found


def unused_queries() -> list[str]:
    names: list[str] = []
    for sql in sorted((PACKAGE / "queries").rglob("*.sql")):
        names += NAME.findall(sql.read_text())
    code = "\n".join(p.read_text() for p in PACKAGE.rglob("*.py"))
    return [n for n in names if not re.search(rf"[\"']{n}[\"']", code)]


def _is_queries(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id == "queries") or \
        (isinstance(node, ast.Attribute) and node.attr == "queries")


def query_uses(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, what) of each named query a module looks up to execute: a subscript of
    `queries` by a string, or a call of `q(...)` / `<x>.q(...)`."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and _is_queries(node.value) and \
                isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
            found.append((node.lineno, f"queries[{node.slice.value!r}]"))
        elif isinstance(node, ast.Call) and node.args and (
                (isinstance(node.func, ast.Name) and node.func.id == "q")
                or (isinstance(node.func, ast.Attribute) and node.func.attr == "q")):
            arg = node.args[0]
            name = repr(arg.value) if isinstance(arg, ast.Constant) else ast.unparse(arg)
            found.append((node.lineno, f"q({name})"))
    return sorted(found)


def queries_outside_store(package: Path = PACKAGE,
                          allowed: dict[str, str] | None = None) -> list[str]:
    """Named queries executed outside store/ by a module not allowed to, and allowed modules
    that no longer execute any."""
    allowed = QUERIES_ALLOWED if allowed is None else allowed
    problems: list[str] = []
    users: set[str] = set()
    for path in sorted(package.rglob("*.py")):
        where = path.relative_to(package).as_posix()
        if where.startswith("store/"):
            continue
        uses = query_uses(ast.parse(path.read_text()))
        if uses:
            users.add(where)
        if where not in allowed:
            problems += [f"{where}:{line}: {what} executes a named query outside store/ "
                         "(add a function to store/)" for line, what in uses]
    problems += [f"{where} executes no named query any more: drop it from QUERIES_ALLOWED"
                 for where in sorted(set(allowed) - users)]
    return problems


def long_modules(package: Path = PACKAGE) -> list[str]:
    """Modules over LONG lines whose docstring does not say why ("Longer than ..."); the
    generated protobuf modules (pb/*_pb2.py) are not written by hand and do not count."""
    found = []
    for path in sorted(package.rglob("*.py")):
        if path.name.endswith("_pb2.py"):
            continue
        text = path.read_text()
        lines = text.count("\n")
        if lines > LONG and "Longer than" not in (ast.get_docstring(ast.parse(text)) or ""):
            found.append(f"{path.relative_to(package)}: {lines} lines; split it, or say at "
                         "its top why not (\"Longer than ...\")")
    return found


def main() -> int:
    problems = [f"import cycle: {' <-> '.join(c)}" for c in cycles(import_graph())]
    problems += [f"named query never used: {n}" for n in unused_queries()]
    problems += queries_outside_store()
    problems += long_modules()
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        outside = f" (still outside: {', '.join(sorted(QUERIES_ALLOWED))})" \
            if QUERIES_ALLOWED else ""
        print("engine structure: no import cycle, every named query used, and executed "
              f"from store/{outside}, no module over {LONG} lines without a reason")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
