"""/metrics in Prometheus text format (prometheus-client), from the metrics sampler's last
sample: a scrape sends no query (decision 0040).

The figures are the database's, so every engine process serves the same ones (scrape one, or
take the max across processes, never the sum); the process_* and python_* series are the
serving process's own.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from . import __version__
from .metrics import BUCKETS, STATES, Sampler, upper_ms

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Every fourth bucket bound of the rollups' histograms (0.25 ms, 1 ms, 4 ms ... 3.1 days):
# cumulative counts at these bounds are exact sums of the stored buckets.
EXPOSED = tuple(range(0, BUCKETS - 1, 4))
RUN_COUNTERS = (
    ("started", "Runs whose first invocation began"),
    ("completed", "Runs that completed"),
    ("failed", "Runs that failed (retries exhausted or a non-retryable error)"),
    ("cancelled", "Runs that were cancelled"),
)
KINDS = (
    ("app", "Time the app took to answer the invocation that recorded a step"),
    ("durable", "Time the engine held a step: due until the app was called, sleeping, or "
                "waiting for an event"),
)


class RollupCollector(Collector):
    def __init__(self, sampler: Sampler) -> None:
        self.sampler = sampler

    def collect(self) -> Iterator[Metric]:
        labels = ["workspace", "function"]
        info = InfoMetricFamily("durable_engine", "The engine serving these metrics")
        info.add_metric([], {"version": __version__})
        yield info
        self_queries = CounterMetricFamily(
            "durable_metrics_sampler_queries", "Statements the metrics sampler of this process "
            "sent to the database")
        self_queries.add_metric([], float(self.sampler.queries))
        yield self_queries
        busy = CounterMetricFamily(
            "durable_metrics_sampler_seconds", "Time the metrics sampler of this process spent "
            "sampling and rolling")
        busy.add_metric([], self.sampler.busy_s)
        yield busy
        snap = self.sampler.last
        if snap is None:
            return
        at = GaugeMetricFamily("durable_metrics_sample_timestamp_seconds",
                               "When the figures below were sampled")
        at.add_metric([], snap.at.timestamp())
        yield at
        if snap.rolled_to is not None:
            rolled = GaugeMetricFamily(
                "durable_metrics_rolled_to_timestamp_seconds",
                "The run counters and step histograms count everything before this instant")
            rolled.add_metric([], snap.rolled_to.timestamp())
            yield rolled
        for name, text in RUN_COUNTERS:
            counter = CounterMetricFamily(f"durable_runs_{name}", text, labels=labels)
            for row in snap.totals:
                counter.add_metric([row["workspace_id"], row["function_id"]], float(row[name]))
            yield counter
        per_kind: dict[tuple[str, str, str], dict[int, int]] = {}
        for row in snap.buckets:
            per_kind.setdefault((row["workspace_id"], row["function_id"], row["kind"]),
                                {})[int(row["bucket"])] = int(row["n"])
        for kind, text in KINDS:
            histogram = HistogramMetricFamily(f"durable_step_{kind}_seconds", text,
                                              labels=labels)
            for row in snap.totals:
                hist = per_kind.get((row["workspace_id"], row["function_id"], kind), {})
                if not hist:
                    continue
                cumulative = []
                for bound in EXPOSED:
                    below = sum(n for b, n in hist.items() if b <= bound)
                    cumulative.append((f"{upper_ms(bound) / 1000:g}", float(below)))
                cumulative.append(("+Inf", float(sum(hist.values()))))
                histogram.add_metric([row["workspace_id"], row["function_id"]], cumulative,
                                     sum_value=float(row[f"{kind}_sum_ms"]) / 1000)
            yield histogram
        backlog = GaugeMetricFamily("durable_backlog_runs", "Live runs by state: due (waiting "
                                    "for a worker), running, sleeping, waiting (for an event), "
                                    "retrying (backing off)", labels=[*labels, "state"])
        live = {(r["workspace_id"], r["function_id"]): r for r in snap.backlog}
        for key in sorted(set(live) | {(r["workspace_id"], r["function_id"])
                                       for r in snap.totals}):
            for state in STATES:  # a function with no live run reads 0, not absent
                backlog.add_metric([*key, state], float(live[key][state]) if key in live
                                   else 0.0)
        yield backlog


def registry_for(sampler: Sampler) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RollupCollector(sampler))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
