"""An engine started while Postgres is away waits for it (as the pool does) instead of
exiting; it gives up after its timeout with the connection error."""

from __future__ import annotations

import socket
import threading
import time
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from conftest import free_port
from durable_engine.db import wait_for_database


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, target):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def late_proxy(port: int, upstream: tuple[str, int], after_s: float) -> threading.Thread:
    """Refuses connections on `port` until `after_s`, then forwards them to Postgres."""
    def serve() -> None:
        time.sleep(after_s)
        with socket.create_server(("127.0.0.1", port)) as server:
            server.settimeout(10)
            client, _ = server.accept()
            backend = socket.create_connection(upstream)
            threading.Thread(target=_pipe, args=(client, backend), daemon=True).start()
            _pipe(backend, client)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_waits_until_postgres_accepts(database_url: str) -> None:
    parts = urlsplit(database_url)
    port = free_port()
    late_proxy(port, (parts.hostname or "127.0.0.1", parts.port or 5432), after_s=0.8)
    proxied = urlunsplit(parts._replace(netloc=parts.netloc.replace(
        f":{parts.port}", f":{port}")))
    said: list[str] = []
    started = time.monotonic()
    wait_for_database(proxied, timeout_s=10, say=said.append)
    assert time.monotonic() - started >= 0.7
    assert said and said[0].startswith("waiting for the database")


def test_gives_up_after_the_timeout() -> None:
    started = time.monotonic()
    with pytest.raises(psycopg.OperationalError):
        wait_for_database(f"postgresql://x@127.0.0.1:{free_port()}/x", timeout_s=0.6)
    assert 0.4 <= time.monotonic() - started < 5
