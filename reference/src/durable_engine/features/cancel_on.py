"""cancelOn ([CANCEL-1..4]): an accepted event cancels the live runs whose rules it meets.

The rules of a run are stored when it is created (migration 0020, a trigger on runs); here,
in the event's acceptance transaction, each candidate rule's match is derived from the run's
own event ([CANCEL-2]) and judged with the waitForEvent rules ([MATCH-1..3]).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..db import Conn
from ..paths import MISSING, event_matches, resolve
from ..store.control import cancel_runs


def derived_match(rule_match: dict[str, Any] | None, run_event: dict[str, Any]
                  ) -> dict[str, Any] | None:
    """[CANCEL-2]: {path in the cancelling event: the value of path q in the run's event}, or
    None when a q is missing (the rule does not apply to the run)."""
    derived: dict[str, Any] = {}
    for path, source in (rule_match or {}).items():
        value = resolve(run_event.get("data"), source)
        if value is MISSING:
            return None
        derived[path] = value
    return derived


def run_event(row: dict[str, Any]) -> dict[str, Any]:
    """The event a run's rules are derived from: a batch run's first event."""
    events = row.get("events")
    if isinstance(events, list) and events:
        first: dict[str, Any] = events[0]
        return first
    return row.get("event") or {}


async def cancel_on_event(conn: Conn, queries: Mapping[str, str],
                          workspace_id: str, event: dict[str, Any],
                          rules: list[dict[str, Any]], now: datetime) -> list[str]:
    """Cancel, in the caller's (the acceptance) transaction, every live run one of whose
    `rules` (event_accept's cancel_rules for the event's name) the event meets
    ([CANCEL-3]); returns their ids. Called before the event's own runs are created: an
    event never cancels the runs it starts."""
    hit: list[str] = []
    for row in rules:
        if row["run_id"] in hit:
            continue
        match = derived_match(row["match"], run_event(row))
        if match is not None and event_matches(event["name"], match, event):
            hit.append(row["run_id"])
    if not hit:
        return []
    # [CANCEL-4]: the event that met their rules is recorded on them
    done = await cancel_runs(conn, queries, hit, now, workspace_id=workspace_id,
                             cancelled_by={"eventId": event["id"]})
    return [row["id"] for row in done]
