"""The dashboard's pages (GET): login, workspaces, runs with filters, run detail with its
waterfall, functions, failures. Each reads the service's read models only."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from ..service import ServiceError
from ..service.browse import STATUSES, RunsBrowse
from ..service.history import FailuresSearch
from .auth import Visitor
from .core import Dashboard
from .waterfall import build

LIVE_STATUSES = ("queued", "running", "sleeping", "waiting")
FILTERS = ("status", "function", "event", "from", "to", "run")


def parse_local(value: str, name: str) -> datetime:
    """A datetime-local input (UTC) or an ISO instant."""
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ServiceError("INVALID_REQUEST", f"{name} must be a date and time like "
                           "2026-01-31T12:00", f"/{name}") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def run_filters(query: Any) -> dict[str, str]:
    """The non-empty filters of a runs query string (or form)."""
    out: dict[str, str] = {}
    for name in FILTERS:
        value = query.get(name)
        if isinstance(value, str) and value.strip():
            out[name] = value.strip()
    return out


def browse_args(f: dict[str, str]) -> dict[str, Any]:
    return {"status": f.get("status"), "function_id": f.get("function"),
            "event_name": f.get("event"), "run_id": f.get("run"),
            "created_from": parse_local(f["from"], "from") if "from" in f else None,
            "created_to": parse_local(f["to"], "to") if "to" in f else None}


class Pages:
    def __init__(self, dash: Dashboard) -> None:
        self.dash = dash
        self.service = dash.service
        # One read per run and feed position, however many pages ask for it at once.
        self._details: dict[tuple[str, str],
                            tuple[int, float, asyncio.Future[dict[str, Any]]]] = {}

    def routes(self) -> list[web.RouteDef]:
        page = self.dash.page
        return [
            web.get("/", page(self.workspaces)),
            web.get("/login", self.login_form),
            web.post("/login", self.login),
            web.post("/logout", page(self.logout, change=True)),
            web.get("/ws/{ws}", page(self.workspace)),
            web.get("/ws/{ws}/runs", page(self.runs)),
            web.get("/ws/{ws}/runs/{run}", page(self.run)),
            web.get("/ws/{ws}/runs/{run}/body", page(self.run_body, part=True)),
            web.get("/ws/{ws}/functions", page(self.functions)),
            web.get("/ws/{ws}/failures", page(self.failures)),
        ]

    # ---- login -----------------------------------------------------------------------------

    async def login_form(self, request: web.Request) -> web.StreamResponse:
        if await self.dash.gate.visitor(request) is not None:
            return self.dash.redirect("/")
        return self.dash.render(request, "login.html", failed=False)

    async def login(self, request: web.Request) -> web.StreamResponse:
        gate = self.dash.gate
        if not gate.same_origin(request):
            return self.dash.render(request, "error.html", status=403, title="Refused",
                                    message="A login must come from this dashboard.")
        form = await request.post()
        token = form.get("token")
        session_id = await gate.login(request, token if isinstance(token, str) else "")
        if session_id is None:
            return self.dash.render(request, "login.html", status=401, failed=True)
        response = self.dash.redirect("/")
        gate.set_cookie(request, response, session_id)
        return response

    async def logout(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        response = self.dash.redirect("/login")
        await self.dash.gate.logout(request, response, visitor)
        return response

    # ---- pages -----------------------------------------------------------------------------

    async def workspaces(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        apps = (await self.service.workspaces_list()).to_json()["apps"]
        envs = sorted({a["environment"] for a in apps},
                      key=lambda e: (e.lower() in ("prod", "production"), e))
        names = sorted({a["name"] for a in apps})
        cells = {(a["name"], a["environment"]): a for a in apps}
        return self.dash.render(request, "workspaces.html", visitor, apps=apps, envs=envs,
                                names=names, cells=cells)

    async def workspace(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        ws = await self.service.workspace_get(request.match_info["ws"])
        return self.dash.redirect(f"/ws/{ws['id']}/runs")

    async def runs(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        ws = await self.service.workspace_get(request.match_info["ws"])
        f = run_filters(request.query)
        cursor = request.query.get("cursor") or None
        feed = self.dash.feed
        await feed.ready()  # changes are published from now on
        seq = feed.seq  # the stream resumes from here: no change between is lost
        page = (await self.service.runs_browse(ws["id"], RunsBrowse.of(
            cursor=cursor, limit=50, **browse_args(f)))).to_json()
        functions = (await self.service.functions_overview(ws["id"])).to_json()["functions"]
        base = f"/ws/{ws['id']}/runs"
        query = urlencode(f)
        next_url = f"{base}?{urlencode({**f, 'cursor': page['nextCursor']})}" \
            if page["nextCursor"] else None
        bulk_fields = [(k, v) for k, v in f.items() if k in ("status", "function", "from", "to")]
        bulk_why = ""
        if "event" in f or "run" in f:
            bulk_why = "Bulk actions filter by status, function and time only."
        elif not bulk_fields:
            bulk_why = "Choose a status, function or time range for bulk actions."
        return self.dash.render(
            request, "runs.html", visitor, ws=ws, f=f, statuses=STATUSES, runs=page["runs"],
            function_ids=[fn["functionId"] for fn in functions], cursor=cursor,
            next_url=next_url, first_url=f"{base}?{query}" if query else base,
            live=cursor is None,
            stream_url=f"{base}/live?{urlencode({**f, 'after': f'{feed.epoch}-{seq}'})}",
            request_url=str(request.rel_url), bulk_fields=bulk_fields,
            bulk_ok=not bulk_why, bulk_why=bulk_why, bulk_key=str(uuid.uuid4()),
            metrics_page=self.dash.metrics_page)

    async def detail(self, ws_id: str, run_id: str) -> dict[str, Any]:
        """run_detail, shared by every request for it at the same feed position."""
        key, seq, now = (ws_id, run_id), self.dash.feed.seq, time.monotonic()
        held = self._details.get(key)
        if held is not None and held[0] == seq and now - held[1] < 1.0 and \
                not (held[2].done() and held[2].exception() is not None):
            return await asyncio.shield(held[2])
        async def read() -> dict[str, Any]:
            return (await self.service.run_detail(ws_id, run_id)).to_json()

        future: asyncio.Future[dict[str, Any]] = asyncio.ensure_future(read())
        if len(self._details) > 256:
            self._details.clear()
        self._details[key] = (seq, now, future)
        return await asyncio.shield(future)

    async def _run_context(self, request: web.Request, watch: bool = False) -> dict[str, Any]:
        ws = await self.service.workspace_get(request.match_info["ws"])
        run_id = request.match_info["run"]
        if "\x00" in run_id:
            raise ServiceError("NOT_FOUND", "no such run", "/runId")
        feed = self.dash.feed
        if watch:  # from now on its attempts are published; the stream resumes from `seq`
            await self.service.run_watch(run_id, feed.epoch, 60.0)
        await feed.ready()  # status changes are published from now on
        seq = feed.seq
        run = await self.detail(ws["id"], run_id)
        if run["status"] == "waiting":
            waits = await self.service.run_waits(ws["id"], run_id)
            run = {**run, "waits": [w.to_json() for w in waits]}
        base = f"/ws/{ws['id']}/runs/{run_id}"
        return {"ws": ws, "run": run, "run_id": run_id, "wf": build(run, datetime.now(UTC)),
                "live_statuses": LIVE_STATUSES, "key": str(uuid.uuid4()),
                "stream_url": f"{base}/live?after={feed.epoch}-{seq}",
                "body_url": f"{base}/body",
                "metrics_page": self.dash.metrics_page}

    async def run(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        return self.dash.render(request, "run.html", visitor,
                                **await self._run_context(request, watch=True))

    async def run_body(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        return self.dash.render(request, "_run_body.html", visitor,
                                **await self._run_context(request))

    async def functions(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        ws = await self.service.workspace_get(request.match_info["ws"])
        functions = (await self.service.functions_overview(ws["id"])).to_json()["functions"]
        return self.dash.render(request, "functions.html", visitor, ws=ws, functions=functions,
                                metrics_page=self.dash.metrics_page)

    async def failures(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        ws = await self.service.workspace_get(request.match_info["ws"])
        found = await self.service.failures_search(ws["id"], FailuresSearch(100))
        return self.dash.render(request, "failures.html", visitor, ws=ws,
                                failures=found.to_json()["failures"],
                                metrics_page=self.dash.metrics_page)
