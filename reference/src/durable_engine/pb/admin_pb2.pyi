# Generated from spec/proto by spec/tools/proto.py (grpcio-tools); do not edit.
# mypy: ignore-errors
# Regenerate: python spec/tools/proto.py --write
from . import engine_messages_pb2 as _engine_messages_pb2
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

class CreateWebhookRequest(_message.Message):
    __slots__ = ("id", "name", "transform", "signature")
    class Signature(_message.Message):
        __slots__ = ("preset", "header", "secret")
        PRESET_FIELD_NUMBER: _ClassVar[int]
        HEADER_FIELD_NUMBER: _ClassVar[int]
        SECRET_FIELD_NUMBER: _ClassVar[int]
        preset: str
        header: str
        secret: str
        def __init__(self, preset: _Optional[str] = ..., header: _Optional[str] = ..., secret: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TRANSFORM_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    transform: str
    signature: CreateWebhookRequest.Signature
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., transform: _Optional[str] = ..., signature: _Optional[_Union[CreateWebhookRequest.Signature, _Mapping]] = ...) -> None: ...

class Webhook(_message.Message):
    __slots__ = ("name", "url", "transform", "signature", "created_at", "secret")
    class Signature(_message.Message):
        __slots__ = ("preset", "header")
        PRESET_FIELD_NUMBER: _ClassVar[int]
        HEADER_FIELD_NUMBER: _ClassVar[int]
        preset: str
        header: str
        def __init__(self, preset: _Optional[str] = ..., header: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    TRANSFORM_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    name: str
    url: str
    transform: str
    signature: Webhook.Signature
    created_at: str
    secret: str
    def __init__(self, name: _Optional[str] = ..., url: _Optional[str] = ..., transform: _Optional[str] = ..., signature: _Optional[_Union[Webhook.Signature, _Mapping]] = ..., created_at: _Optional[str] = ..., secret: _Optional[str] = ...) -> None: ...

class ListWebhooksAnswer(_message.Message):
    __slots__ = ("webhooks",)
    WEBHOOKS_FIELD_NUMBER: _ClassVar[int]
    webhooks: _containers.RepeatedCompositeFieldContainer[Webhook]
    def __init__(self, webhooks: _Optional[_Iterable[_Union[Webhook, _Mapping]]] = ...) -> None: ...

class UpdateWebhookRequest(_message.Message):
    __slots__ = ("id", "name", "transform", "signature", "remove_signature", "rotate_token")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TRANSFORM_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    REMOVE_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    ROTATE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    transform: str
    signature: CreateWebhookRequest.Signature
    remove_signature: bool
    rotate_token: bool
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., transform: _Optional[str] = ..., signature: _Optional[_Union[CreateWebhookRequest.Signature, _Mapping]] = ..., remove_signature: _Optional[bool] = ..., rotate_token: _Optional[bool] = ...) -> None: ...

class WebhookDeliveriesAnswer(_message.Message):
    __slots__ = ("deliveries",)
    class Delivery(_message.Message):
        __slots__ = ("at", "status", "code", "message", "event_id", "run_ids")
        AT_FIELD_NUMBER: _ClassVar[int]
        STATUS_FIELD_NUMBER: _ClassVar[int]
        CODE_FIELD_NUMBER: _ClassVar[int]
        MESSAGE_FIELD_NUMBER: _ClassVar[int]
        EVENT_ID_FIELD_NUMBER: _ClassVar[int]
        RUN_IDS_FIELD_NUMBER: _ClassVar[int]
        at: str
        status: int
        code: str
        message: str
        event_id: str
        run_ids: _containers.RepeatedScalarFieldContainer[str]
        def __init__(self, at: _Optional[str] = ..., status: _Optional[int] = ..., code: _Optional[str] = ..., message: _Optional[str] = ..., event_id: _Optional[str] = ..., run_ids: _Optional[_Iterable[str]] = ...) -> None: ...
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    deliveries: _containers.RepeatedCompositeFieldContainer[WebhookDeliveriesAnswer.Delivery]
    def __init__(self, deliveries: _Optional[_Iterable[_Union[WebhookDeliveriesAnswer.Delivery, _Mapping]]] = ...) -> None: ...

class WebhookNameRequest(_message.Message):
    __slots__ = ("id", "name")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class DeleteWebhookAnswer(_message.Message):
    __slots__ = ("name", "deleted")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    name: str
    deleted: bool
    def __init__(self, name: _Optional[str] = ..., deleted: _Optional[bool] = ...) -> None: ...

class TestWebhookRequest(_message.Message):
    __slots__ = ("id", "name", "body", "headers")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    body: str
    headers: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., body: _Optional[str] = ..., headers: _Optional[_Mapping[str, str]] = ...) -> None: ...

class TestWebhookAnswer(_message.Message):
    __slots__ = ("ok", "event", "message")
    OK_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    event: _engine_messages_pb2.EventInput
    message: str
    def __init__(self, ok: _Optional[bool] = ..., event: _Optional[_Union[_engine_messages_pb2.EventInput, _Mapping]] = ..., message: _Optional[str] = ...) -> None: ...
