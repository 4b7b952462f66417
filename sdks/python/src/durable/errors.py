"""Exceptions a workflow raises and exceptions the SDK raises."""

from __future__ import annotations

from typing import Any

from ._protocol import MAX_ERROR_CODE_CHARS


class NonRetriableError(RuntimeError):
    """Raise from a step or handler to fail the run at once (op `error`, `retryable: false`)."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        name: str = "NonRetriableError",
    ) -> None:
        super().__init__(message)
        self.code = code[:MAX_ERROR_CODE_CHARS] if code else None
        self.details = details
        self.name = name


class InvokeError(NonRetriableError):
    """[INVOKE-8]: the function `step.invoke` ran failed, was cancelled or did not end in
    time. `code` is INVOKE_FAILED, INVOKE_CANCELLED or INVOKE_TIMEOUT; `details` holds the
    memo's `runId`, `status` and `error`; `step_id` the invoke step's id."""

    def __init__(self, message: str, *, code: str, details: Any, step_id: str) -> None:
        super().__init__(message, code=code, details=details, name="InvokeError")
        self.step_id = step_id


class FailureError(RuntimeError):
    """The failure that ended a run, as handed to an `on_failure` handler."""

    def __init__(
        self,
        message: str,
        *,
        name: str = "Error",
        code: str | None = None,
        step_id: str | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.name = name
        self.code = code
        self.step_id = step_id
        self.details = details


class DurableError(RuntimeError):
    """A call to the engine API failed.

    `status` is the HTTP status when the engine answered, `code` and `path` come from
    its error body (`{"error": {"code", "message", "path"?}}`) when it had one (the API's
    codes: spec/registry.json). The underlying cause (the network error, the JSON error of
    an unreadable answer, or the failed call a wrapping error stands for) is `__cause__`.
    """

    status: int | None = None
    code: str | None = None
    path: str | None = None


class EventSendError(DurableError):
    """Sending one event failed; `event_id` lets the caller resend it idempotently."""

    def __init__(self, event_id: str, message: str) -> None:
        super().__init__(message)
        self.event_id = event_id


class BulkEventSendError(DurableError):
    """Sending a batch failed; `event_ids` lets the caller resend it idempotently."""

    def __init__(self, event_ids: list[str], message: str) -> None:
        super().__init__(message)
        self.event_ids = event_ids


class RunActionError(DurableError):
    """A rerun failed; resend with the same `idempotency_key` to stay idempotent."""

    def __init__(self, idempotency_key: str, message: str) -> None:
        super().__init__(message)
        self.idempotency_key = idempotency_key


class DefinitionError(ValueError):
    """A FunctionDefinition breaks the wire schema; `path` is a JSON Pointer to the field."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or '/'}: {message}")
        self.path = path
        self.reason = message
