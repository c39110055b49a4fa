"""Apache's JSON protocol (TJSONProtocol): the wire format, Apache's own
`thrift` library both ways (structs, uuids, message envelopes), unknown
fields, errors, and hostile input.

The IDLs are ours: tests/idl/*.thrift and `JSON_IDL` below (map keys of every
kind, and an old and a new version of one struct). Apache's compiler generates
its Python code for them; its library's TJSONProtocol reads and writes.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import os
import subprocess
import sys
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from thrift.protocol import TJSONProtocol
from thrift.Thrift import TMessageType, TType
from thrift.transport import TTransport
from thrift.TSerialization import serialize

import pilota
from pilota import DecodeError, EncodeError
from pilota.codegen.python import Options
from pilota.runtime.base import Struct
from pilota.runtime.json_protocol import decode_json, encode_json, json_message_end
from pilota.runtime.message import (
    MessageHeader,
    MessageType,
    read_message,
    read_message_header,
    write_message,
    write_message_header,
)
from tests.conftest import REPO, need_apache_compiler
from tests.test_fuzz import mutations
from tests.test_interop_apache import (
    apache_decode,
    as_apache_sees_it,
    from_apache,
    struct_strategy,
    to_apache,
)
from tests.test_runtime import everything

FACTORY = TJSONProtocol.TJSONProtocolFactory()
PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
FUZZ = settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))

JSON_IDL = """
enum Kind { A = 1, B = 2 }

struct Key {
    1: i32 a,
    2: optional string b,
}

/** Map keys of every scalar kind: numbers are quoted in a key's place. */
struct Keys {
    1: map<bool, i8> by_bool,
    2: map<i8, i16> by_byte,
    3: map<i16, i32> by_i16,
    4: map<i64, double> by_i64,
    5: map<double, string> by_double,
    6: map<binary, binary> by_binary,
    7: map<Kind, bool> by_kind,
    8: map<string, map<i32, list<set<i64>>>> deep,
    9: set<double> doubles,
    10: list<binary> blobs,
}

/** Keys that are structs and containers: written as themselves (not valid JSON). */
struct OddKeys {
    1: map<Key, i32> by_struct,
    2: map<list<i32>, i32> by_list,
    3: map<set<string>, i32> by_set,
    4: map<map<i8, i8>, i8> by_map,
}

/** Two versions of one struct: New's fields 2 and 3 are unknown to Old. */
struct Old {
    1: i32 a,
}
struct New {
    1: i32 a,
    2: binary blob,
    3: string text,
}

service Keeper {
    Keys swap(1: Keys keys),
}
"""


@pytest.fixture(scope="session")
def ours(generated: Any, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """Our code for JSON_IDL (plain, and keeping unknown fields), beside tests/idl's."""
    root = tmp_path_factory.mktemp("json_ours")
    idl = root / "jsonwire.thrift"
    idl.write_text(JSON_IDL, encoding="utf-8")
    pilota.generate([idl], root / "pilota_json_gen")
    pilota.generate(
        [idl], root / "pilota_json_gen" / "keeping", options=Options(keep_unknown_fields=True)
    )
    sys.path.insert(0, str(root))
    return SimpleNamespace(
        wire=importlib.import_module("pilota_json_gen.jsonwire"),
        keeping=importlib.import_module("pilota_json_gen.keeping.jsonwire"),
        rich=generated.rich,
        uuids=generated.uuids,
        evolution=generated.evolution,
        keeping_evolution=generated.keeping,
        generated_root=generated.root,
        idl=idl,
    )


@pytest.fixture(scope="session")
def apache(ours: SimpleNamespace, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """Apache's generated Python code for rich.thrift and JSON_IDL."""
    compiler = need_apache_compiler()
    root = tmp_path_factory.mktemp("json_apache")
    out = root / "json_apache_peer"
    out.mkdir()
    for idl in (REPO / "tests" / "idl" / "rich.thrift", ours.idl):
        subprocess.run(
            [compiler, "--gen", "py:package_prefix=json_apache_peer.", "-out", str(out), str(idl)],
            check=True,
            capture_output=True,
        )
    (out / "__init__.py").touch()
    sys.path.insert(0, str(root))
    return SimpleNamespace(
        rich=importlib.import_module("json_apache_peer.rich.ttypes"),
        rich_service=importlib.import_module("json_apache_peer.rich.Rich"),
        wire=importlib.import_module("json_apache_peer.jsonwire.ttypes"),
    )


def apache_writer() -> tuple[TTransport.TMemoryBuffer, Any]:
    buffer = TTransport.TMemoryBuffer()
    return buffer, TJSONProtocol.TJSONProtocol(buffer)


def apache_reader(data: bytes) -> Any:
    return TJSONProtocol.TJSONProtocol(TTransport.TMemoryBuffer(data))


# ---- the wire format --------------------------------------------------------------------


def test_every_type_as_apache_spells_it(ours: SimpleNamespace) -> None:
    rich = ours.rich
    value = rich.Everything(
        id=7,
        scalars=rich.Scalars(
            a_bool=True, a_byte=-1, a_i16=2, a_i32=3, a_i64=-4, a_double=0.1,
            a_string='q"b\\s/\n\x01é😀', a_binary=b"\x00\xff\x10", a_color=rich.Color.BLUE,
        ),
        tags={"t"},
        counts={"c": 1},
        matrix=[[1.5], []],
        flags=[False],
        choice=rich.Choice(number=5),
    )  # fmt: skip
    expected = (
        '{"1":{"i64":7},'
        '"3":{"rec":{"1":{"tf":1},"2":{"i8":-1},"3":{"i16":2},"4":{"i32":3},"5":{"i64":-4},'
        '"6":{"dbl":0.10000000000000001},"7":{"str":"q\\"b\\\\s/\\n\\u0001é😀"},'
        '"8":{"str":"AP8Q"},"9":{"i32":4}}},'
        '"5":{"set":["str",1,"t"]},'
        '"6":{"map":["str","i64",1,{"c":1}]},'
        '"8":{"lst":["lst",2,["dbl",1,1.5],["dbl",0]]},'
        '"12":{"rec":{"1":{"i32":5}}},'
        '"13":{"lst":["tf",1,0]},'
        '"16":{"i32":17},"17":{"lst":["i8",3,1,2,3]}}'
    )
    assert value.to_bytes("json") == expected.encode()
    assert value.to_bytes(pilota.Protocol.JSON) == expected.encode()
    assert rich.Everything.from_bytes(expected.encode(), "json") == value


def test_keys_are_quoted_numbers_and_doubles_special_values(ours: SimpleNamespace) -> None:
    wire = ours.wire
    value = wire.Keys(
        by_bool={True: 1},
        by_byte={-2: 3},
        by_i16={4: 5},
        by_i64={6: math.inf},
        by_double={-0.5: "x", math.inf: "i", -math.inf: "j"},
        by_binary={b"k": b""},
        by_kind={wire.Kind.B: False},
        doubles={-math.inf},
        blobs=[b"a", b"ab", b"abc"],
    )
    expected = (
        '{"1":{"map":["tf","i8",1,{"1":1}]},'
        '"2":{"map":["i8","i16",1,{"-2":3}]},'
        '"3":{"map":["i16","i32",1,{"4":5}]},'
        '"4":{"map":["i64","dbl",1,{"6":"Infinity"}]},'
        '"5":{"map":["dbl","str",3,{"-0.5":"x","Infinity":"i","-Infinity":"j"}]},'
        '"6":{"map":["str","str",1,{"aw==":""}]},'
        '"7":{"map":["i32","tf",1,{"2":0}]},'
        '"9":{"set":["dbl",1,"-Infinity"]},'
        '"10":{"lst":["str",3,"YQ==","YWI=","YWJj"]}}'
    )
    assert value.to_bytes("json") == expected.encode()
    assert wire.Keys.from_bytes(expected.encode(), "json") == value
    nan = wire.Keys(by_i64={1: math.nan}).to_bytes("json")
    assert nan == b'{"4":{"map":["i64","dbl",1,{"1":"NaN"}]}}'
    assert math.isnan(wire.Keys.from_bytes(nan, "json").by_i64[1])


def test_struct_and_container_keys_are_written_as_themselves(
    ours: SimpleNamespace, apache: SimpleNamespace
) -> None:
    wire = ours.wire
    value = wire.OddKeys(
        by_struct={wire.Key(a=1): 2},
        by_list={(3, 4): 5},
        by_set={frozenset({"s"}): 6},
        by_map={pilota.runtime.FrozenDict({7: 8}): 9},
    )
    expected = (
        '{"1":{"map":["rec","i32",1,{{"1":{"i32":1}}:2}]},'
        '"2":{"map":["lst","i32",1,{["i32",2,3,4]:5}]},'
        '"3":{"map":["set","i32",1,{["str",1,"s"]:6}]},'
        '"4":{"map":["map","i8",1,{["i8","i8",1,{"7":8}]:9}]}}'
    )
    data = value.to_bytes("json")
    assert data == expected.encode()
    decoded = wire.OddKeys.from_bytes(data, "json")
    assert decoded == value
    assert isinstance(next(iter(decoded.by_list)), tuple)
    # Apache writes the same (its own classes cannot be dict keys: give one a hash).
    hashable_key = type("HashableKey", (apache.wire.Key,), {"__hash__": lambda self: self.a})
    theirs = apache.wire.OddKeys(
        by_struct={hashable_key(a=1): 2},
        by_list={(3, 4): 5},
        by_set={frozenset({"s"}): 6},
        by_map={pilota.runtime.FrozenDict({7: 8}): 9},
    )
    assert serialize(theirs, FACTORY) == data


def test_reading_is_liberal_where_apache_writers_differ(ours: SimpleNamespace) -> None:
    rich = ours.rich
    # Apache's Python library writes control characters raw and infinities and
    # NaN bare; its C++ and Java write base64 without padding; any writer may
    # escape any character, \u escapes may use upper-case hex, a bool may be
    # any number, and fields may come in any order.
    data = (
        '{"8":{"str":"AP8"},"1":{"tf":5},"6":{"dbl":-inf},'
        '"7":{"str":"a\x01b\\/\\u00E9\\ud83d\\ude00"},"2":{"i8":0}}'
    )
    value = rich.Scalars.from_bytes(data.encode(), "json")
    assert value == rich.Scalars(
        a_bool=True, a_byte=0, a_double=-math.inf, a_string="a\x01b/é😀", a_binary=b"\x00\xff"
    )
    assert math.isnan(rich.Scalars.from_bytes(b'{"6":{"dbl":nan}}', "json").a_double)
    assert math.isnan(rich.Scalars.from_bytes(b'{"6":{"dbl":"NaN"}}', "json").a_double)
    assert rich.Scalars.from_bytes(b'{"6":{"dbl":inf}}', "json").a_double == math.inf


def test_defaults_required_fields_unions_and_open_enums(ours: SimpleNamespace) -> None:
    rich = ours.rich
    decoded = rich.Everything.from_bytes(b'{"1":{"i64":5}}', "json")
    assert decoded == rich.Everything(id=5)
    assert decoded.with_default == 17 and decoded.small == [1, 2, 3] and decoded.note is None
    with pytest.raises(DecodeError) as raised:
        rich.Everything.from_bytes(b"{}", "json")
    assert str(raised.value) == "Everything.id: required field is missing"
    with pytest.raises(DecodeError) as raised:
        rich.Choice.from_bytes(b'{"1":{"i32":1},"2":{"str":"x"}}', "json")
    assert str(raised.value) == "Choice: a union must have exactly one member set, found 2"
    unknown = rich.Scalars.from_bytes(rich.Scalars(a_color=rich.Color(99)).to_bytes("json"), "json")
    assert unknown.a_color == 99 and unknown.a_color.name == "UNKNOWN_99"
    assert rich.Scalars.from_bytes(b'{"9":{"i32":1}}', "json").a_color is rich.Color.RED


def test_round_trip_of_every_type(ours: SimpleNamespace) -> None:
    rich, uuids = ours.rich, ours.uuids
    value = everything(rich)
    decoded = rich.Everything.from_bytes(value.to_bytes("json"), "json")
    assert decoded == value
    assert isinstance(decoded.tags, set) and isinstance(decoded.failure, rich.Failure)
    a, b = uuid.UUID(int=1), uuid.uuid4()
    with_uuid = uuids.WithUuid(id=a, ids=[a, b], names={b: "b"}, maybe=b)
    data = with_uuid.to_bytes("json")
    assert f'"1":{{"uid":"{a}"}}'.encode() in data
    assert uuids.WithUuid.from_bytes(data, "json") == with_uuid


@PROPERTY
@given(st.data())
def test_round_trip_properties(ours: SimpleNamespace, data: st.DataObject) -> None:
    for cls in (ours.rich.Everything, ours.rich.Choice, ours.wire.Keys, ours.wire.New):
        value = data.draw(struct_strategy(cls))
        encoded = value.to_bytes("json")
        assert cls.from_bytes(encoded, "json") == value
        assert json_message_end(write_message("m", MessageType.CALL, 1, encoded, "json"), 1 << 20)


def test_both_configurations_dispatch_to_the_one_json_codec(ours: SimpleNamespace) -> None:
    value = everything(ours.rich)
    value.tags = {"one"}  # str hashes differ between processes: one member, one order
    expected = encode_json(value)
    assert value.to_bytes("json") == expected
    assert decode_json(type(value), expected) == value
    script = (
        "import sys\n"
        f"sys.path.insert(0, {str(ours.generated_root)!r})\n"
        "from pilota.runtime import codec\n"
        "from tests.test_runtime import everything\n"
        "import importlib\n"
        f"rich = importlib.import_module({type(value).__module__!r})\n"
        "value = everything(rich)\n"
        "value.tags = {'one'}\n"
        "data = value.to_bytes('json')\n"
        "assert type(value).from_bytes(data, 'json') == value\n"
        "print(codec.IMPLEMENTATION, data.hex())\n"
    )
    environment = {**os.environ, "PILOTA_PURE_PYTHON": "1"}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=environment,
        cwd=REPO, check=True,
    )  # fmt: skip
    implementation, data = result.stdout.split()
    assert implementation == "python"
    assert bytes.fromhex(data) == expected


def test_an_unknown_protocol_is_refused(ours: SimpleNamespace) -> None:
    with pytest.raises(ValueError, match="expected 'binary', 'compact' or 'json'"):
        ours.rich.Leaf(label="x").to_bytes("xml")
    with pytest.raises(ValueError, match="expected 'binary', 'compact' or 'json'"):
        ours.rich.Leaf.from_bytes(b"{}", "xml")


# ---- Apache's library, both ways -------------------------------------------------------


def apache_python_deviates(value: Any) -> bool:
    """Whether Apache's Python library spells `value` unlike its C++ and Java
    (and us): it writes control characters raw and infinities bare. Both
    sides still read each other's spelling."""
    if isinstance(value, str):
        return any(c < " " and c not in "\b\f\n\r\t" for c in value)
    if isinstance(value, float):
        return not math.isfinite(value)
    spec = getattr(type(value), "__thrift_spec__", None)
    if spec is not None:
        return any(apache_python_deviates(getattr(value, f.name)) for f in spec)
    if isinstance(value, dict):
        return any(apache_python_deviates(k) or apache_python_deviates(v) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return any(apache_python_deviates(v) for v in value)
    return False


CASES = [("rich", n) for n in ("Leaf", "Scalars", "Choice", "Failure", "Everything", "Medium")]
CASES += [("wire", n) for n in ("Key", "Keys", "Old", "New")]


@pytest.mark.parametrize(("idl", "name"), CASES, ids=[f"{i}.{n}" for i, n in CASES])
def test_byte_identical_with_apache_both_ways(
    ours: SimpleNamespace, apache: SimpleNamespace, idl: str, name: str
) -> None:
    ours_cls, apache_module = getattr(getattr(ours, idl), name), getattr(apache, idl)
    apache_cls = getattr(apache_module, name)
    exact = 0

    @PROPERTY
    @given(struct_strategy(ours_cls))
    def check(value: Any) -> None:
        nonlocal exact
        ours_bytes = value.to_bytes("json")
        theirs_bytes = serialize(to_apache(value, apache_module), FACTORY)
        if not apache_python_deviates(value):
            assert ours_bytes == theirs_bytes
            exact += 1
        decoded_by_apache = apache_decode(apache_cls, ours_bytes, FACTORY)
        assert from_apache(decoded_by_apache, ours_cls) == as_apache_sees_it(value, apache_module)
        assert ours_cls.from_bytes(theirs_bytes, "json") == value

    check()
    assert exact > 0  # the byte comparison ran


def test_uuids_as_apache_writes_and_reads_them(ours: SimpleNamespace) -> None:
    a, b = uuid.UUID(int=0xABC), uuid.uuid4()
    buffer, proto = apache_writer()
    proto.writeStructBegin("WithUuid")
    proto.writeFieldBegin("id", TType.UUID, 1)
    proto.writeUuid(a)
    proto.writeFieldEnd()
    proto.writeFieldBegin("ids", TType.LIST, 2)
    proto.writeListBegin(TType.UUID, 2)
    proto.writeUuid(a)
    proto.writeUuid(b)
    proto.writeListEnd()
    proto.writeFieldEnd()
    proto.writeFieldBegin("names", TType.MAP, 3)
    proto.writeMapBegin(TType.UUID, TType.STRING, 1)
    proto.writeUuid(b)
    proto.writeString("b")
    proto.writeMapEnd()
    proto.writeFieldEnd()
    proto.writeFieldStop()
    proto.writeStructEnd()
    value = ours.uuids.WithUuid(id=a, ids=[a, b], names={b: "b"})
    assert value.to_bytes("json") == buffer.getvalue()
    assert ours.uuids.WithUuid.from_bytes(buffer.getvalue(), "json") == value
    reader = apache_reader(value.to_bytes("json"))
    reader.readStructBegin()
    assert reader.readFieldBegin() == (None, TType.UUID, 1)
    assert reader.readUuid() == a


# ---- the message envelope --------------------------------------------------------------


names = st.text(st.characters(codec="utf-8"), max_size=20)
seqids = st.integers(-(2**31), 2**31 - 1)


@settings(max_examples=150, deadline=None)
@given(name=names, kind=st.sampled_from(list(MessageType)), seqid=seqids)
def test_envelope_as_apache_writes_and_reads_it(name: str, kind: MessageType, seqid: int) -> None:
    body = b'{"1":{"str":"x"}}'
    ours = write_message(name, kind, seqid, body, "json")
    buffer, proto = apache_writer()
    proto.writeMessageBegin(name, kind, seqid)
    proto.writeStructBegin("x")
    proto.writeFieldBegin("x", TType.STRING, 1)
    proto.writeString("x")
    proto.writeFieldEnd()
    proto.writeFieldStop()
    proto.writeStructEnd()
    proto.writeMessageEnd()
    if not apache_python_deviates(name):
        assert ours == buffer.getvalue()
    for data in (ours, buffer.getvalue()):
        assert read_message(data, "json") == (MessageHeader(name, kind, seqid), body)
        header, offset = read_message_header(data, "json")
        assert header == (name, kind, seqid) and data[offset:-1] == body
        assert json_message_end(data + b"[1,", len(data)) == len(data)
    assert apache_reader(ours).readMessageBegin() == (name, kind, seqid)


@pytest.mark.parametrize("protocol", ["binary", "compact"])
def test_whole_messages_in_every_protocol(ours: SimpleNamespace, protocol: str) -> None:
    body = ours.rich.Leaf(label="x").to_bytes(protocol)
    data = write_message("name", MessageType.REPLY, 9, body, protocol)
    assert data == write_message_header("name", MessageType.REPLY, 9, protocol) + body
    assert read_message(data, protocol) == (MessageHeader("name", MessageType.REPLY, 9), body)


def test_a_json_header_alone_is_refused() -> None:
    with pytest.raises(ValueError, match="write it whole with write_message"):
        write_message_header("m", MessageType.CALL, 1, "json")


def test_calls_and_replies_with_apache_generated_service(
    ours: SimpleNamespace, apache: SimpleNamespace
) -> None:
    rich, service = ours.rich, apache.rich_service
    value = everything(rich)

    class Handler:
        def echo(self, value: Any) -> Any:
            if value.id == 0:
                raise apache.rich.Failure(message="zero", code=1)
            return value

        def fire(self, what: str) -> None:
            pass

    processor = service.Processor(Handler())
    for sent, expected in ((value, value), (rich.Everything(id=0), None)):
        # our call, as Apache's client writes it, byte for byte
        call = write_message(
            "echo", MessageType.CALL, 0, rich.Rich_echo_args(value=sent).to_bytes("json"), "json"
        )
        buffer, proto = apache_writer()
        service.Client(proto).send_echo(to_apache(sent, apache.rich))
        assert call == buffer.getvalue()
        # Apache's processor answers it; we read the reply
        reply_buffer, reply_proto = apache_writer()
        processor.process(apache_reader(call), reply_proto)
        header, body = read_message(reply_buffer.getvalue(), "json")
        assert header == MessageHeader("echo", MessageType.REPLY, 0)
        result = rich.Rich_echo_result.from_bytes(body, "json")
        if expected is None:
            assert result.failure == rich.Failure(message="zero", code=1)
        else:
            assert result.success == as_apache_sees_it(expected, apache.rich)
    # our reply to Apache's client
    reply = write_message(
        "echo", MessageType.REPLY, 0, rich.Rich_echo_result(success=value).to_bytes("json"), "json"
    )
    client = service.Client(apache_reader(reply), apache_writer()[1])
    assert from_apache(client.recv_echo(), rich.Everything) == as_apache_sees_it(value, apache.rich)
    oneway = write_message(
        "fire", MessageType.ONEWAY, 3, rich.Rich_fire_args(what="w").to_bytes("json"), "json"
    )
    assert apache_reader(oneway).readMessageBegin() == ("fire", TMessageType.ONEWAY, 3)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'[2,"m",1,0,{}]', "message header: bad JSON message version 2"),
        (b'[1,"m",9,0,{}]', "message header: unknown message type 9"),
        (b'[1,"m",1,2147483648,{}]', "message header: value 2147483648 is out of range for i32"),
        (b'[1,"m",1,0,{}', "message header: a JSON message ends with ']' after its body"),
        (b'[1,"m\xff",1,0,{}]', "message header: invalid UTF-8 in string (or a lone surrogate escape)"),
        (b'[1,m,1,0,{}]', "message header: expected a string at byte 3, found 'm,1,0,{}]'"),
        (b"", "message header: expected '[' at byte 0, found the end of the data"),
    ],
)  # fmt: skip
def test_bad_envelopes(data: bytes, message: str) -> None:
    with pytest.raises(DecodeError) as raised:
        read_message(data, "json")
    assert str(raised.value) == message


# ---- where a buffered message ends -----------------------------------------------------


def test_message_end_respects_strings_and_escapes() -> None:
    tricky = b'[1,"a]\\"[{",1,0,{"1":{"str":"}]\\\\"},"2":{"lst":["str",1,"\\"]"]}}]'
    following = b'[1,"next",1,1,{}]'
    stream = tricky + following
    for cut in range(len(tricky)):
        assert json_message_end(stream[:cut], 1 << 20) is None
    assert json_message_end(tricky, 1 << 20) == len(tricky)
    assert json_message_end(stream, 1 << 20) == len(tricky)
    assert json_message_end(bytearray(stream), 1 << 20) == len(tricky)
    assert json_message_end(memoryview(stream), 1 << 20) == len(tricky)
    assert json_message_end(stream[len(tricky) :], 1 << 20) == len(following)


def test_message_end_limits() -> None:
    message = b'[1,"m",1,0,{"1":{"str":"0123456789"}}]'
    assert json_message_end(message, len(message)) == len(message)
    with pytest.raises(DecodeError, match=f"message is over the {len(message) - 1}-byte limit"):
        json_message_end(message, len(message) - 1)
    assert json_message_end(message[:-5], len(message)) is None
    with pytest.raises(DecodeError, match="message is over the 10-byte limit"):
        json_message_end(b'[1,"' + b"\\" * 100_000, 10)
    with pytest.raises(DecodeError, match="starts with"):
        json_message_end(b"\x80\x01", 100)
    assert json_message_end(b"", 100) is None
    # Unfinished escapes and strings, however long, just wait for more.
    assert json_message_end(b'[1,"' + b"\\" * 100_001, 1 << 20) is None
    assert json_message_end(b"[" * 100_000, 1 << 20) is None


@FUZZ
@given(st.binary(max_size=200).map(lambda b: b"[" + b))
def test_message_end_on_garbage(data: bytes) -> None:
    try:
        end = json_message_end(data, 150)
    except DecodeError:
        return
    assert end is None or 0 < end <= min(len(data), 150)


@PROPERTY
@given(st.data())
def test_message_end_on_split_messages(ours: SimpleNamespace, data: st.DataObject) -> None:
    value = data.draw(struct_strategy(ours.rich.Everything))
    message = write_message("echo", MessageType.CALL, 1, value.to_bytes("json"), "json")
    cut = data.draw(st.integers(0, len(message)))
    assert json_message_end(message[:cut], 1 << 24) == (len(message) if cut == len(message) else None)
    assert json_message_end(message + message, 1 << 24) == len(message)


# ---- unknown fields ---------------------------------------------------------------------


def test_unknown_fields_and_changed_types_are_skipped(ours: SimpleNamespace) -> None:
    evolution = ours.evolution
    newer = evolution.V2(
        a=1, b="b", c=[{"k": 2}], d=True, e=1.5, f=evolution.V1(a=3), g={True}, h=9
    )
    assert evolution.V1.from_bytes(newer.to_bytes("json"), "json") == evolution.V1(a=1)
    # A known id with another type (a newer peer changed it): skipped, as Apache does.
    assert evolution.V1.from_bytes(b'{"1":{"str":"one"}}', "json") == evolution.V1()
    assert ours.rich.Leaf.from_bytes(b'{"1":{"lst":["i32",1,2]}}', "json") == ours.rich.Leaf()


@pytest.mark.parametrize("source", ["binary", "compact", "json"])
@pytest.mark.parametrize("target", ["binary", "compact", "json"])
def test_kept_unknown_fields_are_written_back(ours: SimpleNamespace, source: str, target: str) -> None:
    evolution, keeping = ours.evolution, ours.keeping_evolution
    newer = evolution.V2(
        a=1, b="b", c=[{"k": 2}, {}], d=False, e=-1.5, f=evolution.V1(a=3), g={True}, h=9
    )
    older = keeping.V1.from_bytes(newer.to_bytes(source), source)
    assert older.a == 1 and len(older._unknown_fields) == 7
    assert evolution.V2.from_bytes(older.to_bytes(target), target) == newer
    if source == target == "json":
        assert older.to_bytes("json") == newer.to_bytes("json")


def test_a_changed_type_is_kept_as_unknown(ours: SimpleNamespace) -> None:
    keeping = ours.keeping_evolution
    older = keeping.V1.from_bytes(b'{"1":{"str":"one"}}', "json")
    assert older.a is None and older._unknown_fields
    assert older.to_bytes("json") == b'{"1":{"str":"one"}}'


def test_kept_text_and_bytes_across_protocols(ours: SimpleNamespace) -> None:
    """JSON has one type name for string and binary (see the module docstring)."""
    new, old = ours.wire.New, ours.keeping.Old
    value = new(a=1, blob=b"\x01\x02", text="t")
    # JSON to JSON: exact.
    assert old.from_bytes(value.to_bytes("json"), "json").to_bytes("json") == value.to_bytes("json")
    # JSON to binary: the kept binary field is its base64 text.
    kept = old.from_bytes(value.to_bytes("json"), "json")
    assert new.from_bytes(kept.to_bytes("binary"), "binary") == new(a=1, blob=b"AQI=", text="t")
    # Binary to JSON: bytes that are not UTF-8 are written as base64, and arrive.
    kept = old.from_bytes(new(a=1, blob=b"\xff\x00").to_bytes("binary"), "binary")
    assert new.from_bytes(kept.to_bytes("json"), "json") == new(a=1, blob=b"\xff\x00")
    # ... and bytes that are UTF-8 as text, which a JSON reader takes for base64.
    kept = old.from_bytes(new(a=1, blob=b"abc").to_bytes("binary"), "binary")
    assert kept.to_bytes("json") == b'{"1":{"i32":1},"2":{"str":"abc"}}'


# ---- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda r: r.Everything(id=None),
        lambda r: r.Everything(id=1, ints=[1, "2"]),
        lambda r: r.Everything(id=1, scalars=r.Scalars(a_byte=128)),
        lambda r: r.Everything(id=2**63),
        lambda r: r.Everything(id=1, scalars=r.Scalars(a_bool=1)),
        lambda r: r.Everything(id=1, scalars=r.Scalars(a_string=b"x")),
        lambda r: r.Everything(id=1, scalars=r.Scalars(a_string="\ud800")),
        lambda r: r.Everything(id=1, scalars=r.Scalars(a_binary="x")),
        lambda r: r.Everything(id=1, tags=["a"]),
        lambda r: r.Everything(id=1, counts={"a": 2**63}),
        lambda r: r.Everything(id=1, by_id={1: r.Leaf(weight=2**31)}),
        lambda r: r.Everything(id=1, child=r.Leaf()),
        lambda r: r.Everything(id=1, choice=r.Choice.__new__(r.Choice)),
        lambda r: r.Everything(id=1, scalars=r.Scalars(a_double="1")),
        lambda r: r.Everything(id=1, scalars=r.Scalars(a_color=2**31)),
    ],
)
def test_encode_errors_are_the_binary_codecs(ours: SimpleNamespace, build: Any) -> None:
    value = build(ours.rich)
    with pytest.raises(EncodeError) as binary:
        value.to_bytes("binary")
    with pytest.raises(EncodeError) as json:
        value.to_bytes("json")
    assert str(json.value) == str(binary.value)


def test_encode_errors_for_uuids_and_self_containing_values(ours: SimpleNamespace) -> None:
    with pytest.raises(EncodeError, match=r"WithUuid\.ids\[0\]: expected uuid\.UUID, got str"):
        ours.uuids.WithUuid(ids=["x"]).to_bytes("json")
    looped = ours.rich.Everything(id=1)
    looped.child = looped
    with pytest.raises(EncodeError, match="nesting deeper than"):
        looped.to_bytes("json")


@pytest.mark.parametrize(
    ("cls", "data", "message"),
    [
        ("Leaf", b'{"1":{"str":"a\xffb"}}', "Leaf.label: invalid UTF-8 in string (or a lone surrogate escape)"),
        ("Leaf", b'{"1":{"str":"\\ud800"}}', "Leaf.label: invalid UTF-8 in string (or a lone surrogate escape)"),
        ("Leaf", b'{"1":{"str":"\\q"}}', "Leaf.label: bad string: Invalid \\escape"),
        ("Leaf", b'{"1":{"str":"abc', "Leaf.label: bad string: Unterminated string starting at"),
        ("Leaf", b'{"1":{"str":"x"}}x', "Leaf: 1 bytes left over after the value"),
        ("Leaf", b'{"1":{"str":"x"}}\xc3\xa9', "Leaf: 2 bytes left over after the value"),
        ("Leaf", b'{"1":{"xyz":1}}', "Leaf: unknown type name 'xyz'"),
        ("Leaf", b'{"99999":{"i32":1}}', "Leaf: field id 99999 is out of range for i16"),
        ("Leaf", b'{"1":{"str":"x"},}', 'Leaf: expected a field ("<id>":{"<type>":...) at byte 17, found \'}\''),
        ("Leaf", b'{"1":{"str":"x"} }', "Leaf: expected ',' or '}' at byte 16, found ' }'"),
        ("Leaf", b'{"2":{"i32":"1"}}', "Leaf.weight: expected an integer at byte 12, found '\"1\"}}'"),
        ("Scalars", b'{"2":{"i8":128}}', "Scalars.a_byte: value 128 is out of range for i8"),
        ("Scalars", b'{"5":{"i64":' + b"9" * 5000 + b"}}", "Scalars.a_i64: integer of 5000 digits is out of range"),
        ("Scalars", b'{"6":{"dbl":"1.5"}}', "Scalars.a_double: '1.5' is not a double"),
        ("Scalars", b'{"6":{"dbl":.5}}', "Scalars.a_double: expected a number at byte 12, found '.5}}'"),
        ("Scalars", b'{"8":{"str":"A"}}', "Scalars.a_binary: invalid base64: Invalid base64-encoded string"),
        ("Scalars", b'{"8":{"str":"A*=="}}', "Scalars.a_binary: invalid base64: Only base64 data is allowed"),
        ("Scalars", b'{"8":{"str":"\xc3\xa9"}}', "Scalars.a_binary: invalid base64: not ASCII"),
        ("Everything", b'{"1":{"i64":1},"4":{"lst":["i32",2147483647]}}', "Everything.ints: size 2147483647 needs at least 4294967294 characters, 3 left"),
        ("Everything", b'{"1":{"i64":1},"4":{"lst":["i32",-1]}}', "Everything.ints: size -1 is out of range"),
        ("Everything", b'{"1":{"i64":1},"4":{"lst":["i64",1,5]}}', "Everything.ints: type 'i64' does not match the declared type ('i32')"),
        ("Everything", b'{"1":{"i64":1},"4":{"lst":["i32",2,5]}}', "Everything.ints: expected ',' at byte 36, found ']}}'"),
        ("Everything", b'{"1":{"i64":1},"4":{"lst":["i32",1,5,6]}}', "Everything.ints: expected ']' at byte 36, found ',6]}}'"),
        ("Everything", b'{"1":{"i64":1},"6":{"map":["str","i64",1,{"a":"x"}]}}', "Everything.counts['a']: expected an integer at byte 46, found '\"x\"}]}}'"),
        ("Everything", b'{"1":{"i64":1},"7":{"map":["i32","rec",1,{3:{}}]}}', "Everything.by_id: expected a quoted integer at byte 42, found '3:{}}]}}'"),
        ("Everything", b'{"1":{"i64":1},"7":{"map":["i32","rec",1,{"3":{"1":{"str":1}}}]}}', "Everything.by_id[3].label: expected a string at byte 58, found '1}}}]}}'"),
        ("WithUuid", b'{"1":{"uid":"not-a-uuid"}}', "WithUuid.id: 'not-a-uuid' is not a uuid"),
        ("Choice", b"{}", "Choice: a union must have exactly one member set, found 0"),
    ],
)  # fmt: skip
def test_decode_errors_name_the_field(ours: SimpleNamespace, cls: str, data: bytes, message: str) -> None:
    module = ours.uuids if cls == "WithUuid" else ours.rich
    with pytest.raises(DecodeError) as raised:
        getattr(module, cls).from_bytes(data, "json")
    assert str(raised.value).startswith(message)


def test_nesting_depth_is_limited(ours: SimpleNamespace) -> None:
    rich = ours.rich
    value = rich.Everything(id=0)
    for i in range(1, 70):
        value = rich.Everything(id=i, child=value)
    data = value.to_bytes("json")
    with pytest.raises(DecodeError, match="nesting deeper than 64 levels"):
        rich.Everything.from_bytes(data, "json")
    assert rich.Everything.from_bytes(data, "json", max_depth=100) == value
    with pytest.raises(DecodeError, match="nesting deeper than 10 levels"):
        rich.Everything.from_bytes(data, "json", max_depth=10)
    # an unknown field claiming 100,000 levels of lists
    garbage = b'{"99":{"lst":' + b'["lst",1,' * 100_000
    with pytest.raises(DecodeError, match="nesting deeper than 64 levels"):
        rich.Leaf.from_bytes(garbage, "json")
    with pytest.raises(DecodeError, match="nesting too deep for the interpreter"):
        rich.Leaf.from_bytes(garbage, "json", max_depth=10**6)


@FUZZ
@given(st.binary(max_size=200) | st.text("{}[]\":,0123456789-.eE\\u tfirsdblcpam", max_size=80).map(str.encode))
def test_random_input_gives_a_value_or_decode_error(ours: SimpleNamespace, data: bytes) -> None:
    for cls in (ours.rich.Everything, ours.rich.Choice, ours.uuids.WithUuid, ours.wire.OddKeys):
        with contextlib.suppress(DecodeError):
            cls.from_bytes(data, "json")
    with contextlib.suppress(DecodeError):
        read_message(data, "json")


@FUZZ
@given(st.data())
def test_mutated_valid_encodings_give_a_value_or_decode_error(
    ours: SimpleNamespace, data: st.DataObject
) -> None:
    value = data.draw(st.sampled_from([everything(ours.rich), ours.wire.OddKeys(by_list={(1,): 2})]))
    valid = value.to_bytes("json")
    mutated = data.draw(mutations(valid))
    try:
        decoded = type(value).from_bytes(mutated, "json")
    except DecodeError:
        return
    # whatever decoded encodes again, and means the same
    again = type(value).from_bytes(decoded.to_bytes("json"), "json")
    assert canonical(again) == canonical(decoded)


def canonical(value: Any) -> Any:
    """`value` in a form that compares by content: NaN equal to itself, sets
    and maps whatever order they iterate in (their reprs would differ)."""
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, Struct):
        return type(value).__name__, tuple(canonical(v) for v in value._field_values())
    if isinstance(value, list | tuple):
        return tuple(canonical(v) for v in value)
    if isinstance(value, set | frozenset):
        return sorted(repr(canonical(v)) for v in value)
    if isinstance(value, dict):
        return sorted(repr((canonical(k), canonical(v))) for k, v in value.items())
    return value
