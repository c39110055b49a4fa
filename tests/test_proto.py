"""The protobuf front-end: against protoc itself, and on bad input."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pilota import ir
from pilota.diagnostics import Diagnostics
from pilota.proto.loader import load_proto
from tests.conftest import need_shared
from tests.proto_compare import our_docs, ours, their_docs, theirs

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "proto"
CORPUS_FILES = sorted(str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*.proto"))


def protoc(root: Path, name: str, out: Path) -> subprocess.CompletedProcess[str]:
    pytest.importorskip("grpc_tools") if not os.environ.get("CI") else None
    return subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{root}",
         f"--descriptor_set_out={out}", "--include_imports", "--retain_options", "--include_source_info", name,
         # in the set, so that the options messages decode as this version defines them
         "google/protobuf/descriptor.proto"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def all_modules(roots: list[ir.Module]) -> dict[str, ir.Module]:
    found: dict[str, ir.Module] = {}
    pending = list(roots)
    while pending:
        module = pending.pop()
        if module.name not in found:
            found[module.name] = module
            pending += [i.module for i in module.includes]
    return found


@pytest.mark.parametrize("name", CORPUS_FILES or ["(no corpus)"])
def test_same_as_protoc(name: str, tmp_path: Path) -> None:
    """Every file protoc accepts lowers to what protoc describes (the file and each
    file it imports), docs (leading and trailing comments) included; every file
    protoc rejects, we reject too."""
    root = need_shared("corpus", "proto")
    from google.protobuf import descriptor_pb2, descriptor_pool

    out = tmp_path / "set.pb"
    answer = protoc(root, name, out)
    diagnostics = Diagnostics()
    modules = load_proto([root / name], [root], diagnostics)
    if answer.returncode != 0:
        assert modules is None, f"protoc rejects it:\n{answer.stderr}"
        assert diagnostics.errors
        return
    assert modules is not None, diagnostics.render()
    descriptors = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for file in descriptors.file:
        pool.Add(file)
    mine = all_modules(modules)
    # protoc's set also holds `import option` files, which are not dependencies of ours
    assert name in mine and set(mine) <= {f.name for f in descriptors.file}
    for file in descriptors.file:
        if file.name in mine:
            assert ours(mine[file.name]) == theirs(file, pool), file.name
            assert our_docs(mine[file.name]) == their_docs(file), file.name


def check(tmp_path: Path, text: str, files: dict[str, str] | None = None) -> list[str]:
    """Errors for a main.proto (and other files beside it), as `line:col: message`."""
    for other, body in (files or {}).items():
        (tmp_path / other).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / other).write_text(body)
    (tmp_path / "main.proto").write_text(text)
    diagnostics = Diagnostics()
    result = load_proto([tmp_path / "main.proto"], [tmp_path], diagnostics)
    errors = [
        f"{d.location.line}:{d.location.col}: {d.message}" if d.location else d.message
        for d in diagnostics.sorted()
        if d.is_error
    ]
    assert (result is None) == bool(errors)
    return errors


P2 = 'syntax = "proto2";\n'
P3 = 'syntax = "proto3";\n'
E23 = 'edition = "2023";\n'
DESCRIPTOR = 'import "google/protobuf/descriptor.proto";\n'
MESSAGE_OPTION = "extend google.protobuf.MessageOptions {{ {} x = 50000; }}\n"
DECLARED = ('message A { extensions 10 to 20 [declaration = { number: 10, full_name: ".x", '
            'type: "int32" }]; }\n')

NEGATIVE: list[tuple[str, str, str]] = [
    ("duplicate number", P3 + "message A {\n  int32 a = 1;\n  int32 b = 1;\n}\n",
     '4:13: field number 1 has already been used in "A" by field "a"'),
    ("duplicate name", P3 + "message A {\n  int32 a = 1;\n  string a = 2;\n}\n",
     '4:10: "a" is already defined in "A"'),
    ("number zero", P3 + "message A { int32 a = 0; }\n",
     "2:23: field number 0 is out of range: field numbers go from 1 to 536870911"),
    ("number too big", P3 + "message A { int32 a = 536870912; }\n",
     "2:23: field number 536870912 is out of range: field numbers go from 1 to 536870911"),
    ("implementation range", P3 + "message A { int32 a = 19500; }\n",
     "2:23: field numbers 19000 through 19999 are reserved for the protobuf implementation"),
    ("reserved number", P3 + "message A {\n  reserved 2 to 4;\n  int32 a = 3;\n}\n",
     '4:13: field "a" uses reserved number 3'),
    ("reserved name", P3 + 'message A {\n  reserved "a";\n  int32 a = 3;\n}\n',
     '4:9: field name "a" is reserved'),
    ("reserved overlap", P3 + "message A {\n  reserved 1 to 5, 4;\n}\n",
     "3:12: reserved range 1 to 5 overlaps reserved range 4 to 4"),
    ("float map key", P3 + "message A { map<float, string> m = 1; }\n",
     '2:24: map key type must be an integer, bool or string type, not "float"'),
    ("message map key", P3 + "message B {}\nmessage A { map<B, string> m = 1; }\n",
     '3:20: map key type must be an integer, bool or string type, not "B"'),
    ("map of a closed enum without zero", P2 + "enum E { A = 1; }\nmessage M {\n  map<int32, E> m = 1;\n}\n",
     '4:14: a map\'s enum values need 0 as the first value, and "E" starts with 1'),
    ("scalar as rpc type", P3 + "message bytes {}\nservice S {\n  rpc M(bytes) returns (bytes);\n}\n",
     '4:9: expected a message type, found the scalar type "bytes"'),
    ("method named like its type", P3 + "message M {}\nservice S {\n  rpc M(M) returns (M);\n}\n",
     '4:9: "M" is not a message type'),
    ("proto3 first enum value", P3 + "enum E {\n  A = 1;\n}\n",
     "3:7: the first value of an open enum must be zero"),
    ("proto3 required", P3 + "message A { required int32 a = 1; }\n",
     "2:28: required fields are not allowed in proto3"),
    ("proto3 default", P3 + "message A { int32 a = 1 [default = 5]; }\n",
     "2:26: explicit default values are not allowed in proto3"),
    ("proto3 group", P3 + "message A {\n  repeated group G = 1 {}\n}\n",
     "3:18: groups are not allowed in proto3; use a message"),
    ("alias", P3 + "enum E {\n  A = 0;\n  B = 0;\n}\n",
     '4:7: "B" uses the same number as "A" (0); set option allow_alias = true to allow aliases'),
    ("alias without aliases", P3 + "enum E {\n  option allow_alias = true;\n  A = 0;\n}\n",
     '2:6: enum "E" sets allow_alias but has no aliases'),
    ("enum value clash", P3 + "enum E { A = 0; }\nenum F { A = 0; }\n",
     '3:10: "A" is already defined at the top level'),
    # both once ended in an internal error (the service's name led to the message)
    ("service named like a message", P3 + "message S {}\nservice S {}\n",
     '3:9: "S" is already defined at the top level'),
    ("message named like a service", P3 + "service S {}\nmessage S {}\n",
     '2:9: "S" is already defined at the top level'),
    # each once ended in an internal error (a dotted name reached a non-type)
    ("a field as a type", P3 + "message M { int32 a = 1; M.a b = 2; }\n",
     '2:26: "M.a" is not a type'),
    ("a method as a type", P3 + "service S { rpc F(M) returns (M); }\nmessage M { .S.F g = 1; }\n",
     '3:13: ".S.F" is not a type'),
    ("an enum value as a type", P3 + "package p;\nenum E { A = 0; }\nmessage M { p.A a = 1; }\n",
     '4:13: "p.A" is not a type'),
    ("json name clash", P3 + "message A {\n  int32 foo_bar = 1;\n  int32 fooBar = 2;\n}\n",
     '4:9: the default JSON name of field "fooBar" ("fooBar") conflicts with the default JSON name of field "foo_bar"'),
    ("custom json name clash", P3 + 'message A { int32 a = 1 [json_name = "b"]; int32 b = 2; }\n',
     '2:50: the default JSON name of field "b" ("b") conflicts with the custom JSON name of field "a"'),
    ("bracketed json name", P3 + 'message A { int32 a = 1 [json_name = "[x]"]; }\n',
     '2:19: the JSON name "[x]" of field "a" is not allowed: JSON names may not start with \'[\' and end with \']\''),
    ("unknown type", P3 + "message A { Foo f = 1; }\n", '2:13: "Foo" is not defined'),
    ("misspelt type", P3 + "package p;\nmessage Money {}\nmessage A { message L { Mony m = 1; } }\n",
     '4:25: "Mony" is not defined; did you mean \'Money\'?'),
    ("misspelt scalar", P3 + "message A { strin s = 1; }\n",
     '2:13: "strin" is not defined; did you mean \'string\'?'),
    ("innermost scope", P3 + "package p;\nmessage B { message C {} }\n"
     "message A {\n  message B {}\n  B.C c = 1;\n}\n",
     '6:3: "B.C" is resolved to "p.A.B.C", which is not defined; the innermost scope is '
     'searched first: write ".B.C" to start from the outermost'),
    ("not imported", P3 + 'import "b.proto";\nmessage A { C c = 1; }\n',
     '3:13: "C" seems to be defined in "c.proto", which is not imported by "main.proto"'),
    ("missing import", P3 + 'import "nowhere.proto";\n',
     "2:8: import 'nowhere.proto' was not found; give its directory with -I"),
    ("unknown syntax", 'syntax = "proto4";\n',
     '1:10: unknown syntax "proto4": expected "proto2" or "proto3"'),
    ("late edition", 'edition = "2026";\n',
     "1:11: edition 2026 is later than the latest supported, 2024"),
    ("editions label", E23 + "message A { optional int32 a = 1; }\n",
     '2:28: label "optional" is not allowed in editions; use features.field_presence'),
    ("proto2 label", P2 + "message A { int32 a = 1; }\n",
     '2:19: field "a" needs a label in proto2: required, optional or repeated'),
    ("default type", P2 + 'message A { optional int32 a = 1 [default = "x"]; }\n',
     "2:45: the default value has type int32: expected an integer"),
    ("default range", P2 + "message A { optional int32 a = 1 [default = 3000000000]; }\n",
     "2:45: the default value: 3000000000 is out of range for type int32"),
    ("default enum", P2 + "enum E { X = 1; }\nmessage A { optional E e = 1 [default = Y]; }\n",
     '3:41: the default value: enum "E" has no value named "Y"'),
    ("extension outside ranges", P2 + "message A { extensions 10 to 20; }\n"
     "extend A { optional int32 x = 30; }\n",
     '3:31: "A" does not declare 30 as an extension number'),
    ("extend a non-message", P2 + "enum E { X = 1; }\nextend E { optional int32 x = 30; }\n",
     '3:8: "E" is not a message'),
    ("service input not a message", P3 + "enum E { X = 0; }\nmessage M {}\n"
     "service S { rpc F(E) returns (M); }\n",
     '4:19: "E" is not a message type'),
    ("duplicate rpc", P3 + "message M {}\nservice S {\n  rpc F(M) returns (M);\n"
     "  rpc F(M) returns (M);\n}\n",
     '5:7: "F" is already defined in service "S"'),
    ("syntax error", P3 + "message A { int32 a = ; }\n",
     "2:23: unexpected ';'; expected a number"),
    ("stray brace", P3 + "message A {}\n}\n",
     "3:1: unexpected '}'; expected a declaration (message, enum, service, import, option, ...), "
     "';' or end of file"),
    ("option without a value", P3 + "message A { repeated int32 d = 4 [packed = ]; }\n",
     "2:44: unexpected ']'; expected '+', '-', '<', '{', a number, a string literal or an identifier"),
    ("unfinished package", P3 + "package\nmessage A {}\n",
     "2:8: unfinished package before 'message': expected an identifier"),
    ("missing brace", P3 + "enum E {\n  X = 0;\nmessage M { int32 a = 1; }\n",
     "4:1: missing '}' before 'message'"),
    ("number run into a name", P3 + "message A { int32 a = 12abc; }\n",
     "2:25: a space is needed between the number 12 and the name abc"),
    ("0x without digits", P3 + "message A { int32 a = 0x; }\n",
     '2:25: "0x" needs hex digits after it'),
    ("exponent without digits", P2 + "message A { optional double d = 1 [default = 1.5e]; }\n",
     '2:50: the exponent "e" needs digits after it'),
    ("unterminated string", 'syntax = "proto3;\n',
     "1:10: unterminated string literal: expected a closing \" on the same line"),
    ("bad escape", P3 + 'option java_package = "a\\qb";\n',
     "2:23: invalid escape sequence \\q"),
    ("empty oneof", P3 + "message A { oneof o {} }\n", '2:19: oneof "o" has no fields'),
    # options, typed against descriptor.proto
    ("unknown option", P3 + 'option java_pakage = "x";\n',
     '2:8: unknown option "java_pakage": "google.protobuf.FileOptions" has no field "java_pakage"'),
    ("option type", P3 + "option java_package = 5;\n",
     '2:23: option "java_package" has type string: expected a quoted string'),
    ("option enum value", P3 + "option optimize_for = FAST;\n",
     '2:23: option "optimize_for": enum "google.protobuf.FileOptions.OptimizeMode" has no value named "FAST"'),
    ("option set twice", P3 + 'option java_package = "a";\noption java_package = "b";\n',
     '3:8: option "java_package" is already set'),
    ("bool option", P3 + "message A { int32 a = 1 [deprecated = True]; }\n",
     '2:39: option "deprecated" has type bool: expected true or false'),
    ("map_entry by hand", P3 + "message A { option map_entry = true; }\n",
     "2:20: map_entry is not set by hand: declare the field as map<K, V>"),
    ("undefined custom option", P3 + "message A { option (nope) = 1; }\n",
     '2:20: unknown option "(nope)": "nope" is not defined'),
    ("option of another kind", P3 + DESCRIPTOR
     + "extend google.protobuf.FieldOptions { int32 x = 50000; }\nmessage A { option (x) = 1; }\n",
     '4:20: "x" extends "google.protobuf.FieldOptions", not "google.protobuf.MessageOptions"'),
    ("option out of range", P3 + DESCRIPTOR + MESSAGE_OPTION.format("int32")
     + "message A { option (x) = 3000000000; }\n",
     '4:26: option "(x)": 3000000000 is out of range for type int32'),
    ("float option", P3 + DESCRIPTOR + MESSAGE_OPTION.format("float")
     + "message A { option (x) = infinity; }\n",
     '4:26: option "(x)" has type float: expected a number'),
    ("string option not UTF-8", P3 + DESCRIPTOR + MESSAGE_OPTION.format("string")
     + 'message A { option (x) = "\\xff"; }\n',
     '4:26: option "(x)" has type string, and this value is not UTF-8'),
    ("message option scalar", P3 + DESCRIPTOR + "message O { int32 a = 1; }\n"
     + MESSAGE_OPTION.format("O") + "message A { option (x) = 3; }\n",
     '5:26: option "(x)" is message "O": its value is an aggregate, { ... }'),
    ("aggregate unknown field", P3 + DESCRIPTOR + "message O { int32 a = 1; }\n"
     + MESSAGE_OPTION.format("O") + "message A { option (x) = { b: 1 }; }\n",
     '5:28: "O" has no field "b"'),
    ("aggregate field twice", P3 + DESCRIPTOR + "message O { int32 a = 1; }\n"
     + MESSAGE_OPTION.format("O") + "message A { option (x) = { a: 1 a: 2 }; }\n",
     '5:33: field "a" is already set'),
    ("option path twice", P3 + DESCRIPTOR + "message O { int32 a = 1; }\n"
     + MESSAGE_OPTION.format("O") + "message A { option (x) = { a: 1 }; option (x).a = 2; }\n",
     '5:43: option "(x).a" is already set'),
    ("aggregate oneof", P3 + DESCRIPTOR + "message O { oneof k { int32 a = 1; int32 b = 2; } }\n"
     + MESSAGE_OPTION.format("O") + "message A { option (x) = { a: 1 b: 2 }; }\n",
     '5:33: field "b": "a" is already set, and only one field of oneof "k" may be'),
    ("aggregate required", P2 + DESCRIPTOR + "message O { required int32 a = 1; optional int32 b = 2; }\n"
     + "extend google.protobuf.MessageOptions { optional O x = 50000; }\n"
     + "message A { option (x) = { b: 2 }; }\n",
     '5:28: the value of message "O" lacks required field "a"'),
    ("option path required", P2 + DESCRIPTOR + "message O { required int32 a = 1; optional int32 b = 2; }\n"
     + "extend google.protobuf.MessageOptions { optional O x = 50000; }\n"
     + "message A { option (x).b = 2; }\n",
     '5:20: option "(x).b" leaves required field "a" of "O" unset'),
    ("option targets", P3 + DESCRIPTOR
     + "extend google.protobuf.MessageOptions { int32 x = 50000 [targets = TARGET_TYPE_FIELD]; }\n"
     + "message A { option (x) = 1; }\n",
     '4:20: "x" cannot be set on a message'),
    ("json_name not a string", P3 + "message A { int32 a = 1 [json_name = 5]; }\n",
     "2:38: json_name takes a quoted string"),
    ("packed string", P2 + "message A { repeated string a = 1 [packed = true]; }\n",
     "2:22: packed can only be set on repeated fields of numeric or enum types"),
    ("lazy scalar", P3 + "message A { int32 b = 2 [lazy = true]; }\n",
     "2:13: lazy can only be set on message fields"),
    # editions features
    ("features outside editions", P3 + "option features.field_presence = EXPLICIT;\n",
     "2:8: features can only be set in editions files"),
    ("feature target", E23 + "message A { option features.field_presence = EXPLICIT; }\n",
     '2:20: "google.protobuf.FeatureSet.field_presence" cannot be set on a message'),
    ("feature unknown value", E23 + "option features.field_presence = FIELD_PRESENCE_UNKNOWN;\n",
     "2:34: feature field_presence must be set to a known value, not FIELD_PRESENCE_UNKNOWN"),
    ("repeated presence", E23 + "message A { repeated int32 a = 1 [features.field_presence = IMPLICIT]; }\n",
     "2:28: repeated fields cannot set features.field_presence"),
    ("oneof presence", E23 + "message A { oneof o { int32 a = 1 [features.field_presence = IMPLICIT]; } }\n",
     "2:29: fields in a oneof cannot set features.field_presence"),
    ("implicit message", E23 + "message A { A a = 1 [features.field_presence = IMPLICIT]; }\n",
     "2:15: message fields cannot have implicit presence"),
    ("implicit default", E23 + "message A { int32 a = 1 [features.field_presence = IMPLICIT, default = 4]; }\n",
     "2:19: fields with implicit presence cannot have a default value"),
    ("implicit closed enum", E23 + "enum E { option features.enum_type = CLOSED; A = 1; }\n"
     "message M { E e = 1 [features.field_presence = IMPLICIT]; }\n",
     '3:15: fields with implicit presence need an open enum, and "E" is closed'),
    ("encoding of a scalar", E23 + "message A { int32 a = 1 [features.message_encoding = DELIMITED]; }\n",
     "2:19: only message fields can set features.message_encoding"),
    ("packed strings", E23 + "message A { repeated string a = 1 [features.repeated_field_encoding = PACKED]; }\n",
     "2:29: only repeated fields of numeric or enum types can be PACKED"),
    ("utf8 of an int", E23 + "message A { int32 a = 1 [features.utf8_validation = NONE]; }\n",
     "2:19: only string fields can set features.utf8_validation"),
    ("packed in editions", E23 + "message A { repeated int32 a = 1 [packed = true]; }\n",
     "2:28: the packed option is not allowed in editions; use features.repeated_field_encoding"),
    ("ctype in 2024", 'edition = "2024";\nmessage A { string a = 1 [ctype = CORD]; }\n',
     "2:13: ctype is not allowed from edition 2024 on; use features.(pb.cpp).string_type"),
    # extension declarations
    ("declared name", P2 + DECLARED + "extend A { optional int32 y = 10; }\n",
     '3:27: extension number 10 of "A" is declared as ".x", not ".y"'),
    ("declared type", P2 + DECLARED + "extend A { optional string x = 10; }\n",
     '3:21: extension ".x" is declared with type "int32", not "string"'),
    ("undeclared number", P2 + DECLARED + "extend A { optional int32 x = 11; }\n",
     '3:31: "A" declares its extensions, and none with number 11'),
    ("declared repeated", P2 + DECLARED + "extend A { repeated int32 x = 10; }\n",
     '3:27: extension ".x" is declared not repeated'),
    ("declaration outside range", P2 + "message A { extensions 10 to 20 "
     '[declaration = { number: 30, full_name: ".x", type: "int32" }]; }\n',
     "2:24: extension declaration number 30 is not in the range"),
    ("declaration without dot", P2 + "message A { extensions 10 to 20 "
     '[declaration = { number: 10, full_name: "x", type: "int32" }]; }\n',
     '2:24: declared extension name "x" needs a leading dot: it is fully qualified'),
    ("declared and unverified", P2 + "message A { extensions 10 to 20 "
     '[declaration = { number: 10, full_name: ".x", type: "int32" }, verification = UNVERIFIED]; }\n',
     "2:24: an extension range with declarations cannot be UNVERIFIED"),
]


@pytest.mark.parametrize(("text", "expected"), [(t, e) for _, t, e in NEGATIVE],
                         ids=[n for n, _, _ in NEGATIVE])  # fmt: skip
def test_rejected_with_a_clear_error(tmp_path: Path, text: str, expected: str) -> None:
    files = {"b.proto": P3 + 'import "c.proto";\n', "c.proto": P3 + "message C {}\n"}
    assert expected in check(tmp_path, text, files)


@pytest.mark.parametrize("text", [t for _, t, _ in NEGATIVE], ids=[n for n, _, _ in NEGATIVE])
def test_protoc_rejects_them_too(tmp_path: Path, text: str) -> None:
    """No negative case is stricter than protoc."""
    check(tmp_path, text, {"b.proto": P3 + 'import "c.proto";\n', "c.proto": P3 + "message C {}\n"})
    answer = protoc(tmp_path, "main.proto", tmp_path / "set.pb")
    assert answer.returncode != 0, "protoc accepts it"


def test_all_independent_errors_at_once(tmp_path: Path) -> None:
    errors = check(tmp_path, P3 + "message A {\n  Foo a = 1;\n  Bar b = 2;\n}\nenum E { X = 3; }\n")
    assert errors == [
        '3:3: "Foo" is not defined',
        '4:3: "Bar" is not defined',
        "6:14: the first value of an open enum must be zero",
    ]


def test_json_name_clash_is_a_warning_in_proto2(tmp_path: Path) -> None:
    (tmp_path / "main.proto").write_text(
        P2 + "message A { optional int32 foo_bar = 1; optional int32 fooBar = 2; }\n"
    )
    diagnostics = Diagnostics()
    assert load_proto([tmp_path / "main.proto"], [tmp_path], diagnostics) is not None
    assert [(d.location.line, d.location.col, d.message) for d in diagnostics.warnings
            if d.location] == [(2, 56, 'the default JSON name of field "fooBar" ("fooBar") '
                                'conflicts with the default JSON name of field "foo_bar"')]


def test_every_syntax_error_at_once(tmp_path: Path) -> None:
    """After a syntax error, parsing resumes past the statement or declaration."""
    errors = check(tmp_path, P3 + "message A { int32 a = ; }\nmessage B { string b = 1 }\n"
                   'option java_package = "a\\qb";\nmessage C { int32 c = 1; }\n'
                   "message D {\n  int32 d = 1;\n")  # fmt: skip
    assert errors == [
        "2:23: unexpected ';'; expected a number",
        "3:26: unexpected '}'; expected ';' or '['",
        "4:23: invalid escape sequence \\q",
        "8:1: unexpected end of file: a '}' is missing",
    ]


SEVERAL_SYNTAX_ERRORS = P3 + """message A {
  int32 a = ;
  string b = 2
  int32 c = 3;
  repeated int32 d = 4 [packed = ];
  message N { int32 x = ; int32 y = 1; }
  map<string, int32> m = 5;
  oneof o { int32 g = 8 int32 h = 9; }
  int32 i = 10 }
enum E { X = 0; Y = ; Z = 2; }
service S { rpc F(A) returns (A) rpc G(A) returns (A); }
"""


def test_syntax_errors_inside_one_message_are_reported_where_protoc_reports_them(
    tmp_path: Path,
) -> None:
    """Recovery goes statement by statement inside bodies, as protoc's does."""
    ours = [error.split(": ", 1)[0] for error in check(tmp_path, SEVERAL_SYNTAX_ERRORS)]
    answer = protoc(tmp_path, "main.proto", tmp_path / "set.pb")
    theirs = re.findall(r"main\.proto:(\d+:\d+): ", answer.stderr)
    assert ours == theirs
    assert ours == ["3:13", "5:3", "6:34", "7:25", "9:25", "10:16", "11:21", "12:34"]


def test_a_nested_message_at_the_margin_is_not_taken_for_a_missing_brace(tmp_path: Path) -> None:
    """Declarations nest in protobuf: `message B` at the margin inside A is
    not the start of a new top-level declaration with A's `}` missing."""
    errors = check(tmp_path, P3 + "message A {\nmessage B { int32 x = 1; }\nint32 y = ;\n}\n")
    assert errors == ["4:11: unexpected ';'; expected a number"]


def test_without_grpcio_tools_the_errors_say_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pilota.proto.loader.well_known_root", lambda: None)
    errors = check(tmp_path, P3 + 'import "google/protobuf/any.proto";\n')
    assert errors == [
        "2:8: import 'google/protobuf/any.proto' was not found; the well-known types come "
        "with grpcio-tools: pip install 'volo-py[proto]'"
    ]
    errors = check(tmp_path, P3 + 'option java_package = "x";\n')
    assert errors == [
        "2:8: options cannot be checked: google/protobuf/descriptor.proto was not found; give "
        "its directory with -I, or install grpcio-tools, which ships it: pip install "
        "'volo-py[proto]'"
    ]


def test_scoping_public_imports_and_well_known_types(tmp_path: Path) -> None:
    files = {
        "dep/inner.proto": P3 + "package dep;\nmessage Inner { enum Kind { K = 0; } }\n",
        "dep/reexport.proto": P3 + 'import public "dep/inner.proto";\n',
    }
    text = P3 + (
        'package app.v1;\nimport "dep/reexport.proto";\nimport "google/protobuf/timestamp.proto";\n'
        "message Inner {}\n"
        "message A {\n"
        "  Inner mine = 1;\n"  # the innermost scope first: app.v1.Inner
        "  .dep.Inner theirs = 2;\n"
        "  dep.Inner.Kind kind = 3;\n"
        "  google.protobuf.Timestamp at = 4;\n"
        "  optional int32 maybe = 5;\n"
        "  map<string, A> children = 6;\n"
        "}\n"
    )
    assert check(tmp_path, text, files) == []
    diagnostics = Diagnostics()
    modules = load_proto([tmp_path / "main.proto"], [tmp_path], diagnostics)
    assert modules is not None
    a = modules[0].definitions["A"]
    assert isinstance(a, ir.Struct)
    types = {f.name: f.type for f in a.fields}
    named: dict[str, Any] = {n: getattr(t, "definition", None) for n, t in types.items()}
    assert named["mine"].full_name == "app.v1.Inner"
    assert named["theirs"].full_name == "dep.Inner"
    assert named["kind"].full_name == "dep.Inner.Kind"
    assert named["at"].full_name == "google.protobuf.Timestamp"  # no -I for it
    maybe = a.field_named("maybe")
    assert maybe is not None and maybe.proto3_optional and maybe.oneof is not None
    assert maybe.oneof.synthetic and maybe.oneof.name == "_maybe"
    assert isinstance(types["children"], ir.MapType)


def test_comments_become_docs(tmp_path: Path) -> None:
    """protoc's rules: a comment right above leads; one after the `;` or `{` on the
    same line trails, as does a block below that a blank line or `}` ends."""
    text = P3 + (
        "// A thing.\n// Two lines.\nmessage A { // about A\n"
        "  /* The id. */\n  int32 id = 1;\n"
        "  string name = 2; // the name\n"
        "  int32 size = 3;\n  // under size\n\n"
        "  int32 next = 4;\n  // leads last, not trails next\n"
        "  int32 last = 5 [deprecated = true]; /* a block */\n"
        "  int32 end = 6;\n  // before the brace\n"
        "}\n"
    )
    diagnostics = Diagnostics()
    (tmp_path / "main.proto").write_text(text)
    modules = load_proto([tmp_path / "main.proto"], [tmp_path], diagnostics)
    assert modules is not None
    a = modules[0].definitions["A"]
    assert isinstance(a, ir.Struct)
    assert a.doc == "A thing.\nTwo lines.\nabout A"
    assert {f.name: f.doc for f in a.fields} == {
        "id": "The id.", "name": "the name", "size": "under size", "next": None,
        "last": "leads last, not trails next\na block", "end": "before the brace",
    }  # fmt: skip


def test_volo_idl_check_reads_proto(tmp_path: Path) -> None:
    (tmp_path / "main.proto").write_text(P3 + "message A { Foo f = 1; }\n")
    done = subprocess.run(
        [sys.executable, "-m", "volo_cli.main", "idl", "check", str(tmp_path / "main.proto"),
         "-I", str(tmp_path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert f'{tmp_path / "main.proto"}:2:13: error: "Foo" is not defined' in done.stderr
    assert "Traceback" not in done.stderr


def test_a_label_alone_on_its_line_keeps_the_leading_comment(tmp_path: Path) -> None:
    """The comment above a field leads it whether its label shares the type's line or
    not; groups alike. Checked against protoc's source info."""
    pytest.importorskip("grpc_tools") if not os.environ.get("CI") else None
    text = P2 + (
        "package labels;\n"
        "// A message.\nmessage A {\n"
        "  // Leads a.\n  optional\n    int32 a = 1;\n"
        "  // Leads b.\n  repeated\n  string b = 2; // trails b\n"
        "  /* Leads c. */\n  required\n\n  int64 c = 3;\n"
        "  // Leads d, on one line.\n  optional int32 d = 4;\n"
        "  // Leads the group.\n  optional\n  group G = 5 {\n    optional int32 x = 1;\n  }\n"
        "}\n"
    )
    (tmp_path / "labels.proto").write_text(text)
    out = tmp_path / "set.pb"
    answer = protoc(tmp_path, "labels.proto", out)
    assert answer.returncode == 0, answer.stderr
    from google.protobuf import descriptor_pb2

    descriptors = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    [theirs_file] = [f for f in descriptors.file if f.name == "labels.proto"]
    diagnostics = Diagnostics()
    modules = load_proto([tmp_path / "labels.proto"], [tmp_path], diagnostics)
    assert modules is not None, diagnostics.render()
    mine = our_docs(modules[0])
    assert mine == their_docs(theirs_file)
    assert mine["labels.A.a"] == "Leads a." and mine["labels.A.c"] == "Leads c."
