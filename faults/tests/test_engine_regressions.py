"""Engine bugs found by the fault suite, each as the smallest scenario that shows it.

An open bug is xfail(strict=True), so its fix XPASSes and fails the run until the marker
goes; a fixed one stays as a plain regression test.
"""

from __future__ import annotations

import time

from conftest import wait_status

# The engine's fixed lease margin beyond a function's timeoutMs, plus room for a slow CI box.
LEASE_MARGIN_S = 30
SLACK_S = 10


# Found: a claim's lease was default_timeout_ms (300 s) + 30 s whatever the function's
# timeoutMs, so a run whose engine was kill -9'd during its first invocation stayed 'running'
# for 330 s. Fixed in reference a84b4e8.
def test_kill9_during_first_invocation_recovers_within_timeout_plus_margin(
        serve, held_app) -> None:  # noqa: ANN001 - fixtures
    client, gate = held_app(timeout_ms=1000)
    run_id = client.send("held/go", {})["runIds"][0]
    assert gate.arrived.wait(15), "the engine never invoked the app"
    serve.kill9()
    gate.released.set()  # the answer goes to a dead engine
    serve.start()
    serve.wait_ready()
    # A correct engine re-claims once the function's own lease (1 s + margin) has expired.
    assert wait_status(client, run_id, 1 + LEASE_MARGIN_S + SLACK_S) == "completed"


# Found: a Postgres restart while an invocation was in flight made the answer's transaction
# fail on a dead pooled connection; the dispatch task crashed, the answer was dropped and the
# run waited for its lease (330 s on a first claim). Fixed in reference a84b4e8.
def test_postgres_restart_during_invocation_does_not_strand_the_run(
        postgres, serve, held_app) -> None:  # noqa: ANN001 - fixtures
    client, gate = held_app(timeout_ms=20_000)
    run_id = client.send("held/go", {})["runIds"][0]
    assert gate.arrived.wait(15), "the engine never invoked the app"
    postgres.restart(down_s=1.0)
    time.sleep(0.5)
    gate.released.set()  # the answer arrives once Postgres is back
    assert wait_status(client, run_id, SLACK_S + 5) == "completed"
