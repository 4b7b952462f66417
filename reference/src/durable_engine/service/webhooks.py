"""Webhook operations of the service ([HOOK-1..5]): endpoints of an app (create, list,
delete), the test console, and ingest of a sender's request through the same path as /e,
so every trigger and flow rule applies. Each delivery, accepted or refused, is recorded
(the last DELIVERIES_KEPT of each endpoint) with the reason of a refusal."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from ..engine import Engine, iso
from ..features.webhooks import (
    Refused,
    Signature,
    compile_transform,
    new_token,
    parse_body,
    to_event,
    token_hash,
    verify_signature,
)
from ..store import webhooks as hooks
from ..store import workspaces
from ..validation import Invalid
from .errors import ServiceError
from .functions import EventReceipt, SendEvent

log = logging.getLogger("durable.webhooks")

Body = dict[str, Any]
DELIVERIES_KEPT = 20


@dataclass(frozen=True, slots=True)
class Webhook:
    """spec/schemas/webhook: an endpoint as the admin API shows it; `secret` only in the
    answer of the request that set it ([HOOK-5])."""

    name: str
    token: str
    transform: str
    preset: str | None
    header: str | None
    created_at: datetime
    secret: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any], secret: str | None = None) -> Webhook:
        return cls(row["name"], row["token"], row["transform"], row["preset"], row["header"],
                   row["created_at"], secret)

    def to_json(self) -> Body:
        signature = None
        if self.preset is not None:
            signature = {"preset": self.preset}
            if self.header is not None:
                signature["header"] = self.header
        answer = {"name": self.name, "url": f"/w/{self.token}", "transform": self.transform,
                  "signature": signature, "createdAt": iso(self.created_at)}
        if self.secret is not None:
            answer["secret"] = self.secret
        return answer


@dataclass(frozen=True, slots=True)
class Webhooks:
    """spec/schemas/webhooks-list-answer."""

    webhooks: tuple[Webhook, ...]

    def to_json(self) -> Body:
        return {"webhooks": [w.to_json() for w in self.webhooks]}


def _string(body: Mapping[str, Any], member: str) -> str:
    """A member the service needs as a string, checked by hand too (an engine run without
    the spec's schemas still answers 400)."""
    value = body.get(member)
    if not isinstance(value, str):
        raise Invalid(f"/{member}", "must be a string")
    return value


def _signature(value: Any) -> Signature | None:
    """How a checked request's `signature` member says senders sign."""
    if value is None:
        return None
    return Signature(value["preset"], value["secret"], value.get("header"))


def _secret(signature: Signature | None) -> str | None:
    return None if signature is None else signature.secret


@dataclass(frozen=True, slots=True)
class WebhookCreate:
    """POST /api/apps/{id}/webhooks (spec/schemas/webhook-create-request)."""

    name: str
    transform: str
    signature: Signature | None = None

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> WebhookCreate:
        return cls(_string(body, "name"), _string(body, "transform"),
                   _signature(body.get("signature")))


@dataclass(frozen=True, slots=True)
class WebhookUpdate:
    """PATCH /api/apps/{id}/webhooks/{name} (spec/schemas/webhook-update-request): only what
    is named changes ([HOOK-6])."""

    transform: str | None = None
    signature: Signature | None = None
    remove_signature: bool = False
    rotate_token: bool = False

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> WebhookUpdate:
        for member in ("removeSignature", "rotateToken"):
            if member in body and not isinstance(body[member], bool):
                raise Invalid(f"/{member}", "must be true or false")
        if "transform" in body:
            _string(body, "transform")
        update = cls(body.get("transform"), _signature(body.get("signature")),
                     body.get("removeSignature", False), body.get("rotateToken", False))
        if update.signature is not None and update.remove_signature:
            raise Invalid("/removeSignature", "give a signature or remove it, not both")
        return update


@dataclass(frozen=True, slots=True)
class WebhookDeleted:
    """spec/schemas/webhook-delete-answer."""

    name: str

    def to_json(self) -> Body:
        return {"name": self.name, "deleted": True}


@dataclass(frozen=True, slots=True)
class WebhookTest:
    """POST /api/apps/{id}/webhooks/{name}/test (spec/schemas/webhook-test-request)."""

    body: str
    headers: Mapping[str, str] | None = None

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> WebhookTest:
        return cls(_string(body, "body"), body.get("headers"))


@dataclass(frozen=True, slots=True)
class WebhookTested:
    """spec/schemas/webhook-test-answer: the event the transform makes, or why none."""

    event: Body | None = None
    message: str | None = None

    def to_json(self) -> Body:
        if self.event is not None:
            return {"ok": True, "event": self.event}
        return {"ok": False, "message": self.message}


@dataclass(frozen=True, slots=True)
class Delivery:
    """One delivery to an endpoint: when, its HTTP status, a refusal's code and message, an
    accepted one's event id and the runs it started."""

    at: datetime
    status: int
    code: str | None
    message: str | None
    event_id: str | None
    run_ids: tuple[str, ...]

    @classmethod
    def from_row(cls, r: Mapping[str, Any]) -> Delivery:
        return cls(r["at"], r["status"], r["code"], r["message"], r["event_id"],
                   tuple(r["run_ids"]))

    def to_json(self) -> Body:
        delivery: Body = {"at": iso(self.at), "status": self.status}
        for member, value in (("code", self.code), ("message", self.message),
                              ("eventId", self.event_id)):
            if value is not None:
                delivery[member] = value
        delivery["runIds"] = list(self.run_ids)
        return delivery


@dataclass(frozen=True, slots=True)
class Deliveries:
    """spec/schemas/webhook-deliveries-answer: newest first."""

    deliveries: tuple[Delivery, ...]

    def to_json(self) -> Body:
        return {"deliveries": [d.to_json() for d in self.deliveries]}


class WebhookOps:
    engine: Engine
    send: Callable[[str, SendEvent], Awaitable[EventReceipt]]  # the /e operation (FunctionOps)

    async def webhooks_create(self, app_id: str, request: WebhookCreate) -> Webhook:
        """[HOOK-1]: a new endpoint with a token of 32 random bytes; the answer is the only
        one that shows the secret ([HOOK-5])."""
        compile_transform(request.transform)
        token = new_token()
        async with self.engine.pool.connection() as conn:
            row = await hooks.insert(conn, self.engine.queries, app_id, request.name,
                                     token=token, token_hash=token_hash(token),
                                     transform=request.transform, signing=request.signature,
                                     now=self.engine.clock())
        if row is None:
            await self._webhook_app(app_id)
            raise ServiceError("CONFLICT", "the app already has a webhook named "
                               f"{request.name!r}", "/name")
        return Webhook.from_row(row, _secret(request.signature))

    async def webhooks_list(self, app_id: str) -> Webhooks:
        await self._webhook_app(app_id)
        async with self.engine.pool.connection() as conn:
            rows = await hooks.listing(conn, self.engine.queries, app_id)
        return Webhooks(tuple(Webhook.from_row(r) for r in rows))

    async def webhooks_update(self, app_id: str, name: str, request: WebhookUpdate
                              ) -> Webhook:
        """[HOOK-6]: change only what is named; a rotated token makes the old URL unknown.
        The answer shows the secret only when this request set one ([HOOK-5])."""
        if request.transform is not None:
            compile_transform(request.transform)
        token = new_token() if request.rotate_token else None
        async with self.engine.pool.connection() as conn:
            row = await hooks.update(
                conn, self.engine.queries, app_id, name, transform=request.transform,
                set_signing=request.signature is not None or request.remove_signature,
                signing=request.signature, token=token,
                token_hash=token_hash(token) if token else None)
        if row is None:
            raise await self._no_webhook(app_id, name)
        return Webhook.from_row(row, _secret(request.signature))

    async def webhooks_delete(self, app_id: str, name: str) -> WebhookDeleted:
        async with self.engine.pool.connection() as conn:
            deleted = await hooks.delete(conn, self.engine.queries, app_id, name)
        if not deleted:
            raise await self._no_webhook(app_id, name)
        return WebhookDeleted(name)

    async def webhooks_test(self, app_id: str, name: str, request: WebhookTest
                            ) -> WebhookTested:
        """[HOOK-4]: the event the transform makes of this body and these headers, or why
        it makes none; no signature check, nothing accepted."""
        row = await self._webhook_row(app_id, name)
        try:
            value = parse_body(request.body.encode())
            event = to_event(row["transform"], value, dict(request.headers or {}), {})
        except Refused as refused:
            return WebhookTested(message=refused.message)
        return WebhookTested(event=event)

    async def webhooks_deliveries(self, app_id: str, name: str,
                                  limit: int = DELIVERIES_KEPT) -> Deliveries:
        """[HOOK-7]: the endpoint's last deliveries, newest first: status, code and message
        of a refusal, the event id and run ids of an accepted one."""
        await self._webhook_row(app_id, name)
        async with self.engine.pool.connection() as conn:
            rows = await hooks.deliveries(conn, self.engine.queries, app_id, name, limit)
        return Deliveries(tuple(Delivery.from_row(r) for r in rows))

    async def webhook_ingest(self, token: str, body: bytes, headers: dict[str, str],
                             query: dict[str, str]) -> Body:
        """[HOOK-2], [HOOK-3]: check the sender's signature on the raw body, parse it, make
        the event with the transform and accept it as /e does; the receipt."""
        hook = await self._hook_of(token)
        lower = {k.lower(): v for k, v in headers.items()}
        try:
            if hook["preset"] is not None:
                verify_signature(Signature(hook["preset"], hook["secret"] or "", hook["header"]),
                                 lower, body, self.engine.clock().timestamp())
            event = to_event(hook["transform"], parse_body(body), lower, query)
            receipt = await self.send(hook["workspace_id"], SendEvent(event))
        except (Refused, ServiceError) as refused:
            error = ServiceError(refused.code, refused.message, refused.path)
            await self._record(hook["id"], error.status, error.code, error.message, None, [])
            log.info("webhook %s of %s refused a delivery: %s %s", hook["name"],
                     hook["workspace_id"], error.code, error.message)
            raise error from None
        await self._record(hook["id"], 200, None, None, receipt.id,
                           [] if receipt.duplicate else list(receipt.run_ids))
        return receipt.to_json()

    async def webhook_refuse(self, token: str, error: ServiceError) -> None:
        """Record a delivery refused before it could be read (too large) on its endpoint;
        NOT_FOUND for an unknown token."""
        hook = await self._hook_of(token)
        await self._record(hook["id"], error.status, error.code, error.message, None, [])

    async def _record(self, webhook_id: int, status: int, code: str | None,
                      message: str | None, event_id: str | None, run_ids: list[str]) -> None:
        try:
            async with self.engine.pool.connection() as conn:
                await hooks.record_delivery(
                    conn, self.engine.queries, webhook_id, at=self.engine.clock(),
                    status=status, code=code, event_id=event_id, run_ids=run_ids,
                    message=None if message is None else message.replace("\x00", "\\u0000"),
                    keep=DELIVERIES_KEPT - 1)
        except psycopg.Error:  # the record is for people; the delivery's answer stands
            log.warning("could not record a delivery of webhook %d", webhook_id)

    async def _hook_of(self, token: str) -> Body:
        """The endpoint a sender's URL token names; NOT_FOUND for an unknown token."""
        async with self.engine.pool.connection() as conn:
            hook = await hooks.by_token(conn, self.engine.queries, token_hash(token))
        if hook is None:
            raise ServiceError("NOT_FOUND", "no such webhook")
        return hook

    async def _webhook_app(self, app_id: str) -> None:
        async with self.engine.pool.connection() as conn:
            if not await workspaces.exists(conn, self.engine.queries, app_id):
                raise ServiceError("NOT_FOUND", "no such app")

    async def _no_webhook(self, app_id: str, name: str) -> ServiceError:
        """NOT_FOUND for a missing webhook; for an unknown app, its own NOT_FOUND first."""
        await self._webhook_app(app_id)
        return ServiceError("NOT_FOUND", f"no webhook named {name!r}")

    async def _webhook_row(self, app_id: str, name: str) -> Body:
        async with self.engine.pool.connection() as conn:
            row = await hooks.get(conn, self.engine.queries, app_id, name)
        if row is None:
            raise await self._no_webhook(app_id, name)
        return row
