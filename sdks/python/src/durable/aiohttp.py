"""aiohttp adapter (needs `pip install durable-sdk[aiohttp]`).

    from durable.aiohttp import application
    web.run_app(application(functions, signing_key=...), port=3000)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web

from .core import DurableApp
from .function import DurableFunction

__all__ = ["application", "handler"]


def handler(
    functions: Iterable[DurableFunction], **options: Any
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """An aiohttp request handler to mount at any route (GET and POST)."""
    app = DurableApp(functions, **options)

    async def handle(request: web.Request) -> web.Response:
        declared = request.content_length
        if declared is not None and declared > app.max_body_bytes:
            body_too_large = True
        else:
            body = await request.content.read(app.max_body_bytes + 1)
            body_too_large = len(body) > app.max_body_bytes
        if body_too_large:
            return web.Response(
                status=413, text=f"request body exceeds {app.max_body_bytes} bytes"
            )
        response = await app.handle_async(request.method, dict(request.headers), body)
        return web.Response(status=response.status, body=response.body, headers=response.headers)

    return handle


def application(
    functions: Iterable[DurableFunction], *, path: str = "/api/durable", **options: Any
) -> web.Application:
    """An aiohttp Application serving `functions` at `path`."""
    web_app = web.Application(client_max_size=int(options.get("max_body_bytes", 1_048_576)) + 1)
    web_app.router.add_route("*", path, handler(functions, **options))
    return web_app
