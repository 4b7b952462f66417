"""The dashboard's actions (POST, CSRF-checked): cancel, rerun, rerun from a step, bulk cancel
and rerun by filter, retry a failure, create a workspace, rotate and retire its keys.

On a production workspace an action first answers with a confirmation (a short-lived token
bound to the visitor and the very action); only the request that carries it back acts. The
answer is a fragment for the page's #flash area."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

from aiohttp import web

from ..service import ServiceError
from ..service.apps import AppsCreate
from ..service.history import FailuresRetry
from ..service.rerun import RunsBulkCancel, RunsBulkRerun, RunsRerun
from ..service.runs import RunId
from ..store.browse import RunFilter
from ..validation import validate_request, validate_schema
from .auth import Visitor
from .core import Dashboard, is_prod
from .pages import browse_args, run_filters

BULK_MAX_PAGES = 100


def _text(form: Mapping[str, object], name: str) -> str | None:
    """A form field's text; None when it is missing or a file."""
    value = form.get(name)
    return value if isinstance(value, str) else None


class Actions:
    def __init__(self, dash: Dashboard) -> None:
        self.dash = dash
        self.service = dash.service

    def routes(self) -> list[web.RouteDef]:
        def act(handler: Any) -> Any:
            return self.dash.page(handler, change=True)

        return [
            web.post("/ws/{ws}/runs/bulk-cancel", act(self.bulk_cancel)),
            web.post("/ws/{ws}/runs/bulk-rerun", act(self.bulk_rerun)),
            web.post("/ws/{ws}/runs/{run}/cancel", act(self.cancel)),
            web.post("/ws/{ws}/runs/{run}/rerun", act(self.rerun)),
            web.post("/ws/{ws}/failures/{delivery}/retry", act(self.retry)),
            web.post("/ws/{ws}/rotate-key", act(self.rotate)),
            web.post("/ws/{ws}/retire-key", act(self.retire)),
            web.post("/workspaces", act(self.create)),
        ]

    def flash(self, request: web.Request, visitor: Visitor, message: str, **more: Any
              ) -> web.Response:
        return self.dash.render(request, "_flash.html", visitor, message=message, kind="ok",
                                **more)

    async def guarded(self, request: web.Request, visitor: Visitor, ws: dict[str, Any],
                      action: str, verb: str, describe: str,
                      perform: Callable[[], Awaitable[web.Response]]) -> web.Response:
        """Act at once, or on a production workspace only with a live confirmation."""
        form = await request.post()
        if is_prod(ws):
            given = form.get("confirm")
            if not await self.dash.gate.confirmed(visitor, action,
                                            given if isinstance(given, str) else None):
                fields = [(k, v) for k, v in form.items()
                          if k not in ("confirm", "csrf") and isinstance(v, str)]
                return self.dash.render(
                    request, "_confirm.html", visitor, message=describe, verb=verb,
                    action=request.path, fields=fields,
                    token=await self.dash.gate.confirmation(visitor, action))
        return await perform()

    async def _ws(self, request: web.Request) -> dict[str, Any]:
        return await self.service.workspace_get(request.match_info["ws"])

    @staticmethod
    def _run_id(request: web.Request) -> str:
        run_id = request.match_info["run"]
        if "\x00" in run_id or len(run_id) > 200:
            raise ServiceError("NOT_FOUND", "no such run", "/runId")
        return run_id

    async def cancel(self, request: web.Request, visitor: Visitor) -> web.Response:
        ws, run_id = await self._ws(request), self._run_id(request)

        async def perform() -> web.Response:
            answer = await self.service.runs_cancel(ws["id"], RunId(run_id))
            message = "Run cancelled." if answer.ok else \
                f"Nothing to cancel: the run is {answer.status}."
            return self.flash(request, visitor, message)

        return await self.guarded(request, visitor, ws, f"cancel:{ws['id']}:{run_id}",
                                  "cancel the run", f"Cancel run {run_id}?", perform)

    async def rerun(self, request: web.Request, visitor: Visitor) -> web.Response:
        ws, run_id = await self._ws(request), self._run_id(request)
        form = await request.post()
        step = _text(form, "step")
        key = _text(form, "key")
        body: dict[str, Any] = {"runId": run_id, "idempotencyKey": key or str(uuid.uuid4())}
        if step:
            body["stepId"] = step
        validate_schema("runs-rerun-request", body)

        async def perform() -> web.Response:
            answer = await self.service.runs_rerun(ws["id"], RunsRerun.from_json(body))
            where = f" from step {step}" if step else ""
            new = answer.run_id
            return self.flash(request, visitor,
                              f"Rerun{where} {'already ' if answer.duplicate else ''}"
                              "started:", link=f"/ws/{ws['id']}/runs/{new}", link_text=new)

        what = f"rerun:{ws['id']}:{run_id}:{step or ''}"
        return await self.guarded(request, visitor, ws, what, "rerun",
                                  f"Rerun {run_id}{' from step ' + step if step else ''}?",
                                  perform)

    def _bulk_filter(self, form: Any) -> RunFilter:
        f = run_filters(form)
        if "event" in f or "run" in f:
            raise ServiceError("INVALID_REQUEST", "bulk actions filter by status, function and "
                               "time only")
        args = browse_args(f)
        runs = RunFilter(args["function_id"] or None, args["status"] or None,
                         args["created_from"], args["created_to"])
        if runs == RunFilter():
            raise ServiceError("INVALID_REQUEST", "choose a status, function or time range")
        return runs

    async def bulk_cancel(self, request: web.Request, visitor: Visitor) -> web.Response:
        ws = await self._ws(request)
        runs = self._bulk_filter(await request.post())

        async def perform() -> web.Response:
            count, page = 0, RunsBulkCancel(runs, limit=1000)
            for _ in range(BULK_MAX_PAGES):
                answer = await self.service.runs_bulk_cancel(ws["id"], page)
                count += len(answer.cancelled)
                if answer.next_cursor is None:
                    break
                page = replace(page, cursor=answer.next_cursor)
            return self.flash(request, visitor, f"{count} run(s) cancelled.")

        return await self.guarded(request, visitor, ws, f"bulk-cancel:{ws['id']}:{runs}",
                                  "cancel them", "Cancel every matching live run?", perform)

    async def bulk_rerun(self, request: web.Request, visitor: Visitor) -> web.Response:
        ws = await self._ws(request)
        form = await request.post()
        runs = self._bulk_filter(form)
        key = _text(form, "key")
        first = RunsBulkRerun(runs, str(key or uuid.uuid4()), limit=100)

        async def perform() -> web.Response:
            count, page = 0, first
            for _ in range(BULK_MAX_PAGES):
                answer = await self.service.runs_bulk_rerun(ws["id"], page)
                count += sum(1 for r in answer.reruns if not r.duplicate)
                if answer.next_cursor is None:
                    break
                page = replace(page, cursor=answer.next_cursor)
            return self.flash(request, visitor, f"{count} rerun(s) started.")

        return await self.guarded(request, visitor, ws, f"bulk-rerun:{ws['id']}:{first}",
                                  "rerun them", "Rerun every matching run?", perform)

    async def retry(self, request: web.Request, visitor: Visitor) -> web.Response:
        ws = await self._ws(request)
        delivery = request.match_info["delivery"]
        if "\x00" in delivery:
            raise ServiceError("NOT_FOUND", "no such delivery", "/deliveryId")

        async def perform() -> web.Response:
            answer = await self.service.failures_retry(ws["id"], FailuresRetry(delivery))
            return self.flash(request, visitor, "Run back on the queue." if answer.ok
                              else "Nothing to retry: the run is not failed any more.")

        return await self.guarded(request, visitor, ws, f"retry:{ws['id']}:{delivery}",
                                  "retry", "Retry this failed run?", perform)

    async def rotate(self, request: web.Request, visitor: Visitor) -> web.Response:
        ws = await self._ws(request)

        async def perform() -> web.Response:
            answer = await self.service.apps_rotate_key(ws["id"])
            return self.flash(request, visitor, f"New signing key for {ws['name']} "
                              f"({ws['environment']}); both keys verify until you retire the "
                              "old one.", secret=answer.key)

        return await self.guarded(request, visitor, ws, f"rotate:{ws['id']}", "rotate the key",
                                  f"Rotate the signing key of {ws['name']}?", perform)

    async def retire(self, request: web.Request, visitor: Visitor) -> web.Response:
        ws = await self._ws(request)

        async def perform() -> web.Response:
            await self.service.apps_retire_key(ws["id"])
            return self.flash(request, visitor, f"The old key of {ws['name']} is retired.")

        return await self.guarded(request, visitor, ws, f"retire:{ws['id']}",
                                  "retire the old key",
                                  f"Retire the old signing key of {ws['name']}?", perform)

    async def create(self, request: web.Request, visitor: Visitor) -> web.Response:
        form = await request.post()
        body = {k: form[k] for k in ("name", "environment", "appUrl")
                if isinstance(form.get(k), str)}
        body = validate_request("/api/apps", body)
        validate_schema("apps-create-request", body)
        created = await self.service.apps_create(AppsCreate.from_json(body))
        app = created.app
        return self.flash(request, visitor, f"Workspace {app.name} "
                          f"({app.environment}) created: id {app.id}.",
                          secret=created.key, link="/", link_text="Reload the grid")
