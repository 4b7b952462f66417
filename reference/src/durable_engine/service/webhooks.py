"""Webhook operations of the service ([HOOK-1..5]): endpoints of an app (create, list,
delete), the test console, and ingest of a sender's request through the same path as /e,
so every trigger and flow rule applies. Each delivery, accepted or refused, is recorded
(the last DELIVERIES_KEPT of each endpoint) with the reason of a refusal."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
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

log = logging.getLogger("durable.webhooks")

Body = dict[str, Any]
DELIVERIES_KEPT = 20


def webhook_view(row: Body) -> Body:
    """A Webhook as the spec shows it: never its secret ([HOOK-5])."""
    signature = None
    if row["preset"] is not None:
        signature = {"preset": row["preset"]}
        if row["header"] is not None:
            signature["header"] = row["header"]
    return {"name": row["name"], "url": f"/w/{row['token']}", "transform": row["transform"],
            "signature": signature, "createdAt": iso(row["created_at"])}


def _signing(signature: Body | None) -> Signature | None:
    """How a checked request's `signature` member says senders sign."""
    if signature is None:
        return None
    return Signature(signature["preset"], signature["secret"], signature.get("header"))


class WebhookOps:
    engine: Engine
    send: Callable[[str, Body], Awaitable[Body]]  # the /e operation (FunctionOps)

    async def webhooks_create(self, app_id: str, name: str, transform: str,
                              signature: Body | None = None) -> Body:
        """[HOOK-1]: a new endpoint with a token of 32 random bytes; the answer is the only
        one that shows the secret ([HOOK-5])."""
        compile_transform(transform)
        token = new_token()
        async with self.engine.pool.connection() as conn:
            row = await hooks.insert(conn, self.engine.queries, app_id, name, token=token,
                                     token_hash=token_hash(token), transform=transform,
                                     signing=_signing(signature), now=self.engine.clock())
        if row is None:
            await self._webhook_app(app_id)
            raise ServiceError("CONFLICT", f"the app already has a webhook named {name!r}",
                               "/name")
        answer = webhook_view(row)
        if signature:
            answer["secret"] = signature["secret"]
        return answer

    async def webhooks_list(self, app_id: str) -> Body:
        await self._webhook_app(app_id)
        async with self.engine.pool.connection() as conn:
            rows = await hooks.listing(conn, self.engine.queries, app_id)
        return {"webhooks": [webhook_view(r) for r in rows]}

    async def webhooks_update(self, app_id: str, name: str, transform: str | None = None,
                              signature: Body | None = None, remove_signature: bool = False,
                              rotate_token: bool = False) -> Body:
        """[HOOK-6]: change only what is named; a rotated token makes the old URL unknown.
        The answer shows the secret only when this request set one ([HOOK-5])."""
        if signature is not None and remove_signature:
            raise Invalid("/removeSignature", "give a signature or remove it, not both")
        if transform is not None:
            compile_transform(transform)
        token = new_token() if rotate_token else None
        set_signature = signature is not None or remove_signature
        async with self.engine.pool.connection() as conn:
            row = await hooks.update(conn, self.engine.queries, app_id, name,
                                     transform=transform, set_signing=set_signature,
                                     signing=_signing(signature), token=token,
                                     token_hash=token_hash(token) if token else None)
        if row is None:
            raise await self._no_webhook(app_id, name)
        answer = webhook_view(row)
        if signature:
            answer["secret"] = signature["secret"]
        return answer

    async def webhooks_delete(self, app_id: str, name: str) -> Body:
        async with self.engine.pool.connection() as conn:
            deleted = await hooks.delete(conn, self.engine.queries, app_id, name)
        if not deleted:
            raise await self._no_webhook(app_id, name)
        return {"name": name, "deleted": True}

    async def webhooks_test(self, app_id: str, name: str, body: str,
                            headers: dict[str, str] | None = None) -> Body:
        """[HOOK-4]: the event the transform makes of this body and these headers, or why
        it makes none; no signature check, nothing accepted."""
        row = await self._webhook_row(app_id, name)
        try:
            value = parse_body(body.encode())
            event = to_event(row["transform"], value, headers or {}, {})
        except Refused as refused:
            return {"ok": False, "message": refused.message}
        return {"ok": True, "event": event}

    async def webhook_deliveries(self, app_id: str, name: str, limit: int = DELIVERIES_KEPT
                                 ) -> list[Body]:
        """The endpoint's last deliveries, newest first: status, code and message of a
        refusal, the event id and run ids of an accepted one."""
        await self._webhook_row(app_id, name)
        async with self.engine.pool.connection() as conn:
            rows = await hooks.deliveries(conn, self.engine.queries, app_id, name, limit)
        out: list[Body] = []
        for r in rows:
            delivery: Body = {"at": iso(r["at"]), "status": r["status"]}
            for member, column in (("code", "code"), ("message", "message"),
                                   ("eventId", "event_id")):
                if r[column] is not None:
                    delivery[member] = r[column]
            delivery["runIds"] = list(r["run_ids"])
            out.append(delivery)
        return out

    async def webhooks_deliveries(self, app_id: str, name: str) -> Body:
        """[HOOK-7]: GET /api/apps/{id}/webhooks/{name}/deliveries."""
        return {"deliveries": await self.webhook_deliveries(app_id, name)}

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
            receipt = await self.send(hook["workspace_id"], event)
        except (Refused, ServiceError) as refused:
            error = ServiceError(refused.code, refused.message, refused.path)
            await self._record(hook["id"], error.status, error.code, error.message, None, [])
            log.info("webhook %s of %s refused a delivery: %s %s", hook["name"],
                     hook["workspace_id"], error.code, error.message)
            raise error from None
        await self._record(hook["id"], 200, None, None, receipt.get("id"),
                           [] if receipt.get("duplicate") else list(receipt.get("runIds", [])))
        return receipt

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
