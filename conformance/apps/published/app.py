"""Conformance app on the published package dicabrio-durable-sdk==0.1.0 (import `durable`).

Serves the function catalog of conformance/README.md with the package's own sans-IO
`handle_request`, behind a small aiohttp server. The catalog is the one written for
spec-compat (spec/compat/published_catalog.py), imported by path: one definition.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from aiohttp import web
from durable import handle_request

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[2] / "spec" / "compat" / "published_catalog.py"


def load_catalog() -> ModuleType:
    spec = importlib.util.spec_from_file_location("published_catalog", SHARED)
    if spec is None or spec.loader is None or not SHARED.is_file():
        raise SystemExit(f"catalog {SHARED} not found")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    print(f"catalog from {SHARED}", flush=True)
    return module


CATALOG = load_catalog()
FUNCTIONS = list(CATALOG.functions)
OPTIONS: dict[str, Any] = {
    "signing_key": os.environ["DURABLE_SIGNING_KEY"],
    "app_id": os.environ.get("DURABLE_APP_ID") or None,
    "app_name": os.environ.get("DURABLE_APP_NAME") or None,
    # Harness protocol: DURABLE_DEV=1 starts the app in dev mode (answers dev discovery).
    "dev": os.environ.get("DURABLE_DEV", "").strip().lower() in ("1", "true", "yes"),
}


def answer(method: str, headers: dict[str, str], body: bytes) -> web.Response:
    result = handle_request(method, headers, body, FUNCTIONS, **OPTIONS)
    return web.Response(status=result.status, body=result.body, headers=dict(result.headers))


async def endpoint(request: web.Request) -> web.Response:
    body = await request.read()
    headers = {name: value for name, value in request.headers.items()}
    return await asyncio.to_thread(answer, request.method, headers, body)


def main() -> None:
    # The package enforces its own 1 MiB limit; let aiohttp hand it larger bodies.
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_route("*", "/api/durable", endpoint)
    port = int(os.environ.get("PORT", "3000"))
    print(f"published conformance app on 127.0.0.1:{port}", file=sys.stderr, flush=True)
    web.run_app(app, host="127.0.0.1", port=port, print=None, handle_signals=True)


if __name__ == "__main__":
    main()
