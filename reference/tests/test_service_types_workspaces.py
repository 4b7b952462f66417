"""The typed requests and answers of the app, webhook, function and metrics operations,
without a database: requests as the transports build them (hand checks with their paths),
answers against the spec's answer schemas in the wire's member order."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from durable_engine.api import OPERATIONS
from durable_engine.features.webhooks import Signature
from durable_engine.service import ServiceError
from durable_engine.service.apps import (
    App,
    AppCreated,
    AppDeleted,
    Apps,
    AppsCreate,
    AppsUpdate,
    KeyRetired,
    KeyRotated,
)
from durable_engine.service.functions import (
    EventReceipt,
    EventReceipts,
    Function,
    FunctionOverview,
    Functions,
    FunctionsList,
    FunctionsOverview,
    SendEvent,
    SendEvents,
    Sync,
    Synced,
    Version,
    VersionOverview,
    Versions,
    VersionsStatus,
)
from durable_engine.service.metrics import MetricsQuery, MetricsSeries
from durable_engine.service.webhooks import (
    Deliveries,
    Delivery,
    Webhook,
    WebhookCreate,
    WebhookDeleted,
    Webhooks,
    WebhookTest,
    WebhookTested,
    WebhookUpdate,
)
from durable_engine.validation import Invalid, _schema_validator, validate_schema

AT = datetime(2026, 1, 31, 12, 0, 0, 123000, tzinfo=UTC)
TOKEN = "A" * 43
KEY = "signkey_" + "ab" * 32


def valid(schema: str, value: dict[str, Any]) -> dict[str, Any]:
    assert _schema_validator(schema) is not None, f"the spec's {schema} schema is not found"
    validate_schema(schema, value)
    return value


def test_the_engine_api_routes_parse_into_the_typed_function_requests() -> None:
    assert OPERATIONS["/fn/sync"].request is Sync
    assert OPERATIONS["/versions/status"].request is VersionsStatus
    assert OPERATIONS["/functions/list"].request is FunctionsList
    fn = {"id": "f", "version": "2", "trigger": {"event": "e"}}
    sync = Sync.from_json({"sdkVersion": "1.0", "functions": [fn],
                           "capabilities": ["step-invoke"], "maxRequestBytes": 2048})
    assert sync == Sync((fn,), "1.0", ("step-invoke",), 2048)
    # a sync that says nothing of capabilities keeps what the manifest said ([MAN-5])
    assert Sync.from_json({"functions": []}) == Sync((), None, None, None)
    assert VersionsStatus.from_json({"functionId": "f@2"}) == VersionsStatus("f")
    assert FunctionsList.from_json({}) == FunctionsList()


def test_function_answers_are_the_wire_json() -> None:
    synced = valid("sync-answer", Synced(("f@2", "g"), ("f@1",)).to_json())
    assert list(synced) == ["ok", "functions", "deactivated"]
    row = {"version": "2", "runtime_id": "f@2", "enabled": True, "removed": False,
           "runs": {"completed": 3}}
    retired = Version.from_row({**row, "version": "1", "runtime_id": "f@1", "removed": True})
    versions = Versions("f", (Version.from_row(row), retired)).to_json()
    assert valid("versions-status-answer", versions) == {"functionId": "f", "versions": [
        {"version": "2", "runtimeId": "f@2", "active": True, "runs": {"completed": 3}},
        {"version": "1", "runtimeId": "f@1", "active": False, "runs": {"completed": 3}}]}
    disabled = Version.from_row({**row, "enabled": False})
    listed = Functions((Function("f", disabled, {"event": "e"}),)).to_json()
    assert list(valid("functions-list-answer", listed)["functions"][0]) == [
        "functionId", "runtimeId", "version", "trigger", "active", "runs"]
    assert listed["functions"][0]["active"] is False


def test_app_requests_and_answers() -> None:
    assert AppsCreate.from_json({"name": "shop", "appUrl": "http://a/x"}) == \
        AppsCreate("shop", "http://a/x", "dev")
    assert AppsUpdate.from_json({"appUrl": "http://b/"}) == AppsUpdate(None, "http://b/")
    app = App.from_row({"id": "app_1", "name": "shop", "environment": "prod",
                        "app_url": "http://a/x", "key_count": 1, "created_at": AT})
    assert valid("app", app.to_json()) == {
        "id": "app_1", "name": "shop", "environment": "prod", "appUrl": "http://a/x",
        "activeKeys": 1, "createdAt": "2026-01-31T12:00:00.123Z"}
    created = valid("apps-create-answer", AppCreated(app, KEY).to_json())
    assert list(created)[-1] == "key" and created["key"] == KEY
    valid("apps-list-answer", Apps((app,)).to_json())
    valid("rotate-key-answer", KeyRotated("app_1", KEY, 2).to_json())
    valid("retire-key-answer", KeyRetired("app_1", 1).to_json())
    valid("apps-delete-answer", AppDeleted("app_1", 4).to_json())
    with pytest.raises(Invalid):  # the schema check bites: a key shown where it must not be
        validate_schema("app", {**app.to_json(), "key": KEY})


def test_webhook_requests_check_what_the_service_needs() -> None:
    create = WebhookCreate.from_json({"name": "gh", "transform": "body",
                                      "signature": {"preset": "github", "secret": "s"}})
    assert create == WebhookCreate("gh", "body", Signature("github", "s"))
    for body, path in (({"transform": "body"}, "/name"), ({"name": "gh", "transform": 1},
                                                          "/transform")):
        with pytest.raises(Invalid) as caught:
            WebhookCreate.from_json(body)
        assert caught.value.path == path
    assert WebhookUpdate.from_json({}) == WebhookUpdate(None, None, False, False)
    assert WebhookUpdate.from_json({"rotateToken": True}).rotate_token is True
    for body, path in (({"removeSignature": "yes"}, "/removeSignature"),
                       ({"rotateToken": 1}, "/rotateToken"),
                       ({"transform": ["body"]}, "/transform"),
                       ({"signature": {"preset": "github", "secret": "s"},
                         "removeSignature": True}, "/removeSignature")):
        with pytest.raises(Invalid) as caught:
            WebhookUpdate.from_json(body)
        assert caught.value.path == path, body
    assert WebhookTest.from_json({"body": "{}", "headers": {"x": "1"}}).headers == {"x": "1"}
    with pytest.raises(Invalid) as caught:
        WebhookTest.from_json({"body": 5})
    assert caught.value.path == "/body"


def test_webhook_answers_show_a_secret_only_when_set() -> None:
    row = {"name": "gh", "token": TOKEN, "transform": "body", "preset": "hmac-sha256",
           "header": "X-Sig", "created_at": AT}
    shown = valid("webhook", Webhook.from_row(row).to_json())
    assert shown == {"name": "gh", "url": f"/w/{TOKEN}", "transform": "body",
                     "signature": {"preset": "hmac-sha256", "header": "X-Sig"},
                     "createdAt": "2026-01-31T12:00:00.123Z"}
    with_secret = valid("webhook", Webhook.from_row(row, "s3cret").to_json())
    assert list(with_secret)[-1] == "secret" and with_secret["secret"] == "s3cret"
    unsigned = Webhook.from_row({**row, "preset": None, "header": None}).to_json()
    assert valid("webhook", unsigned)["signature"] is None
    valid("webhooks-list-answer", Webhooks((Webhook.from_row(row),)).to_json())
    valid("webhook-delete-answer", WebhookDeleted("gh").to_json())
    event = {"name": "gh.push", "data": {}}
    assert valid("webhook-test-answer", WebhookTested(event=event).to_json()) == \
        {"ok": True, "event": event}
    assert valid("webhook-test-answer", WebhookTested(message="no name").to_json()) == \
        {"ok": False, "message": "no name"}
    refused = Delivery.from_row({"at": AT, "status": 401, "code": "INVALID_SIGNATURE",
                                 "message": "bad", "event_id": None, "run_ids": []})
    accepted = Delivery.from_row({"at": AT, "status": 200, "code": None, "message": None,
                                  "event_id": "evt-1", "run_ids": ["run-1"]})
    deliveries = valid("webhook-deliveries-answer",
                       Deliveries((refused, accepted)).to_json())["deliveries"]
    assert list(deliveries[0]) == ["at", "status", "code", "message", "runIds"]
    assert list(deliveries[1]) == ["at", "status", "eventId", "runIds"]


def test_metrics_query_checks_each_option_with_its_path() -> None:
    assert MetricsQuery.from_json({}) == MetricsQuery("hour", None)
    assert MetricsQuery.from_json({"window": "week", "function": "f@2"}) == \
        MetricsQuery("week", "f@2")
    for body, path in (({"window": "month"}, "/window"), ({"window": ["day"]}, "/window"),
                       ({"function": ""}, "/function"), ({"function": "a\x00"}, "/function"),
                       ({"colour": "red"}, "/colour")):
        with pytest.raises(ServiceError) as caught:
            MetricsQuery.from_json(body)
        assert (caught.value.code, caught.value.path) == ("INVALID_REQUEST", path), body


def test_a_metrics_series_keeps_its_member_order() -> None:
    series = MetricsSeries("ws", MetricsQuery("hour", None), 60, AT, AT, AT, (1, 2),
                           {"started": [0, 1]}, {"p50": [None, 1.5], "count": [0, 1]},
                           {"p50": [None, None], "count": [0, 0]}, {"due": [None, 2]},
                           {"due": 2}, {"started": 1}).to_json()
    assert list(series) == ["workspaceId", "function", "window", "stepSeconds", "from", "to",
                            "rolledTo", "timestamps", "runs", "appMs", "durableMs", "backlog",
                            "backlogNow", "totals"]
    assert series["timestamps"] == [1, 2] and series["from"] == "2026-01-31T12:00:00.123Z"


def test_the_functions_overview_shows_flow_rules_and_the_next_cron_fire() -> None:
    definition = {"id": "nightly", "trigger": {"cron": "0 3 * * *"}, "concurrency": {"limit": 2},
                  "retries": 3}
    row = {"runtime_id": "nightly", "version": None, "enabled": True, "removed": False,
           "trigger_cron": "0 3 * * *", "runs": {"completed": 1}, "synced_at": AT,
           "definition": definition}
    live = VersionOverview.from_row(row, AT)
    shown = live.to_json()
    assert list(shown) == ["runtimeId", "version", "trigger", "enabled", "removed", "active",
                           "flow", "nextCronFire", "runs", "syncedAt", "definition"]
    assert shown["flow"] == {"concurrency": {"limit": 2}}  # retries is not a flow rule
    assert shown["nextCronFire"] == "2026-02-01T03:00:00.000Z" and shown["active"] is True
    removed = VersionOverview.from_row({**row, "removed": True}, AT).to_json()
    assert removed["nextCronFire"] is None and removed["active"] is False
    overview = FunctionsOverview((FunctionOverview("nightly", (live,)),)).to_json()
    assert overview == {"functions": [{"functionId": "nightly", "versions": [shown]}]}


def test_a_receipt_goes_out_in_one_order_fresh_or_replayed() -> None:
    """A duplicate's receipt is read back from Postgres' jsonb, whose member order is not the
    order it was written in; the typed receipt sends both alike, valid against the schema."""
    fresh = {"id": "e1", "name": "app.x", "ts": 1, "runIds": ["r1"], "matched": 2,
             "deduplicated": [{"functionId": "f@1", "runId": "r0"}], "duplicate": False}
    stored = {"id": "e1", "ts": 1, "name": "app.x", "runIds": ["r1"], "matched": 2,
              "deduplicated": [{"runId": "r0", "functionId": "f@1"}]}  # jsonb's order
    first = EventReceipt.from_json(fresh).to_json()
    again = EventReceipt.from_json({**stored, "duplicate": True}).to_json()
    assert list(first) == list(again) == ["id", "name", "ts", "runIds", "matched",
                                          "deduplicated", "duplicate"]
    assert first == {**fresh} and again == {**fresh, "duplicate": True}
    valid("receipt", again)
    bare = EventReceipt.from_json({"id": "e2", "name": "n", "ts": 0, "runIds": []})
    assert bare.to_json() == valid("receipt", {"id": "e2", "name": "n", "ts": 0, "runIds": [],
                                               "duplicate": False})
    bulk = EventReceipts((bare, EventReceipt.from_json(fresh))).to_json()
    assert [r["id"] for r in bulk["events"]] == ["e2", "e1"]
    assert SendEvents.from_json({"events": [{"name": "a"}, {"name": "b"}]}).events == (
        {"name": "a"}, {"name": "b"})
    assert SendEvent.from_json({"name": "a", "data": {}}).event == {"name": "a", "data": {}}
