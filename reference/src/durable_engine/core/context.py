"""What one invocation of a run needs to know, read once per claim: the run, its function's
definition, its app and the memos of the namespace being invoked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

DEFAULT_MAX_REQUEST_BYTES = 1_048_576


@dataclass
class RunContext:
    run_id: str
    workspace_id: str
    function_id: str
    event: dict[str, Any]
    definition: dict[str, Any] | None  # None: the function is not registered
    app_url: str
    keys: list[str]
    capabilities: list[str] = field(default_factory=list)
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    manifest_at: datetime | None = None
    events: list[dict[str, Any]] | None = None  # a batch run's events ([INV-5])
    error: dict[str, Any] | None = None  # the run's error, for its failure handler
    traceparent: str | None = None  # [TRACE-2]
    created_at: datetime | None = None  # the run's creation (the start of its span)
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)  # step id: {type, data}
    # run state changes made in the current transaction, logged once it commits
    changes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @classmethod
    def from_row(cls, row: Mapping[str, Any],
                 steps: dict[str, dict[str, Any]] | None = None) -> RunContext:
        """From a store row with the columns of the `context` query (plus `steps`)."""
        return cls(
            run_id=row["id"], workspace_id=row["workspace_id"],
            function_id=row["function_id"], event=row["event"],
            definition=row["definition"], app_url=row["app_url"], keys=list(row["keys"]),
            capabilities=list(row["capabilities"] or []),
            max_request_bytes=row["max_request_bytes"] or DEFAULT_MAX_REQUEST_BYTES,
            manifest_at=row["manifest_at"], events=row["events"], error=row["error"],
            traceparent=row.get("traceparent"), created_at=row.get("created_at"),
            steps=dict(row.get("steps") or {}) if steps is None else steps)

    @property
    def rules(self) -> dict[str, Any]:
        """The function's definition, empty when it is not registered."""
        return self.definition or {}

    def changed(self, status: str, **fields: Any) -> None:
        """Note a run state change made in the current transaction."""
        self.changes.append((status, fields))
