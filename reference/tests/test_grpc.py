"""The gRPC surface (§18) against a real Postgres, over loopback sockets: the SDK's client
with a grpc:// URL, raw grpc channels for what a client would not send, the streams, and a
second engine process whose worker changes are seen through WatchRuns."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from conftest import ADMIN_TOKEN, App, EngineHandle
from durable import Client, DurableError, DurableFunction, provision_app
from durable._pb import engine_messages_pb2, engine_pb2
from durable.signing import sign

ENGINE = "/durable.v1.Engine"


def echo(event: dict[str, Any], step: Any) -> Any:
    first = step.run("first", lambda: {"big": event["data"]["big"]})
    step.sleep("nap", "300ms")
    return {"first": first, "data": event["data"]}


FUNCTIONS = [DurableFunction(id="echo", trigger={"event": "grpc.echo"}, handler=echo)]


def grpc_engine(database_url: str, **kwargs: Any) -> EngineHandle:
    handle = EngineHandle(database_url, **kwargs)
    handle.options.grpc_port = 0
    handle.options.grpc_required = True
    return handle.start()


@pytest.fixture(scope="module")
def engine(database_url: str) -> Iterator[EngineHandle]:
    handle = grpc_engine(database_url)
    yield handle
    handle.stop()


def target(engine: EngineHandle) -> str:
    assert engine.server is not None and engine.server.grpc_port
    return f"127.0.0.1:{engine.server.grpc_port}"


@pytest.fixture(scope="module")
def app(engine: EngineHandle) -> Iterator[tuple[App, Client]]:
    handle = App(engine, FUNCTIONS, sync=False)
    client = Client(f"grpc://{target(engine)}", handle.id, handle.key, timeout=10)
    client.sync(FUNCTIONS)
    yield handle, client
    client.close()
    handle.close()


def signed(app: App, method: str, payload: bytes, *, key: str | None = None,
           timestamp: str | None = None) -> list[tuple[str, str]]:
    stamp = timestamp or str(int(time.time() * 1000))
    return [("x-durable-app", app.id), ("x-durable-timestamp", stamp),
            ("x-durable-signature", sign(key or app.key, f"{stamp}.{method}.".encode() + payload))]


def raw_call(engine: EngineHandle, method: str, payload: bytes,
             metadata: list[tuple[str, str]]) -> tuple[grpc.StatusCode, Any]:
    """(status, ApiError or the answer bytes) of one unary call with exact bytes."""
    with grpc.insecure_channel(target(engine)) as channel:
        try:
            answer = channel.unary_unary(method)(payload, metadata=metadata, timeout=10)
        except grpc.RpcError as error:
            detail = dict(error.trailing_metadata() or ()).get("durable-error-bin")
            assert detail is not None, f"{error.code()} without the durable-error-bin trailer"
            return error.code(), engine_messages_pb2.ApiError.FromString(detail)
    return grpc.StatusCode.OK, answer


def test_same_answers_as_http_and_large_integers_survive(app: tuple[App, Client]) -> None:
    handle, client = app
    big = 2**64 + 7  # beyond int64 and double precision: only JSON text keeps it
    data = {"big": big, "exact": 0.30000000000000004, "nested": [None, True, "é"]}
    receipt = client.send("grpc.echo", data, event_id=f"ev-{uuid.uuid4().hex}")
    assert receipt["duplicate"] is False and len(receipt["runIds"]) == 1
    run_id = receipt["runIds"][0]
    changes = list(client.watch_run(run_id))
    assert changes[-1]["status"] == "completed", changes
    assert changes[-1]["run"]["output"] == {"first": {"big": big}, "data": data}
    assert [c["status"] for c in changes].count("completed") == 1
    over_grpc = client.get_run(run_id)
    assert over_grpc == handle.client.get_run(run_id)  # the HTTP API's answer, member for member
    assert over_grpc["output"]["data"]["big"] == big
    again = client.send("grpc.echo", data, event_id=receipt["id"])
    assert again["duplicate"] is True and again["runIds"] == receipt["runIds"]
    page = client.search_runs(function_id="echo", limit=1)
    assert page == handle.client.search_runs(function_id="echo", limit=1)
    assert client.get_version_status("echo") == handle.client.get_version_status("echo")


def test_bad_input_is_invalid_argument_with_the_http_code_and_path(
        engine: EngineHandle, app: tuple[App, Client]) -> None:
    handle, client = app
    for call in (lambda c: c.search_runs(limit=0), lambda c: c.search_runs(status="dreaming"),
                 lambda c: c.send("durable/reserved", {})):
        with pytest.raises(DurableError) as over_http:
            call(handle.client)
        with pytest.raises(DurableError) as over_grpc:
            call(client)
        assert over_http.value.code == "INVALID_REQUEST"
        assert (over_grpc.value.code, over_grpc.value.path, over_grpc.value.status) == \
            (over_http.value.code, over_http.value.path, over_http.value.status)
    method = f"{ENGINE}/SearchRuns"
    limit_zero = engine_messages_pb2.SearchRunsRequest(limit=0).SerializeToString()
    status, error = raw_call(engine, method, limit_zero, signed(handle, method, limit_zero))
    assert (status, error.code, error.path) == (grpc.StatusCode.INVALID_ARGUMENT,
                                                "INVALID_REQUEST", "/limit")
    garbage = b"\xff\xff\xff"
    status, error = raw_call(engine, method, garbage, signed(handle, method, garbage))
    assert (status, error.code) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST")
    unknown_field = engine_messages_pb2.SearchRunsRequest(limit=5).SerializeToString() + \
        b"\x50\x01"  # field 10, varint: not a SearchRunsRequest field
    status, error = raw_call(engine, method, unknown_field, signed(handle, method, unknown_field))
    assert (status, error.code) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST")
    method = f"{ENGINE}/SendEvent"
    bad_json = engine_messages_pb2.EventInput(name="grpc.echo")
    bad_json.data.text = '{"a": 1,'
    payload = bad_json.SerializeToString()
    status, error = raw_call(engine, method, payload, signed(handle, method, payload))
    assert (status, error.code, error.path) == (grpc.StatusCode.INVALID_ARGUMENT,
                                                "INVALID_JSON", "/data")
    nul = engine_messages_pb2.EventInput(name="grpc.\x00echo").SerializeToString()
    status, error = raw_call(engine, method, nul, signed(handle, method, nul))
    assert (status, error.code, error.path) == (grpc.StatusCode.INVALID_ARGUMENT,
                                                "INVALID_REQUEST", "/name")
    huge = engine_messages_pb2.EventInput(name="grpc.echo")
    huge.data.text = '"' + "x" * 1_100_000 + '"'
    payload = huge.SerializeToString()
    status, error = raw_call(engine, method, payload, signed(handle, method, payload))
    assert (status, error.code) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "PAYLOAD_TOO_LARGE")
    method = f"{ENGINE}/GetRun"
    payload = engine_messages_pb2.RunIdRequest(run_id="no-such-run").SerializeToString()
    status, error = raw_call(engine, method, payload, signed(handle, method, payload))
    assert (status, error.code) == (grpc.StatusCode.NOT_FOUND, "NOT_FOUND")


def test_signatures_are_checked_like_the_http_api(engine: EngineHandle,
                                                  app: tuple[App, Client]) -> None:
    handle, _ = app
    method = f"{ENGINE}/GetRun"
    payload = engine_messages_pb2.RunIdRequest(run_id="r").SerializeToString()
    stale = str(int(time.time() * 1000) - 300_001)
    cases = {
        "wrong key": signed(handle, method, payload, key="not-the-key"),
        "stale timestamp": signed(handle, method, payload, timestamp=stale),
        "another method's signature": signed(handle, f"{ENGINE}/CancelRun", payload),
        "no signature": signed(handle, method, payload)[:2],
        "unknown app": [("x-durable-app", "app_nope")] + signed(handle, method, payload)[1:],
    }
    for what, metadata in cases.items():
        status, error = raw_call(engine, method, payload, metadata)
        assert (status, error.code) == (grpc.StatusCode.UNAUTHENTICATED,
                                        "INVALID_SIGNATURE"), what
    status, _ = raw_call(engine, method, payload, signed(handle, method, payload))
    assert status == grpc.StatusCode.NOT_FOUND  # signed right: past authentication


def test_key_rotation_applies_to_grpc(engine: EngineHandle) -> None:
    handle = App(engine, FUNCTIONS, sync=False)
    try:
        admin = Client(f"grpc://{target(engine)}", handle.id, handle.key)
        with grpc.insecure_channel(target(engine)) as channel:
            from durable._pb import admin_pb2

            rotate = channel.unary_unary("/durable.v1.Admin/RotateKey")
            retire = channel.unary_unary("/durable.v1.Admin/RetireKey")
            token = [("authorization", f"Bearer {ADMIN_TOKEN}")]
            request = admin_pb2.AppIdRequest(id=handle.id).SerializeToString()
            new_key = admin_pb2.RotateKeyAnswer.FromString(
                rotate(request, metadata=token)).key
            newer = Client(f"grpc://{target(engine)}", handle.id, new_key)
            assert newer.search_runs()["runs"] == [] and admin.search_runs()["runs"] == []
            assert admin_pb2.RetireKeyAnswer.FromString(
                retire(request, metadata=token)).active_keys == 1
        with pytest.raises(DurableError) as refused:
            admin.search_runs()
        assert refused.value.code == "INVALID_SIGNATURE" and refused.value.status == 401
        assert newer.search_runs()["runs"] == []
    finally:
        handle.close()


def test_ingest_answers_every_event_and_one_bad_one_refuses_only_itself(
        app: tuple[App, Client]) -> None:
    handle, client = app
    ids = [f"ing-{uuid.uuid4().hex}" for _ in range(5)]
    events: list[dict[str, Any]] = [{"id": i, "name": "grpc.ingested", "data": {"n": n}}
                                    for n, i in enumerate(ids)]
    events[2] = {"id": ids[2], "name": "durable/reserved", "data": {}}
    answers = list(client.ingest(iter(events + [events[0]])))
    assert [a["index"] for a in answers] == [0, 1, 2, 3, 4, 5]
    assert answers[2] == {"index": 2, "error": {
        "code": "INVALID_REQUEST", "message": answers[2]["error"]["message"], "path": "/name"}}
    for n in (0, 1, 3, 4):
        assert answers[n]["receipt"]["id"] == ids[n] and answers[n]["receipt"]["duplicate"] is False
    assert answers[5]["receipt"]["duplicate"] is True  # the same id again: [EVT-4]
    # stored like POST /e: the HTTP API sees the same event as a duplicate
    assert handle.client.send("grpc.ingested", {"n": 0}, event_id=ids[0])["duplicate"] is True


def test_ingest_item_with_a_bad_signature_ends_the_stream(engine: EngineHandle,
                                                          app: tuple[App, Client]) -> None:
    handle, _ = app
    method = f"{ENGINE}/IngestEvents"
    event = engine_messages_pb2.EventInput(id=f"x-{uuid.uuid4().hex}", name="grpc.ingested")
    data = event.SerializeToString()
    stamp = str(int(time.time() * 1000))
    good = engine_pb2.IngestEventRequest(event=data, timestamp=stamp, signature=sign(
        handle.key, f"{stamp}.{method}.".encode() + data)).SerializeToString()
    forged = engine_pb2.IngestEventRequest(event=data, timestamp=stamp,
                                           signature="0" * 64).SerializeToString()
    with grpc.insecure_channel(target(engine)) as channel:
        stream = channel.stream_stream(method)(iter([good, forged]),
                                               metadata=signed(handle, method, b""))
        answers = []
        with pytest.raises(grpc.RpcError) as ended:
            for raw in stream:
                answers.append(engine_pb2.IngestReceipt.FromString(raw))
    assert ended.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert [a.index for a in answers] == [0] and answers[0].HasField("receipt")


def test_watch_runs_sees_the_changes_a_second_engine_makes(database_url: str) -> None:
    """The gRPC engine runs no workers; another engine process's worker runs the function,
    and its status changes reach WatchRuns through the change feed."""
    api_only = grpc_engine(database_url, workers=False)
    worker = EngineHandle(database_url, api=False).start()
    handle = App(api_only, FUNCTIONS, sync=False)
    client = Client(f"grpc://{target(api_only)}", handle.id, handle.key, timeout=10)
    seen: list[dict[str, Any]] = []
    stream = client.watch_runs(function_id="echo")
    ready = threading.Event()

    def watch() -> None:
        for change in stream:
            seen.append(change)
            ready.set()
            if change.get("status") == "completed":
                return

    try:
        client.sync(FUNCTIONS)
        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        time.sleep(0.5)  # the watch is open before the event is sent
        receipt = client.send("grpc.echo", {"big": 1}, event_id=f"w-{uuid.uuid4().hex}")
        run_id = receipt["runIds"][0]
        thread.join(30)
        statuses = [c["status"] for c in seen if c.get("runId") == run_id]
        assert "completed" in statuses, seen
        assert {"queued", "running", "sleeping"} & set(statuses), statuses
        assert client.get_run(run_id)["status"] == "completed"
    finally:
        stream.close()  # type: ignore[attr-defined]
        client.close()
        handle.close()
        worker.stop()
        api_only.stop()


def test_admin_over_grpc_requires_the_token(engine: EngineHandle) -> None:
    from durable._pb import admin_pb2

    name = f"grpc-admin-{uuid.uuid4().hex[:8]}"
    request = admin_pb2.CreateAppRequest(name=name, environment="test",
                                         app_url="http://127.0.0.1:9/api/durable")
    payload = request.SerializeToString()
    for metadata in ([], [("authorization", "Bearer wrong")]):
        status, error = raw_call(engine, "/durable.v1.Admin/CreateApp", payload, metadata)
        assert (status, error.code) == (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHORIZED")
    created = provision_app(base_url=f"grpc://{target(engine)}", name=name,
                            app_url="http://127.0.0.1:9/api/durable", environment="test",
                            admin_token=ADMIN_TOKEN)
    assert len(created["key"]) >= 32 and created["activeKeys"] == 1
    with pytest.raises(DurableError) as taken:
        provision_app(base_url=f"grpc://{target(engine)}", name=name,
                      app_url="http://127.0.0.1:9/api/durable", environment="test",
                      admin_token=ADMIN_TOKEN)
    assert (taken.value.code, taken.value.status) == ("CONFLICT", 409)
    token = [("authorization", f"Bearer {ADMIN_TOKEN}")]
    status, answer = raw_call(engine, "/durable.v1.Admin/ListApps", b"", token)
    listed = admin_pb2.ListAppsAnswer.FromString(answer)
    assert status == grpc.StatusCode.OK and created["id"] in [a.id for a in listed.apps]
    assert created["key"].encode() not in answer
    bad_url = admin_pb2.CreateAppRequest(name=name + "x", environment="test",
                                         app_url="ftp://nope").SerializeToString()
    status, error = raw_call(engine, "/durable.v1.Admin/CreateApp", bad_url, token)
    assert (status, error.code, error.path) == (grpc.StatusCode.INVALID_ARGUMENT,
                                                "INVALID_REQUEST", "/appUrl")


def test_reflection_and_health(engine: EngineHandle) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    with grpc.insecure_channel(target(engine)) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "durable.v1.Engine", "durable.v1.Admin"):
            answer = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        answer = next(iter(stub.ServerReflectionInfo(iter([request]), timeout=5)))
        names = {s.name for s in answer.list_services_response.service}
        assert {"durable.v1.Engine", "durable.v1.Admin", "grpc.health.v1.Health"} <= names
        request = reflection_pb2.ServerReflectionRequest(
            file_containing_symbol="durable.v1.Engine")
        answer = next(iter(stub.ServerReflectionInfo(iter([request]), timeout=5)))
        assert answer.file_descriptor_response.file_descriptor_proto


def test_numbers_beyond_a_double_are_invalid_json_on_both_transports(
        engine: EngineHandle, app: tuple[App, Client]) -> None:
    import json
    import urllib.error
    import urllib.request

    handle, _ = app
    for text in ("1e999", "-1e999", "NaN", "Infinity"):
        body = f'{{"name": "grpc.echo", "data": {{"x": {text}}}}}'.encode()
        request = urllib.request.Request(engine.url + "/e", data=body, method="POST", headers={
            "Content-Type": "application/json", "X-Durable-App": handle.id,
            "X-Durable-Signature": sign(handle.key, body)})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 400
        assert json.loads(refused.value.read())["error"]["code"] == "INVALID_JSON"
        event = engine_messages_pb2.EventInput(name="grpc.echo")
        event.data.text = f'{{"x": {text}}}'
        payload = event.SerializeToString()
        method = f"{ENGINE}/SendEvent"
        status, error = raw_call(engine, method, payload, signed(handle, method, payload))
        assert (status, error.code, error.path) == (grpc.StatusCode.INVALID_ARGUMENT,
                                                    "INVALID_JSON", "/data"), text


def test_a_taken_default_port_is_skipped_with_a_warning_a_named_one_fails(
        database_url: str) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        handle = EngineHandle(database_url, workers=False)
        handle.options.grpc_port = port
        handle.start()
        try:
            assert handle.server is not None and handle.server.grpc_port is None
            assert any("gRPC: port" in line and "without gRPC" in line
                       for line in handle.lines), handle.lines
        finally:
            handle.stop()
        named = EngineHandle(database_url, workers=False)
        named.options.grpc_port, named.options.grpc_required = port, True
        with pytest.raises(OSError, match="gRPC"):
            named.start()
        named.loop.call_soon_threadsafe(named.loop.stop)


def test_a_client_built_from_reflection_alone_watches_a_run_to_its_output(
        engine: EngineHandle, app: tuple[App, Client]) -> None:
    """What grpcurl does: descriptors from the server's reflection (no .proto, no generated
    code), then a signed SendEvent and a WatchRun that ends with the run's output."""
    from google.protobuf import descriptor_pool, message_factory
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
        ProtoReflectionDescriptorDatabase,
    )

    handle, _ = app
    with grpc.insecure_channel(target(engine)) as channel:
        pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
        service = pool.FindServiceByName("durable.v1.Engine")

        def cls(method: str, side: str) -> Any:
            descriptor = service.FindMethodByName(method)
            return message_factory.GetMessageClass(getattr(descriptor, side))

        event = cls("SendEvent", "input_type")(id=f"refl-{uuid.uuid4().hex}", name="grpc.echo")
        event.data.text = '{"big": 123456789012345678901234567890}'
        payload = event.SerializeToString()
        method = f"{ENGINE}/SendEvent"
        receipt = cls("SendEvent", "output_type").FromString(channel.unary_unary(method)(
            payload, metadata=signed(handle, method, payload), timeout=10))
        request = cls("WatchRun", "input_type")(run_id=receipt.run_ids[0]).SerializeToString()
        method = f"{ENGINE}/WatchRun"
        changes = [cls("WatchRun", "output_type").FromString(raw) for raw in
                   channel.unary_stream(method)(request, metadata=signed(handle, method,
                                                                         request), timeout=30)]
    assert changes[-1].status == "completed" and changes[-1].HasField("run")
    import json

    big = 123456789012345678901234567890  # parsed from the text: every digit kept
    assert json.loads(changes[-1].run.output.text) == {"first": {"big": big},
                                                        "data": {"big": big}}
    assert str(big) in changes[-1].run.output.text


def test_without_an_admin_token_admin_calls_follow_the_loopback_rule(
        database_url: str) -> None:
    """[GRPC-6] as [ADMIN-1]: dev mode without a token serves loopback peers; production
    mode without a token refuses admin calls (PERMISSION_DENIED, FORBIDDEN)."""
    for dev, expected in ((True, grpc.StatusCode.OK), (False, grpc.StatusCode.PERMISSION_DENIED)):
        handle = grpc_engine(database_url, dev=dev, admin_token=None, workers=False)
        try:
            status, answer = raw_call(handle, "/durable.v1.Admin/ListApps", b"", [])
            assert status == expected, (dev, status)
            if not dev:
                assert answer.code == "FORBIDDEN"
        finally:
            handle.stop()


def test_trace_context_over_grpc(app: tuple[App, Client]) -> None:
    """[TRACE-1], [TRACE-5] over gRPC: an event's traceparent member reaches its run, and
    GetRun shows it as /runs/get does."""
    handle, client = app
    trace = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"
    receipt = client.send("grpc.echo", {"big": 1}, event_id=f"ev-{uuid.uuid4().hex}",
                          traceparent=trace)
    run_id = receipt["runIds"][0]
    assert list(client.watch_run(run_id))[-1]["status"] == "completed"
    over_grpc = client.get_run(run_id)
    assert over_grpc["traceparent"] == trace
    assert over_grpc == handle.client.get_run(run_id)
