"""Where the repository lives: the suite reads spec/ and writes conformance/reports/."""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """The checkout root: $DURABLE_REPO_ROOT, else the nearest parent holding spec/."""
    explicit = os.environ.get("DURABLE_REPO_ROOT")
    if explicit:
        return Path(explicit).resolve()
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for candidate in (start, *start.parents):
            if (candidate / "spec").is_dir() and (candidate / "conformance").is_dir():
                return candidate
    raise RuntimeError("cannot find the repository root (set DURABLE_REPO_ROOT)")


def conformance_dir() -> Path:
    return repo_root() / "conformance"


def reports_dir() -> Path:
    override = os.environ.get("DURABLE_CONFORMANCE_REPORTS")
    return Path(override).resolve() if override else conformance_dir() / "reports"
