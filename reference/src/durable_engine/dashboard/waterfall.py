"""The trace waterfall of a run, computed from its detail read model (pure, no I/O).

One row per memoized step, in commit order per namespace. Each row's bar is split into
segments on the run's time axis (from its creation to its end, or now):

- durable time: `queued` (the invocation was due, the engine had not called the app yet),
  `sleeping` (a sleep, until it wakes), `waiting` (a wait for an event, until it resolved);
- app time: `app` (the app's server answering the call that recorded the step), and
  `failed` (an attempt of the step that failed), followed by `retry` (durable: the backoff
  until the next attempt was due).

A row's label is the step's own duration: its app time for a step, the sleep or the wait
for those (`load-user 57ms`, `cooldown 2d`, `await-approval 4h`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


@dataclass
class Segment:
    kind: str  # queued | app | failed | retry | sleeping | waiting
    start_ms: float  # from the run's creation
    ms: float
    left: float = 0.0  # percent of the axis
    width: float = 0.0


@dataclass
class Row:
    step_id: str
    namespace: str
    type: str
    label: str
    segments: list[Segment]
    data: Any
    copied_from: str | None
    durable_ms: float
    app_ms: float
    pending: bool = False  # still sleeping / waiting


@dataclass
class Waterfall:
    rows: list[Row] = field(default_factory=list)
    total_ms: float = 0.0
    durable_ms: float = 0.0
    app_ms: float = 0.0


def parse(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def human(ms: float) -> str:
    """57ms, 1.2s, 3m 4s, 4h, 2d (one or two units, rounded)."""
    if ms < 1:
        return f"{ms:.1f}ms" if ms > 0 else "0ms"
    if ms < 1000:
        return f"{ms:.0f}ms"
    s = ms / 1000
    if s < 60:
        return f"{s:.1f}s" if s < 10 else f"{s:.0f}s"
    units = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
    rest = round(s)
    parts: list[str] = []
    for name, size in units:
        if rest >= size:
            count, rest = divmod(rest, size)
            parts.append(f"{count}{name}")
        if len(parts) == 2 or (parts and rest == 0):
            break
    return " ".join(parts)


def build(run: dict[str, Any], now: datetime) -> Waterfall:
    """The waterfall of run_detail(...)'s answer at `now`."""
    origin = parse(run["createdAt"])
    assert origin is not None

    def since(at: datetime) -> float:
        return (at - origin) / timedelta(milliseconds=1)

    rows: list[Row] = []
    end_ms = since(parse(run.get("endedAt")) or now)
    failures = sorted(((parse(a["at"]), a) for a in run.get("attempts", [])
                       if a.get("error") and parse(a.get("at"))), key=lambda p: p[0] or origin)
    previous: dict[str, datetime] = {}  # namespace -> when its last step was recorded
    parked = [{"id": w["stepId"], "namespace": w["namespace"], "type": "wait", "data": None,
               "queuedAt": w["since"], "endedAt": None, "waitFor": w["event"],
               "until": w["until"]} for w in run.get("waits", [])]
    for step in [*run.get("timeline", []), *parked]:
        queued, started = parse(step.get("queuedAt")), parse(step.get("startedAt"))
        ended, wake = parse(step.get("endedAt")), parse(step.get("wakeAt"))
        app_ms = float(step.get("appMs") or 0.0)
        segments: list[Segment] = []
        kind = step["type"]
        if kind == "wait":
            # parked from queuedAt (the wait's creation) until resolved (endedAt)
            start = since(queued or ended or origin)
            segments.append(Segment("waiting", start, since(ended or now) - start))
        else:
            namespace = step.get("namespace", "main")
            after = previous.get(namespace, origin)
            for at, attempt in failures:  # failed attempts between the previous step and this
                if at is None or attempt.get("namespace", "main") != namespace or \
                        not after <= at < (started or ended or now):
                    continue
                failed_ms = float(attempt.get("durationMs") or 0.0)
                segments.append(Segment("failed", since(at), failed_ms))
                retry_from = since(at) + failed_ms
                retry_to = since(queued) if queued is not None else retry_from
                if retry_to > retry_from:
                    segments.append(Segment("retry", retry_from, retry_to - retry_from))
            if queued is not None and started is not None and started > queued:
                segments.append(Segment("queued", since(queued), since(started) - since(queued)))
            if started is not None:
                segments.append(Segment("app", since(started), app_ms))
            if kind == "sleep" and ended is not None and wake is not None:
                run_end = parse(run.get("endedAt"))
                until = run_end if run_end is not None and run_end < wake else wake
                segments.append(Segment("sleeping", since(ended), max(since(until) -
                                                                      since(ended), 0.0)))
        if ended is not None:
            previous[step.get("namespace", "main")] = ended
        durable = sum(s.ms for s in segments if s.kind not in ("app", "failed"))
        app = sum(s.ms for s in segments if s.kind in ("app", "failed"))
        own = {"sleep": "sleeping", "wait": "waiting"}.get(kind)
        shown = sum(s.ms for s in segments if s.kind == own) if own else \
            sum(s.ms for s in segments if s.kind == "app")
        pending = (kind == "sleep" and run["status"] == "sleeping" and wake is not None
                   and wake > now) or "waitFor" in step  # a nap ahead, a wait still parked
        label = f"{step['id']} {human(shown)}"
        if "waitFor" in step:
            label += f" (for {step['waitFor']})"
        rows.append(Row(step_id=step["id"], namespace=step.get("namespace", "main"),
                        type=kind, label=label, segments=segments,
                        data=step.get("data"), copied_from=step.get("copiedFrom"),
                        durable_ms=durable, app_ms=app, pending=pending))
        for s in segments:
            end_ms = max(end_ms, s.start_ms + s.ms)
    total = max(end_ms, 1.0)
    for row in rows:
        for s in row.segments:
            s.left = max(0.0, min(100.0, s.start_ms / total * 100))
            s.width = max(0.4, min(100.0 - s.left, s.ms / total * 100))
    return Waterfall(rows=rows, total_ms=total,
                     durable_ms=sum(r.durable_ms for r in rows),
                     app_ms=sum(r.app_ms for r in rows))
