"""Typed answers of the engine API operations the client reads (spec/wire-protocol.md §14).

They are the engine's JSON objects as TypedDicts: members keep the wire names, and members
an engine adds later are kept too ([VER-2]).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypedDict


class Attempt(TypedDict):
    """One HTTP invocation of a run ([API-19]); `code` is TIMEOUT, DELIVERY_FAILED,
    INVALID_RESPONSE, the app's error code, or None."""

    deliveryId: str
    namespace: Literal["main", "failure"]
    attempt: int
    at: str
    durationMs: int
    httpStatus: int | None
    op: str | None
    error: str | None
    code: str | None


class RunHistory(TypedDict):
    """A page of a run's invocations, oldest first; `nextCursor` None on the last page."""

    runId: str
    attempts: list[Attempt]
    nextCursor: str | None


class BulkCancelPage(TypedDict):
    """One page of a bulk cancel ([API-16], [API-17]): the runs it cancelled."""

    cancelled: list[str]
    nextCursor: str | None


class BulkRerun(TypedDict):
    runId: str
    rerunOf: str
    duplicate: bool


class BulkRerunPage(TypedDict):
    """One page of a bulk rerun ([API-18]): one new run per matching run."""

    reruns: list[BulkRerun]
    nextCursor: str | None


class FunctionSummary(TypedDict):
    """A live runtime id of the workspace ([API-21]) with its run counts per status."""

    functionId: str
    runtimeId: str
    version: str | None
    trigger: dict[str, Any]
    active: bool
    runs: dict[str, int]


def bulk_filter(
    function_id: str | None,
    status: str | None,
    created_from: str | datetime | None,
    created_to: str | datetime | None,
) -> dict[str, str]:
    """The bulk filter of [API-16]: the members given, instants as ISO text."""

    def instant(value: str | datetime) -> str:
        return value.isoformat() if isinstance(value, datetime) else value

    members: dict[str, str] = {}
    if function_id is not None:
        members["functionId"] = function_id
    if status is not None:
        members["status"] = status
    if created_from is not None:
        members["createdFrom"] = instant(created_from)
    if created_to is not None:
        members["createdTo"] = instant(created_to)
    if not members:
        raise ValueError("a bulk call needs a filter: function_id, status, created_from "
                         "or created_to")
    return members
