"""Generate spec/vectors/<area>/*.json. Every expected value is computed here, not typed.

Run: python spec/tools/gen_vectors.py   (needs croniter for the cross-check of UTC cron cases)
The generated JSON files are committed; `nox -s spec` validates them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from cronref import Cron, CronError, iso  # noqa: E402

# DURABLE_VECTORS_OUT lets tools/check.py regenerate into a scratch folder and compare.
VECTORS = Path(
    os.environ.get("DURABLE_VECTORS_OUT") or Path(__file__).resolve().parent.parent / "vectors"
)

KEY = "conformance-signing-key-0001"
OLD_KEY = "conformance-signing-key-0001"
NEW_KEY = "conformance-signing-key-0002-rotated"
WRONG_KEY = "some-other-workspace-key"
NOW = 1767225600000  # 2026-01-01T00:00:00.000Z


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def mac(key: str, message: str) -> str:
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def write(area: str, name: str, description: str, cases: list[dict[str, Any]]) -> None:
    folder = VECTORS / area
    folder.mkdir(parents=True, exist_ok=True)
    document = {"area": area, "description": description, "cases": cases}
    (folder / f"{name}.json").write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------- signatures

INVOKE_BODY = compact(
    {
        "functionId": "echo",
        "runId": "run-sig-0001",
        "event": {"id": "evt-sig-0001", "name": "conf.echo", "data": {"n": 1}, "ts": NOW - 1000},
        "steps": {},
        "attempt": 0,
    }
)
RESPONSE_BODY = compact(
    {
        "op": "done",
        "data": {
            "event": {"id": "evt-sig-0001", "name": "conf.echo", "data": {"n": 1}, "ts": NOW - 1000}
        },
    }
)
UNICODE_RESPONSE_BODY = compact(
    {
        "op": "done",
        "data": {
            "event": {"id": "evt-sig-0002", "name": "conf.echo", "data": {"city": "Zürich ✓"}}
        },
    }
)
API_BODY = compact({"id": "evt-api-0001", "name": "conf.serial", "data": {"tenantId": "t1"}})


def sig_case(
    case_id: str,
    description: str,
    hop: str,
    requirements: list[str],
    *,
    keys: list[str],
    body: str,
    headers: dict[str, str],
    valid: bool,
    signing_key: str | None = None,
    timestamp: str | None = None,
    request_timestamp: str | None = None,
    expected: dict[str, str] | None = None,
    capabilities: list[str] | None = None,
) -> dict[str, Any]:
    case: dict[str, Any] = {"id": case_id, "description": description, "requirements": requirements}
    if capabilities:
        case["capabilities"] = capabilities
    case.update({"hop": hop, "keys": keys})
    if signing_key is not None:
        case["signingKey"] = signing_key
    case["body"] = body
    if timestamp is not None:
        case["timestamp"] = timestamp
    if request_timestamp is not None:
        case["requestTimestamp"] = request_timestamp
    case["now"] = NOW
    case["headers"] = headers
    case["valid"] = valid
    if expected is not None:
        case["expectedSignatures"] = expected
    return case


def signatures() -> None:
    cases: list[dict[str, Any]] = []
    good = mac(KEY, INVOKE_BODY)
    s = "X-Durable-Signature".lower()
    v2 = "X-Durable-Signature-V2".lower()
    ts_h = "X-Durable-Timestamp".lower()
    app_h = "X-Durable-App".lower()

    # invoke (engine -> app POST), v1
    cases.append(
        sig_case(
            "sig-invoke-valid",
            "v1 invoke signed over the raw body",
            "invoke",
            ["SIG-1", "SIG-4"],
            keys=[KEY],
            signing_key=KEY,
            body=INVOKE_BODY,
            headers={s: good},
            valid=True,
            expected={s: good},
        )
    )
    tampered = INVOKE_BODY.replace('"n":1', '"n":2')
    cases.append(
        sig_case(
            "sig-invoke-tampered-body",
            "body changed after signing",
            "invoke",
            ["SIG-4"],
            keys=[KEY],
            body=tampered,
            headers={s: good},
            valid=False,
        )
    )
    cases.append(
        sig_case(
            "sig-invoke-wrong-key",
            "signed with another workspace's key",
            "invoke",
            ["SIG-4"],
            keys=[KEY],
            body=INVOKE_BODY,
            headers={s: mac(WRONG_KEY, INVOKE_BODY)},
            valid=False,
        )
    )
    cases.append(
        sig_case(
            "sig-invoke-missing",
            "no signature header",
            "invoke",
            ["SIG-2", "SIG-4"],
            keys=[KEY],
            body=INVOKE_BODY,
            headers={},
            valid=False,
        )
    )
    cases.append(
        sig_case(
            "sig-invoke-short",
            "63 hex characters",
            "invoke",
            ["SIG-2"],
            keys=[KEY],
            body=INVOKE_BODY,
            headers={s: good[:63]},
            valid=False,
        )
    )
    cases.append(
        sig_case(
            "sig-invoke-long",
            "65 hex characters (valid MAC plus one)",
            "invoke",
            ["SIG-2"],
            keys=[KEY],
            body=INVOKE_BODY,
            headers={s: good + "0"},
            valid=False,
        )
    )
    cases.append(
        sig_case(
            "sig-invoke-non-hex",
            "64 characters that are not hex",
            "invoke",
            ["SIG-2"],
            keys=[KEY],
            body=INVOKE_BODY,
            headers={s: "z" * 64},
            valid=False,
        )
    )
    cases.append(
        sig_case(
            "sig-invoke-uppercase",
            "the right MAC in uppercase hex",
            "invoke",
            ["SIG-1", "SIG-2"],
            keys=[KEY],
            body=INVOKE_BODY,
            headers={s: good.upper()},
            valid=False,
        )
    )
    cases.append(
        sig_case(
            "sig-invoke-timestamp-ignored",
            "a v1 app ignores an X-Durable-Timestamp on POST",
            "invoke",
            ["SIG-4", "SIG-13"],
            keys=[KEY],
            signing_key=KEY,
            body=INVOKE_BODY,
            headers={s: good, ts_h: str(NOW - 3_600_000)},
            valid=True,
            expected={s: good},
        )
    )

    # manifest (engine -> app GET)
    ts = str(NOW - 1000)
    cases.append(
        sig_case(
            "sig-manifest-valid",
            "GET signed over the timestamp string",
            "manifest",
            ["SIG-5"],
            keys=[KEY],
            signing_key=KEY,
            body="",
            timestamp=ts,
            headers={ts_h: ts, s: mac(KEY, ts)},
            valid=True,
            expected={s: mac(KEY, ts)},
        )
    )
    edge = str(NOW - 300_000)
    cases.append(
        sig_case(
            "sig-manifest-window-edge",
            "timestamp exactly 300000 ms old is accepted",
            "manifest",
            ["SIG-5", "LIMIT-1"],
            keys=[KEY],
            signing_key=KEY,
            body="",
            timestamp=edge,
            headers={ts_h: edge, s: mac(KEY, edge)},
            valid=True,
            expected={s: mac(KEY, edge)},
        )
    )
    future = str(NOW + 299_000)
    cases.append(
        sig_case(
            "sig-manifest-future",
            "timestamp 299 s in the future is accepted",
            "manifest",
            ["SIG-5"],
            keys=[KEY],
            signing_key=KEY,
            body="",
            timestamp=future,
            headers={ts_h: future, s: mac(KEY, future)},
            valid=True,
            expected={s: mac(KEY, future)},
        )
    )
    stale = str(NOW - 300_001)
    cases.append(
        sig_case(
            "sig-manifest-stale",
            "timestamp 300001 ms old",
            "manifest",
            ["SIG-5", "LIMIT-1"],
            keys=[KEY],
            body="",
            timestamp=stale,
            headers={ts_h: stale, s: mac(KEY, stale)},
            valid=False,
        )
    )
    far = str(NOW + 300_001)
    cases.append(
        sig_case(
            "sig-manifest-future-stale",
            "timestamp 300001 ms in the future",
            "manifest",
            ["SIG-5"],
            keys=[KEY],
            body="",
            timestamp=far,
            headers={ts_h: far, s: mac(KEY, far)},
            valid=False,
        )
    )
    edge_ahead = str(NOW + 300_000)
    cases.append(
        sig_case(
            "sig-manifest-future-edge",
            "timestamp exactly 300000 ms in the future is accepted (inclusive both ways)",
            "manifest",
            ["SIG-5", "LIMIT-1"],
            keys=[KEY],
            signing_key=KEY,
            body="",
            timestamp=edge_ahead,
            headers={ts_h: edge_ahead, s: mac(KEY, edge_ahead)},
            valid=True,
            expected={s: mac(KEY, edge_ahead)},
        )
    )
    cases.append(
        sig_case(
            "sig-manifest-no-timestamp",
            "signature without a timestamp header",
            "manifest",
            ["SIG-5", "SIG-6"],
            keys=[KEY],
            body="",
            headers={s: mac(KEY, "")},
            valid=False,
        )
    )
    cases.append(
        sig_case(
            "sig-manifest-bad-timestamp",
            "timestamp that is not a decimal integer",
            "manifest",
            ["SIG-6"],
            keys=[KEY],
            body="",
            timestamp="yesterday",
            headers={ts_h: "yesterday", s: mac(KEY, "yesterday")},
            valid=False,
        )
    )
    cases.append(
        sig_case(
            "sig-manifest-seconds",
            "timestamp in seconds, not milliseconds",
            "manifest",
            ["SIG-5", "SIG-6"],
            keys=[KEY],
            body="",
            timestamp=str(NOW // 1000),
            headers={ts_h: str(NOW // 1000), s: mac(KEY, str(NOW // 1000))},
            valid=False,
        )
    )
    cases.append(
        sig_case(
            "sig-manifest-tampered-timestamp",
            "timestamp changed after signing",
            "manifest",
            ["SIG-5"],
            keys=[KEY],
            body="",
            timestamp=str(NOW),
            headers={ts_h: str(NOW), s: mac(KEY, ts)},
            valid=False,
        )
    )

    # response (app -> engine answer)
    rs = mac(KEY, RESPONSE_BODY)
    cases.append(
        sig_case(
            "sig-response-valid",
            "answer signed over its raw body",
            "response",
            ["SIG-7"],
            keys=[KEY],
            signing_key=KEY,
            body=RESPONSE_BODY,
            headers={s: rs},
            valid=True,
            expected={s: rs},
        )
    )
    us = mac(KEY, UNICODE_RESPONSE_BODY)
    cases.append(
        sig_case(
            "sig-response-utf8",
            "non-ASCII text is signed as its UTF-8 bytes, unescaped",
            "response",
            ["SIG-1", "SIG-7", "OP-1"],
            keys=[KEY],
            signing_key=KEY,
            body=UNICODE_RESPONSE_BODY,
            headers={s: us},
            valid=True,
            expected={s: us},
        )
    )
    cases.append(
        sig_case(
            "sig-response-tampered",
            "answer changed after signing",
            "response",
            ["SIG-7"],
            keys=[KEY],
            body=RESPONSE_BODY.replace('"n":1', '"n":3'),
            headers={s: rs},
            valid=False,
        )
    )
    cases.append(
        sig_case(
            "sig-response-missing",
            "unsigned answer",
            "response",
            ["SIG-7", "SIG-2"],
            keys=[KEY],
            body=RESPONSE_BODY,
            headers={},
            valid=False,
        )
    )

    # api (app -> engine API)
    a = mac(KEY, API_BODY)
    cases.append(
        sig_case(
            "sig-api-valid",
            "API call signed over its raw body",
            "api",
            ["SIG-8"],
            keys=[KEY],
            signing_key=KEY,
            body=API_BODY,
            headers={app_h: "app-0001", s: a},
            valid=True,
            expected={s: a},
        )
    )
    cases.append(
        sig_case(
            "sig-api-tampered",
            "API body changed after signing",
            "api",
            ["SIG-8"],
            keys=[KEY],
            body=API_BODY.replace("t1", "t2"),
            headers={app_h: "app-0001", s: a},
            valid=False,
        )
    )
    cases.append(
        sig_case(
            "sig-api-missing-app",
            "no X-Durable-App header",
            "api",
            ["SIG-8"],
            keys=[KEY],
            body=API_BODY,
            headers={s: a},
            valid=False,
        )
    )
    cases.append(
        sig_case(
            "sig-api-short",
            "32 hex characters",
            "api",
            ["SIG-2", "SIG-8"],
            keys=[KEY],
            body=API_BODY,
            headers={app_h: "app-0001", s: a[:32]},
            valid=False,
        )
    )

    # v2: timestamped signatures
    t = str(NOW - 2000)
    i2 = mac(KEY, t + "." + INVOKE_BODY)
    cap_ts = ["timestamped-signatures"]
    cases.append(
        sig_case(
            "sig-invoke-v2-valid",
            "timestamped invoke: both headers",
            "invoke-v2",
            ["SIG-9", "SIG-13"],
            keys=[KEY],
            signing_key=KEY,
            body=INVOKE_BODY,
            timestamp=t,
            headers={s: good, ts_h: t, v2: i2},
            valid=True,
            expected={s: good, v2: i2},
            capabilities=cap_ts,
        )
    )
    cases.append(
        sig_case(
            "sig-invoke-v2-missing",
            "app with the capability gets only the v1 header",
            "invoke-v2",
            ["SIG-9"],
            keys=[KEY],
            body=INVOKE_BODY,
            headers={s: good},
            valid=False,
            capabilities=cap_ts,
        )
    )
    old = str(NOW - 300_001)
    cases.append(
        sig_case(
            "sig-invoke-v2-stale",
            "a captured request replayed 300001 ms later",
            "invoke-v2",
            ["SIG-9", "LIMIT-1"],
            keys=[KEY],
            body=INVOKE_BODY,
            timestamp=old,
            headers={s: good, ts_h: old, v2: mac(KEY, old + "." + INVOKE_BODY)},
            valid=False,
            capabilities=cap_ts,
        )
    )
    for case_id, offset, valid, text in (
        ("sig-invoke-v2-window-edge", -300_000, True, "exactly 300000 ms old is accepted"),
        ("sig-invoke-v2-future-edge", 300_000, True,
         "exactly 300000 ms in the future is accepted"),
        ("sig-invoke-v2-future-stale", 300_001, False, "300001 ms in the future is refused"),
    ):
        stamp = str(NOW + offset)
        signed_v2 = mac(KEY, stamp + "." + INVOKE_BODY)
        cases.append(
            sig_case(
                case_id,
                f"V2 invoke whose timestamp is {text} ([LIMIT-1] is inclusive)",
                "invoke-v2",
                ["SIG-9", "LIMIT-1"],
                keys=[KEY],
                signing_key=KEY if valid else None,
                body=INVOKE_BODY,
                timestamp=stamp,
                headers={s: good, ts_h: stamp, v2: signed_v2},
                valid=valid,
                expected={s: good, v2: signed_v2} if valid else None,
                capabilities=cap_ts,
            )
        )
    cases.append(
        sig_case(
            "sig-invoke-v2-tampered-timestamp",
            "timestamp refreshed without re-signing",
            "invoke-v2",
            ["SIG-9"],
            keys=[KEY],
            body=INVOKE_BODY,
            timestamp=str(NOW),
            headers={s: good, ts_h: str(NOW), v2: i2},
            valid=False,
            capabilities=cap_ts,
        )
    )
    cases.append(
        sig_case(
            "sig-invoke-v2-tampered-body",
            "body changed after signing: neither MAC verifies",
            "invoke-v2",
            ["SIG-9"],
            keys=[KEY],
            body=tampered,
            timestamp=t,
            headers={s: good, ts_h: t, v2: i2},
            valid=False,
            capabilities=cap_ts,
        )
    )
    cases.append(
        sig_case(
            "sig-invoke-v2-non-hex",
            "V2 header of 64 non-hex characters",
            "invoke-v2",
            ["SIG-2", "SIG-9"],
            keys=[KEY],
            body=INVOKE_BODY,
            timestamp=t,
            headers={s: good, ts_h: t, v2: "g" * 64},
            valid=False,
            capabilities=cap_ts,
        )
    )
    r2 = mac(KEY, t + "." + RESPONSE_BODY)
    cases.append(
        sig_case(
            "sig-response-v2-valid",
            "answer bound to the request timestamp",
            "response-v2",
            ["SIG-10"],
            keys=[KEY],
            signing_key=KEY,
            body=RESPONSE_BODY,
            request_timestamp=t,
            headers={s: rs, v2: r2},
            valid=True,
            expected={s: rs, v2: r2},
            capabilities=cap_ts,
        )
    )
    cases.append(
        sig_case(
            "sig-response-v2-other-request",
            "answer signed for another request's timestamp",
            "response-v2",
            ["SIG-10"],
            keys=[KEY],
            body=RESPONSE_BODY,
            request_timestamp=t,
            headers={s: rs, v2: mac(KEY, str(NOW - 9000) + "." + RESPONSE_BODY)},
            valid=False,
            capabilities=cap_ts,
        )
    )
    a2 = mac(KEY, t + "." + API_BODY)
    cases.append(
        sig_case(
            "sig-api-v2-valid",
            "API call with timestamp; the v1 header is ignored",
            "api-v2",
            ["SIG-11"],
            keys=[KEY],
            signing_key=KEY,
            body=API_BODY,
            timestamp=t,
            headers={app_h: "app-0001", ts_h: t, v2: a2},
            valid=True,
            expected={v2: a2},
            capabilities=cap_ts,
        )
    )
    cases.append(
        sig_case(
            "sig-api-v2-stale",
            "API call 400 s old",
            "api-v2",
            ["SIG-11"],
            keys=[KEY],
            body=API_BODY,
            timestamp=str(NOW - 400_000),
            headers={
                app_h: "app-0001",
                ts_h: str(NOW - 400_000),
                s: a,
                v2: mac(KEY, str(NOW - 400_000) + "." + API_BODY),
            },
            valid=False,
            capabilities=cap_ts,
        )
    )

    # rotation
    cap_rot = ["key-rotation"]
    old_sig = mac(OLD_KEY, INVOKE_BODY)
    new_sig = mac(NEW_KEY, INVOKE_BODY)
    cases.append(
        sig_case(
            "sig-rotation-old-key",
            "during rotation the older key verifies",
            "invoke",
            ["KEY-1", "KEY-2"],
            keys=[NEW_KEY, OLD_KEY],
            signing_key=OLD_KEY,
            body=INVOKE_BODY,
            headers={s: old_sig},
            valid=True,
            expected={s: old_sig},
            capabilities=cap_rot,
        )
    )
    cases.append(
        sig_case(
            "sig-rotation-new-key",
            "during rotation the newer key verifies",
            "invoke",
            ["KEY-2"],
            keys=[NEW_KEY, OLD_KEY],
            signing_key=NEW_KEY,
            body=INVOKE_BODY,
            headers={s: new_sig},
            valid=True,
            expected={s: new_sig},
            capabilities=cap_rot,
        )
    )
    cases.append(
        sig_case(
            "sig-rotation-third-key",
            "a key outside the pair is refused",
            "invoke",
            ["KEY-2"],
            keys=[NEW_KEY, OLD_KEY],
            body=INVOKE_BODY,
            headers={s: mac(WRONG_KEY, INVOKE_BODY)},
            valid=False,
            capabilities=cap_rot,
        )
    )
    cases.append(
        sig_case(
            "sig-rotation-retired",
            "after retire the old key is refused",
            "api",
            ["KEY-5"],
            keys=[NEW_KEY],
            body=API_BODY,
            headers={app_h: "app-0001", s: mac(OLD_KEY, API_BODY)},
            valid=False,
        )
    )
    cases.append(
        sig_case(
            "sig-rotation-api-either",
            "the engine accepts an API call under the new key while two keys are active",
            "api",
            ["KEY-2", "KEY-3"],
            keys=[OLD_KEY, NEW_KEY],
            signing_key=NEW_KEY,
            body=API_BODY,
            headers={app_h: "app-0001", s: mac(NEW_KEY, API_BODY)},
            valid=True,
            expected={s: mac(NEW_KEY, API_BODY)},
            capabilities=cap_rot,
        )
    )
    mt = str(NOW - 5000)
    cases.append(
        sig_case(
            "sig-rotation-v2-fallback",
            "timestamped invoke verified by the fallback key",
            "invoke-v2",
            ["KEY-2", "SIG-9"],
            keys=[NEW_KEY, OLD_KEY],
            signing_key=OLD_KEY,
            body=INVOKE_BODY,
            timestamp=mt,
            headers={s: old_sig, ts_h: mt, v2: mac(OLD_KEY, mt + "." + INVOKE_BODY)},
            valid=True,
            expected={s: old_sig, v2: mac(OLD_KEY, mt + "." + INVOKE_BODY)},
            capabilities=["key-rotation", "timestamped-signatures"],
        )
    )
    write(
        "signatures",
        "signatures",
        "HMAC-SHA256 signatures on every hop, v1 and v2, with key rotation",
        cases,
    )


# ---------------------------------------------------------------- grpc-signatures
# [GRPC-4]: HMAC over `timestamp + "." + method + "." + request`, the request being the exact
# bytes of the serialized protobuf message. The messages are encoded here by hand (proto3 wire
# format) so the vectors need no protobuf library to produce or to read.


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number: int, value: bytes | int) -> bytes:
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    return varint(number << 3 | 2) + varint(len(value)) + value


def grpc_mac(key: str, timestamp: str, method: str, request: bytes) -> str:
    message = f"{timestamp}.{method}.".encode() + request
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


ENGINE_SERVICE = "/durable.v1.Engine"
GET_RUN = f"{ENGINE_SERVICE}/GetRun"
SEND_EVENT = f"{ENGINE_SERVICE}/SendEvent"
INGEST = f"{ENGINE_SERVICE}/IngestEvents"
# RunIdRequest{run_id}
RUN_ID_REQUEST = field(1, b"run-grpc-0001")
# EventInput{name, data: Json{text}, ts}: the int64 varint and the UTF-8 text make the bytes
# not ASCII, so a signer that treats the request as text is caught.
EVENT_DATA = compact({"n": 1, "city": "Zürich"}).encode()
EVENT_INPUT = field(2, b"conf.grpc.signed") + field(3, field(1, EVENT_DATA)) + field(4, NOW - 1000)
# The same message with its fields in another order: it parses equal, but it is other bytes.
EVENT_INPUT_REORDERED = field(4, NOW - 1000) + field(2, b"conf.grpc.signed") + field(
    3, field(1, EVENT_DATA)
)


def grpc_signatures() -> None:
    import base64

    cases: list[dict[str, Any]] = []
    stamp = str(NOW)

    def case(
        case_id: str,
        description: str,
        requirements: list[str],
        *,
        method: str = GET_RUN,
        request: bytes = RUN_ID_REQUEST,
        carrier: str = "metadata",
        keys: list[str] | None = None,
        signing_key: str = KEY,
        now: int = NOW,
        timestamp: str | None = stamp,
        signature: str | None = None,
        valid: bool,
    ) -> None:
        entry: dict[str, Any] = {
            "id": case_id,
            "description": description,
            "requirements": requirements,
            "method": method,
            "request": base64.b64encode(request).decode(),
            "carrier": carrier,
            "keys": keys or [KEY],
        }
        if valid:
            entry["signingKey"] = signing_key
        entry["now"] = now
        if timestamp is not None:
            entry["timestamp"] = timestamp
        if signature is not None:
            entry["signature"] = signature
        entry["valid"] = valid
        if valid:
            assert timestamp is not None
            entry["expectedSignature"] = grpc_mac(signing_key, timestamp, method, request)
            assert signature == entry["expectedSignature"], case_id
        cases.append(entry)

    def good(timestamp: str = stamp, method: str = GET_RUN, request: bytes = RUN_ID_REQUEST,
             key: str = KEY) -> str:
        return grpc_mac(key, timestamp, method, request)

    g4, g45 = ["GRPC-4"], ["GRPC-4", "GRPC-5"]
    case("grpc-sig-getrun-valid", "GetRun signed over timestamp.method.request", g4,
         signature=good(), valid=True)
    case("grpc-sig-sendevent-valid", "SendEvent: the request bytes are not ASCII", g4,
         method=SEND_EVENT, request=EVENT_INPUT,
         signature=good(method=SEND_EVENT, request=EVENT_INPUT), valid=True)
    case("grpc-sig-ingest-call-valid", "IngestEvents call metadata: the request is empty", g4,
         method=INGEST, request=b"", signature=good(method=INGEST, request=b""), valid=True)
    case("grpc-sig-ingest-item-valid",
         "an IngestEvents item: its own timestamp and signature over the event bytes", g4,
         method=INGEST, request=EVENT_INPUT, carrier="ingest-item", timestamp=str(NOW - 2000),
         signature=good(str(NOW - 2000), INGEST, EVENT_INPUT), valid=True)
    case("grpc-sig-ingest-item-other-event", "an item's signature moved onto another event",
         g4, method=INGEST, request=EVENT_INPUT, carrier="ingest-item",
         signature=good(method=INGEST, request=RUN_ID_REQUEST), valid=False)
    case("grpc-sig-rotation-new-key", "two active keys: signed with the new one",
         ["GRPC-4", "KEY-2"], keys=[NEW_KEY, OLD_KEY], signing_key=NEW_KEY,
         signature=good(key=NEW_KEY), valid=True)
    case("grpc-sig-rotation-old-key", "two active keys: signed with the old one",
         ["GRPC-4", "KEY-2"], keys=[NEW_KEY, OLD_KEY], signing_key=OLD_KEY,
         signature=good(key=OLD_KEY), valid=True)
    case("grpc-sig-rotation-retired-key", "signed with a key retired after rotation",
         ["GRPC-4", "KEY-5"], keys=[NEW_KEY], signature=good(key=OLD_KEY), valid=False)
    case("grpc-sig-wrong-key", "signed with another workspace's key", g45,
         signature=good(key=WRONG_KEY), valid=False)
    past_edge = str(NOW - 300_000)
    case("grpc-sig-window-past-edge", "timestamp exactly 300000 ms behind the clock",
         ["GRPC-4", "SIG-6", "LIMIT-1"], timestamp=past_edge, signature=good(past_edge),
         valid=True)
    future_edge = str(NOW + 300_000)
    case("grpc-sig-window-future-edge", "timestamp exactly 300000 ms ahead of the clock",
         ["GRPC-4", "SIG-6", "LIMIT-1"], timestamp=future_edge, signature=good(future_edge),
         valid=True)
    stale = str(NOW - 300_001)
    case("grpc-sig-window-stale", "timestamp 300001 ms behind the clock",
         ["GRPC-4", "LIMIT-1"], timestamp=stale, signature=good(stale), valid=False)
    ahead = str(NOW + 300_001)
    case("grpc-sig-window-ahead", "timestamp 300001 ms ahead of the clock",
         ["GRPC-4", "LIMIT-1"], timestamp=ahead, signature=good(ahead), valid=False)
    case("grpc-sig-other-method", "GetRun's signature on a CancelRun call", g4,
         method=f"{ENGINE_SERVICE}/CancelRun", signature=good(), valid=False)
    case("grpc-sig-short-method", "signed over the method name without its service", g4,
         signature=grpc_mac(KEY, stamp, "GetRun", RUN_ID_REQUEST), valid=False)
    case("grpc-sig-reencoded-request",
         "the same message encoded with its fields in another order: other bytes", g4,
         method=SEND_EVENT, request=EVENT_INPUT_REORDERED,
         signature=good(method=SEND_EVENT, request=EVENT_INPUT), valid=False)
    case("grpc-sig-http-style", "signed over the request alone, as HTTP v1 signs a body", g4,
         signature=hmac.new(KEY.encode(), RUN_ID_REQUEST, hashlib.sha256).hexdigest(),
         valid=False)
    case("grpc-sig-uppercase", "the right MAC in uppercase hex", ["GRPC-4", "SIG-2"],
         signature=good().upper(), valid=False)
    case("grpc-sig-missing-signature", "no x-durable-signature", g45, valid=False)
    case("grpc-sig-missing-timestamp", "no x-durable-timestamp", g45, timestamp=None,
         signature=good(), valid=False)
    signed_plus = "+" + stamp
    case("grpc-sig-timestamp-sign", "a timestamp with a sign is not unix milliseconds",
         ["GRPC-4", "SIG-6"], timestamp=signed_plus, signature=good(signed_plus), valid=False)
    write(
        "grpc-signatures",
        "grpc-signatures",
        "gRPC call signatures [GRPC-4]: timestamp, full method name, exact request bytes",
        cases,
    )


# ---------------------------------------------------------------- replay

AFTER = "$afterMs"
ANY_STRING = {"$type": "string"}


def ev(name: str, data: Any, event_id: str, ts: int = NOW) -> dict[str, Any]:
    return {"id": event_id, "name": name, "data": data, "ts": ts}


def req(
    function_id: str,
    run: str,
    event: dict[str, Any],
    steps: dict[str, Any] | None = None,
    attempt: int = 0,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "functionId": function_id,
        "runId": run,
        "event": event,
        "steps": steps or {},
        "attempt": attempt,
    }
    body.update(extra)
    return body


def rcase(
    case_id: str,
    description: str,
    function: str,
    requirements: list[str],
    request: dict[str, Any],
    expect: dict[str, Any] | None = None,
    *,
    capabilities: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    case: dict[str, Any] = {"id": case_id, "description": description, "requirements": requirements}
    if capabilities:
        case["capabilities"] = capabilities
    case["function"] = function
    if "withoutCapabilities" in extra:
        case["withoutCapabilities"] = extra["withoutCapabilities"]
    case.update({k: v for k, v in extra.items() if k in ("method", "rawBody", "headers")})
    case["request"] = request
    if "expectStatus" in extra:
        case["expectStatus"] = extra["expectStatus"]
    else:
        case["expect"] = expect
    return case


def run(data: Any) -> dict[str, Any]:
    return {"type": "run", "data": data}


def replay() -> None:
    cases: list[dict[str, Any]] = []
    e_serial = ev("conf.serial", {}, "evt-serial-1")
    cases += [
        rcase(
            "replay-serial-first",
            "no memos: the first step runs and ends the invocation",
            "serial",
            ["REPLAY-1", "REPLAY-2", "OP-2"],
            req("serial", "run-serial-1", e_serial),
            {"op": "step", "id": "a", "data": {"n": 1}},
        ),
        rcase(
            "replay-serial-second",
            "memo of a is returned; b runs",
            "serial",
            ["REPLAY-1", "REPLAY-2", "OP-2"],
            req("serial", "run-serial-1", e_serial, {"a": run({"n": 1})}),
            {"op": "step", "id": "b", "data": {"n": 2}},
        ),
        rcase(
            "replay-serial-done",
            "every step memoized: the handler returns",
            "serial",
            ["REPLAY-1", "OP-7"],
            req("serial", "run-serial-1", e_serial, {"a": run({"n": 1}), "b": run({"n": 2})}),
            {"op": "done", "data": {"a": {"n": 1}, "b": {"n": 2}}},
        ),
        rcase(
            "replay-serial-memo-wins",
            "the memo, not a recomputation, is what the handler sees",
            "serial",
            ["REPLAY-1"],
            req("serial", "run-serial-2", e_serial, {"a": run({"n": 41})}),
            {"op": "step", "id": "b", "data": {"n": 42}},
        ),
        rcase(
            "replay-serial-unknown-fields",
            "unknown request members are ignored",
            "serial",
            ["INV-3", "VER-2"],
            req("serial", "run-serial-3", e_serial, futureField={"x": 1}),
            {"op": "step", "id": "a", "data": {"n": 1}},
        ),
        rcase(
            "replay-serial-extra-memo",
            "memos of ids the handler never asks for are ignored",
            "serial",
            ["REPLAY-1"],
            req("serial", "run-serial-4", e_serial, {"zzz": run(0), "a": run({"n": 1})}),
            {"op": "step", "id": "b", "data": {"n": 2}},
        ),
    ]
    e_echo = ev(
        "conf.echo", {"userId": "u1", "nested": {"list": [1, 2.5, None, True]}}, "evt-echo-1"
    )
    cases.append(
        rcase(
            "replay-echo",
            "the handler receives the event exactly as sent",
            "echo",
            ["INV-1", "OP-7", "EVT-1"],
            req("echo", "run-echo-1", e_echo),
            {"op": "done", "data": {"event": e_echo}},
        )
    )
    e_echo2 = {"id": "evt-echo-2", "name": "conf.echo", "data": ["plain", 1], "ts": NOW}
    cases.append(
        rcase(
            "replay-echo-nonobject-data",
            "data may be any JSON value, here an array",
            "echo",
            ["EVT-1"],
            req("echo", "run-echo-2", e_echo2),
            {"op": "done", "data": {"event": e_echo2}},
        )
    )
    e_sleep = ev("conf.sleeper", {}, "evt-sleep-1")
    cases += [
        rcase(
            "replay-sleeper-before",
            "a run step before the sleep",
            "sleeper",
            ["REPLAY-2", "OP-2"],
            req("sleeper", "run-sleep-1", e_sleep),
            {"op": "step", "id": "before", "data": "x"},
        ),
        rcase(
            "replay-sleeper-sleep",
            "sleep op with until = now + 2 s",
            "sleeper",
            ["OP-5", "OP-9", "DUR-1"],
            req("sleeper", "run-sleep-1", e_sleep, {"before": run("x")}),
            {"op": "sleep", "id": "nap", "until": {AFTER: 2000}},
        ),
        rcase(
            "replay-sleeper-done",
            "a sleep memo (data null) lets the handler continue",
            "sleeper",
            ["OP-5", "OP-8", "REPLAY-1"],
            req(
                "sleeper",
                "run-sleep-1",
                e_sleep,
                {"before": run("x"), "nap": {"type": "sleep", "data": None}},
            ),
            {"op": "done", "data": "slept"},
        ),
    ]
    e_wait = ev("conf.waiter", {"userId": "u-42"}, "evt-wait-1")
    approval = ev("conf.approved", {"userId": "u-42", "by": "boss"}, "evt-approved-1", NOW + 60_000)
    cases += [
        rcase(
            "replay-waiter-wait",
            "wait op carrying the match built from the event",
            "waiter",
            ["OP-6", "OP-9", "MATCH-1"],
            req("waiter", "run-wait-1", e_wait),
            {
                "op": "wait",
                "id": "approve",
                "event": "conf.approved",
                "match": {"userId": "u-42"},
                "until": {AFTER: 3_600_000},
            },
        ),
        rcase(
            "replay-waiter-no-match",
            "a wait declared without match sends `match: null`, never omits it",
            "waiter",
            ["OP-6", "MATCH-3"],
            req("waiter", "run-wait-2", ev("conf.waiter", {}, "evt-wait-2")),
            {
                "op": "wait",
                "id": "approve",
                "event": "conf.approved",
                "match": None,
                "until": {AFTER: 3_600_000},
            },
        ),
        rcase(
            "replay-waiter-matched",
            "wait memo holding the matching event",
            "waiter",
            ["OP-8", "REPLAY-1"],
            req("waiter", "run-wait-1", e_wait, {"approve": {"type": "wait", "data": approval}}),
            {"op": "done", "data": {"approved": True, "got": approval}},
        ),
        rcase(
            "replay-waiter-timeout",
            "wait memo null: the wait timed out",
            "waiter",
            ["OP-8", "MATCH-5"],
            req("waiter", "run-wait-1", e_wait, {"approve": {"type": "wait", "data": None}}),
            {"op": "done", "data": {"approved": False, "got": None}},
        ),
    ]
    e_send = ev("conf.sender", {"n": 7}, "evt-send-1")
    receipts = [
        {"id": "child-7", "name": "conf.child", "ts": NOW + 10, "duplicate": False, "runIds": []}
    ]
    cases += [
        rcase(
            "replay-sender-send",
            "sendEvent op with the events to store",
            "sender",
            ["OP-4", "EVT-2"],
            req("sender", "run-send-1", e_send),
            {
                "op": "sendEvent",
                "id": "emit",
                "events": [{"id": "child-7", "name": "conf.child", "data": {"n": 7}}],
            },
        ),
        rcase(
            "replay-sender-done",
            "sendEvent memo holds the receipts",
            "sender",
            ["OP-8", "EVT-4"],
            req("sender", "run-send-1", e_send, {"emit": {"type": "sendEvent", "data": receipts}}),
            {"op": "done", "data": {"receipts": receipts}},
        ),
    ]
    e_flaky = ev("conf.flaky", {"failTimes": 1}, "evt-flaky-1")
    cases += [
        rcase(
            "replay-flaky-attempt0",
            "a plain error in a step is retryable and names the step",
            "flaky",
            ["ERR-1", "OP-3", "INV-4"],
            req("flaky", "run-flaky-1", e_flaky, attempt=0),
            {
                "op": "error",
                "id": "flaky",
                "message": "boom",
                "name": ANY_STRING,
                "retryable": True,
            },
        ),
        rcase(
            "replay-flaky-attempt1",
            "the retry sees attempt 1 and succeeds",
            "flaky",
            ["INV-4", "RETRY-2"],
            req("flaky", "run-flaky-1", e_flaky, attempt=1),
            {"op": "step", "id": "flaky", "data": "ok"},
        ),
        rcase(
            "replay-flaky-done",
            "after the memo the attempt counter is back to 0",
            "flaky",
            ["RETRY-2"],
            req("flaky", "run-flaky-1", e_flaky, {"flaky": run("ok")}, attempt=0),
            {"op": "done", "data": {"result": "ok"}},
        ),
    ]
    cases.append(
        rcase(
            "replay-fatal",
            "NonRetriableError: code, details, retryable false",
            "fatal",
            ["ERR-1", "ERR-3", "OP-3", "RETRY-5"],
            req("fatal", "run-fatal-1", ev("conf.fatal", {}, "evt-fatal-1")),
            {
                "op": "error",
                "id": "fatal",
                "message": "no way",
                "name": "NonRetriableError",
                "code": "E_FATAL",
                "details": {"why": "test"},
                "retryable": False,
            },
        )
    )
    long_code = "E_" + "X" * 118
    fits = {"blob": "x" * (65_536 - len('{"blob":""}'))}
    over = {"blob": "x" * (65_537 - len('{"blob":""}'))}
    for case_id, description, data, code, details in (
        ("replay-fatal-long-code", "a code of 120 characters is truncated to its first 100",
         {"code": long_code}, long_code[:100], {"why": "test"}),
        ("replay-fatal-code-100", "a code of exactly 100 characters is kept",
         {"code": long_code[:100]}, long_code[:100], {"why": "test"}),
        ("replay-fatal-details-fit", "details whose compact JSON is exactly 65536 bytes are kept",
         {"details": fits}, "E_FATAL", fits),
        ("replay-fatal-details-over", "details of 65537 bytes are replaced by the marker",
         {"details": over}, "E_FATAL",
         {"truncated": True, "reason": "error details exceed 64 KiB"}),
    ):
        cases.append(
            rcase(
                case_id,
                f"NonRetriableError: {description} ([ERR-3])",
                "fatal",
                ["ERR-3", "OP-3"],
                req("fatal", f"run-{case_id}", ev("conf.fatal", data, f"evt-{case_id}")),
                {
                    "op": "error",
                    "id": "fatal",
                    "message": "no way",
                    "name": "NonRetriableError",
                    "code": code,
                    "details": details,
                    "retryable": False,
                },
            )
        )
    cases.append(
        rcase(
            "replay-handler-error",
            "an error outside any step has id null",
            "handler-error",
            ["ERR-2", "OP-3"],
            req("handler-error", "run-herr-1", ev("conf.handler-error", {}, "evt-h-1")),
            {
                "op": "error",
                "id": None,
                "message": "handler broke",
                "name": ANY_STRING,
                "retryable": True,
            },
        )
    )
    e_wf = ev("conf.with-failure", {}, "evt-wf-1")
    failure = {"message": "exploded", "name": "Error", "stepId": "explode"}
    cases += [
        rcase(
            "replay-with-failure-explode",
            "the step fails",
            "with-failure",
            ["ERR-1"],
            req("with-failure", "run-wf-1", e_wf),
            {
                "op": "error",
                "id": "explode",
                "message": "exploded",
                "name": ANY_STRING,
                "retryable": True,
            },
        ),
        rcase(
            "replay-with-failure-handler-step",
            "failure set: the on-failure handler runs its own steps",
            "with-failure",
            ["FAIL-1", "FAIL-2", "FAIL-3"],
            req("with-failure", "run-wf-1", e_wf, failure=failure),
            {"op": "step", "id": "cleanup", "data": "cleaned"},
        ),
        rcase(
            "replay-with-failure-handler-done",
            "the on-failure handler returns with the failure message",
            "with-failure",
            ["FAIL-2", "FAIL-3"],
            req("with-failure", "run-wf-1", e_wf, {"cleanup": run("cleaned")}, failure=failure),
            {"op": "done", "data": {"cleanup": "cleaned", "message": "exploded"}},
        ),
        rcase(
            "replay-missing-failure-handler",
            "failure sent to a function without a handler",
            "serial",
            ["FAIL-4"],
            req("serial", "run-serial-9", e_serial, failure={"message": "x", "name": "Error"}),
            {
                "op": "error",
                "id": None,
                "message": "onFailure handler not found",
                "name": "MissingFailureHandlerError",
                "code": "MISSING_FAILURE_HANDLER",
                "retryable": False,
            },
        ),
    ]
    e_par = ev("conf.parallel", {}, "evt-par-1")
    cases += [
        rcase(
            "replay-parallel-step",
            "parallel is one run step memoizing the dict of results",
            "parallel",
            ["REPLAY-6"],
            req("parallel", "run-par-1", e_par),
            {"op": "step", "id": "fan", "data": {"a": 1, "b": 2}},
        ),
        rcase(
            "replay-parallel-done",
            "the parallel memo is returned as is",
            "parallel",
            ["REPLAY-6", "REPLAY-1"],
            req("parallel", "run-par-1", e_par, {"fan": run({"a": 1, "b": 2})}),
            {"op": "done", "data": {"a": 1, "b": 2}},
        ),
    ]
    twenty = {f"t{i}": i for i in range(20)}
    cases.append(
        rcase(
            "replay-parallel-twenty",
            "parallel with 20 tasks (the most) is one run step",
            "parallel",
            ["REPLAY-6"],
            req("parallel", "run-par-20", ev("conf.parallel", {"count": 20}, "evt-par-20")),
            {"op": "step", "id": "fan", "data": twenty},
        )
    )

    def sdk_error(code: str) -> dict[str, Any]:
        return {"op": "error", "id": None, "message": ANY_STRING, "name": "NonRetriableError",
                "code": code, "retryable": False}

    e_sleep_bad = ev("conf.sleeper", {"duration": "2 s"}, "evt-sleep-bad")
    for case_id, description, function, requirements, request, code in (
        ("replay-parallel-none", "parallel with 0 tasks", "parallel", ["ERR-8", "REPLAY-6"],
         req("parallel", "run-par-0", ev("conf.parallel", {"count": 0}, "evt-par-0")),
         "INVALID_PARALLEL"),
        ("replay-parallel-21", "parallel with 21 tasks", "parallel", ["ERR-8", "REPLAY-6"],
         req("parallel", "run-par-21", ev("conf.parallel", {"count": 21}, "evt-par-21")),
         "INVALID_PARALLEL"),
        ("replay-send-no-events", "sendEvent with an empty list", "sender", ["ERR-8", "OP-4"],
         req("sender", "run-send-0", ev("conf.sender", {"events": []}, "evt-send-0")),
         "INVALID_EVENTS"),
        ("replay-send-bad-envelope", "sendEvent with an event without a name", "sender",
         ["ERR-8", "OP-4"],
         req("sender", "run-send-bad", ev("conf.sender", {"events": [{"data": {}}]},
                                          "evt-send-bad")),
         "INVALID_EVENTS"),
        ("replay-sleep-bad-duration", "sleep declared with the duration \"2 s\"", "sleeper",
         ["ERR-8", "DUR-3"],
         req("sleeper", "run-sleep-bad", e_sleep_bad, {"before": run("x")}),
         "INVALID_DURATION"),
    ):
        cases.append(rcase(case_id, f"{description}: the SDK's own non-retriable error of the"
                           f" handler, code {code} ([ERR-8])", function, requirements, request,
                           sdk_error(code)))
    e_loop = ev("conf.loop", {}, "evt-loop-1")
    occ = ["step-occurrences"]
    cases.append(
        rcase(
            "replay-loop-v1-first-memo",
            "without step-occurrences every use of one step id returns its first memo",
            "loop",
            ["REPLAY-5", "REPLAY-1"],
            req("loop", "run-loop-v1", e_loop, {"item": run(0)}),
            {"op": "done", "data": [0, 0, 0]},
            withoutCapabilities=["step-occurrences"],
        )
    )
    cases += [
        rcase(
            "replay-loop-first",
            "first use of a step id carries the bare id",
            "loop",
            ["REPLAY-4"],
            req("loop", "run-loop-1", e_loop),
            {"op": "step", "id": "item", "data": 0},
        ),
        rcase(
            "replay-loop-second",
            "second use of the id is item#2",
            "loop",
            ["REPLAY-4"],
            req("loop", "run-loop-1", e_loop, {"item": run(0)}),
            {"op": "step", "id": "item#2", "data": 1},
            capabilities=occ,
        ),
        rcase(
            "replay-loop-third",
            "third use is item#3",
            "loop",
            ["REPLAY-4"],
            req("loop", "run-loop-1", e_loop, {"item": run(0), "item#2": run(1)}),
            {"op": "step", "id": "item#3", "data": 2},
            capabilities=occ,
        ),
        rcase(
            "replay-loop-done",
            "all occurrences memoized",
            "loop",
            ["REPLAY-4"],
            req("loop", "run-loop-1", e_loop, {"item": run(0), "item#2": run(1), "item#3": run(2)}),
            {"op": "done", "data": [0, 1, 2]},
            capabilities=occ,
        ),
    ]
    e_mis = ev("conf.mismatch", {}, "evt-mis-1")
    strict = ["strict-replay"]
    for memo_type, memo in (
        ("sleep", {"type": "sleep", "data": None}),
        ("wait", {"type": "wait", "data": None}),
        ("sendEvent", {"type": "sendEvent", "data": []}),
    ):
        cases.append(
            rcase(
                f"replay-mismatch-{memo_type.lower()}",
                f"a {memo_type} memo where a run step is asked for",
                "mismatch",
                ["REPLAY-3"],
                req("mismatch", "run-mis-1", e_mis, {"x": memo}),
                {
                    "op": "error",
                    "id": "x",
                    "message": ANY_STRING,
                    "name": "NonDeterministicError",
                    "code": "NON_DETERMINISTIC",
                    "retryable": False,
                },
                capabilities=strict,
            )
        )
    cases.append(
        rcase(
            "replay-mismatch-same-type",
            "a run memo of the right type is used",
            "mismatch",
            ["REPLAY-1", "REPLAY-3"],
            req("mismatch", "run-mis-2", e_mis, {"x": run(1)}),
            {"op": "done", "data": "unreachable"},
        )
    )
    cases.append(
        rcase(
            "replay-big-small",
            "a step result of event.data.size characters",
            "big",
            ["OP-2"],
            req("big", "run-big-1", ev("conf.big", {"size": 10}, "evt-big-1")),
            {"op": "step", "id": "big", "data": "x" * 10},
        )
    )
    cases.append(
        rcase(
            "replay-big-too-large",
            "a result over the 1 MiB answer limit becomes a non-retryable error",
            "big",
            ["ERR-5", "LIMIT-3"],
            req("big", "run-big-2", ev("conf.big", {"size": 1_100_000}, "evt-big-2")),
            {
                "op": "error",
                "id": None,
                "message": "workflow response is not serializable or exceeds the response limit",
                "retryable": False,
            },
        )
    )
    e_ver = ev("conf.versioned", {}, "evt-ver-1")
    cases += [
        rcase(
            "replay-versioned",
            "runtime id id@version selects the function",
            "versioned",
            ["INV-2", "DEF-4"],
            req("versioned@2", "run-ver-1", e_ver),
            {"op": "done", "data": "v2"},
        ),
        rcase(
            "replay-versioned-bare-id",
            "the bare id of a versioned function is unknown",
            "versioned",
            ["INV-2", "ERR-4"],
            req("versioned", "run-ver-2", e_ver),
            {
                "op": "error",
                "id": None,
                "message": "unknown function versioned",
                "retryable": False,
            },
        ),
        rcase(
            "replay-unknown-function",
            "an unknown function id",
            "serial",
            ["ERR-4"],
            req("nope", "run-nope-1", e_serial),
            {"op": "error", "id": None, "message": "unknown function nope", "retryable": False},
        ),
    ]
    for case_id, function_id, shown in (
        ("replay-unknown-function-number", 7, "7"),
        ("replay-unknown-function-array", ["serial"], '["serial"]'),
        ("replay-unknown-function-missing", None, "?"),
    ):
        body = req("serial", f"run-{case_id}", e_serial)
        if function_id is None:
            del body["functionId"]
        else:
            body["functionId"] = function_id
        cases.append(
            rcase(
                case_id,
                f"functionId {json.dumps(function_id)}: unknown, shown as {shown}, never a"
                " type error or a 500",
                "serial",
                ["ERR-4", "INV-7"],
                {},
                {"op": "error", "id": None, "message": f"unknown function {shown}",
                 "retryable": False},
                rawBody=compact(body),
            )
        )
    batch_events = [ev("conf.batcher", {"i": i}, f"evt-batch-{i}", NOW + i) for i in range(3)]
    cases.append(
        rcase(
            "replay-batcher",
            "a batch invoke carries events; event is the first",
            "batcher",
            ["INV-5", "FLOW-6"],
            req("batcher", "run-batch-1", batch_events[0], events=batch_events),
            {"op": "done", "data": {"count": 3}},
        )
    )
    tick = datetime(2026, 1, 1, 3, 0, tzinfo=UTC)
    tick_ms = int(tick.timestamp() * 1000)
    cron_event = {
        "id": f"cron:nightly:{tick_ms}",
        "name": "durable/cron",
        "data": {"cron": "0 3 * * *", "scheduledAt": iso(tick)},
        "ts": tick_ms,
    }
    cases.append(
        rcase(
            "replay-nightly",
            "a cron-triggered run receives the cron event",
            "nightly",
            ["CRON-9"],
            req("nightly", "run-cron-1", cron_event),
            {"op": "done", "data": "tick"},
        )
    )
    # malformed known members of a signed JSON object (strict-replay)
    invalid_request = {
        "op": "error",
        "id": None,
        "message": ANY_STRING,
        "name": "InvalidRequestError",
        "retryable": False,
    }
    for case_id, member, value in (
        ("replay-malformed-steps", "steps", "not-an-object"),
        ("replay-malformed-attempt", "attempt", -1),
        ("replay-malformed-event", "event", ["not", "an", "object"]),
    ):
        body = req("serial", "run-bad-1", e_serial)
        body[member] = value
        cases.append(
            rcase(
                case_id,
                f"{member} of the wrong type: one non-retryable error op, not a replay",
                "serial",
                ["INV-7"],
                {},
                invalid_request,
                capabilities=strict,
                rawBody=compact(body),
            )
        )
    # HTTP-level answers
    cases += [
        rcase(
            "replay-http-invalid-json",
            "a signed body that is not JSON",
            "serial",
            ["INV-6"],
            {},
            rawBody="{not json",
            expectStatus=400,
        ),
        rcase(
            "replay-http-not-object",
            "a signed JSON body that is not an object",
            "serial",
            ["INV-6"],
            {},
            rawBody="[1,2,3]",
            expectStatus=400,
        ),
        rcase(
            "replay-http-bad-signature",
            "an invoke with a wrong signature",
            "serial",
            ["SIG-4", "SIG-12"],
            req("serial", "run-serial-5", e_serial),
            headers={"x-durable-signature": "0" * 64},
            expectStatus=401,
        ),
        rcase(
            "replay-discovery-not-dev",
            "a discovery GET to an app not in dev mode is an ordinary manifest request: with"
            " no valid manifest signature it is refused, no key handed out",
            "serial",
            ["DISC-2", "SIG-5"],
            req("serial", "run-serial-7", e_serial),
            method="GET",
            headers={"x-durable-discovery": "true"},
            expectStatus=401,
        ),
        rcase(
            "replay-http-put",
            "a method other than GET or POST",
            "serial",
            ["INV-6", "ROLE-1"],
            req("serial", "run-serial-6", e_serial),
            method="PUT",
            expectStatus=405,
        ),
    ]
    cases += protocol_1_1_replay()
    write("replay", "catalog", "Replay transcripts over the conformance catalog", cases)


# ---------------------------------------------------------------- definitions


def dcase(
    case_id: str,
    description: str,
    requirements: list[str],
    definition: dict[str, Any],
    valid: bool,
    error_path: str | None = None,
) -> dict[str, Any]:
    case: dict[str, Any] = {
        "id": case_id,
        "description": description,
        "requirements": requirements,
        "definition": definition,
        "valid": valid,
    }
    if error_path is not None:
        case["errorPath"] = error_path
    return case


def base(**extra: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "id": "fn",
        "trigger": {"event": "app.happened"},
        "priority": 0,
        "enabled": True,
        "hasOnFailure": False,
    }
    d.update(extra)
    return d


def definitions() -> None:
    c = [
        dcase("def-minimal", "as the published package sends it", ["DEF-1"], base(), True),
        dcase(
            "def-bare",
            "only id and trigger; the rest defaults",
            ["DEF-1"],
            {"id": "fn", "trigger": {"event": "x"}},
            True,
        ),
        dcase(
            "def-cron",
            "cron trigger",
            ["DEF-3", "DEF-14"],
            base(trigger={"cron": "0 3 * * *"}),
            True,
        ),
        dcase(
            "def-cron-tz-seconds",
            "cron trigger with TZ= and seconds",
            ["DEF-14", "CRON-2", "CRON-3"],
            base(trigger={"cron": "TZ=Europe/Amsterdam 30 0 9 * * MON-FRI"}),
            True,
        ),
        dcase(
            "def-everything",
            "every optional field",
            ["DEF-1", "DEF-5", "DEF-7", "DEF-8", "DEF-12"],
            base(
                version="2025-01",
                retries=5,
                timeoutMs=30000,
                priority=100,
                hasOnFailure=True,
                concurrency=[{"limit": 5}, {"limit": 1, "key": "tenantId"}],
                throttle={"limit": 10, "periodMs": 60000, "key": "user.id"},
                rateLimit={"limit": 100, "periodMs": 3600000},
            ),
            True,
        ),
        dcase("def-retries-0", "retries 0", ["DEF-5"], base(retries=0), True),
        dcase("def-retries-20", "retries 20", ["DEF-5"], base(retries=20), True),
        dcase("def-priority-bounds", "priority -600", ["DEF-6"], base(priority=-600), True),
        dcase(
            "def-concurrency-10",
            "ten concurrency rules",
            ["DEF-7"],
            base(concurrency=[{"limit": i + 1} for i in range(10)]),
            True,
        ),
        dcase(
            "def-debounce",
            "debounce with a key",
            ["DEF-9"],
            base(debounce={"periodMs": 5000, "key": "id"}),
            True,
        ),
        dcase(
            "def-batch",
            "batch with a key",
            ["DEF-10"],
            base(batch={"maxSize": 100, "timeoutMs": 1000, "key": "tenant.id"}),
            True,
        ),
        dcase(
            "def-batch-concurrency",
            "batch combines with concurrency",
            ["DEF-10", "DEF-11"],
            base(batch={"maxSize": 3, "timeoutMs": 1000}, concurrency={"limit": 1}),
            True,
        ),
        dcase(
            "def-key-index",
            "a key path with an array index",
            ["DEF-13", "PATH-1"],
            base(concurrency={"limit": 1, "key": "items.0.sku"}),
            True,
        ),
        dcase("def-id-200", "id of 200 characters", ["DEF-2"], base(id="f" * 200), True),
        dcase("def-disabled", "enabled false", ["DEF-1", "FLOW-9"], base(enabled=False), True),
        # invalid
        dcase("def-not-object", "a definition that is not an object", ["DEF-1"], ["fn"], False, ""),  # type: ignore[arg-type]
        dcase("def-no-id", "id missing", ["DEF-2"], {"trigger": {"event": "x"}}, False, ""),
        dcase("def-empty-id", "empty id", ["DEF-2"], base(id=""), False, "/id"),
        dcase("def-long-id", "id of 201 characters", ["DEF-2"], base(id="f" * 201), False, "/id"),
        dcase("def-no-trigger", "trigger missing", ["DEF-3"], {"id": "fn"}, False, ""),
        dcase(
            "def-two-triggers",
            "event and cron at once",
            ["DEF-3"],
            base(trigger={"event": "x", "cron": "* * * * *"}),
            False,
            "/trigger",
        ),
        dcase(
            "def-empty-event",
            "empty event name",
            ["DEF-3"],
            base(trigger={"event": ""}),
            False,
            "/trigger/event",
        ),
        dcase(
            "def-bad-cron",
            "cron with 4 fields",
            ["DEF-14", "CRON-1"],
            base(trigger={"cron": "0 3 * *"}),
            False,
            "/trigger/cron",
        ),
        dcase(
            "def-cron-out-of-range",
            "minute 60",
            ["DEF-14", "CRON-1"],
            base(trigger={"cron": "60 * * * *"}),
            False,
            "/trigger/cron",
        ),
        dcase(
            "def-cron-bad-zone",
            "unknown time zone",
            ["DEF-14", "CRON-3"],
            base(trigger={"cron": "TZ=Mars/Olympus 0 3 * * *"}),
            False,
            "/trigger/cron",
        ),
        dcase("def-retries-21", "retries 21", ["DEF-5"], base(retries=21), False, "/retries"),
        dcase("def-retries-negative", "retries -1", ["DEF-5"], base(retries=-1), False, "/retries"),
        dcase("def-retries-bool", "retries true", ["DEF-5"], base(retries=True), False, "/retries"),
        dcase("def-retries-float", "retries 2.5", ["DEF-5"], base(retries=2.5), False, "/retries"),
        dcase(
            "def-priority-601", "priority 601", ["DEF-6"], base(priority=601), False, "/priority"
        ),
        dcase(
            "def-enabled-string", 'enabled "yes"', ["DEF-1"], base(enabled="yes"), False, "/enabled"
        ),
        dcase("def-version-empty", "empty version", ["DEF-4"], base(version=""), False, "/version"),
        dcase(
            "def-version-long",
            "version of 101 characters",
            ["DEF-4"],
            base(version="v" * 101),
            False,
            "/version",
        ),
        dcase(
            "def-concurrency-zero",
            "concurrency limit 0",
            ["DEF-7"],
            base(concurrency={"limit": 0}),
            False,
            "/concurrency/limit",
        ),
        dcase(
            "def-concurrency-11",
            "eleven concurrency rules",
            ["DEF-7"],
            base(concurrency=[{"limit": 1}] * 11),
            False,
            "/concurrency",
        ),
        dcase(
            "def-concurrency-unknown",
            "unknown member in a concurrency rule",
            ["DEF-7", "DEF-1"],
            base(concurrency={"limit": 1, "scope": "env"}),
            False,
            "/concurrency/scope",
        ),
        dcase(
            "def-throttle-no-period",
            "throttle without periodMs",
            ["DEF-8"],
            base(throttle={"limit": 1}),
            False,
            "/throttle",
        ),
        dcase(
            "def-rate-zero-period",
            "rateLimit periodMs 0",
            ["DEF-8"],
            base(rateLimit={"limit": 1, "periodMs": 0}),
            False,
            "/rateLimit/periodMs",
        ),
        dcase(
            "def-batch-too-big",
            "batch maxSize 101",
            ["DEF-10", "LIMIT-4"],
            base(batch={"maxSize": 101, "timeoutMs": 1000}),
            False,
            "/batch/maxSize",
        ),
        dcase(
            "def-batch-debounce",
            "batch excludes debounce",
            ["DEF-11"],
            base(batch={"maxSize": 3, "timeoutMs": 1000}, debounce={"periodMs": 1000}),
            False,
            "/batch",
        ),
        dcase(
            "def-batch-throttle",
            "batch excludes throttle",
            ["DEF-11"],
            base(batch={"maxSize": 3, "timeoutMs": 1000}, throttle={"limit": 1, "periodMs": 1000}),
            False,
            "/batch",
        ),
        dcase(
            "def-debounce-ratelimit",
            "debounce excludes rateLimit",
            ["DEF-11"],
            base(debounce={"periodMs": 1000}, rateLimit={"limit": 1, "periodMs": 1000}),
            False,
            "/debounce",
        ),
        dcase(
            "def-key-empty-segment",
            "key path with an empty segment",
            ["DEF-13", "PATH-1"],
            base(concurrency={"limit": 1, "key": "user..id"}),
            False,
            "/concurrency/key",
        ),
        dcase(
            "def-key-empty",
            "empty key",
            ["DEF-13"],
            base(debounce={"periodMs": 10, "key": ""}),
            False,
            "/debounce/key",
        ),
        dcase(
            "def-timeout-negative",
            "timeoutMs -1",
            ["DEF-12"],
            base(timeoutMs=-1),
            False,
            "/timeoutMs",
        ),
        dcase(
            "def-unknown-member",
            "unknown top-level member",
            ["DEF-1"],
            base(onCancel=True),
            False,
            "/onCancel",
        ),
    ]
    c += protocol_1_1_definitions()
    write("definitions", "definitions", "FunctionDefinition validation", c)


TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def protocol_1_1_replay() -> list[dict[str, Any]]:
    """step.invoke ([INVOKE-1], [INVOKE-8], [INVOKE-9]) and trace context ([TRACE-4])."""
    invoke = ["step-invoke"]
    go = ev("conf.invoker", {"input": {"x": 1}, "timeout": "30s"}, "evt-invoker-1")
    bare = ev("conf.invoker", {}, "evt-invoker-2")

    def at(status: str, **more: Any) -> dict[str, Any]:
        return req("invoker", "run-invoker-1", go, memo(status, **more))

    def memo(status: str, **more: Any) -> dict[str, Any]:
        return {"call": {"type": "invoke", "data": {"runId": "run-child-1", "status": status,
                                                     **more}}}

    def raised(status: str, code: str, error: dict[str, Any]) -> dict[str, Any]:
        return {"op": "error", "id": "call", "message": error["message"], "name": "InvokeError",
                "code": code, "details": {"runId": "run-child-1", "status": status,
                                          "error": error}, "retryable": False}

    failed = {"message": "no stock", "name": "NonRetriableError", "code": "OUT_OF_STOCK"}
    timed = {"name": "DurableError", "code": "INVOKE_TIMEOUT", "message": "too slow"}
    gone = {"name": "DurableError", "code": "INVOKE_CANCELLED", "message": "cancelled"}
    own = f"00-{'1' * 32}-{'2' * 16}-01"
    events = [{"name": "conf.child", "data": {"k": 1}},
              {"name": "conf.child", "data": {"k": 2}, "traceparent": own}]
    return [
        rcase("replay-invoke-op", "an invoke step answers the invoke op, until = now + timeout",
              "invoker", ["INVOKE-1", "INVOKE-9"], req("invoker", "run-invoker-1", go),
              {"op": "invoke", "id": "call", "function": "echo", "app": None, "data": {"x": 1},
               "until": {"$afterMs": 30000}}, capabilities=invoke),
        rcase("replay-invoke-op-defaults", "no data is {}, no timeout is until null",
              "invoker", ["INVOKE-9"], req("invoker", "run-invoker-2", bare),
              {"op": "invoke", "id": "call", "function": "echo", "app": None, "data": {},
               "until": None}, capabilities=invoke),
        rcase("replay-invoke-completed", "a completed child's output is the step's result",
              "invoker", ["INVOKE-8"],
              at("completed", output={"echoed": True}),
              {"op": "done", "data": {"result": {"echoed": True}}}, capabilities=invoke),
        rcase("replay-invoke-failed", "a failed child: InvokeError INVOKE_FAILED at the step",
              "invoker", ["INVOKE-8"], at("failed", error=failed),
              raised("failed", "INVOKE_FAILED", failed), capabilities=invoke),
        rcase("replay-invoke-timed-out", "a timed-out step: InvokeError INVOKE_TIMEOUT",
              "invoker", ["INVOKE-8"], at("timedOut", error=timed),
              raised("timedOut", "INVOKE_TIMEOUT", timed), capabilities=invoke),
        rcase("replay-invoke-cancelled", "a cancelled child: InvokeError INVOKE_CANCELLED",
              "invoker", ["INVOKE-8"], at("cancelled", error=gone),
              raised("cancelled", "INVOKE_CANCELLED", gone), capabilities=invoke),
        rcase("replay-trace-send-event", "sent events carry the invocation's traceparent",
              "sender", ["TRACE-4"],
              req("sender", "run-trace-1", ev("conf.sender", {"n": 7}, "evt-trace-1"),
                  traceparent=TRACE),
              {"op": "sendEvent", "id": "emit", "events": [
                  {"id": "child-7", "name": "conf.child", "data": {"n": 7},
                   "traceparent": TRACE}]}, capabilities=["trace-context"]),
        rcase("replay-trace-send-event-own",
              "an event with its own traceparent keeps it; the others carry the invocation's",
              "sender", ["TRACE-4"],
              req("sender", "run-trace-2", ev("conf.sender", {"events": events}, "evt-trace-2"),
                  traceparent=TRACE),
              {"op": "sendEvent", "id": "emit",
               "events": [{**events[0], "traceparent": TRACE}, events[1]]},
              capabilities=["trace-context"]),
        rcase("replay-trace-none",
              "no traceparent on the invoke request: sent events carry none",
              "sender", ["TRACE-4"],
              req("sender", "run-trace-3", ev("conf.sender", {"events": events}, "evt-trace-3")),
              {"op": "sendEvent", "id": "emit", "events": events},
              capabilities=["trace-context"]),
    ]


def protocol_1_1_definitions() -> list[dict[str, Any]]:
    """Definition members of protocol 1.1 (wire-protocol 18.2-18.4); no capability."""
    refund = {"event": "order.refunded", "match": {"orderId": "order.id"}, "timeoutMs": 86400000}
    return [
        dcase("def-cancel-on", "one cancelOn rule with match and timeout", ["CANCEL-1"],
              base(cancelOn=[refund]), True),
        dcase("def-cancel-on-bare", "cancelOn rule with the event only", ["CANCEL-1"],
              base(cancelOn=[{"event": "user.deleted"}]), True),
        dcase("def-cancel-on-10", "ten cancelOn rules", ["CANCEL-1"],
              base(cancelOn=[{"event": f"stop.{i}"} for i in range(10)]), True),
        dcase("def-cancel-on-11", "eleven cancelOn rules", ["CANCEL-1"],
              base(cancelOn=[{"event": f"stop.{i}"} for i in range(11)]), False, "/cancelOn"),
        dcase("def-cancel-on-empty", "an empty cancelOn", ["CANCEL-1"], base(cancelOn=[]),
              False, "/cancelOn"),
        dcase("def-cancel-on-no-event", "a rule without event", ["CANCEL-1"],
              base(cancelOn=[{"match": {"a": "a"}}]), False, "/cancelOn/0"),
        dcase("def-cancel-on-bad-path", "a match value that is not a key path",
              ["CANCEL-1", "PATH-1"],
              base(cancelOn=[{"event": "x", "match": {"orderId": "order..id"}}]), False,
              "/cancelOn/0/match/orderId"),
        dcase("def-cancel-on-timeout-0", "timeoutMs 0", ["CANCEL-1"],
              base(cancelOn=[{"event": "x", "timeoutMs": 0}]), False,
              "/cancelOn/0/timeoutMs"),
        dcase("def-idempotency", "idempotency key, default period", ["IDEM-1"],
              base(idempotency={"key": "order.id"}), True),
        dcase("def-idempotency-period", "idempotency key and period", ["IDEM-1"],
              base(idempotency={"key": "order.id", "periodMs": 3600000}), True),
        dcase("def-idempotency-no-key", "idempotency without key", ["IDEM-1"],
              base(idempotency={"periodMs": 1000}), False, "/idempotency"),
        dcase("def-idempotency-batch", "idempotency excludes batch", ["IDEM-1"],
              base(idempotency={"key": "id"}, batch={"maxSize": 3, "timeoutMs": 1000}), False,
              "/idempotency"),
        dcase("def-singleton-skip", "singleton skip with a key", ["SINGLE-1"],
              base(singleton={"mode": "skip", "key": "user.id"}), True),
        dcase("def-singleton-cancel", "singleton cancel, one per function", ["SINGLE-1"],
              base(singleton={"mode": "cancel"}), True),
        dcase("def-singleton-mode", "singleton with an unknown mode", ["SINGLE-1"],
              base(singleton={"mode": "queue"}), False, "/singleton/mode"),
        dcase("def-singleton-debounce", "singleton excludes debounce", ["SINGLE-1"],
              base(singleton={"mode": "skip"}, debounce={"periodMs": 1000}), False,
              "/singleton"),
    ]


# ---------------------------------------------------------------- cron


def cron() -> None:
    cases: list[dict[str, Any]] = []

    def valid(
        case_id: str,
        description: str,
        requirements: list[str],
        expr: str,
        after: datetime,
        count: int = 3,
        check_croniter: bool = True,
    ) -> None:
        nexts = Cron(expr).next_after(after, count)
        assert len(nexts) == count, expr
        try:
            from croniter import croniter
        except ImportError:  # the cross-check is for generation time; check.py re-verifies
            check_croniter = False
        if check_croniter:
            fields = expr.split(" ")
            itr = croniter(expr, after, second_at_beginning=len(fields) == 6)
            theirs = [itr.get_next(datetime) for _ in range(count)]
            assert [iso(x) for x in theirs] == [iso(x) for x in nexts], (expr, theirs, nexts)
        cases.append(
            {
                "id": case_id,
                "description": description,
                "requirements": requirements,
                "expr": expr,
                "valid": True,
                "after": iso(after),
                "next": [iso(x) for x in nexts],
            }
        )

    def invalid(case_id: str, description: str, requirements: list[str], expr: str) -> None:
        try:
            Cron(expr)
        except CronError:
            pass
        else:
            raise AssertionError(f"{expr} should be invalid")
        cases.append(
            {
                "id": case_id,
                "description": description,
                "requirements": requirements,
                "expr": expr,
                "valid": False,
            }
        )

    utc = UTC
    t0 = datetime(2026, 1, 1, 0, 0, tzinfo=utc)
    valid(
        "cron-every-minute",
        "every minute",
        ["CRON-1"],
        "* * * * *",
        datetime(2026, 1, 1, 0, 0, 30, tzinfo=utc),
    )
    valid("cron-nightly", "03:00 UTC daily", ["CRON-1", "CRON-3"], "0 3 * * *", t0)
    valid(
        "cron-strictly-after",
        "a fire time equal to after is not returned",
        ["CRON-1"],
        "0 3 * * *",
        datetime(2026, 1, 1, 3, 0, tzinfo=utc),
    )
    valid(
        "cron-step-minutes",
        "every 15 minutes",
        ["CRON-1"],
        "*/15 * * * *",
        datetime(2026, 1, 1, 0, 7, tzinfo=utc),
        4,
    )
    valid("cron-range-list", "ranges and lists", ["CRON-1"], "0,30 9-10 * * *", t0, 5)
    valid(
        "cron-weekdays-names",
        "weekdays by name",
        ["CRON-1"],
        "0 9 * * MON-FRI",
        datetime(2026, 1, 2, 12, 0, tzinfo=utc),
        3,
    )
    valid("cron-sunday-7", "7 is Sunday as well as 0", ["CRON-1"], "0 0 * * 7", t0, 2)
    valid(
        "cron-dom-dow-or",
        "day of month and day of week both restricted: either matches",
        ["CRON-6"],
        "0 0 13 * FRI",
        datetime(2026, 2, 1, tzinfo=utc),
        4,
    )
    valid("cron-month-names", "month names", ["CRON-1"], "0 0 1 JAN,JUL *", t0, 3)
    valid("cron-leap-day", "29 February", ["CRON-1"], "0 12 29 2 *", t0, 2)
    valid(
        "cron-six-seconds",
        "six fields: seconds first",
        ["CRON-2"],
        "*/20 * * * * *",
        datetime(2026, 1, 1, 0, 0, 5, tzinfo=utc),
        4,
    )
    valid("cron-six-specific", "six fields: 09:30:15 daily", ["CRON-2"], "15 30 9 * * *", t0, 2)
    valid("cron-range-step", "range with a step", ["CRON-1"], "0 8-18/4 * * *", t0, 4)
    valid(
        "cron-tz-new-york",
        "TZ= prefix: 09:00 in New York (EST)",
        ["CRON-3"],
        "TZ=America/New_York 0 9 * * *",
        t0,
        2,
        check_croniter=False,
    )
    # DST: Europe/Amsterdam 2026-03-29 02:00 -> 03:00; 2026-10-25 03:00 -> 02:00. Checked by hand:
    # spring: 02:30 does not exist on 29 March -> skipped (28 Mar 01:30Z, 30 Mar 00:30Z).
    # fall: 02:30 happens twice on 25 October -> fires at the first (00:30Z), not at 01:30Z.
    valid(
        "cron-dst-spring-skip",
        "Amsterdam spring forward: 02:30 does not exist and is skipped",
        ["CRON-3", "CRON-4"],
        "TZ=Europe/Amsterdam 30 2 * * *",
        datetime(2026, 3, 28, 0, 0, tzinfo=utc),
        3,
        check_croniter=False,
    )
    valid(
        "cron-dst-fall-once",
        "Amsterdam fall back: 02:30 happens twice and fires once, at the first",
        ["CRON-3", "CRON-5"],
        "TZ=Europe/Amsterdam 30 2 * * *",
        datetime(2026, 10, 24, 0, 0, tzinfo=utc),
        3,
        check_croniter=False,
    )
    valid(
        "cron-dst-fall-hourly",
        "hourly across fall back: the repeated 02:00 fires once",
        ["CRON-5"],
        "TZ=Europe/Amsterdam 0 * * * *",
        datetime(2026, 10, 24, 23, 0, tzinfo=utc),
        4,
        check_croniter=False,
    )
    valid(
        "cron-dst-spring-hourly",
        "hourly across spring forward: 02:00 local does not exist",
        ["CRON-4"],
        "TZ=Europe/Amsterdam 0 * * * *",
        datetime(2026, 3, 28, 23, 30, tzinfo=utc),
        4,
        check_croniter=False,
    )
    valid(
        "cron-dow-step-stops-at-6",
        "day-of-week 5/2 is Friday only: N/S runs to 6, and 7 is just another Sunday",
        ["CRON-1"],
        "0 0 * * 5/2",
        datetime(2026, 1, 1, 0, 0, tzinfo=utc),
        3,
        check_croniter=False,
    )
    expected = {
        "cron-dst-spring-skip": [
            "2026-03-28T01:30:00.000Z",
            "2026-03-30T00:30:00.000Z",
            "2026-03-31T00:30:00.000Z",
        ],
        "cron-dst-fall-once": [
            "2026-10-24T00:30:00.000Z",
            "2026-10-25T00:30:00.000Z",
            "2026-10-26T01:30:00.000Z",
        ],
        "cron-dst-fall-hourly": [
            "2026-10-25T00:00:00.000Z",
            "2026-10-25T02:00:00.000Z",
            "2026-10-25T03:00:00.000Z",
            "2026-10-25T04:00:00.000Z",
        ],
        "cron-dst-spring-hourly": [
            "2026-03-29T00:00:00.000Z",
            "2026-03-29T01:00:00.000Z",
            "2026-03-29T02:00:00.000Z",
            "2026-03-29T03:00:00.000Z",
        ],
    }
    for case in cases:  # the hand-checked DST answers
        if case["id"] in expected:
            assert case["next"] == expected[case["id"]], (case["id"], case["next"])
    invalid("cron-invalid-four-fields", "four fields", ["CRON-1"], "0 3 * *")
    invalid("cron-invalid-seven-fields", "seven fields", ["CRON-2"], "0 0 3 * * * 2026")
    invalid("cron-invalid-minute", "minute 60", ["CRON-1"], "60 * * * *")
    invalid("cron-invalid-second", "second 60 in six fields", ["CRON-2"], "60 * * * * *")
    invalid("cron-invalid-dom-zero", "day of month 0", ["CRON-1"], "0 0 0 * *")
    invalid("cron-invalid-step-zero", "step 0", ["CRON-1"], "*/0 * * * *")
    invalid("cron-invalid-reversed", "reversed range", ["CRON-1"], "0 10-8 * * *")
    invalid("cron-invalid-quartz", "Quartz ? is not supported", ["CRON-1"], "0 0 12 ? * *")
    invalid("cron-invalid-zone", "unknown time zone", ["CRON-3"], "TZ=Nowhere/Atlantis 0 3 * * *")
    invalid("cron-invalid-never", "30 February never fires", ["CRON-1"], "0 0 30 2 *")
    invalid("cron-invalid-empty", "empty expression", ["CRON-1"], "")
    invalid("cron-invalid-macro", "@daily macros are not supported", ["CRON-1"], "@daily")
    write("cron", "cron", "Cron expressions and their next fire times", cases)


# ---------------------------------------------------------------- durations


def durations() -> None:
    units = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
    cases: list[dict[str, Any]] = []
    for text in ("250ms", "2s", "5m", "1h", "2d", "0s", "1000ms", "90m", "007s", "104249991d"):
        number = int(text.rstrip("msdh"))
        unit = text[len(str(text.rstrip("msdh"))) :]
        cases.append(
            {
                "id": f"dur-{text}",
                "description": f"{text}",
                "requirements": ["DUR-1"],
                "input": text,
                "valid": True,
                "ms": number * units[unit],
            }
        )
    for number in (0, 1500, 86_400_000):
        cases.append(
            {
                "id": f"dur-int-{number}",
                "description": "an integer is milliseconds",
                "requirements": ["DUR-2"],
                "input": number,
                "valid": True,
                "ms": number,
            }
        )
    for text, why in (
        ("", "empty"),
        ("s", "no number"),
        ("1.5s", "fraction"),
        ("-1s", "sign"),
        ("+1s", "sign"),
        ("1w", "unknown unit"),
        ("2 s", "space"),
        (" 2s", "leading space"),
        ("2S", "uppercase unit"),
        ("1h30m", "compound"),
        ("10", "string without a unit"),
        ("104249992d", "more than 2^53-1 ms"),
    ):
        slug = "".join(ch if ch.isalnum() else "-" for ch in why.lower())
        cases.append(
            {
                "id": f"dur-bad-{slug}-{len(cases)}",
                "description": why,
                "requirements": ["DUR-3"],
                "input": text,
                "valid": False,
            }
        )
    cases.append(
        {
            "id": "dur-bad-negative-int",
            "description": "negative integer",
            "requirements": ["DUR-3"],
            "input": -1,
            "valid": False,
        }
    )
    write("durations", "durations", "Duration strings and integers", cases)


# ---------------------------------------------------------------- match and keys

MISSING = object()


def resolve(data: Any, path: str) -> Any:
    node = data
    for segment in path.split("."):
        if isinstance(node, dict) and segment in node:
            node = node[segment]
        elif (
            isinstance(node, list)
            and segment.isdigit()
            and (segment == "0" or not segment.startswith("0"))
            and int(segment) < len(node)
        ):
            node = node[int(segment)]
        else:
            return MISSING
    return node


def json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def matches(match: dict[str, Any] | None, wait_event: str, event: dict[str, Any]) -> bool:
    if event["name"] != wait_event:
        return False
    for path, expected in (match or {}).items():
        value = resolve(event.get("data"), path)
        if value is MISSING or not json_equal(value, expected):
            return False
    return True


def canonical(value: Any) -> str:
    """Canonical JSON text (RFC 8785 for the values used here).

    Sorted keys, no spaces, integral floats as integers.
    """
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(
                json.dumps(k, ensure_ascii=False) + ":" + canonical(value[k]) for k in sorted(value)
            )
            + "}"
        )
    if isinstance(value, list):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def match_and_keys() -> None:
    data = {
        "userId": "u1",
        "user": {"id": 7, "tags": ["a", "b"], "plan": None},
        "items": [{"sku": "S-1", "qty": 2.0}],
        "flag": True,
        "amount": 1,
    }
    incoming = {"id": "evt-m-1", "name": "order.approved", "data": data, "ts": NOW}
    specs: list[tuple[str, str, dict[str, Any] | None, str, list[str]]] = [
        ("match-null", "null matches any event of the name", None, "order.approved", ["MATCH-3"]),
        ("match-empty", "{} matches any event of the name", {}, "order.approved", ["MATCH-3"]),
        ("match-other-name", "the name must be equal", None, "order.created", ["MATCH-1"]),
        (
            "match-top-level",
            "top-level field",
            {"userId": "u1"},
            "order.approved",
            ["MATCH-2", "PATH-1"],
        ),
        (
            "match-top-level-differs",
            "different value",
            {"userId": "u2"},
            "order.approved",
            ["MATCH-2"],
        ),
        ("match-dotted", "dotted path", {"user.id": 7}, "order.approved", ["MATCH-2", "PATH-1"]),
        ("match-number-by-value", "7 equals 7.0", {"user.id": 7.0}, "order.approved", ["MATCH-2"]),
        ("match-no-coercion", '"7" is not 7', {"user.id": "7"}, "order.approved", ["MATCH-2"]),
        ("match-bool-not-number", "true is not 1", {"amount": True}, "order.approved", ["MATCH-2"]),
        (
            "match-array-index",
            "array index segment",
            {"items.0.sku": "S-1"},
            "order.approved",
            ["PATH-1"],
        ),
        (
            "match-array-out-of-range",
            "index past the end is missing",
            {"items.1.sku": "S-1"},
            "order.approved",
            ["PATH-2"],
        ),
        (
            "match-missing-vs-null",
            "a missing path never matches, not even null",
            {"user.missing": None},
            "order.approved",
            ["PATH-2", "MATCH-2"],
        ),
        (
            "match-present-null",
            "a present null matches null",
            {"user.plan": None},
            "order.approved",
            ["MATCH-2"],
        ),
        (
            "match-array-equal",
            "arrays compare in order",
            {"user.tags": ["a", "b"]},
            "order.approved",
            ["MATCH-2"],
        ),
        (
            "match-array-order",
            "arrays in another order differ",
            {"user.tags": ["b", "a"]},
            "order.approved",
            ["MATCH-2"],
        ),
        (
            "match-object-equal",
            "objects compare by keys and values, any order",
            {"items.0": {"qty": 2, "sku": "S-1"}},
            "order.approved",
            ["MATCH-2"],
        ),
        (
            "match-all-entries",
            "every entry must match",
            {"userId": "u1", "user.id": 8},
            "order.approved",
            ["MATCH-2"],
        ),
        (
            "match-all-entries-ok",
            "several entries all matching",
            {"userId": "u1", "flag": True, "user.tags.1": "b"},
            "order.approved",
            ["MATCH-2"],
        ),
        (
            "match-through-scalar",
            "a path through a scalar is missing",
            {"userId.x": "u1"},
            "order.approved",
            ["PATH-2"],
        ),
    ]
    cases = [
        {
            "id": cid,
            "description": desc,
            "requirements": reqs,
            "match": m,
            "waitEvent": name,
            "event": incoming,
            "matches": matches(m, name, incoming),
        }
        for cid, desc, m, name, reqs in specs
    ]
    string_data = {"id": "evt-m-2", "name": "order.approved", "data": "u1", "ts": NOW}
    cases.append(
        {
            "id": "match-non-object-data",
            "description": "data that is not an object has no fields",
            "requirements": ["PATH-2"],
            "match": {"userId": "u1"},
            "waitEvent": "order.approved",
            "event": string_data,
            "matches": matches({"userId": "u1"}, "order.approved", string_data),
        }
    )
    write("match", "match", "wait match semantics", cases)

    key_specs = [
        ("key-string", "a string value", "userId", ["PATH-3"]),
        ("key-number", "an integer", "user.id", ["PATH-3"]),
        ("key-integral-float", "2.0 is canonicalized as 2", "items.0.qty", ["PATH-3"]),
        ("key-object", "an object: sorted keys, no spaces", "items.0", ["PATH-3"]),
        ("key-array", "an array", "user.tags", ["PATH-3"]),
        ("key-missing", "a missing path resolves to null", "tenantId", ["PATH-2", "PATH-3"]),
        ("key-null", "a present null", "user.plan", ["PATH-3"]),
        ("key-bool", "a boolean", "flag", ["PATH-3"]),
        ("key-index", "array index", "user.tags.1", ["PATH-1"]),
        (
            "key-leading-zero-index",
            "01 is not an array index",
            "user.tags.01",
            ["PATH-1", "PATH-2"],
        ),
    ]
    kcases = []
    for cid, desc, key, reqs in key_specs:
        value = resolve(data, key)
        kcases.append(
            {
                "id": cid,
                "description": desc,
                "requirements": reqs,
                "key": key,
                "event": incoming,
                "value": "null" if value is MISSING else canonical(value),
            }
        )
    unicode_event = {
        "id": "evt-k-2",
        "name": "x",
        "data": {"tenant": {"name": "Zürich", "b": 1, "a": [1.5, "é"]}},
    }
    kcases.append(
        {
            "id": "key-unicode-object",
            "description": "non-ASCII stays unescaped; keys sorted",
            "requirements": ["PATH-3"],
            "key": "tenant",
            "event": unicode_event,
            "value": canonical(unicode_event["data"]["tenant"]),
        }
    )
    write("keys", "keys", "flow-control key resolution", kcases)


# ---------------------------------------------------------------- engine API requests


def acase(
    case_id: str,
    description: str,
    requirements: list[str],
    path: str,
    body: Any,
    error: tuple[str, str | None] | None = None,
    raw: str | None = None,
) -> dict[str, Any]:
    case: dict[str, Any] = {
        "id": case_id,
        "description": description,
        "requirements": requirements,
        "path": path,
    }
    if raw is not None:
        case["rawBody"] = raw
    else:
        case["body"] = body
    case["valid"] = error is None
    if error is not None:
        case["errorCode"] = error[0]
        if error[1] is not None:
            case["errorPath"] = error[1]
    return case


def api() -> None:
    bad = "INVALID_REQUEST"
    published_sync = {
        "sdkVersion": "python/0.1.0",
        "functions": [base(id="serial", trigger={"event": "conf.serial"})],
    }
    cases = [
        acase("api-e-minimal", "only a name", ["EVT-2"], "/e", {"name": "app.signup"}),
        acase(
            "api-e-published",
            "as the published client sends it: data of any JSON type, no ts",
            ["EVT-2", "VER-3"],
            "/e",
            {"id": "evt-1", "name": "app.signup", "data": [1, "two"]},
        ),
        acase(
            "api-e-full",
            "every envelope member",
            ["EVT-1"],
            "/e",
            {"id": "evt-2", "name": "app.signup", "data": {"userId": "u1"}, "ts": NOW},
        ),
        acase("api-e-no-name", "name missing", ["EVT-1", "API-3"], "/e", {"id": "e"}, (bad, "")),
        acase("api-e-empty-name", "empty name", ["EVT-1"], "/e", {"name": ""}, (bad, "/name")),
        acase(
            "api-e-long-id",
            "id of 201 characters",
            ["EVT-1"],
            "/e",
            {"id": "e" * 201, "name": "x"},
            (bad, "/id"),
        ),
        acase(
            "api-e-unknown-member",
            "the envelope is closed",
            ["EVT-1", "API-3"],
            "/e",
            {"name": "x", "user": {"id": 1}},
            (bad, "/user"),
        ),
        acase(
            "api-e-reserved-name",
            "durable/ names are the engine's",
            ["EVT-6"],
            "/e",
            {"name": "durable/cron"},
            (bad, "/name"),
        ),
        acase(
            "api-e-negative-ts",
            "ts must be unix ms",
            ["EVT-1"],
            "/e",
            {"name": "x", "ts": -1},
            (bad, "/ts"),
        ),
        acase(
            "api-e-not-object",
            "the body must be an object",
            ["API-1", "API-3"],
            "/e",
            ["x"],
            (bad, ""),
        ),
        acase(
            "api-e-not-json",
            "a body that is not JSON",
            ["API-3"],
            "/e",
            None,
            ("INVALID_JSON", None),
            raw='{"name":',
        ),
        acase(
            "api-bulk-two",
            "two events",
            ["API-7"],
            "/e/bulk",
            {"events": [{"name": "a"}, {"id": "b-1", "name": "b", "data": None}]},
        ),
        acase(
            "api-bulk-empty",
            "no events",
            ["API-7", "LIMIT-4"],
            "/e/bulk",
            {"events": []},
            (bad, "/events"),
        ),
        acase(
            "api-bulk-101",
            "101 events",
            ["LIMIT-4"],
            "/e/bulk",
            {"events": [{"name": "a"}] * 101},
            (bad, "/events"),
        ),
        acase(
            "api-bulk-bad-item",
            "one bad event refuses the call, with its path",
            ["API-7"],
            "/e/bulk",
            {"events": [{"name": "a"}, {"name": ""}]},
            (bad, "/events/1/name"),
        ),
        acase(
            "api-sync-published",
            "sync as the published client sends it",
            ["API-6", "VER-3"],
            "/fn/sync",
            published_sync,
        ),
        acase(
            "api-sync-capabilities",
            "sync with capabilities, unknown names included",
            ["MAN-2", "MAN-5", "VER-2"],
            "/fn/sync",
            {
                **published_sync,
                "capabilities": ["strict-replay", "from-the-future"],
                "maxRequestBytes": 2097152,
            },
        ),
        acase(
            "api-sync-bad-definition",
            "the path points into the failing definition",
            ["DEF-1", "API-6"],
            "/fn/sync",
            {**published_sync, "functions": [base(retries=99)]},
            (bad, "/functions/0/retries"),
        ),
        acase(
            "api-sync-duplicate-runtime-id",
            "two definitions with one runtime id: the later one is refused",
            ["DEF-15", "API-6", "API-2"],
            "/fn/sync",
            {**published_sync, "functions": [base(), base(retries=1)]},
            (bad, "/functions/1/id"),
        ),
        acase(
            "api-sync-app-url-refused",
            "a sync cannot set the callback URL: the request is closed",
            ["ROLE-3", "API-3"],
            "/fn/sync",
            {**published_sync, "appUrl": "http://attacker.example/api/durable"},
            (bad, "/appUrl"),
        ),
        acase(
            "api-sync-small-limit",
            "maxRequestBytes below 65536",
            ["MAN-1"],
            "/fn/sync",
            {**published_sync, "maxRequestBytes": 1000},
            (bad, "/maxRequestBytes"),
        ),
        acase(
            "api-search-filters",
            "every filter",
            ["API-8"],
            "/runs/search",
            {"functionId": "serial", "status": "failed", "limit": 10},
        ),
        acase("api-search-empty", "no filter at all", ["API-8"], "/runs/search", {}),
        acase(
            "api-search-bad-status",
            "an unknown status",
            ["API-8", "STATUS-1"],
            "/runs/search",
            {"status": "done"},
            (bad, "/status"),
        ),
        acase(
            "api-search-limit-101",
            "limit over 100",
            ["API-8"],
            "/runs/search",
            {"limit": 101},
            (bad, "/limit"),
        ),
        acase("api-get", "a run id", ["API-9"], "/runs/get", {"runId": "run-1"}),
        acase("api-get-no-run", "runId missing", ["API-9", "API-3"], "/runs/get", {}, (bad, "")),
        acase("api-cancel", "a run id", ["API-10"], "/runs/cancel", {"runId": "run-1"}),
        acase(
            "api-rerun-from-step",
            "rerun from a step",
            ["API-11"],
            "/runs/rerun",
            {"runId": "run-1", "stepId": "b", "idempotencyKey": "k-1"},
        ),
        acase(
            "api-rerun-no-key",
            "idempotencyKey is required",
            ["API-12"],
            "/runs/rerun",
            {"runId": "run-1"},
            (bad, ""),
        ),
        acase("api-failures-search", "a limit", ["API-13"], "/failures/search", {"limit": 50}),
        acase(
            "api-failures-retry",
            "a delivery id",
            ["API-13"],
            "/failures/retry",
            {"deliveryId": "d-1"},
        ),
        acase(
            "api-versions-status",
            "a function id",
            ["API-14"],
            "/versions/status",
            {"functionId": "versioned"},
        ),
        acase(
            "api-apps-create",
            "as provision_app sends it",
            ["ADMIN-2", "VER-3"],
            "/api/apps",
            {"name": "shop", "environment": "dev", "appUrl": "http://localhost:3000/api/durable"},
        ),
        acase(
            "api-apps-bad-url",
            "appUrl must be http(s)",
            ["ADMIN-2"],
            "/api/apps",
            {"name": "shop", "environment": "dev", "appUrl": "ftp://x"},
            (bad, "/appUrl"),
        ),
        acase(
            "api-apps-no-env",
            "environment missing",
            ["ADMIN-2"],
            "/api/apps",
            {"name": "shop", "appUrl": "http://x"},
            (bad, ""),
        ),
    ]
    write(
        "api", "requests", "Engine API request validation (400 answers and their error.path)", cases
    )


# The conformance catalog (conformance/README.md) as function definitions on the wire:
# what an SDK's manifest must list, option by option, in this order.
CATALOG = [
    ("serial", {}), ("echo", {}), ("sleeper", {}), ("waiter", {}), ("sender", {}),
    ("flaky", {"retries": 2}), ("fatal", {}), ("handler-error", {}),
    ("with-failure", {"retries": 0, "hasOnFailure": True}), ("parallel", {}), ("loop", {}),
    ("mismatch", {}), ("big", {}), ("batcher", {"batch": {"maxSize": 3, "timeoutMs": 1000}}),
    ("versioned", {"version": "2"}), ("nightly", {"trigger": {"cron": "0 3 * * *"}}),
    ("invoker", {}),
]


def catalog_definitions() -> None:
    cases = []
    for function_id, options in CATALOG:
        definition = {"id": function_id, "trigger": {"event": f"conf.{function_id}"}, **options}
        shown = ", ".join(f"{k} {json.dumps(v)}" for k, v in options.items()) or "no options"
        case = dcase(f"catalog-{function_id}",
                     f"catalog function {function_id} as its manifest lists it ({shown}); an"
                     " SDK's option names (retries=2, timeout '1s') appear on the wire as here",
                     ["MAN-1", "MAN-4", "DEF-1"], definition, True)
        case["catalogFunction"] = function_id
        cases.append(case)
    write("definitions", "catalog",
          "The conformance catalog's function definitions in wire form, in manifest order",
          cases)


def xcase(case_id: str, description: str, requirements: list[str], method: str, path: str,
          auth: str, expect: dict[str, Any], **extra: Any) -> dict[str, Any]:
    case: dict[str, Any] = {"id": case_id, "description": description,
                            "requirements": requirements, "method": method, "path": path,
                            "auth": auth}
    case.update(extra)
    case["expect"] = expect
    return case


def exchanges() -> None:
    def err(status: int, code: str) -> dict[str, Any]:
        return {"status": status, "errorCode": code, "contentType": "application/json"}

    unknown = {"runId": "run-that-does-not-exist"}
    hook_transform = "{name: 'conf.hook', data: body.order}"
    hook_create = {"method": "POST", "path": "/api/apps/{app}/webhooks",
                   "body": {"name": "orders", "transform": hook_transform,
                            "signature": {"preset": "github", "secret": "hook-secret"}}}
    hook_plain = {"method": "POST", "path": "/api/apps/{app}/webhooks",
                  "body": {"name": "plain", "transform": hook_transform}}
    cases = [
        xcase("xch-unknown-path", "a path the engine does not serve", ["API-4", "API-2"],
              "POST", "/no/such/path", "workspace", err(404, "NOT_FOUND"), body={}),
        xcase("xch-e-get", "GET on a POST-only path names the allowed method",
              ["API-4", "API-2"], "GET", "/e", "workspace",
              {**err(405, "METHOD_NOT_ALLOWED"), "allow": ["POST"]}),
        xcase("xch-runs-get-put", "PUT on a POST-only path", ["API-4"], "PUT", "/runs/get",
              "workspace", {**err(405, "METHOD_NOT_ALLOWED"), "allow": ["POST"]}, body={}),
        xcase("xch-openapi", "the OpenAPI document, without credentials", ["API-15"], "GET",
              "/openapi.yaml", "none", {"status": 200, "contentType": "application/yaml"}),
        xcase("xch-admin-no-token", "the admin API without a token", ["ADMIN-1", "API-2"],
              "GET", "/api/apps", "none", err(401, "UNAUTHORIZED")),
        xcase("xch-admin-wrong-token", "the admin API with another token", ["ADMIN-1"],
              "POST", "/api/apps", "wrong-token", err(401, "UNAUTHORIZED"),
              body={"name": "x", "environment": "dev", "appUrl": "http://127.0.0.1:9/x"}),
        xcase("xch-admin-list-no-key", "the app list shows no signing key", ["ADMIN-3"],
              "GET", "/api/apps", "admin",
              {"status": 200, "contentType": "application/json", "noMember": "key"}),
        xcase("xch-admin-patch-unknown", "updating an unknown app", ["ADMIN-4", "API-2"],
              "PATCH", "/api/apps/app-that-does-not-exist", "admin", err(404, "NOT_FOUND"),
              body={"name": "renamed"}),
        xcase("xch-admin-delete-unknown", "deleting an unknown app", ["ADMIN-5", "API-2"],
              "DELETE", "/api/apps/app-that-does-not-exist", "admin", err(404, "NOT_FOUND")),
        xcase("xch-unknown-app", "X-Durable-App names no workspace", ["SIG-8", "API-2"],
              "POST", "/runs/search", "unknown-app", err(401, "INVALID_SIGNATURE"), body={}),
        xcase("xch-wrong-key", "signed with a key the workspace does not hold", ["SIG-8"],
              "POST", "/runs/search", "wrong-key", err(401, "INVALID_SIGNATURE"), body={}),
        xcase("xch-unsigned", "no credentials at all", ["SIG-8"], "POST", "/runs/search",
              "none", err(401, "INVALID_SIGNATURE"), body={}),
        xcase("xch-runs-get-unknown", "an unknown run", ["API-9", "API-2"], "POST",
              "/runs/get", "workspace", err(404, "NOT_FOUND"), body=unknown),
        xcase("xch-runs-cancel-unknown", "cancelling an unknown run", ["API-10"], "POST",
              "/runs/cancel", "workspace", err(404, "NOT_FOUND"), body=unknown),
        xcase("xch-runs-history-unknown", "the history of an unknown run", ["API-19"], "POST",
              "/runs/history", "workspace", err(404, "NOT_FOUND"), body=unknown),
        xcase("xch-failures-retry-unknown", "retrying an unknown delivery", ["API-13"], "POST",
              "/failures/retry", "workspace", err(404, "NOT_FOUND"),
              body={"deliveryId": "delivery-that-does-not-exist"}),
        xcase("xch-versions-unknown", "versions of an unknown function", ["API-14", "API-2"],
              "POST", "/versions/status", "workspace", err(404, "UNKNOWN_FUNCTION"),
              body={"functionId": "function-that-does-not-exist"}),
        xcase("xch-bulk-cancel-no-filter", "a bulk cancel must name a filter", ["API-16"],
              "POST", "/runs/bulk-cancel", "workspace", err(400, "INVALID_REQUEST"), body={}),
        xcase("xch-oversized-body", "a body over apiRequestBytes (1048576), valid JSON",
              ["API-3", "LIMIT-6"], "POST", "/e", "workspace", err(413, "PAYLOAD_TOO_LARGE"),
              body={"name": "conf.big"}, padBytes=1_048_577),
        xcase("xch-oversized-before-signature", "the size is checked before the signature",
              ["API-1", "API-3", "LIMIT-6"], "POST", "/e", "wrong-key",
              err(413, "PAYLOAD_TOO_LARGE"), body={"name": "conf.big"}, padBytes=1_048_577),
        xcase("xch-event-too-large", "an event over eventBytes (262144)",
              ["EVT-3", "LIMIT-6"], "POST", "/e", "workspace", err(413, "PAYLOAD_TOO_LARGE"),
              body={"name": "conf.big", "data": {}}, fill={"member": "data", "chars": 262_200}),
        xcase("xch-functions-list", "the workspace's live functions", ["API-21"], "POST",
              "/functions/list", "workspace",
              {"status": 200, "contentType": "application/json", "hasMember": "functions"},
              body={}),
        xcase("xch-rotate-twice", "a third key: rotate-key on an app with two keys",
              ["KEY-4", "API-2"], "POST", "/api/apps/{app}/rotate-key", "admin",
              err(409, "CONFLICT"), freshApp=True,
              before=[{"method": "POST", "path": "/api/apps/{app}/rotate-key"}]),
        xcase("xch-retire-single", "retire-key on an app with one key", ["KEY-5"], "POST",
              "/api/apps/{app}/retire-key", "admin", err(409, "CONFLICT"), freshApp=True),
        xcase("xch-webhook-unknown-app", "a webhook of an unknown app", ["HOOK-1", "API-2"],
              "POST", "/api/apps/app-that-does-not-exist/webhooks", "admin",
              err(404, "NOT_FOUND"), body={"name": "orders", "transform": hook_transform}),
        xcase("xch-webhook-bad-transform", "a transform that does not compile", ["HOOK-1"],
              "POST", "/api/apps/{app}/webhooks", "admin", err(400, "INVALID_REQUEST"),
              freshApp=True, body={"name": "orders", "transform": "body.[unclosed"}),
        xcase("xch-webhook-duplicate", "a second webhook of the same name in one app",
              ["HOOK-1"], "POST", "/api/apps/{app}/webhooks", "admin", err(409, "CONFLICT"),
              freshApp=True, body={"name": "orders", "transform": hook_transform},
              before=[hook_create]),
        xcase("xch-webhook-unknown-token", "a webhook URL whose token names no endpoint",
              ["HOOK-2"], "POST", "/w/token-that-names-no-webhook-endpoint-at-all", "none",
              err(404, "NOT_FOUND"), body={"id": 1}),
        xcase("xch-webhook-list-no-secret", "the webhook list never shows a secret",
              ["HOOK-5"], "GET", "/api/apps/{app}/webhooks", "admin",
              {"status": 200, "contentType": "application/json", "hasMember": "webhooks",
               "noMember": "secret"}, freshApp=True, before=[hook_create]),
        xcase("xch-webhook-test-event", "test evaluates the transform into an event",
              ["HOOK-4"], "POST", "/api/apps/{app}/webhooks/orders/test", "admin",
              {"status": 200, "contentType": "application/json", "hasMember": "event"},
              freshApp=True, before=[hook_create],
              body={"body": compact({"order": {"id": 7}})}),
        xcase("xch-webhook-remove-and-set", "update naming both removeSignature and"
              " signature", ["HOOK-6"], "PATCH", "/api/apps/{app}/webhooks/orders", "admin",
              err(400, "INVALID_REQUEST"), freshApp=True, before=[hook_create],
              body={"removeSignature": True,
                    "signature": {"preset": "github", "secret": "another-secret"}}),
        xcase("xch-webhook-accepted", "a webhook delivery whose transform makes a valid"
              " event is accepted and answered with its receipt", ["HOOK-3"], "POST",
              "/w/{hook}", "none", {"status": 200, "contentType": "application/json",
                                     "hasMember": "runIds"},
              freshApp=True, before=[hook_plain], body={"order": {"id": 7}}),
        xcase("xch-webhook-not-an-event", "a transform result without an event name",
              ["HOOK-3"], "POST", "/w/{hook}", "none", err(400, "INVALID_REQUEST"),
              freshApp=True, body={"order": {"id": 7}},
              before=[{**hook_plain, "body": {"name": "nameless", "transform": "{data: body}"}}]),
        xcase("xch-webhook-unsigned", "an unsigned delivery to a github-signed webhook",
              ["HOOK-2"], "POST", "/w/{hook}", "none", err(401, "INVALID_SIGNATURE"),
              freshApp=True, before=[hook_create], body={"order": {"id": 7}}),
        xcase("xch-environment-header", "a 200 answer to a signed call names the"
              " workspace's environment", ["ENV-2"], "POST", "/functions/list", "workspace",
              {"status": 200, "contentType": "application/json",
               "headers": {"x-durable-environment": "dev"}}, body={}),
        xcase("xch-webhook-deliveries", "the deliveries of a webhook endpoint", ["HOOK-7"],
              "GET", "/api/apps/{app}/webhooks/orders/deliveries", "admin",
              {"status": 200, "contentType": "application/json", "hasMember": "deliveries"},
              freshApp=True, before=[hook_create]),
    ]
    write("exchanges", "engine-api",
          "Engine API exchanges: one request, the status, error code and headers it must get",
          cases)


def runs() -> None:
    def fn(function_id: str, answers: list[dict[str, Any]], **definition: Any) -> dict[str, Any]:
        return {"id": function_id, "definition": definition, "answers": answers}

    def op(value: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {"op": value, **extra}

    def inv(attempt: int, steps: list[str], **extra: Any) -> dict[str, Any]:
        return {"attempt": attempt, "steps": steps, **extra}

    def error(message: str, retryable: bool, step: str | None = None,
              **extra: Any) -> dict[str, Any]:
        return op({"op": "error", "id": step, "message": message, "name": "Error",
                   **extra, "retryable": retryable})

    def ev_(name: str, data: Any = None) -> dict[str, Any]:
        return {"name": name, "data": {} if data is None else data}

    done_ok = op({"op": "done", "data": "ok"})
    cases = [
        {"id": "runs-memos-sent-back", "description": "each committed memo comes back in"
         " `steps` of every later invocation, and nothing else; attempt restarts at 0",
         "requirements": ["REPLAY-7", "OP-2", "OP-7", "RETRY-2"],
         "functions": [fn("memos", [op({"op": "step", "id": "a", "data": 1}),
                                    op({"op": "step", "id": "b", "data": 2}),
                                    op({"op": "done", "data": {"sum": 3}})])],
         "events": [ev_("conf.fake.memos")],
         "expect": {"runs": [[{"function": "memos", "status": "completed",
                               "output": {"sum": 3}}]],
                    "invocations": {"memos": [inv(0, []), inv(0, ["a"]), inv(0, ["a", "b"])]}}},
        {"id": "runs-retries-exhausted", "description": "retries 1: two attempts, then the run"
         " fails with the last error op's members, shown by /runs/get",
         "requirements": ["RETRY-1", "RETRY-5", "ERR-6", "RETRY-2"],
         "functions": [fn("exhaust", [error("still broken", True, "s", code="E_BROKEN")],
                          retries=1)],
         "events": [ev_("conf.fake.exhaust")],
         "expect": {"runs": [[{"function": "exhaust", "status": "failed",
                               "error": {"message": "still broken", "name": "Error",
                                         "code": "E_BROKEN", "stepId": "s"}}]],
                    "invocations": {"exhaust": [inv(0, []), inv(1, [])]}}},
        {"id": "runs-http-500-is-a-failed-invocation", "description": "a 500 answer counts as a"
         " failed invocation and is retried",
         "requirements": ["RETRY-3", "RETRY-2"],
         "functions": [fn("http500", [{"status": 500}, done_ok], retries=2)],
         "events": [ev_("conf.fake.http500")],
         "expect": {"runs": [[{"function": "http500", "status": "completed", "output": "ok"}]],
                    "invocations": {"http500": [inv(0, []), inv(1, [])]}}},
        {"id": "runs-unknown-op", "description": "an answer that is not a valid op is a failed"
         " invocation; retries 0: the run fails with RETRIES_EXHAUSTED",
         "requirements": ["OP-10", "RETRY-3", "RETRY-5"],
         "functions": [fn("teleport", [op({"op": "teleport", "id": "x"}, badOp=True)],
                          retries=0)],
         "events": [ev_("conf.fake.teleport")],
         "expect": {"runs": [[{"function": "teleport", "status": "failed",
                               "error": {"name": "DurableError",
                                         "code": "RETRIES_EXHAUSTED"}}]],
                    "invocations": {"teleport": [inv(0, [])]}}},
        {"id": "runs-step-id-twice", "description": "a step op naming a memoized step id fails"
         " the run NON_DETERMINISTIC",
         "requirements": ["OP-10"],
         "functions": [fn("twice", [op({"op": "step", "id": "a", "data": 1}),
                                    op({"op": "step", "id": "a", "data": 2})], retries=2)],
         "events": [ev_("conf.fake.twice")],
         "expect": {"runs": [[{"function": "twice", "status": "failed",
                               "error": {"code": "NON_DETERMINISTIC"}}]],
                    "invocations": {"twice": [inv(0, []), inv(0, ["a"])]}}},
        {"id": "runs-failure-handler-fails", "description": "a failing failure handler: the"
         " run stays failed, failureHandler failed, no further handler call",
         "requirements": ["FAIL-5", "FAIL-1", "FAIL-3"],
         "functions": [fn("handled", [error("main broke", False, "m"),
                                      error("handler broke", False, "h")],
                          retries=0, hasOnFailure=True)],
         "events": [ev_("conf.fake.handled")],
         "expect": {"runs": [[{"function": "handled", "status": "failed",
                               "error": {"message": "main broke"},
                               "failureHandler": "failed"}]],
                    "invocations": {"handled": [
                        inv(0, []),
                        inv(0, [], failure={"message": "main broke", "stepId": "m"})]}}},
        {"id": "runs-rate-limited", "description": "rate limit 1 per minute: the second event's"
         " run is created skipped, rate_limited",
         "requirements": ["FLOW-4", "STATUS-1"],
         "functions": [fn("limited", [done_ok],
                          rateLimit={"limit": 1, "periodMs": 60_000})],
         "events": [ev_("conf.fake.limited", {"n": 1}), ev_("conf.fake.limited", {"n": 2})],
         "expect": {"runs": [[{"function": "limited", "status": "completed", "output": "ok"}],
                             [{"function": "limited", "status": "skipped",
                               "skipReason": "rate_limited"}]],
                    "invocations": {"limited": [inv(0, [])]}}},
        {"id": "runs-one-event-two-functions", "description": "an event creates a run of every"
         " enabled function its name triggers, in one acceptance",
         "requirements": ["EVT-5", "FLOW-9"],
         "functions": [fn("first", [done_ok], trigger={"event": "conf.fake.shared"}),
                       fn("second", [done_ok], trigger={"event": "conf.fake.shared"}),
                       fn("off", [done_ok], trigger={"event": "conf.fake.shared"},
                          enabled=False)],
         "events": [ev_("conf.fake.shared")],
         "expect": {"runs": [[{"function": "first", "status": "completed", "output": "ok"},
                              {"function": "second", "status": "completed", "output": "ok"}]],
                    "invocations": {"first": [inv(0, [])], "second": [inv(0, [])],
                                    "off": []}}},
        {"id": "runs-request-too-large", "description": "a memo that would make the next invoke"
         " body exceed the app's maxRequestBytes (65536): the run fails REQUEST_TOO_LARGE,"
         " nothing larger is sent",
         "requirements": ["ERR-7", "LIMIT-2", "MAN-3"],
         "maxRequestBytes": 65_536,
         "functions": [fn("grows", [op({"op": "step", "id": "big", "data": ""}, fillData=70_000),
                                    done_ok])],
         "events": [ev_("conf.fake.grows")],
         "expect": {"runs": [[{"function": "grows", "status": "failed",
                               "error": {"code": "REQUEST_TOO_LARGE", "name": "DurableError"}}]],
                    "invocations": {"grows": [inv(0, [])]}}},
        {"id": "runs-rate-limit-per-key", "description": "a keyed rate limit keeps a bucket per"
         " key value: another tenant still runs, the same tenant is skipped",
         "requirements": ["FLOW-7", "FLOW-4", "PATH-3"],
         "functions": [fn("tenants", [done_ok],
                          rateLimit={"limit": 1, "periodMs": 60_000, "key": "tenant"})],
         "events": [ev_("conf.fake.tenants", {"tenant": "a"}),
                    ev_("conf.fake.tenants", {"tenant": "b"}),
                    ev_("conf.fake.tenants", {"tenant": "a"})],
         "expect": {"runs": [[{"function": "tenants", "status": "completed"}],
                             [{"function": "tenants", "status": "completed"}],
                             [{"function": "tenants", "status": "skipped",
                               "skipReason": "rate_limited"}]]}},
        {"id": "runs-receipt-matched", "description": "a receipt counts the enabled functions"
         " the event triggers; 0 when nothing listens",
         "requirements": ["EVT-7"],
         "functions": [fn("m1", [done_ok], trigger={"event": "conf.fake.counted"}),
                       fn("m2", [done_ok], trigger={"event": "conf.fake.counted"})],
         "events": [ev_("conf.fake.counted"), ev_("conf.fake.nobody-listens")],
         "expect": {"runs": [[{"function": "m1", "status": "completed"},
                              {"function": "m2", "status": "completed"}], []],
                    "receipts": [{"matched": 2, "duplicate": False}, {"matched": 0}]}},
        {"id": "runs-wait-ignores-earlier-events", "description": "an event accepted before the"
         " wait op was committed cannot satisfy it: the wait times out, memo null",
         "requirements": ["MATCH-4", "MATCH-5", "OP-6"],
         "functions": [fn("late", [op({"op": "wait", "id": "w", "event": "conf.fake.early",
                                       "match": None, "until": ""}, untilInMs=1500),
                                   op({"op": "done", "data": "timed out"})])],
         "events": [ev_("conf.fake.early"), ev_("conf.fake.late")],
         "expect": {"runs": [[], [{"function": "late", "status": "completed",
                                   "output": "timed out"}]],
                    "invocations": {"late": [inv(0, []),
                                             inv(0, ["w"], stepsData={"w": None},
                                                 gapMs={"min": 1450})]}}},
        {"id": "runs-backoff", "description": "before retry k the engine waits 1000·2^(k−1) ms"
         " times a factor in [0.5, 1.0] (2.5 s allowed for a loaded machine)",
         "requirements": ["RETRY-4", "RETRY-2"],
         "functions": [fn("backoff", [error("again", True), error("again", True), done_ok],
                          retries=3)],
         "events": [ev_("conf.fake.backoff")],
         "expect": {"runs": [[{"function": "backoff", "status": "completed", "output": "ok"}]],
                    "invocations": {"backoff": [
                        inv(0, []), inv(1, [], gapMs={"min": 450, "max": 3500}),
                        inv(2, [], gapMs={"min": 950, "max": 4500})]}}},
        {"id": "runs-throttle", "description": "throttle 1 per 2 s: the second run starts no"
         " sooner than 2 s after the first",
         "requirements": ["FLOW-3"],
         "functions": [fn("throttled", [done_ok],
                          throttle={"limit": 1, "periodMs": 2000})],
         "events": [ev_("conf.fake.throttled", {"n": 1}), ev_("conf.fake.throttled", {"n": 2})],
         "expect": {"runs": [[{"function": "throttled", "status": "completed"}],
                             [{"function": "throttled", "status": "completed"}]],
                    "invocations": {"throttled": [
                        inv(0, [], eventData={"n": 1}),
                        inv(0, [], eventData={"n": 2}, gapMs={"min": 1500})]}}},
        {"id": "runs-debounce", "description": "debounce 1 s: three quick events make one run,"
         " with the last event, created later (not in the receipts)",
         "requirements": ["FLOW-5"],
         "functions": [fn("settle", [done_ok], debounce={"periodMs": 1000})],
         "events": [ev_("conf.fake.settle", {"n": 1}), ev_("conf.fake.settle", {"n": 2}),
                    ev_("conf.fake.settle", {"n": 3})],
         "expect": {"runs": [[], [], []],
                    "invocations": {"settle": [inv(0, [], eventData={"n": 3})]}}},
        {"id": "runs-concurrency-one", "description": "concurrency 1: the second run's"
         " invocation starts only once the first one's answer is in",
         "requirements": ["FLOW-1"],
         "functions": [fn("single", [op({"op": "done", "data": "ok"}, delayMs=1500)],
                          concurrency={"limit": 1})],
         "events": [ev_("conf.fake.single", {"n": 1}), ev_("conf.fake.single", {"n": 2})],
         "expect": {"runs": [[{"function": "single", "status": "completed"}],
                             [{"function": "single", "status": "completed"}]],
                    "invocations": {"single": [
                        inv(0, []), inv(0, [], gapMs={"min": 1450})]}}},
        {"id": "runs-versions-share-a-bucket", "description": "two versions of one function"
         " id share its rate-limit bucket: the second version's run is skipped",
         "requirements": ["FLOW-8", "FLOW-4"],
         "functions": [fn("shared@1", [done_ok], id="shared", version="1",
                          trigger={"event": "conf.fake.shared-v1"},
                          rateLimit={"limit": 1, "periodMs": 60_000}),
                       fn("shared@2", [done_ok], id="shared", version="2",
                          trigger={"event": "conf.fake.shared-v2"},
                          rateLimit={"limit": 1, "periodMs": 60_000})],
         "events": [ev_("conf.fake.shared-v1"), ev_("conf.fake.shared-v2")],
         "expect": {"runs": [[{"function": "shared@1", "status": "completed"}],
                             [{"function": "shared@2", "status": "skipped",
                               "skipReason": "rate_limited"}]],
                    "invocations": {"shared@1": [inv(0, [])], "shared@2": []}}},
        {"id": "runs-cancel-in-flight", "description": "cancelling a run while its invocation"
         " is in flight makes it cancelled at once; the late answer is discarded",
         "requirements": ["STATUS-2", "API-10"],
         "functions": [fn("inflight", [op({"op": "step", "id": "a", "data": 1},
                                          delayMs=2500)])],
         "events": [ev_("conf.fake.inflight")],
         "calls": [{"whenRun": {"run": "$run:0:inflight", "status": "running"}, "delayMs": 300,
                    "path": "/runs/cancel", "body": {"runId": "$run:0:inflight"},
                    "expect": {"status": 200, "members": {"ok": True, "status": "cancelled"}}},
                   {"delayMs": 3000, "path": "/runs/cancel",
                    "body": {"runId": "$run:0:inflight"},
                    "expect": {"status": 200, "members": {"ok": True, "status": "cancelled"}}}],
         "expect": {"runs": [[{"function": "inflight", "status": "cancelled"}]],
                    "invocations": {"inflight": [inv(0, [])]}}},
        {"id": "runs-bulk-cancel", "description": "bulk cancel by function and status cancels"
         " the waiting run and lists it",
         "requirements": ["API-17", "API-16"],
         "functions": [fn("parked", [op({"op": "wait", "id": "w", "event": "conf.fake.never",
                                         "match": None, "until": ""}, untilInMs=120_000)])],
         "events": [ev_("conf.fake.parked")],
         "calls": [{"whenRun": {"run": "$run:0:parked", "status": "waiting"},
                    "path": "/runs/bulk-cancel",
                    "body": {"functionId": "parked", "status": "waiting"},
                    "expect": {"status": 200, "members": {"cancelled": ["$run:0:parked"]},
                               "lengths": {"cancelled": 1}}}],
         "expect": {"runs": [[{"function": "parked", "status": "cancelled"}]],
                    "invocations": {"parked": [inv(0, [])]}}},
        {"id": "runs-bulk-rerun-idempotent", "description": "bulk rerun starts one new run per"
         " source run (it parks in a wait); the same call again starts none and says"
         " duplicate",
         "requirements": ["API-18", "API-11", "API-12"],
         "functions": [fn("again", [done_ok, op({"op": "wait", "id": "w",
                                                  "event": "conf.fake.never", "match": None,
                                                  "until": ""}, untilInMs=120_000)])],
         "events": [ev_("conf.fake.again")],
         "calls": [{"whenRun": {"run": "$run:0:again", "status": "completed"},
                    "path": "/runs/bulk-rerun",
                    "body": {"functionId": "again", "status": "completed",
                             "idempotencyKey": "conf-rerun-1"},
                    "expect": {"status": 200, "members": {"reruns": [
                        {"rerunOf": "$run:0:again", "duplicate": False}]},
                        "lengths": {"reruns": 1}}},
                   {"delayMs": 500, "path": "/runs/bulk-rerun",
                    "body": {"functionId": "again", "status": "completed",
                             "idempotencyKey": "conf-rerun-1"},
                    "expect": {"status": 200, "members": {"reruns": [
                        {"rerunOf": "$run:0:again", "duplicate": True}]},
                        "lengths": {"reruns": 1}}}],
         "expect": {"runs": [[{"function": "again", "status": "completed"}]],
                    "invocations": {"again": [inv(0, []), inv(0, [])]}}},
        {"id": "runs-manifest-after-401", "description": "after a 401 answer the engine fetches"
         " the manifest again before the retry",
         "requirements": ["MAN-6", "RETRY-3"],
         "functions": [fn("refused", [{"status": 401}, done_ok], retries=1)],
         "events": [ev_("conf.fake.refused")],
         "expect": {"runs": [[{"function": "refused", "status": "completed"}]],
                    "invocations": {"refused": [inv(0, []),
                                                inv(1, [], manifestBefore=True)]}}},
        {"id": "runs-workspaces-apart", "description": "one event id in two workspaces: each"
         " accepts it as new and runs its own function",
         "requirements": ["ROLE-2", "EVT-4"],
         "functions": [fn("apart", [done_ok])],
         "events": [{"name": "conf.fake.apart", "data": {}, "id": "conf-same-event-id"},
                    {"name": "conf.fake.apart", "data": {}, "id": "conf-same-event-id",
                     "workspace": "other"}],
         "expect": {"runs": [[{"function": "apart", "status": "completed"}],
                             [{"function": "apart", "status": "completed"}]],
                    "receipts": [{"duplicate": False}, {"duplicate": False}],
                    "invocations": {"apart": [inv(0, [])]},
                    "otherInvocations": {"apart": [inv(0, [])]}}},
        {"id": "runs-retired-version-finishes", "description": "a run keeps its runtime id: the"
         " version retired by a sync while the run sleeps still gets the next invocation",
         "requirements": ["API-20", "API-6", "API-22"],
         "functions": [fn("ver@1", [op({"op": "sleep", "id": "nap", "until": ""},
                                       untilInMs=1500), done_ok],
                          id="ver", version="1", trigger={"event": "conf.fake.ver"}),
                       fn("ver@2", [done_ok], id="ver", version="2",
                          trigger={"event": "conf.fake.ver-two"})],
         "events": [ev_("conf.fake.ver")],
         "calls": [{"whenRun": {"run": "$run:0:ver@1", "status": "sleeping"},
                    "path": "/fn/sync",
                    "body": {"sdkVersion": "conformance/1.0.0", "functions": [
                        {"id": "ver", "version": "2", "trigger": {"event": "conf.fake.ver-two"}}]},
                    "expect": {"status": 200, "members": {"deactivated": ["ver@1"]}}}],
         "expect": {"runs": [[{"function": "ver@1", "status": "completed", "output": "ok",
                               "timesNotFuture": True}]],
                    "invocations": {"ver@1": [inv(0, []), inv(0, ["nap"])], "ver@2": []}}},
        {"id": "runs-idempotency", "description": "a second event with the same idempotency"
         " key value creates no run; its receipt names the run it was deduplicated against",
         "requirements": ["IDEM-2"],
         "functions": [fn("once", [done_ok], idempotency={"key": "order"})],
         "events": [ev_("conf.fake.once", {"order": 7}), ev_("conf.fake.once", {"order": 7}),
                    ev_("conf.fake.once", {"order": 8})],
         "expect": {"runs": [[{"function": "once", "status": "completed"}], [],
                             [{"function": "once", "status": "completed"}]],
                    "receipts": [{}, {"deduplicated": [{"functionId": "once",
                                                        "runId": "$run:0:once"}]}, {}],
                    "invocations": {"once": [inv(0, []), inv(0, [])]}}},
        {"id": "runs-singleton-skip", "description": "singleton skip: while a run of the"
         " function is live, a new one is created skipped, reason singleton",
         "requirements": ["SINGLE-2"],
         "functions": [fn("solo", [op({"op": "wait", "id": "w", "event": "conf.fake.never",
                                       "match": None, "until": ""}, untilInMs=120_000)],
                          singleton={"mode": "skip"})],
         "events": [ev_("conf.fake.solo", {"n": 1}), ev_("conf.fake.solo", {"n": 2})],
         "expect": {"runs": [[{"function": "solo", "status": "waiting"}],
                             [{"function": "solo", "status": "skipped",
                               "skipReason": "singleton"}]],
                    "invocations": {"solo": [inv(0, [], eventData={"n": 1})]}}},
        {"id": "runs-singleton-cancel", "description": "singleton cancel: a new event cancels"
         " the live run, which names the new run in cancelledBy",
         "requirements": ["SINGLE-3"],
         "functions": [fn("latest", [op({"op": "wait", "id": "w", "event": "conf.fake.never",
                                         "match": None, "until": ""}, untilInMs=120_000)],
                          singleton={"mode": "cancel"})],
         "events": [ev_("conf.fake.latest", {"n": 1}), ev_("conf.fake.latest", {"n": 2})],
         "expect": {"runs": [[{"function": "latest", "status": "cancelled",
                               "members": {"cancelledBy": {"runId": "$run:1:latest"}}}],
                             [{"function": "latest", "status": "waiting"}]]}},
        {"id": "runs-cancel-on", "description": "cancelOn with a match derived from the run's"
         " event: another order's event cancels nothing, the run's order cancels it and is"
         " named in cancelledBy",
         "requirements": ["CANCEL-2", "CANCEL-3", "CANCEL-4"],
         "functions": [fn("order", [op({"op": "wait", "id": "w", "event": "conf.fake.never",
                                        "match": None, "until": ""}, untilInMs=120_000)],
                          cancelOn=[{"event": "conf.fake.order-cancelled",
                                     "match": {"order": "order"}}])],
         "events": [ev_("conf.fake.order", {"order": 7}),
                    {"name": "conf.fake.order-cancelled", "data": {"order": 8},
                     "id": "conf-cancel-other-order"},
                    {"name": "conf.fake.order-cancelled", "data": {"order": 7},
                     "id": "conf-cancel-this-order"}],
         "expect": {"runs": [[{"function": "order", "status": "cancelled",
                               "members": {"cancelledBy": {
                                   "eventId": "conf-cancel-this-order"}}}], [], []]}},
    ]
    invoke_caps = ["timestamped-signatures", "step-invoke"]
    parked = op({"op": "wait", "id": "w", "event": "conf.fake.never", "match": None,
                 "until": ""}, untilInMs=120_000)

    def call(function: str, until: Any = None, **extra: Any) -> dict[str, Any]:
        return op({"op": "invoke", "id": "call", "function": function, "app": None,
                   "data": {"x": 1}, "until": until}, **extra)

    trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    cases += [
        {"id": "runs-invoke-completed", "description": "an invoke op creates the child with a"
         " durable/invoke event, parks the parent, and the child's output comes back as the"
         " invoke memo", "requirements": ["INVOKE-2", "INVOKE-3", "INVOKE-4"],
         "capabilities": invoke_caps,
         "functions": [fn("parent", [call("child"), op({"op": "done", "data": "ok"})]),
                       fn("child", [op({"op": "done", "data": {"y": 2}})])],
         "events": [ev_("conf.fake.parent")],
         "expect": {"runs": [[{"function": "parent", "status": "completed", "output": "ok"}]],
                    "invocations": {
                        "parent": [inv(0, []), inv(0, ["call"], stepsData={"call": {
                            "status": "completed", "output": {"y": 2}}})],
                        "child": [inv(0, [], eventData={"x": 1},
                                      eventMembers={"name": "durable/invoke"})]}}},
        {"id": "runs-invoke-unknown-function", "description": "invoking a function the"
         " workspace does not have commits a failed UNKNOWN_FUNCTION memo at once",
         "requirements": ["INVOKE-6"], "capabilities": invoke_caps,
         "functions": [fn("caller", [call("no-such-function"),
                                     op({"op": "done", "data": "ok"})])],
         "events": [ev_("conf.fake.caller")],
         "expect": {"runs": [[{"function": "caller", "status": "completed"}]],
                    "invocations": {"caller": [inv(0, []), inv(0, ["call"], stepsData={
                        "call": {"runId": None, "status": "failed",
                                 "error": {"code": "UNKNOWN_FUNCTION"}}})]}}},
        {"id": "runs-invoke-timeout", "description": "the invoke's until passes first: the"
         " child is cancelled and the memo says timedOut",
         "requirements": ["INVOKE-5"], "capabilities": invoke_caps,
         "functions": [fn("impatient", [call("slowchild", "", untilInMs=1500),
                                        op({"op": "done", "data": "ok"})]),
                       fn("slowchild", [parked])],
         "events": [ev_("conf.fake.impatient")],
         "expect": {"runs": [[{"function": "impatient", "status": "completed"}]],
                    "invocations": {"impatient": [inv(0, []), inv(0, ["call"], stepsData={
                        "call": {"status": "timedOut", "error": {"code": "INVOKE_TIMEOUT"}}})]}}},
        {"id": "runs-invoke-cancel-cascade", "description": "cancelling the parent cancels its"
         " waiting child", "requirements": ["INVOKE-7"], "capabilities": invoke_caps,
         "functions": [fn("elder", [call("younger")]), fn("younger", [parked])],
         "events": [ev_("conf.fake.elder")],
         "calls": [{"whenRun": {"run": "$run:0:elder", "status": "waiting"}, "delayMs": 1000,
                    "path": "/runs/cancel", "body": {"runId": "$run:0:elder"},
                    "expect": {"status": 200, "members": {"ok": True}}},
                   {"delayMs": 500, "path": "/runs/search",
                    "body": {"functionId": "younger", "status": "cancelled"},
                    "expect": {"status": 200, "lengths": {"runs": 1}}}],
         "expect": {"runs": [[{"function": "elder", "status": "cancelled"}]]}},
        {"id": "runs-invoke-without-capability", "description": "an invoke op from an app that"
         " does not advertise step-invoke is a failed invocation",
         "requirements": ["INVOKE-1", "OP-10"],
         "functions": [fn("uninvited", [call("uninvited")], retries=0)],
         "events": [ev_("conf.fake.uninvited")],
         "expect": {"runs": [[{"function": "uninvited", "status": "failed",
                               "error": {"code": "RETRIES_EXHAUSTED"}}]],
                    "invocations": {"uninvited": [inv(0, [])]}}},
        {"id": "runs-trace-carried", "description": "an event's traceparent is kept on its run"
         " and sent on every invocation, as member and header, with the same trace id",
         "requirements": ["TRACE-1", "TRACE-2", "TRACE-3"],
         "capabilities": ["timestamped-signatures", "trace-context"],
         "functions": [fn("traced", [op({"op": "step", "id": "a", "data": 1}), done_ok])],
         "events": [{"name": "conf.fake.traced", "data": {}, "traceparent": trace}],
         "expect": {"runs": [[{"function": "traced", "status": "completed"}]],
                    "invocations": {"traced": [
                        inv(0, [], traceId=trace.split("-")[1]),
                        inv(0, ["a"], traceId=trace.split("-")[1])]}}},
        {"id": "runs-trace-shown", "description": "/runs/get shows the traceparent of the"
         " run's event", "requirements": ["TRACE-5"],
         "capabilities": ["timestamped-signatures", "trace-context"],
         "functions": [fn("shown", [done_ok])],
         "events": [{"name": "conf.fake.shown", "data": {}, "traceparent": trace}],
         "expect": {"runs": [[{"function": "shown", "status": "completed",
                               "members": {"traceparent": trace}}]]}},
        {"id": "runs-app-without-capabilities", "description": "an app that advertises no"
         " capability (a 1.0 app) is served: its steps run and its run completes, also for an"
         " event with a traceparent", "requirements": ["MINOR-1"], "capabilities": [],
         "functions": [fn("plain", [op({"op": "step", "id": "a", "data": 1}), done_ok])],
         "events": [{"name": "conf.fake.plain", "data": {}, "traceparent": trace}],
         "expect": {"runs": [[{"function": "plain", "status": "completed", "output": "ok"}]],
                    "invocations": {"plain": [inv(0, []), inv(0, ["a"])]}}},
        {"id": "runs-idempotency-without-capabilities", "description": "idempotency needs no"
         " capability: an app that advertises none gets its events deduplicated",
         "requirements": ["MINOR-2", "IDEM-2"], "capabilities": [],
         "functions": [fn("once-plain", [done_ok], idempotency={"key": "order"})],
         "events": [ev_("conf.fake.once-plain", {"order": 7}),
                    ev_("conf.fake.once-plain", {"order": 7})],
         "expect": {"runs": [[{"function": "once-plain", "status": "completed"}], []],
                    "invocations": {"once-plain": [inv(0, [])]}}},
    ]
    write("runs", "engine-runs",
          "Engine run scenarios: scripted app answers and the runs and invocations they make",
          cases)


def client() -> None:
    """What an SDK's engine-API client must do with the engine's answers: the runner
    serves these answers on a fake engine API and asks the SDK's driver to send one event
    with default options (conformance/PORTING.md, the client area)."""
    receipt = {"status": 200, "receipt": True}
    cases = [
        {"id": "client-send-event", "description": "a signed POST <base URL>/e: the base URL"
         " ends in a path prefix the client keeps; X-Durable-App and the v1 signature of the"
         " raw body, or the V2 pair ([SIG-11]); the event as given",
         "requirements": ["SIG-8", "SIG-1", "API-23"],
         "answers": [receipt], "expect": {"result": "receipt", "requests": 1}},
        {"id": "client-base-url-slash", "description": "a base URL ending in / : one trailing"
         " slash is dropped, the call still goes to <base>/e",
         "requirements": ["API-23"], "trailingSlash": True,
         "answers": [receipt], "expect": {"result": "receipt", "requests": 1}},
        {"id": "client-no-redirect", "description": "a 307 answer is not followed; the send"
         " fails", "requirements": ["API-5"],
         "answers": [{"status": 307, "location": "elsewhere/e"}],
         "expect": {"result": "failed", "requests": 1}},
        {"id": "client-retry-503", "description": "a 503 answer is retried within 2 s, every"
         " attempt signed", "requirements": ["API-24"],
         "answers": [{"status": 503}, receipt],
         "expect": {"result": "receipt", "minRequests": 2, "retryWithinMs": 3000}},
        {"id": "client-oversized-answer", "description": "an answer over apiResponseBytes"
         " (1048576) is refused", "requirements": ["API-5"],
         "answers": [{**receipt, "padBytes": 1_048_577}],
         "expect": {"result": "failed"}},
    ]
    write("client", "engine-api", "An SDK's engine-API client against scripted engine answers",
          cases)


if __name__ == "__main__":
    signatures()
    exchanges()
    runs()
    client()
    grpc_signatures()
    replay()
    definitions()
    catalog_definitions()
    cron()
    durations()
    match_and_keys()
    api()
    print("vectors written to", VECTORS)
