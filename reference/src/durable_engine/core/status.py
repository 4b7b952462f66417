"""A run's status and the legal changes between statuses, as data.

The statuses are the registry's runStatuses; migration 0009's CHECK holds the store to the
same set (reference/tests/core/test_status.py compares them)."""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SLEEPING = "sleeping"
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"


class HandlerStatus(StrEnum):
    """The failure handler's own status (decision 0009): the run itself stays failed."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


LIVE = frozenset({RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.SLEEPING, RunStatus.WAITING})
ENDED = frozenset(RunStatus) - LIVE

# Where a run may go from each status; None is "not created yet". Every change the engine
# makes is one of these: created queued (or running when handed off, skipped when a rate
# limit refuses it [FLOW-4]); claimed; parked by a sleep or wait; woken by an event; retried;
# ended; cancelled while live ([API-12]); a failed run started again by failures retry.
TRANSITIONS: dict[RunStatus | None, frozenset[RunStatus]] = {
    None: frozenset({RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.SKIPPED}),
    RunStatus.QUEUED: frozenset({RunStatus.RUNNING, RunStatus.CANCELLED}),
    RunStatus.RUNNING: frozenset({RunStatus.SLEEPING, RunStatus.WAITING, RunStatus.QUEUED,
                                  RunStatus.COMPLETED, RunStatus.FAILED,
                                  RunStatus.CANCELLED}),
    RunStatus.SLEEPING: frozenset({RunStatus.RUNNING, RunStatus.CANCELLED}),
    RunStatus.WAITING: frozenset({RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.CANCELLED}),
    RunStatus.COMPLETED: frozenset(),
    RunStatus.FAILED: frozenset({RunStatus.QUEUED}),
    RunStatus.CANCELLED: frozenset(),
    RunStatus.SKIPPED: frozenset(),
}


def may_change(source: RunStatus | str | None, target: RunStatus | str) -> bool:
    """Whether a run in `source` (None: a new run) may be moved to `target`."""
    key = None if source is None else RunStatus(source)
    return RunStatus(target) in TRANSITIONS[key]


def sources(target: RunStatus | str) -> list[str]:
    """Every status a run may be moved to `target` from, sorted (a guard for SQL)."""
    goal = RunStatus(target)
    return sorted(s.value for s, to in TRANSITIONS.items() if s is not None and goal in to)
