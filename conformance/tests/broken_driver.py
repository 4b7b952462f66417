"""A vector driver for the suite's own tests; $BROKEN_DRIVER picks its behaviour:

- `echo`: answers the vector's expected values (the control: every case passes);
- `wrong`: a plausible bug per area (cron one minute late and accepting invalid
  expressions, match negated, keys `null` instead of the text `"null"`, durations
  off by one ms and accepting invalid input, signatures with the verdict reversed);
- `unsupported`: echo, but `{"unsupported": true}` for keys;
- `error`: echo, but `{"error": ...}` for match;
- `garbage`: echo, but a line that is not JSON for match;
- `crash`: echo for 3 answers, then exits.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timedelta
from typing import Any

MODE = os.environ.get("BROKEN_DRIVER", "echo")


def echo(area: str, case: dict[str, Any]) -> dict[str, Any]:
    if area == "cron":
        return {"valid": case["valid"], "next": case.get("next", [])}
    if area == "match":
        return {"matches": case["matches"]}
    if area == "keys":
        return {"value": case["value"]}
    if area == "signatures":
        return {"valid": case["valid"]}
    return {"valid": case["valid"], **({"ms": case["ms"]} if case["valid"] else {})}


def later(instant: str) -> str:
    moved = datetime.fromisoformat(instant.replace("Z", "+00:00")) + timedelta(minutes=1)
    return moved.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def wrong(area: str, case: dict[str, Any]) -> dict[str, Any]:
    if area == "cron":
        return {"valid": True, "next": [later(t) for t in case.get("next", [])]}
    if area == "match":
        return {"matches": not case["matches"]}
    if area == "keys":
        return {"value": None}
    if area == "signatures":
        return {"valid": not case["valid"]}
    return {"valid": True, "ms": case["ms"] + 1 if case["valid"] else 0}


def answer(area: str, case: dict[str, Any]) -> dict[str, Any] | str:
    if MODE == "wrong":
        return wrong(area, case)
    if MODE == "unsupported" and area == "keys":
        return {"unsupported": True}
    if MODE == "error" and area == "match":
        return {"error": "resolver blew up"}
    if MODE == "garbage" and area == "match":
        return "matches: yes"
    return echo(area, case)


for count, line in enumerate(sys.stdin):
    if MODE == "crash" and count == 3:
        print("driver crashed on purpose", file=sys.stderr)
        sys.exit(3)
    request = json.loads(line)
    reply = answer(request["area"], request["case"])
    sys.stdout.write((reply if isinstance(reply, str) else json.dumps(reply)) + "\n")
    sys.stdout.flush()
