"""WSGI and ASGI adapters: move bytes between a server and the sans-IO core."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from http import HTTPStatus
from typing import Any

from .core import DurableApp, Response, _plain
from .function import DurableFunction

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], list[bytes]]
ASGIApp = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[MutableMapping[str, Any]]],
        Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ],
    Awaitable[None],
]


def _too_large(limit: int) -> Response:
    return _plain(413, f"request body exceeds {limit} bytes")


def wsgi(functions: Iterable[DurableFunction], **options: Any) -> WSGIApp:
    """A WSGI application serving `functions`; options are DurableApp's."""
    app = DurableApp(functions, **options)

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        headers = {
            name[5:].replace("_", "-"): value
            for name, value in environ.items()
            if name.startswith("HTTP_")
        }
        if length < 0:
            response = _plain(400, "invalid content length")
        elif length > app.max_body_bytes:
            response = _too_large(app.max_body_bytes)
        else:
            body = environ["wsgi.input"].read(length) if length else b""
            response = app.handle(method, headers, body)
        start_response(
            f"{response.status} {HTTPStatus(response.status).phrase}",
            [*response.headers, ("content-length", str(len(response.body)))],
        )
        return [response.body]

    return application


def asgi(functions: Iterable[DurableFunction], **options: Any) -> ASGIApp:
    """An ASGI application; async handlers run on the loop, sync ones in a thread."""
    app = DurableApp(functions, **options)

    async def application(
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
        send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size <= app.max_body_bytes:
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope.get("headers", [])
        }
        if size > app.max_body_bytes:
            response = _too_large(app.max_body_bytes)
        else:
            response = await app.handle_async(
                scope.get("method", "GET"), headers, b"".join(chunks)
            )
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [
                    (name.encode("latin-1"), value.encode("latin-1"))
                    for name, value in (
                        *response.headers,
                        ("content-length", str(len(response.body))),
                    )
                ],
            }
        )
        await send({"type": "http.response.body", "body": response.body})

    return application
