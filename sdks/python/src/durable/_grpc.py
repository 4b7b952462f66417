"""The engine API over gRPC (spec §18): what `Client("grpc://host:3031", ...)` uses.

Needs the `grpc` extra (`pip install durable[grpc]`: grpcio and protobuf); the default
install never imports this module. Each call is the JSON request of the HTTP path turned
into its protobuf message ([GRPC-2], `_pb/convert.py`), signed over the method and the
exact request bytes ([GRPC-4]); the answer message is turned back into the same JSON
object the HTTP API answers, and a refusal into the same DurableError (code, path, and
the HTTP status of the code).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

import grpc  # type: ignore[import-untyped]

from ._pb import admin_pb2, convert, engine_messages_pb2, engine_pb2, options_pb2
from .errors import DurableError
from .signing import sign

ENGINE = engine_pb2.DESCRIPTOR.services_by_name["Engine"]
ADMIN = admin_pb2.DESCRIPTOR.services_by_name["Admin"]
ERROR_TRAILER = "durable-error-bin"
# spec/registry.json httpStatus of each API code: DurableError.status as over HTTP.
HTTP_STATUS = {
    "INVALID_SIGNATURE": 401, "UNAUTHORIZED": 401, "FORBIDDEN": 403, "INVALID_JSON": 400,
    "INVALID_REQUEST": 400, "NOT_FOUND": 404, "UNKNOWN_FUNCTION": 404,
    "METHOD_NOT_ALLOWED": 405, "CONFLICT": 409, "PAYLOAD_TOO_LARGE": 413, "INTERNAL": 500,
}
RETRYABLE = ("UNAVAILABLE", "DEADLINE_EXCEEDED", "INTERNAL", "UNKNOWN")


def target_of(url: str) -> str:
    """`grpc://host:port` -> `host:port`."""
    rest = url.split("://", 1)[1] if "://" in url else url
    return rest.split("/", 1)[0]


def _methods(service: Any) -> dict[str, tuple[str, Any, Any]]:
    """HTTP path of each rpc -> (full method name, request class, answer class)."""
    from google.protobuf import message_factory

    found = {}
    for method in service.methods:
        http = str(method.GetOptions().Extensions[options_pb2.http])
        if http:
            found[http.split(" ", 1)[1]] = (
                f"/{service.full_name}/{method.name}",
                message_factory.GetMessageClass(method.input_type),
                message_factory.GetMessageClass(method.output_type))
    return found


def rpc_error(what: str, error: Any) -> DurableError:
    """A DurableError carrying the API error of the `durable-error-bin` trailer."""
    detail = None
    for key, value in error.trailing_metadata() or ():
        if key == ERROR_TRAILER and isinstance(value, bytes):
            try:
                detail = engine_messages_pb2.ApiError.FromString(value)
            except Exception:  # noqa: BLE001 - a garbled trailer: the status still says enough
                detail = None
    status = error.code()
    message = detail.message if detail is not None else error.details()
    failure = DurableError(f"durable {what} failed: {status.name} {message}")
    if detail is not None:
        failure.code = detail.code
        failure.path = detail.path if detail.HasField("path") else None
        failure.status = HTTP_STATUS.get(detail.code)
    return failure


def call_signature(key: bytes, timestamp: str, method: str, payload: bytes) -> str:
    """[GRPC-4]: the MAC over `timestamp.method.` and the exact request (or event) bytes."""
    return sign(key, f"{timestamp}.{method}.".encode() + payload)


class GrpcTransport:
    def __init__(self, url: str, app_id: str, signing_key: bytes, *, timeout: float,
                 max_request_bytes: int, max_response_bytes: int) -> None:
        self.target = target_of(url)
        self.app_id = app_id
        self.signing_key = signing_key
        self.timeout = timeout
        self.max_request_bytes = max_request_bytes
        self.channel = grpc.insecure_channel(self.target, options=[
            ("grpc.max_receive_message_length", max_response_bytes),
            ("grpc.max_send_message_length", max(max_request_bytes, 4 * 1_048_576))])
        self.methods = _methods(ENGINE)

    def close(self) -> None:
        self.channel.close()

    def metadata(self, method: str, payload: bytes, timestamp: str | None = None
                 ) -> list[tuple[str, str]]:
        """[GRPC-4] call metadata; `timestamp` defaults to now in unix milliseconds."""
        stamp = timestamp if timestamp is not None else str(int(time.time() * 1000))
        return [("x-durable-app", self.app_id), ("x-durable-timestamp", stamp),
                ("x-durable-signature", call_signature(self.signing_key, stamp, method, payload))]

    def request(self, path: str, payload: Any) -> tuple[str, bytes, Any]:
        method, request_class, answer_class = self.methods[path]
        try:
            data = convert.from_json(payload, request_class()).SerializeToString()
        except convert.Mismatch as error:
            failure = DurableError(f"durable {path} request: {error}")
            failure.code, failure.path = error.code, error.path
            raise failure from error
        if len(data) > self.max_request_bytes:
            raise DurableError(f"durable {path} request exceeds {self.max_request_bytes} bytes")
        return method, data, answer_class

    def call(self, path: str, payload: Any, retries: int = 0) -> dict[str, Any]:
        """The JSON answer of the HTTP path `path` to `payload`, over gRPC."""
        method, data, answer_class = self.request(path, payload)
        stub = self.channel.unary_unary(method)
        for attempt in range(retries + 1):
            try:
                answer = stub(data, metadata=self.metadata(method, data), timeout=self.timeout)
            except grpc.RpcError as error:
                if error.code().name not in RETRYABLE or attempt == retries:
                    raise rpc_error(path, error) from None
                time.sleep(min(2.0, 0.1 * (2**attempt)))
                continue
            return convert.to_json(answer_class.FromString(answer))
        raise AssertionError("unreachable")

    def watch_run(self, run_id: str) -> Iterator[dict[str, Any]]:
        """[GRPC-8]: the run's status changes until it ends; the last one carries `run`."""
        method = f"/{ENGINE.full_name}/WatchRun"
        data = convert.from_json({"runId": run_id}, engine_messages_pb2.RunIdRequest()
                                 ).SerializeToString()
        stream = self.channel.unary_stream(method)(data, metadata=self.metadata(method, data))
        try:
            for raw in stream:
                yield convert.to_json(engine_pb2.RunChange.FromString(raw))
        except grpc.RpcError as error:
            raise rpc_error("WatchRun", error) from None
        finally:
            stream.cancel()

    def watch_runs(self, function_id: str | None = None) -> Iterator[dict[str, Any]]:
        """[GRPC-9]: the workspace's run changes (`resync: true` when some were lost)."""
        method = f"/{ENGINE.full_name}/WatchRuns"
        request = engine_pb2.WatchRunsRequest()
        if function_id is not None:
            request.function_id = function_id
        data = request.SerializeToString()
        stream = self.channel.unary_stream(method)(data, metadata=self.metadata(method, data))
        try:
            for raw in stream:
                yield convert.to_json(engine_pb2.RunChange.FromString(raw))
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.CANCELLED:
                raise rpc_error("WatchRuns", error) from None
        finally:
            stream.cancel()

    def ingest(self, events: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """[GRPC-7]: stream events; yields `{"index", "receipt"}` or `{"index", "error"}`
        per event, in order."""
        method = f"/{ENGINE.full_name}/IngestEvents"

        def items() -> Iterator[bytes]:
            for event in events:
                data = convert.from_json(event, engine_messages_pb2.EventInput()
                                         ).SerializeToString()
                timestamp = str(int(time.time() * 1000))
                yield engine_pb2.IngestEventRequest(
                    event=data, timestamp=timestamp,
                    signature=call_signature(self.signing_key, timestamp, method, data)
                ).SerializeToString()

        stream = self.channel.stream_stream(method)(items(), metadata=self.metadata(method, b""))
        try:
            for raw in stream:
                yield convert.to_json(engine_pb2.IngestReceipt.FromString(raw))
        except grpc.RpcError as error:
            raise rpc_error("IngestEvents", error) from None


def provision(url: str, name: str, app_url: str, environment: str, admin_token: str | None,
              timeout: float) -> dict[str, Any]:
    """Admin CreateApp over gRPC ([GRPC-6])."""
    method = f"/{ADMIN.full_name}/CreateApp"
    data = admin_pb2.CreateAppRequest(name=name, environment=environment, app_url=app_url
                                      ).SerializeToString()
    metadata = [("authorization", f"Bearer {admin_token}")] if admin_token else []
    with grpc.insecure_channel(target_of(url)) as channel:
        try:
            answer = channel.unary_unary(method)(data, metadata=metadata, timeout=timeout)
        except grpc.RpcError as error:
            raise rpc_error("/api/apps", error) from None
    return convert.to_json(admin_pb2.CreateAppAnswer.FromString(answer))
