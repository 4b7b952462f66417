"""Dev mode discovers several apps: DURABLE_DEV_APP_URL holds a comma-separated list."""

from __future__ import annotations

import uuid

from conftest import AppServer, EngineHandle, query, wait_for
from durable import DurableFunction, wsgi
from durable_engine.server import dev_app_urls


def test_the_list_is_split_on_commas_and_blanks_are_dropped() -> None:
    assert dev_app_urls(" http://a/x , http://b/y,,") == ["http://a/x", "http://b/y"]
    assert dev_app_urls("http://a/x") == ["http://a/x"]


def test_dev_mode_discovers_every_listed_app(database_url: str) -> None:
    servers, ids = [], []
    for n in range(2):
        app_id = f"devapp-{n}-{uuid.uuid4().hex[:6]}"
        fn = DurableFunction(id=f"hello-{n}", trigger={"event": f"dev.{app_id}"},
                             handler=lambda e, s: None)
        servers.append(AppServer(wsgi([fn], signing_key="k" * 32 + str(n), dev=True,
                                      app_id=app_id, app_name=app_id)))
        ids.append(app_id)
    urls = ",".join(s.url for s in servers)
    handle = EngineHandle(database_url, dev=True, dev_app_url=urls).start()
    try:
        rows = wait_for(lambda: len(found := query(
            database_url, "SELECT id, app_url FROM workspaces WHERE id = ANY(%s)", ids)) == 2
            and found, 15)
        assert {r["id"]: r["app_url"] for r in rows} == {ids[0]: servers[0].url,
                                                         ids[1]: servers[1].url}
        for app_id in ids:
            wait_for(lambda a=app_id: any("dev app found" in line and a in line
                                          for line in handle.lines), 10)
    finally:
        handle.stop()
        for server in servers:
            server.close()
