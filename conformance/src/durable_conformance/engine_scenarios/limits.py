"""Engine scenarios: limits, timeouts, retries, errors and cancellation.

Every case opens its own workspace (a fresh fake app) and they all run at once, so the
group takes as long as its slowest case (TOO_MANY_STEPS: a thousand invocations).
Timing checks allow no earliness (beyond the clock resolution) and LATE_MS of lateness."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from ..results import ERROR, Result
from .limits_answers import instants, last_error, manifest_after_401, memo_and_done, unsigned_answer
from .limits_retries import cancel_in_flight, delivery_failures, retries_and_backoff, timeouts
from .limits_sizes import (
    answer_too_large,
    oversized_events,
    oversized_sent_event,
    request_too_large,
    too_many_steps,
)

if TYPE_CHECKING:
    from ..engine_suite import EngineSuite


CASES: list[Callable[[EngineSuite], Result]] = [
    too_many_steps, request_too_large, answer_too_large, oversized_events, last_error,
    memo_and_done, instants, timeouts, delivery_failures, retries_and_backoff,
    cancel_in_flight, unsigned_answer, manifest_after_401, oversized_sent_event]


def _guarded(suite: EngineSuite, case: Callable[[EngineSuite], Result]) -> Result:
    try:
        return case(suite)
    except Exception as error:  # noqa: BLE001 - one broken case must not hide the others
        broken = Result(case.__name__.replace("_", "-"), "engine", [], status=ERROR)
        broken.failures.append(f"the case crashed: {error!r}")
        return broken


def run(suite: EngineSuite) -> list[Result]:
    with ThreadPoolExecutor(max_workers=len(CASES), thread_name_prefix="limits") as pool:
        return list(pool.map(lambda case: _guarded(suite, case), CASES))
