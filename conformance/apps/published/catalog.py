"""The conformance function catalog written on the published package's API.

Used only when spec/compat/published_catalog.py is absent. `bind_request` gives
handlers the invoke fields the published API does not pass them (attempt, events).
"""

from __future__ import annotations

import contextvars
from typing import Any

from durable import DurableFunction, NonRetriableError, Step

_request: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "request", default=None
)


def bind_request(request: dict[str, Any]) -> None:
    _request.set(request)


def _event(name: str) -> dict[str, str]:
    return {"event": f"conf.{name}"}


def serial(event: dict[str, Any], step: Step) -> Any:
    a = step.run("a", lambda: {"n": 1})
    b = step.run("b", lambda: {"n": a["n"] + 1})
    return {"a": a, "b": b}


def echo(event: dict[str, Any], step: Step) -> Any:
    return {"event": event}


def sleeper(event: dict[str, Any], step: Step) -> Any:
    step.run("before", lambda: "x")
    step.sleep("nap", "2s")
    return "slept"


def waiter(event: dict[str, Any], step: Step) -> Any:
    got = step.wait_for_event("approve", event="conf.approved",
                              match={"userId": event["data"]["userId"]}, timeout="1h")
    return {"approved": got is not None, "got": got}


def sender(event: dict[str, Any], step: Step) -> Any:
    n = event["data"]["n"]
    receipts = step.send_event("emit", {"id": f"child-{n}", "name": "conf.child",
                                        "data": {"n": n}})
    return {"receipts": receipts}


def flaky(event: dict[str, Any], step: Step) -> Any:
    def attempt() -> str:
        if int((_request.get() or {}).get("attempt", 0)) < int(event["data"].get("failTimes", 0)):
            raise Exception("boom")
        return "ok"

    return {"result": step.run("flaky", attempt)}


def fatal(event: dict[str, Any], step: Step) -> Any:
    def explode() -> None:
        raise NonRetriableError("no way", code="E_FATAL", details={"why": "test"})

    step.run("fatal", explode)


def handler_error(event: dict[str, Any], step: Step) -> Any:
    raise Exception("handler broke")


def with_failure(event: dict[str, Any], step: Step) -> Any:
    def explode() -> None:
        raise Exception("exploded")

    step.run("explode", explode)


def with_failure_cleanup(event: dict[str, Any], step: Step, error: Exception, run_id: str) -> Any:
    cleaned = step.run("cleanup", lambda: "cleaned")
    return {"cleanup": cleaned, "message": str(error)}


def parallel(event: dict[str, Any], step: Step) -> Any:
    return step.parallel("fan", {"a": lambda: 1, "b": lambda: 2})


def loop(event: dict[str, Any], step: Step) -> Any:
    return [step.run("item", lambda i=i: i) for i in range(3)]


def mismatch(event: dict[str, Any], step: Step) -> Any:
    step.run("x", lambda: 1)
    return "unreachable"


def big(event: dict[str, Any], step: Step) -> Any:
    step.run("big", lambda: "x" * int(event["data"]["size"]))
    return "done"


def batcher(event: dict[str, Any], step: Step) -> Any:
    events = (_request.get() or {}).get("events")
    return {"count": len(events) if isinstance(events, list) else 1}


functions = [
    DurableFunction("serial", _event("serial"), serial),
    DurableFunction("echo", _event("echo"), echo),
    DurableFunction("sleeper", _event("sleeper"), sleeper),
    DurableFunction("waiter", _event("waiter"), waiter),
    DurableFunction("sender", _event("sender"), sender),
    DurableFunction("flaky", _event("flaky"), flaky, retries=2),
    DurableFunction("fatal", _event("fatal"), fatal),
    DurableFunction("handler-error", _event("handler-error"), handler_error),
    DurableFunction("with-failure", _event("with-failure"), with_failure, retries=0,
                    on_failure=with_failure_cleanup),
    DurableFunction("parallel", _event("parallel"), parallel),
    DurableFunction("loop", _event("loop"), loop),
    DurableFunction("mismatch", _event("mismatch"), mismatch),
    DurableFunction("big", _event("big"), big),
    DurableFunction("batcher", _event("batcher"), batcher,
                    batch={"max_size": 3, "timeout": "1s"}),
    DurableFunction("versioned", _event("versioned"), lambda event, step: "v2", version="2"),
    DurableFunction("nightly", {"cron": "0 3 * * *"}, lambda event, step: "tick"),
]
