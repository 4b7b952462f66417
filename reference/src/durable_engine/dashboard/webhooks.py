"""The dashboard's webhooks page: a workspace's webhook endpoints ([HOOK-1]) with their URL,
transform and signature preset (never the secret), and each one's last deliveries, a refusal
with its code and message so the reason a sender was refused can be read."""

from __future__ import annotations

from aiohttp import web

from .auth import Visitor
from .core import Dashboard


class WebhooksPage:
    def __init__(self, dash: Dashboard) -> None:
        self.dash = dash
        self.service = dash.service

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/ws/{ws}/webhooks", self.dash.page(self.page))]

    async def page(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        ws = await self.service.workspace_get(request.match_info["ws"])
        hooks = []
        for hook in (await self.service.webhooks_list(ws["id"])).webhooks:
            deliveries = await self.service.webhooks_deliveries(ws["id"], hook.name)
            hooks.append({**hook.to_json(), "deliveries": deliveries.to_json()["deliveries"]})
        return self.dash.render(request, "webhooks.html", visitor, ws=ws, hooks=hooks,
                                metrics_page=self.dash.metrics_page)
