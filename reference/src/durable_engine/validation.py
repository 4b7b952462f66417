"""Request and answer validation.

The spec's JSON Schemas (spec/schemas) are authoritative when present: they are loaded from
DURABLE_SPEC_DIR or the repository's spec/ directory. The hand-written checks below give the
same verdicts with a precise JSON Pointer, and are used when a schema is not available.

Longer than the engine's other modules on purpose: it is the one hand-written twin of every
request, definition and op schema, kept together so a change to a schema has one place to
follow it (split, the twins of one schema would drift apart across files).
"""

from __future__ import annotations

import json
import math
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


MAX_SAFE = 2**53 - 1  # registry maxDurationMs; also keeps numbers inside Postgres' ranges


TRACEPARENT = re.compile(r"^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$")


def valid_traceparent(value: Any) -> bool:
    """A W3C Trace Context version 00 traceparent ([TRACE-1])."""
    return isinstance(value, str) and TRACEPARENT.match(value) is not None


class Invalid(Exception):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


class TooLarge(Invalid):
    """An event over eventBytes: 413 PAYLOAD_TOO_LARGE rather than 400 ([EVT-3])."""


def find_nul(value: Any, path: str = "") -> str | None:
    """JSON Pointer of the first string (or member name) holding U+0000, which Postgres text
    and jsonb cannot store; None when there is none."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            pointer = f"{path}/{key.replace('~', '~0').replace('/', '~1')}"
            if "\x00" in key:
                return pointer
            found = find_nul(item, pointer)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = find_nul(item, f"{path}/{index}")
            if found is not None:
                return found
    return None


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def load_json(body: bytes | str) -> Any:
    """JSON the store can keep: NaN, Infinity and numbers beyond a double (1e999) cannot be
    stored as jsonb, so they raise ValueError like malformed JSON does."""
    return json.loads(body, parse_constant=_not_json, parse_float=_finite)


def reject_nul(value: Any) -> None:
    pointer = find_nul(value)
    if pointer is not None:
        raise Invalid(pointer, "strings must not contain U+0000")


def parse_instant(value: str) -> datetime:
    """An ISO instant with any number of fraction digits ([OP-9])."""
    text = value.replace("Z", "+00:00")
    match = re.match(r"^(.*T\d{2}:\d{2}:\d{2})(\.\d+)?(.*)$", text)
    if match and match.group(2):
        text = match.group(1) + match.group(2)[:7].ljust(7, "0") + match.group(3)
    return datetime.fromisoformat(text).astimezone(UTC)


def spec_dir() -> Path | None:
    """The spec the engine validates against and serves: DURABLE_SPEC_DIR, else the copy an
    installed package ships (durable_engine/spec, put there by the build), else the
    checkout's spec/ beside reference/ (editable installs)."""
    configured = os.environ.get("DURABLE_SPEC_DIR")
    if configured:
        return Path(configured)
    here = Path(__file__).resolve()
    for candidate in (here.with_name("spec"), here.parents[3] / "spec"):
        if (candidate / "openapi.yaml").is_file():
            return candidate
    return None


_schema_cache: dict[str, Any] = {}


def _schema_validator(name: str) -> Any | None:
    """A jsonschema validator for spec/schemas/<name>.schema.json, or None when absent."""
    if name in _schema_cache:
        return _schema_cache[name]
    validator = None
    base = spec_dir()
    if base is not None:
        path = base / "schemas" / f"{name}.schema.json"
        if path.is_file():
            try:
                from jsonschema import Draft202012Validator
                from referencing import Registry, Resource

                resources = []
                for other in (base / "schemas").rglob("*.json"):
                    document = json.loads(other.read_text())
                    resource = Resource.from_contents(document)
                    resources.append((other.resolve().as_uri(), resource))
                    if "$id" in document:
                        resources.append((document["$id"], resource))
                registry = Registry().with_resources(resources)
                schema = json.loads(path.read_text())
                validator = Draft202012Validator(schema, registry=registry)
            except Exception:  # noqa: BLE001 - a schema still being written must not break us
                validator = None
    _schema_cache[name] = validator
    return validator


def validate_schema(name: str, value: Any) -> None:
    validator = _schema_validator(name)
    if validator is None:
        return
    error = next(iter(sorted(validator.iter_errors(value), key=lambda e: list(e.path))), None)
    if error is not None:
        pointer = "".join(f"/{str(p).replace('~', '~0').replace('/', '~1')}" for p in error.path)
        raise Invalid(pointer, error.message)


# ---- hand-written checks -------------------------------------------------------------------


def _obj(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(path, "must be an object")
    return value


def _str(value: Any, path: str, lo: int = 1, hi: int = 200) -> str:
    if not isinstance(value, str) or not lo <= len(value) <= hi:
        raise Invalid(path, f"must be a string of {lo}-{hi} characters")
    return value


def _int(value: Any, path: str, lo: int | None = None, hi: int | None = None,
         integral_float: bool = False) -> int:
    """An integer. In API requests 19.0 counts as one (as in JSON Schema) when integral_float;
    definitions follow [DEF-1]: integers are written without a fraction."""
    if integral_float and isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(path, "must be an integer")
    if lo is not None and value < lo or hi is not None and value > hi:
        raise Invalid(path, f"must be between {lo} and {hi}")
    return int(value)


def _only(value: dict[str, Any], path: str, allowed: set[str]) -> None:
    for key in value:
        if key not in allowed:
            raise Invalid(f"{path}/{key}", "is not an allowed field")


def _require(value: dict[str, Any], path: str, fields: tuple[str, ...]) -> None:
    for key in fields:
        if key not in value:  # like JSON Schema: the object that lacks it is the culprit
            raise Invalid(path, f"{key} is required")


def _window(value: Any, path: str, fields: tuple[str, ...]) -> None:
    rule = _obj(value, path)
    _only(rule, path, {*fields, "key"})
    _require(rule, path, fields)
    for name in fields:
        _int(rule[name], f"{path}/{name}", 1, 100 if name == "maxSize" else MAX_SAFE)
    if "key" in rule:
        key = _str(rule["key"], f"{path}/key")
        if any(segment == "" for segment in key.split(".")):  # [DEF-13]
            raise Invalid(f"{path}/key", "must be a key path: no empty segment")


def _key_path(value: Any, path: str) -> str:
    key = _str(value, path)
    if any(segment == "" for segment in key.split(".")):  # [DEF-13]
        raise Invalid(path, "must be a key path: no empty segment")
    return key


def _cancel_on(value: Any, path: str) -> None:
    """[CANCEL-1]: 1-10 rules {event, match?: {key path: key path}, timeoutMs?}."""
    if not isinstance(value, list) or not 1 <= len(value) <= 10:
        raise Invalid(path, "must hold 1-10 rules")
    for i, item in enumerate(value):
        rule = _obj(item, f"{path}/{i}")
        _only(rule, f"{path}/{i}", {"event", "match", "timeoutMs"})
        _require(rule, f"{path}/{i}", ("event",))
        _str(rule["event"], f"{path}/{i}/event")
        if "match" in rule:
            match = _obj(rule["match"], f"{path}/{i}/match")
            for name, source in match.items():
                pointer = f"{path}/{i}/match/{name.replace('~', '~0').replace('/', '~1')}"
                _key_path(name, pointer)
                _key_path(source, pointer)
        if "timeoutMs" in rule:
            _int(rule["timeoutMs"], f"{path}/{i}/timeoutMs", 1, MAX_SAFE)


def validate_definition(value: Any, path: str = "") -> dict[str, Any]:
    d = _obj(value, path)
    _only(d, path, {"id", "trigger", "priority", "enabled", "hasOnFailure", "version", "retries",
                    "timeoutMs", "concurrency", "throttle", "rateLimit", "debounce", "batch",
                    "cancelOn", "idempotency", "singleton"})
    _require(d, path, ("id", "trigger"))
    _str(d["id"], f"{path}/id")
    trigger = _obj(d["trigger"], f"{path}/trigger")
    if set(trigger) not in ({"event"}, {"cron"}):
        raise Invalid(f"{path}/trigger", "must have exactly one of event or cron")
    kind = next(iter(trigger))
    _str(trigger[kind], f"{path}/trigger/{kind}")
    if kind == "cron":
        from .cron import parse_cron

        try:
            parse_cron(trigger["cron"])
        except ValueError as error:
            raise Invalid(f"{path}/trigger/cron", str(error)) from None
    if "priority" in d:
        _int(d["priority"], f"{path}/priority", -600, 600)
    for flag in ("enabled", "hasOnFailure"):
        if flag in d and not isinstance(d[flag], bool):
            raise Invalid(f"{path}/{flag}", "must be a boolean")
    if "version" in d:
        _str(d["version"], f"{path}/version", 1, 100)
    if "retries" in d:
        _int(d["retries"], f"{path}/retries", 0, 20)
    if "timeoutMs" in d:
        _int(d["timeoutMs"], f"{path}/timeoutMs", 1, MAX_SAFE)
    if "concurrency" in d:
        rules = d["concurrency"]
        if isinstance(rules, list):
            if not 1 <= len(rules) <= 10:
                raise Invalid(f"{path}/concurrency", "must hold 1-10 rules")
            for i, rule in enumerate(rules):
                _window(rule, f"{path}/concurrency/{i}", ("limit",))
        else:
            _window(rules, f"{path}/concurrency", ("limit",))
    if "throttle" in d:
        _window(d["throttle"], f"{path}/throttle", ("limit", "periodMs"))
    if "rateLimit" in d:
        _window(d["rateLimit"], f"{path}/rateLimit", ("limit", "periodMs"))
    if "debounce" in d:
        _window(d["debounce"], f"{path}/debounce", ("periodMs",))
    if "batch" in d:
        _window(d["batch"], f"{path}/batch", ("maxSize", "timeoutMs"))
    if "cancelOn" in d:
        _cancel_on(d["cancelOn"], f"{path}/cancelOn")
    if "idempotency" in d:  # [IDEM-1]
        rule = _obj(d["idempotency"], f"{path}/idempotency")
        _only(rule, f"{path}/idempotency", {"key", "periodMs"})
        _require(rule, f"{path}/idempotency", ("key",))
        _key_path(rule["key"], f"{path}/idempotency/key")
        if "periodMs" in rule:
            _int(rule["periodMs"], f"{path}/idempotency/periodMs", 1, MAX_SAFE)
    if "singleton" in d:  # [SINGLE-1]
        rule = _obj(d["singleton"], f"{path}/singleton")
        _only(rule, f"{path}/singleton", {"key", "mode"})
        _require(rule, f"{path}/singleton", ("mode",))
        if rule["mode"] not in ("skip", "cancel"):
            raise Invalid(f"{path}/singleton/mode", 'must be "skip" or "cancel"')
        if "key" in rule:
            _key_path(rule["key"], f"{path}/singleton/key")
    for name in ("idempotency", "singleton"):
        for other in ("batch", "debounce"):
            if name in d and other in d:
                raise Invalid(f"{path}/{name}", f"{name} cannot be combined with {other}")
    if "batch" in d:  # [DEF-11]
        for other in ("debounce", "throttle", "rateLimit"):
            if other in d:
                raise Invalid(f"{path}/batch", f"batch cannot be combined with {other}")
    if "debounce" in d:
        for other in ("throttle", "rateLimit"):
            if other in d:
                raise Invalid(f"{path}/debounce", f"debounce cannot be combined with {other}")
    return d


def validate_event(value: Any, path: str) -> dict[str, Any]:
    e = _obj(value, path)
    _only(e, path, {"id", "name", "data", "ts", "traceparent"})
    _require(e, path, ("name",))
    if "id" in e:
        _str(e["id"], f"{path}/id")
    _str(e["name"], f"{path}/name")
    if "ts" in e:
        e["ts"] = _int(e["ts"], f"{path}/ts", 0, MAX_SAFE, integral_float=True)
    if "traceparent" in e and not valid_traceparent(e["traceparent"]):  # [TRACE-1]
        raise Invalid(f"{path}/traceparent", "must be a W3C traceparent (version 00)")
    if len(json.dumps(e, separators=(",", ":"), ensure_ascii=False).encode()) > 262_144:
        raise TooLarge(path, "event exceeds 262144 bytes")
    return e


def _events(value: Any, path: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not 1 <= len(value) <= 100:
        raise Invalid(path, "must be an array of 1-100 events")
    return [validate_event(e, f"{path}/{i}") for i, e in enumerate(value)]


def validate_request(endpoint: str, value: Any) -> dict[str, Any]:
    """Validate an engine API body; endpoint is the path like '/e'."""
    body = _obj(value, "")
    if endpoint == "/fn/sync":
        _only(body, "", {"sdkVersion", "functions", "capabilities", "maxRequestBytes"})
        _require(body, "", ("functions",))
        if "sdkVersion" in body:
            _str(body["sdkVersion"], "/sdkVersion")
        if not isinstance(body["functions"], list):
            raise Invalid("/functions", "must be an array")
        seen: set[str] = set()
        for i, definition in enumerate(body["functions"]):
            d = validate_definition(definition, f"/functions/{i}")
            runtime = f"{d['id']}@{d['version']}" if d.get("version") else d["id"]
            if runtime in seen:
                raise Invalid(f"/functions/{i}/id", f"duplicate function {runtime}")
            seen.add(runtime)
        if "capabilities" in body and (
            not isinstance(body["capabilities"], list)
            or not all(isinstance(c, str) for c in body["capabilities"])
        ):
            raise Invalid("/capabilities", "must be an array of strings")
        if "maxRequestBytes" in body:
            _int(body["maxRequestBytes"], "/maxRequestBytes", 65_536, 2**31 - 1)
    elif endpoint == "/e":
        validate_event(body, "")
    elif endpoint == "/e/bulk":
        _only(body, "", {"events"})
        _require(body, "", ("events",))
        _events(body["events"], "/events")
    elif endpoint == "/runs/search":
        _only(body, "", {"functionId", "status", "cursor", "limit"})
        if "functionId" in body:
            _str(body["functionId"], "/functionId", 1, 301)
        if "status" in body and body["status"] not in RUN_STATUSES:
            raise Invalid("/status", f"must be one of {', '.join(RUN_STATUSES)}")
        if "cursor" in body and not isinstance(body["cursor"], str):
            raise Invalid("/cursor", "must be a string")
        if "limit" in body:
            body["limit"] = _int(body["limit"], "/limit", 1, 100, integral_float=True)
    elif endpoint == "/runs/rerun":
        _only(body, "", {"runId", "stepId", "idempotencyKey"})
        _require(body, "", ("runId", "idempotencyKey"))
        _str(body["runId"], "/runId")
        _str(body["idempotencyKey"], "/idempotencyKey")
        if "stepId" in body:
            _str(body["stepId"], "/stepId", 1, 500)
    elif endpoint in ("/runs/get", "/runs/cancel"):
        _only(body, "", {"runId"})
        _require(body, "", ("runId",))
        _str(body["runId"], "/runId")
    elif endpoint == "/failures/search":
        _only(body, "", {"limit"})
        if "limit" in body:
            body["limit"] = _int(body["limit"], "/limit", 1, 100, integral_float=True)
    elif endpoint == "/failures/retry":
        _only(body, "", {"deliveryId"})
        _require(body, "", ("deliveryId",))
        _str(body["deliveryId"], "/deliveryId")
    elif endpoint == "/versions/status":
        _only(body, "", {"functionId"})
        _require(body, "", ("functionId",))
        _str(body["functionId"], "/functionId")
    elif endpoint == "/functions/list":
        _only(body, "", set())
    elif endpoint == "/api/apps/{id}":
        _only(body, "", {"name", "appUrl"})
        if not body:
            raise Invalid("", "give name or appUrl")
        if "name" in body:
            _str(body["name"], "/name")
        if "appUrl" in body:
            _app_url(body["appUrl"])
    elif endpoint == "/api/apps":
        _only(body, "", {"name", "environment", "appUrl"})
        _require(body, "", ("name", "appUrl"))
        _str(body["name"], "/name")
        if "environment" in body:
            _str(body["environment"], "/environment", 1, 100)
        _app_url(body["appUrl"])
    return body


def _app_url(value: Any) -> None:
    url = _str(value, "/appUrl", 1, 2000)
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        parts, port_ok = None, False
    if (parts is None or not port_ok or not url.isascii() or parts.scheme not in
            ("http", "https") or not parts.hostname or any(c.isspace() for c in url)):
        raise Invalid("/appUrl", "must be an absolute http(s) URI (ASCII, with a host)")


RUN_STATUSES = ("queued", "running", "sleeping", "waiting", "completed", "failed", "cancelled",
                "skipped")


OP_MEMBERS = {
    "step": {"op", "id", "data"},
    "error": {"op", "id", "message", "name", "code", "details", "retryable"},
    "sendEvent": {"op", "id", "events"},
    "sleep": {"op", "id", "until"},
    "wait": {"op", "id", "event", "match", "until"},
    "done": {"op", "data"},
    "invoke": {"op", "id", "function", "app", "data", "until"},  # [INVOKE-1], step-invoke
}


def validate_op(value: Any) -> dict[str, Any]:
    """Validate one operation answered by an app ([OP-1]: ops are closed)."""
    op = _obj(value, "")
    reject_nul(op)
    kind = op.get("op")
    if kind not in OP_MEMBERS:
        raise Invalid("/op", f"unknown op {kind!r}")
    _only(op, "", OP_MEMBERS[kind])
    if kind == "step":
        _require(op, "", ("id",))
        _str(op["id"], "/id", 1, 500)
    elif kind == "error":
        _require(op, "", ("id", "message", "retryable"))
        for name in ("name", "code"):
            if name in op and not isinstance(op[name], str):
                raise Invalid(f"/{name}", "must be a string")
        if op.get("id") is not None:
            _str(op["id"], "/id", 1, 500)
        if not isinstance(op["message"], str):
            raise Invalid("/message", "must be a string")
        if not isinstance(op["retryable"], bool):
            raise Invalid("/retryable", "must be a boolean")
    elif kind == "sendEvent":
        _require(op, "", ("id", "events"))
        _str(op["id"], "/id", 1, 500)
        _events(op["events"], "/events")
    elif kind in ("sleep", "wait"):
        _require(op, "", ("id", "until", *(("event",) if kind == "wait" else ())))
        _str(op["id"], "/id", 1, 500)
        if not isinstance(op["until"], str) or not ISO_UTC.match(op["until"]):
            raise Invalid("/until", "must be an ISO-8601 instant")
        try:
            parse_instant(op["until"])
        except ValueError:
            raise Invalid("/until", "must be an ISO-8601 instant") from None
        if kind == "wait":
            _str(op["event"], "/event")
            if op.get("match") is not None:
                _obj(op["match"], "/match")
    elif kind == "invoke":
        _require(op, "", ("id", "function", "app", "data", "until"))
        _str(op["id"], "/id", 1, 500)
        _str(op["function"], "/function", 1, 301)
        if op["app"] is not None:
            _str(op["app"], "/app", 1, 200)
        if op["until"] is not None:
            if not isinstance(op["until"], str) or not ISO_UTC.match(op["until"]):
                raise Invalid("/until", "must be an ISO-8601 instant or null")
            try:
                parse_instant(op["until"])
            except ValueError:
                raise Invalid("/until", "must be an ISO-8601 instant or null") from None
    return op
