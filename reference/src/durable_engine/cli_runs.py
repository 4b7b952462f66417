"""`durable runs ...`: list, inspect (a timeline with app time and durable time), cancel and
rerun runs, one at a time or by filter."""

from __future__ import annotations

import sys
import uuid
from typing import Any

import click
from rich.table import Table

from .cli_http import (
    EXIT_REFUSED,
    EXIT_USAGE,
    STATUS_STYLE,
    emit,
    engine,
    err,
    fail,
    instant,
    iso,
    out,
    parse_since,
    seconds,
    short,
    status_text,
)


@click.group(epilog="\b\nExample:\n  durable runs list --status failed")
def runs() -> None:
    """List, inspect, cancel and rerun runs."""


@runs.command("list", epilog="\b\nExamples:\n  durable runs list --status failed --since 2h\n"
                             "  durable runs list --function send-welcome --limit 200")
@click.option("--status", type=click.Choice(list(STATUS_STYLE)),
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

