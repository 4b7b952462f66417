"""Shared by the limits scenarios: starting a run, waiting for its status or its invocations,
and checking its history and retry gaps.
"""

from __future__ import annotations

import json
import math
import time
from typing import TYPE_CHECKING, Any

from ..fake_app import EARLY_MS, LATE_MS, TERMINAL, Received
from ..results import Result
from .workspace import Workspace

if TYPE_CHECKING:
    pass


POLL_S = 0.2


SMALL_APP_BYTES = 65_536  # the smallest maxRequestBytes a manifest may state ([MAN-1])


STEPS_PER_RUN = 1000


APP_RESPONSE_BYTES = 1_048_576


EVENT_BYTES = 262_144


API_REQUEST_BYTES = 1_048_576


def compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def instant(ms: float, digits: int | str = 3, offset_min: int = 0) -> str:
    """An ISO instant for unix ms `ms`: `digits` fraction digits (a str: those digits
    verbatim) and a `Z` or `+hh:mm` zone."""
    local_s = math.floor(ms / 1000) + offset_min * 60
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(local_s))
    millis = int(ms) % 1000
    if isinstance(digits, str):
        fraction = "." + digits
    elif digits == 0:
        fraction = ""
    else:
        fraction = "." + f"{millis:03d}".ljust(digits, "0")[:digits]
    zone = "Z" if offset_min == 0 else f"+{offset_min // 60:02d}:{offset_min % 60:02d}"
    return stamp + fraction + zone


def start(ws: Workspace, function_id: str, result: Result) -> str | None:
    """Send the function's trigger event; its run id, or None with the refusal recorded
    on `result`."""
    code, receipt = ws.send(f"conf.fake.{function_id}", {"case": function_id})
    run_ids = receipt.get("runIds") if isinstance(receipt, dict) else None
    if code != 200 or not isinstance(run_ids, list) or len(run_ids) != 1:
        result.fail([], f"/e for {function_id} answered {code} {str(receipt)[:200]}")
        return None
    return str(run_ids[0])


def wait_status(ws: Workspace, run_id: str, statuses: set[str] | None = None,
                timeout_s: float = 30.0) -> dict[str, Any]:
    wanted = statuses or TERMINAL
    deadline = time.monotonic() + timeout_s
    run: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        run = ws.run(run_id)
        if run is not None and run.get("status") in wanted:
            return run
        time.sleep(POLL_S)
    return run or {}


def wait_invokes(ws: Workspace, function_id: str, count: int, timeout_s: float = 15.0
                 ) -> list[Received]:
    deadline = time.monotonic() + timeout_s
    while True:
        invokes = ws.invokes(function_id)
        if len(invokes) >= count or time.monotonic() > deadline:
            return invokes
        time.sleep(0.05)


def sleep_until_ms(at_ms: float) -> None:
    time.sleep(max(0.0, at_ms / 1000 - time.time()))


def attempts_of(invokes: list[Received]) -> list[Any]:
    return [i.json().get("attempt") for i in invokes]


def expect_failed(result: Result, run: dict[str, Any], code: str, requirement_ids: list[str],
                  what: str) -> bool:
    """The run ended `failed` with a DurableError of `code`; else one failure saying what
    it ended as."""
    error = run.get("error") or {}
    if run.get("status") == "failed" and error.get("code") == code and \
            error.get("name") == "DurableError":
        return True
    result.fail(requirement_ids, f"{what}: run ended {run.get('status')!r} with error"
                                 f" {json.dumps(error)[:200]}; expected failed, DurableError"
                                 f" {code}")
    return False


def check_history(result: Result, ws: Workspace, run_id: str, invokes: list[Received],
                  ops: list[str | None], codes: list[str | None] | None = None) -> None:
    """[API-19]: one entry per HTTP attempt, oldest first, failed ones included; `op` is
    what the app answered (null when not valid) and `error` is null on success (an error
    op may count either way: the delivery worked, the run did not progress)."""
    history = ws.history(run_id)
    if history is None:
        result.fail(["API-19"], f"/runs/history refused run {run_id}")
        return
    seen = [(h.get("attempt"), h.get("op")) for h in history]
    want = list(zip(attempts_of(invokes), ops, strict=True))
    if seen != want:
        result.fail(["API-19"], f"/runs/history lists (attempt, op) {seen}; the app got"
                                f" {want} in that order")
        return
    stamps = [h.get("at") for h in history]
    if stamps != sorted(stamps, key=str):
        result.fail(["API-19"], f"/runs/history is not oldest first: {stamps}")
    for entry, op in zip(history, ops, strict=True):
        if op != "error" and (entry.get("error") is None) != (op is not None):
            result.fail(["API-19"], f"history entry {json.dumps(entry)[:200]}: `error`"
                                    " must be null exactly when the answer was valid")
            return
    if codes is not None and [h.get("code") for h in history] != codes:
        result.fail(["API-19", "RETRY-3"], f"/runs/history codes"
                                           f" {[h.get('code') for h in history]}, expected"
                                           f" {codes}")
        return
    result.cover(["API-19"])


def check_gaps(result: Result, invokes: list[Received]) -> None:
    """[RETRY-4]: retry k comes min(1000·2^(k−1), 300000)·[0.5, 1] ms after attempt k−1."""
    for k in range(1, len(invokes)):
        base = min(1000 * 2 ** (k - 1), 300_000)
        gap = invokes[k].at_ms - invokes[k - 1].at_ms
        if not base * 0.5 - EARLY_MS <= gap <= base + LATE_MS:
            result.fail(["RETRY-4"], f"retry {k} came {gap} ms after attempt {k - 1};"
                                     f" the backoff is {base // 2}..{base} ms"
                                     f" (+{LATE_MS} ms latency allowed)")
