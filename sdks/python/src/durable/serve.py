"""Compatibility module: dicabrio-durable-sdk 0.1.0 exposed its server side here."""

from .adapters import asgi, wsgi
from .core import Response, handle_request

__all__ = ["Response", "asgi", "handle_request", "wsgi"]
