"""Who may use the dashboard, and the checks every request passes.

- Production mode: a person logs in with the admin token (DURABLE_ADMIN_TOKEN). The session
  id lives in a cookie (HttpOnly, SameSite=Strict, Secure when the request came over HTTPS);
  the store keeps only its SHA-256. Wrong tokens are answered more slowly each time (per
  client address, counted in Postgres for every process alike). Without an admin token the
  dashboard is off.
- Dev mode: open to loopback clients (the pages say so in a banner); others log in as above
  when an admin token is set.
- Every state-changing request carries the visitor's CSRF token (X-CSRF-Token header, or a
  `csrf` form field) and, when the browser sends one, an Origin of this host.
- Production actions are confirmed: the first request gets a short-lived, single-use
  confirmation token bound to the visitor and the action; only a request carrying it acts,
  on whichever engine process it reaches (tokens are kept in Postgres, hashed).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from aiohttp import web

from ..service import Service

COOKIE = "durable_session"
LIFETIME = timedelta(hours=12)
CONFIRM = timedelta(seconds=60)


@dataclass(frozen=True)
class Visitor:
    csrf: str
    session_id: str | None  # None: an open dev-mode visitor

    @property
    def key(self) -> str:
        return self.session_id or "dev"


def is_loopback(request: web.Request) -> bool:
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


def is_https(request: web.Request) -> bool:
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


class Gate:
    def __init__(self, service: Service, *, dev: bool, admin_token: str | None) -> None:
        self.service = service
        self.dev = dev
        self.admin_token = admin_token
        self.dev_csrf = secrets.token_urlsafe(24)  # open mode: still no cross-site forms

    @property
    def enabled(self) -> bool:
        return self.dev or bool(self.admin_token)

    def open_to(self, request: web.Request) -> bool:
        """Dev mode without login: loopback clients."""
        return self.dev and is_loopback(request)

    async def visitor(self, request: web.Request) -> Visitor | None:
        if self.open_to(request):
            return Visitor(csrf=self.dev_csrf, session_id=None)
        if not self.admin_token:
            return None
        session_id = request.cookies.get(COOKIE, "")
        csrf = await self.service.session_get(session_id) if session_id else None
        return None if csrf is None else Visitor(csrf=csrf, session_id=session_id)

    def same_origin(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        if origin is None:
            return True  # not a browser's cross-site request (those carry Origin on POST)
        return urlsplit(origin).netloc == request.host

    async def check_csrf(self, request: web.Request, visitor: Visitor) -> bool:
        given = request.headers.get("X-CSRF-Token")
        if given is None and request.content_type in ("application/x-www-form-urlencoded",
                                                      "multipart/form-data"):
            form = await request.post()
            value = form.get("csrf")
            given = value if isinstance(value, str) else None
        return self.same_origin(request) and given is not None and \
            hmac.compare_digest(given.encode(), visitor.csrf.encode())

    # ---- login -----------------------------------------------------------------------------

    async def login(self, request: web.Request, token: str) -> str | None:
        """A new session id for the right admin token; None (after a growing delay) else."""
        address = request.remote or "?"
        if self.admin_token and hmac.compare_digest(token.encode(), self.admin_token.encode()):
            await self.service.login_succeeded(address)
            session_id, _csrf = await self.service.session_create(LIFETIME)
            return session_id
        # counted in Postgres, so every engine process behind one address slows down alike
        count = await self.service.login_failed(address)
        await asyncio.sleep(min(0.5 * 2 ** (count - 1), 10.0))
        return None

    def set_cookie(self, request: web.Request, response: web.StreamResponse,
                   session_id: str) -> None:
        response.set_cookie(COOKIE, session_id, max_age=int(LIFETIME.total_seconds()),
                            path="/", httponly=True, samesite="Strict", secure=is_https(request))

    async def logout(self, request: web.Request, response: web.StreamResponse,
                     visitor: Visitor) -> None:
        if visitor.session_id is not None:
            await self.service.session_end(visitor.session_id)
        response.del_cookie(COOKIE, path="/")

    # ---- confirmations of production actions ----------------------------------------------

    # Kept in Postgres: the second click may reach another engine process than the first.

    async def confirmation(self, visitor: Visitor, action: str) -> str:
        return await self.service.confirmation_create(visitor.key, action, CONFIRM)

    async def confirmed(self, visitor: Visitor, action: str, token: str | None) -> bool:
        """True once for a live token issued to this visitor for this very action."""
        return bool(token) and await self.service.confirmation_take(str(token), visitor.key,
                                                                    action)
