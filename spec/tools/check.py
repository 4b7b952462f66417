"""The spec check (`nox -s spec`).

1. every schema under spec/schemas is a valid JSON Schema 2020-12 and every $ref resolves;
2. every vector file validates against spec/schemas/vectors/<area>.schema.json; case ids
   are unique; capability names exist in registry.json;
3. replay requests/expected ops validate against the message schemas;
4. definitions cases agree with the function-definition schema plus the semantic rules
   the schema cannot express (SEMANTIC_RULES below), including the errorPath;
5. signature, cron, duration, match and key cases agree with reference implementations
   of the spec's rules (recomputed here, so a wrong vector fails);
6. requirement IDs in wire-protocol.md are unique, every cited ID exists, every
   MUST/SHOULD/SHALL/REQUIRED sits in an ID'd requirement; vector coverage (the share
   of IDs a vector cites) is printed and must not fall under its floor; every MUST is
   cited by a vector or a conformance check/scenario;
7. openapi.yaml is a valid OpenAPI 3.1 document whose $refs point into schemas/ and whose
   paths are exactly the engine API of registry.json;
8. the committed vectors equal a fresh run of tools/gen_vectors.py;
9. a self-test breaks a copy of one case per check and makes sure each check notices.

Exit status 1 on any failure.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

sys.path.insert(0, str(Path(__file__).parent))
from cronref import Cron, CronError, iso  # noqa: E402

SPEC = Path(__file__).resolve().parent.parent
SCHEMAS = SPEC / "schemas"
VECTORS = SPEC / "vectors"

# Rules of spec/wire-protocol.md that the JSON Schemas cannot decide; checked here.
SEMANTIC_RULES = {
    "DEF-14": "a cron trigger must parse per CRON-1..CRON-3 (checked with tools/cronref.py)",
    "DEF-15": "runtime ids unique within one sync (api vectors: the later duplicate's /id)",
    "SIG-*": "signature vectors: expected MACs and validity recomputed from the rules",
    "GRPC-4": "grpc-signatures vectors: MAC over timestamp.method.request bytes recomputed",
    "CRON-*": "cron vectors: validity and next fire times recomputed with tools/cronref.py",
    "DUR-*": "duration vectors: recomputed from DUR-1..DUR-3",
    "MATCH-*/PATH-*": "match and key vectors: recomputed from PATH-1..3 and MATCH-1..3",
    "API-3": "api vectors: validity and error.path from the request schema named in openapi.yaml",
}

failures: list[str] = []


def fail(message: str) -> None:
    failures.append(message)


# ------------------------------------------------------------------ schemas


def load_schemas() -> tuple[dict[str, dict[str, Any]], Registry]:
    by_file: dict[str, dict[str, Any]] = {}
    resources = []
    for path in sorted(SCHEMAS.rglob("*.schema.json")):
        schema = json.loads(path.read_text())
        rel = str(path.relative_to(SCHEMAS))
        try:
            Draft202012Validator.check_schema(schema)
        except Exception as error:  # noqa: BLE001 - report every bad schema
            fail(f"schemas/{rel}: not a valid 2020-12 schema: {error}")
        if schema.get("$schema") != "https://json-schema.org/draft/2020-12/schema":
            fail(f"schemas/{rel}: $schema must be 2020-12")
        if "$id" not in schema:
            fail(f"schemas/{rel}: no $id")
        by_file[rel] = schema
        resources.append((schema.get("$id", rel), Resource.from_contents(schema, DRAFT202012)))
    registry: Registry = Registry().with_resources(resources)
    for rel, schema in by_file.items():
        for ref in find_refs(schema):
            try:
                registry.resolver(base_uri=schema["$id"]).lookup(ref)
            except Exception as error:  # noqa: BLE001
                fail(f"schemas/{rel}: $ref {ref} does not resolve: {error}")
    return by_file, registry


def find_refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from find_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from find_refs(value)


def validator(
    schemas: dict[str, dict[str, Any]], registry: Registry, name: str
) -> Draft202012Validator:
    return Draft202012Validator(schemas[name], registry=registry)


def pointer(parts: Any) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def error_pointers(error: ValidationError) -> set[str]:
    """Every JSON Pointer an error can be said to point at (leaf errors included)."""
    base = pointer(error.absolute_path)
    found = {base}
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        found |= {f"{base}/{name}" for name in error.instance if name not in allowed}
    path = list(error.absolute_schema_path)
    if "dependentSchemas" in path:
        found.add(f"{base}/{path[path.index('dependentSchemas') + 1]}")
    for sub in error.context or []:
        found |= error_pointers(sub)
    return found


# ------------------------------------------------------------------ vectors


def load_vectors() -> dict[str, list[dict[str, Any]]]:
    areas: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(VECTORS.glob("*/*.json")):
        document = json.loads(path.read_text())
        area = path.parent.name
        schema_path = SCHEMAS / "vectors" / f"{area}.schema.json"
        if not schema_path.exists():
            fail(f"vectors/{area}: no schemas/vectors/{area}.schema.json")
            continue
        for error in Draft202012Validator(json.loads(schema_path.read_text())).iter_errors(
            document
        ):
            fail(f"{path.relative_to(SPEC)}{pointer(error.absolute_path)}: {error.message}")
        if document.get("area") != area:
            fail(f"{path.relative_to(SPEC)}: area must be {area!r}")
        areas.setdefault(area, []).extend(document.get("cases", []))
    return areas


def substitute(expect: Any) -> Any:
    if isinstance(expect, dict):
        if set(expect) == {"$afterMs"}:
            return "2026-01-01T00:00:00.000Z"
        if set(expect) == {"$type"}:
            return "x"
        return {k: substitute(v) for k, v in expect.items()}
    if isinstance(expect, list):
        return [substitute(v) for v in expect]
    return expect


def catalog_ids() -> set[str]:
    readme = SPEC.parent / "conformance" / "README.md"
    if not readme.exists():
        return set()
    return set(re.findall(r"^\| `([a-z-]+)` \|", readme.read_text(), re.M))


def check_replay(cases: list[dict[str, Any]], schemas: dict[str, Any], registry: Registry) -> None:
    invoke = validator(schemas, registry, "invoke-request.schema.json")
    op = validator(schemas, registry, "op.schema.json")
    catalog = catalog_ids()
    for case in cases:
        where = f"replay {case['id']}"
        if catalog and case["function"] not in catalog:
            fail(f"{where}: function {case['function']!r} is not in the catalog")
        if "rawBody" not in case:
            for error in invoke.iter_errors(case["request"]):
                fail(f"{where}: request{pointer(error.absolute_path)}: {error.message}")
        if "expect" in case:
            errors = list(op.iter_errors(substitute(case["expect"])))
            for error in errors:
                fail(f"{where}: expect{pointer(error.absolute_path)}: {error.message}")


def catalog_order() -> list[str]:
    readme = SPEC.parent / "conformance" / "README.md"
    if not readme.exists():
        return []
    text = readme.read_text().split("## Function catalog", 1)[-1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([a-z-]+)` \|", text, re.M)


def check_definitions(
    cases: list[dict[str, Any]], schemas: dict[str, Any], registry: Registry
) -> None:
    definition = validator(schemas, registry, "function-definition.schema.json")
    listed = [c["catalogFunction"] for c in cases if "catalogFunction" in c]
    if listed and catalog_order() and listed != catalog_order():
        fail(f"definitions: catalog vectors list {listed}, conformance/README.md's catalog"
             f" is {catalog_order()}")
    for case in cases:
        where = f"definitions {case['id']}"
        errors = list(definition.iter_errors(case["definition"]))
        pointers: set[str] = set()
        for error in errors:
            pointers |= error_pointers(error)
        trigger = (
            case["definition"].get("trigger") if isinstance(case["definition"], dict) else None
        )
        if not errors and isinstance(trigger, dict) and "cron" in trigger:
            try:
                Cron(trigger["cron"])
            except CronError:
                pointers.add("/trigger/cron")  # DEF-14
        accepted = not pointers
        if accepted != case["valid"]:
            fail(f"{where}: schema+rules say valid={accepted}, vector says {case['valid']}")
        elif not case["valid"] and case["errorPath"] not in pointers:
            fail(f"{where}: errorPath {case['errorPath']!r} not among {sorted(pointers)}")


HEX64 = re.compile(r"^[0-9a-f]{64}$")


def mac(key: str, message: str) -> str:
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def sig_ok(value: str | None, keys: list[str], message: str) -> bool:
    return (
        value is not None
        and bool(HEX64.match(value))
        and any(hmac.compare_digest(mac(k, message), value) for k in keys)
    )


def fresh(timestamp: str | None, now: int) -> bool:
    return timestamp is not None and timestamp.isdigit() and abs(now - int(timestamp)) <= 300_000


def check_signatures(cases: list[dict[str, Any]]) -> None:
    for case in cases:
        h, keys, body, now = case["headers"], case["keys"], case["body"], case["now"]
        v1 = h.get("x-durable-signature")
        v2 = h.get("x-durable-signature-v2")
        ts = h.get("x-durable-timestamp")
        hop = case["hop"]
        if hop in ("invoke", "response"):
            valid = sig_ok(v1, keys, body)
        elif hop == "manifest":
            valid = fresh(ts, now) and sig_ok(v1, keys, ts or "")
        elif hop == "api":
            valid = "x-durable-app" in h and sig_ok(v1, keys, body)
        elif hop == "invoke-v2":
            valid = sig_ok(v1, keys, body) and fresh(ts, now) and sig_ok(v2, keys, f"{ts}.{body}")
        elif hop == "response-v2":
            valid = sig_ok(v1, keys, body) and sig_ok(
                v2, keys, f"{case['requestTimestamp']}.{body}"
            )
        else:  # api-v2: the v1 header is ignored
            valid = "x-durable-app" in h and fresh(ts, now) and sig_ok(v2, keys, f"{ts}.{body}")
        if valid != case["valid"]:
            fail(f"signatures {case['id']}: rules say valid={valid}")
        if "timestamp" in case and case["timestamp"] != ts:
            fail(f"signatures {case['id']}: timestamp differs from the header")
        if case["valid"]:
            v2_timestamp = case.get("timestamp", case.get("requestTimestamp"))
            inputs = {
                "x-durable-signature": case.get("timestamp", "") if hop == "manifest" else body,
                "x-durable-signature-v2": f"{v2_timestamp}.{body}",
            }
            for name, value in case["expectedSignatures"].items():
                if value != mac(case["signingKey"], inputs[name]):
                    fail(f"signatures {case['id']}: expected {name} is not the MAC of its input")
            if len(keys) == 2 and "key-rotation" not in case.get("capabilities", []):
                fail(f"signatures {case['id']}: two keys need the key-rotation capability")


def check_grpc_signatures(cases: list[dict[str, Any]]) -> None:
    """[GRPC-4]: MAC over timestamp.method.request (exact bytes), timestamp in the window."""
    for case in cases:
        ts, sig, keys = case.get("timestamp"), case.get("signature"), case["keys"]
        request = base64.b64decode(case["request"], validate=True)

        def message(stamp: str, method: str = case["method"], request: bytes = request) -> bytes:
            return f"{stamp}.{method}.".encode() + request

        valid = (
            ts is not None
            and fresh(ts, case["now"])
            and sig is not None
            and bool(HEX64.match(sig))
            and any(
                hmac.compare_digest(hmac.new(k.encode(), message(ts), "sha256").hexdigest(), sig)
                for k in keys
            )
        )
        if valid != case["valid"]:
            fail(f"grpc-signatures {case['id']}: rules say valid={valid}")
        if case["valid"]:
            expected = hmac.new(case["signingKey"].encode(), message(ts or ""), "sha256")
            if case["expectedSignature"] != expected.hexdigest():
                fail(f"grpc-signatures {case['id']}: expectedSignature is not the MAC")
            if case["signingKey"] not in keys:
                fail(f"grpc-signatures {case['id']}: signed with a key the verifier lacks")


def check_cron(cases: list[dict[str, Any]]) -> None:
    for case in cases:
        try:
            cron = Cron(case["expr"])
        except CronError:
            if case["valid"]:
                fail(f"cron {case['id']}: reference rejects {case['expr']!r}")
            continue
        if not case["valid"]:
            fail(f"cron {case['id']}: reference accepts {case['expr']!r}")
            continue
        after = datetime.fromisoformat(case["after"].replace("Z", "+00:00"))
        got = [iso(x) for x in cron.next_after(after, len(case["next"]))]
        if got != case["next"]:
            fail(f"cron {case['id']}: reference gives {got}")


DURATION = re.compile(r"^([0-9]+)(ms|s|m|h|d)$")
UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def check_durations(cases: list[dict[str, Any]]) -> None:
    for case in cases:
        value = case["input"]
        ms: int | None = None
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            ms = value
        elif isinstance(value, str) and (m := DURATION.match(value)):
            ms = int(m.group(1)) * UNITS[m.group(2)]
        if ms is not None and ms > 2**53 - 1:
            ms = None
        if (ms is not None) != case["valid"] or (ms is not None and ms != case["ms"]):
            fail(f"durations {case['id']}: rules give {ms}")


MISSING = object()


def resolve(data: Any, path: str) -> Any:
    node = data
    for segment in path.split("."):
        if isinstance(node, dict) and segment in node:
            node = node[segment]
        elif (
            isinstance(node, list)
            and re.fullmatch(r"0|[1-9][0-9]*", segment)
            and int(segment) < len(node)
        ):
            node = node[int(segment)]
        else:
            return MISSING
    return node


def json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def canonical(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dict):
        items = (
            json.dumps(k, ensure_ascii=False) + ":" + canonical(value[k]) for k in sorted(value)
        )
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def check_match_and_keys(
    match_cases: list[dict[str, Any]], key_cases: list[dict[str, Any]]
) -> None:
    for case in match_cases:
        event = case["event"]
        result = event["name"] == case["waitEvent"] and all(
            (value := resolve(event.get("data"), path)) is not MISSING
            and json_equal(value, expected)
            for path, expected in (case["match"] or {}).items()
        )
        if result != case["matches"]:
            fail(f"match {case['id']}: rules give {result}")
    for case in key_cases:
        value = resolve(case["event"].get("data"), case["key"])
        text = "null" if value is MISSING else canonical(value)
        if text != case["value"]:
            fail(f"keys {case['id']}: rules give {text}")


def request_schemas() -> dict[str, str]:
    """API path -> the schema file of its POST request body, read from openapi.yaml."""
    document = yaml.safe_load((SPEC / "openapi.yaml").read_text())
    found: dict[str, str] = {}
    for path, item in document.get("paths", {}).items():
        body = (item.get("post") or {}).get("requestBody")
        if body:
            ref = body["content"]["application/json"]["schema"]["$ref"]
            found[path] = ref.removeprefix("schemas/")
    return found


def check_api(cases: list[dict[str, Any]], schemas: dict[str, Any], registry: Registry) -> None:
    by_path = request_schemas()
    for case in cases:
        where = f"api {case['id']}"
        if case["path"] not in by_path:
            fail(f"{where}: {case['path']} takes no JSON body in openapi.yaml")
            continue
        if "rawBody" in case:
            try:
                body = json.loads(case["rawBody"])
            except ValueError:
                if case.get("errorCode") != "INVALID_JSON":
                    fail(f"{where}: a body that is not JSON must expect INVALID_JSON")
                continue
        else:
            body = case["body"]
        errors = list(validator(schemas, registry, by_path[case["path"]]).iter_errors(body))
        pointers: set[str] = set()
        for error in errors:
            pointers |= error_pointers(error)
        seen_ids: set[str] = set()
        for index, definition in enumerate(
            body.get("functions", []) if isinstance(body, dict) else []
        ):
            if isinstance(definition, dict) and isinstance(definition.get("id"), str):
                runtime = definition["id"] + (
                    f"@{definition['version']}" if "version" in definition else "")
                if runtime in seen_ids:
                    pointers.add(f"/functions/{index}/id")  # DEF-15
                seen_ids.add(runtime)
            trigger = definition.get("trigger") if isinstance(definition, dict) else None
            if isinstance(trigger, dict) and isinstance(trigger.get("cron"), str):
                try:
                    Cron(trigger["cron"])
                except CronError:
                    pointers.add(f"/functions/{index}/trigger/cron")  # DEF-14
        if (not pointers) != case["valid"]:
            fail(f"{where}: schema says valid={not pointers}, vector says {case['valid']}")
        elif not case["valid"]:
            if case["errorCode"] != "INVALID_REQUEST":
                fail(f"{where}: a schema failure is INVALID_REQUEST")
            elif case["errorPath"] not in pointers:
                fail(f"{where}: errorPath {case['errorPath']!r} not among {sorted(pointers)}")


def registry_route(registry: dict[str, Any], path: str) -> tuple[str, dict[str, Any]] | None:
    """The engine API path of registry.json that `path` is ({id} matches one segment)."""
    for template, route in registry["engineApi"]["paths"].items():
        if re.fullmatch(re.sub(r"\\\{[a-z]+\\\}", "[^/]+", re.escape(template)), path):
            return template, route
    return None


def check_exchanges(cases: list[dict[str, Any]], registry: dict[str, Any]) -> None:
    """Each exchange agrees with registry.json: known path and method (or the 404/405 it
    expects, with `Allow` = the registry's methods), the status of its error code, and
    the credentials the path takes."""
    codes = registry["errorCodes"]
    for case in cases:
        where = f"exchanges {case['id']}"
        expect = case["expect"]
        code = expect.get("errorCode")
        if code is not None and codes.get(code, {}).get("httpStatus") != expect["status"]:
            fail(f"{where}: {code} is HTTP {codes.get(code, {}).get('httpStatus')} in"
                 f" registry.json, the case expects {expect['status']}")
        if "{app}" in case["path"] and not case.get("freshApp"):
            fail(f"{where}: {{app}} in the path needs freshApp")
        found = registry_route(registry, case["path"].replace("{app}", "app-id"))
        if found is None:
            if (expect["status"], code) != (404, "NOT_FOUND"):
                fail(f"{where}: {case['path']} is no engine API path, so 404 NOT_FOUND")
            continue
        _, route = found
        methods = route.get("methods") or [route["method"]]
        if case["method"] not in methods:
            if expect["status"] != 405 or sorted(expect.get("allow", [])) != sorted(methods):
                fail(f"{where}: {case['method']} is not among {methods}: expect 405 and"
                     f" allow {methods}")
            continue
        auth = route["auth"]
        fitting = {"signature": {"workspace", "wrong-key", "unknown-app", "none"},
                   "admin": {"admin", "wrong-token", "none"}, "none": {"none"},
                   "webhook": {"none"}}[auth]
        if case["auth"] not in fitting:
            fail(f"{where}: {case['path']} takes {auth} credentials, not {case['auth']}")
        refused = {"wrong-key", "unknown-app", "wrong-token"} | (
            {"none"} if auth not in ("none", "webhook") else set())
        want = "INVALID_SIGNATURE" if auth == "signature" else "UNAUTHORIZED"
        if case["auth"] in refused and expect["status"] != 413 and code != want:
            fail(f"{where}: {case['auth']} on a {auth} path is 401 {want}")


def check_runs(cases: list[dict[str, Any]], schemas: dict[str, Any], registry: Registry) -> None:
    """Run scenarios: every definition is valid (§9), every answered op is a valid op
    unless marked `badOp`, and the expectations name only the case's functions."""
    definition = validator(schemas, registry, "function-definition.schema.json")
    op = validator(schemas, registry, "op.schema.json")
    for case in cases:
        where = f"runs {case['id']}"
        ids_ = {f["id"] for f in case["functions"]}
        for function in case["functions"]:
            full = {"id": function["id"],
                    "trigger": {"event": f"conf.fake.{function['id']}"},
                    **function["definition"]}
            runtime = full["id"] + (f"@{full['version']}" if "version" in full else "")
            if runtime != function["id"]:
                fail(f"{where}: function {function['id']!r} has runtime id {runtime!r}")
            for error in definition.iter_errors(full):
                fail(f"{where}: {function['id']}{pointer(error.absolute_path)}: {error.message}")
            for answer in function["answers"]:
                if "op" in answer and not answer.get("badOp"):
                    value = dict(answer["op"])
                    if "fillData" in answer:
                        value["data"] = "x" * answer["fillData"]
                    if "untilInMs" in answer:
                        value["until"] = "2026-01-01T00:00:00.000Z"
                    for error in op.iter_errors(value):
                        fail(f"{where}: answer{pointer(error.absolute_path)}: {error.message}")
                elif answer.get("badOp") and not list(op.iter_errors(answer.get("op"))):
                    fail(f"{where}: an answer marked badOp is a valid op")
        named = {r["function"] for runs in case["expect"]["runs"] for r in runs}
        named |= set(case["expect"].get("invocations", {}))
        if named - ids_:
            fail(f"{where}: expectations name unknown functions {sorted(named - ids_)}")
        if len(case["expect"]["runs"]) != len(case["events"]):
            fail(f"{where}: expect.runs needs one list per event")
        if len(case["expect"].get("receipts", case["events"])) != len(case["events"]):
            fail(f"{where}: expect.receipts needs one object per event")


# ------------------------------------------------------------------ requirements

DEFINED = re.compile(r"^\s*- \[([A-Z]+-[0-9]+)\]", re.M)
CITED = re.compile(r"\[([A-Z]+-[0-9]+)\]")
KEYWORD = re.compile(r"\b(MUST|SHOULD|SHALL|REQUIRED|RECOMMENDED)\b")


def check_requirements(areas: dict[str, list[dict[str, Any]]]) -> tuple[list[str], set[str]]:
    text = (SPEC / "wire-protocol.md").read_text()
    defined = DEFINED.findall(text)
    seen: set[str] = set()
    for rid in defined:
        if rid in seen:
            fail(f"wire-protocol.md: requirement {rid} defined twice")
        seen.add(rid)
    in_requirement = False
    for number, line in enumerate(text.split("\n"), 1):
        if DEFINED.match(line):
            in_requirement = True
        elif not line.startswith("  "):
            in_requirement = False
        if (
            not in_requirement
            and KEYWORD.search(line)
            and '"RECOMMENDED"' not in line
            and '"MUST"' not in line
        ):
            fail(f"wire-protocol.md:{number}: normative keyword outside an ID'd requirement")
    for rid in set(CITED.findall(text)) - seen:
        fail(f"wire-protocol.md cites [{rid}], which is not defined")
    covered: set[str] = set()
    ids: set[str] = set()
    for area, cases in areas.items():
        for case in cases:
            if case["id"] in ids:
                fail(f"vector id {case['id']} is not unique")
            ids.add(case["id"])
            for rid in case["requirements"]:
                if rid not in seen:
                    fail(f"{area} {case['id']} cites {rid}, which wire-protocol.md does not define")
                covered.add(rid)
    return defined, covered


PARTIES = {"app", "engine", "client", "grpc"}
LEVELS = {"MUST", "SHOULD", "MAY"}


def check_scope(defined: list[str]) -> dict[str, dict[str, str]]:
    """requirements.json names, for every requirement and nothing else, the parties it
    binds and at which level; the level must be a keyword the requirement's text uses
    (a plain statement of behaviour counts as MUST)."""
    scope = json.loads((SPEC / "requirements.json").read_text())["requirements"]
    text = (SPEC / "wire-protocol.md").read_text()
    bodies = dict(re.findall(r"^- \[([A-Z]+-[0-9]+)\] (.*?)(?=\n- \[|\n\n|\n#|\n?\Z)", text,
                             re.M | re.S))
    for rid in defined:
        if rid not in scope:
            fail(f"requirements.json: {rid} is missing")
    for rid, entry in scope.items():
        if rid not in defined:
            fail(f"requirements.json: {rid} is not defined in wire-protocol.md")
            continue
        words = set(re.findall(r"\b(MUST|SHOULD|MAY|SHALL|REQUIRED)\b", bodies.get(rid, "")))
        for party, level in entry.items():
            if party == "notObservable":
                if not isinstance(level, str) or len(level) < 20:
                    fail(f"requirements.json: {rid} notObservable needs a reason")
                continue
            if party not in PARTIES or level not in LEVELS:
                fail(f"requirements.json: {rid} has {party}: {level}")
            elif level != "MUST" and level not in words:
                fail(f"requirements.json: {rid} is {level} for {party}, its text never says so")
    return scope


# Vector coverage: the share of requirement IDs (that bind an implementation and can be
# observed) that at least one vector cites. The goal is 0.90: protocol 1.0's rules reach it
# (156 of 173); with the 1.1 and gRPC rules, which have fewer vectors yet, 177 of 209. The
# floor is what the vectors reach, raised as vectors are written: falling under it fails.
VECTOR_COVERAGE_GOAL = 0.90
VECTOR_COVERAGE_FLOOR = 0.90
SCENARIOS = SPEC.parent / "conformance" / "src" / "durable_conformance"


def scenario_ids() -> set[str]:
    """Requirement IDs the conformance suite's own checks and engine scenarios cite."""
    found: set[str] = set()
    for path in SCENARIOS.rglob("*.py") if SCENARIOS.is_dir() else []:
        found |= set(re.findall(r"\b([A-Z]+-[0-9]+)\b", path.read_text()))
    return found


def declared_gaps() -> dict[str, str]:
    """Requirement ID -> the harness that declares it a gap (expectedGaps.requirements)."""
    found: dict[str, str] = {}
    for path in sorted((SPEC.parent / "conformance" / "harnesses").glob("*.json")):
        gaps = json.loads(path.read_text()).get("expectedGaps", {}).get("requirements", {})
        for rid in gaps:
            found.setdefault(rid, path.stem)
    return found


def check_coverage(defined: list[str], covered: set[str], scope: dict[str, Any]) -> None:
    """Print vector coverage and fail under the floor; fail when a requirement that some
    party MUST meet is cited by neither a vector nor a conformance check or scenario
    (unless requirements.json says no black-box test can observe it)."""
    # Rules that bind no implementation (the protocol's evolution) and rules no black-box
    # test can observe cannot be written as data: they are not counted.
    countable = [rid for rid in defined if "notObservable" not in scope.get(rid, {})
                 and any(party in PARTIES for party in scope.get(rid, {}))]
    by_vector = [rid for rid in countable if rid in covered]
    share = len(by_vector) / max(len(countable), 1)
    print(f"vector coverage: {len(by_vector)} of {len(countable)} requirement IDs that bind an"
          f" implementation and can be observed are cited by a vector ({share:.1%}; goal"
          f" {VECTOR_COVERAGE_GOAL:.0%}, floor {VECTOR_COVERAGE_FLOOR:.0%}; not counted:"
          f" {' '.join(r for r in defined if r not in countable)})")
    uncovered = [rid for rid in defined if rid not in covered]
    print(f"no vector ({len(uncovered)}): {' '.join(uncovered)}")
    if share < VECTOR_COVERAGE_FLOOR:
        fail(f"vector coverage {share:.1%} is under the floor {VECTOR_COVERAGE_FLOOR:.0%}:"
             " add vectors for the new requirements")
    scenarios = scenario_ids()
    either = [rid for rid in defined if rid in covered or rid in scenarios]
    print(f"vector or conformance scenario: {len(either)} of {len(defined)}")
    declared = declared_gaps()
    for rid in defined:
        entry = scope.get(rid, {})
        binding = any(level == "MUST" for party, level in entry.items() if party in PARTIES)
        if binding and "notObservable" not in entry and rid not in either \
                and rid not in declared:
            fail(f"{rid}: a MUST that no vector and no conformance check or scenario cites"
                 " (nor does a harness declare it a gap)")
    waiting = [rid for rid in defined if rid not in either and rid in declared]
    if waiting:
        print(f"declared gaps with no check yet ({len(waiting)}): {' '.join(waiting)}")
    rest = [rid for rid in defined if rid not in either]
    print(f"cited by neither ({len(rest)}; SHOULD/MAY, evolution rules or not observable):"
          f" {' '.join(rest)}")


def check_registry(areas: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    registry = json.loads((SPEC / "registry.json").read_text())
    known = set(registry["capabilities"])
    for area, cases in areas.items():
        for case in cases:
            for capability in case.get("capabilities", []) + case.get("withoutCapabilities", []):
                if capability not in known:
                    fail(f"{area} {case['id']}: capability {capability!r} not in registry.json")
    text = (SPEC / "wire-protocol.md").read_text()
    for code in registry["errorCodes"]:
        if code not in text:
            fail(f"registry error code {code} is not described in wire-protocol.md")
    for capability in known:
        if capability not in text:
            fail(f"registry capability {capability} is not described in wire-protocol.md")
    return registry


# ------------------------------------------------------------------ openapi


def check_openapi(registry: dict[str, Any], schema_files: dict[str, Any]) -> None:
    from openapi_spec_validator import validate
    from openapi_spec_validator.readers import read_from_filename

    path = SPEC / "openapi.yaml"
    document = yaml.safe_load(path.read_text())
    if not str(document.get("openapi", "")).startswith("3.1"):
        fail("openapi.yaml: openapi must be 3.1.x")
    try:
        spec_dict, base_uri = read_from_filename(str(path))
        validate(spec_dict, base_uri=base_uri)
    except Exception as error:  # noqa: BLE001
        fail(f"openapi.yaml: not a valid OpenAPI 3.1 document: {str(error)[:500]}")
    for ref in find_refs(document):
        target = ref.split("#", 1)[0]
        if target and target.removeprefix("schemas/") not in schema_files:
            fail(f"openapi.yaml: $ref {ref} names no file in schemas/")
    expected = set(registry["engineApi"]["paths"])
    actual = set(document.get("paths", {}))
    if expected != actual:
        fail(
            f"openapi.yaml paths differ from registry: "
            f"missing {expected - actual}, extra {actual - expected}"
        )


def check_generated() -> None:
    """The committed vector files are exactly what tools/gen_vectors.py writes."""
    import os
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "DURABLE_VECTORS_OUT": scratch}
        generator = Path(__file__).parent / "gen_vectors.py"
        done = subprocess.run([sys.executable, str(generator)], env=env, capture_output=True)
        if done.returncode != 0:
            fail(f"gen_vectors.py failed: {done.stderr.decode()[-500:]}")
            return
        fresh = {p.relative_to(scratch): p.read_text() for p in Path(scratch).glob("*/*.json")}
        committed = {p.relative_to(VECTORS): p.read_text() for p in VECTORS.glob("*/*.json")}
        for name in sorted(set(fresh) | set(committed), key=str):
            if fresh.get(name) != committed.get(name):
                fail(f"vectors/{name} differs from what tools/gen_vectors.py generates")


def self_test(
    areas: dict[str, list[dict[str, Any]]], schemas: dict[str, Any], registry: Registry
) -> None:
    """Break one copy of a case per check and make sure that check notices."""
    import copy

    def first(area: str, **where: Any) -> dict[str, Any]:
        for case in areas.get(area, []):
            if all(case.get(k) == v for k, v in where.items()):
                return copy.deepcopy(case)
        raise LookupError(f"self-test needs a {area} case with {where}")

    def broken(name: str, run: Any, case: dict[str, Any], mutate: Any) -> None:
        mutate(case)
        before = len(failures)
        run([case])
        if len(failures) == before:
            fail(f"self-test: the {name} check did not notice a broken case")
        del failures[before:]

    mutations = [
        (
            "signature",
            check_signatures,
            first("signatures", valid=True, hop="invoke"),
            lambda c: c["headers"].update({"x-durable-signature": "0" * 64}),
        ),
        (
            "grpc signature",
            check_grpc_signatures,
            first("grpc-signatures", valid=True, carrier="metadata"),
            lambda c: c.update({"method": c["method"] + "X"}),
        ),
        (
            "replay",
            lambda cs: check_replay(cs, schemas, registry),
            first("replay", function="serial"),
            lambda c: c["expect"].update({"extra": 1}),
        ),
        (
            "definition validity",
            lambda cs: check_definitions(cs, schemas, registry),
            first("definitions", valid=True),
            lambda c: c["definition"].update({"retries": 99}),
        ),
        (
            "definition errorPath",
            lambda cs: check_definitions(cs, schemas, registry),
            first("definitions", valid=False, errorPath="/retries"),
            lambda c: c.update({"errorPath": "/priority"}),
        ),
        ("cron", check_cron, first("cron", valid=True), lambda c: c["next"].reverse()),
        (
            "duration",
            check_durations,
            first("durations", valid=True),
            lambda c: c.update({"ms": c["ms"] + 1}),
        ),
        (
            "match",
            lambda cs: check_match_and_keys(cs, []),
            first("match"),
            lambda c: c.update({"matches": not c["matches"]}),
        ),
        (
            "key",
            lambda cs: check_match_and_keys([], cs),
            first("keys"),
            lambda c: c.update({"value": c["value"] + " "}),
        ),
        (
            "api",
            lambda cs: check_api(cs, schemas, registry),
            first("api", valid=True),
            lambda c: c.update({"valid": False, "errorCode": "INVALID_REQUEST", "errorPath": ""}),
        ),
    ]
    mutations.append((
        "runs",
        lambda cs: check_runs(cs, schemas, registry),
        first("runs", id="runs-unknown-op"),
        lambda c: c["functions"][0]["answers"][0].pop("badOp"),
    ))
    registry_json = json.loads((SPEC / "registry.json").read_text())
    mutations.append((
        "exchange",
        lambda cs: check_exchanges(cs, registry_json),
        first("exchanges", id="xch-e-get"),
        lambda c: c["expect"].update({"allow": ["GET", "POST"]}),
    ))
    for name, run, case, mutate in mutations:
        broken(name, run, case, mutate)
    print(f"self-test: {len(mutations)} deliberately broken cases, each one noticed")


def main() -> int:
    schemas, registry = load_schemas()
    areas = load_vectors()
    message_schemas = {k: v for k, v in schemas.items() if not k.startswith("vectors/")}
    check_replay(areas.get("replay", []), message_schemas, registry)
    check_definitions(areas.get("definitions", []), message_schemas, registry)
    check_signatures(areas.get("signatures", []))
    check_grpc_signatures(areas.get("grpc-signatures", []))
    check_cron(areas.get("cron", []))
    check_durations(areas.get("durations", []))
    check_match_and_keys(areas.get("match", []), areas.get("keys", []))
    check_api(areas.get("api", []), message_schemas, registry)
    check_runs(areas.get("runs", []), message_schemas, registry)
    defined, covered = check_requirements(areas)
    scope = check_scope(defined)
    reg = check_registry(areas)
    check_exchanges(areas.get("exchanges", []), reg)
    check_openapi(reg, message_schemas)
    check_generated()
    self_test(areas, message_schemas, registry)

    print(f"schemas: {len(schemas)} files")
    for area, cases in sorted(areas.items()):
        v1 = sum(1 for c in cases if not c.get("capabilities"))
        print(f"vectors {area}: {len(cases)} cases ({v1} need no capability)")
    print("semantic rules checked beyond the schemas:")
    for rule, what in SEMANTIC_RULES.items():
        print(f"  {rule}: {what}")
    check_coverage(defined, covered, scope)
    for party in sorted(PARTIES):
        bound = [rid for rid, entry in scope.items() if entry.get(party) == "MUST"]
        print(f"required of the {party}: {len(bound)}")
    if failures:
        print(f"\nFAILED: {len(failures)} problem(s)")
        for message in failures:
            print("  -", message)
        return 1
    print("spec check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
