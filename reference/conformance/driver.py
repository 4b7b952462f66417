"""The reference engine's vector driver: cron, match and keys through the engine's own
modules (durable_engine.cron, durable_engine.paths), as the scheduler, the wait matcher
and flow control call them. Protocol: conformance/PORTING.md, "Vector drivers"."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

from durable_engine.cron import next_fire, parse_cron
from durable_engine.paths import event_matches, key_value
from durable_engine.validation import parse_instant


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def cron(case: dict[str, Any]) -> dict[str, Any]:
    try:
        parse_cron(case["expr"])  # what /fn/sync validation calls ([DEF-14])
    except ValueError:
        return {"valid": False}
    instants: list[str] = []
    if "after" in case:
        after = parse_instant(case["after"])
        for _ in case.get("next", []):
            after = next_fire(case["expr"], after)
            instants.append(iso(after))
    return {"valid": True, "next": instants}


def match(case: dict[str, Any]) -> dict[str, Any]:
    return {"matches": event_matches(case["waitEvent"], case["match"], case["event"])}


def keys(case: dict[str, Any]) -> dict[str, Any]:
    return {"value": key_value(case["event"], case["key"])}


AREAS = {"cron": cron, "match": match, "keys": keys}


def answer(line: str) -> dict[str, Any]:
    try:
        request = json.loads(line)
        handler = AREAS.get(request["area"])
        if handler is None:
            return {"unsupported": True}
        return handler(request["case"])
    except Exception as error:  # noqa: BLE001 - reported to the runner as a driver error
        return {"error": f"{type(error).__name__}: {error}"}


def main() -> None:
    for line in sys.stdin:
        if line.strip():
            sys.stdout.write(json.dumps(answer(line), ensure_ascii=False) + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
