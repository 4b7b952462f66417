"""Malformed and oversize protobuf to every gRPC method of the engine ([GRPC-3], [GRPC-5]).

Seeded and bounded: for each rpc of durable.v1.Engine and durable.v1.Admin, random bytes,
truncated and bit-flipped valid messages, unknown fields, messages with random field
values (extreme integers, odd strings, Json text that is not JSON or nests too deep, NUL),
an over-limit message and one over gRPC's own limit; each signed right (so it reaches the
handler) or sent with admin metadata. Streams get the same as their request or items.
Passes when no call ends INTERNAL or UNKNOWN, every refusal carries the durable-error-bin
trailer, and the engine still answers its health check.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import grpc
from durable_engine.pb import admin_pb2, engine_pb2
from google.protobuf import message_factory
from google.protobuf.descriptor import FieldDescriptor

from .signing import sign

BAD = ("INTERNAL", "UNKNOWN")
INTS = (0, 1, -1, 2**31, -(2**31) - 1, 2**53 + 1, 2**63 - 1, -(2**63))
STRINGS = ("", "x", "\x00", "é" * 3, "a" * 5000, "../../etc", "durable/x", "2026-13-45T99:00",
           "conf.fake.serial", "queued", "run_" + "9" * 40, "@", " ")
JSON_TEXTS = ("", "{", "[" * 100_000, "null", "1e999999", "NaN", '"\\u0000"', '{"a":' * 50 + "1",
              '{"big": 123456789012345678901234567890}', "\ufeff{}", '{"a":1}{"b":2}')


def values(field: Any, rng: random.Random, depth: int) -> Any:
    kind = field.message_type
    if kind is not None:
        return None  # filled by fill()
    if field.type == FieldDescriptor.TYPE_STRING:
        return rng.choice(STRINGS)
    if field.type == FieldDescriptor.TYPE_BOOL:
        return rng.random() < 0.5
    if field.type == FieldDescriptor.TYPE_DOUBLE:
        return rng.choice((0.0, -1.0, 1e308, float("inf"), float("nan"), 0.1))
    if field.type == FieldDescriptor.TYPE_BYTES:
        return rng.randbytes(rng.randint(0, 64))
    return rng.choice(INTS)


def fill(message: Any, rng: random.Random, depth: int = 0) -> Any:
    """Random values in random fields of `message` (nested messages up to depth 3)."""
    for field in message.DESCRIPTOR.fields:
        if rng.random() < 0.4:
            continue
        kind = field.message_type
        if kind is not None and kind.full_name == "durable.v1.Json":
            target = getattr(message, field.name)
            text = rng.choice(JSON_TEXTS)
            if field.is_repeated:
                target.add().text = text
            else:
                target.text = text
        elif kind is not None and kind.GetOptions().map_entry:
            # a value of the map's value type (string maps: cancelOn match, webhook headers)
            getattr(message, field.name)[rng.choice(STRINGS)] = values(
                kind.fields_by_name["value"], rng, depth)
        elif kind is not None:
            if depth < 3:
                if field.is_repeated:
                    for _ in range(rng.randint(0, 3)):
                        fill(getattr(message, field.name).add(), rng, depth + 1)
                else:
                    fill(getattr(message, field.name), rng, depth + 1)
        elif field.is_repeated:
            for _ in range(rng.randint(0, 120)):
                getattr(message, field.name).append(values(field, rng, depth))
        else:
            value = values(field, rng, depth)
            try:
                setattr(message, field.name, value)
            except (ValueError, TypeError):
                pass
    return message


def payloads(request_class: Any, rng: random.Random, count: int) -> Iterator[bytes]:
    valid = fill(request_class(), rng).SerializeToString()
    yield b""
    yield valid
    yield valid + b"\x50\x01"  # an unknown field
    yield valid[: max(1, len(valid) // 2)]  # truncated
    yield b"\x0a" + b"\xff" * 10  # a length beyond the message
    yield b"\x0a\x80\x80\x80\x80\x10"
    yield b"x" * 1_200_000  # over apiRequestBytes
    yield b"\x0a" + b"\x80" * 9 + b"\x01" + b"y" * 5_000_000  # over gRPC's own limit
    for _ in range(count):
        choice = rng.random()
        if choice < 0.3:
            yield rng.randbytes(rng.randint(1, 300))
        elif choice < 0.5 and valid:
            flipped = bytearray(valid)
            for _ in range(rng.randint(1, 4)):
                flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
            yield bytes(flipped)
        else:
            yield fill(request_class(), rng).SerializeToString()


class GrpcFuzz:
    def __init__(self, target: str, app_id: str, key: str, admin_token: str,
                 say: Any, examples: int, seed: int) -> None:
        self.channel = grpc.insecure_channel(target, options=[
            ("grpc.max_send_message_length", 16 * 1_048_576)])
        self.app_id, self.key, self.admin_token = app_id, key, admin_token
        self.say = say
        self.examples = examples
        self.rng = random.Random(seed)
        self.findings: list[str] = []
        self.calls = 0
        self.statuses: dict[str, int] = {}

    def metadata(self, method: str, payload: bytes, admin: bool) -> list[tuple[str, str]]:
        if admin:
            return [("authorization", f"Bearer {self.admin_token}")]
        stamp = str(int(time.time() * 1000))
        return [("x-durable-app", self.app_id), ("x-durable-timestamp", stamp),
                ("x-durable-signature", sign(self.key, f"{stamp}.{method}.".encode() + payload))]

    def judge(self, method: str, payload: bytes, error: Any) -> None:
        self.calls += 1
        name = "OK" if error is None else error.code().name
        self.statuses[name] = self.statuses.get(name, 0) + 1
        if name in BAD:
            self.findings.append(f"{method} answered {name} to {payload[:40]!r}...: "
                                 f"{error.details()}")
        elif error is not None and name not in ("RESOURCE_EXHAUSTED", "CANCELLED",
                                                "DEADLINE_EXCEEDED"):
            trailer = dict(error.trailing_metadata() or ()).get("durable-error-bin")
            if trailer is None:
                self.findings.append(f"{method} refused {payload[:40]!r}... with {name} "
                                     "but no durable-error-bin trailer")

    def run(self) -> list[str]:
        for service, admin in ((engine_pb2.DESCRIPTOR.services_by_name["Engine"], False),
                               (admin_pb2.DESCRIPTOR.services_by_name["Admin"], True)):
            for method in service.methods:
                name = f"/{service.full_name}/{method.name}"
                request_class = message_factory.GetMessageClass(method.input_type)
                for payload in payloads(request_class, self.rng, self.examples):
                    self.one(name, method, payload, admin)
        self.say(f"grpc: {self.calls} calls, statuses {dict(sorted(self.statuses.items()))}")
        return self.findings

    def one(self, name: str, method: Any, payload: bytes, admin: bool) -> None:
        if method.client_streaming:
            item = engine_pb2.IngestEventRequest(event=payload[:2_000_000],
                                                 timestamp=str(int(time.time() * 1000)))
            item.signature = sign(self.key, f"{item.timestamp}.{name}.".encode() + item.event)
            items = [item.SerializeToString(), payload[:2_000_000]]
            call = self.channel.stream_stream(name)(iter(items),
                                                    metadata=self.metadata(name, b"", admin),
                                                    timeout=10)
            self.consume(name, payload, call)
        elif method.server_streaming:
            call = self.channel.unary_stream(name)(payload, timeout=0.3,
                                                   metadata=self.metadata(name, payload, admin))
            self.consume(name, payload, call)
        else:
            try:
                self.channel.unary_unary(name)(payload, timeout=10,
                                               metadata=self.metadata(name, payload, admin))
                self.judge(name, payload, None)
            except grpc.RpcError as error:
                self.judge(name, payload, error)

    def consume(self, name: str, payload: bytes, call: Any) -> None:
        try:
            for _ in call:
                pass
            self.judge(name, payload, None)
        except grpc.RpcError as error:
            self.judge(name, payload, error)  # a watch still open at its deadline: fine

    def close(self) -> None:
        self.channel.close()
