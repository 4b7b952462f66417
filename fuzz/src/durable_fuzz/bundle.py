"""Make the served OpenAPI document self-contained.

The engine serves spec/openapi.yaml as is: its operations point at `schemas/*.schema.json`
relative to the document (which the engine does not serve), and those schemas carry `$id`s
under https://durable.dev/, so a client resolving them follows URLs off this machine.
The bundle moves every referenced schema file into components/schemas (taken from the
repository's spec/schemas) and rewrites each $ref into a local JSON pointer; nothing else in
the served document changes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SUFFIX = ".schema.json"


def _name(file: str) -> str:
    return file[: -len(SUFFIX)] if file.endswith(SUFFIX) else file


def _target(ref: str, current: str | None) -> tuple[str | None, str]:
    """(schema file or None for the document itself, JSON pointer inside it)."""
    file, _, pointer = ref.partition("#")
    file = file.rsplit("/", 1)[-1] if file else ""
    if not file:
        return current, pointer
    return file, pointer


def bundle(document: dict[str, Any], schemas_dir: Path) -> tuple[dict[str, Any], list[str]]:
    """Returns the bundled document and the external $refs that were rewritten."""
    loaded: dict[str, Any] = {}
    external: list[str] = []
    pending: list[str] = []

    def rewrite(node: Any, current: str | None) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key in ("$id", "$schema") and current is not None:
                    continue
                if key == "$ref" and isinstance(value, str) and not value.startswith("#/comp"):
                    file, pointer = _target(value, current)
                    if file is None:  # a pointer inside the OpenAPI document itself
                        out[key] = value
                        continue
                    if file != current:
                        external.append(value)
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
        raw = json.loads((schemas_dir / file).read_text())
        loaded[file] = rewrite(raw, file)
    components = result.setdefault("components", {}).setdefault("schemas", {})
    for file, schema in loaded.items():
        components[_name(file)] = schema
    return result, sorted(set(external))
