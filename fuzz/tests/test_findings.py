"""Findings of the schemathesis runs, each as the smallest request that shows it.

Open findings are xfail(strict=True): a fix makes them XPASS, which fails the run until the
marker goes. "engine" findings need a change in reference/, "spec" ones in spec/. Fixed
findings stay as plain regression tests.
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

# Found missing (404 'no such endpoint'); served since reference 7196f55.
def test_runs_rerun_is_served(api) -> None:  # noqa: ANN001 - fixture
    status, found = api.signed("/runs/search", {})
    assert status == 200 and found["runs"], found
    run_id = found["runs"][0]["runId"]
    status, answer = api.signed("/runs/rerun", {"runId": run_id, "idempotencyKey": "k-1"})
    assert status == 200, answer


# Found answered 400 'must be an integer' (19.0 is an integer for JSON Schema and the spec's
# schemas); fixed in reference 0be583f.
@pytest.mark.parametrize(("path", "body"), [
    ("/failures/search", b'{"limit":19.0}'),
    ("/e/bulk", b'{"events":[{"name":"fuzz/other","ts":234.0}]}'),
    ("/e", b'{"name":"fuzz/other","ts":326.0}'),
])
def test_integral_numbers_with_a_fraction_are_integers(api, path: str, body: bytes) -> None:  # noqa: ANN001
    status, answer = api.signed_raw(path, body)
    assert status == 200, answer


# Found accepted (the schema's format: uri was not checked); fixed in reference 0be583f.
def test_app_url_must_be_a_uri(api) -> None:  # noqa: ANN001 - fixture
    status, answer = api.admin("POST", "/api/apps", {"name": "bad-url", "environment": "fuzz",
                                                     "appUrl": "https://\u00cf"})
    assert status == 400, answer


# Found answered 400 'must be a string of 1-50 characters' (the schema allows 100).
def test_environment_up_to_100_characters(api) -> None:  # noqa: ANN001 - fixture
    body = {"name": "long-env", "environment": "e" * 99, "appUrl": "http://127.0.0.1:9/x"}
    assert spec_validator("apps-create-request").is_valid(body)
    status, answer = api.admin("POST", "/api/apps", body)
    assert status == 200, answer


# Found as 500 INTERNAL ('integer out of range' from Postgres); now 400 (reference e8925fa).
@pytest.mark.parametrize(("path", "body"), [
    ("/fn/sync", b'{"sdkVersion":"t","functions":[],"maxRequestBytes":'
                 b'16458582065529981546874177323008}'),
    ("/e", b'{"name":"fuzz/other","ts":948603515625200812032}'),
    ("/e/bulk", b'{"events":[{"name":"fuzz/other","ts":948603515625200812032}]}'),
])
def test_huge_integers_are_not_server_errors(api, path: str, body: bytes) -> None:  # noqa: ANN001
    status, answer = api.signed_raw(path, body)
    assert status < 500, answer


# ---- spec / OpenAPI --------------------------------------------------------------------------

# Found: the served document's relative $refs (schemas/*.schema.json) were 404s.
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


# Found (spec): GET /openapi.yaml declared its YAML-mapping body as {type: string}; now object.
def test_openapi_document_matches_its_own_response_schema(api) -> None:  # noqa: ANN001
    status, raw = api.get("/openapi.yaml")
    document = yaml.safe_load(raw)
    schema = (document["paths"]["/openapi.yaml"]["get"]["responses"]["200"]["content"]
              ["application/yaml"].get("schema", {}))
    assert Draft202012Validator(schema).is_valid(document), schema


# Found (spec): trigger.cron allowed any non-empty string; the schema now asks for 5 or 6 fields.
def test_cron_schema_matches_the_grammar(api) -> None:  # noqa: ANN001 - fixture
    definition = {"id": "c", "trigger": {"cron": "0"}}
    status, _ = api.signed("/fn/sync", {"sdkVersion": "t", "functions": [definition]})
    assert status == 400  # the engine applies the grammar
    assert not spec_validator("function-definition").is_valid(definition)


# Found (spec): U+0000 was schema-valid but refused by the engine; ids and names now exclude it.
def test_nul_in_strings_agrees(api) -> None:  # noqa: ANN001 - fixture
    body = {"functionId": "fuzz\u0000fn"}
    status, _ = api.signed("/versions/status", body)
    assert status == 400
    assert not spec_validator("versions-status-request").is_valid(body)


# Found: unixMs had no maximum while the engine refuses ts above 2^53-1; the spec now has it.
def test_ts_maximum_agrees(api) -> None:  # noqa: ANN001 - fixture
    body = {"name": "fuzz/other", "ts": 9007199254740992}
    status, _ = api.signed("/e", body)
    assert status == 400
    assert not spec_validator("event-input").is_valid(body)


# Found (spec): the appUrl pattern accepted 'http://' with no host; it now requires one.
def test_app_url_without_host_agrees(api) -> None:  # noqa: ANN001 - fixture
    body = {"name": "no-host", "environment": "fuzz", "appUrl": "http://"}
    status, _ = api.admin("POST", "/api/apps", body)
    assert status == 400
    assert not spec_validator("apps-create-request").is_valid(body)


# Found (spec): isoInstant accepted 0000-00-00T...; its pattern now bounds every field.
def test_impossible_instant_agrees(api) -> None:  # noqa: ANN001 - fixture
    body = {"createdFrom": "0000-00-00T00:00:00.000Z"}
    status, _ = api.signed("/runs/bulk-cancel", body)
    assert status == 400
    assert not spec_validator("runs-bulk-cancel-request").is_valid(body)


# Found: an empty cursor was schema-valid but answered 400; the engine now reads it as the
# first page.
def test_empty_cursor_agrees(api) -> None:  # noqa: ANN001 - fixture
    status, _ = api.signed("/runs/search", {"cursor": ""})
    schema_valid = spec_validator("runs-search-request").is_valid({"cursor": ""})
    assert schema_valid == (status == 200)


# Found (spec): a transform is any string to the schema; only the text says it must compile
# as JMESPath ([HOOK-1], [HOOK-6]), so "0" is schema-valid and refused with 400 at
# /transform, on create and on update alike.
@pytest.mark.xfail(strict=True, reason="spec: JSON Schema cannot express the JMESPath grammar")
def test_webhook_transform_schema_says_jmespath() -> None:
    body = {"name": "x", "transform": "0"}
    assert not spec_validator("webhook-create-request").is_valid(body)


# Found (engine) and fixed: /w/{token} (webhook ingest, POST only) shared its path with the
# dashboard's workspace pages, now under /ws/{ws}, so Allow listed GET for a webhook URL.
def test_a_webhook_url_answers_post_only(api) -> None:  # noqa: ANN001 - fixture
    status, _ = api.get("/w/" + "x" * 43)
    assert status == 405
