"""The engine suite over gRPC (§18): the `engine-grpc` column of the matrix.

The engine is started by its harness with a gRPC port (`grpcPort` names it, from the
`{grpc_port}` placeholder). The app is registered with Admin.CreateApp and every engine API
call of the core scenarios, key rotation and the plain-v1 app goes through its rpc with a
client compiled from spec/proto alone (grpc_client.py); the `api` vectors are sent as
their messages; then the gRPC-only cases: signatures, status codes and the error trailer,
malformed messages, the admin token, reflection and health, and the three streams.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from typing import Any

from .client import Reply
from .engine_suite import EngineSuite
from .fake_app import TERMINAL
from .grpc_client import GRPC_STATUS, Caller, NotExpressible, Proto
from .results import ERROR, Result

ENGINE = "/durable.v1.Engine"
ADMIN = "/durable.v1.Admin"


# Scenario groups (engine_scenarios.GROUPS) whose subject is the engine API: its answers,
# receipts and run states, and the admin API. The others are about the engine→app protocol.
API_GROUPS = ("api", "run-keys", "webhooks")


def snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


class GrpcEngineSuite(EngineSuite):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.proto: Proto | None = None
        self.caller: Caller | None = None

    # ---- transport -------------------------------------------------------------------

    def connect(self) -> Caller:
        if self.caller is None:
            assert self.engine is not None
            port = str(self.harness.raw.get("grpcPort", "")).format(**self.engine.values)
            if not port.isdigit():
                raise RuntimeError("the harness names no grpcPort (e.g. \"{grpc_port}\")")
            self.proto = Proto(self.spec.spec_dir)
            self.caller = Caller(self.proto, f"127.0.0.1:{port}")
        return self.caller

    transport = "grpc"

    def api_reply(self, app_id: str, key: str, path: str, payload: Any) -> Reply:
        """The engine API call over its rpc, answered as HTTP would (status of the code,
        JSON body). Raises NotExpressible for a request with no protobuf form."""
        status, answer, _ = self.connect().operation(f"POST {path}", payload, None,
                                                     app_id, key, exact=True)
        return Reply(status, {"content-type": "application/json"},
                     json.dumps(answer).encode())

    def admin_reply(self, method: str, path: str, payload: Any = None) -> Reply:
        """The admin API call over its Admin rpc, path parameters as their fields."""
        caller = self.connect()
        assert self.proto is not None
        for operation in self.proto.operations:
            verb, template = operation.split(" ", 1)
            pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
            found = re.fullmatch(pattern, path)
            if verb == method and found:
                status, answer, _ = caller.operation(
                    operation, payload, [("authorization", f"Bearer {self.admin_token}")],
                    params={snake(k): v for k, v in found.groupdict().items()}, exact=True)
                return Reply(status, {"content-type": "application/json"},
                             json.dumps(answer).encode())
        raise NotExpressible(f"{method} {path} has no rpc")

    def api(self, path: str, payload: Any) -> tuple[int, Any]:
        status, answer, _ = self.connect().operation(f"POST {path}", payload, None,
                                                     self.app_id, self.app.key)
        return status, answer

    def admin(self, operation: str, payload: Any, token: str | None = None
              ) -> tuple[int, Any, str]:
        metadata = [("authorization", f"Bearer {token or self.admin_token}")]
        return self.connect().operation(operation, payload, metadata)

    def register(self) -> Result:
        result = Result("register-and-sync", "engine", ["API-6", "GRPC-1", "GRPC-6"])
        status, created, grpc_status = self.admin("POST /api/apps", {
            "name": "conformance-fake-app-" + secrets.token_hex(4), "environment": "dev",
            "appUrl": self.app.url})
        if status != 200:
            result.fail(["GRPC-1", "GRPC-6"], f"CreateApp answered {grpc_status} {created!r}")
            return result
        self.app_id, self.app.key = created["id"], created["key"]
        status, answer = self.api("/fn/sync", {**self.app.manifest()})
        if status != 200:
            result.fail(["API-6", "GRPC-1"], f"Sync answered {status}: {answer!r}")
        return result

    def scenarios(self) -> list[Result]:
        try:
            self.connect()
        except Exception as error:  # noqa: BLE001 - the column shows why nothing ran
            broken = Result("grpc-client", "engine", ["GRPC-1"], status=ERROR)
            broken.failures.append(f"no gRPC client from spec/proto: {error!r}")
            return [broken]
        results = self.core()
        results.append(self.rotation())
        results.append(self.plain_v1_app())
        for case in (self.same_answers, self.signatures, self.errors_and_malformed,
                     self.admin_auth,
                     self.reflection_and_health, self.exact_numbers, self.watch_run,
                     self.watch_runs, self.ingest):
            try:
                results.append(case())
            except Exception as error:  # noqa: BLE001 - one broken case must not hide others
                broken = Result(case.__name__.replace("_", "-"), "engine", [], status=ERROR)
                broken.failures.append(f"crashed: {error!r}")
                results.append(broken)
        results += self.api_groups()
        results += self.api_vectors()  # last: the sync vectors replace the app's functions
        if self.caller is not None:
            self.caller.close()
        return results

    # ---- engine API scenario groups ----------------------------------------------------

    def api_groups(self) -> list[Result]:
        """The scenario groups whose subject is the engine API, each workspace's calls over
        gRPC (workspace.py through api_reply/admin_reply); the groups about the engine→app
        protocol run in the engine column only."""
        from .engine_scenarios import GROUPS

        results: list[Result] = []
        for name, group in GROUPS:
            if name not in API_GROUPS:
                continue
            self.log(f"engine scenarios over gRPC: {name}")
            try:
                results += group(self)
            except Exception as error:  # noqa: BLE001 - one broken group must not hide others
                broken = Result(f"{name}-group", "engine", [], status=ERROR)
                broken.failures.append(f"the {name} group crashed: {error!r}")
                results.append(broken)
        return results

    # ---- api vectors -----------------------------------------------------------------

    def api_vectors(self) -> list[Result]:
        """spec/vectors/api as messages: an invalid request is INVALID_ARGUMENT with the
        vector's code and path in the trailer ([GRPC-3], [GRPC-5]); one with no exact
        protobuf form is skipped, saying why."""
        caller, proto = self.connect(), self.proto
        assert proto is not None
        results: list[Result] = []
        for case in self.spec.vectors("api"):
            data = case.data
            result = Result(case.id, "api", [*case.requirements, "GRPC-3", "GRPC-5"])
            path = str(data["path"])
            operation = f"POST {path}"
            if "rawBody" in data:
                results.append(result.skip("raw JSON text has no protobuf form"))
                continue
            if operation not in proto.operations:
                results.append(result.skip(f"{operation} has no rpc"))
                continue
            body = data.get("body")
            try:
                message = proto.from_json(body, proto.operations[operation][1]())
                exact = proto.to_json(message) == body
            except NotExpressible as error:
                results.append(result.skip(f"no protobuf form: {error}"))
                continue
            if not exact:
                results.append(result.skip("no exact protobuf form (a required member "
                                           "cannot be left out, or a value changes type)"))
                continue
            metadata = [("authorization", f"Bearer {self.admin_token}")] \
                if path.startswith("/api/") else None
            status, answer, grpc_status = caller.operation(operation, body, metadata,
                                                           self.app_id, self.app.key)
            error = answer.get("error") if isinstance(answer, dict) else None
            if data.get("valid"):
                if status not in (200, 404, 409):
                    result.fail([], f"valid request to {path} answered {grpc_status} {answer!r}")
            elif not isinstance(error, dict) or grpc_status != "INVALID_ARGUMENT":
                result.fail([], f"invalid request to {path} answered {grpc_status} {answer!r},"
                                f" expected INVALID_ARGUMENT {data.get('errorCode')}")
            else:
                if error.get("code") != data.get("errorCode"):
                    result.fail([], f"error code {error.get('code')!r}, expected"
                                    f" {data.get('errorCode')!r}")
                if "errorPath" in data and error.get("path") != data["errorPath"]:
                    result.fail([], f"error path {error.get('path')!r}, expected"
                                    f" {data['errorPath']!r}")
            results.append(result)
        return results

    # ---- gRPC-only cases -------------------------------------------------------------

    def http_api(self, path: str, payload: Any) -> tuple[int, Any]:
        return EngineSuite.api(self, path, payload)

    def same_answers(self) -> Result:
        """[GRPC-1]: each rpc answers what its HTTP operation answers on the same state;
        idempotency keys and event ids are shared by both transports."""
        result = Result("grpc-same-answers-as-http", "engine", ["GRPC-1", "GRPC-2"])
        status, page = self.api("/runs/search", {"limit": 3})
        if status != 200 or not page.get("runs"):
            result.fail(["GRPC-1"], f"SearchRuns answered {status} {page!r}")
            return result
        ended = [r["runId"] for r in page["runs"] if r["status"] in TERMINAL]
        failed = self.http_api("/failures/search", {"limit": 5})[1].get("failures") or []
        reads: list[tuple[str, dict[str, Any]]] = [
            ("/runs/search", {"limit": 2}),
            ("/runs/search", {"functionId": "serial", "limit": 1}),
            ("/runs/search", {"cursor": page.get("nextCursor") or "", "limit": 2}),
            ("/failures/search", {"limit": 5}),
            ("/versions/status", {"functionId": "serial"}),
            ("/versions/status", {"functionId": "conf-no-such-function"}),
            ("/functions/list", {}),
            ("/runs/bulk-cancel", {"functionId": "conf-no-such-function"}),
            ("/failures/retry", {"deliveryId": "conf-no-such-delivery"}),
        ]
        for run_id in ended[:2] + [f["runId"] for f in failed[:1]]:
            reads += [("/runs/get", {"runId": run_id}), ("/runs/history", {"runId": run_id}),
                      ("/runs/cancel", {"runId": run_id})]
        for path, payload in reads:
            over_grpc, over_http = self.api(path, payload), self.http_api(path, payload)
            if over_grpc != over_http:
                result.fail(["GRPC-1"], f"{path} {payload}: gRPC {over_grpc!r} but HTTP "
                                        f"{over_http!r}")
        if ended:
            key = "conf-rerun-" + secrets.token_hex(4)
            request = {"runId": ended[0], "idempotencyKey": key}
            status, first = self.api("/runs/rerun", request)
            again = self.http_api("/runs/rerun", request)
            if status != 200 or again != (200, {**first, "duplicate": True}):
                result.fail(["GRPC-1"], f"a rerun over gRPC ({status} {first!r}) then over "
                                        f"HTTP with its key answered {again!r}")
        event = {"id": "conf-both-" + secrets.token_hex(4), "name": "conf.fake.nothing",
                 "data": {}}
        status, receipt = self.http_api("/e", event)
        twice = self.api("/e", event)
        if status != 200 or twice != (200, {**receipt, "duplicate": True}):
            result.fail(["GRPC-1"], f"an event sent over HTTP then over gRPC: {twice!r}, "
                                    f"expected a duplicate of {receipt!r}")
        return result

    def expect(self, result: Result, ids: list[str], what: str, got: tuple[str, Any],
               code: str, path: str | None = None) -> None:
        status, detail = got
        if status != GRPC_STATUS[code] or not isinstance(detail, dict) or \
                detail.get("code") != code or (path is not None and detail.get("path") != path):
            result.fail(ids, f"{what}: {status} {detail!r}, expected {GRPC_STATUS[code]} "
                             f"{code}" + (f" at {path}" if path else ""))

    def signatures(self) -> Result:
        result = Result("grpc-signatures", "engine", ["GRPC-4", "GRPC-5"])
        caller = self.connect()
        method = f"{ENGINE}/GetRun"
        data = self.message("durable.v1.RunIdRequest", {"runId": "conf-no-run"})
        good = caller.signed(self.app_id, self.app.key, method, data)
        stale = str(int(time.time() * 1000) - 300_001)
        for what, metadata in (
                ("a wrong key", caller.signed(self.app_id, "wrong-key", method, data)),
                ("a stale timestamp", caller.signed(self.app_id, self.app.key, method, data,
                                                    stale)),
                ("another method's signature",
                 caller.signed(self.app_id, self.app.key, f"{ENGINE}/CancelRun", data)),
                ("no signature", good[:2]),
                ("an unknown app", [("x-durable-app", "conf-nobody"), *good[1:]])):
            self.expect(result, ["GRPC-4"], f"GetRun with {what}",
                        caller.raw(method, data, metadata), "INVALID_SIGNATURE")
        self.expect(result, ["GRPC-4"], "GetRun signed right (an unknown run)",
                    caller.raw(method, data, good), "NOT_FOUND")
        return result

    def message(self, name: str, value: dict[str, Any]) -> bytes:
        assert self.proto is not None
        return bytes(self.proto.from_json(value, self.proto.type_of(name)()).SerializeToString())

    def errors_and_malformed(self) -> Result:
        result = Result("grpc-bad-messages", "engine", ["GRPC-3", "GRPC-5"])
        caller = self.connect()
        assert self.proto is not None
        for method, data, code, path in (
                (f"{ENGINE}/SearchRuns", b"\xff\xff\xff", "INVALID_REQUEST", None),
                (f"{ENGINE}/SearchRuns", self.message("durable.v1.SearchRunsRequest",
                                                      {"limit": 5}) + b"\x50\x01",
                 "INVALID_REQUEST", None),
                (f"{ENGINE}/SearchRuns", self.message("durable.v1.SearchRunsRequest",
                                                      {"limit": 0}), "INVALID_REQUEST",
                 "/limit"),
                (f"{ENGINE}/SendEvent", self.bad_json_event(), "INVALID_JSON", "/data"),
                (f"{ENGINE}/SendEvent", self.oversized_event(), "PAYLOAD_TOO_LARGE", None)):
            metadata = caller.signed(self.app_id, self.app.key, method, data)
            self.expect(result, ["GRPC-3", "GRPC-5"], f"{method} with {data[:24]!r}...",
                        caller.raw(method, data, metadata), code, path)
        return result

    def bad_json_event(self) -> bytes:
        assert self.proto is not None
        event = self.proto.type_of("durable.v1.EventInput")(name="conf.fake.nothing")
        event.data.text = '{"unfinished": '
        return bytes(event.SerializeToString())

    def oversized_event(self) -> bytes:
        assert self.proto is not None
        event = self.proto.type_of("durable.v1.EventInput")(name="conf.fake.nothing")
        event.data.text = json.dumps("x" * 1_100_000)
        return bytes(event.SerializeToString())

    def admin_auth(self) -> Result:
        result = Result("grpc-admin-token", "engine", ["GRPC-6", "ADMIN-1", "ADMIN-3"])
        caller = self.connect()
        method = f"{ADMIN}/ListApps"
        for what, metadata in (("no token", []),
                               ("a wrong token", [("authorization", "Bearer wrong")])):
            self.expect(result, ["GRPC-6"], f"ListApps with {what}",
                        caller.raw(method, b"", metadata), "UNAUTHORIZED")
        status, answer = caller.raw(method, b"", [("authorization",
                                                   f"Bearer {self.admin_token}")])
        if status != "OK":
            result.fail(["GRPC-6"], f"ListApps with the token: {status} {answer!r}")
        elif self.app.key.encode() in answer:
            result.fail(["ADMIN-3"], "ListApps returns a key")
        return result

    def reflection_and_health(self) -> Result:
        result = Result("grpc-reflection-and-health", "engine", ["GRPC-1"])
        caller = self.connect()
        from google.protobuf import descriptor_pb2  # noqa: F401 - registers descriptor types
        from grpc_health.v1 import health_pb2
        from grpc_reflection.v1alpha import reflection_pb2

        status, answer = caller.raw("/grpc.health.v1.Health/Check",
                                    health_pb2.HealthCheckRequest().SerializeToString(), [])
        if status != "OK" or health_pb2.HealthCheckResponse.FromString(answer).status != \
                health_pb2.HealthCheckResponse.SERVING:
            result.fail(["GRPC-1"], f"health Check answered {status}")
        stream = caller.channel.stream_stream(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")(iter([
                reflection_pb2.ServerReflectionRequest(list_services="").SerializeToString()]),
                timeout=10)
        names = {s.name for s in reflection_pb2.ServerReflectionResponse.FromString(
            next(iter(stream))).list_services_response.service}
        for wanted in ("durable.v1.Engine", "durable.v1.Admin"):
            if wanted not in names:
                result.fail(["GRPC-1"], f"reflection does not list {wanted}: {sorted(names)}")
        for service in caller.proto.services:  # every rpc is served (none UNIMPLEMENTED)
            for method in service.methods:
                if method.client_streaming or method.server_streaming:
                    continue
                name = f"/{service.full_name}/{method.name}"
                status, _ = caller.raw(name, b"\xff", [])
                if status == "UNIMPLEMENTED":
                    result.fail(["GRPC-1"], f"{name} is not served")
        return result

    def exact_numbers(self) -> Result:
        """[GRPC-2]: JSON numbers keep every digit through a Json field, both ways."""
        result = Result("grpc-exact-numbers", "engine", ["GRPC-2", "EVT-2"])
        event_id = "conf-numbers-" + secrets.token_hex(4)
        data = {"big": 2**64 + 3, "small": -(2**63) - 5, "ratio": 0.1,
                "deep": [[{"n": 10**30}]], "null": None}
        status, receipt = self.api("/e", {"id": event_id, "name": "conf.fake.serial",
                                          "data": data})
        if status != 200 or not receipt.get("runIds"):
            result.fail(["GRPC-2"], f"SendEvent answered {status} {receipt!r}")
            return result
        status, run = self.api("/runs/get", {"runId": receipt["runIds"][0]})
        if status != 200 or run.get("event", {}).get("data") != data:
            result.fail(["GRPC-2"], f"GetRun gives the event data {run.get('event')!r}, "
                                    f"sent {data!r}")
        status, page = self.api("/runs/search", {"limit": 100})
        if status != 200 or "nextCursor" not in page:
            result.fail(["GRPC-2"], f"SearchRuns answered {status} {page!r} (nextCursor is "
                                    "required: null on the last page)")
        return result

    def watch_run(self) -> Result:
        """[GRPC-8]: WatchRun sends statuses until the end, then the run with its output."""
        result = Result("grpc-watch-run", "engine", ["GRPC-8", "GRPC-2"])
        caller = self.connect()
        assert self.proto is not None
        event_id, problem = self.send("sleeper")
        if problem:
            result.fail(["GRPC-8"], problem)
            return result
        run_id = None
        deadline = time.monotonic() + 30
        while run_id is None and time.monotonic() < deadline:
            invokes = [i for i in self.app.invokes("sleeper")
                       if i.json().get("event", {}).get("id") == event_id]
            run_id = invokes[0].json().get("runId") if invokes else None
            time.sleep(0.1)
        if run_id is None:
            result.fail(["GRPC-8"], "the sleeper run never reached the app")
            return result
        method = f"{ENGINE}/WatchRun"
        data = self.message("durable.v1.RunIdRequest", {"runId": run_id})
        change_type = self.proto.type_of("durable.v1.RunChange")
        changes = [self.proto.to_json(change_type.FromString(raw)) for raw in
                   caller.channel.unary_stream(method)(
                       data, metadata=caller.signed(self.app_id, self.app.key, method, data),
                       timeout=60)]
        statuses = [c.get("status") for c in changes]
        if not changes or statuses[-1] not in TERMINAL:
            result.fail(["GRPC-8"], f"WatchRun ended without a terminal status: {statuses}")
        elif any(s in TERMINAL for s in statuses[:-1]):
            result.fail(["GRPC-8"], f"WatchRun went on after a terminal status: {statuses}")
        elif changes[-1].get("run", {}).get("output") != "slept":
            result.fail(["GRPC-8", "GRPC-2"], f"the last change carries no run with the output "
                                              f"'slept': {changes[-1]!r}")
        missing = caller.raw(method, self.message("durable.v1.RunIdRequest",
                                                  {"runId": "conf-no-run"}), [])
        if missing[0] != "UNAUTHENTICATED":
            result.fail(["GRPC-4"], f"an unsigned WatchRun answered {missing[0]}")
        stream = caller.channel.unary_stream(method)
        unknown = self.message("durable.v1.RunIdRequest", {"runId": "conf-no-run"})
        try:
            list(stream(unknown, metadata=caller.signed(self.app_id, self.app.key, method,
                                                        unknown), timeout=10))
            result.fail(["GRPC-8"], "WatchRun of an unknown run ended OK")
        except caller.grpc.RpcError as error:
            if error.code().name != "NOT_FOUND":
                result.fail(["GRPC-8"], f"WatchRun of an unknown run: {error.code().name}")
        return result

    def watch_runs(self) -> Result:
        """[GRPC-9]: WatchRuns sees the status changes of a run started after it opened."""
        result = Result("grpc-watch-runs", "engine", ["GRPC-9"])
        caller = self.connect()
        assert self.proto is not None
        method = f"{ENGINE}/WatchRuns"
        data = self.message("durable.v1.WatchRunsRequest", {"functionId": "serial"})
        stream = caller.channel.unary_stream(method)(
            data, metadata=caller.signed(self.app_id, self.app.key, method, data), timeout=60)
        proto = self.proto
        change_type = proto.type_of("durable.v1.RunChange")
        seen: list[dict[str, Any]] = []
        done = threading.Event()

        def read() -> None:
            try:
                for raw in stream:
                    seen.append(proto.to_json(change_type.FromString(raw)))
                    if seen[-1].get("status") in TERMINAL:
                        break
            except caller.grpc.RpcError:
                pass
            done.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        time.sleep(1.0)  # the watch is open before the event is sent
        self.send("serial")
        self.send("flaky")  # another function's run: filtered out
        done.wait(45)
        stream.cancel()
        functions = {c.get("functionId") for c in seen if not c.get("resync")}
        statuses = [c.get("status") for c in seen]
        if "completed" not in statuses:
            result.fail(["GRPC-9"], f"WatchRuns did not see the serial run complete: {seen}")
        if functions - {"serial"}:
            result.fail(["GRPC-9"], f"WatchRuns(functionId serial) sent {functions}")
        return result

    def ingest(self) -> Result:
        """[GRPC-7]: a receipt or an error per item, in order; one bad event among good ones
        refuses only itself."""
        result = Result("grpc-ingest", "engine", ["GRPC-7", "GRPC-4", "EVT-4"])
        caller = self.connect()
        assert self.proto is not None
        method = f"{ENGINE}/IngestEvents"
        item_type = self.proto.type_of("durable.v1.IngestEventRequest")
        receipt_type = self.proto.type_of("durable.v1.IngestReceipt")
        ids = [f"conf-ingest-{secrets.token_hex(4)}" for _ in range(4)]
        events = [{"id": i, "name": "conf.fake.nothing", "data": {"n": n}}
                  for n, i in enumerate(ids)]
        events[1] = {"id": ids[1], "name": "durable/reserved", "data": {}}
        events.append(events[0])  # the same id again: a duplicate receipt

        def items() -> Any:
            for event in events:
                data = self.message("durable.v1.EventInput", event)
                stamp = str(int(time.time() * 1000))
                yield item_type(event=data, timestamp=stamp, signature=caller.signed(
                    self.app_id, self.app.key, method, data, stamp)[2][1]).SerializeToString()

        answers: list[dict[str, Any]] = []
        try:
            for raw in caller.channel.stream_stream(method)(
                    items(), metadata=caller.signed(self.app_id, self.app.key, method, b""),
                    timeout=60):
                answers.append(self.proto.to_json(receipt_type.FromString(raw)))
        except caller.grpc.RpcError as error:
            result.fail(["GRPC-7"], f"the stream ended with {error.code().name} after "
                                    f"{len(answers)} answers: one refused event must not "
                                    "refuse the others")
            return result
        if [a.get("index") for a in answers] != list(range(len(events))):
            result.fail(["GRPC-7"], f"indexes {[a.get('index') for a in answers]}, expected "
                                    f"0..{len(events) - 1}")
            return result
        error = answers[1].get("error") or {}
        if error.get("code") != "INVALID_REQUEST" or error.get("path") != "/name":
            result.fail(["GRPC-7"], f"the reserved name got {answers[1]!r}, expected the "
                                    "INVALID_REQUEST error at /name of POST /e")
        for n in (0, 2, 3):
            receipt = answers[n].get("receipt") or {}
            if receipt.get("id") != ids[n] or receipt.get("duplicate") is not False:
                result.fail(["GRPC-7"], f"item {n}: {answers[n]!r}, expected its receipt")
        if (answers[4].get("receipt") or {}).get("duplicate") is not True:
            result.fail(["EVT-4"], f"a resent id: {answers[4]!r}, expected duplicate true")
        forged = item_type(event=self.message("durable.v1.EventInput", events[0]),
                           timestamp=str(int(time.time() * 1000)), signature="0" * 64)
        try:
            list(caller.channel.stream_stream(method)(
                iter([forged.SerializeToString()]),
                metadata=caller.signed(self.app_id, self.app.key, method, b""), timeout=30))
            result.fail(["GRPC-4"], "an item with a forged signature was accepted")
        except caller.grpc.RpcError as failure:
            if failure.code().name != "UNAUTHENTICATED":
                result.fail(["GRPC-4"], f"a forged item ended the stream with "
                                        f"{failure.code().name}")
        return result
