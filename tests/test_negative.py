"""Bad IDL gets one precise error per problem: exact message, file, line and column.

Each case writes its files into a temporary folder (keys are paths without
`.thrift`), checks `main.thrift`, and compares every error, in order.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import pilota
from tests.conftest import need_apache_compiler

ErrorAt = tuple[str | None, int, int, str]


@dataclass
class Case:
    name: str
    files: dict[str, str]
    include_dirs: tuple[str, ...] = ()
    errors: list[ErrorAt] = field(default_factory=list)


CASES = [
    Case(
        "unknown_type",
        {"main": "struct S {\n  1: Foo x\n}\n"},
        errors=[
            ("main.thrift", 2, 6, "unknown type 'Foo'"),
        ],
    ),
    Case(
        "unknown_type_hint",
        {"main": "struct Food {}\nstruct S { 1: Fod x }\n"},
        errors=[
            ("main.thrift", 2, 15, "unknown type 'Fod'; did you mean 'Food'?"),
        ],
    ),
    Case(
        "unknown_type_in_include",
        {"main": 'include "a.thrift"\nstruct S { 1: a.Missing x }\n', "a": "struct Present {}\n"},
        errors=[
            ("main.thrift", 2, 15, "unknown type 'a.Missing'"),
        ],
    ),
    Case(
        "unknown_include",
        {"main": 'include "nope.thrift"\n'},
        errors=[
            ("main.thrift", 1, 9, "cannot find included file 'nope.thrift' (searched: .); give its directory with -I"),
        ],
    ),
    Case(
        "include_cycle",
        {"main": 'include "a.thrift"\n', "a": 'include "main.thrift"\n'},
        errors=[
            ("a.thrift", 1, 9, "include cycle: main.thrift -> a.thrift -> main.thrift"),
        ],
    ),
    Case(
        "self_include",
        {"main": 'include "main.thrift"\n'},
        errors=[
            ("main.thrift", 1, 9, "include cycle: main.thrift -> main.thrift"),
        ],
    ),
    Case(
        "dup_field_id",
        {"main": "struct S {\n  1: i32 a\n  1: i32 b\n}\n"},
        errors=[
            ("main.thrift", 3, 3, "duplicate field id 1 in struct 'S': 'b' and 'a' both use it"),
        ],
    ),
    Case(
        "dup_field_name",
        {"main": "struct S {\n  1: i32 a\n  2: string a\n}\n"},
        errors=[
            (
                "main.thrift",
                3,
                13,
                "duplicate field name 'a' in struct 'S' (first at main.thrift:2:10)",
            ),
        ],
    ),
    Case(
        "dup_definition",
        {"main": "struct S {}\nenum S { A }\n"},
        errors=[
            ("main.thrift", 2, 6, "'S' is already defined (first at main.thrift:1:8)"),
        ],
    ),
    Case(
        "dup_enum_name",
        {"main": "enum E {\n  A = 1,\n  A = 2\n}\n"},
        errors=[
            (
                "main.thrift",
                3,
                3,
                "duplicate value name 'A' in enum 'E' (first at main.thrift:2:3)",
            ),
        ],
    ),
    Case(
        "dup_method",
        {"main": "service X {\n  void f()\n  i32 f()\n}\n"},
        errors=[
            ("main.thrift", 3, 7, "duplicate method 'f' in service 'X' (first at main.thrift:2:8)"),
        ],
    ),
    Case(
        "bad_default",
        {"main": 'struct S {\n  1: i32 x = "a"\n}\n'},
        errors=[
            (
                "main.thrift",
                2,
                14,
                "type mismatch in the default of field 'x' in struct 'S': expected i32, found string 'a'",
            ),
        ],
    ),
    Case(
        "overflow64",
        {"main": "const i64 BIG = 9223372036854775808\n"},
        errors=[
            (
                "main.thrift",
                1,
                17,
                "integer 9223372036854775808 in constant 'BIG' does not fit in 64 bits (-9223372036854775808 to 9223372036854775807)",
            ),
        ],
    ),
    Case(
        "overflow_i8",
        {"main": "struct S { 1: i8 x = 200 }\n"},
        errors=[
            (
                "main.thrift",
                1,
                22,
                "value 200 in the default of field 'x' in struct 'S' is out of range for i8 (-128 to 127)",
            ),
        ],
    ),
    Case(
        "unknown_enum_number",
        {"main": "enum E { A = 1 }\nconst E X = 7\n"},
        errors=[
            ("main.thrift", 2, 13, "unknown enum value 7 for enum 'E' in constant 'X'"),
        ],
    ),
    Case(
        "unknown_enum_name",
        {"main": "enum E { A = 1 }\nconst E X = E.B\n"},
        errors=[
            ("main.thrift", 2, 13, "enum 'E' has no value 'B'"),
        ],
    ),
    Case(
        "unterminated_string",
        {"main": 'const string S = "abc\nstruct T {}\n'},
        errors=[
            (
                "main.thrift",
                1,
                18,
                'unterminated string literal: expected a closing " on the same line',
            ),
        ],
    ),
    Case(
        "unterminated_comment",
        {"main": "struct T {}\n/* never\nclosed\n"},
        errors=[
            ("main.thrift", 2, 1, "unterminated comment: expected '*/' before the end of the file"),
        ],
    ),
    Case(
        "missing_brace",
        {"main": "struct A {\n  1: i32 x\nstruct B {}\n"},
        errors=[
            ("main.thrift", 3, 1, "missing '}' before 'struct'"),
        ],
    ),
    Case(
        "unfinished_typedef",
        {"main": "typedef i32\nstruct S { 1: i32 a }\n"},
        errors=[
            ("main.thrift", 1, 12, "unfinished typedef before 'struct': expected an identifier or '('"),
        ],
    ),
    Case(
        "unfinished_const",
        {"main": "const i32 X =\nstruct S { 1: i32 a }\n"},
        errors=[
            ("main.thrift", 1, 14, "unfinished const before 'struct': expected a value"),
        ],
    ),
    Case(
        "missing_brace_eof",
        {"main": "struct A {\n  1: i32 x\n"},
        errors=[
            ("main.thrift", 2, 11, "missing '}' before end of file"),
        ],
    ),
    Case(
        "extends_struct",
        {"main": "struct S {}\nservice X extends S {}\n"},
        errors=[
            ("main.thrift", 2, 19, "service 'X' cannot extend 'S': it is a struct, not a service"),
        ],
    ),
    Case(
        "extends_unknown",
        {"main": "service X extends Nope {}\n"},
        errors=[
            ("main.thrift", 1, 19, "unknown service 'Nope'"),
        ],
    ),
    Case(
        "oneway_returns",
        {"main": "service X {\n  oneway i32 f()\n}\n"},
        errors=[
            ("main.thrift", 2, 14, "oneway method 'f' must return void"),
        ],
    ),
    Case(
        "oneway_throws",
        {"main": "exception E {}\nservice X {\n  oneway void f() throws (1: E e)\n}\n"},
        errors=[
            ("main.thrift", 3, 15, "oneway method 'f' cannot throw exceptions"),
        ],
    ),
    Case(
        "throws_non_exception",
        {"main": "service X {\n  void f() throws (1: i32 code)\n}\n"},
        errors=[
            (
                "main.thrift",
                2,
                23,
                "'code' in the throws clause of method 'X.f' has type i32; only exceptions can be thrown",
            ),
        ],
    ),
    Case(
        "typedef_cycle",
        {"main": "typedef A B\ntypedef B A\n"},
        errors=[
            ("main.thrift", 1, 11, "typedef cycle: B -> A -> B"),
        ],
    ),
    Case(
        "const_cycle",
        {"main": "const i32 A = B\nconst i32 B = A\n"},
        errors=[
            ("main.thrift", 1, 11, "constant 'A' refers to itself: A -> B -> A"),
        ],
    ),
    Case(
        "bare_enum_value",
        {"main": "enum E { ONE = 1 }\nconst E X = ONE\n"},
        errors=[
            ("main.thrift", 2, 13, "unknown constant 'ONE' in constant 'X'; did you mean 'E.ONE'?"),
        ],
    ),
    Case(
        "enum_out_of_range",
        {"main": "enum E {\n  A = 2147483648\n}\n"},
        errors=[
            (
                "main.thrift",
                2,
                7,
                "value 2147483648 of 'E.A' is out of the i32 range (-2147483648 to 2147483647); enum values are i32 on the wire",
            ),
        ],
    ),
    Case(
        "field_id_range",
        {"main": "struct S {\n  40000: i32 x\n}\n"},
        errors=[
            ("main.thrift", 2, 3, "field id 40000 of 'x' is out of range: ids are 1 to 32767"),
        ],
    ),
    Case(
        "bad_escape",
        {"main": 'const string S = "a\\qb"\n'},
        errors=[
            (
                "main.thrift",
                1,
                20,
                "invalid escape sequence '\\q' in string literal; expected one of \\n \\r \\t \\\" \\' \\\\",
            ),
        ],
    ),
    Case(
        "bad_uuid",
        {"main": "const uuid U = 'not-a-uuid'\n"},
        errors=[
            ("main.thrift", 1, 16, "invalid uuid 'not-a-uuid' in constant 'U'"),
        ],
    ),
    Case(
        "struct_const_key",
        {"main": "struct S { 1: i32 a }\nconst S X = {1: 2}\n"},
        errors=[
            (
                "main.thrift",
                2,
                14,
                "struct 'S' in constant 'X' takes field names as keys, found integer 1",
            ),
        ],
    ),
    Case(
        "union_two_fields",
        {"main": "union U { 1: i32 a, 2: i32 b }\nconst U X = {'a': 1, 'b': 2}\n"},
        errors=[
            ("main.thrift", 2, 13, "union 'U' in constant 'X' sets 2 fields; a union holds one"),
        ],
    ),
    Case(
        "bad_char",
        {"main": "struct S {\n  1: i32 x @\n}\n"},
        errors=[
            ("main.thrift", 2, 12, "unexpected character '@'"),
        ],
    ),
    Case(
        "missing_name",
        {"main": "struct {\n}\n"},
        errors=[
            ("main.thrift", 1, 8, "unexpected '{'; expected an identifier"),
        ],
    ),
    Case(
        "service_as_type",
        {"main": "service X {}\nconst X C = 1\n"},
        errors=[
            ("main.thrift", 2, 7, "'X' is a service, not a type"),
        ],
    ),
    Case(
        "inherited_clash",
        {"main": "service A { void f() }\nservice B extends A {\n  void f()\n}\n"},
        errors=[
            (
                "main.thrift",
                3,
                8,
                "method 'f' of service 'B' is already defined in base service 'A' (main.thrift:1:18)",
            ),
        ],
    ),
    Case(
        "extends_cycle",
        {"main": "service A extends B {}\nservice B extends A {}\n"},
        errors=[
            ("main.thrift", 1, 9, "service inheritance cycle: A -> B -> A"),
        ],
    ),
    Case(
        "dotted_name",
        {"main": "struct a.b {}\n"},
        errors=[
            ("main.thrift", 1, 8, "name 'a.b' must not contain '.'"),
        ],
    ),
    Case(
        "same_stem",
        {"main": 'include "x/base.thrift"\ninclude "y/base.thrift"\n', "x/base": "", "y/base": ""},
        errors=[
            (
                "main.thrift",
                2,
                9,
                "'y/base.thrift' and 'x/base.thrift' are both included as 'base'; included files must have distinct names",
            ),
        ],
    ),
    Case(
        "wrong_enum",
        {"main": "enum E1 { A }\nenum E2 { B }\nconst E1 X = E2.B\n"},
        errors=[
            (
                "main.thrift",
                3,
                14,
                "'E2.B' is a value of enum 'E2', but constant 'X' is of enum 'E1'",
            ),
        ],
    ),
    Case(
        "bool_string",
        {"main": 'const bool B = "yes"\n'},
        errors=[
            (
                "main.thrift",
                1,
                16,
                "type mismatch in constant 'B': expected bool, found string 'yes'",
            ),
        ],
    ),
    Case(
        "const_ref_mismatch",
        {"main": 'const string S = "x"\nconst i32 I = S\n'},
        errors=[
            (
                "main.thrift",
                2,
                15,
                "type mismatch in constant 'I': constant 'S' is string, expected i32",
            ),
        ],
    ),
    Case(
        "constant_as_type",
        {"main": "const i32 N = 1\nstruct S { 1: N x }\n"},
        errors=[
            ("main.thrift", 2, 15, "'N' is a constant, not a type"),
        ],
    ),
    Case(
        "missing_value",
        {"main": "const i32 X =\n"},
        errors=[
            ("main.thrift", 1, 14, "unexpected end of file; expected a value"),
        ],
    ),
    Case(
        "unknown_const_in_list",
        {"main": "const list<i32> L = [1, MISSING, 3]\n"},
        errors=[
            ("main.thrift", 1, 25, "unknown constant 'MISSING' in constant 'L'"),
        ],
    ),
    Case(
        "map_key_type",
        {"main": 'const map<i32, string> M = {"a": "b"}\n'},
        errors=[
            ("main.thrift", 1, 29, "type mismatch in constant 'M': expected i32, found string 'a'"),
        ],
    ),
    Case(
        "set_of_map",
        {"main": "const set<i32> S = {1: 2}\n"},
        errors=[
            ("main.thrift", 1, 20, "type mismatch in constant 'S': expected set<i32>, found a map"),
        ],
    ),
    Case(
        "field_missing_type",
        {"main": "struct S {\n  1: x\n}\n"},
        errors=[
            ("main.thrift", 3, 1, "unexpected '}'; expected an identifier, '(' or '&'"),
        ],
    ),
    Case(
        "keyword_typo",
        {"main": "strct S {}\n"},
        errors=[
            (
                "main.thrift",
                1,
                1,
                "unexpected identifier 'strct'; did you mean 'struct'?",
            ),
        ],
    ),
    Case(
        "keyword_typo_service",
        {"main": "struct S {}\nservce Users {}\n"},
        errors=[("main.thrift", 2, 1, "unexpected identifier 'servce'; did you mean 'service'?")],
    ),
    Case(
        "base_type_typo",
        {"main": "struct User {\n  1: strin name\n  2: bol active\n  3: i23 age\n}\n"},
        errors=[
            ("main.thrift", 2, 6, "unknown type 'strin'; did you mean 'string'?"),
            ("main.thrift", 3, 6, "unknown type 'bol'; did you mean 'bool'?"),
            ("main.thrift", 4, 6, "unknown type 'i23'"),
        ],
    ),
    Case(
        "container_typo",
        {"main": "struct S {\n  1: lsit<i32> ids\n}\n"},
        errors=[("main.thrift", 2, 10, "unexpected '<' after 'lsit'; did you mean 'list'?")],
    ),
    Case(
        # The parser stops only at the next method's `(`; the error names the one left open.
        "unclosed_argument_list",
        {
            "main": "service Calc {\n"
            "  void ping(1: i32 a, 2: string b\n"
            "  i32 add(1: i32 a, 2: i32 b)\n"
            "  i32 sub(1: i32 a,\n"
            "          2: i32 b\n"
            "  i32 size()\n"
            "  void log(1: string line) throws (1: Failure f\n"
            "  void done()\n"
            "}\n"
            "exception Failure {}\n"
        },
        errors=[
            ("main.thrift", 2, 12, "unclosed '(' after 'ping': expected ')'"),
            ("main.thrift", 4, 10, "unclosed '(' after 'sub': expected ')'"),
            ("main.thrift", 7, 35, "unclosed '(' after 'throws': expected ')'"),
        ],
    ),
    Case(
        "unclosed_annotations",
        {"main": 'struct S {\n  1: i32 a (doc = "the (first) one"\n  2: i32 b\n}\n'},
        errors=[("main.thrift", 2, 12, "unclosed '(' after 'a': expected ')'")],
    ),
    Case(
        # The generated class requires the field: a literal without it could not be built.
        "const_missing_required_field",
        {
            "main": "struct User {\n  1: required string name\n  2: required i32 age = 3\n}\n"
            "struct Post {\n  1: required User user\n  2: required string title\n}\n"
            'const Post POST = {"user": {}}\n'
            "struct Feed { 1: Post top = {} }\n"
        },
        errors=[
            ("main.thrift", 9, 19, "struct 'Post' in constant 'POST' is missing required field 'title'"),
            ("main.thrift", 9, 28, "struct 'User' in field 'user' of constant 'POST' is missing required field 'name'"),
            ("main.thrift", 10, 29, "struct 'Post' in the default of field 'top' in struct 'Feed' is missing required fields 'user', 'title'"),
        ],
    ),
    Case(
        # Apache rejects it too ("No field named ... was found").
        "const_unknown_field",
        {"main": 'struct Post { 1: string title }\nconst Post P = {"titel": "x", "body": "y"}\n'},
        errors=[
            ("main.thrift", 2, 17, "struct 'Post' in constant 'P' has no field 'titel'; did you mean 'title'?"),
            ("main.thrift", 2, 31, "struct 'Post' in constant 'P' has no field 'body'"),
        ],
    ),
    Case(
        "missing_include_dir",
        {"main": "struct S {}\n"},
        include_dirs=("nope",),
        errors=[
            (None, 0, 0, "include directory 'nope' does not exist"),
        ],
    ),
]


def test_there_are_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_negative_case(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name, text in case.files.items():
        path = tmp_path / f"{name}.thrift"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    schema, diagnostics = pilota.check(["main.thrift"], case.include_dirs)
    assert schema is None
    found = [
        (d.location.path, d.location.line, d.location.col, d.message)
        if d.location
        else (None, 0, 0, d.message)
        for d in diagnostics.sorted()
        if d.is_error
    ]
    assert found == case.errors


def test_rendering_quotes_the_line_with_a_caret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("main.thrift").write_text("struct S {\n\t1: Foo bar\n}\n")
    _, diagnostics = pilota.check(["main.thrift"])
    assert diagnostics.render() == (
        "main.thrift:2:5: error: unknown type 'Foo'\n 2 | \t1: Foo bar\n   | \t   ^~~"
    )


def test_independent_errors_are_all_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("main.thrift").write_text(
        "struct A {\n  1: i32 x @\n}\nstruct B {\n  1: string\n}\n"
        "enum C { X = }\nconst i32 OK = 1\nstruct D {\n  1: i32 y\nservice S {}\n"
    )
    Path("other.thrift").write_text("struct S { 1: Unknown u, 1: i32 dup }\nconst i8 T = 300\n")
    schema, diagnostics = pilota.check(["main.thrift", "other.thrift"])
    assert schema is None
    assert [
        (d.location.path, d.location.line, d.location.col)
        for d in diagnostics.sorted()
        if d.location
    ] == [
        ("main.thrift", 2, 12),
        ("main.thrift", 6, 1),
        ("main.thrift", 7, 14),
        ("main.thrift", 11, 1),
        ("other.thrift", 1, 15),
        ("other.thrift", 1, 26),
        ("other.thrift", 2, 14),
    ]


def test_syntax_errors_inside_one_body_are_all_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recovery goes member by member inside `{ }` (fields end at `,`, `;` or the line's end)."""
    monkeypatch.chdir(tmp_path)
    Path("main.thrift").write_text(
        "struct A {\n"
        "  1: i32 a = ,\n"
        "  2: string b\n"
        '  3: map<string, i32> c = {"x": 1, "y" 2},\n'
        "  4: i32 e @\n"
        "  5: bool f = true;\n"
        "  6: i32 g\n"
        "}\n"
        "enum E { X = 1, Y = , Z }\n"
        "service S {\n"
        "  void f(1: i32 a, 2: i32 b c)\n"
        "  void g(1: i32 a) throws (1: )\n"
        "  i32 h()\n"
        "}\n"
    )
    schema, diagnostics = pilota.check(["main.thrift"])
    assert schema is None
    assert [(d.location.line, d.location.col, d.message) for d in diagnostics.sorted()
            if d.location] == [
        (2, 14, "unexpected ','; expected a value"),
        (4, 40, "unexpected number 2; expected ':'"),
        (5, 12, "unexpected character '@'"),
        (9, 21, "unexpected ','; expected an integer"),
        (11, 30, "unexpected ')'; expected an identifier, '(' or '&'"),
        (12, 31, "unexpected ')'; expected a type, 'optional' or 'required'"),
    ]  # fmt: skip


def test_an_error_found_while_parsing_is_reported_once_however_many_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each syntax error means another pass over the file; a bad escape before
    them is met on every pass, and still reported once."""
    monkeypatch.chdir(tmp_path)
    Path("main.thrift").write_text(
        'const string S = "a\\qb"\nstruct B { 1: i32 b = , }\nstruct C { 1: i32 c = ; }\n'
    )
    _, diagnostics = pilota.check(["main.thrift"])
    assert [(d.location.line, d.location.col) for d in diagnostics.sorted() if d.location] == [
        (1, 20),
        (2, 23),
        (3, 23),
    ]


def test_a_broken_include_does_not_hide_other_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("main.thrift").write_text('include "broken.thrift"\nstruct S { 1: broken.T t }\n')
    Path("broken.thrift").write_text("struct T {\n")
    Path("fine.thrift").write_text("struct U { 1: Missing m }\n")
    _, diagnostics = pilota.check(["main.thrift", "fine.thrift"])
    assert [d.message for d in diagnostics.sorted()] == [
        "missing '}' before end of file",
        "unknown type 'Missing'",
    ]


def test_unreadable_inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("latin1.thrift").write_bytes(b"const string S = '\xe9'\n")
    Path("dir.thrift").mkdir()
    Path("idl.proto3").write_text("")
    _, diagnostics = pilota.check(["latin1.thrift", "dir.thrift", "missing.thrift"])
    assert [d.render() for d in diagnostics.sorted()] == [
        "error: cannot read 'dir.thrift': it is a directory",
        "error: cannot read 'missing.thrift': no such file",
        "latin1.thrift:1:19: error: 'latin1.thrift' is not valid UTF-8 (byte 0xe9)",
    ]
    _, diagnostics = pilota.check(["idl.proto3"])
    assert [d.message for d in diagnostics] == [
        "cannot compile 'idl.proto3': expected a file ending in .thrift or .proto"
    ]


def test_paths_are_shown_as_given(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "main.thrift").write_text('include "inc.thrift"\n')
    (tmp_path / "sub" / "inc.thrift").write_text("struct S { 1: Nope n }\n")
    _, diagnostics = pilota.check([tmp_path / "sub" / "main.thrift"])
    [error] = diagnostics.errors
    assert error.location is not None
    assert error.location.path == os.path.join(str(tmp_path / "sub"), "inc.thrift")


# Each leniency: IDL we accept with a warning, and the same IDL written as Apache wants it.
LENIENCIES = [
    pytest.param(
        'include "shared.thrift";\nstruct S { 1: shared.T t }\n',
        'include "shared.thrift"\nstruct S { 1: shared.T t }\n',
        (1, 24, "';' after include: Apache's compiler rejects it; leave it out"),
        id="semicolon_after_include",
    ),
    pytest.param(
        'cpp_include "<map>",\nstruct S {}\n',
        'cpp_include "<map>"\nstruct S {}\n',
        (1, 20, "',' after cpp_include: Apache's compiler rejects it; leave it out"),
        id="comma_after_cpp_include",
    ),
    pytest.param(
        'namespace py app.api (tag = ";") ;\nstruct S {}\n',
        'namespace py app.api (tag = ";")\nstruct S {}\n',
        (1, 34, "';' after namespace: Apache's compiler rejects it; leave it out"),
        id="semicolon_after_namespace",
    ),
    pytest.param(
        'const i32 LIMIT = 10 (doc = "max")\n',
        "const i32 LIMIT = 10\n",
        (1, 23, "annotations on a constant's value: Apache's compiler rejects them"),
        id="annotations_on_a_const_value",
    ),
    pytest.param(
        'struct A {}\nstruct B { 1: A (box = "true") a }\n',
        "struct A {}\nstruct B { 1: A a }\n",
        (2, 18, "annotations on a named type ('A'): Apache's compiler rejects them"),
        id="annotations_on_a_named_type",
    ),
    pytest.param(
        "const Millis TIMEOUT = 30\ntypedef i64 Millis\n",
        "typedef i64 Millis\nconst Millis TIMEOUT = 30\n",
        (1, 14, "constant 'TIMEOUT' uses 'Millis', which is declared after it (line 2); Apache's compiler rejects this: declare 'Millis' first"),
        id="const_typed_by_a_later_typedef",
    ),
    pytest.param(
        "typedef Millis Timeout\nconst list<Timeout> STEPS = [1, 2]\ntypedef i64 Millis\n",
        "typedef Millis Timeout\ntypedef i64 Millis\nconst list<Timeout> STEPS = [1, 2]\n",
        (2, 21, "constant 'STEPS' uses 'Millis', which is declared after it (line 3); Apache's compiler rejects this: declare 'Millis' first"),
        id="const_typed_through_a_later_typedef",
    ),
    pytest.param(
        'const Point ORIGIN = {"x": 0}\nstruct Point { 1: i32 x }\n',
        'struct Point { 1: i32 x }\nconst Point ORIGIN = {"x": 0}\n',
        (1, 13, "constant 'ORIGIN' uses 'Point', which is declared after it (line 2); Apache's compiler rejects this: declare 'Point' first"),
        id="const_typed_by_a_later_struct",
    ),
    pytest.param(
        "struct S { 1: i32 size = DEFAULT_SIZE }\nconst i32 DEFAULT_SIZE = 4\n",
        "const i32 DEFAULT_SIZE = 4\nstruct S { 1: i32 size = DEFAULT_SIZE }\n",
        (1, 19, "the default of field 'size' in struct 'S' uses 'DEFAULT_SIZE', which is declared after it (line 2); Apache's compiler rejects this: declare 'DEFAULT_SIZE' first"),
        id="default_naming_a_later_const",
    ),
    pytest.param(
        'struct P { 1: i32 x }\nconst P ORIGIN = {"x": 0}\nconst list<P> L = [ORIGIN]\n',
        'struct P { 1: i32 x }\nconst P ORIGIN = {"x": 0}\nconst list<P> L = [{"x": 0}]\n',
        (3, 20, "constant 'L' uses struct constant 'ORIGIN' as a value; Apache's compiler rejects this: write the value out"),
        id="struct_constant_in_a_list",
    ),
    pytest.param(
        'struct P { 1: i32 x }\nconst P ORIGIN = {"x": 0}\nconst map<string, P> M = {"o": ORIGIN}\n',
        'struct P { 1: i32 x }\nconst P ORIGIN = {"x": 0}\ntypedef P Point\nconst map<string, Point> M = {"o": ORIGIN}\n',
        (3, 32, "constant 'M' uses struct constant 'ORIGIN' as a value; Apache's compiler rejects this: write the value out"),
        id="struct_constant_in_a_map",
    ),
    pytest.param(
        'struct P { 1: i32 x }\nconst P ORIGIN = {"x": 0}\nstruct Q { 1: P p = ORIGIN }\n',
        'struct P { 1: i32 x }\nconst P ORIGIN = {"x": 0}\ntypedef P Point\nstruct Q { 1: Point p = ORIGIN }\n',
        (3, 21, "the default of field 'p' in struct 'Q' uses struct constant 'ORIGIN' as a value; Apache's compiler rejects this: write the value out"),
        id="struct_constant_as_a_default",
    ),
]


@pytest.mark.parametrize(("lenient", "strict", "warning"), LENIENCIES)
def test_leniencies_apache_rejects_are_warned_about(
    lenient: str, strict: str, warning: tuple[int, int, str], tmp_path: Path
) -> None:
    """Each warning says Apache's compiler rejects the IDL: checked against that compiler,
    which rejects the lenient text and takes the strict one, which we take silently."""
    compiler = need_apache_compiler()
    (tmp_path / "shared.thrift").write_text("typedef i32 T\n")
    for text, apache_accepts in ((lenient, False), (strict, True)):
        path = tmp_path / "main.thrift"
        path.write_text(text)
        schema, diagnostics = pilota.check([path])
        assert schema is not None, diagnostics.render()
        found = [
            (d.location.line, d.location.col, d.message) for d in diagnostics if d.location
        ]
        assert found == ([] if apache_accepts else [warning])
        apache = subprocess.run(
            [compiler, "--gen", "py", "-out", str(tmp_path), str(path)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert (apache.returncode == 0) == apache_accepts, apache.stdout + apache.stderr


def test_paths_are_shown_normalised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("p8").mkdir()
    Path("typo").mkdir()
    Path("typo/t1.thrift").write_text('include "gone.thrift"\n')
    _, diagnostics = pilota.check(["p8/../typo/t1.thrift"])
    assert diagnostics.render().splitlines()[0] == (
        "typo/t1.thrift:1:9: error: cannot find included file 'gone.thrift' (searched: typo); "
        "give its directory with -I"
    )
