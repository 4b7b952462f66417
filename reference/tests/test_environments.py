"""Environments: production workspaces are marked by the engine's answers [ENV-2] and in
every CLI output about them [ENV-1]; every variable the engine reads is documented."""

from __future__ import annotations

import re
import urllib.request
import uuid
from pathlib import Path

from conftest import ADMIN_TOKEN, EngineHandle, free_port
from durable import provision_app
from durable.signing import sign
from test_cli_client import as_json, durable, ok, refused

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "reference" / "src" / "durable_engine"


def workspace(engine: EngineHandle, environment: str) -> dict[str, str]:
    return provision_app(base_url=engine.url, name=f"env-{uuid.uuid4().hex[:8]}",
                         app_url=f"http://127.0.0.1:{free_port()}/api/durable",
                         environment=environment, admin_token=ADMIN_TOKEN)


def test_signed_answers_name_the_workspace_environment(engine: EngineHandle) -> None:
    for environment in ("prod", "acc", "staging-eu"):
        app = workspace(engine, environment)
        body = b"{}"
        request = urllib.request.Request(engine.url + "/functions/list", data=body, headers={
            "Content-Type": "application/json", "X-Durable-App": app["id"],
            "X-Durable-Signature": sign(app["key"].encode(), body)})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.headers["X-Durable-Environment"] == environment


def test_cli_marks_production_in_client_and_admin_outputs(engine: EngineHandle) -> None:
    prod, acc = workspace(engine, "prod"), workspace(engine, "acc")
    as_app = {"DURABLE_APP_ID": prod["id"], "DURABLE_SIGNING_KEY": prod["key"]}
    listed = durable("functions", "list", engine=engine, env=as_app)
    assert ok(listed) is not None and f"PRODUCTION workspace {prod['id']}" in listed.stderr
    scripted = durable("--json", "runs", "list", engine=engine, env=as_app)
    assert as_json(scripted)["runs"] == []  # stdout stays JSON
    assert "PRODUCTION" in scripted.stderr
    quiet = durable("functions", "list", engine=engine,
                    env={"DURABLE_APP_ID": acc["id"], "DURABLE_SIGNING_KEY": acc["key"]})
    assert ok(quiet) is not None and "PRODUCTION" not in quiet.stderr + quiet.stdout

    table = ok(durable("apps", "list", engine=engine))
    [prod_row] = [line for line in table.splitlines() if prod["id"] in line]
    [acc_row] = [line for line in table.splitlines() if acc["id"] in line]
    assert "prod (PRODUCTION)" in prod_row and "PRODUCTION" not in acc_row
    assert "PRODUCTION" in ok(durable("apps", "rotate-key", prod["id"], engine=engine))
    assert "PRODUCTION" in ok(durable("apps", "update", prod["id"], "--name",
                                      f"renamed-{uuid.uuid4().hex[:6]}", engine=engine))
    made = durable("apps", "create", f"env-{uuid.uuid4().hex[:6]}", "--environment",
                   "production", "--app-url", "http://127.0.0.1:1/api/durable", engine=engine)
    assert "production (PRODUCTION)" in ok(made)


def test_deleting_a_production_app_asks_with_production_named(engine: EngineHandle) -> None:
    prod = workspace(engine, "prod")
    asked = durable("apps", "delete", prod["id"], engine=engine)  # no terminal: the answer is no
    refused(asked, 1, "aborted", f"the PRODUCTION app {prod['id']} (prod)")
    gone = ok(durable("apps", "delete", prod["id"], "--yes", engine=engine))
    assert f"app {prod['id']} deleted (prod (PRODUCTION))" in gone


def test_every_variable_the_engine_reads_is_in_help_and_readmes() -> None:
    read: set[str] = set()
    name = r"[\"']([A-Z][A-Z0-9_]+)[\"']"
    for source in ENGINE.rglob("*.py"):
        text = source.read_text()
        read |= set(re.findall(r"(?:environ(?:\.get)?\(?\[?|getenv\()\s*" + name, text))
        read |= set(re.findall(r"envvar=" + name, text))
    assert {"DATABASE_URL", "DURABLE_PORT", "DURABLE_DEV_APP_URL"} <= read  # the scan works
    help_text = ok(durable("--help")) + ok(durable("send", "--help"))
    readmes = (ROOT / "README.md").read_text() + (ROOT / "reference" / "README.md").read_text()
    assert sorted(read - set(re.findall(r"[A-Z][A-Z0-9_]+", help_text))) == []
    assert sorted(read - set(re.findall(r"[A-Z][A-Z0-9_]+", readmes))) == []
