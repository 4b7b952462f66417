"""HTTP routes of webhook ingest (§19.6): the admin paths under /api/apps/{id}/webhooks and
the senders' `POST /w/{token}`. Thin: authorize, read, validate, call the service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .service import Service, ServiceError
from .service.webhooks import WebhookCreate, WebhookTest, WebhookUpdate
from .validation import Invalid, validate_schema

Check = Callable[[web.Request], None]


def webhook_name_of(request: web.Request) -> str:
    name = request.match_info["name"]
    if "\x00" in name:
        raise ServiceError("NOT_FOUND", f"no webhook named {name!r}")
    return name


def checked(schema: str, value: Any) -> dict[str, Any]:
    """The spec's schema as the judge; the request's from_json checks by hand the members
    the service needs (an engine run without the spec's schemas still answers 400)."""
    validate_schema(schema, value)
    if not isinstance(value, dict):
        raise Invalid("", "must be an object")
    return value


def install_webhooks(app: web.Application, service: Service, authorize: Check,
                     read_body: Callable[[web.Request], Awaitable[bytes]],
                     parse_json: Callable[[bytes], Any],
                     app_id_of: Callable[[web.Request], str]) -> None:
    """The routes on `app`; `authorize` refuses a request without the admin's rights
    ([ADMIN-1]), `read_body` reads at most the API's body limit (413 past it)."""

    async def create(request: web.Request) -> web.Response:
        authorize(request)
        value = checked("webhook-create-request", parse_json(await read_body(request)))
        return web.json_response((await service.webhooks_create(
            app_id_of(request), WebhookCreate.from_json(value))).to_json())

    async def listing(request: web.Request) -> web.Response:
        authorize(request)
        return web.json_response((await service.webhooks_list(app_id_of(request))).to_json())

    async def delete(request: web.Request) -> web.Response:
        authorize(request)
        return web.json_response((await service.webhooks_delete(
            app_id_of(request), webhook_name_of(request))).to_json())

    async def update(request: web.Request) -> web.Response:
        authorize(request)
        value = checked("webhook-update-request", parse_json(await read_body(request)))
        return web.json_response((await service.webhooks_update(
            app_id_of(request), webhook_name_of(request),
            WebhookUpdate.from_json(value))).to_json())

    async def deliveries(request: web.Request) -> web.Response:
        authorize(request)
        return web.json_response((await service.webhooks_deliveries(
            app_id_of(request), webhook_name_of(request))).to_json())

    async def test(request: web.Request) -> web.Response:
        authorize(request)
        value = checked("webhook-test-request", parse_json(await read_body(request)))
        return web.json_response((await service.webhooks_test(
            app_id_of(request), webhook_name_of(request),
            WebhookTest.from_json(value))).to_json())

    async def ingest(request: web.Request) -> web.Response:
        token = request.match_info["token"]
        try:
            body = await read_body(request)
        except ServiceError as error:  # too large: recorded on the endpoint when there is one
            await service.webhook_refuse(token, error)
            raise
        query = {k: v for k, v in request.query.items()}
        headers = {k: v for k, v in request.headers.items()}
        return web.json_response(await service.webhook_ingest(token, body, headers, query))

    app.router.add_post("/api/apps/{id}/webhooks", create)
    app.router.add_get("/api/apps/{id}/webhooks", listing)
    app.router.add_patch("/api/apps/{id}/webhooks/{name}", update)
    app.router.add_delete("/api/apps/{id}/webhooks/{name}", delete)
    app.router.add_get("/api/apps/{id}/webhooks/{name}/deliveries", deliveries)
    app.router.add_post("/api/apps/{id}/webhooks/{name}/test", test)
    app.router.add_post("/w/{token}", ingest)

