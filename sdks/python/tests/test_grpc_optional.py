"""The gRPC transport is an optional extra: the default install never imports grpc."""

from __future__ import annotations

import subprocess
import sys

import pytest
from durable import Client, DurableError


def test_importing_the_sdk_and_using_http_loads_no_grpc() -> None:
    code = (
        "import sys, durable\n"
        "from durable import Client, provision_app, wsgi, asgi\n"
        "Client('http://127.0.0.1:9', 'app', 'key')\n"
        "loaded = [m for m in sys.modules if m == 'grpc' or m.startswith(('grpc.', "
        "'google.protobuf', 'durable._grpc', 'durable._pb'))]\n"
        "print(loaded)\n"
        "sys.exit(1 if loaded else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_grpc_url_or_option_chooses_the_grpc_transport() -> None:
    pytest.importorskip("grpc")
    for client in (Client("grpc://127.0.0.1:9", "app", "key"),
                   Client("http://127.0.0.1:9", "app", "key", transport="grpc")):
        assert client._grpc is not None
        assert client._grpc.target == "127.0.0.1:9"
        client.close()
    assert Client("http://127.0.0.1:9", "app", "key")._grpc is None


def test_streams_need_grpc_and_transports_are_checked() -> None:
    client = Client("http://127.0.0.1:9", "app", "key")
    with pytest.raises(DurableError, match="gRPC"):
        client.watch_run("run")
    with pytest.raises(ValueError, match="transport"):
        Client("http://127.0.0.1:9", "app", "key", transport="carrier-pigeon")
