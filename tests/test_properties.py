"""Property tests: generated IDL must mean exactly what it was generated from."""

from __future__ import annotations

import keyword
import math
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pilota
from pilota import ir

INT_RANGES = {name: ir.INTEGER_RANGES[ir.BaseKind(name)] for name in ("i8", "i16", "i32", "i64")}
SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@dataclass(frozen=True)
class Typed:
    """A constant: its IDL type, its IDL spelling, and the IR value it must evaluate to."""

    type: str
    text: str
    value: ir.Value


def int_text(n: int, hexadecimal: bool) -> str:
    if not hexadecimal:
        return str(n)
    return f"-0x{-n:X}" if n < 0 else f"0x{n:x}"


def string_text(s: str, quote: str) -> str:
    escaped = s.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return quote + escaped.replace(quote, "\\" + quote) + quote


def integers(kind: str) -> st.SearchStrategy[Typed]:
    low, high = INT_RANGES[kind]
    return st.builds(
        lambda n, h: Typed(kind, int_text(n, h), n), st.integers(low, high), st.booleans()
    )


doubles = st.floats(allow_nan=False, allow_infinity=False).map(
    lambda x: Typed("double", repr(x), x)
)
strings = st.builds(
    lambda s, q: Typed("string", string_text(s, q), s),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=30),
    st.sampled_from(["'", '"']),
)
bools = st.sampled_from([Typed("bool", "true", True), Typed("bool", "false", False),
                         Typed("bool", "1", True), Typed("bool", "0", False)])  # fmt: skip
scalars = st.one_of(*(integers(k) for k in INT_RANGES), doubles, strings, bools)


def containers(element: st.SearchStrategy[Typed]) -> st.SearchStrategy[Typed]:
    def lists(kind: str) -> st.SearchStrategy[Typed]:
        def build(items: list[Typed], sep: str) -> Typed:
            t = items[0].type
            values = tuple(i.value for i in items)
            value: ir.Value = (
                ir.ListValue(values)
                if kind == "list"
                else ir.SetValue(tuple(dict.fromkeys(values)))
            )
            return Typed(f"{kind}<{t}>", "[" + sep.join(i.text for i in items) + "]", value)

        return element.flatmap(
            lambda first: st.lists(element.filter(lambda e: e.type == first.type), max_size=4).map(
                lambda rest: [first, *rest]
            )
        ).flatmap(
            lambda items: st.sampled_from([", ", "; ", " ", ",\n"]).map(
                lambda sep: build(items, sep)
            )
        )

    def maps() -> st.SearchStrategy[Typed]:
        def build(keys: list[Typed], value: Typed) -> Typed:
            pairs = {k.value: value.value for k in keys}
            text = "{" + ", ".join(f"{k.text}: {value.text}" for k in keys) + "}"
            return Typed(
                f"map<{keys[0].type}, {value.type}>", text, ir.MapValue(tuple(pairs.items()))
            )

        return st.tuples(scalars, element).flatmap(
            lambda kv: st.lists(scalars.filter(lambda k: k.type == kv[0].type), max_size=3).map(
                lambda rest: build([kv[0], *rest], kv[1])
            )
        )

    return st.one_of(lists("list"), lists("set"), maps())


values = st.recursive(scalars, containers, max_leaves=12)


@SETTINGS
@given(values)
def test_constants_evaluate_to_what_was_written(tmp_path: Path, typed: Typed) -> None:
    path = tmp_path / "c.thrift"
    path.write_text(f"const {typed.type} C = {typed.text}\n", encoding="utf-8")
    const = pilota.load([path]).roots[0]["C"]
    assert isinstance(const, ir.Const)
    assert const.value == typed.value
    if isinstance(typed.value, float) and typed.value == 0:
        assert math.copysign(1, const.value) == math.copysign(1, typed.value)  # type: ignore[arg-type]


@SETTINGS
@given(st.integers(min_value=2**63) | st.integers(max_value=-(2**63) - 1))
def test_integers_outside_64_bits_are_errors(tmp_path: Path, n: int) -> None:
    path = tmp_path / "c.thrift"
    path.write_text(f"const i64 C = {n}\n")
    schema, diagnostics = pilota.check([path])
    assert schema is None
    [error] = diagnostics.errors
    assert error.message.startswith(f"integer {n} in constant 'C' does not fit in 64 bits")


# Names a struct may use for fields: Python keywords and soft keywords, Thrift
# keywords that can never start a field's name position, and ordinary names.
FIELD_NAMES = sorted(
    {*keyword.kwlist, *keyword.softkwlist, "self", "type", "required", "optional", "struct",
     "service", "enum", "const", "list", "map", "string", "i32", "include", "namespace",
     "oneway", "throws", "extends", "exception", "union", "typedef", "plain_name", "x"}
)  # fmt: skip
FIELD_TYPES = ["i32", "string", "list<i64>", "map<string, set<binary>>", "bool", "double", "Other"]
SEPARATORS = ["", ",", ";", " // a comment\n", " # another\n", " /* block */", " /** doc */"]


@st.composite
def structs(draw: st.DrawFn) -> tuple[str, list[tuple[int, str, str, str]]]:
    names = draw(st.lists(st.sampled_from(FIELD_NAMES), min_size=1, max_size=10, unique=True))
    ids = draw(
        st.lists(st.integers(1, 32767), min_size=len(names), max_size=len(names), unique=True)
    )
    fields = [
        (
            fid,
            name,
            draw(st.sampled_from(FIELD_TYPES)),
            draw(st.sampled_from(["", "required ", "optional "])),
        )
        for fid, name in zip(ids, names, strict=True)
    ]
    body = "".join(
        f"  {fid}: {req}{t} {name}{draw(st.sampled_from(SEPARATORS))}\n"
        for fid, name, t, req in fields
    )
    return "struct Other {}\nstruct S {\n" + body + "}\n", fields


@SETTINGS
@given(structs())
def test_struct_fields_survive_any_spelling(
    tmp_path: Path, generated: tuple[str, list[tuple[int, str, str, str]]]
) -> None:
    text, fields = generated
    path = tmp_path / "s.thrift"
    path.write_text(text, encoding="utf-8")
    schema, diagnostics = pilota.check([path])
    assert schema is not None, diagnostics.render() + "\n" + text
    struct = schema.roots[0]["S"]
    assert isinstance(struct, ir.Struct)
    assert [(f.id, f.name) for f in struct.fields] == [(fid, name) for fid, name, _, _ in fields]
    expected = {"": ir.Requiredness.DEFAULT, "required ": ir.Requiredness.REQUIRED,
                "optional ": ir.Requiredness.OPTIONAL}  # fmt: skip
    assert [f.requiredness for f in struct.fields] == [expected[r] for _, _, _, r in fields]
