"""JSON <-> protobuf for the messages of spec/proto/durable/v1 ([GRPC-2], [GRPC-3]).

A message field is the JSON member named by its JSON name (`run_ids` <-> `runIds`). The
options of spec/proto/durable/v1/options.proto say what protobuf cannot: `required`
repeated and map fields are written even when empty, `nullable` fields are written as null
when unset, `path_param` fields are not part of the JSON object. A `durable.v1.Json` field
holds JSON text, parsed and written with every digit of its numbers kept.

spec/tools/proto.py copies this file verbatim next to the SDK's generated code; edit it
here (reference/src/durable_engine/pb/convert.py) and run `python spec/tools/proto.py
--write`.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any, cast

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from . import options_pb2

if TYPE_CHECKING:
    from . import json_pb2

# A field descriptor: the pure-Python and upb classes have no common static type.
Field = Any
JSON_MESSAGE = "durable.v1.Json"
INT64 = (-(2**63), 2**63 - 1)


class Mismatch(ValueError):
    """A value the other side cannot hold. `code` is the API code it is refused with:
    INVALID_JSON for JSON text that does not parse, INVALID_REQUEST otherwise; `path` is
    the JSON Pointer of the value."""

    def __init__(self, code: str, path: str, message: str) -> None:
        super().__init__(f"{path or '/'}: {message}")
        self.code = code
        self.path = path
        self.message = message


def _fields(message: Message) -> list[Field]:
    return list(message.DESCRIPTOR.fields)


def _option(field: Field, name: str) -> bool:
    extension = getattr(options_pb2, name)
    return bool(field.GetOptions().Extensions[extension])


def _pointer(path: str, key: str | int) -> str:
    return f"{path}/{str(key).replace('~', '~0').replace('/', '~1')}"


def _is_map(field: Field) -> bool:
    kind = field.message_type
    return kind is not None and kind.GetOptions().map_entry


def _is_json(field: Field) -> bool:
    kind = field.message_type
    return kind is not None and kind.full_name == JSON_MESSAGE


def _is_repeated(field: Field) -> bool:
    return bool(field.is_repeated)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def parse_json_text(text: str, path: str) -> Any:
    """JSON text of a Json field; NaN, Infinity and numbers beyond a double (1e999) are
    refused: no JSON store or reader can hold them."""
    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except (ValueError, RecursionError):
        raise Mismatch("INVALID_JSON", path, "is not valid JSON text") from None


def json_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


# ---- protobuf -> JSON ----------------------------------------------------------------------


def to_json(message: Message, path: str = "") -> dict[str, Any]:
    """The JSON object of `message` (raises Mismatch for Json text that does not parse)."""
    out: dict[str, Any] = {}
    for field in _fields(message):
        if _option(field, "path_param"):
            continue
        name = field.json_name
        here = _pointer(path, name)
        value = getattr(message, field.name)
        if _is_map(field):
            if value or _option(field, "required"):
                entry = field.message_type.fields_by_name["value"]
                out[name] = {key: _value(entry, item, _pointer(here, key))
                             for key, item in value.items()}
        elif _is_repeated(field):
            if value or _option(field, "required"):
                out[name] = [_value(field, item, _pointer(here, index))
                             for index, item in enumerate(value)]
        elif field.has_presence:
            if message.HasField(field.name):
                out[name] = _value(field, value, here)
            elif _option(field, "nullable"):
                out[name] = None
        else:
            out[name] = _value(field, value, here)
    return out


def _value(field: Field, value: Any, path: str) -> Any:
    kind = field.message_type
    if kind is None:
        if field.type == FieldDescriptor.TYPE_DOUBLE and math.isfinite(value) and \
                float(value).is_integer():
            return int(value)
        return value
    if kind.full_name == JSON_MESSAGE:
        return parse_json_text(value.text, path)
    return to_json(value, path)


# ---- JSON -> protobuf ----------------------------------------------------------------------


def from_json(value: Any, message: Message, path: str = "", *, strict: bool = True) -> Message:
    """Fill `message` from a JSON object. A member without a field raises Mismatch when
    `strict` (requests are closed) and is skipped otherwise (answers may grow, [VER-2])."""
    if not isinstance(value, dict):
        raise Mismatch("INVALID_REQUEST", path, "must be an object")
    fields = {field.json_name: field for field in _fields(message)
              if not _option(field, "path_param")}
    for key, item in value.items():
        here = _pointer(path, key)
        field = fields.get(key)
        if field is None:
            if strict:
                raise Mismatch("INVALID_REQUEST", here, "is not an allowed field")
            continue
        if item is None and not _is_json(field) and (field.has_presence or
                                                      _option(field, "nullable")):
            continue  # null: left unset (a Json field holds the JSON text null)
        if _is_map(field):
            if not isinstance(item, dict):
                raise Mismatch("INVALID_REQUEST", here, "must be an object")
            target = getattr(message, field.name)
            entry = field.message_type.fields_by_name["value"]
            for name, inner in item.items():
                if entry.message_type is not None:
                    from_json(inner, target[name], _pointer(here, name), strict=strict)
                else:
                    target[name] = _scalar(entry, inner, _pointer(here, name))
        elif _is_repeated(field):
            items = [item] if isinstance(item, dict) and field.message_type is not None \
                else item  # one rule where a list of rules may stand ([DEF] concurrency)
            if not isinstance(items, list):
                raise Mismatch("INVALID_REQUEST", here, "must be an array")
            target = getattr(message, field.name)
            for index, inner in enumerate(items):
                if field.message_type is not None:
                    _set_message(field, target.add(), inner, _pointer(here, index), strict)
                else:
                    target.append(_scalar(field, inner, _pointer(here, index)))
        elif field.message_type is not None:
            _set_message(field, getattr(message, field.name), item, here, strict)
        else:
            setattr(message, field.name, _scalar(field, item, here))
    return message


def _set_message(field: Field, target: Message, value: Any, path: str,
                 strict: bool) -> None:
    if field.message_type.full_name == JSON_MESSAGE:
        try:
            cast("json_pb2.Json", target).text = json_text(value)
        except ValueError:
            raise Mismatch("INVALID_REQUEST", path, "is not JSON") from None
    else:
        from_json(value, target, path, strict=strict)


def _scalar(field: Field, value: Any, path: str) -> Any:
    kind = field.type
    if kind == FieldDescriptor.TYPE_STRING:
        if isinstance(value, str):
            return value
        raise Mismatch("INVALID_REQUEST", path, "must be a string")
    if kind == FieldDescriptor.TYPE_BOOL:
        if isinstance(value, bool):
            return value
        raise Mismatch("INVALID_REQUEST", path, "must be a boolean")
    if kind == FieldDescriptor.TYPE_DOUBLE:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise Mismatch("INVALID_REQUEST", path, "must be a number")
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 19.0 is the integer 19, as in JSON Schema
    if isinstance(value, int) and not isinstance(value, bool):
        if INT64[0] <= value <= INT64[1]:
            return value
        raise Mismatch("INVALID_REQUEST", path, "is out of the 64-bit integer range")
    raise Mismatch("INVALID_REQUEST", path, "must be an integer")
