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
from typing import Any

import click
from rich.table import Table

from .cli_http import (
    DEFAULT_URL,
    EXIT_REFUSED,
    EXIT_USAGE,
    Engine,
    Failure,
    emit,
    engine,
    environment_text,
    err,
    fail,
    out,
)
from .cli_runs import runs
from .environments import is_production

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



client.add_command(runs)


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
    return (app["id"], app["name"], environment_text(app.get("environment", "")),
            app.get("appUrl", ""), str(app.get("activeKeys", "")))


def _environment_of(ctx: click.Context, app_id: str) -> str | None:
    """The environment of APP_ID from the admin list (None when it is not there)."""
    for app in engine(ctx).admin("GET", "/api/apps").get("apps", []):
        if app.get("id") == app_id:
            return str(app.get("environment", ""))
    return None


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
                   "prod and production are marked PRODUCTION in every output), e.g. "
                   "--environment prod.")
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
    out.print(f"app {answer['id']} created ({answer['name']}, "
              f"{environment_text(answer['environment'])})")
    out.print(f"  DURABLE_APP_ID={answer['id']}")
    out.print(f"  DURABLE_SIGNING_KEY={answer['key']}")
    out.print("the key is shown once: store it where your app reads it")


@apps.command("rotate-key", epilog="\b\nExample:\n  durable apps rotate-key app_3f2a...")
@click.argument("app_id")
@click.pass_context
def apps_rotate_key(ctx: click.Context, app_id: str) -> None:
    """Add a second signing key to APP_ID (both are accepted until one is retired)."""
    environment = _environment_of(ctx, app_id)
    answer = engine(ctx).admin("POST", f"/api/apps/{app_id}/rotate-key")
    if emit(ctx, answer):
        return
    where = f", {environment_text(environment)}" if environment else ""
    out.print(f"new key for {answer['id']} ({answer['activeKeys']} active keys{where})")
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
        out.print(f"app {answer['id']} updated: {answer['name']}, {answer.get('appUrl')} "
                  f"({environment_text(answer.get('environment', ''))})")


@apps.command("delete", epilog="\b\nExample:\n  durable apps delete app_3f2a... --yes")
@click.argument("app_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation, e.g. in scripts: --yes.")
@click.pass_context
def apps_delete(ctx: click.Context, app_id: str, yes: bool) -> None:
    """Delete APP_ID with its functions, events and runs (they are not kept)."""
    environment = _environment_of(ctx, app_id)
    production = is_production(environment)
    what = f"the PRODUCTION app {app_id} ({environment})" if production else app_id
    if not yes and not click.confirm(f"delete {what} with all its runs?", err=True):
        fail("not deleted", EXIT_REFUSED)
    answer = engine(ctx).admin("DELETE", f"/api/apps/{app_id}")
    if not emit(ctx, answer):
        out.print(f"app {app_id} deleted" + (f" ({environment_text(environment or '')})"
                                             if production else ""))


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
