"""The published package's vector driver: durations through `durable.step.parse_duration`
of dicabrio-durable-sdk==0.1.0, the parser its step.sleep and function options call.
Protocol: conformance/PORTING.md, "Vector drivers"."""

from __future__ import annotations

import json
import sys
from typing import Any

from durable.client import Client, DurableError
from durable.step import parse_duration


def durations(case: dict[str, Any]) -> dict[str, Any]:
    try:
        return {"valid": True, "ms": parse_duration(case["input"])}
    except (TypeError, ValueError, AttributeError):  # AttributeError: .strip() of a non-str
        return {"valid": False}


def client(case: dict[str, Any]) -> dict[str, Any]:
    """The `client` area through the package's Client.send, defaults only."""
    event = case["event"]
    sender = Client(case["engineUrl"], case["appId"], case["key"])
    try:
        return {"receipt": sender.send(event["name"], event["data"], event_id=event["id"])}
    except DurableError as error:
        return {"failed": str(error)}
    except OSError as error:  # 0.1.0 lets some connection errors escape its DurableError
        return {"failed": f"{type(error).__name__}: {error}"}


def answer(line: str) -> dict[str, Any]:
    try:
        request = json.loads(line)
        if request["area"] == "client":
            return client(request["case"])
        if request["area"] != "durations":
            return {"unsupported": True}
        return durations(request["case"])
    except Exception as error:  # noqa: BLE001 - reported to the runner as a driver error
        return {"error": f"{type(error).__name__}: {error}"}


for line in sys.stdin:
    if line.strip():
        sys.stdout.write(json.dumps(answer(line)) + "\n")
        sys.stdout.flush()
