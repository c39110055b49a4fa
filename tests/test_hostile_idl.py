"""Hostile IDL: whatever a file holds, `check` ends soon with located errors.

A path that is no regular file, or a file over the size limit, is refused;
huge literals, deep nesting and long chains of includes get one located error
each (never a RecursionError, a MemoryError or Python's int-string limit);
long chains of typedefs, `extends` and constants, and floods of errors, cost
work that grows linearly with the input. Work is measured by the lines of
pilota's own code that run, which is the same on every run and machine (no
timings: other jobs share the machine); the sizes the issue measured run once
more in a subprocess, under a generous timeout, to say nothing stalls.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

import pilota
from pilota import diagnostics as diagnostics_module
from pilota.codegen.python import generate_python
from pilota.diagnostics import Diagnostics
from pilota.lark_support import MAX_SYNTAX_ERRORS
from pilota.proto import parser as proto_parser_module
from pilota.proto.parser import ProtoParser
from pilota.sources import MAX_INCLUDE_DEPTH, MAX_SOURCE_BYTES
from pilota.thrift.parser import ThriftParser
from tests.conftest import REPO, need_apache_compiler

PILOTA = str(Path(pilota.__file__).parent)


def check(folder: Path, main: str, **files: str) -> list[tuple[str | None, int, int, str]]:
    """Write `files` (name: text) into `folder`, check `main`, return every error."""
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    schema, diagnostics = pilota.check([folder / main], [folder])
    errors = [
        (Path(d.location.path).name if d.location else None, *where(d), d.message)
        for d in diagnostics.errors
    ]
    assert (schema is None) == bool(errors)
    return errors


def where(d: Any) -> tuple[int, int]:
    return (d.location.line, d.location.col) if d.location else (0, 0)


def volo(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The `volo` command, as a user runs it, in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "volo_cli", *args], cwd=cwd, capture_output=True, text=True,
        timeout=timeout, check=False, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip


# ---- files that are not files -----------------------------------------------------------


@pytest.mark.parametrize("suffix", [".thrift", ".proto"])
def test_a_device_a_fifo_and_a_folder_are_refused(tmp_path: Path, suffix: str) -> None:
    """A root IDL that is a symlink to /dev/zero once ran out of memory (3.7 GB); a
    FIFO hung. Each is refused, naming what it is, in a process that must end."""
    (tmp_path / f"zero{suffix}").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / f"fifo{suffix}")
    (tmp_path / f"folder{suffix}").mkdir()
    for name, what in (("zero", "a character device, not a regular file"),
                       ("fifo", "a FIFO, not a regular file"), ("folder", "a directory")):  # fmt: skip
        result = volo("idl", "check", f"{name}{suffix}", cwd=tmp_path, timeout=60)
        assert result.returncode == 1
        assert result.stderr.splitlines()[0] == f"error: cannot read '{name}{suffix}': it is {what}"
        assert "internal error" not in result.stderr and "Traceback" not in result.stderr


def test_an_include_that_is_a_fifo_is_refused_where_it_is_named(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.thrift")
    errors = check(tmp_path, "main.thrift", **{"main.thrift": 'include "pipe.thrift"\n'})
    assert errors == [
        ("main.thrift", 1, 9, f"cannot read '{tmp_path / 'pipe.thrift'}': it is a FIFO, not a regular file")
    ]


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "big.thrift"
    with big.open("wb") as f:
        f.truncate(MAX_SOURCE_BYTES + 1)  # sparse: no disk space, nothing to read
    schema, diagnostics = pilota.check([big])
    assert schema is None
    assert [d.message for d in diagnostics] == [
        f"cannot read '{big}': it is {MAX_SOURCE_BYTES + 1:,} bytes, "
        f"over the limit of {MAX_SOURCE_BYTES:,} bytes"
    ]


# ---- huge literals --------------------------------------------------------------------------

HUGE = "1" + "0" * 5000  # past Python's int-string limit (4,300 digits)
THRIFT_TOO_LONG = "integer literal of 5,001 digits is too long: Thrift's integers are at most 64 bits"
PROTO_TOO_LONG = "integer of 5,001 digits is too long: protobuf's integers are at most 64 bits"


@pytest.mark.parametrize(
    ("name", "text", "col", "message"),
    [
        ("field_id.thrift", f"struct S {{\n  {HUGE}: i32 a\n}}\n", 3, THRIFT_TOO_LONG),
        ("enum_value.thrift", f"enum E {{\n  A = -{HUGE}\n}}\n", 7, THRIFT_TOO_LONG),
        ("const.thrift", f"\nconst i64 X = {HUGE}\n", 15, THRIFT_TOO_LONG),
        ("field.proto", f'syntax = "proto3";\nmessage M {{ int32 a = {HUGE}; }}\n', 23, PROTO_TOO_LONG),
        ("enum.proto", f'syntax = "proto3";\nenum E {{ Z = 0; A = {HUGE}; }}\n', 21, PROTO_TOO_LONG),
        ("default.proto", f'syntax = "proto2";\nmessage M {{ optional double d = 1 [default = {HUGE}]; }}\n', 46, PROTO_TOO_LONG),
    ],
)
def test_a_huge_integer_gets_one_located_error(
    tmp_path: Path, name: str, text: str, col: int, message: str
) -> None:
    assert check(tmp_path, name, **{name: text}) == [(name, 2, col, message)]


# ---- deep nesting -----------------------------------------------------------------------------


def nested(n: int, open_: str, inner: str, close: str) -> str:
    return open_ * n + inner + close * n


def test_a_type_nested_a_thousand_deep_gets_one_located_error(tmp_path: Path) -> None:
    text = f"struct S {{ 1: {nested(1000, 'list<', 'i32', '>')} a }}\n"
    # reported at the container that holds 64 others: the 65th from the inside
    col = text.index("list<") + 1 + (1000 - 65) * len("list<")
    assert check(tmp_path, "main.thrift", **{"main.thrift": text}) == [
        ("main.thrift", 1, col, "type nested too deeply: more than 64 containers in one another")
    ]


def test_a_value_nested_five_hundred_deep_gets_one_located_error(tmp_path: Path) -> None:
    """A value once nested this deep passed `check`, and generating from it ended in
    a RecursionError (and Python's parser takes at most 200 nested brackets)."""
    value = nested(500, "{1: ", "2", "}")
    text = f"struct Node {{ 1: map<i32, Node> kids }}\nconst map<i32, Node> M = {value}\n"
    col = text.index(value) - text.index("\n") + (500 - 65) * len("{1: ")
    assert check(tmp_path, "main.thrift", **{"main.thrift": text}) == [
        ("main.thrift", 2, col, "value nested too deeply: more than 64 containers in one another")
    ]


def test_a_long_chain_of_includes_gets_one_located_error(tmp_path: Path) -> None:
    files = {f"f{i}.thrift": f'include "f{i + 1}.thrift"\n' for i in range(400)}
    files["f400.thrift"] = "struct S {}\n"
    assert check(tmp_path, "f0.thrift", **files) == [
        (
            f"f{MAX_INCLUDE_DEPTH - 1}.thrift", 1, 9,
            f"includes nest too deeply: 'f{MAX_INCLUDE_DEPTH}.thrift' would be file "
            f"{MAX_INCLUDE_DEPTH + 1} of a chain of includes from '{tmp_path / 'f0.thrift'}'; "
            f"at most {MAX_INCLUDE_DEPTH} files can include one another in a row "
            "(Python could not import the generated modules)",
        )
    ]  # fmt: skip


def test_the_longest_chain_of_includes_allowed_generates_modules_that_import(tmp_path: Path) -> None:
    files = {f"f{i}.thrift": f'include "f{i + 1}.thrift"\nconst i32 C{i} = f{i + 1}.C{i + 1}\n'
             for i in range(MAX_INCLUDE_DEPTH - 1)}  # fmt: skip
    files[f"f{MAX_INCLUDE_DEPTH - 1}.thrift"] = f"const i32 C{MAX_INCLUDE_DEPTH - 1} = 7\n"
    assert check(tmp_path, "f0.thrift", **files) == []
    pilota.generate([tmp_path / "f0.thrift"], tmp_path / "out" / "chain")
    result = subprocess.run(
        [sys.executable, "-c", "from chain import f0; print(f0.C0)"], cwd=tmp_path / "out",
        capture_output=True, text=True, check=False, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert result.stdout == "7\n", result.stderr


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "messages.proto",
            f'syntax = "proto3";\n{nested(1000, "message M {", "int32 x = 1;", "}")}\n',
            "messages nested too deeply: more than 31 levels",
        ),
        (
            "groups.proto",
            'syntax = "proto2";\n'
            + nested(100, "message M { optional group G = 1 {", "optional int32 x = 1;", "}}")
            + "\n",
            "messages nested too deeply: more than 31 levels",
        ),
        (
            "aggregate.proto",
            'syntax = "proto2";\nimport "google/protobuf/descriptor.proto";\n'
            "message R { optional R r = 1; }\n"
            "extend google.protobuf.FileOptions { optional R rr = 50000; }\n"
            f"option (rr) = {nested(1000, '{ r ', '{}', '}')};\n",
            "option value nested too deeply: more than 64 levels",
        ),
    ],
)
def test_deep_proto_nesting_gets_one_located_error(tmp_path: Path, name: str, text: str, message: str) -> None:
    errors = check(tmp_path, name, **{name: text})
    assert [(file, message) for file, _, _, message in errors] == [(name, message)]


def test_a_long_chain_of_proto_imports_gets_one_located_error(tmp_path: Path) -> None:
    files = {f"f{i}.proto": f'syntax = "proto3";\nimport "f{i + 1}.proto";\n' for i in range(400)}
    files["f400.proto"] = 'syntax = "proto3";\n'
    errors = check(tmp_path, "f0.proto", **files)
    assert errors == [
        (
            f"f{MAX_INCLUDE_DEPTH - 1}.proto", 2, 8,
            f'imports nest too deeply: "f{MAX_INCLUDE_DEPTH}.proto" would be file '
            f'{MAX_INCLUDE_DEPTH + 1} of a chain of imports from "f0.proto"; at most '
            f"{MAX_INCLUDE_DEPTH} files can import one another in a row "
            "(Python could not import the generated modules)",
        )
    ]  # fmt: skip


def test_chains_of_constants_and_typedefs_declared_backwards_generate(tmp_path: Path) -> None:
    """Each names the next, declared after it: evaluated depth first, they once
    recursed a level per link (a RecursionError at a few hundred)."""
    n = 3000
    text = "".join(f"const i32 C{i} = C{i + 1}\n" for i in range(n)) + f"const i32 C{n} = 5\n"
    text += "".join(f"typedef T{i + 1} T{i}\n" for i in range(n)) + f"typedef i32 T{n}\n"
    text += "struct S { 1: T0 a = C0 }\n"
    path = tmp_path / "chains.thrift"
    path.write_text(text)
    schema, diagnostics = pilota.check([path])
    assert schema is not None and not diagnostics.errors
    assert schema.roots[0]["C0"].value == 5  # type: ignore[union-attr]
    files = {str(f.path): f.text for f in generate_python(schema)}
    assert "C0: _t.Final[int] = 5\n" in files["chains.py"]
    assert files["chains.py"].index("T1: _t.TypeAlias") < files["chains.py"].index("T0: _t.TypeAlias")


def test_a_long_cycle_is_reported_once_in_one_short_sentence(tmp_path: Path) -> None:
    n = 2000
    text = "".join(f"const i32 C{i} = C{(i + 1) % n}\n" for i in range(n))
    assert check(tmp_path, "main.thrift", **{"main.thrift": text}) == [
        ("main.thrift", 1, 11,
         "constant 'C0' refers to itself: C0 -> C1 -> C2 -> C3 -> ... (1,993 more) -> C1997 -> C1998 -> C1999 -> C0")
    ]  # fmt: skip


# ---- memory -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("big.thrift", 'const string X = "{}"\n'),
        ("big.proto", 'syntax = "proto2";\nmessage M {{ optional string a = 1 [default = "{}"]; }}\n'),
    ],
)
def test_a_ten_megabyte_string_takes_memory_in_proportion(tmp_path: Path, name: str, text: str) -> None:
    """The string pattern once kept backtracking state per character: 2.3 GB for 10 MB."""
    (tmp_path / name).write_text(text.format("a" * 5_000_000 + "\\n" * 2_500_000))
    script = textwrap.dedent(f"""
        import resource, pilota
        schema, diagnostics = pilota.check([{name!r}])
        assert schema is not None, diagnostics.render()
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
    """)
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
        timeout=120, check=False, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    peak_mb = int(result.stdout)
    assert peak_mb < 400, f"{peak_mb} MB to check a 10 MB file"


# ---- linear work --------------------------------------------------------------------------------


def pilota_lines(action: Callable[[], object]) -> int:
    """How many lines of pilota's own code `action` runs."""
    count = 0

    def local(frame: FrameType, event: str, arg: object) -> Any:
        nonlocal count
        count += event == "line"
        return local

    def calls(frame: FrameType, event: str, arg: object) -> Any:
        return local if frame.f_code.co_filename.startswith(PILOTA) else None

    sys.settrace(calls)
    try:
        action()
    finally:
        sys.settrace(None)
    return count


def work(tmp_path: Path, text: str, generate: bool) -> int:
    path = tmp_path / "main.thrift"
    path.write_text(text)

    def run() -> None:
        schema, diagnostics = pilota.check([path])
        diagnostics.render()
        if generate:
            assert schema is not None, diagnostics.render()
            generate_python(schema)

    run()  # warm: the parser is built and cached once per process
    return pilota_lines(run)


CHAINS = {
    "typedefs": ("typedef i32 T0\n{}struct S {{ 1: T{n} a = 1 }}\n", "typedef T{i} T{j}\n", True),
    "typedefs_backwards": ("{}typedef i32 T{n}\nconst T0 X = 1\n", "typedef T{j} T{i}\n", True),
    "extends": ("service S0 {{ void m0() }}\n{}", "service S{j} extends S{i} {{ void m{j}() }}\n", True),
    "constants_backwards": ("{}const i32 C{n} = 1\n", "const i32 C{i} = C{j}\n", True),
    "unknown_types": ("{}", "struct Type{i} {{ 1: Typo{i} f }}\n", False),
    "syntax_errors": ("{}", "struct S{i} {{ 1: i32 }}\n", False),
}


@pytest.mark.parametrize("case", CHAINS)
def test_work_grows_linearly_with_chains_and_errors(tmp_path: Path, case: str) -> None:
    """Twice the links (or errors), at most about twice the work: the chains once
    took quadratic or cubic time (5,000 typedefs did not finish in 120 s)."""
    outline, link, generate = CHAINS[case]

    def text(n: int) -> str:
        return outline.format("".join(link.format(i=i, j=i + 1) for i in range(n)), n=n)

    small, large = (work(tmp_path, text(n), generate) for n in (500, 1000))
    assert large <= 2.3 * small, (small, large)


def test_work_grows_linearly_with_the_uses_of_a_long_typedef_chain(tmp_path: Path) -> None:
    """Each use of the last typedef once followed the whole chain again, twice over
    (a value is checked, then generated): 5,000 constants of a 5,000-link chain took 12 s."""

    def text(n: int) -> str:
        typedefs = "".join(f"typedef T{i} T{i + 1}\n" for i in range(n))
        uses = "".join(f"const T{n} C{i} = {i}\nstruct S{i} {{ 1: T{n} a = {i} }}\n" for i in range(n))
        return f"typedef i32 T0\n{typedefs}{uses}service S {{ void f(1: T{n} a) }}\n"

    small, large = (work(tmp_path, text(n), True) for n in (300, 600))
    assert large <= 2.3 * small, (small, large)


def test_hints_and_reparses_are_bounded_however_many_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """"did you mean" searches cost time in the names in scope, and each syntax
    error parses the file again: both are capped per run."""
    searches: list[str] = []
    close_matches = diagnostics_module.difflib.get_close_matches

    def counted(word: str, *args: Any, **kwargs: Any) -> list[str]:
        searches.append(word)
        return close_matches(word, *args, **kwargs)

    monkeypatch.setattr(diagnostics_module.difflib, "get_close_matches", counted)
    text = "".join(f"struct Type{i} {{ 1: Typo{i} f }}\n" for i in range(2000))
    errors = check(tmp_path, "main.thrift", **{"main.thrift": text})
    assert len(errors) == 2000 and len(searches) == diagnostics_module.MAX_HINT_SEARCHES
    assert errors[0][3] == "unknown type 'Typo0'; did you mean 'Type0'?"

    parser = ThriftParser()
    parses: list[int] = []
    parse_once = parser._parse_once

    def counted_parse(*args: Any) -> Any:
        parses.append(1)
        return parse_once(*args)

    monkeypatch.setattr(parser, "_parse_once", counted_parse)
    for n in (100, 4000):
        parses.clear()
        diagnostics = Diagnostics()
        parser.parse("".join(f"struct S{i} {{ 1: i32 }}\n" for i in range(n)), "m", diagnostics)
        assert len(diagnostics.errors) == MAX_SYNTAX_ERRORS
        assert len(parses) <= 12 * MAX_SYNTAX_ERRORS


def test_explaining_a_syntax_error_parses_precisely_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The parses that try where a `}` is missing only need where they fail. They
    once each made the second, pure-Python parse that lists what was expected:
    4,000 messages left open took 15 s."""
    precise: list[int] = []
    real = proto_parser_module.precise_error

    def counted(*args: Any) -> Any:
        precise.append(1)
        return real(*args)

    monkeypatch.setattr(proto_parser_module, "precise_error", counted)
    text = 'syntax = "proto3";\n' + "".join(f"message S{i} {{ int32 a = 1;\n" for i in range(300))
    diagnostics = Diagnostics()
    assert ProtoParser().parse(text, "main.proto", diagnostics) is None
    assert diagnostics.errors and len(precise) <= 2 * len(diagnostics.errors)


SIZES = {
    "typedefs": ("typedef i32 T0\n{}", "typedef T{i} T{j}\n", 5000),
    "extends": ("service S0 {{}}\n{}", "service S{j} extends S{i} {{ void m{j}() }}\n", 2000),
    "unknown_types": ("{}", "struct Type{i} {{ 1: Typo{i} f }}\n", 5000),
    "syntax_errors": ("{}", "struct S{i} {{ 1: i32 }}\n", 4000),
    "messages_left_open": ('syntax = "proto3";\n{}', "message S{i} {{ int32 a = 1;\n", 4000),
}


@pytest.mark.parametrize("case", SIZES)
def test_the_sizes_measured_in_the_issue_end_with_a_clear_outcome(tmp_path: Path, case: str) -> None:
    outline, link, n = SIZES[case]
    name = "main.proto" if "proto" in outline else "main.thrift"
    (tmp_path / name).write_text(outline.format("".join(link.format(i=i, j=i + 1) for i in range(n))))
    result = volo("idl", "check", name, cwd=tmp_path)
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    if case in ("typedefs", "extends"):
        assert result.returncode == 0, result.stderr
    else:
        count = {"unknown_types": n, "syntax_errors": MAX_SYNTAX_ERRORS}.get(case, 1)
        assert result.returncode == 1
        assert result.stderr.splitlines()[-1] == f"{count} error{'s' * (count > 1)}, 0 warnings"


# ---- where a line ends --------------------------------------------------------------------------

# Characters Python's str.splitlines takes for line breaks, and Lark, Apache's
# compiler and protoc do not: only \n ends a line.
NOT_LINE_BREAKS = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


@pytest.mark.parametrize("suffix", [".thrift", ".proto"])
def test_errors_quote_the_line_they_name_whatever_breaks_lines(tmp_path: Path, suffix: str) -> None:
    """Python's str.splitlines once cut the file into more lines than the parser
    counts, so errors quoted a line above the one they named."""
    text = (
        f'// comment: {NOT_LINE_BREAKS}\nconst string S = "{NOT_LINE_BREAKS[2:]}"\n'
        "struct A {\n  1: i32 a\n}\nstruct B {\n  1: Missing b\n}\n"
        if suffix == ".thrift"
        else f'syntax = "proto3";\n// comment: {NOT_LINE_BREAKS}\nmessage A {{\n  int32 a = 1;\n}}\n'
        "message B {\n  Missing b = 1;\n}\n"
    )
    path = tmp_path / f"main{suffix}"
    path.write_text(text, encoding="utf-8")
    _, diagnostics = pilota.check([path])
    (error,) = diagnostics.errors
    assert error.location is not None
    line = text.split("\n")[error.location.line - 1]
    assert line == "  1: Missing b" if suffix == ".thrift" else line == "  Missing b = 1;"
    gutter = f" {error.location.line} | "
    assert error.render().splitlines()[1:] == [
        gutter + line, " " * (len(gutter) - 2) + "| " + " " * line.index("Missing") + "^~~~~~~"
    ]


def test_a_quoted_line_shows_control_characters_as_spaces(tmp_path: Path) -> None:
    """So that the caret stays under what it points at, and the terminal's cursor stays put."""
    path = tmp_path / "main.thrift"
    path.write_text("struct S {\r\x0c 1: i32 a\x0b }\n")
    _, diagnostics = pilota.check([path])
    (error,) = diagnostics.errors
    assert error.message == "unexpected character '\\x0b'"
    quoted, caret = error.render().splitlines()[1:]
    assert quoted == " 1 | struct S {   1: i32 a  }"
    assert caret.index("^") == quoted.index("a  }") + 1


def test_line_numbers_agree_with_apaches_compiler(tmp_path: Path) -> None:
    compiler = need_apache_compiler()
    path = tmp_path / "main.thrift"
    path.write_text("// one\r two\nstruct S {\r\n  1: i32 a\r  2: i32 b \x0b\n}\n")
    _, diagnostics = pilota.check([path])
    (error,) = diagnostics.errors
    assert error.location is not None and error.location.line == 3
    result = subprocess.run(
        [compiler, "--gen", "py", "-out", str(tmp_path), str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert f"main.thrift:{error.location.line}]" in result.stderr, result.stderr


def test_a_long_line_is_quoted_around_the_caret(tmp_path: Path) -> None:
    path = tmp_path / "main.thrift"
    path.write_text("".join(f"const i32 A{i} = {i}; " for i in range(2000)) + "const i32 B = Nope\n")
    _, diagnostics = pilota.check([path])
    (error,) = diagnostics.errors
    quoted, caret = error.render().splitlines()[1:]
    assert len(quoted) < 200 and quoted.startswith(" 1 | ...")
    assert quoted[caret.index("^") : caret.index("^") + 4] == "Nope"
