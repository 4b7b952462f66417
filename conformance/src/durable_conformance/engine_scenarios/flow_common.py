"""Shared by the flow scenarios: what the fake app saw (Tape, Span), scripted answers,
sending events and polling runs, and the timing allowances every flow check uses.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..fake_app import Answer, Script
from ..results import ERROR, Result
from ..signing import TIMESTAMP
from .workspace import Workspace

if TYPE_CHECKING:
    from ..engine_suite import EngineSuite


EARLY_S = 0.05  # clock resolution: never earlier than this


# Comparing two starts (throttle): each invoke's send stamp may lag the engine's decision to
# start it by a different amount on a loaded machine.
JITTER_S = 0.5


LATE_S = 2.5  # the engine's wake-up latency on a loaded machine


POLL_S = 0.15


ENGINE = "engine"


def case_results(name: str, results: Callable[[], list[Result]]) -> list[Result]:
    """A case's results; a case that crashed is one ERROR result, so it hides no other."""
    try:
        return results()
    except Exception as error:  # noqa: BLE001 - one broken case must not hide others
        broken = Result(name.removeprefix("case_"), ENGINE, [], status=ERROR)
        broken.failures.append(f"the scenario crashed: {error!r}")
        return [broken]


@dataclass
class Span:
    """One invocation as the fake app saw it: arrival, and when it answered."""

    function_id: str
    run_id: str
    request: dict[str, Any]
    start: float
    end: float

    @property
    def data(self) -> Any:
        return (self.request.get("event") or {}).get("data")

    @property
    def steps(self) -> dict[str, Any]:
        return self.request.get("steps") or {}


@dataclass
class Tape:
    spans: list[Span] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    notes: dict[str, Any] = field(default_factory=dict)  # e.g. a wait's until, by run id

    def wrap(self, script: Callable[[dict[str, Any]], Answer]) -> Script:
        def recorded(request: dict[str, Any]) -> Answer:
            now = time.time()
            answer = script(request)
            with self.lock:
                self.spans.append(Span(str(request.get("functionId")),
                                       str(request.get("runId")), request, now,
                                       now + answer.delay_s))
            return answer
        return recorded

    def of(self, *function_ids: str) -> list[Span]:
        with self.lock:
            return [s for s in self.spans if s.function_id in function_ids]

    def by_run(self, *function_ids: str) -> dict[str, list[Span]]:
        runs: dict[str, list[Span]] = {}
        for span in self.of(*function_ids):
            runs.setdefault(span.run_id, []).append(span)
        return runs


def first_sends(ws: Workspace, *function_ids: str) -> dict[str, float]:
    """Per run: when the engine sent its first invocation (its X-Durable-Timestamp; the
    arrival when absent), so transport delays do not blur a comparison of starts."""
    firsts: dict[str, float] = {}
    for function_id in function_ids:
        for item in ws.invokes(function_id):
            run_id = str(item.json().get("runId"))
            stamp = item.headers.get(TIMESTAMP, "")
            at = int(stamp) / 1000 if stamp.isdigit() else item.at_ms / 1000
            firsts.setdefault(run_id, at)
    return firsts


def max_in_flight(spans: list[Span]) -> int:
    """The most invocations the app held at once."""
    return max((sum(1 for o in spans if o.start <= s.start < o.end) for s in spans),
               default=0)


def iso_at(epoch_s: float) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_s))
    return f"{stamp}.{int(epoch_s * 1000) % 1000:03d}Z"


def done(data: Any = None, hold_s: float = 0.0) -> Answer:
    return Answer(op={"op": "done", "data": data}, delay_s=hold_s)


def step(step_id: str, data: Any = None, hold_s: float = 0.0) -> Answer:
    return Answer(op={"op": "step", "id": step_id, "data": data}, delay_s=hold_s)


def sleep_op(step_id: str, ms: int) -> Answer:
    return Answer(op={"op": "sleep", "id": step_id, "until": iso_at(time.time() + ms / 1000)})


def wait_op(step_id: str, event: str, match: Any, until: float) -> Answer:
    return Answer(op={"op": "wait", "id": step_id, "event": event, "match": match,
                      "until": iso_at(until)})


def quick(request: dict[str, Any]) -> Answer:
    return done("ok")


@dataclass
class Sent:
    id: str
    code: int
    receipt: Any
    t0: float  # before the request: the engine accepted the event no earlier
    t1: float  # after the answer: ... and no later

    @property
    def run_ids(self) -> list[str]:
        if isinstance(self.receipt, dict) and isinstance(self.receipt.get("runIds"), list):
            return [str(r) for r in self.receipt["runIds"]]
        return []


def send(ws: Workspace, name: str, data: Any, event_id: str | None = None) -> Sent:
    event_id = event_id or f"flow-{secrets.token_hex(8)}"
    t0 = time.time()
    code, answer = ws.api("/e", {"id": event_id, "name": name, "data": data})
    return Sent(event_id, code, answer, t0, time.time())


def poll(check: Callable[[], Any], timeout_s: float, interval_s: float = POLL_S) -> Any:
    """check()'s first truthy value within timeout_s, else its last value."""
    deadline = time.monotonic() + timeout_s
    value = check()
    while not value and time.monotonic() < deadline:
        time.sleep(interval_s)
        value = check()
    return value


def status_of(ws: Workspace, run_id: str) -> str | None:
    run = ws.run(run_id)
    return run.get("status") if run else None


def refused(result: Result, requirement_ids: list[str], sent: list[Sent]) -> bool:
    """Fail (and say so) when the engine refused an event the scenario needs."""
    bad = [s for s in sent if s.code != 200]
    for s in bad:
        result.fail(requirement_ids, f"/e refused event {s.id}: {s.code} {s.receipt!r}")
    return bool(bad)


def ms(seconds: float) -> int:
    return round(seconds * 1000)


@dataclass
class Context:
    suite: EngineSuite
    ws: Workspace
    tape: Tape
