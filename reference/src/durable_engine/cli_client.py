"""`durable send|runs|functions|apps`: the engine's HTTP API for people.

A client of a running engine, like `temporal workflow ...`: every engine-API call is signed
with the workspace's key (the engine's own signing code, [SIG-8]/[SIG-11]); `apps` commands
use the admin token. Tables for people, `--json` for scripts; errors are one line on stderr
and a non-zero exit code (1 for an answer the engine refused, 2 for bad input, 3 when the
engine cannot be reached). Imported only when one of these commands runs, so that
`import durable_engine` never needs click or rich.
"""

from __future__ import annotations

import json
import re
import sys
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.table import Table

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


def engine(ctx: click.Context) -> Engine:
    return ctx.find_object(Engine)  # type: ignore[no-any-return]


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


_STATUS_STYLE = {"completed": "green", "failed": "red", "cancelled": "yellow",
                 "running": "cyan", "queued": "cyan", "sleeping": "blue", "waiting": "blue",
                 "skipped": "dim"}


def status_text(status: str) -> str:
    style = _STATUS_STYLE.get(status)
    return f"[{style}]{status}[/{style}]" if style else status


# ---- the command tree -------------------------------------------------------------------------

EPILOG = """\b
Examples:
  export DURABLE_APP_ID=app_... DURABLE_SIGNING_KEY=...
  durable send user.signup --data '{"email": "a@example.com"}'
  durable runs list --status failed --since 1h
  durable runs get run_...
"""


@click.group(epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"],
                                              "max_content_width": 100})
@click.option("--url", envvar="DURABLE_URL", default=DEFAULT_URL, show_default=True,
              help="The engine's base URL (env DURABLE_URL), e.g. --url http://10.0.0.5:3030.")
@click.option("--app", "app_id", envvar="DURABLE_APP_ID", metavar="APP_ID",
              help="The workspace's app id (env DURABLE_APP_ID), e.g. --app app_3f2a...; "
                   "printed by `durable apps create`.")
@click.option("--key", envvar="DURABLE_SIGNING_KEY", metavar="KEY",
              help="The workspace's signing key (env DURABLE_SIGNING_KEY); requests are signed "
                   "with it, it is never sent. E.g. --key \"$KEY\".")
@click.option("--admin-token", envvar="DURABLE_ADMIN_TOKEN", metavar="TOKEN",
              help="The engine's admin token for `apps` commands (env DURABLE_ADMIN_TOKEN); "
                   "not needed for a dev engine on this machine. E.g. --admin-token \"$T\".")
@click.option("--timeout", type=float, default=10.0, show_default=True,
              help="Seconds to wait for each answer, e.g. --timeout 30.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the engine's answer as JSON for scripts, e.g. `durable --json runs "
                   "list | jq`.")
@click.pass_context
def client(ctx: click.Context, url: str, app_id: str | None, key: str | None,
           admin_token: str | None, timeout: float, as_json: bool) -> None:
    """Talk to a running durable engine: send events, inspect and steer runs, manage apps.

    Every engine call is signed with the workspace's key; `apps` commands use the admin token.
    """
    ctx.obj = Engine(url, app_id, key, admin_token, timeout)


@client.command(epilog="\b\nExample:\n  durable send order.placed --data '{\"orderId\": 42}'")
@click.argument("event")
@click.option("--data", default="{}", metavar="JSON",
              help="The event's data, a JSON object, e.g. --data '{\"orderId\": 42}'.")
@click.option("--id", "event_id", metavar="ID",
              help="An idempotency id: a second send with the same id is a duplicate, e.g. "
                   "--id order-42.")
@click.pass_context
def send(ctx: click.Context, event: str, data: str, event_id: str | None) -> None:
    """Send one event EVENT; prints the runs it started."""
    try:
        value = json.loads(data)
    except ValueError as error:
        fail(f"--data is not valid JSON: {error}", EXIT_USAGE)
    if not isinstance(value, dict):
        fail("--data must be a JSON object, e.g. '{\"orderId\": 42}'", EXIT_USAGE)
    payload: dict[str, Any] = {"name": event, "data": value}
    if event_id:
        payload["id"] = event_id
    receipt = engine(ctx).call("/e", payload)
    if emit(ctx, receipt):
        return
    runs = receipt.get("runIds", [])
    dup = " (duplicate: already accepted)" if receipt.get("duplicate") else ""
    out.print(f"event {receipt.get('id')} accepted{dup}")
    for run_id in runs:
        out.print(f"  run {run_id}")
    if receipt.get("matched") == 0:  # [EVT-7]
        out.print("[yellow]no function listens to this event and no run waits for it[/yellow]")
    elif not runs and not dup:
        out.print("no run started now (a waiting run resumed, or the run is debounced, "
                  "batched or skipped)")


# ---- runs ---------------------------------------------------------------------------------------


@client.group(epilog="\b\nExample:\n  durable runs list --status failed")
def runs() -> None:
    """List, inspect, cancel and rerun runs."""


@runs.command("list", epilog="\b\nExamples:\n  durable runs list --status failed --since 2h\n"
                             "  durable runs list --function send-welcome --limit 200")
@click.option("--status", type=click.Choice(list(_STATUS_STYLE)),
              help="Only runs in this status, e.g. --status failed.")
@click.option("--function", "function_id", metavar="FUNCTION",
              help="Only runs of this function (runtime id), e.g. --function send-welcome.")
@click.option("--since", metavar="AGE|INSTANT",
              help="Only runs created since an age or an instant, e.g. --since 2h or --since "
                   "2026-01-31T00:00:00Z.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True,
              help="At most this many runs (newest first), e.g. --limit 200.")
@click.pass_context
def runs_list(ctx: click.Context, status: str | None, function_id: str | None,
              since: str | None, limit: int) -> None:
    """List runs, newest first."""
    after = parse_since(since) if since else None
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while len(found) < limit:
        body: dict[str, Any] = {"limit": min(100, limit - len(found))}
        if status:
            body["status"] = status
        if function_id:
            body["functionId"] = function_id
        if cursor:
            body["cursor"] = cursor
        page = engine(ctx).call("/runs/search", body)
        stop = False
        for run in page.get("runs", []):
            created = instant(run.get("createdAt"))
            if after and created and created < after:
                stop = True  # newest first: every later one is older still
                break
            found.append(run)
        cursor = page.get("nextCursor")
        if stop or not cursor:
            break
    if emit(ctx, {"runs": found}):
        return
    if not found:
        out.print("no runs match")
        return
    table = Table("run", "function", "status", "created", "updated", box=None)
    for run in found:
        table.add_row(run["runId"], run["functionId"], status_text(run["status"]),
                      run.get("createdAt", ""), run.get("updatedAt", ""))
    out.print(table)


def _history(ctx: click.Context, run_id: str) -> list[dict[str, Any]]:
    attempts: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        body: dict[str, Any] = {"runId": run_id, "limit": 1000}
        if cursor:
            body["cursor"] = cursor
        page = engine(ctx).call("/runs/history", body)
        attempts.extend(page.get("attempts", []))
        cursor = page.get("nextCursor")
        if not cursor:
            return attempts


@runs.command("get", epilog="\b\nExample:\n  durable runs get run_3f2a...")
@click.argument("run_id")
@click.pass_context
def runs_get(ctx: click.Context, run_id: str) -> None:
    """Show one run as a timeline: its steps, attempts, errors and where the time went.

    App time is the time your app spent answering the engine's calls; durable time is the
    rest of the run's life (queued, sleeping, waiting for events, retry backoff).
    """
    run = engine(ctx).call("/runs/get", {"runId": run_id})
    attempts = _history(ctx, run_id)
    if emit(ctx, {**run, "history": attempts}):
        return
    created, updated = instant(run.get("createdAt")), instant(run.get("updatedAt"))
    total_ms = (updated - created).total_seconds() * 1000 if created and updated else 0.0
    app_ms = sum(a.get("durationMs", 0.0) for a in attempts)
    out.print(f"[bold]{run['runId']}[/bold]  {run['functionId']}  {status_text(run['status'])}")
    out.print(f"  event      {run.get('eventId')}")
    out.print(f"  created    {run.get('createdAt')}")
    out.print(f"  updated    {run.get('updatedAt')}")
    out.print(f"  attempt    {run.get('attempt', 0)}")
    out.print(f"  time       {seconds(total_ms)} in total: {seconds(app_ms)} app time, "
              f"{seconds(max(total_ms - app_ms, 0.0))} durable time")
    error = run.get("error")
    if isinstance(error, dict):
        where = f" at step {error['stepId']}" if error.get("stepId") else ""
        code = f"{error['code']} " if error.get("code") else ""
        out.print(f"  [red]error      {code}{error.get('name', 'Error')}: "
                  f"{short(error.get('message', ''), 200)}{where}[/red]", markup=True)
    if run.get("skipReason"):
        out.print(f"  skipped    {run['skipReason']}")
    if "output" in run:
        out.print(f"  output     {short(run['output'], 200)}")
    if run.get("wakeAt"):
        out.print(f"  wakes at   {run['wakeAt']}")
    steps = run.get("steps", [])
    if steps:
        table = Table("step", "type", "at", "app time", "note", "data", box=None,
                      title="steps", title_justify="left")
        for step in steps:
            notes = []
            if step.get("wakeAt"):
                notes.append(f"sleeps until {step['wakeAt']}")
            if step.get("copiedFrom"):
                notes.append(f"copied from {step['copiedFrom']}")
            app_time = seconds(step["appMs"]) if step.get("appMs") is not None else "-"
            table.add_row(step["id"], step["type"], step.get("at") or "", app_time,
                          "; ".join(notes), short(step.get("data"), 40))
        out.print(table)
    if attempts:
        table = Table("at", "ns", "attempt", "app time", "http", "op", "code", "error",
                      box=None, title="attempts", title_justify="left")
        for a in attempts:
            table.add_row(a["at"], a.get("namespace", "main"), str(a.get("attempt", 0)),
                          seconds(a.get("durationMs", 0.0)), str(a.get("httpStatus") or "-"),
                          a.get("op") or "-", a.get("code") or "",
                          short(a.get("error") or "", 60))
        out.print(table)


@runs.command("history", epilog="\b\nExample:\n  durable runs history run_3f2a... --json")
@click.argument("run_id")
@click.pass_context
def runs_history(ctx: click.Context, run_id: str) -> None:
    """Every HTTP attempt the engine made for run RUN_ID, oldest first."""
    attempts = _history(ctx, run_id)
    if emit(ctx, {"runId": run_id, "attempts": attempts}):
        return
    if not attempts:
        out.print("no attempts yet")
        return
    table = Table("at", "ns", "attempt", "duration", "http", "op", "code", "error", box=None)
    for a in attempts:
        table.add_row(a["at"], a.get("namespace", "main"), str(a.get("attempt", 0)),
                      seconds(a.get("durationMs", 0.0)), str(a.get("httpStatus") or "-"),
                      a.get("op") or "-", a.get("code") or "", short(a.get("error") or "", 80))
    out.print(table)


@runs.command("cancel", epilog="\b\nExample:\n  durable runs cancel run_3f2a...")
@click.argument("run_id")
@click.pass_context
def runs_cancel(ctx: click.Context, run_id: str) -> None:
    """Cancel run RUN_ID; a run that already ended is left as it is (exit 1)."""
    answer = engine(ctx).call("/runs/cancel", {"runId": run_id})
    if not emit(ctx, answer):
        if answer.get("ok"):
            out.print(f"run {run_id} cancelled")
        else:
            err.print(f"durable: run {run_id} was not cancelled: it is {answer.get('status')}")
    if not answer.get("ok"):
        sys.exit(EXIT_REFUSED)


@runs.command("rerun", epilog="\b\nExamples:\n  durable runs rerun run_3f2a...\n"
                              "  durable runs rerun run_3f2a... --from-step charge-card")
@click.argument("run_id")
@click.option("--from-step", "step_id", metavar="STEP",
              help="Keep the steps before STEP and run again from it, e.g. --from-step charge.")
@click.option("--idempotency-key", metavar="KEY",
              help="Repeat-safe key: the same key reruns once, e.g. --idempotency-key fix-42 "
                   "(default: a fresh one).")
@click.pass_context
def runs_rerun(ctx: click.Context, run_id: str, step_id: str | None,
               idempotency_key: str | None) -> None:
    """Start a new run of RUN_ID's function with the same event."""
    body: dict[str, Any] = {"runId": run_id,
                            "idempotencyKey": idempotency_key or f"cli-{uuid.uuid4()}"}
    if step_id:
        body["stepId"] = step_id
    answer = engine(ctx).call("/runs/rerun", body)
    if not emit(ctx, answer):
        out.print(f"run {answer.get('runId')} started (rerun of {run_id})")


FILTER_HELP = ("Which runs, as KEY=VALUE, repeatable: status=failed, function=ID, since=2h|ISO, "
               "until=ISO; e.g. --filter status=failed --filter since=1h.")


def _filter(pairs: tuple[str, ...]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not value:
            fail(f"--filter {pair!r} is not KEY=VALUE (e.g. status=failed)", EXIT_USAGE)
        if key == "status":
            body["status"] = value
        elif key == "function":
            body["functionId"] = value
        elif key == "since":
            body["createdFrom"] = iso(parse_since(value))
        elif key == "until":
            body["createdTo"] = iso(parse_since(value))
        else:
            fail(f"--filter key {key!r} is unknown: use status, function, since or until",
                 EXIT_USAGE)
    if not body:
        fail("give at least one --filter (e.g. --filter status=failed): a bulk action never "
             "applies to every run by default", EXIT_USAGE)
    return body


@runs.command("bulk-cancel",
              epilog="\b\nExample:\n  durable runs bulk-cancel --filter function=sync-crm "
                     "--filter status=sleeping")
@click.option("--filter", "filters", multiple=True, metavar="KEY=VALUE", help=FILTER_HELP)
@click.pass_context
def runs_bulk_cancel(ctx: click.Context, filters: tuple[str, ...]) -> None:
    """Cancel every run that matches the filter and has not ended."""
    body = _filter(filters)
    cancelled: list[str] = []
    while True:
        page = engine(ctx).call("/runs/bulk-cancel", {**body, "limit": 1000})
        cancelled.extend(page.get("cancelled", []))
        if not page.get("nextCursor"):
            break
        body["cursor"] = page["nextCursor"]
    if not emit(ctx, {"cancelled": cancelled}):
        out.print(f"{len(cancelled)} run(s) cancelled")
        for run_id in cancelled:
            out.print(f"  {run_id}")


@runs.command("bulk-rerun",
              epilog="\b\nExample:\n  durable runs bulk-rerun --filter status=failed "
                     "--filter since=1h")
@click.option("--filter", "filters", multiple=True, metavar="KEY=VALUE", help=FILTER_HELP)
@click.option("--idempotency-key", metavar="KEY",
              help="Repeat-safe key: running the same command with it again reruns nothing "
                   "twice, e.g. --idempotency-key incident-7 (default: a fresh one).")
@click.pass_context
def runs_bulk_rerun(ctx: click.Context, filters: tuple[str, ...],
                    idempotency_key: str | None) -> None:
    """Rerun every run that matches the filter (each once per idempotency key)."""
    body = {**_filter(filters), "idempotencyKey": idempotency_key or f"cli-{uuid.uuid4()}"}
    reruns: list[dict[str, Any]] = []
    while True:
        page = engine(ctx).call("/runs/bulk-rerun", {**body, "limit": 100})
        reruns.extend(page.get("reruns", []))
        if not page.get("nextCursor"):
            break
        body["cursor"] = page["nextCursor"]
    if not emit(ctx, {"reruns": reruns}):
        out.print(f"{len(reruns)} run(s) rerun")
        for r in reruns:
            dup = " (already rerun with this key)" if r.get("duplicate") else ""
            out.print(f"  {r['rerunOf']} -> {r['runId']}{dup}")


# ---- functions ----------------------------------------------------------------------------------


@client.group(epilog="\b\nExample:\n  durable functions list")
def functions() -> None:
    """The functions the workspace's app registered."""


@functions.command("list", epilog="\b\nExample:\n  durable functions list --json")
@click.pass_context
def functions_list(ctx: click.Context) -> None:
    """List the workspace's functions: trigger, state and run counts."""
    answer = engine(ctx).call("/functions/list", {})
    if emit(ctx, answer):
        return
    items = answer.get("functions", [])
    if not items:
        out.print("no functions: has the app synced? (dev: the engine discovers it)")
        return
    table = Table("function", "trigger", "active", "runs", box=None)
    for f in items:
        trigger = f.get("trigger", {})
        table.add_row(f["runtimeId"], trigger.get("event") or f"cron {trigger.get('cron')}",
                      "yes" if f.get("active") else "no", str(f.get("runs", "")))
    out.print(table)


# ---- apps (admin) -------------------------------------------------------------------------------


@client.group(epilog="\b\nExample:\n  durable apps create shop --app-url "
                     "http://127.0.0.1:3000/api/durable")
def apps() -> None:
    """Workspaces (an app in one environment) and their keys; needs the admin token."""


def _app_row(app: dict[str, Any]) -> tuple[str, ...]:
    env = app.get("environment", "")
    shown = f"[bold red]{env}[/bold red]" if env == "prod" else env
    return (app["id"], app["name"], shown, app.get("appUrl", ""),
            str(app.get("activeKeys", "")))


@apps.command("list", epilog="\b\nExample:\n  durable apps list")
@click.pass_context
def apps_list(ctx: click.Context) -> None:
    """List every workspace; prod ones are marked."""
    answer = engine(ctx).admin("GET", "/api/apps")
    if emit(ctx, answer):
        return
    table = Table("id", "name", "environment", "app url", "keys", box=None)
    for app in answer.get("apps", []):
        table.add_row(*_app_row(app))
    out.print(table)


@apps.command("create", epilog="\b\nExample:\n  durable apps create shop --environment prod "
                               "--app-url https://shop.example.com/api/durable")
@click.argument("name")
@click.option("--environment", default="dev", show_default=True, metavar="ENV",
              help="dev, acc or prod (any name matching [a-z0-9][a-z0-9_-]* is accepted; "
                   "prod is marked in red by `apps list`), e.g. --environment prod.")
@click.option("--app-url", required=True, metavar="URL",
              help="Where the engine calls the app, e.g. --app-url "
                   "http://127.0.0.1:3000/api/durable.")
@click.pass_context
def apps_create(ctx: click.Context, name: str, environment: str, app_url: str) -> None:
    """Create workspace NAME; prints its app id and signing key (shown once)."""
    answer = engine(ctx).admin("POST", "/api/apps", {"name": name, "environment": environment,
                                                     "appUrl": app_url})
    if emit(ctx, answer):
        return
    out.print(f"app {answer['id']} created ({answer['name']}, {answer['environment']})")
    out.print(f"  DURABLE_APP_ID={answer['id']}")
    out.print(f"  DURABLE_SIGNING_KEY={answer['key']}")
    out.print("the key is shown once: store it where your app reads it")


@apps.command("rotate-key", epilog="\b\nExample:\n  durable apps rotate-key app_3f2a...")
@click.argument("app_id")
@click.pass_context
def apps_rotate_key(ctx: click.Context, app_id: str) -> None:
    """Add a second signing key to APP_ID (both are accepted until one is retired)."""
    answer = engine(ctx).admin("POST", f"/api/apps/{app_id}/rotate-key")
    if emit(ctx, answer):
        return
    out.print(f"new key for {answer['id']} ({answer['activeKeys']} active keys)")
    out.print(f"  DURABLE_SIGNING_KEY={answer['key']}")


@apps.command("update", epilog="\b\nExample:\n  durable apps update app_3f2a... --name shop-eu")
@click.argument("app_id")
@click.option("--name", help="A new name, e.g. --name shop-eu.")
@click.option("--app-url", metavar="URL",
              help="A new app URL, e.g. --app-url https://shop.example.com/api/durable.")
@click.pass_context
def apps_update(ctx: click.Context, app_id: str, name: str | None, app_url: str | None) -> None:
    """Rename APP_ID or change the URL the engine calls."""
    body = {k: v for k, v in (("name", name), ("appUrl", app_url)) if v is not None}
    if not body:
        fail("give --name or --app-url", EXIT_USAGE)
    answer = engine(ctx).admin("PATCH", f"/api/apps/{app_id}", body)
    if not emit(ctx, answer):
        out.print(f"app {answer['id']} updated: {answer['name']}, {answer.get('appUrl')}")


@apps.command("delete", epilog="\b\nExample:\n  durable apps delete app_3f2a... --yes")
@click.argument("app_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation, e.g. in scripts: --yes.")
@click.pass_context
def apps_delete(ctx: click.Context, app_id: str, yes: bool) -> None:
    """Delete APP_ID with its functions, events and runs (they are not kept)."""
    if not yes and not click.confirm(f"delete {app_id} with all its runs?", err=True):
        fail("not deleted", EXIT_REFUSED)
    answer = engine(ctx).admin("DELETE", f"/api/apps/{app_id}")
    if not emit(ctx, answer):
        out.print(f"app {app_id} deleted")


def main(argv: list[str]) -> int:
    try:
        client.main(args=argv, prog_name="durable", standalone_mode=False)
    except Failure as failure:
        err.print(f"durable: {failure.message}", markup=False)
        return failure.exit_code
    except click.exceptions.Abort:
        err.print("durable: aborted")
        return EXIT_REFUSED
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except SystemExit as stop:
        return int(stop.code or 0)
    return 0
