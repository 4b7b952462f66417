"""Generated protobuf messages of spec/proto/durable/v1 (spec/tools/proto.py --write)
and the JSON conversion (convert.py)."""
