"""Engine log output: readable lines by default, one JSON object per line with
`--log-format json`. Records carry their structured fields in `extra={"fields": {...}}`;
callers put ids, statuses and codes there, never keys or payloads."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

FORMATS = ("text", "json")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(), "logger": record.name,
            "msg": record.getMessage()}
        line.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, separators=(",", ":"), default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = getattr(record, "fields", None)
        if fields and record.name != "durable.runs":
            text += " " + " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        return text


def configure(level: str, fmt: str) -> None:
    """Log to stderr at `level` (debug, info, warning, error) in `fmt` (text or json)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    if level.lower() != "debug":  # one line per HTTP request is debug detail
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


runs_log = logging.getLogger("durable.runs")

_LEVEL = {"failed": logging.WARNING}


def run_changed(run_id: str, status: str, **fields: Any) -> None:
    """One line per run state change ([API-22] times are in the run itself). Fields are ids,
    statuses, attempts and codes; never keys, event data or step data."""
    fields = {k: v for k, v in fields.items() if v is not None}
    detail = " ".join(f"{k}={v}" for k, v in fields.items())
    runs_log.log(_LEVEL.get(status, logging.INFO), "run %s %s%s", run_id, status,
                 f" ({detail})" if detail else "",
                 extra={"fields": {"event": "run", "runId": run_id, "status": status,
                                   **fields}})
