"""The public surface of dicabrio-durable-sdk 0.1.0 exists here under the same paths."""

from __future__ import annotations

import importlib
import inspect

import durable
import pytest

PUBLISHED_SURFACE = {
    "durable": [
        "BulkEventSendError", "Client", "DurableError", "DurableFunction", "EventSendError",
        "FailureError", "NonRetriableError", "Response", "RunActionError", "Step",
        "__version__", "asgi", "handle_request", "parse_duration", "provision_app", "wsgi",
    ],
    "durable.serve": ["Response", "asgi", "handle_request", "wsgi"],
    "durable.step": ["FailureError", "NonRetriableError", "Step", "parse_duration"],
    "durable.function": ["DurableFunction"],
    "durable.client": ["BulkEventSendError", "Client", "DurableError", "EventSendError",
                       "RunActionError", "provision_app"],
    "durable._version": ["VERSION", "SDK_VERSION"],
}


@pytest.mark.parametrize(("module", "names"), PUBLISHED_SURFACE.items())
def test_names_exist(module: str, names: list[str]) -> None:
    loaded = importlib.import_module(module)
    missing = [name for name in names if not hasattr(loaded, name)]
    assert missing == []


def test_everything_in_all_is_exported() -> None:
    assert all(hasattr(durable, name) for name in durable.__all__)


@pytest.mark.parametrize(
    ("target", "parameters"),
    [
        (durable.Client, ["base_url", "app_id", "signing_key", "timeout",
                          "max_request_bytes", "max_response_bytes"]),
        (durable.provision_app, ["base_url", "name", "app_url", "environment", "admin_token",
                                 "timeout", "max_request_bytes", "max_response_bytes"]),
        (durable.handle_request, ["method", "headers", "body", "functions", "signing_key",
                                  "app_id", "app_name", "dev", "max_body_bytes",
                                  "max_response_bytes"]),
        (durable.Step.wait_for_event, ["self", "step_id", "event", "timeout", "match"]),
        (durable.Client.send, ["self", "name", "data", "event_id", "retries"]),
        (durable.Client.search_runs, ["self", "function_id", "status", "cursor", "limit"]),
    ],
)
def test_published_parameters_are_accepted(target: object, parameters: list[str]) -> None:
    accepted = inspect.signature(target).parameters  # type: ignore[arg-type]
    assert [name for name in parameters if name not in accepted] == []


def test_function_fields_keep_their_order() -> None:
    fields = list(durable.DurableFunction.__dataclass_fields__)
    # 0.1.0's fields in its order (positional arguments keep working), then the additions
    assert fields[:14] == ["id", "trigger", "handler", "concurrency", "priority", "throttle",
                           "rate_limit", "debounce", "batch", "version", "enabled", "retries",
                           "timeout", "on_failure"]
    assert fields[14:] == ["cancel_on", "idempotency", "singleton"]
