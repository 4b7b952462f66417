"""`durable send|runs|functions|apps` as a person runs it: the CLI in its own process, a real
engine on loopback and a real app written with our SDK; bad input gives a clear line on
stderr and a non-zero exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from typing import Any

import pytest
from conftest import (
    ADMIN_TOKEN,
    App,
    AppServer,
    CheckedClient,
    EngineHandle,
    free_port,
    fresh_database,
    wait_for,
)
from durable import DurableFunction, NonRetriableError, Step, wsgi

CLI = [sys.executable, "-m", "durable_engine.cli"]


def durable(*args: str, app: App | None = None, engine: EngineHandle | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    settings = {k: v for k, v in os.environ.items() if not k.startswith("DURABLE_")}
    if engine is not None:
        settings["DURABLE_URL"] = engine.url
        settings["DURABLE_ADMIN_TOKEN"] = ADMIN_TOKEN
    if app is not None:
        settings["DURABLE_APP_ID"], settings["DURABLE_SIGNING_KEY"] = app.id, app.key
    settings.update(env or {})
    settings["COLUMNS"] = "200"
    return subprocess.run([*CLI, *args], env=settings, capture_output=True, text=True,
                          timeout=60)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    return result.stdout


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(ok(result))


def refused(result: subprocess.CompletedProcess[str], code: int, *phrases: str) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    for phrase in phrases:
        assert phrase in result.stderr, (phrase, result.stderr)
    return result.stderr


@pytest.fixture
def shop(make_app: Any) -> App:
    def checkout(event: dict[str, Any], step: Step) -> Any:
        total = step.run("price", lambda: event["data"]["qty"] * 7)
        step.sleep("cool-off", "300ms")
        return step.run("receipt", lambda: {"total": total})

    def refund(event: dict[str, Any], step: Step) -> Any:
        step.run("look-up", lambda: "order-1")
        raise NonRetriableError("card was declined", code="CARD_DECLINED")

    def park(event: dict[str, Any], step: Step) -> Any:
        step.wait_for_event("approve", event="never.sent", timeout="1h")

    return make_app([
        DurableFunction(id="checkout", trigger={"event": "shop.checkout"}, handler=checkout),
        DurableFunction(id="refund", trigger={"event": "shop.refund"}, handler=refund,
                        retries=0),
        DurableFunction(id="park", trigger={"event": "shop.park"}, handler=park),
    ])


def test_send_then_read_the_run_as_a_timeline(shop: App, engine: EngineHandle) -> None:
    out = ok(durable("send", "shop.checkout", "--data", '{"qty": 3}', app=shop, engine=engine))
    assert "accepted" in out
    run_id = out.split("run ")[-1].strip()
    run = shop.wait_run(run_id)
    assert run["status"] == "completed", run

    table = ok(durable("runs", "get", run_id, app=shop, engine=engine))
    for phrase in (run_id, "checkout", "completed", "price", "cool-off", "receipt",
                   "app time", "durable time", "attempts"):
        assert phrase in table, (phrase, table)
    detail = as_json(durable("--json", "runs", "get", run_id, app=shop, engine=engine))
    assert detail["output"] == {"total": 21}
    assert [s["id"] for s in detail["steps"]] == ["price", "cool-off", "receipt"]
    assert len(detail["history"]) >= 3  # one invocation per step at least

    history = as_json(durable("--json", "runs", "history", run_id, app=shop, engine=engine))
    assert history["attempts"] == detail["history"]
    lines = ok(durable("runs", "history", run_id, app=shop, engine=engine)).splitlines()
    assert len(lines) == 1 + len(history["attempts"]) and "step" in lines[1], lines

    listed = as_json(durable("--json", "runs", "list", "--function", "checkout", "--since",
                             "10m", app=shop, engine=engine))
    assert run_id in [r["runId"] for r in listed["runs"]]
    none = as_json(durable("--json", "runs", "list", "--status", "cancelled", app=shop,
                           engine=engine))
    assert run_id not in [r["runId"] for r in none["runs"]]
    assert run_id in ok(durable("runs", "list", app=shop, engine=engine))


def test_a_failed_run_shows_the_error_the_app_reported(shop: App, engine: EngineHandle
                                                      ) -> None:
    receipt = as_json(durable("--json", "send", "shop.refund", app=shop, engine=engine))
    run_id = receipt["runIds"][0]
    assert shop.wait_run(run_id)["status"] == "failed"
    table = ok(durable("runs", "get", run_id, app=shop, engine=engine))
    assert "card was declined" in table and "CARD_DECLINED" in table, table

    rerun = ok(durable("runs", "rerun", run_id, "--from-step", "look-up", app=shop,
                       engine=engine))
    assert f"rerun of {run_id}" in rerun
    again = rerun.split()[1]
    assert shop.wait_run(again)["status"] == "failed"

    bulk = as_json(durable("--json", "runs", "bulk-rerun", "--filter", "function=refund",
                           "--filter", "status=failed", "--idempotency-key", "k1",
                           app=shop, engine=engine))
    assert {r["rerunOf"] for r in bulk["reruns"]} == {run_id, again}
    twice = as_json(durable("--json", "runs", "bulk-rerun", "--filter", "function=refund",
                            "--filter", "status=failed", "--idempotency-key", "k1",
                            app=shop, engine=engine))
    assert {r["runId"] for r in twice["reruns"]} >= {r["runId"] for r in bulk["reruns"]}
    assert all(r["duplicate"] for r in twice["reruns"]
               if r["rerunOf"] in {run_id, again})


def test_cancel_and_bulk_cancel(shop: App, engine: EngineHandle) -> None:
    first = shop.run_of(shop.send("shop.park"))
    others = [shop.run_of(shop.send("shop.park")) for _ in range(2)]
    for run_id in (first, *others):
        shop.wait_run(run_id, ("waiting",))
    assert f"run {first} cancelled" in ok(durable("runs", "cancel", first, app=shop,
                                                  engine=engine))
    done = shop.run_of(shop.send("shop.checkout", {"qty": 1}))
    shop.wait_run(done)
    refused(durable("runs", "cancel", done, app=shop, engine=engine), 1, "not cancelled",
            "completed")
    bulk = as_json(durable("--json", "runs", "bulk-cancel", "--filter", "function=park",
                           app=shop, engine=engine))
    assert set(bulk["cancelled"]) == set(others)
    refused(durable("runs", "bulk-cancel", app=shop, engine=engine), 2, "--filter")
    refused(durable("runs", "bulk-cancel", "--filter", "colour=red", app=shop, engine=engine),
            2, "colour")


def test_functions_list_and_an_event_nobody_listens_to(shop: App, engine: EngineHandle
                                                       ) -> None:
    listed = as_json(durable("--json", "functions", "list", app=shop, engine=engine))
    assert {f["runtimeId"] for f in listed["functions"]} == {"checkout", "refund", "park"}
    assert all(f["active"] for f in listed["functions"])
    trigger = {f["runtimeId"]: f["trigger"] for f in listed["functions"]}
    assert trigger["checkout"] == {"event": "shop.checkout"}
    table = ok(durable("functions", "list", app=shop, engine=engine))
    assert "shop.refund" in table and "refund" in table
    out = ok(durable("send", "nobody.listens", app=shop, engine=engine))
    assert "no function listens" in out
    receipt = as_json(durable("--json", "send", "nobody.listens", "--id", "n-1", app=shop,
                              engine=engine))
    assert receipt["matched"] == 0 and receipt["runIds"] == []  # [EVT-7]
    again = as_json(durable("--json", "send", "nobody.listens", "--id", "n-1", app=shop,
                            engine=engine))
    assert again["duplicate"] is True and again["matched"] == 0
    heard = as_json(durable("--json", "send", "shop.checkout", "--data", '{"qty": 1}',
                            app=shop, engine=engine))
    assert heard["matched"] == 1 and len(heard["runIds"]) == 1


def test_apps_list_create_rotate_update_delete(engine: EngineHandle) -> None:
    name = f"cli-{uuid.uuid4().hex[:6]}"
    url = f"http://127.0.0.1:{free_port()}/api/durable"
    made = as_json(durable("--json", "apps", "create", name, "--environment", "prod",
                           "--app-url", url, engine=engine))
    assert made["environment"] == "prod" and len(made["key"]) >= 32
    table = ok(durable("apps", "list", engine=engine))
    assert made["id"] in table and "prod" in table
    assert made["key"] not in table  # [ADMIN-3]
    rotated = as_json(durable("--json", "apps", "rotate-key", made["id"], engine=engine))
    assert rotated["activeKeys"] == 2
    refused(durable("apps", "rotate-key", made["id"], engine=engine), 1, "CONFLICT")

    renamed = as_json(durable("--json", "apps", "update", made["id"], "--name", name + "-2",
                              engine=engine))
    assert renamed["name"] == name + "-2" and renamed["appUrl"] == url
    other = as_json(durable("--json", "apps", "create", name, "--environment", "prod",
                            "--app-url", url, engine=engine))
    refused(durable("apps", "update", other["id"], "--name", name + "-2", engine=engine), 1,
            "409", "CONFLICT")
    refused(durable("apps", "update", made["id"], engine=engine), 2, "--name")

    # the deleted app's key no longer signs anything; its runs went with it
    keyed = {"DURABLE_APP_ID": made["id"], "DURABLE_SIGNING_KEY": made["key"]}
    ok(durable("send", "x.y", engine=engine, env=keyed))
    gone = as_json(durable("--json", "apps", "delete", made["id"], "--yes", engine=engine))
    assert gone == {"id": made["id"], "deleted": True, "runsDeleted": 0}
    refused(durable("runs", "list", engine=engine, env=keyed), 1, "401")
    refused(durable("apps", "delete", made["id"], "--yes", engine=engine), 1, "404",
            "NOT_FOUND")
    ok(durable("apps", "delete", other["id"], "--yes", engine=engine))
    refused(durable("apps", "list", engine=engine, env={"DURABLE_ADMIN_TOKEN": "wrong"}), 1,
            "401", "DURABLE_ADMIN_TOKEN")


def test_bad_input_gives_a_clear_message_and_exit_code(shop: App, engine: EngineHandle
                                                       ) -> None:
    refused(durable("runs", "list", engine=engine,
                    env={"DURABLE_APP_ID": shop.id, "DURABLE_SIGNING_KEY": "wrong-key"}),
            1, "401", "INVALID_SIGNATURE", "DURABLE_SIGNING_KEY")
    refused(durable("runs", "get", "run_does_not_exist", app=shop, engine=engine), 1,
            "404", "no such run")
    refused(durable("send", "a.b", "--data", "{not json", app=shop, engine=engine), 2,
            "not valid JSON")
    refused(durable("send", "a.b", "--data", "[1]", app=shop, engine=engine), 2,
            "JSON object")
    refused(durable("runs", "list", engine=engine), 2, "DURABLE_APP_ID")
    refused(durable("runs", "list", "--since", "yesterday", app=shop, engine=engine), 2,
            "--since")
    refused(durable("runs", "list", "--status", "weird", app=shop, engine=engine), 2,
            "weird")
    down = f"http://127.0.0.1:{free_port()}"
    refused(durable("--url", down, "runs", "list", app=shop), 3, "cannot reach", down)


def test_every_command_and_option_has_help_with_an_example() -> None:
    commands = [(), ("send",), ("runs",), ("runs", "list"), ("runs", "get"),
                ("runs", "history"), ("runs", "cancel"), ("runs", "rerun"),
                ("runs", "bulk-cancel"), ("runs", "bulk-rerun"), ("functions",),
                ("functions", "list"), ("apps",), ("apps", "list"), ("apps", "create"),
                ("apps", "rotate-key"), ("apps", "update"), ("apps", "delete")]
    from durable_engine import cli_client

    for path in commands:
        command: Any = cli_client.client
        for name in path:
            command = command.commands[name]
        assert command.help, path
        assert "Example" in (command.epilog or ""), path
        for param in command.params:
            if param.param_type_name == "option" and param.name != "help":
                assert param.help and "e.g." in param.help.lower(), (path, param.name)
    top = subprocess.run([*CLI, "--help"], capture_output=True, text=True, timeout=30)
    assert "durable runs" in top.stdout and "DURABLE_APP_ID" in top.stdout
    sub = subprocess.run([*CLI, "runs", "get", "--help"], capture_output=True, text=True,
                         timeout=30)
    assert sub.returncode == 0 and "durable time" in " ".join(sub.stdout.split())


def test_importing_the_engine_needs_no_cli_library() -> None:
    code = ("import sys, durable_engine, durable_engine.server, durable_engine.cli; "
            "print(sorted(m for m in ('click', 'rich') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=30)
    assert out.stdout.strip() == "[]", out


def test_the_engine_logs_one_json_line_per_run_state_change(server_url: str) -> None:
    port = free_port()
    with fresh_database(server_url) as url:
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("DURABLE_")},
               "DURABLE_ADMIN_TOKEN": ADMIN_TOKEN}
        engine = subprocess.Popen([*CLI, "serve", "--database-url", url, "--port", str(port),
                                   "--log-format", "json"], env=env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        server = None
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(lambda: durable("--url", base, "--admin-token", ADMIN_TOKEN, "apps",
                                     "list").returncode == 0, 60, 0.2)
            app_url = f"http://127.0.0.1:{free_port()}/api/durable"
            made = json.loads(ok(durable("--url", base, "--admin-token", ADMIN_TOKEN, "--json",
                                         "apps", "create", "logged", "--app-url", app_url)))
            fn = DurableFunction(id="nap", trigger={"event": "log.me"},
                                 handler=lambda e, s: s.sleep("pause", "50ms"))
            server = AppServer(wsgi([fn], signing_key=made["key"]),
                               int(app_url.split(":")[2].split("/")[0]))
            CheckedClient(base, made["id"], made["key"]).sync([fn])
            keyed = {"DURABLE_URL": base, "DURABLE_APP_ID": made["id"],
                     "DURABLE_SIGNING_KEY": made["key"]}
            receipt = json.loads(ok(durable("--json", "send", "log.me", "--data",
                                            '{"secret": "s3cr3t-value"}', env=keyed)))
            run_id = receipt["runIds"][0]
            wait_for(lambda: json.loads(ok(durable("--json", "runs", "get", run_id, env=keyed))
                                        )["status"] == "completed", 20)
        finally:
            engine.terminate()
            out, err = engine.communicate(timeout=60)
            if server is not None:
                server.close()
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert len(lines) == len(err.splitlines()), err  # every log line is JSON
    mine = [line for line in lines if line.get("runId") == run_id]
    assert [line["status"] for line in mine] == ["created", "sleeping", "completed"], mine
    assert all(line["level"] == "info" and line["logger"] == "durable.runs" for line in mine)
    assert "s3cr3t" not in err and made["key"] not in err and made["key"] not in out
    assert "mode: production" in out
