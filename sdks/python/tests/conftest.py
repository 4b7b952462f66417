"""Fixtures: loopback servers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any
from wsgiref.simple_server import make_server

import pytest
from durable_testkit import QuietHandler, ThreadedWSGIServer


@pytest.fixture
def serve_wsgi() -> Iterator[Any]:
    """serve_wsgi(app) -> base URL of a real threaded WSGI server on loopback."""
    servers: list[Any] = []

    def start(app: Any) -> str:
        server = make_server(
            "127.0.0.1", 0, app, server_class=ThreadedWSGIServer, handler_class=QuietHandler
        )
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
