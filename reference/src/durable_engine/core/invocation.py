"""The invocation codec: the request body the engine POSTs to an app ([INV-1..5]), its
signature headers, and the app's answer read into one typed op ([OP-1]) or a delivery error
with its code ([RETRY-3], [RETRY-5]). Bytes in, values out; the worker does the HTTP."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .. import signing
from ..validation import Invalid, parse_instant, validate_op
from .context import RunContext

MAX_STEPS = 1000  # [ERR-7]
MAX_ANSWER_BYTES = 1_048_576
V2_CAPABILITY = "timestamped-signatures"
_UNSET: Any = object()


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


@dataclass(frozen=True)
class StepOp:
    id: str
    data: Any = None
    kind = "step"


@dataclass(frozen=True)
class SendEventOp:
    id: str
    events: list[dict[str, Any]]
    kind = "sendEvent"


@dataclass(frozen=True)
class SleepOp:
    id: str
    until: datetime
    kind = "sleep"


@dataclass(frozen=True)
class WaitOp:
    id: str
    event: str
    until: datetime
    match: dict[str, Any] | None = None
    kind = "wait"


@dataclass(frozen=True)
class InvokeOp:
    """[INVOKE-2]: start a child run of `function` (in workspace `app`, None: the run's
    own) and park until it ends or `until` passes."""

    id: str
    function: str
    app: str | None
    data: Any
    until: datetime | None
    kind = "invoke"


@dataclass(frozen=True)
class DoneOp:
    data: Any = None
    kind = "done"


@dataclass(frozen=True)
class ErrorOp:
    """An error the app reported, or (delivery=True) one the engine records for an attempt
    that produced no op ([RETRY-3])."""

    message: str | None
    id: str | None = None
    retryable: bool = True
    name: str | None = None
    code: str | None = None
    details: Any = _UNSET
    delivery: bool = False
    kind = "error"

    def error(self) -> dict[str, Any]:
        """The run's error object: the fields the app gave, name defaulting to Error."""
        out: dict[str, Any] = {"message": self.message}
        out["name"] = self.name if self.name is not None else "Error"
        if self.code is not None:
            out["code"] = self.code
        if self.details is not _UNSET:
            out["details"] = self.details
        if self.id:
            out["stepId"] = self.id
        return out


Op = StepOp | SendEventOp | SleepOp | WaitOp | InvokeOp | DoneOp | ErrorOp
MEMO_OPS = (StepOp, SendEventOp, SleepOp, WaitOp, InvokeOp)  # ops that memoize a step


def decode_op(value: Any) -> Op:
    """A JSON value answered by an app as a typed op; Invalid when it is not one."""
    op = validate_op(value)
    kind = op["op"]
    if kind == "step":
        return StepOp(op["id"], op.get("data"))
    if kind == "sendEvent":
        return SendEventOp(op["id"], op["events"])
    if kind == "sleep":
        return SleepOp(op["id"], parse_instant(op["until"]))
    if kind == "wait":
        return WaitOp(op["id"], op["event"], parse_instant(op["until"]), op.get("match"))
    if kind == "invoke":
        until = op["until"]
        return InvokeOp(op["id"], op["function"], op["app"], op["data"],
                        None if until is None else parse_instant(until))
    if kind == "done":
        return DoneOp(op.get("data"))
    return ErrorOp(op["message"], op.get("id"), op["retryable"], op.get("name"),
                   op.get("code"), op.get("details", _UNSET))


def request_body(ctx: RunContext, run_id: str, namespace: str, attempt: int) -> dict[str, Any]:
    body: dict[str, Any] = {"functionId": ctx.function_id, "runId": run_id,
                            "event": ctx.event, "steps": ctx.steps, "attempt": attempt}
    if ctx.events is not None:  # a batch run ([INV-5])
        body["events"] = ctx.events
    if ctx.traceparent is not None:  # [TRACE-3]; apps without trace-context ignore it
        body["traceparent"] = ctx.traceparent
    if namespace == "failure":
        body["failure"] = ctx.error or {"message": "run failed", "name": "Error"}
    return body


def signs_v2(capabilities: Sequence[str]) -> bool:
    return V2_CAPABILITY in capabilities


def request_headers(keys: Sequence[str], body: bytes, v2: bool,
                    timestamp: str) -> dict[str, str]:
    headers = {"Content-Type": "application/json",
               "X-Durable-Signature": signing.sign(keys[0], body)}
    if v2:
        headers["X-Durable-Timestamp"] = timestamp
        headers["X-Durable-Signature-V2"] = signing.sign_v2(keys[0], timestamp, body)
    return headers


@dataclass(frozen=True)
class Reply:
    """An app's answer read: an op, or an error text with its per-invocation code."""

    op: Op | None
    error: str | None = None
    code: str = "INVALID_RESPONSE"


def read_answer(status: int, answer: bytes, headers: Mapping[str, str], keys: Sequence[str],
                v2: bool, timestamp: str) -> Reply:
    """[RETRY-3]: a non-200 status is a delivery failure; an oversized, unsigned or invalid
    answer is an invalid response. `answer` holds at most MAX_ANSWER_BYTES + 1 bytes."""
    if status != 200:
        snippet = answer[:200].decode(errors="replace")
        return Reply(None, f"app answered HTTP {status}: {snippet}", "DELIVERY_FAILED")
    if len(answer) > MAX_ANSWER_BYTES:
        return Reply(None, f"app answer exceeds {MAX_ANSWER_BYTES} bytes")
    if not signing.matches_any(keys, answer, headers.get("X-Durable-Signature", "")):
        return Reply(None, "app answer has an invalid X-Durable-Signature")
    if v2 and not signing.matches_any(keys, timestamp.encode() + b"." + answer,
                                      headers.get("X-Durable-Signature-V2", "")):
        return Reply(None, "app answer has an invalid X-Durable-Signature-V2")
    try:
        # Hand validation mirrors spec/schemas/op*.json (checked by the tests) at a fraction
        # of jsonschema's cost on this hot path.
        return Reply(decode_op(json.loads(answer)))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return Reply(None, "app answer is not JSON")
    except Invalid as error:
        return Reply(None, f"app answer is not a valid op: {error.path or '/'} "
                           f"{error.message}")


def refusal(ctx: RunContext, body_bytes: int) -> ErrorOp | None:
    """An invocation the engine refuses to send, as the error op it applies instead."""
    if ctx.definition is None:
        return local_error("UNKNOWN_FUNCTION",
                           f"function {ctx.function_id} is not registered in this workspace")
    if body_bytes > ctx.max_request_bytes:
        return local_error("REQUEST_TOO_LARGE",
                           f"invoke request of {body_bytes} bytes exceeds the app's limit of "
                           f"{ctx.max_request_bytes} bytes")
    return None


def local_error(code: str, message: str) -> ErrorOp:
    return ErrorOp(message, None, False, "DurableError", code)


def memo_refusal(op: Op, steps: Mapping[str, Any]) -> ErrorOp | None:
    """A memoizing op that may not be recorded: its id is memoized already ([OP-10]) or the
    run holds MAX_STEPS memos ([ERR-7]). The run fails with this error, never retried."""
    if not isinstance(op, MEMO_OPS):
        return None
    if op.id in steps:
        return ErrorOp(f"step {op.id!r} is already memoized", op.id, False, "DurableError",
                       "NON_DETERMINISTIC")
    if len(steps) + 1 > MAX_STEPS:
        return ErrorOp(f"a run may memoize at most {MAX_STEPS} steps", None, False,
                       "DurableError", "TOO_MANY_STEPS")
    return None
