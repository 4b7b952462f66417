"""Engine scenarios: flow control (§13), waits and match (§11), flow keys, workspaces.

Every scenario runs in parallel with the others, each on its own functions (and event
names), most in one shared workspace. What the engine did is read from the fake app's
side wherever possible: a `Tape` records every invocation the app received, when, and
how long the app held it, so "in flight" is what the app saw, not what the engine says.
Periods are short (hundreds of ms to a few s); timing checks never allow early (beyond
the clock resolution, or JITTER_S where two starts are compared by the engine's send
stamps) and allow late by LATE_S. A scenario whose own sends were too slow to set up the
situation it checks (a loaded machine) is skipped with that reason, never passed."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ..fake_app import Script
from ..results import Result
from .flow_common import (
    Context,
    Tape,
    case_results,
)
from .flow_keys import (
    case_disable,
    case_fanout,
    case_key_source,
    case_versions_share,
    case_workspaces_apart,
    fanout_functions,
    key_source_functions,
    version_functions,
)
from .flow_rates import (
    batch_functions,
    case_batch,
    case_debounce,
    case_rate_limit,
    case_throttle,
    debounce_functions,
    rate_functions,
    throttle_functions,
)
from .flow_slots import (
    case_concurrency,
    case_parked_runs_hold_no_slot,
    case_priority,
    case_slot_freed_when_invocation_ends,
    concurrency_functions,
    priority_functions,
)
from .flow_waits import (
    case_key_vectors,
    case_match_vectors,
    case_wait_after_commit,
    case_wait_timeout,
    key_functions,
    match_functions,
    wait_functions,
)
from .workspace import workspace

if TYPE_CHECKING:
    from ..engine_suite import EngineSuite

# Scenarios on the shared workspace, and those that open their own workspaces.
SHARED: list[Callable[[Context], list[Result]]] = [
    case_concurrency, case_slot_freed_when_invocation_ends, case_parked_runs_hold_no_slot,
    case_priority, case_throttle,
    case_rate_limit, case_debounce, case_batch, case_key_source, case_versions_share,
    case_fanout, case_wait_after_commit, case_wait_timeout, case_match_vectors,
    case_key_vectors]


OWN: list[Callable[[EngineSuite], list[Result]]] = [case_disable, case_workspaces_apart]


def run(suite: EngineSuite) -> list[Result]:
    tape = Tape()
    scripts: dict[str, tuple[dict[str, Any], Script]] = {}
    for part in (concurrency_functions(tape), priority_functions(tape),
                 throttle_functions(tape), rate_functions(tape), debounce_functions(tape),
                 batch_functions(tape), key_source_functions(tape), version_functions(tape),
                 fanout_functions(tape), wait_functions(tape), match_functions(suite, tape),
                 key_functions(suite, tape)):
        scripts.update(part)
    shared, own = SHARED, OWN
    results: list[Result] = []
    began = time.monotonic()

    def timed(case: Callable[[Any], list[Result]], arg: Any) -> list[Result]:
        start = time.monotonic()
        try:
            return case(arg)
        finally:
            suite.log(f"flow: {case.__name__.removeprefix('case_')} took"
                      f" {time.monotonic() - start:.1f} s")

    with workspace(suite, scripts) as ws:
        ctx = Context(suite, ws, tape)
        with ThreadPoolExecutor(max_workers=len(shared) + len(own)) as pool:
            futures = [(c.__name__, pool.submit(timed, c, ctx)) for c in shared]
            futures += [(c.__name__, pool.submit(timed, c, suite)) for c in own]
            for name, future in futures:
                results += case_results(name, future.result)
    suite.log(f"flow: {len(results)} cases in {time.monotonic() - began:.1f} s")
    return results
