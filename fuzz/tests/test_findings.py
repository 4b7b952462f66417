"""Findings of the schemathesis run, each as the smallest failing request.

xfail(strict=True): a fix makes them XPASS, which fails the run until the marker goes.
"Engine" findings need a change in reference/; "spec" findings need one in spec/.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from durable_engine.validation import spec_dir
from jsonschema import Draft202012Validator
from referencing import Registry, Resource


def spec_validator(name: str) -> Draft202012Validator:
    """A validator for spec/schemas/<name>.schema.json with its sibling files registered."""
    base = spec_dir()
    assert base is not None, "spec/ not found"
    resources = []
    for path in Path(base, "schemas").glob("*.schema.json"):
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource.from_contents(schema)))
    registry = Registry().with_resources(resources)
    schema = json.loads(Path(base, "schemas", f"{name}.schema.json").read_text())
    return Draft202012Validator(schema, registry=registry)


# ---- engine ----------------------------------------------------------------------------------

@pytest.mark.xfail(strict=True, reason=(
    "engine: /runs/rerun (API-11, API-12) is in the OpenAPI document but not served: "
    "404 'no such endpoint'"))
def test_runs_rerun_is_served(api) -> None:  # noqa: ANN001 - fixture
    status, found = api.signed("/runs/search", {})
    assert status == 200 and found["runs"], found
    run_id = found["runs"][0]["runId"]
    status, answer = api.signed("/runs/rerun", {"runId": run_id, "idempotencyKey": "k-1"})
    assert status == 200, answer


@pytest.mark.xfail(strict=True, reason=(
    "engine: an integral JSON number written with a fraction (19.0) is an integer for JSON "
    "Schema and the spec's schemas, but the engine's hand checks answer 400 'must be an "
    "integer' (seen on /failures/search limit and /e/bulk ts)"))
@pytest.mark.parametrize(("path", "body"), [
    ("/failures/search", b'{"limit":19.0}'),
    ("/e/bulk", b'{"events":[{"name":"fuzz/other","ts":234.0}]}'),
])
def test_integral_numbers_with_a_fraction_are_integers(api, path: str, body: bytes) -> None:  # noqa: ANN001
    status, answer = api.signed_raw(path, body)
    assert status == 200, answer


@pytest.mark.xfail(strict=True, reason=(
    "engine: appUrl 'https://\\u00cf' breaks the schema's format: uri (a non-ASCII host) but "
    "POST /api/apps creates the app: the engine's schema check ignores 'format'"))
def test_app_url_must_be_a_uri(api) -> None:  # noqa: ANN001 - fixture
    status, answer = api.admin("POST", "/api/apps", {"name": "bad-url", "environment": "fuzz",
                                                     "appUrl": "https://\u00cf"})
    assert status == 400, answer


# ---- spec / OpenAPI --------------------------------------------------------------------------

@pytest.mark.xfail(strict=True, reason=(
    "spec: the served /openapi.yaml refers to schemas/*.schema.json relative to itself, "
    "which the engine does not serve (404), and those schemas' $ids point at "
    "https://durable.dev/: a client cannot resolve the served document on its own"))
def test_served_openapi_refs_resolve_from_the_engine(api) -> None:  # noqa: ANN001 - fixture
    status, raw = api.get("/openapi.yaml")
    assert status == 200
    document = yaml.safe_load(raw)
    refs: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and not ref.startswith("#"):
                refs.add(ref.partition("#")[0])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    missing = [ref for ref in sorted(refs) if api.get("/" + ref)[0] != 200]
    assert not missing, missing


@pytest.mark.xfail(strict=True, reason=(
    "spec: GET /openapi.yaml declares its 200 body as application/yaml with schema "
    "{type: string}; the body is a YAML mapping, so a client that parses YAML (schemathesis "
    "does) finds the answer breaking its schema; the schema should be {type: object} or absent"))
def test_openapi_document_matches_its_own_response_schema(api) -> None:  # noqa: ANN001
    status, raw = api.get("/openapi.yaml")
    document = yaml.safe_load(raw)
    schema = (document["paths"]["/openapi.yaml"]["get"]["responses"]["200"]["content"]
              ["application/yaml"].get("schema", {}))
    assert Draft202012Validator(schema).is_valid(document), schema


@pytest.mark.xfail(strict=True, reason=(
    "spec: function-definition.schema.json allows any non-empty trigger.cron, while "
    "decision 0012's grammar (and the engine) require 5 or 6 fields: {'cron': '0'} is "
    "schema-valid and answered 400"))
def test_cron_schema_matches_the_grammar(api) -> None:  # noqa: ANN001 - fixture
    definition = {"id": "c", "trigger": {"cron": "0"}}
    status, _ = api.signed("/fn/sync", {"sdkVersion": "t", "functions": [definition]})
    assert status == 400  # the engine applies the grammar
    assert not spec_validator("function-definition").is_valid(definition)


@pytest.mark.xfail(strict=True, reason=(
    "spec: runs-search-request cursor is any string, the engine requires 1-500 characters "
    "(an empty cursor is schema-valid and answered 400); the schema should carry "
    "minLength 1 / maxLength 500 like the engine, or the engine accept ''"))
def test_empty_cursor_agrees(api) -> None:  # noqa: ANN001 - fixture
    status, _ = api.signed("/runs/search", {"cursor": ""})
    schema_valid = spec_validator("runs-search-request").is_valid({"cursor": ""})
    assert schema_valid == (status == 200)
