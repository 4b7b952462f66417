"""Engine scenarios: limits (to be written)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..fake_app import EngineSuite
    from ..results import Result


def run(suite: EngineSuite) -> list[Result]:
    return []
