"""The dashboard over plain HTTP: sessions (logout ends them on the server, Secure behind
HTTPS, the token never logged), streams refused without a session, Last-Event-ID resume,
and a browser that stops reading cannot slow the engine."""

from __future__ import annotations

import http.client
import logging
import socket
import time
import urllib.parse
from typing import Any

import pytest
from conftest import ADMIN_TOKEN, event_name, wait_for
from durable import DurableFunction, Step


def connect(engine: Any, timeout: float = 10) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", int(engine.url.rsplit(":", 1)[1]),
                                      timeout=timeout)


def login(engine: Any, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    conn = connect(engine)
    conn.request("POST", "/login", urllib.parse.urlencode({"token": ADMIN_TOKEN}),
                 {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})})
    response = conn.getresponse()
    response.read()
    return response


def session(engine: Any) -> str:
    cookie = login(engine).getheader("Set-Cookie") or ""
    return cookie.split(";")[0]


def get(engine: Any, path: str, cookie: str = "", **headers: str) -> http.client.HTTPResponse:
    conn = connect(engine)
    conn.request("GET", path, headers={"Cookie": cookie, **headers})
    return conn.getresponse()


def events(response: http.client.HTTPResponse, count: int, timeout: float = 15
           ) -> list[dict[str, str]]:
    """The next `count` SSE events (id, event, data) of a stream."""
    found: list[dict[str, str]] = []
    current: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while len(found) < count:
        assert time.monotonic() < deadline, found
        line = response.fp.readline().decode().rstrip("\n")
        if not line:
            if "event" in current:
                found.append(current)
            current = {}
        elif not line.startswith(":"):
            key, _, value = line.partition(": ")
            current[key] = current.get(key, "") + value
    return found


def quick(name: str) -> DurableFunction:
    def handler(event: dict[str, Any], step: Step) -> Any:
        return step.run("one", lambda: 1)

    return DurableFunction(id="quick", trigger={"event": name}, handler=handler)


def test_sessions_end_on_logout_are_secure_behind_https_and_never_log_the_token(
        engine: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    plain = login(engine).getheader("Set-Cookie") or ""
    assert "HttpOnly" in plain and "SameSite=Strict" in plain and "Secure" not in plain
    behind_tls = login(engine, {"X-Forwarded-Proto": "https"}).getheader("Set-Cookie") or ""
    assert "Secure" in behind_tls
    cookie = plain.split(";")[0]
    page = get(engine, "/", cookie)
    body = page.read().decode()
    assert page.status == 200 and "Workspaces" in body
    csrf = body.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    conn = connect(engine)
    conn.request("POST", "/logout", urllib.parse.urlencode({"csrf": csrf}),
                 {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    assert conn.getresponse().status == 303
    again = get(engine, "/", cookie)  # the old cookie, replayed
    assert again.status == 303 and again.getheader("Location") == "/login"
    assert ADMIN_TOKEN not in caplog.text
    assert cookie.split("=", 1)[1] not in caplog.text


def test_streams_refuse_without_a_session(engine: Any, make_app: Any) -> None:
    app = make_app([quick(event_name("q"))])
    response = get(engine, f"/ws/{app.id}/runs/live", Accept="text/event-stream")
    assert response.status == 401
    assert get(engine, f"/ws/{app.id}/runs/live", "durable_session=forged").status == 401


def test_a_stream_resumes_from_last_event_id(engine: Any, make_app: Any) -> None:
    name = event_name("resume")
    app = make_app([quick(name)])
    cookie = session(engine)
    stream = get(engine, f"/ws/{app.id}/runs/live", cookie)
    assert stream.status == 200 and stream.getheader("Content-Type") == "text/event-stream"
    first = app.run_of(app.send(name))
    seen = events(stream, 1)
    assert first in seen[0]["data"] and seen[0]["event"] == "run"
    last_id = seen[0]["id"]
    stream.close()  # the connection drops; work goes on
    missed = [app.run_of(app.send(name)) for _ in range(3)]
    for run_id in [first, *missed]:
        app.wait_run(run_id)
    time.sleep(0.5)
    resumed = get(engine, f"/ws/{app.id}/runs/live", cookie, **{"Last-Event-ID": last_id})
    # first's completion and every missed run's creation and completion, in order
    got = events(resumed, 1 + 2 * len(missed))
    text = "".join(e["data"] for e in got)
    assert all(run_id in text for run_id in missed) and "status-completed" in text
    assert [int(e["id"].split("-")[1]) for e in got] == \
        sorted(int(e["id"].split("-")[1]) for e in got)
    resumed.close()
    stale = get(engine, f"/ws/{app.id}/runs/live", cookie, **{"Last-Event-ID": "ffff-1"})
    assert events(stale, 1)[0]["event"] == "resync"  # an id of another process: re-read
    stale.close()


def test_a_browser_that_stops_reading_cannot_slow_the_engine(engine: Any,
                                                            make_app: Any) -> None:
    name = event_name("flood")
    app = make_app([quick(name)])
    cookie = session(engine)
    port = int(engine.url.rsplit(":", 1)[1])
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect(("127.0.0.1", port))
    stalled.sendall(f"GET /ws/{app.id}/runs/live HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\n"
                    "\r\n".encode())  # and never reads
    reader = get(engine, f"/ws/{app.id}/runs/live", cookie)
    time.sleep(0.3)
    started = time.monotonic()
    run_ids = [r["runIds"][0] for chunk in range(3) for r in app.client.send_many(
        [{"name": name, "data": {"i": chunk * 100 + i}} for i in range(100)])]
    # the reading page sees every run complete, while the other one reads nothing
    done: set[str] = set()
    deadline = time.monotonic() + 120
    while done != set(run_ids):
        assert time.monotonic() < deadline, len(done)
        for e in events(reader, 1, timeout=120):
            assert e["event"] == "run", e  # never a resync: this reader keeps up
            if "status-completed" in e["data"]:
                done.add(e["data"].split('id="run-', 1)[1][:36])
    took = time.monotonic() - started
    wait_for(lambda: all(app.client.get_run(r)["status"] == "completed" for r in run_ids[-5:]))
    # the stalled stream, read at last, is coherent: it has every change (the kernel's
    # buffers held them) or, where its bounded queue overflowed, a resync
    stalled.settimeout(2)
    received = b""
    try:
        while chunk := stalled.recv(65536):
            received += chunk
    except TimeoutError:
        pass
    stalled.close()
    text = received.decode(errors="replace")
    assert "event: resync" in text or all(f'id="run-{r}" class="run status-completed"' in text
                                          for r in run_ids)
    reader.close()
    assert took < 90, took
