# Generated from spec/proto by spec/tools/proto.py (grpcio-tools); do not edit.
# mypy: ignore-errors
# Regenerate: python spec/tools/proto.py --write
from . import json_pb2 as _json_pb2
from . import options_pb2 as _options_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SyncRequest(_message.Message):
    __slots__ = ("functions", "sdk_version", "capabilities", "max_request_bytes")
    FUNCTIONS_FIELD_NUMBER: _ClassVar[int]
    SDK_VERSION_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    MAX_REQUEST_BYTES_FIELD_NUMBER: _ClassVar[int]
    functions: _containers.RepeatedCompositeFieldContainer[FunctionDefinition]
    sdk_version: str
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    max_request_bytes: int
    def __init__(self, functions: _Optional[_Iterable[_Union[FunctionDefinition, _Mapping]]] = ..., sdk_version: _Optional[str] = ..., capabilities: _Optional[_Iterable[str]] = ..., max_request_bytes: _Optional[int] = ...) -> None: ...

class FunctionDefinition(_message.Message):
    __slots__ = ("id", "trigger", "priority", "enabled", "has_on_failure", "version", "retries", "timeout_ms", "concurrency", "throttle", "rate_limit", "debounce", "batch", "cancel_on", "idempotency", "singleton")
    class Trigger(_message.Message):
        __slots__ = ("event", "cron")
        EVENT_FIELD_NUMBER: _ClassVar[int]
        CRON_FIELD_NUMBER: _ClassVar[int]
        event: str
        cron: str
        def __init__(self, event: _Optional[str] = ..., cron: _Optional[str] = ...) -> None: ...
    class ConcurrencyRule(_message.Message):
        __slots__ = ("limit", "key")
        LIMIT_FIELD_NUMBER: _ClassVar[int]
        KEY_FIELD_NUMBER: _ClassVar[int]
        limit: int
        key: str
        def __init__(self, limit: _Optional[int] = ..., key: _Optional[str] = ...) -> None: ...
    class Window(_message.Message):
        __slots__ = ("limit", "period_ms", "key")
        LIMIT_FIELD_NUMBER: _ClassVar[int]
        PERIOD_MS_FIELD_NUMBER: _ClassVar[int]
        KEY_FIELD_NUMBER: _ClassVar[int]
        limit: int
        period_ms: int
        key: str
        def __init__(self, limit: _Optional[int] = ..., period_ms: _Optional[int] = ..., key: _Optional[str] = ...) -> None: ...
    class Debounce(_message.Message):
        __slots__ = ("period_ms", "key")
        PERIOD_MS_FIELD_NUMBER: _ClassVar[int]
        KEY_FIELD_NUMBER: _ClassVar[int]
        period_ms: int
        key: str
        def __init__(self, period_ms: _Optional[int] = ..., key: _Optional[str] = ...) -> None: ...
    class Batch(_message.Message):
        __slots__ = ("max_size", "timeout_ms", "key")
        MAX_SIZE_FIELD_NUMBER: _ClassVar[int]
        TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
        KEY_FIELD_NUMBER: _ClassVar[int]
        max_size: int
        timeout_ms: int
        key: str
        def __init__(self, max_size: _Optional[int] = ..., timeout_ms: _Optional[int] = ..., key: _Optional[str] = ...) -> None: ...
    class CancelOnRule(_message.Message):
        __slots__ = ("event", "match", "timeout_ms")
        class MatchEntry(_message.Message):
            __slots__ = ("key", "value")
            KEY_FIELD_NUMBER: _ClassVar[int]
            VALUE_FIELD_NUMBER: _ClassVar[int]
            key: str
            value: str
            def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
        EVENT_FIELD_NUMBER: _ClassVar[int]
        MATCH_FIELD_NUMBER: _ClassVar[int]
        TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
        event: str
        match: _containers.ScalarMap[str, str]
        timeout_ms: int
        def __init__(self, event: _Optional[str] = ..., match: _Optional[_Mapping[str, str]] = ..., timeout_ms: _Optional[int] = ...) -> None: ...
    class Idempotency(_message.Message):
        __slots__ = ("key", "period_ms")
        KEY_FIELD_NUMBER: _ClassVar[int]
        PERIOD_MS_FIELD_NUMBER: _ClassVar[int]
        key: str
        period_ms: int
        def __init__(self, key: _Optional[str] = ..., period_ms: _Optional[int] = ...) -> None: ...
    class Singleton(_message.Message):
        __slots__ = ("key", "mode")
        KEY_FIELD_NUMBER: _ClassVar[int]
        MODE_FIELD_NUMBER: _ClassVar[int]
        key: str
        mode: str
        def __init__(self, key: _Optional[str] = ..., mode: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    HAS_ON_FAILURE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RETRIES_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    THROTTLE_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    DEBOUNCE_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    CANCEL_ON_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_FIELD_NUMBER: _ClassVar[int]
    SINGLETON_FIELD_NUMBER: _ClassVar[int]
    id: str
    trigger: FunctionDefinition.Trigger
    priority: int
    enabled: bool
    has_on_failure: bool
    version: str
    retries: int
    timeout_ms: int
    concurrency: _containers.RepeatedCompositeFieldContainer[FunctionDefinition.ConcurrencyRule]
    throttle: FunctionDefinition.Window
    rate_limit: FunctionDefinition.Window
    debounce: FunctionDefinition.Debounce
    batch: FunctionDefinition.Batch
    cancel_on: _containers.RepeatedCompositeFieldContainer[FunctionDefinition.CancelOnRule]
    idempotency: FunctionDefinition.Idempotency
    singleton: FunctionDefinition.Singleton
    def __init__(self, id: _Optional[str] = ..., trigger: _Optional[_Union[FunctionDefinition.Trigger, _Mapping]] = ..., priority: _Optional[int] = ..., enabled: _Optional[bool] = ..., has_on_failure: _Optional[bool] = ..., version: _Optional[str] = ..., retries: _Optional[int] = ..., timeout_ms: _Optional[int] = ..., concurrency: _Optional[_Iterable[_Union[FunctionDefinition.ConcurrencyRule, _Mapping]]] = ..., throttle: _Optional[_Union[FunctionDefinition.Window, _Mapping]] = ..., rate_limit: _Optional[_Union[FunctionDefinition.Window, _Mapping]] = ..., debounce: _Optional[_Union[FunctionDefinition.Debounce, _Mapping]] = ..., batch: _Optional[_Union[FunctionDefinition.Batch, _Mapping]] = ..., cancel_on: _Optional[_Iterable[_Union[FunctionDefinition.CancelOnRule, _Mapping]]] = ..., idempotency: _Optional[_Union[FunctionDefinition.Idempotency, _Mapping]] = ..., singleton: _Optional[_Union[FunctionDefinition.Singleton, _Mapping]] = ...) -> None: ...

class SyncAnswer(_message.Message):
    __slots__ = ("ok", "functions", "deactivated")
    OK_FIELD_NUMBER: _ClassVar[int]
    FUNCTIONS_FIELD_NUMBER: _ClassVar[int]
    DEACTIVATED_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    functions: _containers.RepeatedScalarFieldContainer[str]
    deactivated: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ok: _Optional[bool] = ..., functions: _Optional[_Iterable[str]] = ..., deactivated: _Optional[_Iterable[str]] = ...) -> None: ...

class EventInput(_message.Message):
    __slots__ = ("id", "name", "data", "ts", "traceparent")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    TS_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    data: _json_pb2.Json
    ts: int
    traceparent: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., data: _Optional[_Union[_json_pb2.Json, _Mapping]] = ..., ts: _Optional[int] = ..., traceparent: _Optional[str] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("id", "name", "data", "ts")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    TS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    data: _json_pb2.Json
    ts: int
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., data: _Optional[_Union[_json_pb2.Json, _Mapping]] = ..., ts: _Optional[int] = ...) -> None: ...

class Receipt(_message.Message):
    __slots__ = ("id", "name", "ts", "duplicate", "run_ids", "matched", "deduplicated")
    class Deduplicated(_message.Message):
        __slots__ = ("function_id", "run_id")
        FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
        RUN_ID_FIELD_NUMBER: _ClassVar[int]
        function_id: str
        run_id: str
        def __init__(self, function_id: _Optional[str] = ..., run_id: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TS_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    RUN_IDS_FIELD_NUMBER: _ClassVar[int]
    MATCHED_FIELD_NUMBER: _ClassVar[int]
    DEDUPLICATED_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    ts: int
    duplicate: bool
    run_ids: _containers.RepeatedScalarFieldContainer[str]
    matched: int
    deduplicated: _containers.RepeatedCompositeFieldContainer[Receipt.Deduplicated]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., ts: _Optional[int] = ..., duplicate: _Optional[bool] = ..., run_ids: _Optional[_Iterable[str]] = ..., matched: _Optional[int] = ..., deduplicated: _Optional[_Iterable[_Union[Receipt.Deduplicated, _Mapping]]] = ...) -> None: ...

class SendEventsRequest(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[EventInput]
    def __init__(self, events: _Optional[_Iterable[_Union[EventInput, _Mapping]]] = ...) -> None: ...

class SendEventsAnswer(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[Receipt]
    def __init__(self, events: _Optional[_Iterable[_Union[Receipt, _Mapping]]] = ...) -> None: ...

class SearchRunsRequest(_message.Message):
    __slots__ = ("function_id", "status", "cursor", "limit")
    FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    function_id: str
    status: str
    cursor: str
    limit: int
    def __init__(self, function_id: _Optional[str] = ..., status: _Optional[str] = ..., cursor: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class RunSummary(_message.Message):
    __slots__ = ("run_id", "function_id", "status", "event_id", "created_at", "updated_at")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    function_id: str
    status: str
    event_id: str
    created_at: str
    updated_at: str
    def __init__(self, run_id: _Optional[str] = ..., function_id: _Optional[str] = ..., status: _Optional[str] = ..., event_id: _Optional[str] = ..., created_at: _Optional[str] = ..., updated_at: _Optional[str] = ...) -> None: ...

class SearchRunsAnswer(_message.Message):
    __slots__ = ("runs", "next_cursor")
    RUNS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[RunSummary]
    next_cursor: str
    def __init__(self, runs: _Optional[_Iterable[_Union[RunSummary, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class RunIdRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class ErrorInfo(_message.Message):
    __slots__ = ("message", "name", "code", "step_id", "details")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    STEP_ID_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    message: str
    name: str
    code: str
    step_id: str
    details: _json_pb2.Json
    def __init__(self, message: _Optional[str] = ..., name: _Optional[str] = ..., code: _Optional[str] = ..., step_id: _Optional[str] = ..., details: _Optional[_Union[_json_pb2.Json, _Mapping]] = ...) -> None: ...

class Run(_message.Message):
    __slots__ = ("run_id", "function_id", "status", "event_id", "created_at", "updated_at", "event", "events", "attempt", "wake_at", "output", "error", "skip_reason", "failure_handler", "steps", "cancelled_by", "parent", "traceparent")
    class CancelledBy(_message.Message):
        __slots__ = ("event_id", "run_id")
        EVENT_ID_FIELD_NUMBER: _ClassVar[int]
        RUN_ID_FIELD_NUMBER: _ClassVar[int]
        event_id: str
        run_id: str
        def __init__(self, event_id: _Optional[str] = ..., run_id: _Optional[str] = ...) -> None: ...
    class Parent(_message.Message):
        __slots__ = ("run_id", "step_id")
        RUN_ID_FIELD_NUMBER: _ClassVar[int]
        STEP_ID_FIELD_NUMBER: _ClassVar[int]
        run_id: str
        step_id: str
        def __init__(self, run_id: _Optional[str] = ..., step_id: _Optional[str] = ...) -> None: ...
    class FailureHandler(_message.Message):
        __slots__ = ("status",)
        STATUS_FIELD_NUMBER: _ClassVar[int]
        status: str
        def __init__(self, status: _Optional[str] = ...) -> None: ...
    class Step(_message.Message):
        __slots__ = ("id", "type", "data", "at", "app_ms", "wake_at", "copied_from")
        ID_FIELD_NUMBER: _ClassVar[int]
        TYPE_FIELD_NUMBER: _ClassVar[int]
        DATA_FIELD_NUMBER: _ClassVar[int]
        AT_FIELD_NUMBER: _ClassVar[int]
        APP_MS_FIELD_NUMBER: _ClassVar[int]
        WAKE_AT_FIELD_NUMBER: _ClassVar[int]
        COPIED_FROM_FIELD_NUMBER: _ClassVar[int]
        id: str
        type: str
        data: _json_pb2.Json
        at: str
        app_ms: float
        wake_at: str
        copied_from: str
        def __init__(self, id: _Optional[str] = ..., type: _Optional[str] = ..., data: _Optional[_Union[_json_pb2.Json, _Mapping]] = ..., at: _Optional[str] = ..., app_ms: _Optional[float] = ..., wake_at: _Optional[str] = ..., copied_from: _Optional[str] = ...) -> None: ...
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    WAKE_AT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    SKIP_REASON_FIELD_NUMBER: _ClassVar[int]
    FAILURE_HANDLER_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_BY_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    function_id: str
    status: str
    event_id: str
    created_at: str
    updated_at: str
    event: Event
    events: _containers.RepeatedCompositeFieldContainer[Event]
    attempt: int
    wake_at: str
    output: _json_pb2.Json
    error: ErrorInfo
    skip_reason: str
    failure_handler: Run.FailureHandler
    steps: _containers.RepeatedCompositeFieldContainer[Run.Step]
    cancelled_by: Run.CancelledBy
    parent: Run.Parent
    traceparent: str
    def __init__(self, run_id: _Optional[str] = ..., function_id: _Optional[str] = ..., status: _Optional[str] = ..., event_id: _Optional[str] = ..., created_at: _Optional[str] = ..., updated_at: _Optional[str] = ..., event: _Optional[_Union[Event, _Mapping]] = ..., events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., attempt: _Optional[int] = ..., wake_at: _Optional[str] = ..., output: _Optional[_Union[_json_pb2.Json, _Mapping]] = ..., error: _Optional[_Union[ErrorInfo, _Mapping]] = ..., skip_reason: _Optional[str] = ..., failure_handler: _Optional[_Union[Run.FailureHandler, _Mapping]] = ..., steps: _Optional[_Iterable[_Union[Run.Step, _Mapping]]] = ..., cancelled_by: _Optional[_Union[Run.CancelledBy, _Mapping]] = ..., parent: _Optional[_Union[Run.Parent, _Mapping]] = ..., traceparent: _Optional[str] = ...) -> None: ...

class CancelRunAnswer(_message.Message):
    __slots__ = ("ok", "status")
    OK_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    status: str
    def __init__(self, ok: _Optional[bool] = ..., status: _Optional[str] = ...) -> None: ...

class RerunRunRequest(_message.Message):
    __slots__ = ("run_id", "step_id", "idempotency_key")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    step_id: str
    idempotency_key: str
    def __init__(self, run_id: _Optional[str] = ..., step_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class RerunRunAnswer(_message.Message):
    __slots__ = ("run_id", "rerun_of", "from_step_id", "duplicate")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    RERUN_OF_FIELD_NUMBER: _ClassVar[int]
    FROM_STEP_ID_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    rerun_of: str
    from_step_id: str
    duplicate: bool
    def __init__(self, run_id: _Optional[str] = ..., rerun_of: _Optional[str] = ..., from_step_id: _Optional[str] = ..., duplicate: _Optional[bool] = ...) -> None: ...

class BulkCancelRunsRequest(_message.Message):
    __slots__ = ("function_id", "status", "created_from", "created_to", "cursor", "limit")
    FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_FROM_FIELD_NUMBER: _ClassVar[int]
    CREATED_TO_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    function_id: str
    status: str
    created_from: str
    created_to: str
    cursor: str
    limit: int
    def __init__(self, function_id: _Optional[str] = ..., status: _Optional[str] = ..., created_from: _Optional[str] = ..., created_to: _Optional[str] = ..., cursor: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class BulkCancelRunsAnswer(_message.Message):
    __slots__ = ("cancelled", "next_cursor")
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    cancelled: _containers.RepeatedScalarFieldContainer[str]
    next_cursor: str
    def __init__(self, cancelled: _Optional[_Iterable[str]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class BulkRerunRunsRequest(_message.Message):
    __slots__ = ("function_id", "status", "created_from", "created_to", "cursor", "limit", "idempotency_key")
    FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_FROM_FIELD_NUMBER: _ClassVar[int]
    CREATED_TO_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    function_id: str
    status: str
    created_from: str
    created_to: str
    cursor: str
    limit: int
    idempotency_key: str
    def __init__(self, function_id: _Optional[str] = ..., status: _Optional[str] = ..., created_from: _Optional[str] = ..., created_to: _Optional[str] = ..., cursor: _Optional[str] = ..., limit: _Optional[int] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class BulkRerunRunsAnswer(_message.Message):
    __slots__ = ("reruns", "next_cursor")
    class Rerun(_message.Message):
        __slots__ = ("run_id", "rerun_of", "duplicate")
        RUN_ID_FIELD_NUMBER: _ClassVar[int]
        RERUN_OF_FIELD_NUMBER: _ClassVar[int]
        DUPLICATE_FIELD_NUMBER: _ClassVar[int]
        run_id: str
        rerun_of: str
        duplicate: bool
        def __init__(self, run_id: _Optional[str] = ..., rerun_of: _Optional[str] = ..., duplicate: _Optional[bool] = ...) -> None: ...
    RERUNS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    reruns: _containers.RepeatedCompositeFieldContainer[BulkRerunRunsAnswer.Rerun]
    next_cursor: str
    def __init__(self, reruns: _Optional[_Iterable[_Union[BulkRerunRunsAnswer.Rerun, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class RunHistoryRequest(_message.Message):
    __slots__ = ("run_id", "cursor", "limit")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    cursor: str
    limit: int
    def __init__(self, run_id: _Optional[str] = ..., cursor: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class RunHistoryAnswer(_message.Message):
    __slots__ = ("run_id", "attempts", "next_cursor")
    class Attempt(_message.Message):
        __slots__ = ("delivery_id", "namespace", "attempt", "at", "duration_ms", "http_status", "op", "error", "code")
        DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
        NAMESPACE_FIELD_NUMBER: _ClassVar[int]
        ATTEMPT_FIELD_NUMBER: _ClassVar[int]
        AT_FIELD_NUMBER: _ClassVar[int]
        DURATION_MS_FIELD_NUMBER: _ClassVar[int]
        HTTP_STATUS_FIELD_NUMBER: _ClassVar[int]
        OP_FIELD_NUMBER: _ClassVar[int]
        ERROR_FIELD_NUMBER: _ClassVar[int]
        CODE_FIELD_NUMBER: _ClassVar[int]
        delivery_id: str
        namespace: str
        attempt: int
        at: str
        duration_ms: float
        http_status: int
        op: str
        error: str
        code: str
        def __init__(self, delivery_id: _Optional[str] = ..., namespace: _Optional[str] = ..., attempt: _Optional[int] = ..., at: _Optional[str] = ..., duration_ms: _Optional[float] = ..., http_status: _Optional[int] = ..., op: _Optional[str] = ..., error: _Optional[str] = ..., code: _Optional[str] = ...) -> None: ...
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    attempts: _containers.RepeatedCompositeFieldContainer[RunHistoryAnswer.Attempt]
    next_cursor: str
    def __init__(self, run_id: _Optional[str] = ..., attempts: _Optional[_Iterable[_Union[RunHistoryAnswer.Attempt, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class SearchFailuresRequest(_message.Message):
    __slots__ = ("limit",)
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    limit: int
    def __init__(self, limit: _Optional[int] = ...) -> None: ...

class SearchFailuresAnswer(_message.Message):
    __slots__ = ("failures",)
    class Failure(_message.Message):
        __slots__ = ("delivery_id", "run_id", "function_id", "attempt", "at", "error", "http_status", "detail")
        DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
        RUN_ID_FIELD_NUMBER: _ClassVar[int]
        FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
        ATTEMPT_FIELD_NUMBER: _ClassVar[int]
        AT_FIELD_NUMBER: _ClassVar[int]
        ERROR_FIELD_NUMBER: _ClassVar[int]
        HTTP_STATUS_FIELD_NUMBER: _ClassVar[int]
        DETAIL_FIELD_NUMBER: _ClassVar[int]
        delivery_id: str
        run_id: str
        function_id: str
        attempt: int
        at: str
        error: ErrorInfo
        http_status: int
        detail: str
        def __init__(self, delivery_id: _Optional[str] = ..., run_id: _Optional[str] = ..., function_id: _Optional[str] = ..., attempt: _Optional[int] = ..., at: _Optional[str] = ..., error: _Optional[_Union[ErrorInfo, _Mapping]] = ..., http_status: _Optional[int] = ..., detail: _Optional[str] = ...) -> None: ...
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    failures: _containers.RepeatedCompositeFieldContainer[SearchFailuresAnswer.Failure]
    def __init__(self, failures: _Optional[_Iterable[_Union[SearchFailuresAnswer.Failure, _Mapping]]] = ...) -> None: ...

class RetryFailureRequest(_message.Message):
    __slots__ = ("delivery_id",)
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    delivery_id: str
    def __init__(self, delivery_id: _Optional[str] = ...) -> None: ...

class OkAnswer(_message.Message):
    __slots__ = ("ok",)
    OK_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    def __init__(self, ok: _Optional[bool] = ...) -> None: ...

class VersionsStatusRequest(_message.Message):
    __slots__ = ("function_id",)
    FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
    function_id: str
    def __init__(self, function_id: _Optional[str] = ...) -> None: ...

class VersionsStatusAnswer(_message.Message):
    __slots__ = ("function_id", "versions")
    class Version(_message.Message):
        __slots__ = ("version", "runtime_id", "active", "runs")
        class RunsEntry(_message.Message):
            __slots__ = ("key", "value")
            KEY_FIELD_NUMBER: _ClassVar[int]
            VALUE_FIELD_NUMBER: _ClassVar[int]
            key: str
            value: int
            def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
        VERSION_FIELD_NUMBER: _ClassVar[int]
        RUNTIME_ID_FIELD_NUMBER: _ClassVar[int]
        ACTIVE_FIELD_NUMBER: _ClassVar[int]
        RUNS_FIELD_NUMBER: _ClassVar[int]
        version: str
        runtime_id: str
        active: bool
        runs: _containers.ScalarMap[str, int]
        def __init__(self, version: _Optional[str] = ..., runtime_id: _Optional[str] = ..., active: _Optional[bool] = ..., runs: _Optional[_Mapping[str, int]] = ...) -> None: ...
    FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    function_id: str
    versions: _containers.RepeatedCompositeFieldContainer[VersionsStatusAnswer.Version]
    def __init__(self, function_id: _Optional[str] = ..., versions: _Optional[_Iterable[_Union[VersionsStatusAnswer.Version, _Mapping]]] = ...) -> None: ...

class ListFunctionsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListFunctionsAnswer(_message.Message):
    __slots__ = ("functions",)
    class Function(_message.Message):
        __slots__ = ("function_id", "runtime_id", "version", "trigger", "active", "runs")
        class RunsEntry(_message.Message):
            __slots__ = ("key", "value")
            KEY_FIELD_NUMBER: _ClassVar[int]
            VALUE_FIELD_NUMBER: _ClassVar[int]
            key: str
            value: int
            def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
        FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
        RUNTIME_ID_FIELD_NUMBER: _ClassVar[int]
        VERSION_FIELD_NUMBER: _ClassVar[int]
        TRIGGER_FIELD_NUMBER: _ClassVar[int]
        ACTIVE_FIELD_NUMBER: _ClassVar[int]
        RUNS_FIELD_NUMBER: _ClassVar[int]
        function_id: str
        runtime_id: str
        version: str
        trigger: _json_pb2.Json
        active: bool
        runs: _containers.ScalarMap[str, int]
        def __init__(self, function_id: _Optional[str] = ..., runtime_id: _Optional[str] = ..., version: _Optional[str] = ..., trigger: _Optional[_Union[_json_pb2.Json, _Mapping]] = ..., active: _Optional[bool] = ..., runs: _Optional[_Mapping[str, int]] = ...) -> None: ...
    FUNCTIONS_FIELD_NUMBER: _ClassVar[int]
    functions: _containers.RepeatedCompositeFieldContainer[ListFunctionsAnswer.Function]
    def __init__(self, functions: _Optional[_Iterable[_Union[ListFunctionsAnswer.Function, _Mapping]]] = ...) -> None: ...

class ApiError(_message.Message):
    __slots__ = ("code", "message", "path")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    path: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., path: _Optional[str] = ...) -> None: ...
