"""The metrics read model (decision 0040): one workspace's runs and step times per point of a
window, from the rollups, as series ready for uPlot (one timestamps array, then one array of
the same length per figure), and its backlog now."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..engine import Engine, iso
from ..metrics import STATES, floor_minute, percentile
from ..store import metrics as rollups
from .errors import ServiceError

Body = dict[str, Any]

# window -> (its length, one point's length), in seconds
WINDOWS = {"hour": (3600, 60), "day": (86_400, 600), "week": (7 * 86_400, 3600)}
QUANTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))
LIVE_S = 3600  # minutes not rolled yet are computed from runs and steps, up to this far back


@dataclass(frozen=True, slots=True)
class MetricsQuery:
    """{window: hour|day|week (default hour), function?: a function id (all its versions)
    or a runtime id}; the dashboard's query string, so every member is checked here."""

    window: str = "hour"
    function: str | None = None

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> MetricsQuery:
        if not isinstance(body, Mapping):
            raise ServiceError("INVALID_REQUEST", "options must be an object", "")
        unknown = sorted(set(body) - {"window", "function"})
        if unknown:
            raise ServiceError("INVALID_REQUEST", f"unknown option {unknown[0]!r}",
                               f"/{unknown[0]}")
        window = body.get("window", "hour")
        if not isinstance(window, str) or window not in WINDOWS:
            raise ServiceError("INVALID_REQUEST", "window must be one of hour, day, week",
                               "/window")
        function = body.get("function")
        if function is not None and (not isinstance(function, str) or not function
                                     or len(function) > 256 or "\x00" in function):
            raise ServiceError("INVALID_REQUEST", "function must be a function id (1..256 "
                                                  "characters)", "/function")
        return cls(window, function)


@dataclass(frozen=True, slots=True)
class MetricsSeries:
    """A workspace's figures over a window: point starts (unix seconds), runs per point,
    app and durable step time percentiles (ms) with counts, backlog per point (None where
    no engine sampled), backlog now, and totals over the window."""

    workspace_id: str
    query: MetricsQuery
    step_seconds: int
    start: datetime
    end: datetime
    rolled_to: datetime
    timestamps: tuple[int, ...]
    runs: dict[str, list[int]]
    app_ms: dict[str, list[Any]]
    durable_ms: dict[str, list[Any]]
    backlog: dict[str, list[int | None]]
    backlog_now: dict[str, int]
    totals: dict[str, Any]

    def to_json(self) -> Body:
        return {
            "workspaceId": self.workspace_id, "function": self.query.function,
            "window": self.query.window, "stepSeconds": self.step_seconds,
            "from": iso(self.start), "to": iso(self.end), "rolledTo": iso(self.rolled_to),
            "timestamps": list(self.timestamps), "runs": self.runs, "appMs": self.app_ms,
            "durableMs": self.durable_ms, "backlog": self.backlog,
            "backlogNow": self.backlog_now, "totals": self.totals}


def _hist(value: Any) -> dict[int, int]:
    return {int(k): int(v) for k, v in (value or {}).items()}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


class MetricsOps:
    engine: Engine

    async def metrics_series(self, workspace_id: str, query: MetricsQuery) -> MetricsSeries:
        """Timestamps (unix seconds, each point's start), runs started/completed/failed/
        cancelled, app and durable step time percentiles (ms) per point and over the window,
        backlog per point (the most seen in a sampled minute; null where no engine sampled)
        and backlog now."""
        window, function = query.window, query.function
        if not isinstance(workspace_id, str) or "\x00" in workspace_id:
            raise ServiceError("NOT_FOUND", "no such workspace", "/workspaceId")
        length, step = WINDOWS[window]
        now = self.engine.clock()
        end = floor_minute(now) + timedelta(minutes=1)
        last = int(now.timestamp()) // step * step  # the point holding this minute
        points = [last - step * i for i in range(length // step - 1, -1, -1)]
        start = datetime.fromtimestamp(points[0], tz=now.tzinfo)
        async with self.engine.pool.connection() as conn:
            found = await rollups.series(conn, self.engine.queries, rollups.Window(
                workspace_id, function, start, now, step, LIVE_S))
        if found is None:
            raise ServiceError("NOT_FOUND", "no such workspace", "/workspaceId")
        rows, backlog_rows, now_rows = found.points, found.backlog, found.backlog_now
        index = {t: i for i, t in enumerate(points)}
        n = len(points)
        runs: dict[str, list[int]] = {k: [0] * n for k in ("started", "completed", "failed",
                                                          "cancelled")}
        times: dict[str, dict[str, list[float | None]]] = {
            kind: {name: [None] * n for name, _ in QUANTILES} for kind in ("app", "durable")}
        counts: dict[str, list[int]] = {"app": [0] * n, "durable": [0] * n}
        whole: dict[str, dict[int, int]] = {"app": {}, "durable": {}}
        most: dict[str, float | None] = {"app": None, "durable": None}
        for row in rows:
            i = index.get(int(row["t"]))
            if i is None:
                continue
            for k in runs:
                runs[k][i] = int(row[k])
            for kind in ("app", "durable"):
                hist = _hist(row[kind])
                top = row[f"{kind}_max_ms"]
                counts[kind][i] = sum(hist.values())
                for name, q in QUANTILES:
                    times[kind][name][i] = _round(percentile(hist, q, top))
                for b, c in hist.items():
                    whole[kind][b] = whole[kind].get(b, 0) + c
                if top is not None:
                    most[kind] = max(most[kind] or 0.0, top)
        backlog: dict[str, list[int | None]] = {s: [None] * n for s in STATES}
        for row in backlog_rows:
            i = index.get(int(row["t"]))
            if i is not None:
                for s in STATES:
                    backlog[s][i] = int(row[s])
        current = {s: sum(int(r[s]) for r in now_rows if function is None
                          or r["function_id"] == function
                          or r["function_id"].split("@", 1)[0] == function) for s in STATES}
        return MetricsSeries(
            workspace_id, query, step, start, end, found.rolled_to, tuple(points), runs,
            {**times["app"], "count": counts["app"]},
            {**times["durable"], "count": counts["durable"]}, backlog, current,
            {  # over the whole window, percentiles from its summed histogram
                **{k: sum(v) for k, v in runs.items()},
                **{f"{kind}Ms": {"count": sum(whole[kind].values()),
                                 **{name: _round(percentile(whole[kind], q, most[kind]))
                                    for name, q in QUANTILES}}
                   for kind in ("app", "durable")}})
