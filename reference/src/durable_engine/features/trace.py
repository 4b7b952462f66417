"""Trace context ([TRACE-1..3]): W3C traceparents for runs whose event brought none."""

from __future__ import annotations

import hashlib
import secrets


def root_parent_id(trace_id: str) -> str:
    """The parent id of a traceparent the engine made for `trace_id`: derived from it (the
    first 16 hex digits of SHA-256 of `root:<trace id>`, as migration 0027 makes it in SQL),
    so that span export knows no sender span exists ([TRACE-6])."""
    return hashlib.sha256(f"root:{trace_id}".encode()).hexdigest()[:16]


def new_traceparent() -> str:
    """A version 00 traceparent with a random trace id, sampled, its parent id derived."""
    trace_id = secrets.token_hex(16)
    parent_id = root_parent_id(trace_id)
    if trace_id == "0" * 32 or parent_id == "0" * 16:  # all zeros is invalid
        return new_traceparent()
    return f"00-{trace_id}-{parent_id}-01"
