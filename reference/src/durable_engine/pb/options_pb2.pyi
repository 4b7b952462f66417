# Generated from spec/proto by spec/tools/proto.py (grpcio-tools); do not edit.
# mypy: ignore-errors
# Regenerate: python spec/tools/proto.py --write
from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor
SCHEMA_FIELD_NUMBER: _ClassVar[int]
schema: _descriptor.FieldDescriptor
GRPC_ONLY_FIELD_NUMBER: _ClassVar[int]
grpc_only: _descriptor.FieldDescriptor
REQUIRED_FIELD_NUMBER: _ClassVar[int]
required: _descriptor.FieldDescriptor
NULLABLE_FIELD_NUMBER: _ClassVar[int]
nullable: _descriptor.FieldDescriptor
PATH_PARAM_FIELD_NUMBER: _ClassVar[int]
path_param: _descriptor.FieldDescriptor
HTTP_FIELD_NUMBER: _ClassVar[int]
http: _descriptor.FieldDescriptor
