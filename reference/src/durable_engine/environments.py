"""Workspace environments ([ENV-1]): which names are production, for every tool that shows one."""

from __future__ import annotations

PRODUCTION = ("prod", "production")
HEADER = "X-Durable-Environment"  # [ENV-2]: on every 200 answer to a signed engine-API call


def is_production(environment: str | None) -> bool:
    return (environment or "").lower() in PRODUCTION
