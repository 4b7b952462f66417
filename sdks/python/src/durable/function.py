"""DurableFunction: a handler plus the options the engine schedules it by."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._protocol import MAX_CONCURRENCY_RULES, PRIORITY_MAX, PRIORITY_MIN
from .definitions import validate_definition
from .duration import parse_duration

if TYPE_CHECKING:
    from .errors import FailureError
    from .step import AsyncStep, Step

Event = dict[str, Any]
# A handler is `handler(event, step)`; an `async def` handler receives an AsyncStep.
Handler = Callable[[Event, "Step"], Any] | Callable[[Event, "AsyncStep"], Awaitable[Any]]
FailureHandler = (
    Callable[[Event, "Step", "FailureError", str], Any]
    | Callable[[Event, "AsyncStep", "FailureError", str], Awaitable[Any]]
)


@dataclass(slots=True)
class DurableFunction:
    """One workflow function. Field order matches dicabrio-durable-sdk 0.1.0."""

    id: str
    trigger: dict[str, str]
    handler: Handler
    concurrency: dict[str, Any] | list[dict[str, Any]] | None = None
    priority: int = 0
    throttle: dict[str, Any] | None = None
    rate_limit: dict[str, Any] | None = None
    debounce: dict[str, Any] | None = None
    batch: dict[str, Any] | None = None
    version: str | None = None
    enabled: bool = True
    retries: int | None = None
    timeout: str | int | None = None
    on_failure: FailureHandler | None = None
    # Protocol 1.1 members ([MINOR-2]): sent only when set, so a 1.0 engine still syncs
    # functions that do not use them.
    cancel_on: list[dict[str, Any]] | None = None
    idempotency: dict[str, Any] | None = None
    singleton: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id or len(self.id) > 200:
            raise ValueError("function id must be 1-200 characters")
        if not isinstance(self.trigger, dict):
            raise ValueError("trigger must contain one non-empty event or cron")
        value = next(iter(self.trigger.values()), None)
        kinds = set(self.trigger)
        if kinds not in ({"event"}, {"cron"}) or not isinstance(value, str) or not value:
            raise ValueError("trigger must contain one non-empty event or cron")
        if self.version is not None and (
            not isinstance(self.version, str) or not self.version or len(self.version) > 100
        ):
            raise ValueError("version must be 1-100 characters")
        if self.retries is not None and (
            isinstance(self.retries, bool)
            or not isinstance(self.retries, int)
            or not 0 <= self.retries <= 20
        ):
            raise ValueError("retries must be between 0 and 20")
        if isinstance(self.priority, bool) or not isinstance(self.priority, int):
            raise TypeError("priority must be an integer")
        if not PRIORITY_MIN <= self.priority <= PRIORITY_MAX:
            raise ValueError(f"priority must be between {PRIORITY_MIN} and {PRIORITY_MAX}")
        if not isinstance(self.enabled, bool):
            raise TypeError("enabled must be a boolean")
        if not callable(self.handler):
            raise TypeError("handler must be callable")
        if self.on_failure is not None and not callable(self.on_failure):
            raise TypeError("on_failure must be callable")
        if (self.batch and (self.debounce or self.throttle or self.rate_limit)) or (
            self.debounce and (self.throttle or self.rate_limit)
        ):
            raise ValueError("batch/debounce cannot be combined with throttle or rate_limit")
        rules: list[Any]
        if self.concurrency is None:
            rules = []
        elif isinstance(self.concurrency, list):
            rules = self.concurrency
        else:
            rules = [self.concurrency]
        if len(rules) > MAX_CONCURRENCY_RULES or any(
            not isinstance(rule, dict)
            or isinstance(rule.get("limit"), bool)
            or not isinstance(rule.get("limit"), int)
            or rule["limit"] <= 0
            for rule in rules
        ):
            raise ValueError("concurrency requires at most 10 positive integer limits")
        # Everything else (periods, keys, cron syntax) is checked on the wire form, so
        # a definition this SDK sends is one the engine accepts.
        try:
            definition = self.definition()
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"function {self.id}: invalid option: {error}") from error
        problem = validate_definition(definition)
        if problem is not None:
            raise ValueError(f"function {self.id}: {problem}")

    @property
    def runtime_id(self) -> str:
        return f"{self.id}@{self.version}" if self.version else self.id

    def definition(self) -> dict[str, Any]:
        """The FunctionDefinition sent in the manifest and in `/fn/sync`."""
        result: dict[str, Any] = {
            "id": self.id,
            "trigger": self.trigger,
            "priority": self.priority,
            "enabled": self.enabled,
            "hasOnFailure": self.on_failure is not None,
        }
        optional: dict[str, Any] = {
            "version": self.version,
            "retries": self.retries,
            "timeoutMs": None if self.timeout is None else parse_duration(self.timeout),
            "concurrency": self.concurrency,
            "throttle": _window(self.throttle),
            "rateLimit": _window(self.rate_limit),
            "debounce": _period(self.debounce),
            "batch": _batch(self.batch),
            "cancelOn": _cancel_on(self.cancel_on),
            "idempotency": _idempotency(self.idempotency),
            "singleton": self.singleton,
        }
        result.update({key: value for key, value in optional.items() if value is not None})
        return result


def _key(value: dict[str, Any]) -> dict[str, Any]:
    return {"key": value["key"]} if "key" in value else {}


def _window(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {"limit": value["limit"], "periodMs": parse_duration(value["period"]), **_key(value)}


def _period(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {"periodMs": parse_duration(value["period"]), **_key(value)}


def _batch(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {
        "maxSize": value["max_size"],
        "timeoutMs": parse_duration(value["timeout"]),
        **_key(value),
    }


def _cancel_on(rules: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """[CANCEL-1]: `{"event", "match"?, "timeout"?}` (a duration) → the wire rule."""
    if rules is None:
        return None
    if not isinstance(rules, list):
        raise TypeError("cancel_on must be a list of rules")
    wire = []
    for rule in rules:
        item = {k: v for k, v in rule.items() if k != "timeout"}
        if "timeout" in rule:
            item["timeoutMs"] = parse_duration(rule["timeout"])
        wire.append(item)
    return wire


def _idempotency(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """[IDEM-1]: `{"key", "period"?}` (a duration, 24 h when absent) → the wire member."""
    if value is None:
        return None
    item = {k: v for k, v in value.items() if k != "period"}
    if "period" in value:
        item["periodMs"] = parse_duration(value["period"])
    return item
