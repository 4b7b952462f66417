"""The `durable` client commands' plumbing: signed calls to the engine's HTTP API
([SIG-8]/[SIG-11] headers from the engine's own signing code, the admin token for
`/api/apps`), one-line failures with exit codes, and output helpers."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import click
from rich.console import Console

from .environments import HEADER as ENVIRONMENT_HEADER
from .environments import is_production
from .signing import sign, sign_v2

EXIT_REFUSED, EXIT_USAGE, EXIT_UNREACHABLE = 1, 2, 3
DEFAULT_URL = "http://127.0.0.1:3030"
_AGE = re.compile(r"^(\d+)(s|m|h|d)$")
_AGE_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class Failure(Exception):
    """One readable line for stderr and the exit code that goes with it."""

    def __init__(self, message: str, code: int = EXIT_REFUSED) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = code


def fail(message: str, code: int = EXIT_REFUSED) -> NoReturn:
    raise Failure(message, code)


# ---- the engine, over HTTP --------------------------------------------------------------------


class Engine:
    def __init__(self, url: str, app_id: str | None, key: str | None,
                 admin_token: str | None, timeout: float) -> None:
        self.url = url.rstrip("/")
        self.app_id = app_id
        self.key = key
        self.admin_token = admin_token
        self.timeout = timeout
        self.warned = False

    def call(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """A signed engine-API call ([SIG-8] v1 and [SIG-11] v2 headers)."""
        if not self.app_id or not self.key:
            fail("this command needs the workspace's app id and signing key: pass --app and "
                 "--key or set DURABLE_APP_ID and DURABLE_SIGNING_KEY (from `durable apps "
                 "create` or your app's settings)", EXIT_USAGE)
        body = json.dumps(payload, separators=(",", ":")).encode()
        timestamp = str(int(time.time() * 1000))
        headers = {"Content-Type": "application/json", "X-Durable-App": self.app_id,
                   "X-Durable-Signature": sign(self.key, body),
                   "X-Durable-Timestamp": timestamp,
                   "X-Durable-Signature-V2": sign_v2(self.key, timestamp, body)}
        return self._send("POST", path, body, headers)

    def admin(self, method: str, path: str, payload: dict[str, Any] | None = None
              ) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if self.admin_token:
            headers["Authorization"] = f"Bearer {self.admin_token}"
        body = None if payload is None else json.dumps(payload).encode()
        return self._send(method, path, body, headers)

    def _send(self, method: str, path: str, body: bytes | None,
              headers: dict[str, str]) -> dict[str, Any]:
        request = urllib.request.Request(self.url + path, data=body, headers=headers,
                                         method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
                self.mark(response.headers.get(ENVIRONMENT_HEADER))
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                problem = json.loads(raw)["error"]
                detail = f"{problem['code']}: {problem['message']}"
                if problem.get("path"):
                    detail += f" (at {problem['path']})"
            except (ValueError, KeyError, TypeError):
                detail = raw.decode(errors="replace")[:200] or error.reason
            hint = ""
            if error.code == 401 and path.startswith("/api/apps"):
                hint = " (pass --admin-token or set DURABLE_ADMIN_TOKEN)"
            elif error.code == 401:
                hint = " (check --app/DURABLE_APP_ID and --key/DURABLE_SIGNING_KEY)"
            fail(f"the engine refused {path}: HTTP {error.code} {detail}{hint}")
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            fail(f"cannot reach the engine at {self.url}: {reason} (is it running? set --url "
                 "or DURABLE_URL)", EXIT_UNREACHABLE)
        try:
            answer = json.loads(raw)
        except ValueError:
            fail(f"the engine answered {path} with something that is not JSON")
        if not isinstance(answer, dict):
            fail(f"the engine answered {path} with something that is not a JSON object")
        return answer


    def mark(self, environment: str | None) -> None:
        """[ENV-1]: once per command, on stderr (so --json output stays JSON), a line saying
        the workspace is production; the engine names it in every signed answer [ENV-2]."""
        if is_production(environment) and not self.warned:
            self.warned = True
            err.print(f"[bold red]PRODUCTION[/bold red] workspace {self.app_id} "
                      f"(environment {environment})")


def environment_text(environment: str) -> str:
    """An environment for a table or a line; production ones marked [ENV-1]."""
    if is_production(environment):
        return f"[bold red]{environment} (PRODUCTION)[/bold red]"
    return environment


def engine(ctx: click.Context) -> Engine:
    found = ctx.find_object(Engine)
    assert found is not None, "the `durable` group puts an Engine on the context"
    return found


def emit(ctx: click.Context, value: Any) -> bool:
    """Print value as JSON when --json was given; True when it was."""
    if ctx.find_root().params.get("as_json"):
        click.echo(json.dumps(value, indent=2))
        return True
    return False


def parse_since(text: str) -> datetime:
    """`15m`, `2h`, `7d` ago, or an ISO 8601 instant."""
    match = _AGE.match(text.strip())
    if match:
        return datetime.now(UTC) - timedelta(seconds=int(match[1]) * _AGE_S[match[2]])
    try:
        at = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        fail(f"--since {text!r} is neither an age (15m, 2h, 7d) nor an ISO 8601 instant",
             EXIT_USAGE)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def instant(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def seconds(ms: float) -> str:
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 120_000:
        return f"{ms / 1000:.2f} s"
    return f"{ms / 60_000:.1f} min"


def short(value: Any, width: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return text if len(text) <= width else text[: width - 1] + "…"


STATUS_STYLE = {"completed": "green", "failed": "red", "cancelled": "yellow",
                 "running": "cyan", "queued": "cyan", "sleeping": "blue", "waiting": "blue",
                 "skipped": "dim"}


def status_text(status: str) -> str:
    style = STATUS_STYLE.get(status)
    return f"[{style}]{status}[/{style}]" if style else status

