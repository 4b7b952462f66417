"""Engine scenario groups beyond the core ones in engine_suite.py.

Each group is a function `(suite) -> list[Result]` that opens its own `Workspace` (a
fresh fake app registered as its own workspace), so groups cannot disturb each other or
the core scenarios. Add a group by appending it to GROUPS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from . import api, cancel_on, flow, invoke_trace, limits, protocol, run_keys, webhooks

if TYPE_CHECKING:
    from ..engine_suite import EngineSuite
    from ..results import Result

GROUPS: list[tuple[str, Callable[[EngineSuite], list[Result]]]] = [
    ("limits", limits.run),
    ("flow", flow.run),
    ("api", api.run),
    ("protocol", protocol.run),
    ("cancel-on", cancel_on.run),
    ("run-keys", run_keys.run),
    ("invoke-trace", invoke_trace.run),
    ("webhooks", webhooks.run),
]
