"""The dashboard's metrics page: runs, step app and durable time percentiles and backlog of a
workspace for the last hour, day or week, drawn by uPlot (static/metrics.js) from the
service's metrics read model (decision 0040); a summary table for the window is rendered on
the server, so the figures read without script too."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from aiohttp import web

from ..service.metrics import MetricsQuery
from .auth import Visitor
from .core import HEADERS, Dashboard

WINDOWS = ("hour", "day", "week")


class MetricsPage:
    def __init__(self, dash: Dashboard) -> None:
        self.dash = dash
        self.service = dash.service

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/ws/{ws}/metrics", self.dash.page(self.page)),
                web.get("/ws/{ws}/metrics/data", self.dash.page(self.data))]

    def _options(self, request: web.Request) -> dict[str, str]:
        options = {"window": request.query.get("window") or "hour"}
        if request.query.get("function"):
            options["function"] = request.query["function"]
        return options

    async def page(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        ws = await self.service.workspace_get(request.match_info["ws"])
        options = self._options(request)
        series = (await self.service.metrics_series(ws["id"],
                                                    MetricsQuery.from_json(options))).to_json()
        functions = (await self.service.functions_overview(ws["id"])).functions
        base = f"/ws/{ws['id']}/metrics"
        links = {w: f"{base}?{urlencode({**options, 'window': w})}" for w in WINDOWS}
        return self.dash.render(
            request, "metrics.html", visitor, ws=ws, series=series, window=options["window"],
            function=options.get("function", ""), links=links,
            function_ids=[fn.function_id for fn in functions],
            data_url=f"{base}/data?{urlencode(options)}", metrics_page=True)

    async def data(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        ws = await self.service.workspace_get(request.match_info["ws"])
        series = (await self.service.metrics_series(
            ws["id"], MetricsQuery.from_json(self._options(request)))).to_json()
        return web.Response(text=json.dumps(series, separators=(",", ":")),
                            content_type="application/json", headers=HEADERS)
