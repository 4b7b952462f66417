"""Validation of a FunctionDefinition exactly as it travels in a manifest or `/fn/sync`.

`validate_definition` returns None or the first DefinitionError, whose `path` is the
JSON Pointer of the failing field, so an SDK user learns which option is wrong before
the engine refuses the sync.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._protocol import (
    BATCH_MAX_SIZE,
    KEY_PATH_CHARS,
    MAX_CANCEL_ON_RULES,
    MAX_CONCURRENCY_RULES,
    MAX_FUNCTION_ID_CHARS,
    MAX_RETRIES,
    MAX_VERSION_CHARS,
    PRIORITY_MAX,
    PRIORITY_MIN,
)
from .cron import validate_cron
from .errors import DefinitionError
from .paths import valid_key_path

_FIELDS = {
    "id",
    "trigger",
    "priority",
    "enabled",
    "hasOnFailure",
    "version",
    "retries",
    "timeoutMs",
    "concurrency",
    "throttle",
    "rateLimit",
    "debounce",
    "batch",
    "cancelOn",
    "idempotency",
    "singleton",
}
_REQUIRED = ("id", "trigger")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _string(value: Any, path: str, low: int, high: int) -> None:
    if not isinstance(value, str) or not low <= len(value) <= high:
        raise DefinitionError(path, f"must be a string of {low}-{high} characters")


def _integer(value: Any, path: str, low: int, high: int | None = None) -> None:
    if not _is_int(value) or value < low or (high is not None and value > high):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        raise DefinitionError(path, f"must be an integer {bound}")


def _rule(
    value: Any,
    path: str,
    required: Mapping[str, Callable[[Any, str], None]],
    optional: Mapping[str, Callable[[Any, str], None]] | None = None,
) -> None:
    optional = {"key": _key_path, **(optional or {})}
    if not isinstance(value, dict):
        raise DefinitionError(path, "must be an object")
    for name in value:
        if name not in required and name not in optional:
            raise DefinitionError(f"{path}/{_escape(name)}", "is not allowed")
    for name, check in required.items():
        if name not in value:
            raise DefinitionError(path, f"requires {name}")
        check(value[name], f"{path}/{name}")
    for name, check in optional.items():
        if name in value:
            check(value[name], f"{path}/{name}")


def _key_path(value: Any, path: str) -> None:
    _string(value, path, 1, KEY_PATH_CHARS)
    if not valid_key_path(value):
        raise DefinitionError(path, "a key path has no empty segment")


def _singleton_mode(value: Any, path: str) -> None:
    if value not in ("skip", "cancel"):
        raise DefinitionError(path, 'must be "skip" or "cancel"')


def _cancel_on(rules: Any) -> None:
    """[CANCEL-1]: 1-10 rules {event, match?: {key path: key path}, timeoutMs?}."""
    if not isinstance(rules, list) or not 1 <= len(rules) <= MAX_CANCEL_ON_RULES:
        raise DefinitionError("/cancelOn", f"must hold 1-{MAX_CANCEL_ON_RULES} rules")
    for index, rule in enumerate(rules):
        path = f"/cancelOn/{index}"
        if not isinstance(rule, dict):
            raise DefinitionError(path, "must be an object")
        for name in rule:
            if name not in ("event", "match", "timeoutMs"):
                raise DefinitionError(f"{path}/{_escape(name)}", "is not allowed")
        if "event" not in rule:
            raise DefinitionError(path, "requires event")
        _string(rule["event"], f"{path}/event", 1, 200)
        if "match" in rule:
            if not isinstance(rule["match"], dict):
                raise DefinitionError(f"{path}/match", "must be an object")
            for name, source in rule["match"].items():
                _key_path(name, f"{path}/match/{_escape(name)}")
                _key_path(source, f"{path}/match/{_escape(name)}")
        if "timeoutMs" in rule:
            _positive(rule["timeoutMs"], f"{path}/timeoutMs")


def _positive(value: Any, path: str) -> None:
    _integer(value, path, 1)


def _batch_size(value: Any, path: str) -> None:
    _integer(value, path, 1, BATCH_MAX_SIZE)


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _check(definition: Any) -> None:
    if not isinstance(definition, dict):
        raise DefinitionError("", "must be an object")
    for name in definition:
        if name not in _FIELDS:
            raise DefinitionError(f"/{_escape(name)}", "is not allowed")
    for name in _REQUIRED:
        if name not in definition:
            raise DefinitionError("", f"requires {name}")
    _string(definition["id"], "/id", 1, MAX_FUNCTION_ID_CHARS)

    trigger = definition["trigger"]
    if not isinstance(trigger, dict) or len(trigger) != 1:
        raise DefinitionError("/trigger", "must hold exactly one of event or cron")
    ((kind, expression),) = trigger.items()
    if kind not in ("event", "cron"):
        raise DefinitionError(f"/trigger/{_escape(kind)}", "is not allowed")
    if kind == "event":
        _string(expression, "/trigger/event", 1, 200)
    else:
        _string(expression, "/trigger/cron", 1, 1_000_000)
        reason = validate_cron(expression)
        if reason is not None:
            raise DefinitionError("/trigger/cron", reason)

    if "priority" in definition:
        _integer(definition["priority"], "/priority", PRIORITY_MIN, PRIORITY_MAX)
    for flag in ("enabled", "hasOnFailure"):
        if flag in definition and not isinstance(definition[flag], bool):
            raise DefinitionError(f"/{flag}", "must be a boolean")
    if "version" in definition:
        _string(definition["version"], "/version", 1, MAX_VERSION_CHARS)
    if "retries" in definition:
        _integer(definition["retries"], "/retries", 0, MAX_RETRIES)
    if "timeoutMs" in definition:
        _integer(definition["timeoutMs"], "/timeoutMs", 1)

    if "concurrency" in definition:
        concurrency = definition["concurrency"]
        if isinstance(concurrency, list):
            if not 1 <= len(concurrency) <= MAX_CONCURRENCY_RULES:
                raise DefinitionError(
                    "/concurrency", f"must hold 1-{MAX_CONCURRENCY_RULES} rules"
                )
            for index, rule in enumerate(concurrency):
                _rule(rule, f"/concurrency/{index}", {"limit": _positive})
        else:
            _rule(concurrency, "/concurrency", {"limit": _positive})
    window = {"limit": _positive, "periodMs": _positive}
    for name in ("throttle", "rateLimit"):
        if name in definition:
            _rule(definition[name], f"/{name}", window)
    if "debounce" in definition:
        _rule(definition["debounce"], "/debounce", {"periodMs": _positive})
    if "batch" in definition:
        _rule(definition["batch"], "/batch", {"maxSize": _batch_size, "timeoutMs": _positive})

    if "cancelOn" in definition:
        _cancel_on(definition["cancelOn"])
    if "idempotency" in definition:
        _rule(definition["idempotency"], "/idempotency", {"key": _key_path},
              optional={"periodMs": _positive})
    if "singleton" in definition:
        _rule(definition["singleton"], "/singleton", {"mode": _singleton_mode})

    # The pointer names the rule that excludes the others.
    for name in ("idempotency", "singleton"):  # [IDEM-1], [SINGLE-1]
        for other in ("batch", "debounce"):
            if name in definition and other in definition:
                raise DefinitionError(f"/{name}", f"cannot be combined with {other}")
    if "batch" in definition:
        for other in ("debounce", "throttle", "rateLimit"):
            if other in definition:
                raise DefinitionError("/batch", f"cannot be combined with {other}")
    if "debounce" in definition:
        for other in ("throttle", "rateLimit"):
            if other in definition:
                raise DefinitionError("/debounce", f"cannot be combined with {other}")


def validate_definition(definition: Any) -> DefinitionError | None:
    """The first violation of the FunctionDefinition schema, or None when valid."""
    try:
        _check(definition)
    except DefinitionError as error:
        return error
    return None
