"""Trace context ([TRACE-1..3]): W3C traceparents for runs whose event brought none."""

from __future__ import annotations

import secrets


def new_traceparent() -> str:
    """A version 00 traceparent with a random trace id and parent id, sampled."""
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    if trace_id == "0" * 32 or parent_id == "0" * 16:  # all zeros is invalid
        return new_traceparent()
    return f"00-{trace_id}-{parent_id}-01"
