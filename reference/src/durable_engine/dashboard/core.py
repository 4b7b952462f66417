"""What every dashboard handler shares: templates (jinja2, autoescaped), the security headers
(a strict Content-Security-Policy: scripts and styles from this origin only, no inline
script), the visitor check and CSRF check around each handler, and HTML error pages."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from ..environments import is_production
from ..service import ChangeFeed, Service, ServiceError
from ..validation import Invalid
from .auth import Gate, Visitor
from .waterfall import human

log = logging.getLogger("durable.dashboard")

HERE = Path(__file__).parent
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY",
           "Cache-Control": "no-store"}
Handler = Callable[[web.Request, Visitor], Awaitable[web.StreamResponse]]


def is_prod(workspace: dict[str, Any]) -> bool:
    return is_production(str(workspace.get("environment", "")))


def ago(value: str | None) -> str:
    if not value:
        return ""
    at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    ms = (datetime.now(UTC) - at).total_seconds() * 1000
    return f"{human(abs(ms))} ago" if ms >= 0 else f"in {human(-ms)}"


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)


def short_time(value: str | None) -> str:
    if not value:
        return ""
    return value.replace("T", " ")[:23] + "Z" if value.endswith("Z") else value


class Dashboard:
    def __init__(self, service: Service, feed: ChangeFeed, gate: Gate) -> None:
        self.service = service
        self.feed = feed
        self.gate = gate
        self.metrics_page = False  # set when the service has the metrics read model
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
            trim_blocks=True, lstrip_blocks=True)
        self.env.filters.update(ago=ago, pretty=pretty, human=human, time=short_time)
        self.env.globals.update(is_prod=is_prod)

    def render(self, request: web.Request, name: str, visitor: Visitor | None = None,
               status: int = 200, **context: Any) -> web.Response:
        html = self.env.get_template(name).render(
            visitor=visitor, dev_open=visitor is not None and visitor.session_id is None,
            dev=self.gate.dev, path=request.path, **context)
        return web.Response(text=html, status=status, content_type="text/html",
                            headers=HEADERS)

    def redirect(self, location: str, response: web.Response | None = None) -> web.Response:
        answer = response or web.Response(status=303)
        answer.set_status(303)
        answer.headers["Location"] = location
        answer.headers.update(HEADERS)
        return answer

    def page(self, handler: Handler, *, change: bool = False, part: bool = False) -> Callable[
            [web.Request], Awaitable[web.StreamResponse]]:
        """Wraps a handler: a visitor is required (else the login page, or 401 for htmx
        requests and for part=True: fragments, streams, data), change=True also requires the
        CSRF token; service errors
        become an HTML page or, for htmx, a message fragment."""
        async def wrapped(request: web.Request) -> web.StreamResponse:
            if not self.gate.enabled:
                return self.render(request, "error.html", status=403, title="Dashboard off",
                                   message="Production mode without an admin token: set "
                                           "DURABLE_ADMIN_TOKEN to use the dashboard.")
            visitor = await self.gate.visitor(request)
            if visitor is None:
                if request.method == "GET" and "HX-Request" not in request.headers and \
                        not part:
                    return self.redirect("/login")
                return self.render(request, "error.html", status=401, title="Log in",
                                   message="Your session has ended: log in again.")
            if change and not await self.gate.check_csrf(request, visitor):
                return self.render(request, "error.html", visitor, status=403,
                                   title="Refused", message="This request did not come from "
                                   "a dashboard page (missing or wrong CSRF token).")
            try:
                return await handler(request, visitor)
            except (ServiceError, Invalid) as error:
                status = error.status if isinstance(error, ServiceError) else 400
                code = error.code if isinstance(error, ServiceError) else "INVALID_REQUEST"
                name = "_flash.html" if "HX-Request" in request.headers else "error.html"
                return self.render(request, name, visitor, status=status,
                                   title=code, message=error.message, kind="error")
        return wrapped
