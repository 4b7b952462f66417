"""An app's signed manifest ([MAN-1..6]): fetched (also for dev-mode discovery), read by
core.manifest, and kept per workspace for a TTL so invocations do not fetch it each time."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import aiohttp
import psycopg

from .. import signing
from ..core.context import RunContext
from ..core.invocation import (
    MAX_ANSWER_BYTES,
)
from ..core.manifest import parse_manifest
from ..store import workspaces
from .base import EngineBase, to_ms

log = logging.getLogger("durable.engine")


class Manifests(EngineBase):
    async def _refresh_manifest(self, ctx: RunContext) -> None:
        """Learn capabilities and maxRequestBytes from the app's signed manifest."""
        workspace_id = ctx.workspace_id
        last = self._manifests.get(workspace_id)
        if last is not None and time.monotonic() - last < self.config.manifest_ttl_s:
            return
        if last is None and ctx.manifest_at is not None and \
                (self.clock() - ctx.manifest_at).total_seconds() < self.config.manifest_ttl_s:
            self._manifests[workspace_id] = time.monotonic()
            return
        self._manifests[workspace_id] = time.monotonic()
        manifest = parse_manifest(await self.fetch_manifest(ctx.app_url, ctx.keys))
        if manifest is None:
            return
        ctx.capabilities = manifest.capabilities
        ctx.max_request_bytes = manifest.max_request_bytes
        try:
            async with self.pool.connection() as conn:
                await workspaces.set_manifest(
                    conn, self.queries, workspace_id, capabilities=manifest.capabilities,
                    max_request_bytes=manifest.max_request_bytes,
                    sdk_version=manifest.sdk_version, now=self.clock())
        except psycopg.Error as error:
            log.warning("could not store manifest: %s", error)

    async def fetch_manifest(self, url: str, keys: list[str],
                             discovery: bool = False) -> dict[str, Any] | None:
        """Signed GET of the manifest; None when unreachable or not trustworthy."""
        await self.start_http()
        assert self.session is not None
        timestamp = str(to_ms(self.clock()))
        headers = {"X-Durable-Timestamp": timestamp}
        if discovery:
            headers["X-Durable-Discovery"] = "true"
        if keys:
            headers["X-Durable-Signature"] = signing.sign(keys[0], timestamp.encode())
        try:
            async with self.session.get(url, headers=headers, allow_redirects=False,
                                        timeout=aiohttp.ClientTimeout(total=5)) as resp:
                body = await read_limited(resp, MAX_ANSWER_BYTES)
                self.last_manifest_status = resp.status
                if resp.status != 200 or len(body) > MAX_ANSWER_BYTES:
                    return None
                signature = resp.headers.get("X-Durable-Signature", "")
        except (aiohttp.ClientError, TimeoutError):
            return None
        try:
            manifest = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        if not isinstance(manifest, dict):
            return None
        check_keys = keys
        if discovery and isinstance(manifest.get("signingKey"), str):
            check_keys = [manifest["signingKey"]]
        if not signing.matches_any(check_keys, body, signature):
            return None
        return manifest

    def forget_manifest(self, workspace_id: str) -> None:
        """A sync just told us what the manifest would: no fetch for another TTL."""
        self._manifests[workspace_id] = time.monotonic()


async def read_limited(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """Read at most limit + 1 bytes: enough to tell an oversized answer, never more."""
    if resp.content_length is not None and resp.content_length > limit:
        return b"x" * (limit + 1)
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = await resp.content.read(limit + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)
