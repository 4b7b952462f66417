"""gRPC surface (§18): the services durable.v1.Engine and durable.v1.Admin of spec/proto, as
thin as the HTTP routes of api.py and calling the same Service.

Every rpc is registered with raw bytes in and out: the signature covers the exact request
bytes ([GRPC-4]), so it is verified before the message is parsed. A request then becomes
the JSON object of its message ([GRPC-2], pb/convert.py) and goes through the HTTP path's
checks (validate_request, the spec's schema) to the Service; the answer dict becomes the
answer message. Refusals end the call with the status of its API code and the ApiError in
the `durable-error-bin` trailer ([GRPC-5]). The streams live in grpc_streams.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeAlias, TypeVar

import grpc
import psycopg
from google.protobuf import unknown_fields
from google.protobuf.message import DecodeError, Message
from grpc import aio

from . import signing
from .api import MAX_BODY, OPERATIONS, SCHEMA_NAMES, ApiError, authorize_admin
from .engine import Engine, to_ms
from .pb import admin_pb2, convert, engine_messages_pb2, engine_pb2, options_pb2
from .service import Service, ServiceError
from .service.apps import AppsCreate, AppsUpdate
from .service.webhooks import WebhookCreate, WebhookTest, WebhookUpdate
from .validation import Invalid, TooLarge, reject_nul, validate_request, validate_schema
from .webhooks_http import checked

log = logging.getLogger("durable.grpc")

ENGINE = engine_pb2.DESCRIPTOR.services_by_name["Engine"]
ADMIN = admin_pb2.DESCRIPTOR.services_by_name["Admin"]
ERROR_TRAILER = "durable-error-bin"
# [GRPC-5]: API code -> gRPC status.
STATUS = {
    "INVALID_JSON": grpc.StatusCode.INVALID_ARGUMENT,
    "INVALID_REQUEST": grpc.StatusCode.INVALID_ARGUMENT,
    "INVALID_SIGNATURE": grpc.StatusCode.UNAUTHENTICATED,
    "UNAUTHORIZED": grpc.StatusCode.UNAUTHENTICATED,
    "FORBIDDEN": grpc.StatusCode.PERMISSION_DENIED,
    "NOT_FOUND": grpc.StatusCode.NOT_FOUND,
    "UNKNOWN_FUNCTION": grpc.StatusCode.NOT_FOUND,
    "CONFLICT": grpc.StatusCode.FAILED_PRECONDITION,
    "PAYLOAD_TOO_LARGE": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "METHOD_NOT_ALLOWED": grpc.StatusCode.UNIMPLEMENTED,
    "INTERNAL": grpc.StatusCode.INTERNAL,
}
# Messages up to this size reach the handlers, which refuse those over apiRequestBytes
# with PAYLOAD_TOO_LARGE; gRPC itself refuses larger ones (RESOURCE_EXHAUSTED).
MAX_MESSAGE = 4 * MAX_BODY

Context: TypeAlias = aio.ServicerContext[bytes, bytes]  # every rpc is bytes in, bytes out
Body = dict[str, Any]
M = TypeVar("M", bound=Message)


def http_of(method: Any) -> str:
    return str(method.GetOptions().Extensions[options_pb2.http])


def message_class(descriptor: Any) -> type[Message]:
    from google.protobuf import message_factory

    return message_factory.GetMessageClass(descriptor)


def error_of(error: Exception) -> ServiceError:
    """The API error a failure is refused with; anything unexpected is INTERNAL."""
    if isinstance(error, ServiceError):
        return error
    if isinstance(error, TooLarge):
        return ServiceError("PAYLOAD_TOO_LARGE", error.message, error.path)
    if isinstance(error, Invalid):
        return ServiceError("INVALID_REQUEST", error.message, error.path)
    if isinstance(error, convert.Mismatch):
        return ServiceError(error.code, error.message, error.path)
    return ServiceError("INTERNAL", "the engine could not handle this request; retry")


def error_message(error: ServiceError) -> engine_messages_pb2.ApiError:
    detail = engine_messages_pb2.ApiError(code=error.code, message=error.message)
    if error.path is not None:
        detail.path = error.path
    return detail


async def refuse(context: Context, error: ServiceError) -> None:
    """End the call per [GRPC-5] (raises)."""
    context.set_trailing_metadata(((ERROR_TRAILER, error_message(error).SerializeToString()),))
    await context.abort(STATUS.get(error.code, grpc.StatusCode.UNKNOWN), error.message)


def has_unknown_fields(message: Message) -> bool:
    if len(unknown_fields.UnknownFieldSet(message)):
        return True
    for field, value in message.ListFields():
        if field.message_type is None or field.message_type.GetOptions().map_entry:
            continue
        items = value if field.is_repeated else [value]
        if any(has_unknown_fields(item) for item in items):
            return True
    return False


def parse(cls: type[M], data: bytes, what: str = "") -> M:
    """[GRPC-3]: a serialized message of `cls` with no field it does not define."""
    if len(data) > MAX_BODY:
        raise ServiceError("PAYLOAD_TOO_LARGE", f"request exceeds {MAX_BODY} bytes", what or None)
    try:
        message = cls.FromString(data)
    except DecodeError:
        raise ServiceError("INVALID_REQUEST", f"not a valid {cls.DESCRIPTOR.full_name} message",
                           what or None) from None
    if has_unknown_fields(message):
        raise ServiceError("INVALID_REQUEST", f"fields that {cls.DESCRIPTOR.full_name} does "
                           "not define", what or None)
    return message


def request_json(message: Message, path: str) -> Body:
    """The JSON object of a request message, checked as the HTTP operation checks it."""
    value = convert.to_json(message)
    reject_nul(value)
    payload = validate_request(path, value)
    validate_schema(SCHEMA_NAMES[path], value)
    return payload


def metadata_of(context: Context) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, value in context.invocation_metadata() or ():
        if isinstance(value, str):
            found.setdefault(key.lower(), value)
    return found


class GrpcApi:
    def __init__(self, engine: Engine, service: Service, *, dev: bool,
                 admin_token: str | None) -> None:
        self.engine = engine
        self.service = service
        self.dev = dev
        self.admin_token = admin_token

    # ---- authentication ------------------------------------------------------------------

    async def workspace_keys(self, app_id: str) -> list[str] | None:
        signer = await self.service.workspace_signer(app_id)
        return None if signer is None else signer.keys

    async def authenticate(self, context: Context, method: str, payload: bytes
                           ) -> tuple[str, list[str]]:
        """[GRPC-4]: the workspace id and its keys, or INVALID_SIGNATURE."""
        metadata = metadata_of(context)
        app_id = metadata.get("x-durable-app", "")
        if not app_id or "\x00" in app_id:
            raise ApiError(401, "INVALID_SIGNATURE", "missing x-durable-app")
        keys = await self.workspace_keys(app_id)
        # Same answer for an unknown app and a bad signature: ids are not secrets to probe.
        reason = "unknown app or invalid signature"
        if keys is not None:
            problem = signing.verify_grpc_call(
                keys, metadata.get("x-durable-timestamp"), metadata.get("x-durable-signature"),
                method, payload, to_ms(self.engine.clock()))
            if problem is None:
                return app_id, keys
            if "x-durable-timestamp" in problem:
                reason = problem
        raise ApiError(401, "INVALID_SIGNATURE", reason)

    def authorize(self, context: Context) -> None:
        """[GRPC-6]: the admin token, or a loopback peer in dev mode without one."""
        peer = context.peer() or ""
        host = peer.split(":", 1)[1] if ":" in peer else peer  # ipv4:h:p, ipv6:[h]:p
        host = host[1:host.index("]")] if host.startswith("[") and "]" in host \
            else host.rsplit(":", 1)[0]
        authorize_admin(self.admin_token, self.dev,
                        metadata_of(context).get("authorization", ""), host)

    # ---- calls ---------------------------------------------------------------------------

    async def guarded(self, context: Context, call: Callable[[], Awaitable[bytes]]) -> bytes:
        """Run one unary call; any failure ends it per [GRPC-5], never with a stack trace."""
        try:
            try:
                return await call()
            except psycopg.OperationalError:
                await self.engine.pool.check()  # a database restart: drop dead connections
                return await call()
        except (ServiceError, Invalid, convert.Mismatch) as error:
            failure = error_of(error)
        except Exception:  # noqa: BLE001 - INTERNAL, which clients retry
            log.exception("unexpected error in a gRPC call")
            failure = error_of(RuntimeError())
        await refuse(context, failure)
        raise AssertionError("abort returns only by raising")

    def engine_method(self, method: Any) -> Callable[[bytes, Context], Awaitable[bytes]]:
        path = http_of(method).split(" ", 1)[1]
        operation = OPERATIONS[path]
        request_class = message_class(method.input_type)
        answer_class = message_class(method.output_type)
        full_name = f"/{ENGINE.full_name}/{method.name}"

        async def handler(request: bytes, context: Context) -> bytes:
            async def call() -> bytes:
                workspace_id, _ = await self.authenticate(context, full_name, request)
                payload = request_json(parse(request_class, request), path)
                answer = await operation.perform(self.service, workspace_id, payload)
                return convert.from_json(answer, answer_class()).SerializeToString()
            return await self.guarded(context, call)
        return handler

    def admin_method(self, method: Any) -> Callable[[bytes, Context], Awaitable[bytes]]:
        request_class = message_class(method.input_type)
        answer_class = message_class(method.output_type)
        act = getattr(self, f"admin_{method.name}", None)
        if act is None:  # in the contract, not served by this engine: as HTTP's 404
            act = not_served(method.name)

        async def handler(request: bytes, context: Context) -> bytes:
            async def call() -> bytes:
                self.authorize(context)
                answer = await act(parse(request_class, request))
                return convert.from_json(answer, answer_class()).SerializeToString()
            return await self.guarded(context, call)
        return handler

    async def admin_CreateApp(self, message: Any) -> Body:  # noqa: N802 - the rpc's name
        value = convert.to_json(message)
        reject_nul(value)
        body = validate_request("/api/apps", value)
        validate_schema("apps-create-request", value)
        return (await self.service.apps_create(AppsCreate.from_json(body))).to_json()

    async def admin_ListApps(self, message: Any) -> Body:  # noqa: N802
        return (await self.service.apps_list()).to_json()

    async def admin_RotateKey(self, message: Any) -> Body:  # noqa: N802
        return (await self.service.apps_rotate_key(app_id_of(message))).to_json()

    async def admin_RetireKey(self, message: Any) -> Body:  # noqa: N802
        return (await self.service.apps_retire_key(app_id_of(message))).to_json()

    async def admin_DeleteApp(self, message: Any) -> Body:  # noqa: N802
        return (await self.service.apps_delete(app_id_of(message))).to_json()

    async def admin_UpdateApp(self, message: Any) -> Body:  # noqa: N802
        app_id = app_id_of(message)
        value = convert.to_json(message)
        reject_nul(value)
        body = validate_request("/api/apps/{id}", value)
        validate_schema("apps-update-request", value)
        return (await self.service.apps_update(app_id, AppsUpdate.from_json(body))).to_json()

    async def admin_CreateWebhook(self, message: Any) -> Body:  # noqa: N802
        app_id = app_id_of(message)
        value = convert.to_json(message)
        reject_nul(value)
        value = checked("webhook-create-request", value)
        return (await self.service.webhooks_create(app_id,
                                                   WebhookCreate.from_json(value))).to_json()

    async def admin_ListWebhooks(self, message: Any) -> Body:  # noqa: N802
        return (await self.service.webhooks_list(app_id_of(message))).to_json()

    async def admin_UpdateWebhook(self, message: Any) -> Body:  # noqa: N802
        app_id, name = app_id_of(message), name_of(message)
        value = convert.to_json(message)
        reject_nul(value)
        value = checked("webhook-update-request", value)
        return (await self.service.webhooks_update(app_id, name,
                                                   WebhookUpdate.from_json(value))).to_json()

    async def admin_ListWebhookDeliveries(self, message: Any) -> Body:  # noqa: N802
        return (await self.service.webhooks_deliveries(app_id_of(message),
                                                       name_of(message))).to_json()

    async def admin_DeleteWebhook(self, message: Any) -> Body:  # noqa: N802
        return (await self.service.webhooks_delete(app_id_of(message),
                                                   name_of(message))).to_json()

    async def admin_TestWebhook(self, message: Any) -> Body:  # noqa: N802
        app_id, name = app_id_of(message), name_of(message)
        value = convert.to_json(message)
        value.setdefault("body", "")
        reject_nul(value)
        value = checked("webhook-test-request", value)
        return (await self.service.webhooks_test(app_id, name,
                                                 WebhookTest.from_json(value))).to_json()

    # ---- wiring --------------------------------------------------------------------------

    def handlers(self, streams: Any) -> list[grpc.GenericRpcHandler]:
        engine: dict[str, grpc.RpcMethodHandler[Any, bytes]] = {}
        for method in ENGINE.methods:
            if http_of(method):
                engine[method.name] = grpc.unary_unary_rpc_method_handler(
                    self.engine_method(method))
        engine["IngestEvents"] = grpc.stream_stream_rpc_method_handler(
            guard_stream(streams.ingest))
        engine["WatchRun"] = grpc.unary_stream_rpc_method_handler(
            guard_stream(streams.watch_run))
        engine["WatchRuns"] = grpc.unary_stream_rpc_method_handler(
            guard_stream(streams.watch_runs))
        admin: dict[str, grpc.RpcMethodHandler[Any, bytes]] = {
            method.name: grpc.unary_unary_rpc_method_handler(self.admin_method(method))
            for method in ADMIN.methods}
        missing = {m.name for m in ENGINE.methods} - set(engine)
        assert not missing, f"rpcs without a handler: {missing}"
        return [grpc.method_handlers_generic_handler(ENGINE.full_name, engine),
                grpc.method_handlers_generic_handler(ADMIN.full_name, admin)]


def guard_stream(handler: Callable[[Any, Context], AsyncIterator[bytes]]
                 ) -> Callable[[Any, Context], AsyncIterator[bytes]]:
    """A stream that fails unexpectedly (the database away) ends INTERNAL with its trailer
    ([GRPC-5]), as a unary call does, never UNKNOWN."""
    async def guarded(request: Any, context: Context) -> AsyncIterator[bytes]:
        try:
            async for answer in handler(request, context):
                yield answer
        except (aio.AbortError, asyncio.CancelledError):
            raise
        except Exception:  # noqa: BLE001 - INTERNAL, which clients retry
            log.exception("unexpected error in a gRPC call")
            await refuse(context, error_of(RuntimeError()))
    return guarded


def not_served(name: str) -> Callable[[Any], Awaitable[Body]]:
    async def act(message: Any) -> Body:
        raise ServiceError("NOT_FOUND", f"{name} is not served by this engine")
    return act


def name_of(message: Any) -> str:
    """The {name} of a webhook's admin call."""
    name = str(message.name)
    if not name or "\x00" in name:
        raise ServiceError("NOT_FOUND", f"no webhook named {name!r}")
    return name


def app_id_of(message: Any) -> str:
    """The {id} of an admin call; one Postgres text cannot hold is no app."""
    app_id = str(message.id)
    if not app_id or "\x00" in app_id:
        raise ServiceError("NOT_FOUND", "no such app")
    return app_id


async def start_server(api: GrpcApi, streams: Any, host: str, port: int
                       ) -> tuple[aio.Server, int]:
    """A grpc.aio server with both services, reflection and health; returns it and its port."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_health.v1.health import aio as health_aio
    from grpc_reflection.v1alpha import reflection

    server = aio.server(options=[("grpc.max_receive_message_length", MAX_MESSAGE),
                                 ("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers(tuple(api.handlers(streams)))
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    names = (ENGINE.full_name, ADMIN.full_name, health_pb2.DESCRIPTOR.services_by_name[
        "Health"].full_name, reflection.SERVICE_NAME)
    reflection.enable_server_reflection(names, server)
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot listen for gRPC on {host}:{port}")
    await server.start()
    for name in ("", ENGINE.full_name, ADMIN.full_name):
        await health.set(name, health_pb2.HealthCheckResponse.SERVING)
    return server, bound
