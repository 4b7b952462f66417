"""The Python SDK's vector driver: durations through `durable.parse_duration`, the parser
step.sleep, wait_for_event timeouts and function options call when they are declared;
the `client` area through `durable.Client.send`; `signatures` through the app's own
request check with the vector's clock.
Protocol: conformance/PORTING.md, "Vector drivers"."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

# Prefer this checkout's SDK over any installed `durable` distribution (as app.py does).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from durable import Client, DurableError, parse_duration  # noqa: E402
from durable.core import DurableApp, Response  # noqa: E402


def durations(case: dict[str, Any]) -> dict[str, Any]:
    try:
        return {"valid": True, "ms": parse_duration(case["input"])}
    except (TypeError, ValueError):
        return {"valid": False}


def signatures(case: dict[str, Any]) -> dict[str, Any]:
    """Would the app accept this request with its clock at `case.now`? The app's own
    request check (DurableApp.prepare), plain v1 for hop `invoke`."""
    keys = case["keys"]
    hop = case["hop"]
    app = DurableApp(
        [],
        signing_key=keys[0],
        signing_key_fallback=keys[1] if len(keys) > 1 else None,
        capabilities=["timestamped-signatures"] if hop == "invoke-v2" else [],
        clock=lambda: float(case["now"]),
    )
    method = "GET" if hop == "manifest" else "POST"
    prepared = app.prepare(method, case["headers"], case["body"].encode())
    return {"valid": not (isinstance(prepared, Response) and prepared.status == 401)}


def client(case: dict[str, Any]) -> dict[str, Any]:
    """Send the case's event with the SDK's client, defaults only (the `client` area)."""
    event = case["event"]
    sender = Client(case["engineUrl"], case["appId"], case["key"])
    try:
        return {"receipt": sender.send(event["name"], event["data"], event_id=event["id"])}
    except DurableError as error:
        return {"failed": str(error)}


def answer(line: str) -> dict[str, Any]:
    try:
        request = json.loads(line)
        if request["area"] == "client":
            return client(request["case"])
        if request["area"] == "signatures":
            return signatures(request["case"])
        if request["area"] != "durations":
            return {"unsupported": True}
        return durations(request["case"])
    except Exception as error:  # noqa: BLE001 - reported to the runner as a driver error
        return {"error": f"{type(error).__name__}: {error}"}


for line in sys.stdin:
    if line.strip():
        sys.stdout.write(json.dumps(answer(line)) + "\n")
        sys.stdout.flush()
