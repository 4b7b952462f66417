"""Read-only access to spec/: vectors, JSON Schemas, requirement IDs, the catalog."""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .paths import repo_root

REQUIREMENT_ID = re.compile(r"\[([A-Z][A-Z0-9]*-\d+[a-z]?)\]")

# Which schema file validates which message; the first existing candidate wins.
SCHEMA_CANDIDATES: dict[str, tuple[str, ...]] = {
    "op": ("op.schema.json", "operation.schema.json", "invoke-response.schema.json"),
    "manifest": ("manifest.schema.json",),
    "invoke": ("invoke-request.schema.json", "invoke.schema.json"),
    "receipt": ("receipt.schema.json",),
    "discovery": ("discovery-answer.schema.json",),
}


@dataclass
class VectorCase:
    area: str
    file: str
    data: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def requirements(self) -> list[str]:
        return [str(r) for r in self.data.get("requirements", [])]

    @property
    def capabilities(self) -> list[str]:
        """Capabilities the case needs: as the vector declares them, else as its content
        shows (an occurrence-suffixed step id, a NON_DETERMINISTIC answer)."""
        value = self.data.get("capabilities", self.data.get("capability"))
        if value is not None:
            return [value] if isinstance(value, str) else [str(v) for v in value]
        needed: list[str] = []
        expect = self.data.get("expect")
        steps = (self.data.get("request") or {}).get("steps") or {}
        ids = [*steps] + ([expect.get("id")] if isinstance(expect, dict) else [])
        if any(isinstance(i, str) and "#" in i for i in ids):
            needed.append("step-occurrences")
        if isinstance(expect, dict) and expect.get("code") == "NON_DETERMINISTIC":
            needed.append("strict-replay")
        return needed


@dataclass
class Spec:
    root: Path = field(default_factory=repo_root)

    @property
    def spec_dir(self) -> Path:
        # $DURABLE_CONFORMANCE_SPEC points at another spec/ folder (a branch, a fixture).
        override = os.environ.get("DURABLE_CONFORMANCE_SPEC")
        return Path(override).resolve() if override else self.root / "spec"

    def vectors(self, area: str) -> list[VectorCase]:
        cases: list[VectorCase] = []
        folder = self.spec_dir / "vectors" / area
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            document = json.loads(path.read_text())
            for case in document.get("cases", []):
                cases.append(VectorCase(area, path.name, case))
        return cases

    @cached_property
    def digest(self) -> str:
        """Fingerprint of the vectors and schemas: reports of another spec are not mixed."""
        sha = hashlib.sha256()
        for folder in ("vectors", "schemas"):
            base = self.spec_dir / folder
            for path in sorted(base.rglob("*.json")) if base.is_dir() else []:
                sha.update(path.relative_to(self.spec_dir).as_posix().encode())
                sha.update(path.read_bytes())
        return sha.hexdigest()[:16]

    @cached_property
    def scope(self) -> dict[str, dict[str, str]]:
        """requirements.json: per requirement, the parties it binds (app, engine, client)
        and at which level, plus `notObservable` when no black-box test can check it."""
        path = self.spec_dir / "requirements.json"
        if not path.is_file():
            return {}
        document = json.loads(path.read_text())
        requirements = document.get("requirements", {}) if isinstance(document, dict) else {}
        return requirements if isinstance(requirements, dict) else {}

    @cached_property
    def _schemas(self) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        folder = self.spec_dir / "schemas"
        if folder.is_dir():
            for path in sorted(folder.rglob("*.json")):
                found[path.relative_to(folder).as_posix()] = json.loads(path.read_text())
        return found

    @cached_property
    def _registry(self) -> Registry:
        registry: Registry = Registry()
        base = (self.spec_dir / "schemas").as_uri() + "/"
        for name, schema in self._schemas.items():
            resource = Resource.from_contents(schema, default_specification=DRAFT202012)
            registry = registry.with_resource(base + name, resource)
            if isinstance(schema.get("$id"), str):
                registry = registry.with_resource(schema["$id"], resource)
        return registry

    def schema_name(self, kind: str) -> str | None:
        for candidate in SCHEMA_CANDIDATES.get(kind, (f"{kind}.schema.json",)):
            for name in self._schemas:
                if name == candidate or name.endswith("/" + candidate):
                    return name
        return None

    def validate(self, kind: str, instance: Any) -> str | None:
        """None when valid (or no schema exists yet); else the first error, readable."""
        name = self.schema_name(kind)
        if name is None:
            return None
        schema = dict(self._schemas[name])
        schema.setdefault("$id", (self.spec_dir / "schemas").as_uri() + "/" + name)
        validator = jsonschema.Draft202012Validator(schema, registry=self._registry)
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        if not errors:
            return None
        first = errors[0]
        where = "/" + "/".join(str(p) for p in first.absolute_path)
        return f"{name} at {where}: {first.message[:300]}"

    @cached_property
    def requirement_ids(self) -> dict[str, str]:
        """Requirement ID -> the line of wire-protocol.md that defines it (trimmed)."""
        ids: dict[str, str] = {}
        path = self.spec_dir / "wire-protocol.md"
        if path.is_file():
            for line in path.read_text().splitlines():
                for match in REQUIREMENT_ID.finditer(line):
                    ids.setdefault(match.group(1), line.strip()[:200])
        registry = self.spec_dir / "registry.json"
        if registry.is_file():
            try:
                data = json.loads(registry.read_text())
            except ValueError:
                data = {}
            requirements = data.get("requirements") if isinstance(data, dict) else None
            if isinstance(requirements, dict):
                for key, value in requirements.items():
                    ids.setdefault(key, str(value)[:200])
            elif isinstance(requirements, list):
                for item in requirements:
                    if isinstance(item, dict) and "id" in item:
                        ids.setdefault(str(item["id"]), str(item.get("text", ""))[:200])
        return ids


def catalog_ids(root: Path | None = None) -> list[str]:
    """Function ids of the catalog, in manifest order, read from conformance/README.md."""
    readme = (root or repo_root()) / "conformance" / "README.md"
    ids: list[str] = []
    in_catalog = False
    for line in readme.read_text().splitlines():
        if line.startswith("## "):
            in_catalog = line.strip() == "## Function catalog"
            continue
        match = re.match(r"^\| `([a-z0-9-]+)` \|", line)
        if in_catalog and match:
            ids.append(match.group(1))
    return ids


def catalog_definitions(spec: Spec) -> dict[str, dict[str, Any]]:
    """Catalog function id -> its definition in wire form (spec/vectors/definitions/
    catalog.json): every member there must appear, equal, in the SDK's manifest."""
    return {str(case.data["catalogFunction"]): case.data["definition"]
            for case in spec.vectors("definitions") if "catalogFunction" in case.data}
