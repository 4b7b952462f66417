# Generated from spec/proto by spec/tools/proto.py (grpcio-tools); do not edit.
# mypy: ignore-errors
# Regenerate: python spec/tools/proto.py --write
from . import engine_messages_pb2 as _engine_messages_pb2
from . import options_pb2 as _options_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class IngestEventRequest(_message.Message):
    __slots__ = ("event", "timestamp", "signature")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    event: bytes
    timestamp: str
    signature: str
    def __init__(self, event: _Optional[bytes] = ..., timestamp: _Optional[str] = ..., signature: _Optional[str] = ...) -> None: ...

class IngestReceipt(_message.Message):
    __slots__ = ("index", "receipt", "error")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    index: int
    receipt: _engine_messages_pb2.Receipt
    error: _engine_messages_pb2.ApiError
    def __init__(self, index: _Optional[int] = ..., receipt: _Optional[_Union[_engine_messages_pb2.Receipt, _Mapping]] = ..., error: _Optional[_Union[_engine_messages_pb2.ApiError, _Mapping]] = ...) -> None: ...

class WatchRunsRequest(_message.Message):
    __slots__ = ("function_id",)
    FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
    function_id: str
    def __init__(self, function_id: _Optional[str] = ...) -> None: ...

class RunChange(_message.Message):
    __slots__ = ("run_id", "function_id", "status", "at", "resync", "run")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    RESYNC_FIELD_NUMBER: _ClassVar[int]
    RUN_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    function_id: str
    status: str
    at: str
    resync: bool
    run: _engine_messages_pb2.Run
    def __init__(self, run_id: _Optional[str] = ..., function_id: _Optional[str] = ..., status: _Optional[str] = ..., at: _Optional[str] = ..., resync: _Optional[bool] = ..., run: _Optional[_Union[_engine_messages_pb2.Run, _Mapping]] = ...) -> None: ...
