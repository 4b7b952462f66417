"""Capability names of spec/registry.json and protocol constants the fake engine uses."""

from __future__ import annotations

TIMESTAMPED = "timestamped-signatures"
OCCURRENCES = "step-occurrences"
KEY_ROTATION = "key-rotation"
STRICT_REPLAY = "strict-replay"
DEFAULT_MAX_REQUEST = 1_048_576
WINDOW_MS = 300_000  # timestampWindowMs, inclusive ([SIG-5], [LIMIT-1])
