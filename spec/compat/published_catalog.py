"""The conformance function catalog (conformance/README.md) written with the published
`dicabrio-durable-sdk==0.1.0` API. Self-contained: import `functions` to serve it.

Two catalog functions need protocol additions the published package cannot see; they are
defined (so the manifest lists the whole catalog, in order) but their vectors are skipped:
see UNSUPPORTED.
"""

from __future__ import annotations

from typing import Any

from durable import DurableFunction, NonRetriableError, Step

UNSUPPORTED: dict[str, str] = {
    "flaky": "needs the invoke's `attempt`, which the published package does not pass to handlers",
    "batcher": (
        "needs the invoke's `events` (batch delivery), which the published package "
        "does not pass to handlers"
    ),
}

# v1 vector cases of rules stated after the package was published (decision 0018): errors
# the SDK raises itself [ERR-8] and a non-string functionId's text [ERR-4]. They change no
# wire exchange with an engine (both sides still see one non-retriable error op, or the
# engine refuses the op, [OP-10]); the package is expected to fail them, and the test
# says so if it ever passes one.
PREDATES: dict[str, str] = {
    "replay-unknown-function-array": "a non-string functionId is shown with Python's repr",
    "replay-send-no-events": "an empty sendEvent is refused without code INVALID_EVENTS",
    "replay-send-bad-envelope": "an event without a name is sent, not refused",
    "replay-sleep-bad-duration": "its duration parser accepts \"2 s\" (decision 0012)",
}


def _serial(event: dict[str, Any], step: Step) -> Any:
    a = step.run("a", lambda: {"n": 1})
    b = step.run("b", lambda: {"n": a["n"] + 1})
    return {"a": a, "b": b}


def _echo(event: dict[str, Any], step: Step) -> Any:
    return {"event": event}


def _sleeper(event: dict[str, Any], step: Step) -> Any:
    step.run("before", lambda: "x")
    step.sleep("nap", event["data"].get("duration", "2s"))
    return "slept"


def _waiter(event: dict[str, Any], step: Step) -> Any:
    data = event["data"]
    match = {"userId": data["userId"]} if "userId" in data else None
    got = step.wait_for_event("approve", event="conf.approved", match=match, timeout="1h")
    return {"approved": got is not None, "got": got}


def _sender(event: dict[str, Any], step: Step) -> Any:
    data = event["data"]
    n = data.get("n")
    events = data["events"] if "events" in data else {
        "id": f"child-{n}", "name": "conf.child", "data": {"n": n}}
    receipts = step.send_event("emit", events)
    return {"receipts": receipts}


def _flaky(event: dict[str, Any], step: Step) -> Any:
    # Best effort: without `attempt` the handler behaves as on attempt 0.
    def attempt() -> str:
        if 0 < int(event["data"].get("failTimes", 0)):
            raise RuntimeError("boom")
        return "ok"

    return {"result": step.run("flaky", attempt)}


def _fatal(event: dict[str, Any], step: Step) -> Any:
    data = event["data"]

    def fail() -> None:
        raise NonRetriableError(
            "no way",
            code=data.get("code", "E_FATAL"),
            details=data["details"] if "details" in data else {"why": "test"},
        )

    return step.run("fatal", fail)


def _handler_error(event: dict[str, Any], step: Step) -> Any:
    raise RuntimeError("handler broke")


def _explode(event: dict[str, Any], step: Step) -> Any:
    def fail() -> None:
        raise RuntimeError("exploded")

    return step.run("explode", fail)


def _cleanup(event: dict[str, Any], step: Step, error: Exception, run_id: str) -> Any:
    cleaned = step.run("cleanup", lambda: "cleaned")
    return {"cleanup": cleaned, "message": str(error)}


def _parallel(event: dict[str, Any], step: Step) -> Any:
    count = event["data"].get("count")
    if count is not None:
        return step.parallel("fan", {f"t{i}": (lambda i=i: i) for i in range(count)})
    return step.parallel("fan", {"a": lambda: 1, "b": lambda: 2})


def _loop(event: dict[str, Any], step: Step) -> Any:
    return [step.run("item", lambda i=i: i) for i in range(3)]


def _mismatch(event: dict[str, Any], step: Step) -> Any:
    step.run("x", lambda: 1)
    return "unreachable"


def _big(event: dict[str, Any], step: Step) -> Any:
    size = int(event["data"]["size"])
    step.run("big", lambda: "x" * size)
    return "done"


def _batcher(event: dict[str, Any], step: Step) -> Any:
    # Best effort: the published handler only sees the first event of a batch.
    return {"count": 1}


def _versioned(event: dict[str, Any], step: Step) -> Any:
    return "v2"


def _nightly(event: dict[str, Any], step: Step) -> Any:
    return "tick"


def _invoker(event: dict[str, Any], step: Step) -> Any:
    raise RuntimeError("step.invoke (protocol 1.1) is not in dicabrio-durable-sdk 0.1.0")


def _on(name: str) -> dict[str, str]:
    return {"event": f"conf.{name}"}


functions: list[DurableFunction] = [
    DurableFunction(id="serial", trigger=_on("serial"), handler=_serial),
    DurableFunction(id="echo", trigger=_on("echo"), handler=_echo),
    DurableFunction(id="sleeper", trigger=_on("sleeper"), handler=_sleeper),
    DurableFunction(id="waiter", trigger=_on("waiter"), handler=_waiter),
    DurableFunction(id="sender", trigger=_on("sender"), handler=_sender),
    DurableFunction(id="flaky", trigger=_on("flaky"), handler=_flaky, retries=2),
    DurableFunction(id="fatal", trigger=_on("fatal"), handler=_fatal),
    DurableFunction(id="handler-error", trigger=_on("handler-error"), handler=_handler_error),
    DurableFunction(
        id="with-failure",
        trigger=_on("with-failure"),
        handler=_explode,
        retries=0,
        on_failure=_cleanup,
    ),
    DurableFunction(id="parallel", trigger=_on("parallel"), handler=_parallel),
    DurableFunction(id="loop", trigger=_on("loop"), handler=_loop),
    DurableFunction(id="mismatch", trigger=_on("mismatch"), handler=_mismatch),
    DurableFunction(id="big", trigger=_on("big"), handler=_big),
    DurableFunction(
        id="batcher",
        trigger=_on("batcher"),
        handler=_batcher,
        batch={"max_size": 3, "timeout": "1s"},
    ),
    DurableFunction(id="versioned", trigger=_on("versioned"), handler=_versioned, version="2"),
    DurableFunction(id="nightly", trigger={"cron": "0 3 * * *"}, handler=_nightly),
    DurableFunction(id="invoker", trigger=_on("invoker"), handler=_invoker),
]
