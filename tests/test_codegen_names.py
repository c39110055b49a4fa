"""Any IDL that `check` accepts generates code that imports and works.

tests/idl/torture/ is full of names that collide with what generated code
uses: its own aliases (`_p`, `_t`, `_uuid`), the builtins it names (a struct
`list` beside a typedef of `list<i32>`, a struct `object`, an included file
`int.thrift`), the names Python's `enum` reserves (`_x_`, `_missing_`, `mro`),
the locals of generated methods, and names type checkers take for private.
Each is renamed in Python, the IDL name kept on the wire. The Thrift module
imports, round-trips through both codecs and serves RPC here; the protobuf one
(torture.proto) imports and round-trips through both codecs and ProtoJSON;
tests/test_typecheck_generated.py and tests/test_proto_generated.py type-check
them.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import symtable
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

import pilota
import volo.thrift
from pilota.codegen import names
from tests.conftest import IDL, Codec

TORTURE = IDL / "torture" / "torture.thrift"
GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def torture(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("torture")
    pilota.generate([TORTURE], root / "torture_gen")
    sys.path.insert(0, str(root))
    try:
        return importlib.import_module("torture_gen.torture")
    finally:
        sys.path.remove(str(root))


def spec_names(cls: Any) -> dict[str, str]:
    """Each field's Python name, and the name the IDL gives it (on the wire)."""
    return {spec.name: spec.idl_name or spec.name for spec in cls.__thrift_spec__}


def test_colliding_names_are_renamed_and_keep_their_idl_names(torture: Any) -> None:
    assert torture.list_.__name__ == "list_" and torture.Numbers == list[int]
    assert torture.object_().__class__.__mro__[-1] is object
    assert torture.int_.Number(value=1).value == 1  # the included `int.thrift`
    assert [m.name for m in torture.Reserved] == [
        "x_x_", "x_missing_", "mro_", "name_", "value_", "x_", "x_order_", "x_ignore_",
        "real_", "to_bytes_", "x__init__", "x_generate_next_value_", "denominator_", "x_private",
    ]  # fmt: skip
    assert torture.Reserved(99) == 99  # still open: `_missing_` is the generated one
    assert spec_names(torture.Either) == {"_p_": "_p", "kind_": "kind", "value_": "value", "_t_": "_t"}
    assert spec_names(torture.raise_) == {"raise__": "raise", "message": "message"}
    aliases = spec_names(torture.Aliases)
    assert aliases["_uuid_"] == "_uuid" and aliases["object__"] == "object"
    assert aliases["int__"] == "int" and aliases["annotations_"] == "annotations"
    assert torture.superClient.__thrift_methods__["raise"].python_name == "raise__"
    # `second` is called `first`, taken; `first_` is a type the class names
    assert spec_names(torture.Renamed) == {"first": "first", "first__": "second", "other": "other"}
    # named as if private: renamed, as they are used from outside the module
    assert torture.x_LIMIT == 3 and torture.x_Level.LOW == 1
    assert [torture.x_hidden.__name__, torture.x_Failure.__name__, torture.x_Choice.__name__] == [
        "x_hidden", "x_Failure", "x_Choice"
    ]
    assert torture.x_InternalClient.__thrift_service__ == "_Internal"


def test_values_round_trip_through_both_codecs(torture: Any, codec: Codec, protocol: str) -> None:
    t = torture
    value = t.Aliases(
        _p_=1, _t_="t", _uuid_=uuid.UUID(int=5), _enum_=True, float_=1.5, frozenset_={3},
        list_=[t.Reserved.x_missing_], NotImplementedError_=2, object__=3, OBJECT=4,
        int__=t.int_.Number(value=7), Reserved_=t.Reserved.x_private, dict_={"k": [1, 2]},
        obj=t.object_(object_="o", SHOUTED=5), self_=6, cls=7, annotations_=8,
    )  # fmt: skip
    assert t.Aliases(self_=0).list_ == [t.Reserved.x_x_]  # the defaults, by their new names
    assert t.Aliases(self_=0).float_ == t.NAN
    for item in (value, t.Either(_p_=1), t.Either(_t_=b"x"), t.raise_(raise__=t.raise_(message="m"))):
        assert codec.decode(type(item), codec.encode(item, protocol), protocol) == item
    assert t.Either(kind_="k").kind == "kind_"  # the union's own `kind` is not replaced


async def test_a_service_of_colliding_names_serves(torture: Any) -> None:
    t = torture

    class Handler(t.superHandler):  # type: ignore[misc]
        async def call_(self, _p_: int, _t_: str, _uuid_: uuid.UUID, result_: int) -> int:
            return _p_ + len(_t_) + _uuid_.int + result_

        async def raise__(self, raise__: Any) -> Any:
            raise t.raise_(message=f"raised {raise__.message}")

        async def float__(self, float__: Any, value: float) -> list[int]:
            return [int(value)]

        async def object_call_args(self, object_call_args: int, object_call_result: int,
                                   NotImplementedError_: int) -> Any:  # fmt: skip
            return t.Either(_p_=object_call_args + object_call_result + NotImplementedError_)

    async with volo.thrift.Server(Handler(), "127.0.0.1", 0) as server:
        transport = volo.thrift.connect(f"127.0.0.1:{server.port}")
        client = t.superClient(transport)
        assert await client.call_(1, "ab", uuid.UUID(int=3), 4) == 10
        with pytest.raises(t.raise_, match="raised in"):
            await client.raise__(t.raise_(message="in"))
        assert await client.float__(t.float_(), 2.0) == [2]
        assert await client.object_call_args(1, 2, 3) == t.Either(_p_=6)
        await transport.close()


def loaded_builtins(source: str) -> set[str]:
    """The builtins a generated module looks up: names its code looks up outside
    every scope (symtable), or its annotations and the types `_t.cast` is given
    as strings name, that the module does not bind."""
    table = symtable.symtable(source, "generated", "exec")
    bound = {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()}
    looked_up: set[str] = set()
    scopes = [table]
    while scopes:
        scope = scopes.pop()
        looked_up |= {
            s.get_name()
            for s in scope.get_symbols()
            if s.is_referenced() and (s.is_global() or scope.get_type() == "module")
        }
        scopes += scope.get_children()
    # Annotations are not code (`from __future__ import annotations`): read them.
    types: list[ast.expr] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.arg | ast.AnnAssign) and node.annotation is not None:
            types.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns:
            types.append(node.returns)
        elif (
            isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "cast" and isinstance(node.args[0], ast.Constant)
        ):  # fmt: skip
            types.append(ast.parse(node.args[0].value, mode="eval").body)
    looked_up |= {n.id for t in types for n in ast.walk(t) if isinstance(n, ast.Name)}
    return (looked_up - bound) & set(dir(builtins))


def test_generated_code_uses_no_builtin_a_name_could_hide(tmp_path: Path) -> None:
    """Definitions, include aliases, fields and parameters steer clear of
    `names.GENERATED_BUILTINS`: that must be every builtin generated code names."""
    idls = [TORTURE, *sorted(IDL.glob("*.thrift")), *sorted(GOLDEN.glob("*/idl/main.thrift"))]
    used: set[str] = set()
    for number, idl in enumerate(idls):
        out = tmp_path / f"p{number}"
        pilota.generate([idl], out)
        for module in out.rglob("*.py"):
            used |= loaded_builtins(module.read_text())
    assert used <= names.GENERATED_BUILTINS, used - names.GENERATED_BUILTINS
    assert {"object", "list", "int", "classmethod", "NotImplementedError"} <= used


def test_a_file_name_cannot_break_out_of_the_header_comment(tmp_path: Path) -> None:
    idl = tmp_path / "a\nimport os\n.thrift"
    idl.write_text("const i32 X = 1\n")
    (generated,) = [f for f in pilota.generate([idl], tmp_path / "out") if f.name != "__init__.py"
                    and f.suffix == ".py"]  # fmt: skip
    first, second = generated.read_text().splitlines()[:2]
    assert first == f"# Generated by pilota {pilota.__version__} from a\\nimport os\\n.thrift. Do not edit."
    assert "import os" not in second


# ---- protobuf -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def proto_torture(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("proto_torture")
    pilota.generate([TORTURE.with_suffix(".proto")], root / "proto_torture_gen")
    sys.path.insert(0, str(root))
    try:
        return importlib.import_module("proto_torture_gen.torture.torture")
    finally:
        sys.path.remove(str(root))


def proto_names(cls: Any) -> dict[str, str]:
    """Each field's Python name, and its .proto name."""
    return {spec.name: spec.proto_name for spec in cls.__pb_fields__}


def test_colliding_proto_names_are_renamed_and_keep_their_proto_names(proto_torture: Any) -> None:
    t = proto_torture
    assert [m.name for m in t.Reserved] == [
        "x_x_", "x_missing_", "mro_", "name_", "value_", "x_", "x_order_", "x_ignore_",
        "real_", "to_bytes_", "x__init__", "x_generate_next_value_", "denominator_", "x_private",
    ]  # fmt: skip
    assert t.Reserved(99) == 99  # open: `_missing_` is the generated one
    assert {t.x_t.__name__, t.FILE_DESCRIPTOR_.__name__, t.list_.__name__} == {
        "x_t", "FILE_DESCRIPTOR_", "list_"
    }
    fields = proto_names(t.Aliases)
    # `OBJECT` is written in lower case: `object` is taken, and `object_` a type here
    assert fields["object"] == "object" and fields["object__"] == "OBJECT"
    assert fields["_p"] == "_p" and fields["_t_"] == "_t" and fields["_pb_"] == "_pb"
    assert fields["to_bytes_"] == "to_bytes" and fields["x__init__"] == "__init__"
    assert t.Aliases.x_Nested.__pb_name__ == "torture.Aliases._Nested"
    assert t.Aliases.x_Level.x_LOW == 0
    methods = {name: getattr(t.super_, name).name for name in (
        "x_call", "raise_", "self_", "x_caller_", "close_", "timeout", "Handler")}  # fmt: skip
    assert methods == {
        "x_call": "_call", "raise_": "raise", "self_": "self", "x_caller_": "_caller",
        "close_": "close", "timeout": "timeout", "Handler": "Handler",
    }
    for name in methods:
        assert callable(getattr(t.superClient, name)) and callable(getattr(t.superHandler, name))
    assert t.x_hiddenClient.__name__ == "x_hiddenClient"


def test_proto_values_round_trip_through_both_codecs_and_json(proto_torture: Any) -> None:
    from tests.proto_support import proto_codecs

    t = proto_torture
    value = t.Aliases(
        _p=1, _t_="t", _enum_=True, _pb_=True, float_=1.5, list__=[t.Reserved.x_missing_],
        NotImplementedError=2, object=t.object_(object="o", shouted=3), object__=4,
        Reserved_=t.Reserved.x_private, dict_={"k": t.list_(length=5)}, self_=6, cls=7,
        annotations=8, int_=9, str_="s", bytes_=b"b", _slot=10,
        nested=t.Aliases.x_Nested(x=11), level=t.Aliases.x_Level.x_LOW, to_bytes_=12,
        x__init__=13,
    )  # fmt: skip
    for codec in proto_codecs():
        assert codec.decode(t.Aliases, bytes(codec.encode(value, False))) == value
    as_json = value.to_dict(proto_names=True)
    assert {"_p", "_t", "OBJECT", "object", "Reserved", "__init__", "_slot"} <= set(as_json)
    assert as_json["Reserved"] == "_private" and as_json["list"] == ["_missing_"]
    assert t.Aliases.from_json(value.to_json()) == value
