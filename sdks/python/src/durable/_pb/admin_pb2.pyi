# Generated from spec/proto by spec/tools/proto.py (grpcio-tools); do not edit.
# mypy: ignore-errors
# Regenerate: python spec/tools/proto.py --write
from . import options_pb2 as _options_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateAppRequest(_message.Message):
    __slots__ = ("name", "environment", "app_url")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    APP_URL_FIELD_NUMBER: _ClassVar[int]
    name: str
    environment: str
    app_url: str
    def __init__(self, name: _Optional[str] = ..., environment: _Optional[str] = ..., app_url: _Optional[str] = ...) -> None: ...

class App(_message.Message):
    __slots__ = ("id", "name", "environment", "app_url", "active_keys", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    APP_URL_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_KEYS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    environment: str
    app_url: str
    active_keys: int
    created_at: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., environment: _Optional[str] = ..., app_url: _Optional[str] = ..., active_keys: _Optional[int] = ..., created_at: _Optional[str] = ...) -> None: ...

class CreateAppAnswer(_message.Message):
    __slots__ = ("id", "name", "environment", "app_url", "active_keys", "created_at", "key")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    APP_URL_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_KEYS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    environment: str
    app_url: str
    active_keys: int
    created_at: str
    key: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., environment: _Optional[str] = ..., app_url: _Optional[str] = ..., active_keys: _Optional[int] = ..., created_at: _Optional[str] = ..., key: _Optional[str] = ...) -> None: ...

class ListAppsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListAppsAnswer(_message.Message):
    __slots__ = ("apps",)
    APPS_FIELD_NUMBER: _ClassVar[int]
    apps: _containers.RepeatedCompositeFieldContainer[App]
    def __init__(self, apps: _Optional[_Iterable[_Union[App, _Mapping]]] = ...) -> None: ...

class AppIdRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class UpdateAppRequest(_message.Message):
    __slots__ = ("id", "name", "app_url")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    APP_URL_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    app_url: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., app_url: _Optional[str] = ...) -> None: ...

class RotateKeyAnswer(_message.Message):
    __slots__ = ("id", "key", "active_keys")
    ID_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_KEYS_FIELD_NUMBER: _ClassVar[int]
    id: str
    key: str
    active_keys: int
    def __init__(self, id: _Optional[str] = ..., key: _Optional[str] = ..., active_keys: _Optional[int] = ...) -> None: ...

class RetireKeyAnswer(_message.Message):
    __slots__ = ("id", "active_keys")
    ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_KEYS_FIELD_NUMBER: _ClassVar[int]
    id: str
    active_keys: int
    def __init__(self, id: _Optional[str] = ..., active_keys: _Optional[int] = ...) -> None: ...

class DeleteAppAnswer(_message.Message):
    __slots__ = ("id", "deleted", "runs_deleted")
    ID_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    RUNS_DELETED_FIELD_NUMBER: _ClassVar[int]
    id: str
    deleted: bool
    runs_deleted: int
    def __init__(self, id: _Optional[str] = ..., deleted: _Optional[bool] = ..., runs_deleted: _Optional[int] = ...) -> None: ...
