"""The protobuf contract (spec/proto/durable/v1) checked against the JSON one ([GRPC-2]).

    python spec/tools/proto.py            # check (nox -s spec); exit 1 on any failure
    python spec/tools/proto.py --write    # regenerate the committed Python code

1. the .proto files compile with grpcio-tools (protoc);
2. the committed generated code (the engine's durable_engine/pb, the SDK's durable/_pb)
   equals a fresh generation, and both copies of convert.py are the same file;
3. every message with a `schema` option mirrors that JSON Schema field by field, both
   ways: each field has its JSON member of a matching type and each member its field,
   presence (`optional`, `required`, `nullable`) as the schema's required/null say, nested
   messages recursively; every other message is `grpc_only` or reached that way;
4. every rpc with an `http` option is an operation of openapi.yaml whose request and
   answer schemas are its message's, and every operation of openapi.yaml except those of
   HTTP_ONLY has exactly one rpc;
5. a self-test breaks copies of the contract and makes sure checks 3 and 4 notice.
"""

from __future__ import annotations

import copy
import importlib
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

SPEC = Path(__file__).resolve().parent.parent
ROOT = SPEC.parent
PROTO = SPEC / "proto"
SCHEMAS = SPEC / "schemas"
ENGINE_PB = ROOT / "reference/src/durable_engine/pb"
SDK_PB = ROOT / "sdks/python/src/durable/_pb"
TARGETS = (ENGINE_PB, SDK_PB)
CONVERT = ENGINE_PB / "convert.py"
HEADER = ("# Generated from spec/proto by spec/tools/proto.py (grpcio-tools); do not edit.\n"
          "# mypy: ignore-errors\n"
          "# Regenerate: python spec/tools/proto.py --write\n")
INIT = ('"""Generated protobuf messages of spec/proto/durable/v1 (spec/tools/proto.py --write)'
        '\nand the JSON conversion (convert.py)."""\n')
JSON_MESSAGE = "durable.v1.Json"

failures: list[str] = []
# Operations without an rpc, and why.
HTTP_ONLY = {
    "GET /openapi.yaml": "the HTTP API's own description",
    "POST /w/{token}": "a third party's raw request, its signature over the body's bytes",
}


def fail(message: str) -> None:
    failures.append(message)


# ---- 1, 2: generation ----------------------------------------------------------------------


def generate() -> dict[str, str]:
    """File name -> text of the generated modules, imports made package-relative."""
    from grpc_tools import protoc

    protos = sorted(str(p.relative_to(PROTO)) for p in PROTO.rglob("*.proto"))
    with tempfile.TemporaryDirectory() as out:
        include = str(Path(protoc.__file__).parent / "_proto")
        code = protoc.main(["protoc", f"-I{PROTO}", f"-I{include}", f"--python_out={out}",
                            f"--pyi_out={out}", *protos])
        if code != 0:
            fail(f"protoc failed ({code}) on {protos}")
            return {}
        files: dict[str, str] = {}
        for path in sorted(Path(out).rglob("*_pb2.py*")):
            text = path.read_text()
            text = re.sub(r"^from durable\.v1 import ", "from . import ", text, flags=re.M)
            files[path.name] = HEADER + text
    files["__init__.py"] = INIT
    return files


def expected_files() -> dict[str, str]:
    files = generate()
    if files:
        files["convert.py"] = CONVERT.read_text()
    return files


def write(files: dict[str, str]) -> None:
    for target in TARGETS:
        target.mkdir(parents=True, exist_ok=True)
        for stale in target.glob("*_pb2.py*"):
            if stale.name not in files:
                stale.unlink()
        for name, text in files.items():
            if target == ENGINE_PB and name == "convert.py":
                continue
            (target / name).write_text(text)


def check_fresh(files: dict[str, str]) -> None:
    for target in TARGETS:
        present = {p.name for p in target.glob("*.py*")} if target.is_dir() else set()
        for name, text in files.items():
            path = target / name
            if not path.is_file():
                fail(f"{path.relative_to(ROOT)} is missing: run python spec/tools/proto.py"
                     " --write")
            elif path.read_text() != text:
                fail(f"{path.relative_to(ROOT)} is stale: run python spec/tools/proto.py"
                     " --write")
        for name in sorted(present - set(files)):
            fail(f"{(target / name).relative_to(ROOT)} is not generated from spec/proto")


def load(files: dict[str, str], where: Path) -> dict[str, Any]:
    """Import the generated modules as a throwaway package; file name -> module."""
    package = where / "durable_pb_check"
    package.mkdir()
    for name, text in files.items():
        (package / name).write_text(text)
    sys.path.insert(0, str(where))
    modules = {}
    for name in files:
        if name.endswith("_pb2.py"):
            modules[name[:-3]] = importlib.import_module(f"durable_pb_check.{name[:-3]}")
    return modules


# ---- 3: field by field ---------------------------------------------------------------------


class Schemas:
    def __init__(self, folder: Path) -> None:
        self.docs = {p.name: json.loads(p.read_text()) for p in folder.glob("*.json")}

    def get(self, ref: str, base: str) -> tuple[Any, str]:
        """The schema `ref` names (relative to file `base`) and the file it is in."""
        name, _, pointer = ref.partition("#")
        name = name or base
        node: Any = self.docs[name]
        for part in [p for p in pointer.split("/") if p]:
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node, name

    def resolve(self, schema: Any, base: str) -> tuple[Any, str]:
        while isinstance(schema, dict) and "$ref" in schema:
            extra = {k: v for k, v in schema.items() if k not in ("$ref", "description")}
            schema, base = self.get(schema["$ref"], base)
            if extra and isinstance(schema, dict):
                schema = {**schema, **extra}
        return schema, base

    def shape(self, schema: Any, base: str) -> dict[str, Any]:
        """{"kind", "nullable", ...} of a (sub)schema: kind is any | string | integer |
        number | boolean | object (with props, required, base) | map (values) | array
        (items) | list-or-one (items)."""
        schema, base = self.resolve(schema, base)
        if schema is True or schema == {} or (isinstance(schema, dict) and not (
                set(schema) & {"type", "enum", "const", "properties", "oneOf", "anyOf",
                               "allOf", "items"})):
            return {"kind": "any", "nullable": True}
        if "allOf" in schema:
            kinds = [self.shape(part, base) for part in schema["allOf"]]
            return next((k for k in kinds if k["kind"] != "any"), kinds[0])
        if "oneOf" in schema and "type" not in schema:
            branches = [self.shape(part, base) for part in schema["oneOf"]]
            objects = [b for b in branches if b["kind"] == "object"]
            arrays = [b for b in branches if b["kind"] == "array"]
            if objects and arrays and len(branches) == 2 and \
                    arrays[0]["items"]["kind"] == "object":
                return {"kind": "list-or-one", "nullable": False, "items": arrays[0]["items"]}
            if len(objects) == len(branches):
                props: dict[str, tuple[Any, str]] = {}
                for branch in objects:
                    props.update(branch["props"])
                required = set.intersection(*(set(b["required"]) for b in objects))
                return {"kind": "object", "nullable": False, "props": props,
                        "required": sorted(required)}
            raise ValueError(f"a oneOf the checker cannot map: {schema}")
        types = schema.get("type")
        if types is None and "enum" in schema:
            types = sorted({json_type(v) for v in schema["enum"]})
        if types is None and "const" in schema:
            types = [json_type(schema["const"])]
        if types is None and "properties" in schema:
            types = "object"
        if isinstance(types, str):
            types = [types]
        nullable = "null" in types
        rest = [t for t in types if t != "null"]
        if len(rest) != 1:
            raise ValueError(f"a type the checker cannot map: {schema}")
        kind = rest[0]
        if kind == "object":
            props = {k: (v, base) for k, v in schema.get("properties", {}).items()}
            extra = schema.get("additionalProperties", True)
            if not props and isinstance(extra, dict):
                return {"kind": "map", "nullable": nullable,
                        "values": self.shape(extra, base)}
            if not props and extra is not False:
                return {"kind": "any", "nullable": nullable}
            return {"kind": "object", "nullable": nullable, "props": props,
                    "required": schema.get("required", [])}
        if kind == "array":
            return {"kind": "array", "nullable": nullable,
                    "items": self.shape(schema.get("items", True), base)}
        return {"kind": kind, "nullable": nullable}


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if value is None:
        return "null"
    return "string" if isinstance(value, str) else type(value).__name__


SCALARS = {"string": ("TYPE_STRING",), "integer": ("TYPE_INT64",), "number": ("TYPE_DOUBLE",),
           "boolean": ("TYPE_BOOL",)}


class Checker:
    def __init__(self, modules: dict[str, Any], schemas: Schemas) -> None:
        self.modules = modules
        self.schemas = schemas
        self.options = modules["options_pb2"]
        self.reached: set[str] = set()
        from google.protobuf.descriptor import FieldDescriptor
        self.fd = FieldDescriptor

    def option(self, descriptor: Any, name: str) -> Any:
        return descriptor.GetOptions().Extensions[getattr(self.options, name)]

    def messages(self) -> list[Any]:
        found = []

        def walk(descriptor: Any) -> None:
            if descriptor.GetOptions().map_entry:
                return
            found.append(descriptor)
            for nested in descriptor.nested_types:
                walk(nested)

        for module in self.modules.values():
            for descriptor in module.DESCRIPTOR.message_types_by_name.values():
                walk(descriptor)
        return found

    def run(self) -> None:
        messages = self.messages()
        for descriptor in messages:
            bound = self.option(descriptor, "schema")
            if bound:
                try:
                    schema, base = self.schemas.get(bound, "")
                    shape = self.schemas.shape({"$ref": bound}, base)
                except (KeyError, ValueError) as error:
                    fail(f"{descriptor.full_name}: schema {bound!r} does not resolve: {error}")
                    continue
                self.compare(descriptor, shape, f"{descriptor.full_name} ~ {bound}")
        for descriptor in messages:
            name = descriptor.full_name
            if name == JSON_MESSAGE or self.option(descriptor, "schema") or \
                    self.option(descriptor, "grpc_only") or name in self.reached:
                continue
            fail(f"{name} mirrors no JSON Schema: give it a schema option, reach it from a "
                 "field of a message that has one, or mark it grpc_only")

    def compare(self, descriptor: Any, shape: dict[str, Any], where: str) -> None:
        self.reached.add(descriptor.full_name)
        if shape["kind"] != "object":
            fail(f"{where}: the schema is {shape['kind']}, not an object")
            return
        fields = {f.json_name: f for f in descriptor.fields
                  if not self.option(f, "path_param")}
        props = shape["props"]
        for name in sorted(set(fields) - set(props)):
            fail(f"{where}: field {fields[name].name} has no JSON member {name!r}")
        for name in sorted(set(props) - set(fields)):
            fail(f"{where}: JSON member {name!r} has no field")
        for name in sorted(set(fields) & set(props)):
            sub, base = props[name]
            try:
                member = self.schemas.shape(sub, base)
            except ValueError as error:
                fail(f"{where}.{name}: {error}")
                continue
            self.field(fields[name], member, name in shape["required"], f"{where}.{name}")

    def field(self, field: Any, member: dict[str, Any], required: bool, where: str) -> None:
        fd = self.fd
        repeated = field.is_repeated
        entry = field.message_type
        is_map = entry is not None and entry.GetOptions().map_entry
        marked_required = bool(self.option(field, "required"))
        marked_nullable = bool(self.option(field, "nullable"))
        kind = member["kind"]
        if kind in ("array", "list-or-one", "map"):
            if not repeated:
                fail(f"{where}: JSON {kind}, proto field is not repeated")
                return
            if (kind == "map") != is_map:
                fail(f"{where}: JSON {kind}, proto field is {'a map' if is_map else 'a list'}")
                return
            if marked_required != required:
                fail(f"{where}: (required) is {marked_required}, the JSON member is "
                     f"{'required' if required else 'optional'}")
            if marked_nullable or member["nullable"]:
                fail(f"{where}: nullable lists and maps have no protobuf form")
            if is_map:
                if entry.fields_by_name["key"].type != fd.TYPE_STRING:
                    fail(f"{where}: map keys must be strings")
                self.single(entry.fields_by_name["value"], member["values"], where + "{}")
            else:
                self.single(field, member["items"], where + "[]")
            return
        if repeated:
            fail(f"{where}: proto field is repeated, the JSON member is {kind}")
            return
        if marked_required:
            fail(f"{where}: (required) is only for repeated and map fields")
        want_nullable = member["nullable"] and required and kind != "any"
        if marked_nullable != want_nullable:
            fail(f"{where}: (nullable) is {marked_nullable}, expected {want_nullable} (JSON "
                 f"{'required' if required else 'optional'}, "
                 f"{'nullable' if member['nullable'] else 'not nullable'})")
        if entry is None:
            presence = field.has_presence
            if presence == (required and not member["nullable"]):
                fail(f"{where}: a {'required' if required else 'optional'} JSON member "
                     f"needs a field {'without' if required else 'with'} `optional`")
        self.single(field, member, where)

    def single(self, field: Any, member: dict[str, Any], where: str) -> None:
        kind = member["kind"]
        entry = field.message_type
        if kind == "any":
            if entry is None or entry.full_name != JSON_MESSAGE:
                fail(f"{where}: any JSON value travels as {JSON_MESSAGE}")
            return
        if kind == "object":
            if entry is None or entry.full_name == JSON_MESSAGE:
                fail(f"{where}: a JSON object with members needs a message field")
                return
            self.compare(entry, member, where)
            return
        if kind in SCALARS:
            type_name = next(n for n in dir(self.fd) if n.startswith("TYPE_")
                             and getattr(self.fd, n) == field.type)
            if type_name not in SCALARS[kind]:
                fail(f"{where}: JSON {kind} needs {SCALARS[kind][0]}, not {type_name}")
            return
        fail(f"{where}: JSON {kind} inside a list or map has no protobuf form")


# ---- 4: rpc <-> openapi ----------------------------------------------------------------------


def check_operations(modules: dict[str, Any], openapi: dict[str, Any]) -> None:
    options = modules["options_pb2"]
    operations: dict[str, dict[str, Any]] = {}
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "patch", "delete", "put"):
                operations[f"{method.upper()} {path}"] = operation
    named: dict[str, str] = {}
    for module in modules.values():
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                http = method.GetOptions().Extensions[options.http]
                where = f"/{service.full_name}/{method.name}"
                if not http:
                    continue
                if http in named:
                    fail(f"{where}: {http} is already {named[http]}")
                named[http] = where
                operation = operations.get(http)
                if operation is None:
                    fail(f"{where}: {http} is no operation of openapi.yaml")
                    continue
                body = schema_of(operation.get("requestBody"))
                answer = schema_of(operation.get("responses", {}).get("200"))
                given = method.input_type.GetOptions().Extensions[options.schema]
                if body is not None and given != body:
                    fail(f"{where}: request {method.input_type.name} mirrors {given!r}, "
                         f"{http} takes {body!r}")
                if body is None and given and not any(
                        f.GetOptions().Extensions[options.path_param]
                        for f in method.input_type.fields):
                    fail(f"{where}: {http} takes no body, {method.input_type.name} mirrors "
                         f"{given!r}")
                got = method.output_type.GetOptions().Extensions[options.schema]
                if answer != got:
                    fail(f"{where}: answer {method.output_type.name} mirrors {got!r}, "
                         f"{http} answers {answer!r}")
    for http in sorted(set(operations) - set(named) - set(HTTP_ONLY)):
        fail(f"openapi.yaml {http} has no rpc (option (http) = \"{http}\")")


def schema_of(part: Any) -> str | None:
    if not isinstance(part, dict):
        return None
    schema = part.get("content", {}).get("application/json", {}).get("schema", {})
    ref = schema.get("$ref") if isinstance(schema, dict) else None
    return ref.removeprefix("schemas/") if isinstance(ref, str) else None


# ---- 5: self-test -----------------------------------------------------------------------------


def self_test(modules: dict[str, Any], schemas: Schemas, openapi: dict[str, Any]) -> None:
    """Each mutation of the JSON side must make the checks fail."""
    global failures
    mutations = {
        "a member added to run.schema.json": lambda s, o: s.docs["run.schema.json"][
            "properties"].update({"extra": {"type": "string"}}),
        "a member removed from receipt.schema.json": lambda s, o: s.docs[
            "receipt.schema.json"]["properties"].pop("matched"),
        "runs-search limit made a string": lambda s, o: s.docs[
            "runs-search-request.schema.json"]["properties"].update(
            {"limit": {"type": "string"}}),
        "sync-answer deactivated made optional": lambda s, o: s.docs[
            "sync-answer.schema.json"]["required"].remove("deactivated"),
        "runs-search nextCursor made not nullable": lambda s, o: s.docs[
            "runs-search-answer.schema.json"]["properties"].update(
            {"nextCursor": {"type": "string"}}),
        "event-input name made optional": lambda s, o: s.docs[
            "event-input.schema.json"]["required"].remove("name"),
        "event data made a string": lambda s, o: s.docs["event.schema.json"][
            "properties"].update({"data": {"type": "string"}}),
        "an operation added to openapi.yaml": lambda s, o: o["paths"].update(
            {"/runs/pause": {"post": {}}}),
        "/runs/get answering a run summary": lambda s, o: o["paths"]["/runs/get"]["post"][
            "responses"]["200"]["content"]["application/json"]["schema"].update(
            {"$ref": "schemas/run-summary.schema.json"}),
    }
    for what, mutate in mutations.items():
        saved, failures = failures, []
        broken, broken_openapi = copy.deepcopy(schemas), copy.deepcopy(openapi)
        mutate(broken, broken_openapi)
        Checker(modules, broken).run()
        check_operations(modules, broken_openapi)
        noticed, failures = bool(failures), saved
        if not noticed:
            fail(f"self-test: {what} went unnoticed")


def main(argv: list[str]) -> int:
    files = expected_files()
    if not files:
        print("\n".join(failures))
        return 1
    if "--write" in argv:
        write(files)
        places = ", ".join(str(t.relative_to(ROOT)) for t in TARGETS)
        print(f"wrote {len(files)} files into {places}")
        return 0
    check_fresh(files)
    where = Path(tempfile.mkdtemp())
    try:
        modules = load(files, where)
        schemas = Schemas(SCHEMAS)
        openapi = yaml.safe_load((SPEC / "openapi.yaml").read_text())
        checker = Checker(modules, schemas)
        checker.run()
        check_operations(modules, openapi)
        count = len(checker.reached)
        if not failures:
            self_test(modules, schemas, openapi)
    finally:
        shutil.rmtree(where, ignore_errors=True)
    for message in failures:
        print(f"FAIL {message}")
    if failures:
        return 1
    print(f"proto: {len(files)} generated files fresh in both packages; {count} messages "
          "match their JSON Schemas field by field; every operation has its rpc")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
