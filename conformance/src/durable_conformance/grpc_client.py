"""A gRPC client of the engine made from spec/proto alone: the .proto files are compiled
with grpcio-tools when the suite starts (no generated code of any implementation is used),
and JSON <-> protobuf follows [GRPC-2] as written, independently of the engine's and the
SDK's conversion code.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import signing

JSON_MESSAGE = "durable.v1.Json"
# spec/registry.json httpStatus of each API code, so results read like the HTTP suite's.
HTTP_STATUS = {
    "INVALID_SIGNATURE": 401, "UNAUTHORIZED": 401, "FORBIDDEN": 403, "INVALID_JSON": 400,
    "INVALID_REQUEST": 400, "NOT_FOUND": 404, "UNKNOWN_FUNCTION": 404,
    "METHOD_NOT_ALLOWED": 405, "CONFLICT": 409, "PAYLOAD_TOO_LARGE": 413, "INTERNAL": 500,
}
# [GRPC-5]
GRPC_STATUS = {
    "INVALID_JSON": "INVALID_ARGUMENT", "INVALID_REQUEST": "INVALID_ARGUMENT",
    "INVALID_SIGNATURE": "UNAUTHENTICATED", "UNAUTHORIZED": "UNAUTHENTICATED",
    "FORBIDDEN": "PERMISSION_DENIED", "NOT_FOUND": "NOT_FOUND", "UNKNOWN_FUNCTION": "NOT_FOUND",
    "CONFLICT": "FAILED_PRECONDITION", "PAYLOAD_TOO_LARGE": "RESOURCE_EXHAUSTED",
    "METHOD_NOT_ALLOWED": "UNIMPLEMENTED", "INTERNAL": "INTERNAL",
}


class NotExpressible(ValueError):
    """A JSON request that has no protobuf form (a member of the wrong type, an unknown
    member): a gRPC client cannot send it."""


def compile_protos(spec_dir: Path) -> dict[str, Any]:
    """Compile spec/proto into a throwaway package; module name -> module."""
    from grpc_tools import protoc

    proto = spec_dir / "proto"
    out = Path(tempfile.mkdtemp(prefix="durable-conf-proto-"))
    package = out / "durable_conformance_proto"
    include = str(Path(protoc.__file__).parent / "_proto")
    files = sorted(str(p.relative_to(proto)) for p in proto.rglob("*.proto"))
    code = protoc.main(["protoc", f"-I{proto}", f"-I{include}", f"--python_out={out}", *files])
    if code != 0:
        raise RuntimeError(f"protoc failed on spec/proto ({code})")
    package.mkdir()
    (package / "__init__.py").write_text("")
    for path in (out / "durable" / "v1").glob("*_pb2.py"):
        text = re.sub(r"^from durable\.v1 import ", "from . import ", path.read_text(),
                      flags=re.M)
        (package / path.name).write_text(text)
    sys.path.insert(0, str(out))
    return {p.stem: importlib.import_module(f"durable_conformance_proto.{p.stem}")
            for p in package.glob("*_pb2.py")}


class Proto:
    """The compiled contract: rpcs by HTTP operation, and [GRPC-2] conversion."""

    def __init__(self, spec_dir: Path) -> None:
        from google.protobuf import message_factory

        self.modules = compile_protos(spec_dir)
        self.options = self.modules["options_pb2"]
        self.operations: dict[str, tuple[str, Any, Any]] = {}
        self.services: list[Any] = []
        for module in self.modules.values():
            for service in module.DESCRIPTOR.services_by_name.values():
                self.services.append(service)
                for method in service.methods:
                    http = method.GetOptions().Extensions[self.options.http]
                    if http:
                        self.operations[http] = (
                            f"/{service.full_name}/{method.name}",
                            message_factory.GetMessageClass(method.input_type),
                            message_factory.GetMessageClass(method.output_type))
        self.message = message_factory.GetMessageClass

    def flag(self, field: Any, name: str) -> bool:
        return bool(field.GetOptions().Extensions[getattr(self.options, name)])

    def type_of(self, full_name: str) -> Any:
        for module in self.modules.values():
            pool = module.DESCRIPTOR.pool
            try:
                return self.message(pool.FindMessageTypeByName(full_name))
            except KeyError:
                continue
        raise KeyError(full_name)

    # ---- JSON -> message ---------------------------------------------------------------

    def from_json(self, value: Any, message: Any) -> Any:
        if not isinstance(value, dict):
            raise NotExpressible("not an object")
        fields = {f.json_name: f for f in message.DESCRIPTOR.fields
                  if not self.flag(f, "path_param")}
        for key, item in value.items():
            field = fields.get(key)
            if field is None:
                raise NotExpressible(f"member {key!r} has no field")
            kind = field.message_type
            is_json = kind is not None and kind.full_name == JSON_MESSAGE
            if item is None and not is_json:
                continue
            target = getattr(message, field.name)
            if kind is not None and kind.GetOptions().map_entry:
                if not isinstance(item, dict):
                    raise NotExpressible(f"{key} is not an object")
                for name, inner in item.items():
                    target[name] = self.scalar(kind.fields_by_name["value"], inner)
            elif field.is_repeated:
                items = [item] if isinstance(item, dict) else item
                if not isinstance(items, list):
                    raise NotExpressible(f"{key} is not an array")
                for inner in items:
                    if kind is not None:
                        self.from_json(inner, target.add())
                    else:
                        target.append(self.scalar(field, inner))
            elif is_json:
                target.text = json.dumps(item, separators=(",", ":"), ensure_ascii=False)
            elif kind is not None:
                self.from_json(item, target)
            else:
                setattr(message, field.name, self.scalar(field, item))
        return message

    def scalar(self, field: Any, value: Any) -> Any:
        wanted = {9: str, 8: bool, 1: float, 3: int}.get(field.type)
        if wanted is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if wanted is None or not isinstance(value, wanted) or \
                (wanted is int and isinstance(value, bool)):
            raise NotExpressible(f"{value!r} is not a {field.name} value")
        if wanted is int and not -(2**63) <= value < 2**63:
            raise NotExpressible(f"{value} is outside int64")
        return value

    # ---- message -> JSON ---------------------------------------------------------------

    def to_json(self, message: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for field in message.DESCRIPTOR.fields:
            if self.flag(field, "path_param"):
                continue
            value = getattr(message, field.name)
            kind = field.message_type
            if kind is not None and kind.GetOptions().map_entry:
                if value or self.flag(field, "required"):
                    out[field.json_name] = dict(value)
            elif field.is_repeated:
                if value or self.flag(field, "required"):
                    out[field.json_name] = [self.value(field, v) for v in value]
            elif field.has_presence:
                if message.HasField(field.name):
                    out[field.json_name] = self.value(field, value)
                elif self.flag(field, "nullable"):
                    out[field.json_name] = None
            else:
                out[field.json_name] = value
        return out

    def value(self, field: Any, value: Any) -> Any:
        kind = field.message_type
        if kind is None:
            return int(value) if field.type == 1 and float(value).is_integer() else value
        if kind.full_name == JSON_MESSAGE:
            return json.loads(value.text)
        return self.to_json(value)


class Caller:
    """Signed calls ([GRPC-4]) to one engine over one channel."""

    def __init__(self, proto: Proto, target: str) -> None:
        import grpc

        self.grpc = grpc
        self.proto = proto
        self.channel = grpc.insecure_channel(target)

    def close(self) -> None:
        self.channel.close()

    @staticmethod
    def signed(app_id: str, key: str, method: str, payload: bytes,
               timestamp: str | None = None) -> list[tuple[str, str]]:
        stamp = timestamp or str(int(time.time() * 1000))
        return [("x-durable-app", app_id), ("x-durable-timestamp", stamp),
                ("x-durable-signature",
                 signing.mac(key, f"{stamp}.{method}.".encode() + payload))]

    def raw(self, method: str, payload: bytes, metadata: list[tuple[str, str]],
            timeout: float = 30.0) -> tuple[str, Any]:
        """("OK", answer bytes) or (status name, {"code", "message", "path"?} | None)."""
        try:
            answer = self.channel.unary_unary(method)(payload, metadata=metadata,
                                                      timeout=timeout)
        except self.grpc.RpcError as error:
            return error.code().name, self.detail(error)
        return "OK", answer

    def detail(self, error: Any) -> dict[str, Any] | None:
        for key, value in error.trailing_metadata() or ():
            if key == "durable-error-bin":
                message = self.proto.type_of("durable.v1.ApiError").FromString(value)
                return self.proto.to_json(message)
        return None

    def operation(self, operation: str, payload: Any, metadata: list[tuple[str, str]] | None,
                  app_id: str = "", key: str = "", params: dict[str, str] | None = None,
                  exact: bool = False) -> tuple[int, Any, str]:
        """An HTTP operation's JSON request over its rpc (`params`: the path parameters'
        fields): (HTTP status of the outcome, JSON answer or error body, gRPC status name).
        Raises NotExpressible; with `exact` also when the message reads back as another
        JSON request (a required member left out, an empty list dropped)."""
        method, request_class, answer_class = self.proto.operations[operation]
        payload = {} if payload is None else payload
        message = self.proto.from_json(payload, request_class())
        for name, value in (params or {}).items():
            setattr(message, name, value)
        if exact:
            fields = message.DESCRIPTOR.fields_by_name
            back = {k: v for k, v in self.proto.to_json(message).items()
                    if k not in {fields[name].json_name for name in params or {}}}
            if back != payload:
                raise NotExpressible(f"no exact protobuf form: it reads back as {back}"[:160])
        data = message.SerializeToString()
        if metadata is None:
            metadata = self.signed(app_id, key, method, data)
        status, answer = self.raw(method, data, metadata)
        if status == "OK":
            return 200, self.proto.to_json(answer_class.FromString(answer)), status
        if answer is None:
            return 0, {"error": {"code": None, "message": f"{status} without the "
                                 "durable-error-bin trailer"}}, status
        return HTTP_STATUS.get(answer["code"], 0), {"error": answer}, status
