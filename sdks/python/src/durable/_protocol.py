"""Wire constants of the durable protocol, in one place.

tests/test_registry.py checks every value here against spec/registry.json, so a
header or op name is never retyped by hand elsewhere in the SDK.
"""

from __future__ import annotations

from typing import Final

PROTOCOL_VERSION: Final = 1

HEADER_SIGNATURE: Final = "x-durable-signature"
HEADER_SIGNATURE_V2: Final = "x-durable-signature-v2"
HEADER_TIMESTAMP: Final = "x-durable-timestamp"
HEADER_DISCOVERY: Final = "x-durable-discovery"
HEADER_APP: Final = "x-durable-app"

OP_STEP: Final = "step"
OP_ERROR: Final = "error"
OP_SEND_EVENT: Final = "sendEvent"
OP_SLEEP: Final = "sleep"
OP_WAIT: Final = "wait"
OP_DONE: Final = "done"
OP_INVOKE: Final = "invoke"
OPS: Final = (OP_STEP, OP_ERROR, OP_SEND_EVENT, OP_SLEEP, OP_WAIT, OP_DONE, OP_INVOKE)

MEMO_RUN: Final = "run"
MEMO_SLEEP: Final = "sleep"
MEMO_WAIT: Final = "wait"
MEMO_SEND_EVENT: Final = "sendEvent"
MEMO_INVOKE: Final = "invoke"
MEMO_TYPES: Final = (MEMO_RUN, MEMO_SLEEP, MEMO_WAIT, MEMO_SEND_EVENT, MEMO_INVOKE)

CAP_TIMESTAMPED_SIGNATURES: Final = "timestamped-signatures"
CAP_KEY_ROTATION: Final = "key-rotation"
CAP_STEP_OCCURRENCES: Final = "step-occurrences"
CAP_STRICT_REPLAY: Final = "strict-replay"
CAP_STEP_INVOKE: Final = "step-invoke"  # protocol 1.1 ([INVOKE-1])
CAP_TRACE_CONTEXT: Final = "trace-context"  # protocol 1.1 ([TRACE-4])
# Order is the order advertised in the manifest.
CAPABILITIES: Final = (
    CAP_TIMESTAMPED_SIGNATURES,
    CAP_KEY_ROTATION,
    CAP_STEP_OCCURRENCES,
    CAP_STRICT_REPLAY,
    CAP_STEP_INVOKE,
    CAP_TRACE_CONTEXT,
)
STEP_OCCURRENCE_SEPARATOR: Final = "#"

CODE_NON_DETERMINISTIC: Final = "NON_DETERMINISTIC"
CODE_MISSING_FAILURE_HANDLER: Final = "MISSING_FAILURE_HANDLER"
CODE_INVALID_PARALLEL: Final = "INVALID_PARALLEL"
CODE_INVALID_EVENTS: Final = "INVALID_EVENTS"
CODE_INVOKE: Final = {"failed": "INVOKE_FAILED", "cancelled": "INVOKE_CANCELLED",
                      "timedOut": "INVOKE_TIMEOUT"}  # [INVOKE-8]
CODE_CAPABILITY_OFF: Final = "CAPABILITY_OFF"
TRACEPARENT_PATTERN: Final = r"^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$"
CODE_INVALID_DURATION: Final = "INVALID_DURATION"

SIGNATURE_WINDOW_MS: Final = 300_000
MAX_BODY_BYTES: Final = 1_048_576
MIN_MAX_REQUEST_BYTES: Final = 65_536
MAX_RESPONSE_BYTES: Final = 1_048_576
MAX_ERROR_DETAILS_BYTES: Final = 65_536
MAX_ERROR_CODE_CHARS: Final = 100
MAX_EVENTS_PER_SEND: Final = 100
MAX_PARALLEL_TASKS: Final = 20
MAX_FUNCTION_ID_CHARS: Final = 200
MAX_VERSION_CHARS: Final = 100
MAX_RETRIES: Final = 20
MAX_CONCURRENCY_RULES: Final = 10
MAX_CANCEL_ON_RULES: Final = 10  # registry limits.cancelOnRules ([CANCEL-1])
PRIORITY_MIN: Final = -600
PRIORITY_MAX: Final = 600
BATCH_MAX_SIZE: Final = 100
KEY_PATH_CHARS: Final = 200
MAX_DURATION_MS: Final = 9_007_199_254_740_991
DURATION_UNITS_MS: Final = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
