"""step.invoke end to end ([INVOKE-1..10]) with apps on our SDK and a real Postgres: the
child's output or error becomes the parent's memo, a timeout cancels the child, cancelling
the parent cancels the child, an unknown function fails the step at once."""

from __future__ import annotations

import uuid
from typing import Any

from durable import DurableFunction, InvokeError, Step


def names() -> str:
    return uuid.uuid4().hex[:6]


def child_fn(name: str) -> DurableFunction:
    def child(event: dict[str, Any], step: Step) -> Any:
        mode = event["data"].get("mode")
        if mode == "fail":
            from durable import NonRetriableError

            raise NonRetriableError("no stock", code="OUT_OF_STOCK")
        if mode == "park":
            step.sleep("forever", "1h")
        return {"doubled": event["data"]["n"] * 2, "event": event["name"]}

    return DurableFunction(id="child", trigger={"event": f"{name}.unused"}, handler=child)


def parent_fn(name: str, mode: str, timeout: str | None = None,
              function: str = "child") -> DurableFunction:
    def parent(event: dict[str, Any], step: Step) -> Any:
        try:
            return {"ok": step.invoke("call", function, {"n": 21, "mode": mode},
                                      timeout=timeout)}
        except InvokeError as error:
            if event["data"].get("uncaught"):
                raise
            return {"code": error.code, "details": error.details}

    return DurableFunction(id="parent", trigger={"event": f"{name}.go"}, handler=parent)


def test_the_child_output_is_the_step_result(make_app: Any) -> None:
    name = names()
    app = make_app([child_fn(name), parent_fn(name, "ok")])
    parent = app.run_of(app.send(f"{name}.go"))
    run = app.wait_run(parent)
    assert run["status"] == "completed"
    assert run["output"] == {"ok": {"doubled": 42, "event": "durable/invoke"}}
    memo = next(s for s in run["steps"] if s["id"] == "call")
    assert memo["type"] == "invoke" and memo["data"]["status"] == "completed"
    child = app.client.get_run(memo["data"]["runId"])
    assert child["parent"] == {"runId": parent, "stepId": "call"}  # [INVOKE-10]
    assert child["event"]["id"] == f"invoke:{parent}:call"  # [INVOKE-3]


def test_a_failed_child_is_a_typed_error(make_app: Any) -> None:
    name = names()
    app = make_app([child_fn(name), parent_fn(name, "fail")])
    run = app.wait_run(app.run_of(app.send(f"{name}.go")))
    assert run["output"]["code"] == "INVOKE_FAILED"
    details = run["output"]["details"]
    assert details["status"] == "failed" and details["error"]["code"] == "OUT_OF_STOCK"
    assert app.client.get_run(details["runId"])["status"] == "failed"


def test_an_uncaught_invoke_error_fails_the_parent_at_its_step(make_app: Any) -> None:
    name = names()
    app = make_app([child_fn(name), parent_fn(name, "fail")])
    run = app.wait_run(app.run_of(app.send(f"{name}.go", {"uncaught": True})))
    assert run["status"] == "failed"
    assert run["error"]["name"] == "InvokeError" and run["error"]["code"] == "INVOKE_FAILED"
    assert run["error"]["stepId"] == "call"  # [INVOKE-8]
    assert run["attempt"] == 0  # not retried


def test_a_timeout_cancels_the_child(make_app: Any) -> None:
    name = names()
    app = make_app([child_fn(name), parent_fn(name, "park", timeout="1s")])
    run = app.wait_run(app.run_of(app.send(f"{name}.go")), timeout=20)
    assert run["output"]["code"] == "INVOKE_TIMEOUT"  # [INVOKE-5]
    child = app.client.get_run(run["output"]["details"]["runId"])
    assert child["status"] == "cancelled"


def test_cancelling_the_parent_cancels_the_child(make_app: Any) -> None:
    name = names()
    app = make_app([child_fn(name), parent_fn(name, "park")])
    parent = app.run_of(app.send(f"{name}.go"))
    app.wait_run(parent, ("waiting",))
    children = [r for r in app.client.search_runs(function_id="child")["runs"]]
    child = next(r["runId"] for r in children
                 if app.client.get_run(r["runId"]).get("parent", {}).get("runId") == parent)
    app.wait_run(child, ("sleeping",))
    app.client.cancel_run(parent)
    assert app.wait_run(child, ("cancelled",), timeout=5)["status"] == "cancelled"  # [INVOKE-7]


def test_an_unknown_function_fails_the_step_at_once(make_app: Any) -> None:
    name = names()
    app = make_app([parent_fn(name, "ok", function="nobody")])
    run = app.wait_run(app.run_of(app.send(f"{name}.go")))
    assert run["output"]["code"] == "INVOKE_FAILED"  # [INVOKE-6]
    details = run["output"]["details"]
    assert details["runId"] is None and details["error"]["code"] == "UNKNOWN_FUNCTION"


def test_a_function_of_another_app_of_the_environment(make_app: Any) -> None:
    name = names()
    other = make_app([child_fn(name)])

    def parent(event: dict[str, Any], step: Step) -> Any:
        try:
            return step.invoke("call", "child", {"n": 4, "mode": "ok"}, app=event["data"]["app"])
        except InvokeError as error:
            return {"code": error.code, "error": error.details["error"]["code"]}

    app = make_app([DurableFunction(id="parent", trigger={"event": f"{name}.go"},
                                    handler=parent)])
    run = app.wait_run(app.run_of(app.send(f"{name}.go", {"app": other.id})))
    assert run["output"] == {"doubled": 8, "event": "durable/invoke"}  # [INVOKE-2] app
    child = other.client.get_run(next(s for s in run["steps"] if s["id"] == "call")
                                 ["data"]["runId"])
    assert child["parent"]["runId"] == run["runId"]
    missing = app.wait_run(app.run_of(app.send(f"{name}.go", {"app": "app_nobody"})))
    assert missing["output"] == {"code": "INVOKE_FAILED", "error": "UNKNOWN_FUNCTION"}
