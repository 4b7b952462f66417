"""The conformance app: exactly the function catalog of conformance/README.md.

Environment: PORT, DURABLE_SIGNING_KEY, DURABLE_SIGNING_KEY_FALLBACK (optional),
DURABLE_APP_ID (optional), DURABLE_CAPABILITIES=none (speak plain v1), DURABLE_DEV=1
(dev mode: answer dev discovery) and DURABLE_APP_NAME (optional).
Serves http://127.0.0.1:$PORT/api/durable with the stdlib WSGI server (threaded).
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

# Prefer this checkout's SDK over any installed `durable` distribution.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from durable import (  # noqa: E402
    AsyncStep,
    DurableFunction,
    FailureError,
    NonRetriableError,
    Step,
    wsgi,
)

Event = dict[str, Any]


def _data(event: Event) -> dict[str, Any]:
    data = event.get("data")
    return data if isinstance(data, dict) else {}


# Two catalog functions are async on purpose, so the harness covers both paths.
async def serial(event: Event, step: AsyncStep) -> Any:
    a = await step.run("a", lambda: {"n": 1})
    b = await step.run("b", lambda: {"n": a["n"] + 1})
    return {"a": a, "b": b}


def echo(event: Event, step: Step) -> Any:
    return {"event": event}


def sleeper(event: Event, step: Step) -> Any:
    step.run("before", lambda: "x")
    step.sleep("nap", _data(event).get("duration", "2s"))
    return "slept"


def waiter(event: Event, step: Step) -> Any:
    data = _data(event)
    got = step.wait_for_event(
        "approve",
        event="conf.approved",
        match={"userId": data["userId"]} if "userId" in data else None,
        timeout="1h",
    )
    return {"approved": got is not None, "got": got}


def sender(event: Event, step: Step) -> Any:
    data = _data(event)
    n = data.get("n")
    receipts = step.send_event(
        "emit",
        data["events"]
        if "events" in data
        else {"id": f"child-{n}", "name": "conf.child", "data": {"n": n}},
    )
    return {"receipts": receipts}


def flaky(event: Event, step: Step) -> Any:
    def attempt() -> str:
        if step.attempt < _data(event).get("failTimes", 0):
            raise Exception("boom")
        return "ok"

    return {"result": step.run("flaky", attempt)}


def fatal(event: Event, step: Step) -> Any:
    data = _data(event)

    def explode() -> None:
        raise NonRetriableError(
            "no way",
            code=data.get("code", "E_FATAL"),
            details=data["details"] if "details" in data else {"why": "test"},
        )

    return step.run("fatal", explode)


def handler_error(event: Event, step: Step) -> Any:
    raise Exception("handler broke")


def with_failure(event: Event, step: Step) -> Any:
    def explode() -> None:
        raise Exception("exploded")

    return step.run("explode", explode)


def with_failure_cleanup(event: Event, step: Step, error: FailureError, run_id: str) -> Any:
    cleaned = step.run("cleanup", lambda: "cleaned")
    return {"cleanup": cleaned, "message": str(error)}


async def parallel(event: Event, step: AsyncStep) -> Any:
    data = _data(event)
    if "count" in data:
        tasks = {f"t{i}": functools.partial(int, i) for i in range(data["count"])}
        return await step.parallel("fan", tasks)
    return await step.parallel("fan", {"a": lambda: 1, "b": lambda: 2})


def loop(event: Event, step: Step) -> Any:
    results = []
    for i in range(3):
        results.append(step.run("item", functools.partial(int, i)))
    return results


def mismatch(event: Event, step: Step) -> Any:
    step.run("x", lambda: 1)
    return "unreachable"


def big(event: Event, step: Step) -> Any:
    size = _data(event).get("size", 0)
    step.run("big", lambda: "x" * size)
    return "done"


def batcher(event: Event, step: Step) -> Any:
    return {"count": len(step.events)}


def versioned(event: Event, step: Step) -> Any:
    return "v2"


def nightly(event: Event, step: Step) -> Any:
    return "tick"


def invoker(event: Event, step: Step) -> Any:
    data = _data(event)
    options = {"timeout": data["timeout"]} if "timeout" in data else {}
    return {"result": step.invoke("call", "echo", data.get("input"), **options)}


def _on(name: str) -> dict[str, str]:
    return {"event": f"conf.{name}"}


FUNCTIONS = [
    DurableFunction(id="serial", trigger=_on("serial"), handler=serial),
    DurableFunction(id="echo", trigger=_on("echo"), handler=echo),
    DurableFunction(id="sleeper", trigger=_on("sleeper"), handler=sleeper),
    DurableFunction(id="waiter", trigger=_on("waiter"), handler=waiter),
    DurableFunction(id="sender", trigger=_on("sender"), handler=sender),
    DurableFunction(id="flaky", trigger=_on("flaky"), handler=flaky, retries=2),
    DurableFunction(id="fatal", trigger=_on("fatal"), handler=fatal),
    DurableFunction(id="handler-error", trigger=_on("handler-error"), handler=handler_error),
    DurableFunction(
        id="with-failure",
        trigger=_on("with-failure"),
        handler=with_failure,
        retries=0,
        on_failure=with_failure_cleanup,
    ),
    DurableFunction(id="parallel", trigger=_on("parallel"), handler=parallel),
    DurableFunction(id="loop", trigger=_on("loop"), handler=loop),
    DurableFunction(id="mismatch", trigger=_on("mismatch"), handler=mismatch),
    DurableFunction(id="big", trigger=_on("big"), handler=big),
    DurableFunction(
        id="batcher",
        trigger=_on("batcher"),
        handler=batcher,
        batch={"max_size": 3, "timeout": "1s"},
    ),
    DurableFunction(id="versioned", trigger=_on("versioned"), handler=versioned, version="2"),
    DurableFunction(id="nightly", trigger={"cron": "0 3 * * *"}, handler=nightly),
    DurableFunction(id="invoker", trigger=_on("invoker"), handler=invoker),
]


def options_from_env(environ: dict[str, str] | os._Environ[str]) -> dict[str, Any]:
    options: dict[str, Any] = {"signing_key": environ["DURABLE_SIGNING_KEY"]}
    if environ.get("DURABLE_SIGNING_KEY_FALLBACK"):
        options["signing_key_fallback"] = environ["DURABLE_SIGNING_KEY_FALLBACK"]
    if environ.get("DURABLE_APP_ID"):
        options["app_id"] = environ["DURABLE_APP_ID"]
    if environ.get("DURABLE_APP_NAME"):
        options["app_name"] = environ["DURABLE_APP_NAME"]
    if environ.get("DURABLE_DEV", "").strip().lower() in ("1", "true", "yes"):
        options["dev"] = True
    # Harness contract: unset or empty = every capability, `none` = plain v1, else a
    # comma-separated list (DurableApp refuses a name it does not implement).
    chosen = environ.get("DURABLE_CAPABILITIES", "").strip()
    if chosen.lower() == "none":
        options["capabilities"] = []
    elif chosen:
        options["capabilities"] = [name.strip() for name in chosen.split(",") if name.strip()]
    return options


def application(**options: Any) -> Any:
    durable_app = wsgi(FUNCTIONS, **options)

    def routed(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") != "/api/durable":
            headers = [("content-type", "text/plain"), ("content-length", "9")]
            start_response("404 Not Found", headers)
            return [b"not found"]
        return durable_app(environ, start_response)

    return routed


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> None:
    if not os.environ.get("DURABLE_SIGNING_KEY"):
        sys.exit("DURABLE_SIGNING_KEY is required")
    port = int(os.environ.get("PORT", "3000"))
    server = make_server(
        "127.0.0.1",
        port,
        application(**options_from_env(os.environ)),
        server_class=_Server,
        handler_class=_QuietHandler,
    )
    print(f"durable python conformance app on http://127.0.0.1:{port}/api/durable", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
