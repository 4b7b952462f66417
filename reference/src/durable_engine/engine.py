"""The engine: event ingestion, the queue, the dispatcher and every op's transition, composed
from the parts under worker/ (see worker/__init__.py for their order).

Each transition is one transaction: the step memo, the run's status and the run's next queue
item commit together. A claimed queue row carries a lease token; an answer is applied only
while its token is still the row's token, so a stale attempt's late answer changes nothing.
A lease is short (Config.lease_s) whatever the function's timeoutMs: the process holding it
renews the leases of all its in-flight invocations every heartbeat, so the runs of a process
that died are claimed again within one lease.
"""

from __future__ import annotations

from .core.admission import backoff_ms, flow_buckets
from .core.invocation import MAX_ANSWER_BYTES, MAX_STEPS, dumps
from .worker.base import Claim, Config, Outcome, iso, to_ms, utcnow
from .worker.cron import CronTicks
from .worker.manifests import read_limited

__all__ = ["MAX_ANSWER_BYTES", "MAX_STEPS", "Claim", "Config", "Engine", "Outcome",
           "backoff_ms", "dumps", "flow_buckets", "iso", "read_limited", "to_ms", "utcnow"]


class Engine(CronTicks):
    """One engine process: `run_workers()` and `run_cron()` run its loops; the service layer
    calls `ingest()`, `handoff_slots()`/`adopt()`, `fetch_manifest()` and `forget_manifest()`."""
