"""Server-sent events of the dashboard, fed by the process's one ChangeFeed (no query per
change, none per open page).

- /ws/{ws}/runs/live: event `run`, an HTML table row for the htmx SSE extension: a new run
  matching the page's filters goes on top, a status change replaces the row in place; with a
  status filter, a run reaching that status goes on top and one leaving it is removed.
  Rendered once per change, whatever the number of readers.
- /ws/{ws}/runs/{run}/live: event `change` (the page re-reads the run), for status changes
  and every recorded attempt. While such a page is open the process watches the run
  (Service.run_watch, renewed every WATCH_RENEW_S, one watch per run whatever the pages), so
  its attempts are published. The page itself starts the watch before it reads the run and
  opens its stream with `?after=` the feed position of that read: nothing in between is lost.

Every event has an id (`epoch-seq`); a browser reconnecting sends Last-Event-ID and gets
what it missed, or `resync` (re-read the page) when that is no longer kept. A comment line
every HEARTBEAT_S keeps proxies from closing an idle stream. Each stream has a bounded queue
in the feed: a slow browser loses its backlog and gets `resync`, it never slows the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from datetime import datetime
from typing import Any

from aiohttp import web

from ..engine import iso
from ..service import ChangeFeed, Resync, RunChange, ServiceError
from .auth import Visitor
from .core import HEADERS, Dashboard
from .pages import browse_args, run_filters

HEARTBEAT_S = 15.0
QUEUE = 512
WATCH_S = 60.0  # a watch lapses this long after its last renewal (a process gone)
WATCH_RENEW_S = 20.0
COALESCE_S = 0.05  # a stream writes at most this often: fewer wake-ups and writes per reader


def matches(change: RunChange, args: dict[str, Any]) -> bool:
    """Whether a change's run passes the runs page's filters (status checked apart)."""
    fn = args["function_id"]
    if fn and change.function_id != fn and not (
            "@" not in fn and change.function_id.startswith(fn + "@")):
        return False
    if args["event_name"] and change.event_name != args["event_name"]:
        return False
    if args["run_id"] and not change.run_id.startswith(args["run_id"]):
        return False
    created: datetime | None = change.created_at
    if created is not None:
        if args["created_from"] and created < args["created_from"]:
            return False
        if args["created_to"] and created >= args["created_to"]:
            return False
    return True


def frame(event: str, data: str, event_id: str | None = None) -> bytes:
    lines = [f"id: {event_id}"] if event_id else []
    lines.append(f"event: {event}")
    lines += [f"data: {line}" for line in (data.splitlines() or [""])]
    return ("\n".join(lines) + "\n\n").encode()


class Live:
    def __init__(self, dash: Dashboard) -> None:
        self.dash = dash
        self.feed: ChangeFeed = dash.feed
        self.streams: set[asyncio.Task[Any]] = set()
        self._rows: OrderedDict[tuple[int, str], bytes] = OrderedDict()
        self.watching: dict[str, int] = {}  # run id -> open run pages
        self._renewal: asyncio.Task[None] | None = None

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/ws/{ws}/runs/live", self.dash.page(self.runs_stream, part=True)),
                web.get("/ws/{ws}/runs/{run}/live", self.dash.page(self.run_stream, part=True))]

    async def close(self, app: web.Application) -> None:
        """On shutdown: end every open stream (browsers reconnect to the next engine)."""
        for task in list(self.streams):
            task.cancel()
        if self._renewal is not None:
            self._renewal.cancel()

    async def _watch(self, run_id: str) -> None:
        self.watching[run_id] = self.watching.get(run_id, 0) + 1
        if self.watching[run_id] == 1:
            await self.dash.service.run_watch(run_id, self.feed.epoch, WATCH_S)
        if self._renewal is None or self._renewal.done():
            self._renewal = asyncio.create_task(self._renew(), name="dashboard-watches")

    async def _unwatch(self, run_id: str) -> None:
        self.watching[run_id] -= 1
        if self.watching[run_id] == 0:
            del self.watching[run_id]
            with contextlib.suppress(Exception):  # it lapses by itself anyway
                await self.dash.service.run_unwatch(run_id, self.feed.epoch)

    async def _renew(self) -> None:
        while self.watching:
            await asyncio.sleep(WATCH_RENEW_S)
            for run_id in list(self.watching):
                with contextlib.suppress(Exception):  # a database away: retried next round
                    await self.dash.service.run_watch(run_id, self.feed.epoch, WATCH_S)

    def row(self, ws_id: str, change: RunChange, oob: str) -> bytes:
        """The SSE frame of a runs-list row, made once per change whatever the readers."""
        key = (change.seq, oob)
        cached = self._rows.get(key)
        if cached is None:
            module = self.dash.env.get_template("_run_row.html").module
            macro = module.run_row  # type: ignore[attr-defined]  # macros are set at runtime
            html = str(macro(ws_id, {
                "runId": change.run_id, "functionId": change.function_id,
                "eventName": change.event_name, "status": change.status,
                "createdAt": iso(change.created_at or change.at), "updatedAt": iso(change.at)},
                oob))
            cached = frame("run", html, self.feed.event_id(change))
            self._rows[key] = cached
            while len(self._rows) > 256:
                self._rows.popitem(last=False)
        return cached

    async def _stream(self, request: web.Request, ws_id: str, run_id: str | None,
                      render: Any, kinds: tuple[str, ...] = ("status",)) -> web.StreamResponse:
        response = web.StreamResponse(headers={
            **HEADERS, "Content-Type": "text/event-stream", "X-Accel-Buffering": "no"})
        task = asyncio.current_task()
        assert task is not None
        self.streams.add(task)
        try:
            sub = self.feed.subscribe(workspace_id=ws_id, run_id=run_id, queue_size=QUEUE,
                                      after=request.headers.get("Last-Event-ID") or
                                      request.query.get("after") or None,
                                      kinds=kinds)
            async with sub:
                await response.prepare(request)
                await response.write(b"retry: 1000\n: connected\n\n")
                while True:
                    try:  # asyncio.timeout, not wait_for: no task per wait
                        async with asyncio.timeout(HEARTBEAT_S):
                            items = [await sub.queue.get()]
                    except TimeoutError:
                        await response.write(b": heartbeat\n\n")
                        continue
                    await asyncio.sleep(COALESCE_S)  # changes close in time: one write
                    while not sub.queue.empty():
                        items.append(sub.queue.get_nowait())
                    chunk = b"".join(frame("resync", "") if isinstance(item, Resync)
                                     else render(item) for item in items)
                    if chunk:
                        await response.write(chunk)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.streams.discard(task)
        with contextlib.suppress(Exception):
            await response.write_eof()
        return response

    async def runs_stream(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        ws = await self.dash.service.workspace_get(request.match_info["ws"])
        f = run_filters(request.query)
        args = browse_args(f)
        status = args["status"]

        def render(change: RunChange) -> bytes:
            if change.kind != "status" or not matches(change, args):
                return b""
            if status:
                if change.status != status:  # a listed run left the status: its row goes
                    return b"" if change.new else self.row(ws["id"], change, "delete")
                return self.row(ws["id"], change, "")  # a run that came to it goes on top
            return self.row(ws["id"], change, "" if change.new else "true")

        return await self._stream(request, ws["id"], None, render)

    async def run_stream(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        ws = await self.dash.service.workspace_get(request.match_info["ws"])
        run_id = request.match_info["run"]
        if "\x00" in run_id or len(run_id) > 200:
            raise ServiceError("NOT_FOUND", "no such run", "/runId")

        def render(change: RunChange) -> bytes:
            return frame("change", change.status or change.kind, self.feed.event_id(change))

        await self._watch(run_id)
        try:
            return await self._stream(request, ws["id"], run_id, render, ("status", "attempt"))
        finally:
            await self._unwatch(run_id)
