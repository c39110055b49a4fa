"""`volo idl diff`: every rule on a minimal pair that triggers exactly it, and on a
near miss that must not; matching (moves, renames, files); the command as a user
meets it (text, JSON, exit codes, errors, --against on a real git repository);
our own IDL and the shared corpus against themselves; the work done is linear."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from pilota.diff import RULES, DiffResult, Level, diff
from tests.conftest import IDL, REPO, need_shared
from volo_cli.main import cli

Files = str | dict[str, str]

P3 = 'syntax = "proto3";\npackage t;\n'
P2 = 'syntax = "proto2";\npackage t;\n'
ED = 'edition = "2023";\npackage t;\n'


@dataclass(frozen=True)
class Case:
    """OLD and NEW that trigger exactly `rule`; NEAR_OLD and NEAR_NEW that must not.
    A string is main.thrift (or main.proto when it starts like a .proto file)."""

    name: str
    rule: str
    old: Files
    new: Files
    near_old: Files
    near_new: Files


def _files(files: Files) -> dict[str, str]:
    if isinstance(files, dict):
        return files
    proto = files.startswith(("syntax", "edition"))
    return {"main.proto" if proto else "main.thrift": files}


def write(folder: Path, files: Files) -> Path:
    for name, text in _files(files).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return folder


def compare(tmp_path: Path, old: Files, new: Files, tag: str = "") -> DiffResult:
    result = diff([write(tmp_path / f"old{tag}", old)], [write(tmp_path / f"new{tag}", new)])
    assert result.compiled, "\n".join(
        result.old.rendered_diagnostics() + result.new.rendered_diagnostics()
    )
    return result


def rules_of(result: DiffResult) -> set[str]:
    return {f.rule.id for f in result.findings}


CASES = [
    # ---- wire ----
    Case("thrift-i32-to-i64", "field-wire-type-changed",
         "struct S { 1: i32 a }", "struct S { 1: i64 a }",
         "struct S { 1: i32 a }", "typedef i32 Id\nstruct S { 1: Id a }"),
    Case("thrift-list-to-set", "field-wire-type-changed",
         "struct S { 1: list<i32> a }", "struct S { 1: set<i32> a }",
         "struct S { 1: list<i32> a }", "struct S { 1: list<i32> a (python.x = '1') }"),
    Case("proto-int32-to-sint32", "field-wire-type-changed",
         P3 + "message M { int32 a = 1; }", P3 + "message M { sint32 a = 1; }",
         P3 + "message M { sint32 a = 1; }", P3 + "message M { sint64 a = 1; }"),
    Case("proto-widen", "field-integer-range-changed",
         P3 + "message M { int32 a = 1; }", P3 + "message M { int64 a = 1; }",
         P3 + "enum E { Z = 0; }\nmessage M { int32 a = 1; }",
         P3 + "enum E { Z = 0; }\nmessage M { E a = 1; }"),
    Case("thrift-string-binary", "field-string-bytes-changed",
         "struct S { 1: string a }", "struct S { 1: binary a }",
         "struct S { 1: list<string> a }", "typedef string Name\nstruct S { 1: list<Name> a }"),
    Case("proto-singular-to-repeated", "field-cardinality-changed",
         P3 + "message M { int32 a = 1; }", P3 + "message M { repeated int32 a = 1; }",
         # packed and expanded encodings of a repeated field: every parser reads both
         P3 + "message M { repeated int32 a = 1; }",
         P3 + "message M { repeated int32 a = 1 [packed = false]; }"),
    Case("editions-delimited", "field-encoding-changed",
         ED + "message I { int32 x = 1; }\nmessage M { I a = 1; }",
         ED + "message I { int32 x = 1; }\nmessage M { I a = 1 [features.message_encoding = DELIMITED]; }",
         ED + "message I { int32 x = 1; }\nmessage M { I a = 1; }",
         ED + "option features.message_encoding = DELIMITED;\nmessage I { int32 x = 1; }\n"
         "message M { I a = 1 [features.message_encoding = LENGTH_PREFIXED]; }"),
    Case("proto-removed-unreserved", "field-removed",
         P3 + "message M { int32 a = 1; int32 b = 2; }",
         P3 + 'message M { int32 a = 1; reserved "b"; }',
         P3 + "message M { int32 a = 1; int32 b = 2; }",
         P3 + 'message M { int32 a = 1; reserved 2; reserved "b"; }'),
    Case("thrift-removed", "field-removed",
         "struct S { 1: i32 a, 2: i32 b }", "struct S { 1: i32 a }",
         "struct S { 1: i32 a, 2: i32 b }", "struct S { 1: i32 a, 2: i32 c }"),
    Case("renumbered", "field-renumbered",
         P3 + "message M { int32 a = 1; }", P3 + "message M { reserved 1; int32 a = 2; }",
         "struct S { 1: i32 a }", "struct S { 1: i32 b }"),
    Case("thrift-required-to-optional", "field-requiredness-changed",
         "struct S { 1: required i32 a }", "struct S { 1: optional i32 a }",
         "struct S { 1: optional i32 a }", "struct S { 1: i32 a }"),
    Case("proto2-optional-to-required", "field-requiredness-changed",
         P2 + "message M { optional int32 a = 1; }", P2 + "message M { required int32 a = 1; }",
         P2 + "message M { required int32 a = 1; }", P2 + "message M { required int32 a = 1 [default = 0]; }"),
    Case("thrift-required-added", "required-field-added",
         "struct S { 1: i32 a }", "struct S { 1: i32 a, 2: required i32 b }",
         "struct S { 1: i32 a }", "struct S { 1: i32 a, 2: optional i32 b }"),
    Case("thrift-required-argument", "required-field-added",
         "service S { void f(1: i32 a) }", "service S { void f(1: i32 a, 2: required i32 b) }",
         "service S { void f(1: i32 a) }", "service S { void f(1: i32 a, 2: i32 b) }"),
    Case("proto-joins-oneof", "field-oneof-changed",
         P3 + "message M { int32 a = 1; int32 b = 2; }",
         P3 + "message M { oneof c { int32 a = 1; int32 b = 2; } }",
         # a new field may join an existing oneof
         P3 + "message M { oneof c { int32 a = 1; } }",
         P3 + "message M { oneof c { int32 a = 1; int32 b = 2; } }"),
    Case("reserved-number-freed", "reserved-number-removed",
         P3 + "message M { int32 a = 1; reserved 2; }", P3 + "message M { int32 a = 1; }",
         P3 + "message M { int32 a = 1; reserved 2; }", P3 + "message M { int32 a = 1; reserved 2 to 3; }"),
    Case("open-enum-value-removed", "enum-value-removed",
         P3 + "enum E { A = 0; B = 1; }", P3 + 'enum E { A = 0; reserved "B"; }',
         P3 + "enum E { A = 0; B = 1; }", P3 + 'enum E { A = 0; reserved 1; reserved "B"; }'),
    # a closed enum: new readers drop the old number, reserved or not
    Case("closed-enum-value-removed", "enum-value-removed",
         P2 + "enum E { A = 0; B = 1; }", P2 + 'enum E { A = 0; reserved 1; reserved "B"; }',
         P3 + "enum E { A = 0; B = 1; }", P3 + 'enum E { A = 0; reserved 1; reserved "B"; }'),
    Case("thrift-enum-value-removed", "enum-value-removed",
         "enum E { A = 1, B = 2 }", "enum E { A = 1 }",
         "enum E { A = 1, B = 2 }", "enum E { A = 1, B = 2, C = 3 }"),
    Case("enum-renumbered", "enum-value-renumbered",
         "enum E { A = 1, B = 2 }", "enum E { A = 1, B = 3 }",
         "enum E { A = 1, B }", "enum E { A = 1, B = 2 }"),
    Case("enum-closed", "enum-closedness-changed",
         ED + "enum E { A = 0; }", ED + "enum E { option features.enum_type = CLOSED; A = 0; }",
         P2 + "enum E { A = 0; }", ED + "enum E { option features.enum_type = CLOSED; A = 0; }"),
    Case("struct-to-union", "struct-union-changed",
         "struct U { 1: i32 a, 2: string b }", "union U { 1: i32 a, 2: string b }",
         "struct U { 1: i32 a, 2: string b }", "exception U { 1: i32 a, 2: string b }"),
    Case("method-removed", "method-removed",
         "service S { void a(), void b() }", "service S { void a() }",
         # moved to a base service: S still serves it
         "service S { void a(), void b() }", "service B { void b() }\nservice S extends B { void a() }"),
    Case("rpc-request", "method-request-changed",
         P3 + "message A { int32 x = 1; }\nmessage C { string x = 1; }\nservice S { rpc F(A) returns (A); }",
         P3 + "message A { int32 x = 1; }\nmessage C { string x = 1; }\nservice S { rpc F(C) returns (A); }",
         P3 + "message A { int32 x = 1; }\nmessage C { int32 x = 1; }\nservice S { rpc F(A) returns (A); }",
         P3 + "message A { int32 x = 1; }\nmessage C { int32 x = 1; }\nservice S { rpc F(C) returns (A); }"),
    Case("thrift-void-result", "method-response-changed",
         "service S { i32 f() }", "service S { void f() }",
         "service S { i32 f() }", "typedef i32 Count\nservice S { Count f() }"),
    Case("rpc-streaming", "method-streaming-changed",
         P3 + "message A {}\nservice S { rpc F(A) returns (A); }",
         P3 + "message A {}\nservice S { rpc F(A) returns (stream A); }",
         P3 + "message A {}\nservice S { rpc F(A) returns (A); }",
         P3 + "message A {}\nservice S { rpc F(A) returns (A) {} }"),
    Case("oneway", "method-oneway-changed",
         "service S { void f() }", "service S { oneway void f() }",
         "service S { oneway void f() }", "service S { oneway void f(1: i32 a) }"),
    Case("exception-removed", "method-exceptions-changed",
         "exception E { 1: string why }\nservice S { void f() throws (1: E e) }",
         "exception E { 1: string why }\nservice S { void f() }",
         "exception E { 1: string why }\nservice S { void f() throws (1: E e) }",
         "exception E { 1: string why }\nservice S { void f() throws (1: E err) }"),
    Case("exception-added", "method-exceptions-changed",
         "exception E { 1: string why }\nservice S { void f() }",
         "exception E { 1: string why }\nservice S { void f() throws (1: E e) }",
         "exception E { 1: string why }\nservice S { void f() throws (1: E e) }",
         "exception E { 1: string why, 2: i32 code }\nservice S { void f() throws (1: E e) }"),
    Case("service-removed", "service-removed",
         "service A { void f() }\nservice B { void g() }", "service A { void f() }",
         "service A { void f() }\nservice B { void g() }",
         "service A { void f() }\nservice B extends A { void g() }"),
    Case("service-renamed", "service-name-changed",
         "service S { void f() }", "service T { void f() }",
         "service S { void f() }", "/** Documented. */\nservice S { void f() }"),
    # ---- json ----
    Case("open-enum-to-int32", "field-json-type-changed",
         P3 + "enum E { Z = 0; }\nmessage M { E a = 1; }",
         P3 + "enum E { Z = 0; }\nmessage M { int32 a = 1; }",
         "enum E { Z = 1 }\nstruct S { 1: E a }", "enum E { Z = 1 }\nstruct S { 1: i32 a }"),
    # map<K, V> is repeated entries {K key = 1; V value = 2} on the wire
    Case("map-to-entries", "field-json-type-changed",
         P3 + "message M { map<string, int32> m = 1; }",
         P3 + "message M { message E { string key = 1; int32 value = 2; } repeated E m = 1; }",
         P3 + "message M { map<string, int32> m = 1; }",
         P3 + "message M { map<string, int32> m = 1 [deprecated = false]; }"),
    Case("proto-field-renamed", "field-json-name-changed",
         P3 + "message M { int32 a = 1; }", P3 + "message M { int32 b = 1; }",
         P3 + "message M { int32 foo_bar = 1; }",
         P3 + 'message M { int32 foo_bar = 1 [json_name = "fooBar"]; }'),
    Case("proto-enum-value-renamed", "enum-value-json-name-changed",
         P3 + "enum E { A = 0; B = 1; }", P3 + "enum E { A = 0; C = 1; }",
         "enum E { A = 1, B = 2 }", "enum E { A = 1, C = 2 }"),
    Case("removed-name-free", "removed-name-not-reserved",
         P3 + "message M { int32 a = 1; int32 b = 2; }", P3 + "message M { int32 a = 1; reserved 2; }",
         P3 + "message M { int32 a = 1; int32 b = 2; }",
         P3 + 'message M { int32 a = 1; reserved 2; reserved "b"; }'),
    Case("reserved-name-freed", "reserved-name-removed",
         P3 + 'message M { reserved "x"; }', P3 + "message M {}",
         P3 + 'message M { reserved "x"; }', P3 + 'message M { reserved "x", "y"; }'),
    # ---- source ----
    Case("struct-removed", "definition-removed",
         "struct A { 1: i32 x }\nstruct B { 1: string y }", "struct A { 1: i32 x }",
         # the same shape under a new name is a rename
         "struct A { 1: i32 x }", "struct B { 1: i32 x }"),
    Case("moved-to-other-file", "definition-moved",
         {"main.thrift": 'include "lib.thrift"\nstruct A { 1: lib.B b }\nstruct C { 1: i32 x }',
          "lib.thrift": "struct B { 1: i32 x }"},
         {"main.thrift": 'include "lib.thrift"\nstruct A { 1: lib.B b }',
          "lib.thrift": "struct B { 1: i32 x }\nstruct C { 1: i32 x }"},
         "struct A { 1: i32 x }\nstruct C { 1: i32 y }", "struct C { 1: i32 y }\nstruct A { 1: i32 x }"),
    Case("struct-renamed", "definition-renamed",
         "struct A { 1: i32 x }", "struct B { 1: i32 x }",
         "struct A { 1: i32 x }", "struct B { 1: string x }"),
    Case("file-renamed", "file-renamed",
         {"a.thrift": "struct A { 1: i32 x }"}, {"b.thrift": "struct A { 1: i32 x }"},
         {"a.thrift": "namespace py api\nstruct A { 1: i32 x }"},
         {"b.thrift": "namespace py api\nstruct A { 1: i32 x }"}),
    Case("namespace-changed", "namespace-changed",
         "namespace py a\nstruct A {}", "namespace py b\nstruct A {}",
         "namespace py a\nstruct A {}", "namespace py a\nnamespace java b\nstruct A {}"),
    Case("proto-package-changed", "namespace-changed",
         'syntax = "proto3";\npackage a;\nmessage M {}', 'syntax = "proto3";\npackage b;\nmessage M {}',
         P3 + 'option go_package = "x/y";\nmessage M {}', P3 + 'option go_package = "x/y";\nmessage M {}'),
    Case("thrift-field-renamed", "field-renamed",
         "struct S { 1: i32 a }", "struct S { 1: i32 b }",
         P3 + "message M { int32 a = 1; }", P3 + "message M { int32 b = 1; }"),
    Case("thrift-enum-value-renamed", "enum-value-renamed",
         "enum E { A = 1, B = 2 }", "enum E { A = 1, C = 2 }",
         "enum E { A = 1, B = 2 }", "enum E { A = 1, B = 2, C = 3 }"),
    Case("oneof-renamed", "oneof-renamed",
         P3 + "message M { oneof a { int32 x = 1; } }", P3 + "message M { oneof b { int32 x = 1; } }",
         P3 + "message M { oneof a { int32 x = 1; } }", P3 + "message M { oneof a { int32 x = 1; int32 y = 2; } }"),
    Case("i32-to-enum", "field-type-changed",
         "enum E { A = 1 }\nstruct S { 1: i32 c }", "enum E { A = 1 }\nstruct S { 1: E c }",
         "struct S { 1: i32 c }", "typedef i32 Int\nstruct S { 1: Int c }"),
    Case("proto3-optional", "field-presence-changed",
         P3 + "message M { int32 a = 1; }", P3 + "message M { optional int32 a = 1; }",
         "struct S { 1: optional i32 a }", "struct S { 1: i32 a }"),
    Case("thrift-optional-with-default", "field-presence-changed",
         "struct S { 1: i32 a = 5 }", "struct S { 1: optional i32 a = 5 }",
         "struct S { 1: optional i32 a }", "struct S { 1: i32 a }"),
    Case("struct-to-exception", "struct-kind-changed",
         "struct E { 1: string why }", "exception E { 1: string why }",
         "exception E { 1: string why }", "exception E { 1: string why, 2: i32 code }"),
    Case("extends", "service-extends-changed",
         "service S { void f() }", "service B { void f() }\nservice S extends B {}",
         "service B {}\nservice S extends B { void f() }",
         "service B { void g() }\nservice S extends B { void f() }"),
    # ---- warning ----
    Case("default", "default-changed",
         "struct S { 1: i32 a = 1 }", "struct S { 1: i32 a = 2 }",
         "struct S { 1: i32 a = 1 }", "struct S { 1: i32 a = 0x1 }"),
    Case("const", "const-changed",
         "const i32 K = 1", "const i32 K = 2",
         "const i32 K = 1", "const i32 K = 0x1"),
    Case("const-removed", "const-removed",
         "const i32 K = 1\nconst i32 L = 2", "const i32 K = 1",
         "const i32 K = 1", "typedef i32 Int\nconst Int K = 1"),
    Case("namespace-removed", "namespace-removed",
         "namespace py a\nnamespace java b\nstruct A {}", "namespace py a\nstruct A {}",
         "namespace py a\nnamespace java b\nstruct A {}", "namespace java b\nnamespace py a\nstruct A {}"),
    Case("deprecated", "newly-deprecated",
         P3 + "message M { int32 a = 1; }", P3 + "message M { int32 a = 1 [deprecated = true]; }",
         P3 + "message M { int32 a = 1 [deprecated = true]; }",
         P3 + "message M { int32 a = 1 [deprecated = true]; int32 b = 2; }"),
    Case("gap", "field-id-gap-filled",
         "struct S { 1: i32 a, 3: i32 c }", "struct S { 1: i32 a, 2: i32 b, 3: i32 c }",
         "struct S { 1: i32 a, 3: i32 c }", "struct S { 1: i32 a, 3: i32 c, 4: i32 d }"),
    Case("closed-enum-added", "closed-enum-value-added",
         P2 + "enum E { A = 0; }", P2 + "enum E { A = 0; B = 1; }",
         P3 + "enum E { A = 0; }", P3 + "enum E { A = 0; B = 1; }"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_rule_fires_alone(case: Case, tmp_path: Path) -> None:
    result = compare(tmp_path, case.old, case.new)
    assert rules_of(result) == {case.rule}, [result.render(f) for f in result.findings]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_near_miss_does_not_fire(case: Case, tmp_path: Path) -> None:
    result = compare(tmp_path, case.near_old, case.near_new)
    assert case.rule not in rules_of(result), [result.render(f) for f in result.findings]


def test_every_rule_has_a_case() -> None:
    assert {c.rule for c in CASES} == set(RULES)


def test_rules_have_one_level_each_and_stable_ids() -> None:
    code, out, _ = run("idl", "diff", "--list-rules")
    assert code == 0
    groups = [line for line in out.splitlines() if not line.startswith(" ")]
    assert groups == ["wire:", "json:", "source:", "warning:"]
    listed = [line.split()[0] for line in out.splitlines() if line.startswith("  ")]
    assert sorted(listed) == sorted(RULES) and len(listed) == len(set(listed))
    assert all(rule.id.replace("-", "").isalnum() and rule.id.islower() for rule in RULES.values())


# ---- semantics beyond one rule --------------------------------------------------------


def test_near_misses_that_change_nothing_give_no_finding_at_all(tmp_path: Path) -> None:
    quiet = [
        "proto-singular-to-repeated", "editions-delimited", "proto-removed-unreserved",
        "open-enum-value-removed", "enum-renumbered", "thrift-required-to-optional",
        "proto-joins-oneof", "reserved-number-freed", "thrift-i32-to-i64", "default", "const",
    ]  # fmt: skip
    for i, case in enumerate(c for c in CASES if c.name in quiet):
        result = compare(tmp_path, case.near_old, case.near_new, tag=str(i))
        assert result.findings == [], (case.name, [result.render(f) for f in result.findings])


def test_removed_required_field_fails_old_readers_even_when_reserved(tmp_path: Path) -> None:
    result = compare(
        tmp_path,
        P2 + "message M { required int32 a = 1; }",
        P2 + 'message M { reserved 1; reserved "a"; }',
    )
    [finding] = result.findings
    assert finding.rule.id == "field-removed" and "old readers fail" in finding.message


def test_packed_numbers_explain_the_cardinality_break(tmp_path: Path) -> None:
    result = compare(
        tmp_path, P3 + "message M { int32 a = 1; }", P3 + "message M { repeated int32 a = 1; }"
    )
    [finding] = result.findings
    assert "packs its numbers" in finding.message
    # strings: the same break, without the packing
    result = compare(
        tmp_path, P3 + "message M { string a = 1; }", P3 + "message M { repeated string a = 1; }",
        tag="s",
    )  # fmt: skip
    [finding] = result.findings
    assert finding.rule.id == "field-cardinality-changed" and "packs" not in finding.message


def test_map_to_entries_of_another_shape_breaks_the_wire(tmp_path: Path) -> None:
    result = compare(
        tmp_path,
        P3 + "message M { map<string, int32> m = 1; }",
        P3 + "message M { message E { string key = 1; string value = 2; } repeated E m = 1; }",
    )
    assert rules_of(result) == {"field-string-bytes-changed"} or rules_of(result) == {
        "field-wire-type-changed"
    }


def test_struct_of_another_name_and_shape_breaks_the_wire(tmp_path: Path) -> None:
    common = "struct A { 1: i32 x }\nstruct B { 1: string x }\n"
    result = compare(tmp_path, common + "struct S { 1: A a }", common + "struct S { 1: B a }")
    [finding] = result.findings
    assert finding.rule.id == "field-wire-type-changed"
    assert "'A' to 'B'" not in finding.message and "main.A to main.B" in finding.message


def test_recursive_types_compare_by_shape_and_end(tmp_path: Path) -> None:
    old = "struct N { 1: i32 v, 2: optional N next }\nstruct M { 1: i32 v, 2: optional M next }\n"
    result = compare(tmp_path, old + "struct S { 1: N n }", old + "struct S { 1: M n }")
    assert rules_of(result) == {"field-type-changed"}


def test_every_independent_change_is_reported_in_one_run(tmp_path: Path) -> None:
    result = compare(
        tmp_path,
        "enum E { A = 1, B = 2 }\nstruct S { 1: i32 a, 2: string b, 3: required i32 c }\n"
        "service X { void f(), i32 g() }",
        "enum E { A = 1 }\nstruct S { 1: i64 a, 2: binary b, 3: i32 c }\nservice X { void g() }",
    )
    assert rules_of(result) == {
        "enum-value-removed", "field-wire-type-changed", "field-string-bytes-changed",
        "field-requiredness-changed", "method-removed", "method-response-changed",
    }  # fmt: skip
    assert len(result.findings) == 6


@pytest.mark.parametrize(
    "name", ["rich.thrift", "wire.thrift", "proto/rich3.proto", "proto/editions.proto"]
)
def test_a_file_renamed_unchanged_gives_no_wire_finding(name: str, tmp_path: Path) -> None:
    source = IDL / name
    text = source.read_text(encoding="utf-8")
    renamed = f"renamed{source.suffix}"
    old = write(tmp_path / "old", {source.name: text})
    new = write(tmp_path / "new", {renamed: text})
    result = diff([old / source.name], [new / renamed], include_dirs=[source.parent])
    assert result.compiled
    assert result.at(Level.JSON) == []
    # the generated module moves with the file (Thrift: unless a Python namespace places it)
    assert {f.rule.id for f in result.findings} <= {"file-renamed"}


# ---- the command ------------------------------------------------------------------------


def run(*args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    old = Path.cwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        result = CliRunner().invoke(cli, list(args))
    finally:
        os.chdir(old)
    return result.exit_code, result.stdout, result.stderr


def test_text_output_points_at_the_new_line_with_a_caret(tmp_path: Path) -> None:
    write(tmp_path / "v1", "struct S {\n    1: i32 a,\n    2: i32 b,\n}\n")
    write(tmp_path / "v2", "struct S {\n    1: i64 a,\n}\n")
    code, out, err = run("idl", "diff", "v1/main.thrift", "v2/main.thrift", cwd=tmp_path)
    assert code == 1 and err == ""
    assert out.splitlines() == [
        # a removal points at OLD
        "v1/main.thrift:3:12: field-removed: field 2 'b' was removed from struct 'main.S' "
        "(its id can come back with another type)",
        " 3 |     2: i32 b,",
        "   |            ^",
        "v2/main.thrift:2:12: field-wire-type-changed: field 1 'a' of struct 'main.S': "
        "changed from i32 to i64",
        " 2 |     1: i64 a,",
        "   |            ^",
        "2 findings at level wire",
    ]


def test_levels_rules_switched_off_and_exit_codes(tmp_path: Path) -> None:
    write(tmp_path / "v1", P3 + "message M { int32 a = 1; }")
    write(tmp_path / "v2", P3 + "message M { int32 b = 1; }")
    args = ("idl", "diff", "v1", "v2")
    code, out, _ = run(*args, cwd=tmp_path)
    assert code == 0
    assert out == "no findings at level wire; 1 more at looser levels (--level warning shows all)\n"
    code, out, _ = run(*args, "--level", "json", cwd=tmp_path)
    assert code == 1 and "field-json-name-changed" in out
    code, out, _ = run(
        *args, "--level", "json", "--ignore", "field-json-name-changed", cwd=tmp_path
    )
    assert (code, out) == (0, "no findings at level json\n")
    code, out, _ = run(
        *args, "--level", "source", "--ignore", "x,field-json-name-changed", cwd=tmp_path
    )
    assert code == 2


def test_json_output(tmp_path: Path) -> None:
    write(tmp_path / "v1", "enum E { A = 1, B = 2 }")
    write(tmp_path / "v2", "enum E { A = 1, C = 2 }")
    code, out, _ = run(
        "idl", "diff", "v1", "v2", "--format", "json", "--level", "source", cwd=tmp_path
    )
    assert code == 1
    assert json.loads(out) == {
        "level": "source",
        "findings": [{
            "rule": "enum-value-renamed", "level": "source",
            "message": "value 2 of enum 'main.E' was renamed from 'B' to 'C'",
            "path": "v2/main.thrift", "line": 1, "column": 17, "side": "new",
        }],
        "not_shown": 0,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["only.thrift"], "volo: give OLD and NEW, or NEW with --against REF\n"),
        (["a.thrift", "b.thrift", "--against", "HEAD"],
         "volo: with --against give NEW only: the old version is NEW at that ref\n"),
        (["missing.thrift", "ok.thrift"], "volo: OLD 'missing.thrift' does not exist\n"),
        (["empty", "ok.thrift"], "volo: OLD 'empty' holds no .thrift or .proto files\n"),
        (["ok.thrift", "ok.thrift", "--ignore", "field-remove"],
         "volo: there is no rule 'field-remove' (did you mean 'field-removed'?)\n"),
        (["ok.thrift", "--against", "HEAD"],
         "volo: 'ok.thrift' is not in a git repository, so --against has nothing to read\n"),
    ],
)  # fmt: skip
def test_errors_are_one_sentence_and_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    write(tmp_path, {"ok.thrift": "struct A {}"})
    env_dir = tmp_path  # not inside any git repository
    code, out, err = run("idl", "diff", *args, cwd=env_dir)
    assert (code, out, err) == (2, "", message)


def test_an_input_that_does_not_compile_shows_the_compiler_diagnostics(tmp_path: Path) -> None:
    write(tmp_path, {"ok.thrift": "struct A {}", "bad.thrift": "struct A { 1: Nope x }"})
    code, out, err = run("idl", "diff", "ok.thrift", "bad.thrift", cwd=tmp_path)
    assert code == 2 and out == ""
    assert err.splitlines() == [
        "bad.thrift:1:15: error: unknown type 'Nope'",
        " 1 | struct A { 1: Nope x }",
        "   |               ^~~~",
        "volo: NEW does not compile (1 error); nothing was compared",
    ]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True,
        env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e",
             "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e"},
    ).stdout  # fmt: skip


def test_against_a_git_ref(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write(repo / "idl", {
        "api.thrift": 'include "common.thrift"\nstruct Req { 1: common.Id id, 2: string name }\n'
                      "service Api { void call(1: Req r) }\n",
        "common.thrift": "typedef i64 Id\n",
    })  # fmt: skip
    (repo / "README").write_text("not IDL\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "v1")
    git(repo, "tag", "v1")
    code, out, _ = run("idl", "diff", "idl/api.thrift", "--against", "HEAD", cwd=repo)
    assert (code, out) == (0, "no findings at level wire\n")
    # change the working tree: NEW is what is on disk, OLD is the commit
    (repo / "idl" / "common.thrift").write_text("typedef i32 Id\n")
    (repo / "idl" / "api.thrift").write_text(
        'include "common.thrift"\nstruct Req { 1: common.Id id }\nservice Api { void call(1: Req r) }\n'
    )
    code, out, _ = run("idl", "diff", "idl/api.thrift", "--against", "v1", cwd=repo)
    assert code == 1
    assert (
        "v1:idl/api.thrift:2:41: field-removed: field 2 'name' was removed from struct 'api.Req' "
        "(its id can come back with another type)\n"
        " 2 | struct Req { 1: common.Id id, 2: string name }\n"
    ) in out
    assert "idl/api.thrift:2:27: field-wire-type-changed: field 1 'id' of struct 'api.Req': "\
        "changed from i64 to i32" in out  # fmt: skip
    # a folder, from a subfolder, against a branch name; files git ignores are not NEW's
    git(repo, "checkout", "-qb", "topic")
    (repo / ".gitignore").write_text("build/\n")
    write(repo / "idl" / "build", {"scratch.thrift": "struct {"})  # would not compile
    code, out, _ = run("idl", "diff", ".", "--against", "v1", cwd=repo / "idl")
    assert code == 1 and out.count("field-") == 2
    code, _, err = run("idl", "diff", "idl", "--against", "nope", cwd=repo)
    assert (code, err) == (
        2,
        f"volo: 'nope' is not a commit, branch or tag of the repository at '{repo.resolve()}'\n",
    )
    (repo / "idl" / "new.thrift").write_text("struct N {}\n")
    code, _, err = run("idl", "diff", "idl/new.thrift", "--against", "v1", cwd=repo)
    assert (code, err) == (2, "volo: 'idl/new.thrift' does not exist at v1\n")


def test_no_traceback_reaches_the_user_for_a_bad_ref_in_a_subprocess(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "volo_cli", "idl", "diff", str(tmp_path), "--against", "HEAD"],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) == 1


# ---- our own IDL, the shared corpus ------------------------------------------------------


def own_idl() -> list[tuple[Path, list[Path]]]:
    """Every IDL file this project ships, with its include folders."""
    corpus = IDL / "corpus"
    found = [(p, [corpus / "library"]) for p in sorted(corpus.rglob("*.thrift"))]
    found += [(p, []) for p in sorted(IDL.glob("*.thrift"))]
    found += [(p, [p.parent]) for p in sorted((IDL / "proto").glob("*.proto"))]
    found += [(p, [p.parent]) for p in sorted((REPO / "idl_samples").rglob("*.thrift"))]
    found += [(p, [p.parent]) for p in sorted((REPO / "tests" / "golden").glob("*/idl/*.proto"))]
    found += [(p, [p.parent]) for p in sorted((REPO / "tests" / "golden").glob("*/idl/*.thrift"))]
    return found


def test_own_idl_against_a_copy_of_itself_gives_no_finding(tmp_path: Path) -> None:
    files = own_idl()
    assert len(files) >= 20
    copy = tmp_path / "copy"
    shutil.copytree(REPO, copy, ignore=shutil.ignore_patterns(".*", "*.py", "*.so", "*.c", "build"))
    for path, includes in files:
        twin = copy / path.relative_to(REPO)
        result = diff([path], [twin], include_dirs=includes)
        if not result.compiled:
            continue  # files that exist to fail (negative cases) fail alike on both sides
        assert result.findings == [], (path, [result.render(f) for f in result.findings])


def corpus_groups(root: Path) -> list[tuple[Path, list[Path]]]:
    """The corpus by folder, with each folder's files that compile on their own."""
    groups: dict[Path, list[Path]] = {}
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".thrift", ".proto")):
        groups.setdefault(path.parent, []).append(path)
    return sorted(groups.items())


def test_shared_corpus_against_a_copy_of_itself_gives_no_finding(tmp_path: Path) -> None:
    import pilota

    corpus = need_shared("corpus")
    copy = tmp_path / "corpus"
    shutil.copytree(corpus, copy, symlinks=True)
    stand_in = tmp_path / "v0.16" / "ThriftTest.thrift"  # as tests/test_corpus.py supplies it
    stand_in.parent.mkdir()
    stand_in.symlink_to(corpus / "thrift" / "apache-0.17" / "ThriftTest.thrift")
    compared = 0
    for folder, files in corpus_groups(corpus):
        in_proto = folder == corpus / "proto" or corpus / "proto" in folder.parents
        includes = [folder, *([corpus / "proto"] if in_proto else []), tmp_path]
        good = [f for f in files if pilota.check([f], includes)[0] is not None]
        for kind in (".thrift", ".proto"):
            group = [f for f in good if f.suffix == kind]
            # a folder's files at once; one by one where they clash (one package twice)
            batches = (
                [group] if pilota.check(group, includes)[0] is not None else [[f] for f in group]
            )
            for batch in batches:
                if not batch:
                    continue
                twins = [copy / f.relative_to(corpus) for f in batch]
                result = diff(batch, twins, include_dirs=includes)
                assert result.compiled
                assert result.findings == [], [result.render(f) for f in result.findings]
                compared += len(batch)
    assert compared >= 150


# ---- the work is linear -----------------------------------------------------------------


def test_work_after_parsing_is_linear_in_the_definitions(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "bench"))
    try:
        from parse import generated_idl, generated_proto  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)

    def work(text: str, suffix: str, lines: int) -> tuple[int, int]:
        folder = tmp_path / f"{suffix}{lines}"
        old = write(folder / "old", {f"api{suffix}": text})
        # NEW: every field, argument and value numbered 1 renumbered, so that every
        # definition has something to report
        new_text = text.replace("1: ", "101: ").replace(" = 1;", " = 101;")
        new = write(folder / "new", {f"api{suffix}": new_text})
        result = diff([old], [new])
        assert result.compiled and len(result.findings) > lines / 50
        schema = result.new.version
        assert schema is not None
        size = sum(
            1 + len(getattr(d, "fields", [])) + len(getattr(d, "members", []))
            + len(getattr(d, "methods", []))
            for m in schema.modules.values() for d in m.definitions.values()
        )  # fmt: skip
        return result.work, size

    for generate, suffix in ((generated_idl, ".thrift"), (generated_proto, ".proto")):
        small_work, small_size = work(generate(500), suffix, 500)
        big_work, big_size = work(generate(5000), suffix, 5000)
        assert big_size > 8 * small_size
        # a few comparisons per definition, field, value and method, whatever the size
        assert small_work <= 8 * small_size and big_work <= 8 * big_size
        assert big_work / big_size <= 1.5 * small_work / small_size


def test_swapped_numbers_are_renumberings_not_renames(tmp_path: Path) -> None:
    result = compare(
        tmp_path,
        "enum E { A = 1, B = 2 }\nstruct S { 1: i32 a, 2: i32 b }",
        "enum E { A = 2, B = 1 }\nstruct S { 1: i32 b, 2: i32 a }",
    )
    assert (
        sorted(f.rule.id for f in result.findings)
        == ["enum-value-renumbered"] * 2 + ["field-renumbered"] * 2
    )


def test_extensions_are_compared_by_extendee_and_number(tmp_path: Path) -> None:
    base = P2 + "message M { extensions 100 to 200; }\n"
    result = compare(
        tmp_path,
        base + "extend M { optional int32 e = 100; optional string f = 101; }",
        base + "extend M { optional int64 e = 100; optional string g = 101; }",
    )
    assert sorted(f.rule.id for f in result.findings) == [
        "field-integer-range-changed", "field-json-name-changed",
    ]  # fmt: skip
    result = compare(tmp_path, base + "extend M { optional int32 e = 100; }", base, tag="r")
    [finding] = result.findings
    assert finding.rule.id == "definition-removed" and "extension 't.e' (100)" in finding.message


def test_the_readme_example_is_what_the_command_prints(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Breaking changes: `volo idl diff`") :]
    idl = section[section.index("```thrift\n") + 10 :]
    idl = idl[: idl.index("```")]
    lines = idl.splitlines()
    split = lines[0].index("// v2/")
    versions = {
        lines[0][:split].split()[1]: [line[:split].rstrip() for line in lines[1:]],
        lines[0][split:].split()[1]: [line[split:].rstrip() for line in lines[1:]],
    }
    for name, text in versions.items():
        write(tmp_path, {name: "\n".join(text).strip("\n") + "\n"})
    shown = section[section.index("```text\n") + 8 :]
    shown = shown[: shown.index("```")].splitlines()
    assert shown[0] == "$ volo idl diff v1/shop.thrift v2/shop.thrift"
    code, out, _ = run(*shown[0].split()[2:], cwd=tmp_path)
    assert code == 1
    assert out.splitlines() == shown[1:]


def test_a_changed_package_renames_every_grpc_service_in_it(tmp_path: Path) -> None:
    old = 'syntax = "proto3";\npackage a.v1;\nmessage M {}\nservice S { rpc F(M) returns (M); }\n'
    result = compare(tmp_path, old, old.replace("a.v1", "a.v2"))
    assert sorted(f.rule.id for f in result.findings) == [
        "namespace-changed",
        "service-name-changed",
    ]
    assert result.at(Level.WIRE)[0].message == (
        "service 'a.v1.S' is now called 'a.v2.S': calls naming the old service fail"
    )
