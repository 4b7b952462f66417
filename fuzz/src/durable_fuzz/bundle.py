"""Make the served OpenAPI document self-contained.

The engine serves spec/openapi.yaml as is: its operations point at `schemas/*.schema.json`
relative to the document, and those schemas carry `$id`s under https://durable.dev/, so a
resolver that honours `$id` follows their relative `$ref`s to URLs off this machine. The
bundle fetches every referenced schema file (from the engine, or from the repository's
spec/schemas when the engine does not serve it), moves it into components/schemas and
rewrites each $ref into a local JSON pointer; nothing else in the document changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SUFFIX = ".schema.json"


def _name(file: str) -> str:
    return file[: -len(SUFFIX)] if file.endswith(SUFFIX) else file


def bundle(document: dict[str, Any], load: Callable[[str], Any]
           ) -> tuple[dict[str, Any], list[str]]:
    """Returns the bundled document and the schema files it pulled in."""
    loaded: dict[str, Any] = {}
    pending: list[str] = []

    def rewrite(node: Any, current: str | None) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key in ("$id", "$schema") and current is not None:
                    continue
                if key == "$ref" and isinstance(value, str):
                    file, _, pointer = value.partition("#")
                    file = file.rsplit("/", 1)[-1] or (current or "")
                    if not file:  # a pointer inside the OpenAPI document itself
                        out[key] = value
                        continue
                    if file not in loaded:
                        loaded[file] = None
                        pending.append(file)
                    out[key] = f"#/components/schemas/{_name(file)}{pointer}"
                    continue
                out[key] = rewrite(value, current)
            return out
        if isinstance(node, list):
            return [rewrite(item, current) for item in node]
        return node

    result = rewrite(document, None)
    while pending:
        file = pending.pop()
        loaded[file] = rewrite(load(file), file)
    components = result.setdefault("components", {}).setdefault("schemas", {})
    for file, schema in loaded.items():
        components[_name(file)] = schema
    return result, sorted(loaded)
