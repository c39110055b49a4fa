"""The generator on the whole corpus, its quoting, and its file writing."""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pilota
from pilota.codegen.python import docstring, python_literal
from tests.conftest import SHARED, Codec, need_shared

CORPUS = SHARED / "corpus"


def corpus_files() -> list[str]:
    if not CORPUS.exists():
        return []
    files = [
        p
        for p in (CORPUS / "thrift" / "apache").glob("*.thrift")
        if p.name != "BrokenConstants.thrift"
    ]
    # files Pilota accepts but Apache and we reject (see test_corpus.py)
    rejected = {"duplicate_field_id.thrift", "struct_init_with_field_mask.thrift"}
    files += [p for p in (CORPUS / "pilota").rglob("*.thrift") if p.name not in rejected]
    return sorted(str(p.relative_to(CORPUS)) for p in files)


def import_tree(root: Path, package: str) -> list[str]:
    imported = []
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        importlib.import_module(module)
        imported.append(module)
    return imported


@pytest.mark.parametrize("name", corpus_files())
def test_corpus_file_generates_an_importable_package(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Include.thrift and ReuseObjects.thrift include "v0.16/ThriftTest.thrift" (see test_corpus.py).
    stand_in = tmp_path / "inc" / "v0.16" / "ThriftTest.thrift"
    stand_in.parent.mkdir(parents=True)
    stand_in.symlink_to(need_shared("corpus", "thrift", "apache-0.17", "ThriftTest.thrift"))
    package = "gen_" + "".join(c if c.isalnum() else "_" for c in name)
    written = pilota.generate([CORPUS / name], tmp_path / package, include_dirs=[tmp_path / "inc"])
    assert written
    monkeypatch.syspath_prepend(str(tmp_path))
    modules = import_tree(tmp_path, package)
    assert modules
    for module in modules:
        sys.modules.pop(module, None)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_docstrings_hold_any_text(text: str) -> None:
    literal = docstring(text, "    ")
    # What is kept: each line but its trailing blanks, without blank lines around.
    lines = "\n".join(line.rstrip(" \t") for line in text.split("\n")).strip("\n").split("\n")
    if lines == [""]:
        assert literal is None
        return
    assert literal is not None
    value = ast.literal_eval(literal)
    if len(lines) > 1:  # continuation lines are indented, blank ones left empty
        indented = [lines[0], *("    " + line if line else "" for line in lines[1:])]
        assert value == "\n".join(indented) + "\n    "
    else:
        assert value == lines[0]
    # nothing a linter flags as trailing whitespace (W291, W293)
    assert not [line for line in literal.split("\n") if line != line.rstrip(" \t")]
    tree = ast.parse(f"def f():\n    {literal}\n")
    [function] = tree.body
    assert isinstance(function, ast.FunctionDef) and len(function.body) == 1


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.binary(), st.floats(), st.integers(), st.booleans()))
def test_literals_round_trip(value: object) -> None:
    source = python_literal(value)
    result = eval(source, {"float": float})
    assert result == value or (isinstance(value, float) and value != value and result != result)


def test_a_failed_generation_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.thrift"
    bad.write_text("struct S { 1: Missing m }\n")
    out = tmp_path / "out"
    with pytest.raises(pilota.CompileError):
        pilota.generate([bad], out)
    assert not out.exists()


def test_regenerating_rewrites_only_changed_files(tmp_path: Path) -> None:
    idl = tmp_path / "svc.thrift"
    idl.write_text("struct A { 1: i32 a }\n")
    out = tmp_path / "out"
    first = pilota.generate([idl], out)
    assert {p.name for p in first} == {"__init__.py", "py.typed", "svc.py"}
    assert pilota.generate([idl], out) == []
    idl.write_text("struct A { 1: i32 a, 2: i32 b }\n")
    assert [p.name for p in pilota.generate([idl], out)] == ["svc.py"]
    assert not [p for p in out.iterdir() if p.name.startswith(".pilota-")]


def test_upper_case_field_names_work_as_any_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Such fields are set through `object.__setattr__` (for pyright's sake): the
    objects behave the same, exceptions and unions included."""
    idl = Path(__file__).parent / "golden" / "upper_case_names" / "idl" / "main.thrift"
    pilota.generate([idl], tmp_path / "gen_upper")
    monkeypatch.syspath_prepend(str(tmp_path))
    upper = importlib.import_module("gen_upper.upper")
    try:
        limits = upper.Limits(MAX_ITEMS=3, ID="x")
        assert (limits.MAX_ITEMS, limits.ID, limits.SIZES, limits.TTL_2) == (3, "x", [1, 2], 60)
        assert upper.Limits.from_bytes(limits.to_bytes()) == limits
        with pytest.raises(TypeError):
            upper.Pick(BY_ID=1, BY_NAME="both")
        assert upper.Pick(BY_NAME="n").kind == "BY_NAME"
        with pytest.raises(upper.LIMIT_EXCEEDED) as raised:
            raise upper.LIMIT_EXCEEDED(MAX=9)
        assert raised.value.MAX == 9
    finally:
        for module in [m for m in sys.modules if m.startswith("gen_upper")]:
            del sys.modules[module]


def test_an_absent_argument_arrives_as_its_zero_value(
    codec: Codec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As in Kitex: a handler annotated `x: int` gets 0, not None, from a peer that
    leaves `x` out; a struct argument left out is None, and annotated so."""
    import typing
    import uuid

    idl = Path(__file__).parent / "golden" / "argument_defaults" / "idl" / "main.thrift"
    pilota.generate([idl], tmp_path / "gen_zero")
    monkeypatch.syspath_prepend(str(tmp_path))
    args = importlib.import_module("gen_zero.args")
    try:
        nothing = b"\x00"  # a struct with no field: the peer sent no argument
        zeros = codec.decode(args.Plotter_zeros_args, nothing)
        assert [zeros.b, zeros.i8, zeros.i16, zeros.i64, zeros.d, zeros.s, zeros.bin, zeros.id] == [
            False, 0, 0, 0, 0.0, "", b"", uuid.UUID(int=0)
        ]  # fmt: skip
        containers = codec.decode(args.Plotter_containers_args, nothing)
        assert [containers.ints, containers.tags, containers.points, containers.names] == [
            [], set(), {}, []
        ]  # fmt: skip
        enums = codec.decode(args.Plotter_enums_args, nothing)
        assert enums.level is args.Level.OFF and enums.shade == 0
        assert isinstance(enums.shade, args.Shade)  # no member for 0: the open enum's
        assert enums.nothing is None  # an enum without members has no zero value
        later = codec.decode(args.Plotter_after_a_default_args, nothing)
        assert (later.scale, later.offset, later.ids, later.at) == (2, 0, [], None)
        structs = codec.decode(args.Plotter_structs_args, codec.encode(
            args.Plotter_structs_args(required_point=args.Point(x=1))
        ))  # fmt: skip
        assert (structs.point, structs.shape) == (None, None)
        # what the handler is annotated with is what it gets
        handler = args.PlotterHandler
        hints = {name: typing.get_type_hints(getattr(handler, name), vars(args))
                 for name in ("zeros", "enums", "structs")}  # fmt: skip
        assert hints["zeros"]["i64"] is int and hints["zeros"]["s"] is str
        assert hints["enums"]["shade"] is args.Shade
        assert hints["structs"]["point"] == args.Point | None
        assert hints["structs"]["required_point"] is args.Point
    finally:
        for module in [m for m in sys.modules if m.startswith("gen_zero")]:
            del sys.modules[module]


@pytest.mark.parametrize("layered", [False, True], ids=["plain", "through_layers"])
async def test_a_oneway_method_has_no_result_struct_and_still_reaches_the_handler(
    generated: Any, layered: bool
) -> None:
    import asyncio

    import volo.thrift
    from volo.middleware import AccessLog

    rich = generated.rich
    assert not hasattr(rich, "Rich_fire_result") and hasattr(rich, "Rich_echo_result")
    method = rich.RichHandler.__thrift_methods__["fire"]
    assert method.oneway and method.result is None
    fired = asyncio.Event()
    heard: list[str] = []

    class Handler(rich.RichHandler):
        async def fire(self, what: str) -> None:
            heard.append(what)
            fired.set()

        async def echo(self, value: Any) -> Any:
            return value

    layers = [AccessLog()] if layered else []
    async with volo.thrift.Server(Handler(), "127.0.0.1", 0, layers=layers) as server:
        transport = volo.thrift.connect(f"127.0.0.1:{server.port}", layers=layers)
        client = rich.RichClient(transport)
        assert await client.fire("once") is None
        await asyncio.wait_for(fired.wait(), 10)
        everything = rich.Everything(id=1)
        assert await client.echo(everything) == everything  # the connection still serves
        await transport.close()
    assert heard == ["once"]
