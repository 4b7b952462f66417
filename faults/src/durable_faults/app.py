"""The app under faults: a published-SDK function whose steps write a journal, served by an
HTTP server that, for a fraction of invocations, answers 500, garbage, too late, or not at all.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import random
import socket
import sqlite3
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from durable import DurableFunction
from durable.serve import handle_request

EVENT = "faults/work"
FUNCTION_ID = "faults-work"
DOOMED_EVENT = "faults/doomed"
DOOMED_MESSAGE = "doomed by design"
TIMEOUT_MS = 3000
FAULT_KINDS = ("http500", "garbage", "timeout", "close")
# (body, signed with the app's key?): unsigned ones test the signature check, signed ones
# the op validation behind it, the last the answer size limit.
GARBAGE = [
    (b"\x00\xffnot json", False), (b'{"op":"done","data":1}', False), (b"[]", True),
    (b'{"op":"step","id":"s0"', True), (b'{"op":"explode","id":"s0"}', True),
    (b'{"op":"step"}', True), (b'{"op":"sleep","id":"x","until":"tomorrow"}', True),
    (b'{"op":"done","data":"' + b"x" * 1_100_000 + b'"}', True),
]


class Journal:
    """App-side record of every step body execution: (n, step, token, pid)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.db.execute("CREATE TABLE executions (n INTEGER, step TEXT, token TEXT, at REAL)")

    def record(self, n: int, step: str) -> str:
        token = uuid.uuid4().hex
        with self.lock:
            self.db.execute("INSERT INTO executions VALUES (?, ?, ?, ?)",
                            (n, step, token, time.time()))
        return token

    def rows(self) -> list[tuple[int, str, str]]:
        with self.lock:
            return list(self.db.execute("SELECT n, step, token FROM executions"))

    def close(self) -> None:
        self.db.close()


def workload(journal: Journal, steps: int) -> DurableFunction:
    """Each run: `steps` step.runs with a 1 s sleep in the middle; returns what it saw."""

    def handler(event: dict[str, Any], step: Any) -> Any:
        n = int(event["data"]["n"])
        seen = []
        for i in range(steps):
            step_id = f"s{i}"
            seen.append(step.run(step_id, lambda sid=step_id: journal.record(n, sid)))
            if i == steps // 2 - 1:
                step.sleep("nap", "1s")
        return {"n": n, "tokens": seen}

    return DurableFunction(id=FUNCTION_ID, trigger={"event": EVENT}, handler=handler,
                           retries=20, timeout=TIMEOUT_MS)


def doomed(journal: Journal) -> DurableFunction:
    """A run whose step always fails: it must retry, then fail cleanly with this message."""

    def handler(event: dict[str, Any], step: Any) -> Any:
        n = int(event["data"]["n"])

        def fail() -> None:
            journal.record(n, "doomed")
            raise RuntimeError(DOOMED_MESSAGE)

        return step.run("doomed", fail)

    return DurableFunction(id="faults-doomed", trigger={"event": DOOMED_EVENT}, handler=handler,
                           retries=2, timeout=TIMEOUT_MS)


class FaultyApp:
    """The SDK's request handler behind a server that misbehaves on purpose."""

    def __init__(self, functions: list[DurableFunction], fault_rate: float, seed: int) -> None:
        self.functions = functions
        self.fault_rate = fault_rate
        self.rng = random.Random(seed)
        self.rng_lock = threading.Lock()
        self.signing_key = ""
        self.injected: Counter[str] = Counter()
        self.invocations = 0
        self.port = 0
        self.outages = 0
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/durable"

    def pick_fault(self) -> str | None:
        with self.rng_lock:
            self.invocations += 1
            if not self.signing_key or self.rng.random() >= self.fault_rate:
                return None
            kind = self.rng.choice(FAULT_KINDS)
            self.injected[kind] += 1
            return kind

    def answer(self, method: str, headers: dict[str, str], body: bytes) -> Any:
        return handle_request(method, headers, body, self.functions,
                              signing_key=self.signing_key)

    def start(self, port: int = 0) -> None:
        app = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def _send(self, status: int, body: bytes, headers: Any = ()) -> None:
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 - the manifest; never faulted
                response = app.answer("GET", dict(self.headers.items()), b"")
                self._send(response.status, response.body, response.headers)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                fault = app.pick_fault()
                # The step body runs before most faults: the work happened, its answer is lost,
                # so the engine must re-invoke and the step runs again (at-least-once) while
                # its memo must still be committed exactly once.
                response = None
                if fault != "garbage" or random.random() < 0.5:
                    response = app.answer("POST", dict(self.headers.items()), body)
                if fault is None:
                    assert response is not None
                    self._send(response.status, response.body, response.headers)
                elif fault == "http500":
                    self._send(500, b"internal error (injected)")
                elif fault == "garbage":
                    body, signed = random.choice(GARBAGE)
                    signature = (hmac.new(app.signing_key.encode(), body, hashlib.sha256)
                                 .hexdigest() if signed else os.urandom(32).hex())
                    self._send(200, body, [("Content-Type", "application/json"),
                                           ("X-Durable-Signature", signature)])
                elif fault == "timeout":
                    time.sleep(TIMEOUT_MS / 1000 + 0.5)
                    assert response is not None
                    try:
                        self._send(response.status, response.body, response.headers)
                    except OSError:
                        pass  # the engine gave up and hung up: expected
                else:  # close: hang up without a status line
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # the engine hung up on a late answer: expected, not worth a trace

        self.server = Server(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def outage(self, seconds: float) -> None:
        """The app is gone (killed, redeployed): connections refused, then back on its port."""
        port = self.port
        self.close()
        time.sleep(seconds)
        self.start(port)
        self.outages += 1

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
