"""Message envelopes, checked against Apache's protocol implementations."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from thrift.protocol import TBinaryProtocol, TCompactProtocol
from thrift.transport import TTransport

from pilota import DecodeError
from pilota.runtime.message import (
    MessageHeader,
    MessageType,
    read_message_header,
    write_message_header,
)

names = st.text(st.characters(codec="utf-8"), max_size=20)
seqids = st.integers(-(2**31), 2**31 - 1)
types = st.sampled_from(list(MessageType))


def apache_header(protocol: str, name: str, kind: int, seqid: int, strict: bool = True) -> bytes:
    buffer = TTransport.TMemoryBuffer()
    if protocol == "binary":
        proto = TBinaryProtocol.TBinaryProtocol(buffer, strictWrite=strict)
    else:
        proto = TCompactProtocol.TCompactProtocol(buffer)
    proto.writeMessageBegin(name, kind, seqid)
    return buffer.getvalue()


def apache_read(protocol: str, data: bytes) -> tuple[str, int, int]:
    buffer = TTransport.TMemoryBuffer(data)
    if protocol == "binary":
        proto = TBinaryProtocol.TBinaryProtocol(buffer, strictRead=False)
    else:
        proto = TCompactProtocol.TCompactProtocol(buffer)
    return proto.readMessageBegin()  # type: ignore[no-any-return]


@settings(max_examples=200, deadline=None)
@given(name=names, kind=types, seqid=seqids, protocol=st.sampled_from(["binary", "compact"]))
def test_same_bytes_as_apache_both_ways(name: str, kind: MessageType, seqid: int, protocol: str) -> None:
    ours = write_message_header(name, kind, seqid, protocol)
    if protocol == "binary" or seqid >= 0:  # Apache's compact writer takes seqids >= 0
        assert ours == apache_header(protocol, name, kind, seqid)
    assert apache_read(protocol, ours) == (name, kind, seqid)
    header, offset = read_message_header(ours + b"body", protocol)
    assert header == MessageHeader(name, kind, seqid) and offset == len(ours)


@settings(max_examples=100, deadline=None)
@given(name=names, kind=types, seqid=seqids)
def test_non_strict_binary_is_read(name: str, kind: MessageType, seqid: int) -> None:
    old = apache_header("binary", name, kind, seqid, strict=False)
    assert write_message_header(name, kind, seqid, strict=False) == old
    assert read_message_header(old) == (MessageHeader(name, kind, seqid), len(old))


@pytest.mark.parametrize(
    ("protocol", "data", "message"),
    [
        ("binary", b"\x80\x02\x00\x01", "message header: bad binary message version 0x80020001"),
        ("binary", b"\x80\x01\x00\x01\x00\x00\x00\x05ab", "message header: truncated: 5 bytes needed, 2 left"),
        ("binary", b"\x80\x01\x00\x09\x00\x00\x00\x00\x00\x00\x00\x01", "message header: unknown message type 9"),
        ("binary", b"\x7f\xff\xff\xff", "message header: truncated: 2147483647 bytes needed, 0 left"),
        ("compact", b"\x81\x21\x00\x00", "message header: not a compact protocol message (bad protocol id)"),
        ("compact", b"\x82\x22\x00\x00", "message header: bad compact message version 2"),
        ("compact", b"\x82\x21\xff\xff\xff\xff\xff\xff", "message header: varint is longer than 5 bytes"),
    ],
)
def test_bad_headers(protocol: str, data: bytes, message: str) -> None:
    with pytest.raises(DecodeError) as raised:
        read_message_header(data, protocol)
    assert str(raised.value) == message
