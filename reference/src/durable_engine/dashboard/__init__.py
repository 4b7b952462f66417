"""The dashboard: server-rendered pages (jinja2, autoescaped) with htmx and its SSE
extension, served by the engine's own aiohttp app at `/` in every mode. It calls the service
layer only (read models, the same operations as the API) and the process's one ChangeFeed.

    install(app, service, feed, dev=..., admin_token=...)

Pages: / (workspaces), /login, /ws/{ws}/runs (filters, paging, live), /ws/{ws}/runs/{run}
(waterfall, live), /ws/{ws}/functions, /ws/{ws}/failures, /ws/{ws}/metrics (charts, see
metrics.py), /ws/{ws}/webhooks (endpoints and their last deliveries, webhooks.py);
actions are POSTs under the same paths (see actions.py); static files (our
CSS/JS and the vendored libraries, pinned by reference/scripts/vendor.sh) under /static/.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from ..service import ChangeFeed, Service
from .actions import Actions
from .auth import Gate
from .core import Dashboard
from .live import Live
from .metrics import MetricsPage
from .pages import Pages
from .webhooks import WebhooksPage

STATIC = Path(__file__).parent / "static"


def install(app: web.Application, service: Service, feed: ChangeFeed, *, dev: bool,
            admin_token: str | None) -> Dashboard:
    dash = Dashboard(service, feed, Gate(service, dev=dev, admin_token=admin_token))
    dash.metrics_page = True
    live = Live(dash)
    app.add_routes([*live.routes(), *Pages(dash).routes(), *Actions(dash).routes(),
                    *MetricsPage(dash).routes(), *WebhooksPage(dash).routes()])
    app.router.add_static("/static/", STATIC, append_version=False)
    app.on_shutdown.append(live.close)
    return dash
