"""Engine scenarios: definitions and cron validity through `/fn/sync`, cron ticks, the
engine API (openapi, bulk operations, versions), key rotation limits, the callback URL,
API signatures and dev discovery.

Every case runs in a workspace of its own (`workspace.py`), so what it syncs, sends or
cancels cannot disturb another group."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..harness import HarnessError
from ..results import ERROR, Result
from .api_cron import cron_ticks
from .api_definitions import cron_vectors, definition_vectors
from .api_runs import bulk_operations, openapi, versions
from .api_workspaces import api_signatures, callback_url, discovery, key_limits
from .workspace import WorkspaceError

if TYPE_CHECKING:
    from ..engine_suite import EngineSuite


# Cases that are HTTP by nature: over another transport they are skipped, saying why.
HTTP_ONLY = {
    "openapi": "GET /openapi.yaml is an HTTP document (the protos are gRPC's contract)",
    "signatures": "HTTP signature headers; gRPC signatures are the grpc-signatures case",
    "discovery": "dev discovery is engine->app HTTP, no engine API call",
    "callback-url": "an extra JSON member has no protobuf form (unknown fields: "
                    "grpc-bad-messages)",
}


def run(suite: EngineSuite) -> list[Result]:
    results: list[Result] = []
    cases: list[tuple[str, Callable[[EngineSuite], list[Result]]]] = [
        ("definitions", definition_vectors), ("cron-validity", cron_vectors),
        ("cron-ticks", cron_ticks), ("openapi", openapi), ("bulk", bulk_operations),
        ("versions", versions), ("keys", key_limits), ("callback-url", callback_url),
        ("signatures", api_signatures), ("discovery", discovery),
    ]
    for name, case in cases:
        began = time.monotonic()
        if suite.transport != "http" and name in HTTP_ONLY:
            results.append(Result(f"api-{name}", "engine", []).skip(HTTP_ONLY[name]))
            continue
        try:
            results += case(suite)
        except (WorkspaceError, HarnessError) as error:
            broken = Result(f"api-{name}", "engine", [], status=ERROR)
            broken.failures.append(f"could not set up the {name} scenario: {error}")
            results.append(broken)
        except Exception as error:  # noqa: BLE001 - an odd answer must not hide other cases
            broken = Result(f"api-{name}", "engine", [], status=ERROR)
            broken.failures.append(f"the {name} scenario crashed: {error!r}")
            results.append(broken)
        suite.log(f"api: {name} took {time.monotonic() - began:.1f} s")
    return results
