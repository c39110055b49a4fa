"""Resolved values are right: constants, enum numbering, typedefs, includes, inheritance."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

import pilota
from pilota import ir
from tests.conftest import REPO, Checker, load_text, need_shared

I = ir.BaseKind  # noqa: E741 - short for readability of type assertions


def apache(name: str) -> ir.Module:
    return pilota.load([need_shared("corpus", "thrift", "apache", name)]).roots[0]


def const(module: ir.Module, name: str) -> ir.Value:
    definition = module[name]
    assert isinstance(definition, ir.Const)
    return definition.value


def enum_value(module: ir.Module, enum: str, member: str) -> ir.EnumValue:
    definition = module[enum]
    assert isinstance(definition, ir.Enum)
    found = definition.member(member)
    assert found is not None
    return ir.EnumValue(found)


# ---- the corpus -------------------------------------------------------------------


def test_thrift_test_numberz_and_const() -> None:
    module = pilota.load(
        [need_shared("corpus", "thrift", "apache-0.17", "ThriftTest.thrift")]
    ).roots[0]
    numberz = module["Numberz"]
    assert isinstance(numberz, ir.Enum)
    assert [(m.name, m.value, m.implicit) for m in numberz.members] == [
        ("ONE", 1, False),
        ("TWO", 2, True),
        ("THREE", 3, True),
        ("FIVE", 5, False),
        ("SIX", 6, True),
        ("EIGHT", 8, False),
    ]
    assert const(module, "myNumberz") == enum_value(module, "Numberz", "ONE")
    assert module.namespace("py") == "ThriftTest"
    assert module.namespace("netstd", "*") == "ThriftTest"
    assert module.namespace("nothing", "*") == "thrift.test"
    assert module.namespaces["xsd"].annotations == (
        ir.Annotation("uri", "http://thrift.apache.org/ns/ThriftTest"),
    )
    user_id = module["UserId"]
    assert isinstance(user_id, ir.Typedef) and user_id.type == ir.BaseType(I.I64)
    insanity = module["Insanity"]
    assert isinstance(insanity, ir.Struct)
    user_map = insanity.fields[0].type
    assert user_map == ir.MapType(ir.NamedType(numberz), ir.NamedType(user_id))
    assert ir.unalias(ir.NamedType(user_id)) == ir.BaseType(I.I64)


def test_constants_demo_values() -> None:
    module = apache("ConstantsDemo.thrift")
    assert const(module, "myInt") == 3
    assert const(module, "hex_const") == 0x1F
    assert const(module, "negative_hex_constant") == -0x1F
    assert const(module, "GEN_ME") == -3523553
    assert const(module, "GEn_DUB") == 325.532
    assert const(module, "GEn_DU") == 85.2355
    assert const(module, "GEN_STRING") == "asldkjasfd"
    assert const(module, "e10") == 1e10 and isinstance(const(module, "e10"), float)
    assert const(module, "e11") == -1e10
    guid = uuid.UUID("00112233-4455-6677-8899-aabbccddeeff")
    plain = uuid.UUID("00000000-4444-cccc-ffff-0123456789ab")
    assert const(module, "GEN_UUID") == plain
    assert const(module, "GEN_GUID") == guid
    assert const(module, "MY_GUID") == guid
    assert const(module, "GEN_MAP") == ir.MapValue(((35532, 233), (43523, 853)))
    assert const(module, "GEN_LIST") == ir.ListValue((235235, 23598352, 3253523))
    assert const(module, "GEN_MAPMAP") == ir.MapValue(
        ((235, ir.MapValue(((532, 53255), (235, 235)))),)
    )
    # '098325' is decimal, as in Apache's lexer
    assert const(module, "GEN_MAP2") == ir.MapValue(
        (("hello", 233), ("lkj98d", 853), ("lkjsdf", 98325))
    )
    # sets drop repeated members
    assert const(module, "GEN_SET") == ir.SetValue((235, 53235))
    assert const(module, "GUID_SET") == ir.SetValue((guid, plain))
    thing = module["thing"]
    gen_thing = const(module, "GEN_THING")
    assert isinstance(gen_thing, ir.StructValue) and gen_thing.struct is thing
    assert gen_thing.fields == (
        ("hello", 325),
        ("goodbye", 325352),
        ("id", guid),
        ("my_id", plain),
        ("my_optional_id", plain),
    )
    gen_what = const(module, "GEN_WHAT")
    assert isinstance(gen_what, ir.MapValue)
    [(key, value)] = gen_what.items
    assert key == 35 and isinstance(value, ir.StructValue) and value.struct is thing


def test_double_constants() -> None:
    module = apache("DoubleConstantsTest.thrift")
    assert const(module, "DOUBLE_ASSIGNED_TO_INT_CONSTANT_TEST") == 1.0
    assert isinstance(const(module, "DOUBLE_ASSIGNED_TO_INT_CONSTANT_TEST"), float)
    assert const(module, "DOUBLE_ASSIGNED_TO_LARGEST_INT_CONSTANT_TEST") == float(2**63 - 1)
    assert const(module, "DOUBLE_ASSIGNED_TO_LARGE_DOUBLE_TEST") == 1.7e308
    assert const(module, "DOUBLE_ASSIGNED_TO_SMALL_DOUBLE_TEST") == -1.7e308
    listed = const(module, "DOUBLE_LIST_TEST")
    assert isinstance(listed, ir.ListValue) and len(listed.items) == 12
    assert all(isinstance(v, float) for v in listed.items)
    assert listed.items[1] == -100.0 and listed.items[5] == 3.14159265359


def test_debug_proto_test_constants_and_inheritance() -> None:
    module = apache("DebugProtoTest.thrift")
    compact = const(module, "COMPACT_TEST")
    assert isinstance(compact, ir.StructValue)
    fields = dict(compact.fields)
    assert fields["a_i64"] == 0xFFFFFFFFFF
    assert fields["true_field"] is True and fields["false_field"] is False
    assert fields["boolean_list"] == ir.ListValue((True, True, True, False, False, False))
    assert fields["i64_list"] == ir.ListValue(
        (-1, 0, 0xFF, 0xFFFF, 0xFFFFFF, 0xFFFFFFFF, 0xFFFFFFFFFF, 0xFFFFFFFFFFFF,
         0xFFFFFFFFFFFFFF, 0x7FFFFFFFFFFFFFFF)
    )  # fmt: skip
    assert fields["double_byte_map"] == ir.MapValue(((-1.1, 1), (1.1, 1)))
    assert fields["list_byte_map"] == ir.MapValue(
        ((ir.ListValue((1, 2, 3)), 1), (ir.ListValue((0, 1)), 2), (ir.ListValue(()), 0))
    )
    assert fields["map_byte_map"] == ir.MapValue(
        ((ir.MapValue(((1, 1),)), 1), (ir.MapValue(((2, 2),)), 2), (ir.MapValue(()), 0))
    )
    assert isinstance(fields["empty_struct_field"], ir.StructValue)
    assert fields["field20000"] == 20000
    one, two = enum_value(module, "SomeEnum", "ONE"), enum_value(module, "SomeEnum", "TWO")
    assert const(module, "MY_SOME_ENUM") == one
    assert const(module, "MY_SOME_ENUM_1") == one  # an enum given by number
    assert const(module, "MY_ENUM_MAP") == ir.MapValue(((one, two),))
    crazy = const(module, "EXTRA_CRAZY_MAP")
    assert isinstance(crazy, ir.MapValue)
    assert crazy.items[0][1] == ir.StructValue(module["StructWithSomeEnum"], (("blah", two),))  # type: ignore[arg-type]
    # a default given by a constant reference
    srv = module["Srv"]
    inherited = module["Inherited"]
    assert isinstance(srv, ir.Service) and isinstance(inherited, ir.Service)
    assert inherited.extends is srv
    assert [m.name for m in inherited.all_methods()] == [
        "Janky", "voidMethod", "primitiveMethod", "structMethod", "methodWithDefaultArgs",
        "onewayMethod", "declaredExceptionMethod", "identity",
    ]  # fmt: skip
    with_default = next(m for m in srv.methods if m.name == "methodWithDefaultArgs")
    assert with_default.args[0].default == 2
    oneway = next(m for m in srv.methods if m.name == "onewayMethod")
    assert oneway.oneway and oneway.result is None
    one_of_each = module["OneOfEach"]
    assert isinstance(one_of_each, ir.Struct)
    assert one_of_each.field_named("a_bite") is not None
    assert one_of_each.fields[2].default == 0x7F
    assert one_of_each.fields[11].default == ir.ListValue((1, 2, 3))


def test_enum_numbering_rules() -> None:
    module = apache("EnumTest.thrift")

    def numbers(name: str) -> list[tuple[str, int]]:
        enum = module[name]
        assert isinstance(enum, ir.Enum)
        return [(m.name, m.value) for m in enum.members]

    assert numbers("MyEnum3") == [
        ("ME3_0", 0), ("ME3_1", 1), ("ME3_N2", -2), ("ME3_N1", -1),
        ("ME3_D0", 0), ("ME3_D1", 1), ("ME3_9", 9), ("ME3_10", 10),
    ]  # fmt: skip
    assert numbers("MyEnum4") == [
        ("ME4_A", 0x7FFFFFFD),
        ("ME4_B", 0x7FFFFFFE),
        ("ME4_C", 0x7FFFFFFF),
    ]
    assert numbers("MyEnum5") == [("e1", 0), ("e2", 42)]
    my_struct = module["MyStruct"]
    assert isinstance(my_struct, ir.Struct)
    # Apache reads `MyEnum1.ME2_2` for a MyEnum2 field as MyEnum2.ME2_2
    assert my_struct.fields[0].default == enum_value(module, "MyEnum2", "ME2_2")
    assert my_struct.fields[2].default == enum_value(module, "MyEnum3", "ME3_D1")


def test_typedef_chains_and_cross_file_inheritance() -> None:
    module = apache("ManyTypedefs.thrift")
    biglist = module["biglist"]
    assert isinstance(biglist, ir.Typedef)
    assert biglist.type == ir.ListType(
        ir.MapType(ir.NamedType(module["int32"]), ir.BaseType(I.STRING))
    )  # type: ignore[arg-type]
    service_module = apache("Service.thrift")
    extended = service_module["ExtendedService"]
    assert isinstance(extended, ir.Service) and extended.extends is not None
    assert extended.extends.full_name == "Types.BaseService"
    assert [m.name for m in extended.all_methods()] == ["testEpisode", "testEpisodeExtend"]


def test_docs_attach_to_what_follows(corpus: Path) -> None:
    module = apache("DocTest.thrift")
    assert (
        module.doc
        == "Program doctext.\n\nSeriously, this is the documentation for this whole program."
    )
    numberz = module["Numberz"]
    assert isinstance(numberz, ir.Enum)
    assert numberz.doc == "Some doc text goes here.  Wow I am [nesting these] (no more nesting.)"
    assert numberz.members[0].doc == "This is how to document a parameter"
    assert numberz.members[2].doc is None
    xtruct = module["Xtruct"]
    assert isinstance(xtruct, ir.Struct)
    assert xtruct.fields[0].doc == "And the members of a struct"
    assert xtruct.fields[1].doc == "doct text goes before a comma"
    assert module["UserId"].doc == "This is how you would do a typedef doc"
    assert module["INT32CONSTANT"].doc == "You can document constants now too.  Yeehaw!"
    # other comments between a doc comment and its definition do not detach it
    assert module["EmptyStruct"].doc == "Doc"
    service = module["ThriftTest"]
    assert isinstance(service, ir.Service)
    assert service.methods[0].doc == "And this is how you would document functions in a service"


def test_annotations_everywhere() -> None:
    module = apache("AnnotationTest.thrift")
    foo = module["foo"]
    assert isinstance(foo, ir.Struct)
    assert ir.annotation(foo.annotations, "cpp.type") == "DenseFoo"
    assert ir.annotation(foo.annotations, "annotation.without.value") == ""
    assert ir.annotation(foo.fields[1].annotations, "cpp.use_pointer") == ""
    weekdays = module["weekdays"]
    assert isinstance(weekdays, ir.Enum)
    assert ir.annotation(weekdays.members[0].annotations, "weekend") == "yes"
    linked = module["int_linked_list"]
    assert isinstance(linked, ir.Typedef)
    assert ir.annotation(linked.type.annotations, "cpp.template") == "std::list"  # type: ignore[union-attr]
    deprecated = module["deprecate_everything"]
    assert isinstance(deprecated, ir.Service)
    assert ir.annotation(deprecated.methods[0].annotations, "deprecated") == (
        "This method has neither 'x' nor \"y\""
    )
    assert ir.annotation(deprecated.methods[2].annotations, "deprecated") == (
        "Need this to work with tabs (\t) or Umlauts (äöüÄÖÜß) too"
    )


def test_implicit_field_ids_are_negative_with_a_warning() -> None:
    path = need_shared("corpus", "thrift", "apache", "Identifiers.thrift")
    schema, diagnostics = pilota.check([path])
    assert schema is not None
    struct = schema.roots[0]["NoFieldIdentifiersTest"]
    assert isinstance(struct, ir.Struct)
    assert [(f.id, f.name, f.implicit_id) for f in struct.fields] == [
        (-1, "field_without_id1", True),
        (-2, "field_without_id2", True),
        (1, "field_with_id", False),
    ]
    assert [d.location.line for d in diagnostics.warnings if d.location] == [22, 23]
    assert all("has no id; assigned -" in d.message for d in diagnostics.warnings)


def test_pilota_workspace_includes() -> None:
    path = need_shared("corpus", "pilota", "thrift_workspace", "input", "article.thrift")
    schema = pilota.load([path])
    article = schema.roots[0]
    assert sorted(inc.module.name for inc in article.includes) == ["author", "common", "image"]
    struct = article["Article"]
    assert isinstance(struct, ir.Struct)
    author_type = struct.field_named("author")
    assert author_type is not None and isinstance(author_type.type, ir.NamedType)
    assert author_type.type.definition.full_name == "author.Author"
    images = struct.field_named("images")
    assert images is not None
    assert ir.annotation(images.annotations, "pilota.rust_wrapper_arc") == "true"


# ---- hand-written IDL ----------------------------------------------------------------


def test_names_resolve_across_includes(check_idl: Checker) -> None:
    schema, diagnostics = check_idl(
        """
        include "shared/base.thrift"
        const base.Status DEFAULT_STATUS = base.Status.ACTIVE
        const i32 LIMIT = base.MAX
        typedef base.Id UserId
        struct User {
            1: UserId id
            2: base.Status status = base.Status.SUSPENDED
            3: i64 created = base.EPOCH
        }
        service Users extends base.Base {}
        """,
        shared__base="""
        enum Status { ACTIVE = 1, SUSPENDED }
        const i32 MAX = 50
        const i64 EPOCH = MAX
        typedef i64 Id
        service Base { void ping() }
        """,
    )
    assert schema is not None, diagnostics.render()
    main, base = schema.roots[0], schema.module("base")
    assert const(main, "DEFAULT_STATUS") == enum_value(base, "Status", "ACTIVE")
    assert const(main, "LIMIT") == 50
    user = main["User"]
    assert isinstance(user, ir.Struct)
    assert user.fields[1].default == enum_value(base, "Status", "SUSPENDED")
    assert user.fields[2].default == 50
    assert ir.unalias(user.fields[0].type) == ir.BaseType(I.I64)
    users = main["Users"]
    assert isinstance(users, ir.Service) and users.extends is base["Base"]
    assert [m.name for m in users.all_methods()] == ["ping"]


def test_a_dotted_file_name_is_the_program_name(tmp_path: Path) -> None:
    # As in Apache: `include "a.b.thrift"` makes program `a.b`, its definitions `a.b.X`.
    (tmp_path / "api.v1.thrift").write_text(
        "enum Kind { PLAIN = 1, RICH = 2 }\nconst i32 LIMIT = 8\nstruct Item { 1: Kind kind }\n"
    )
    main = load_text(
        tmp_path,
        """
        include "api.v1.thrift"
        typedef api.v1.Item Entry
        struct Box {
            1: api.v1.Item item
            2: api.v1.Kind kind = api.v1.Kind.RICH
            3: i32 limit = api.v1.LIMIT
        }
        """,
    )
    api = main.includes[0].module
    assert api.name == "api.v1"
    box = main["Box"]
    assert isinstance(box, ir.Struct)
    assert box.fields[0].type == ir.NamedType(api["Item"])
    assert box.fields[1].default == enum_value(api, "Kind", "RICH")
    assert box.fields[2].default == 8
    entry = main["Entry"]
    assert isinstance(entry, ir.Typedef) and entry.type == ir.NamedType(api["Item"])


def test_include_dirs_are_searched_in_order_after_the_including_file(check_idl: Checker) -> None:
    schema, diagnostics = check_idl(
        'include "common.thrift"\nconst string WHO = common.WHO\n',
        include_dirs=("first", "second"),
        first__common='const string WHO = "first"\n',
        second__common='const string WHO = "second"\n',
    )
    assert schema is not None, diagnostics.render()
    assert const(schema.roots[0], "WHO") == "first"
    schema, _ = check_idl(
        'include "common.thrift"\nconst string WHO = common.WHO\n',
        include_dirs=("first",),
        common='const string WHO = "beside"\n',
    )
    assert schema is not None
    assert const(schema.roots[0], "WHO") == "beside"


def test_a_file_included_twice_is_loaded_once(check_idl: Checker) -> None:
    schema, diagnostics = check_idl(
        'include "a.thrift"\ninclude "b.thrift"\nstruct S { 1: a.T x, 2: b.U y }\n',
        a='include "base.thrift"\ntypedef base.Id T\n',
        b='include "base.thrift"\ntypedef base.Id U\n',
        base="typedef i64 Id\n",
    )
    assert schema is not None, diagnostics.render()
    a, b = schema.module("a"), schema.module("b")
    assert a.includes[0].module is b.includes[0].module
    assert len(schema.modules) == 4


def test_keywords_of_python_and_thrift_as_names(tmp_path: Path) -> None:
    module = load_text(
        tmp_path,
        """
        struct from { 1: string class, 2: i32 lambda, 3: bool required, 4: string struct }
        enum type { self, None, service }
        service import {
            from yield(1: from def, 2: type async) throws (1: raise except)
            oneway void return(1: i32 required)
        }
        exception raise { 1: string pass }
        """,
    )
    struct = module["from"]
    assert isinstance(struct, ir.Struct)
    assert [f.name for f in struct.fields] == ["class", "lambda", "required", "struct"]
    enum = module["type"]
    assert isinstance(enum, ir.Enum)
    assert [m.name for m in enum.members] == ["self", "None", "service"]
    service = module["import"]
    assert isinstance(service, ir.Service)
    assert [m.name for m in service.methods] == ["yield", "return"]
    assert [a.name for a in service.methods[0].args] == ["def", "async"]


def test_literals_and_separators(tmp_path: Path) -> None:
    module = load_text(
        tmp_path,
        r"""
        const i8 TINY = -0x80;
        const i64 BIG = 9223372036854775807,
        const i64 SMALL = -9223372036854775808
        const double EXP = 1.5e-3
        const double NEG = -.5
        const double WHOLE = 7
        const string SINGLE = 'it\'s "quoted"\t\\'
        const string DOUBLE = "new\nline"
        const binary RAW = "bytes"
        const bool YES = true
        const i32 ONE = true
        const list<i32> TRAILING = [1, 2; 3 4,]
        const map<string, list<set<i32>>> NESTED = {"a": [[1, 2], [2, 1]], "b": []}
        struct S { 1: i32 a; 2: i32 b, 3: i32 c 4: list<map<i32, set<list<i64>>>> d, }
        """,
    )
    assert const(module, "TINY") == -128
    assert const(module, "BIG") == 2**63 - 1
    assert const(module, "SMALL") == -(2**63)
    assert const(module, "EXP") == 1.5e-3
    assert const(module, "NEG") == -0.5
    assert const(module, "WHOLE") == 7.0 and isinstance(const(module, "WHOLE"), float)
    assert const(module, "SINGLE") == 'it\'s "quoted"\t\\'
    assert const(module, "DOUBLE") == "new\nline"
    assert const(module, "RAW") == b"bytes"
    assert const(module, "YES") is True
    assert const(module, "ONE") == 1
    assert const(module, "TRAILING") == ir.ListValue((1, 2, 3, 4))
    nested = const(module, "NESTED")
    assert nested == ir.MapValue(
        (("a", ir.ListValue((ir.SetValue((1, 2)), ir.SetValue((2, 1))))), ("b", ir.ListValue(())))
    )
    struct = module["S"]
    assert isinstance(struct, ir.Struct)
    assert [f.id for f in struct.fields] == [1, 2, 3, 4]
    deep = struct.fields[3].type
    assert deep == ir.ListType(
        ir.MapType(ir.BaseType(I.I32), ir.SetType(ir.ListType(ir.BaseType(I.I64))))
    )


def test_requiredness_union_and_exception(tmp_path: Path) -> None:
    module = load_text(
        tmp_path,
        """
        struct S { 1: required i32 a, 2: optional i32 b, 3: i32 c }
        union U { 1: i32 a, 2: string b }
        exception E { 1: string message }
        """,
    )
    struct, union, exc = module["S"], module["U"], module["E"]
    assert (
        isinstance(struct, ir.Struct)
        and isinstance(union, ir.Struct)
        and isinstance(exc, ir.Struct)
    )
    assert [f.requiredness for f in struct.fields] == [
        ir.Requiredness.REQUIRED,
        ir.Requiredness.OPTIONAL,
        ir.Requiredness.DEFAULT,
    ]
    assert union.kind is ir.StructKind.UNION and union.is_union
    assert exc.kind is ir.StructKind.EXCEPTION and exc.is_exception


def test_recursive_types_and_forward_references(tmp_path: Path) -> None:
    module = load_text(
        tmp_path,
        """
        const Node ROOT = {"value": 1, "children": [{"value": 2}]}
        struct Node { 1: i32 value, 2: list<Node> children, 3: optional Tree tree }
        typedef Node Tree
        """,
    )
    node = module["Node"]
    root = const(module, "ROOT")
    assert isinstance(node, ir.Struct) and isinstance(root, ir.StructValue)
    assert root.fields == (
        ("value", 1),
        ("children", ir.ListValue((ir.StructValue(node, (("value", 2),)),))),
    )
    assert node.fields[1].type == ir.ListType(ir.NamedType(node))


def test_special_doubles_are_kept(tmp_path: Path) -> None:
    module = load_text(tmp_path, "const double HUGE = 1e400\nconst double TINY = 1e-400\n")
    assert math.isinf(const(module, "HUGE"))  # type: ignore[arg-type]
    assert const(module, "TINY") == 0.0


def test_warnings_do_not_fail_a_check(check_idl: Checker) -> None:
    schema, diagnostics = check_idl(
        """
        senum Color { "red", "green" }
        struct S { string a, 1: slist b }
        service X { async void f(1: optional i32 a) }
        """
    )
    assert schema is not None
    messages = sorted(d.message for d in diagnostics.warnings)
    assert messages == [
        "'async' is deprecated; use 'oneway'",
        "'optional' is ignored in argument lists",
        "'senum' is deprecated; use 'string' or an enum",
        "'slist' is deprecated; use 'string'",
        "field 'a' of struct 'S' has no id; assigned -1 (implicit ids break compatibility when fields change)",
    ]
    color = schema.roots[0]["Color"]
    assert isinstance(color, ir.Typedef) and color.type == ir.BaseType(I.STRING)


def test_the_grammar_is_built_once() -> None:
    from pilota.thrift.parser import thrift_parser

    assert thrift_parser() is thrift_parser()


@pytest.mark.parametrize("backend", ["lark", "lark-cython"])
def test_both_lark_backends_build_the_same_ir(backend: str, tmp_path: Path) -> None:
    from pilota.thrift import parser as parser_module

    if backend == "lark-cython":
        pytest.importorskip("lark_cython")
    fresh = parser_module.ThriftParser(use_cython=backend == "lark-cython")
    assert fresh.backend == backend
    text = need_shared("corpus", "thrift", "apache", "DebugProtoTest.thrift").read_text()
    ours = parser_module.thrift_parser().parse(text, "x.thrift", pilota.Diagnostics())
    theirs = fresh.parse(text, "x.thrift", pilota.Diagnostics())
    assert ours == theirs


def test_rarely_used_syntax(tmp_path: Path) -> None:
    module = load_text(
        tmp_path,
        """
        cpp_include "<unordered_map>";
        namespace cpp.noexist thing (a = "b");
        namespace * everything
        typedef map cpp_type "std::unordered_map<int, int>" <i32, i32> Fast
        typedef list<byte> cpp_type "std::deque<int8_t>" Bytes
        struct Tree xsd_all {
            1: optional Tree & left xsd_optional xsd_nillable
            2: byte b xsd_attrs { 1: string attr }
        } (cpp.type = "T")
        """,
    )
    assert module.cpp_includes == ["<unordered_map>"]
    assert module.namespaces["cpp.noexist"] == ir.Namespace(
        "cpp.noexist", "thing", (ir.Annotation("a", "b"),)
    )
    assert module.namespace("py", "*") == "everything"
    fast, byte_list = module["Fast"], module["Bytes"]
    assert isinstance(fast, ir.Typedef) and isinstance(byte_list, ir.Typedef)
    assert fast.type == ir.MapType(ir.BaseType(I.I32), ir.BaseType(I.I32))
    assert byte_list.type == ir.ListType(ir.BaseType(I.I8))
    tree = module["Tree"]
    assert isinstance(tree, ir.Struct)
    assert tree.fields[0].reference and not tree.fields[1].reference
    assert tree.fields[1].type == ir.BaseType(I.I8)
    assert ir.annotation(tree.annotations, "cpp.type") == "T"


@pytest.mark.parametrize(
    ("text", "module_doc"),
    [
        pytest.param('/** The file. */\n\n/** The include. */\ninclude "x.thrift"\n',
                     "The file.", id="first_doc_before_the_headers"),
        pytest.param('// A comment.\n/** The include. */\ninclude "x.thrift"\n',
                     None, id="doc_right_above_an_include"),
        pytest.param('/** The file. */\n\ninclude "x.thrift"\n',
                     "The file.", id="doc_a_blank_line_above_an_include"),
        pytest.param('/** The file. */\nnamespace py app\ninclude "x.thrift"\n',
                     "The file.", id="doc_right_above_a_namespace"),
        pytest.param("/** The struct. */\nstruct S {}\n", None, id="no_headers"),
    ],
)  # fmt: skip
def test_the_module_doc_is_the_files_not_an_includes(
    text: str, module_doc: str | None, tmp_path: Path
) -> None:
    (tmp_path / "x.thrift").write_text("struct X {}\n")
    assert load_text(tmp_path, text).doc == module_doc


# ---- our own IDL for what the corpus tests above check -------------------------------
# A fresh clone has no ../shared: these cover the same rules with IDL written here.

OWN_CORPUS = REPO / "tests" / "idl" / "corpus"


def test_enum_numbering_rules_on_our_idl(tmp_path: Path) -> None:
    module = load_text(
        tmp_path,
        """
        enum Counted { ZERO, ONE, MINUS = -2, NEXT, AGAIN = 0, AFTER, JUMP = 9, LAST }
        enum Edge { A = 0x7FFFFFFD, B, C }
        enum Hex { LOW = 0x10, HIGH }
        enum Other { X = 1, Y = 2 }
        enum Mine { Y = 5, Z = 6 }
        struct Holder { 1: Mine mine = Other.Y, 2: Counted counted = 1 }
        """,
    )

    def numbers(name: str) -> list[tuple[str, int, bool]]:
        enum = module[name]
        assert isinstance(enum, ir.Enum)
        return [(m.name, m.value, m.implicit) for m in enum.members]

    assert numbers("Counted") == [
        ("ZERO", 0, True), ("ONE", 1, True), ("MINUS", -2, False), ("NEXT", -1, True),
        ("AGAIN", 0, False), ("AFTER", 1, True), ("JUMP", 9, False), ("LAST", 10, True),
    ]  # fmt: skip
    assert numbers("Edge") == [
        ("A", 0x7FFFFFFD, False),
        ("B", 0x7FFFFFFE, True),
        ("C", 0x7FFFFFFF, True),
    ]
    assert numbers("Hex") == [("LOW", 16, False), ("HIGH", 17, True)]
    holder = module["Holder"]
    assert isinstance(holder, ir.Struct)
    # as Apache reads it: the member name is looked up in the field's own enum
    assert holder.fields[0].default == enum_value(module, "Mine", "Y")
    # an enum value given by number
    assert holder.fields[1].default == enum_value(module, "Counted", "ONE")


def test_constants_on_our_idl(tmp_path: Path) -> None:
    module = pilota.load([OWN_CORPUS / "constants.thrift"]).roots[0]
    assert const(module, "OFF") is False
    assert const(module, "MASK") == 0x7FFFFFFF
    assert const(module, "AVOGADRO") == 6.02214076e23
    assert const(module, "PLANCK") == 6.62607015e-34
    assert const(module, "WHOLE") == 42.0 and isinstance(const(module, "WHOLE"), float)
    assert math.copysign(1.0, const(module, "ZERO")) == -1.0  # type: ignore[arg-type]
    assert const(module, "UNICODE") == "café ✓"
    assert const(module, "ALSO_HOME") == enum_value(module, "Planet", "EARTH")
    assert const(module, "ALIAS") == 0x7FFFFFFF
    assert const(module, "FROM_CONSTANTS") == ir.ListValue((0x7FFFFFFF, -16, 8080))
    assert const(module, "PLANET_NAMES") == ir.MapValue(
        (
            (enum_value(module, "Planet", "MERCURY"), "Mercury"),
            (enum_value(module, "Planet", "MARS"), "Mars"),
        )
    )
    square = const(module, "SQUARE")
    assert isinstance(square, ir.StructValue) and square.struct is module["Shape"]
    fields = dict(square.fields)
    corners = fields["corners"]
    assert isinstance(corners, ir.ListValue) and len(corners.items) == 4
    assert all(isinstance(c, ir.StructValue) and c.struct is module["Point"] for c in corners.items)
    # ints written where doubles are expected become doubles, inside struct values too
    first = corners.items[1]
    assert isinstance(first, ir.StructValue)
    assert dict(first.fields)["x"] == 1.0 and isinstance(dict(first.fields)["x"], float)
    guid = uuid.UUID("00112233-4455-6677-8899-aabbccddeeff")
    more = load_text(
        tmp_path,
        """
        const uuid PLAIN = "00112233-4455-6677-8899-aabbccddeeff"
        const uuid BRACED = "{00112233-4455-6677-8899-AABBCCDDEEFF}"
        const set<i32> REPEATED = [3, 1, 3, 2, 1]
        const set<uuid> IDS = [PLAIN, BRACED]
        const i64 HEX_NEGATIVE = -0x1F
        const double EXPONENT = 1e10
        const double LARGEST_INT = 9223372036854775807
        const list<double> MIXED = [1, -100, 2.5, 1E3]
        const map<list<i8>, i8> LIST_KEYS = {[1, 2]: 1, []: 0}
        const map<map<i8, i8>, i8> MAP_KEYS = {{1: 1}: 1, {}: 0}
        const map<double, i8> DOUBLE_KEYS = {-1.1: 1, 1.1: 1}
        """,
        name="more.thrift",
    )
    assert const(more, "PLAIN") == guid and const(more, "BRACED") == guid
    assert const(more, "REPEATED") == ir.SetValue((3, 1, 2))
    assert const(more, "IDS") == ir.SetValue((guid,))
    assert const(more, "HEX_NEGATIVE") == -0x1F
    assert const(more, "EXPONENT") == 1e10 and isinstance(const(more, "EXPONENT"), float)
    assert const(more, "LARGEST_INT") == float(2**63 - 1)
    assert const(more, "MIXED") == ir.ListValue((1.0, -100.0, 2.5, 1000.0))
    mixed = const(more, "MIXED")
    assert isinstance(mixed, ir.ListValue) and all(isinstance(v, float) for v in mixed.items)
    assert const(more, "LIST_KEYS") == ir.MapValue(
        ((ir.ListValue((1, 2)), 1), (ir.ListValue(()), 0))
    )
    assert const(more, "MAP_KEYS") == ir.MapValue(
        ((ir.MapValue(((1, 1),)), 1), (ir.MapValue(()), 0))
    )
    assert const(more, "DOUBLE_KEYS") == ir.MapValue(((-1.1, 1), (1.1, 1)))


def test_inheritance_defaults_and_oneway_on_our_idl(check_idl: Checker) -> None:
    schema, diagnostics = check_idl(
        """
        include "base.thrift"
        service Child extends base.Parent {
            void own(1: i32 n = 2)
            oneway void fire(1: string what)
        }
        service Grandchild extends Child { i32 last() }
        """,
        base="service Root { void first() }\nservice Parent extends Root { string second() }\n",
    )
    assert schema is not None, diagnostics.render()
    main, base = schema.roots[0], schema.module("base")
    grandchild, child = main["Grandchild"], main["Child"]
    assert isinstance(grandchild, ir.Service) and isinstance(child, ir.Service)
    assert grandchild.extends is child
    assert child.extends is not None and child.extends.full_name == "base.Parent"
    assert child.extends is base["Parent"]
    assert [m.name for m in grandchild.all_methods()] == ["first", "second", "own", "fire", "last"]
    own, fire = child.methods
    assert own.args[0].default == 2
    assert fire.oneway and fire.result is None and not own.oneway


def test_docs_attach_to_what_follows_on_our_idl() -> None:
    module = pilota.load([OWN_CORPUS / "docs.thrift"]).roots[0]
    assert module.doc == (
        "Doc comments on every construct, next to plain comments of all three kinds,\n"
        "and every separator (comma, semicolon, none)."
    )
    unit = module["Unit"]
    assert isinstance(unit, ir.Enum)
    assert [m.doc for m in unit.members] == ["degrees Celsius", "degrees Fahrenheit", None]
    assert module["SensorId"].doc == "A sensor id."
    assert module["MAX_BATCH"].doc == "The largest number of readings a batch holds."
    reading = module["Reading"]
    assert isinstance(reading, ir.Struct)
    assert reading.doc == "One measurement.\n\nBlank lines inside a doc comment are kept."
    assert [f.doc for f in reading.fields] == [
        "Which sensor.", "When, in ms since the epoch.", "The value, in `unit`.", None,
    ]  # fmt: skip
    recorder = module["Recorder"]
    assert isinstance(recorder, ir.Service)
    store = recorder.methods[0]
    assert store.doc == "Store a batch; returns how many were new."
    assert store.args[0].doc == "The readings, at most MAX_BATCH."
    assert store.throws[0].doc == "The batch was refused as a whole."


def test_annotations_everywhere_on_our_idl() -> None:
    module = pilota.load([OWN_CORPUS / "annotations.thrift"]).roots[0]
    assert module.namespaces["py"].annotations == (ir.Annotation("package.version", "2"),)
    count = module["Count"]
    assert isinstance(count, ir.Typedef)
    assert ir.annotation(count.type.annotations, "cpp.type") == "int32_t"
    mood = module["Mood"]
    assert isinstance(mood, ir.Enum)
    assert ir.annotation(mood.annotations, "cpp.enum_strict") == ""
    assert ir.annotation(mood.annotations, "doc") == "moods"
    assert ir.annotation(mood.members[1].annotations, "display") == "sad"
    assert ir.annotation(mood.members[1].annotations, "deprecated") == ""
    note = module["Note"]
    assert isinstance(note, ir.Struct)
    assert ir.annotation(note.annotations, "final") == "true"
    assert ir.annotation(note.annotations, "serializable") == ""
    assert ir.annotation(note.fields[0].annotations, "max_length") == "200"
    notes = module["Notes"]
    assert isinstance(notes, ir.Service)
    assert ir.annotation(notes.annotations, "owner") == "team-notes"
    read = notes.methods[0]
    assert ir.annotation(read.annotations, "idempotent") == "true"
    assert ir.annotation(read.args[0].annotations, "min") == "1"
    assert ir.annotation(read.throws[0].annotations, "retry") == "no"


def test_implicit_field_ids_on_our_idl(check_idl: Checker) -> None:
    schema, diagnostics = check_idl(
        """
        struct Loose {
            1: i32 first
            string no_id
            bool also_no_id
            2: i32 second
        }
        """
    )
    assert schema is not None, diagnostics.render()
    loose = schema.roots[0]["Loose"]
    assert isinstance(loose, ir.Struct)
    assert [(f.id, f.name, f.implicit_id) for f in loose.fields] == [
        (1, "first", False), (-1, "no_id", True), (-2, "also_no_id", True), (2, "second", False),
    ]  # fmt: skip
    assert [d.location.line for d in diagnostics.warnings if d.location] == [3, 4]
    assert all("has no id; assigned -" in d.message for d in diagnostics.warnings)


@pytest.mark.parametrize("backend", ["lark", "lark-cython"])
def test_both_lark_backends_build_the_same_ir_on_our_idl(backend: str) -> None:
    from pilota.thrift import parser as parser_module

    if backend == "lark-cython":
        pytest.importorskip("lark_cython")
    fresh = parser_module.ThriftParser(use_cython=backend == "lark-cython")
    for path in sorted(OWN_CORPUS.rglob("*.thrift")):
        text = path.read_text()
        ours = parser_module.thrift_parser().parse(text, path.name, pilota.Diagnostics())
        theirs = fresh.parse(text, path.name, pilota.Diagnostics())
        assert ours == theirs, path


# ---- the parse tables are cached -------------------------------------------------------

_REPORT_CACHE_USE = (
    "import sys\n"
    "from pilota.thrift.parser import ThriftParser\n"
    "from pilota.proto.parser import ProtoParser\n"
    "cython = sys.argv[1] == 'lark-cython'\n"
    "thrift, proto = ThriftParser(use_cython=cython), ProtoParser(use_cython=cython)\n"
    "assert thrift.backend == sys.argv[1]\n"
    "print(thrift.from_cache, proto.from_cache)\n"
)


def _run_in_a_new_process(cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PILOTA_CACHE_DIR": str(cache)}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, check=False
    )


def _cache_use(cache: Path, backend: str) -> str:
    done = _run_in_a_new_process(cache, "-c", _REPORT_CACHE_USE, backend)
    assert done.returncode == 0 and not done.stderr, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("backend", ["lark", "lark-cython"])
def test_a_second_process_loads_the_parse_tables_from_the_cache(
    backend: str, tmp_path: Path
) -> None:
    if backend == "lark-cython":
        pytest.importorskip("lark_cython")
    cache = tmp_path / "cache"
    assert _cache_use(cache, backend) == "False False"  # built, and written
    files = sorted(cache.iterdir())
    assert [f.name.split("-")[0] for f in files] == ["proto", "thrift"]
    written = [(f.stat().st_ino, f.stat().st_mtime_ns) for f in files]
    assert _cache_use(cache, backend) == "True True"  # loaded
    assert [(f.stat().st_ino, f.stat().st_mtime_ns) for f in sorted(cache.iterdir())] == written


def test_a_damaged_cache_file_is_built_again(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert _cache_use(cache, "lark") == "False False"
    for f in cache.iterdir():
        f.write_bytes(f.read_bytes()[:100])  # as if a disk filled up while writing
    assert _cache_use(cache, "lark") == "False False"
    assert _cache_use(cache, "lark") == "True True"


def test_without_a_writable_cache_folder_everything_still_works(tmp_path: Path) -> None:
    (tmp_path / "a_file").write_text("")
    cache = tmp_path / "a_file" / "cache"  # cannot be made: its parent is a file
    (tmp_path / "main.thrift").write_text("struct S { 1: i32 a }\n")
    for _ in range(2):
        assert _cache_use(cache, "lark") == "False False"
        done = _run_in_a_new_process(
            cache, "-m", "volo_cli.main", "idl", "check", str(tmp_path / "main.thrift")
        )
        assert done.returncode == 0 and done.stdout.startswith("ok: 1 file checked"), done.stderr


def test_processes_filling_the_cache_at_once_leave_one_good_file(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    env = {**os.environ, "PILOTA_CACHE_DIR": str(cache)}
    command = [sys.executable, "-c", _REPORT_CACHE_USE, "lark"]
    running = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    for process in running:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0 and not err, err
    assert sorted(f.name.split("-")[0] for f in cache.iterdir()) == ["proto", "thrift"]
    assert _cache_use(cache, "lark") == "True True"


@pytest.mark.parametrize("backend", ["lark", "lark-cython"])
def test_parse_tables_from_the_cache_parse_as_fresh_ones(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pilota import lark_support
    from pilota.thrift.parser import ThriftParser

    if backend == "lark-cython":
        pytest.importorskip("lark_cython")
    monkeypatch.setenv("PILOTA_CACHE_DIR", str(tmp_path / "cache"))
    lark_support.error_parser.cache_clear()
    fresh = ThriftParser(use_cython=backend == "lark-cython")
    cached = ThriftParser(use_cython=backend == "lark-cython")
    assert (fresh.from_cache, cached.from_cache) == (False, True)
    good = (Path(__file__).parent / "idl" / "rich.thrift").read_text()
    bad = "struct S {\n  1: i32 a = ,\n  2: strin b\n}\nservce X {}\nstruct T { 1: lsit<i32> c }\n"
    for text in (good, bad):
        found = []
        for parser in (fresh, cached):
            diagnostics = pilota.Diagnostics()
            found.append((parser.parse(text, "x.thrift", diagnostics), diagnostics.render()))
        assert found[0] == found[1]
    lark_support.error_parser.cache_clear()
