"""Example app: a sync and an async workflow, served with the stdlib, plus the client.

    DURABLE_SIGNING_KEY=dev-key python examples/app.py            # serve on :3000
    DURABLE_SIGNING_KEY=... DURABLE_APP_ID=... python examples/app.py send u1

The engine (`nox -s serve`) finds the app at http://localhost:3000/api/durable in dev.
"""

from __future__ import annotations

import asyncio
import functools
import os
import sys
from typing import Any
from wsgiref.simple_server import make_server

from durable import AsyncStep, Client, DurableFunction, FailureError, NonRetriableError, Step, wsgi

Event = dict[str, Any]


def onboarding(event: Event, step: Step) -> Any:
    user_id = event["data"].get("userId")
    if not user_id:
        raise NonRetriableError("userId required", code="USER_ID_REQUIRED")
    user = step.run("load-user", lambda: {"id": user_id, "plan": "free"})
    step.send_event("welcome", {"name": "user.welcomed", "data": {"userId": user_id}})
    approval = step.wait_for_event(
        "approval", event="user.approved", match={"userId": user_id}, timeout="2d"
    )
    if approval is None:
        return {"user": user, "approved": False}
    step.sleep("cooldown", "10s")
    return {"user": user, "approved": True, "attempt": step.attempt}


async def enrich(event: Event, step: AsyncStep) -> Any:
    async def lookup(source: str) -> dict[str, str]:
        await asyncio.sleep(0.01)  # stands in for an HTTP call
        return {"source": source, "userId": event["data"]["userId"]}

    profiles = await step.parallel(
        "lookups", {"crm": lambda: lookup("crm"), "billing": lambda: lookup("billing")}
    )
    # One id in a loop: memoized as "score", "score#2", "score#3".
    def score(n: int) -> int:
        return n * 10

    scores = []
    for n in range(3):
        scores.append(await step.run("score", functools.partial(score, n)))
    return {"profiles": profiles, "scores": scores}


def report_failure(event: Event, step: Step, error: FailureError, run_id: str) -> Any:
    return step.run("alert", lambda: f"run {run_id} failed: {error} ({error.code})")


functions = [
    DurableFunction(
        id="onboarding",
        trigger={"event": "user.created"},
        handler=onboarding,
        retries=3,
        concurrency={"limit": 5, "key": "userId"},
        on_failure=report_failure,
    ),
    DurableFunction(id="enrich", trigger={"event": "user.welcomed"}, handler=enrich),
]


def serve() -> None:
    durable_app = wsgi(
        functions,
        signing_key=os.environ["DURABLE_SIGNING_KEY"],
        signing_key_fallback=os.environ.get("DURABLE_SIGNING_KEY_FALLBACK"),
    )

    def application(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ["PATH_INFO"] == "/api/durable":
            return durable_app(environ, start_response)
        start_response("404 Not Found", [("content-type", "text/plain")])
        return [b"not found"]

    port = int(os.environ.get("PORT", "3000"))
    print(f"serving http://localhost:{port}/api/durable", flush=True)
    make_server("", port, application).serve_forever()


def send(user_id: str) -> None:
    client = Client(
        os.environ.get("DURABLE_URL", "http://localhost:3030"),
        os.environ["DURABLE_APP_ID"],
        os.environ["DURABLE_SIGNING_KEY"],
    )
    client.sync(functions)
    print(client.send("user.created", {"userId": user_id}, event_id=f"user:{user_id}"))


if __name__ == "__main__":
    if sys.argv[1:2] == ["send"]:
        send(sys.argv[2])
    else:
        serve()
