"""Thrift message envelopes: the (name, type, seqid) header around an RPC body.

Binary writes the strict form (a version word, then name and seqid) and reads
both the strict and the old non-strict form (name first); compact has one
form. In both the header comes first and the body, a struct encoded with the
same protocol, runs to the end of the message.

JSON (Apache's TJSONProtocol) wraps the body instead: `[1,"name",type,seqid,`
before it and `]` after it. So a JSON message is written whole and read whole:

- `write_message(name, type, seqid, body, protocol)`: the message around
  `body` (`struct.to_bytes(protocol)`), for every protocol;
- `read_message(data, protocol)`: the header of the one message in `data` and
  its body's bytes, for `Struct.from_bytes(body, protocol)`, for every
  protocol;
- `read_message_header(data, "json")` also works (the body runs from the
  offset it returns to the last byte, `]`, excluded); `write_message_header`
  refuses "json", since a header alone is not the start of a JSON message
  one can finish by appending a body.

On the buffered transport a JSON message ends where its brackets balance:
`pilota.runtime.json_protocol.json_message_end(buffer, max_size)`.
"""

from __future__ import annotations

import enum
import struct as _struct
from typing import NamedTuple

from pilota.runtime import json_protocol
from pilota.runtime.types import DecodeError, Protocol
from pilota.runtime.varint import VarintTooLong, decode_varint, encode_varint

_I32 = _struct.Struct(">i")
_VERSION_1 = -0x7FFF0000  # 0x80010000 as a signed i32
_VERSION_MASK = -0x10000  # 0xffff0000
_COMPACT_ID = 0x82
_COMPACT_VERSION = 1


class MessageType(enum.IntEnum):
    CALL = 1
    REPLY = 2
    EXCEPTION = 3
    ONEWAY = 4


# Strict binary headers of the names in use, up to the seqid: they never change.
# Names may come from peers (a server answers in the name it was called by), so
# the cache is bounded in entries and in the length of a name: at most 4096
# names of at most 128 characters, a few MiB at worst.
_BINARY_PREFIXES: dict[tuple[str, int], bytes] = {}
_MAX_PREFIXES = 4096
_MAX_CACHED_NAME = 128


class MessageHeader(NamedTuple):
    name: str
    type: MessageType
    seqid: int


def write_message_header(
    name: str,
    message_type: MessageType,
    seqid: int,
    protocol: Protocol | str = Protocol.BINARY,
    *,
    strict: bool = True,
) -> bytes:
    """The header that precedes a binary or compact body; see `write_message`."""
    if protocol == "json":
        raise ValueError("a JSON message wraps its body: write it whole with write_message")
    if protocol == "binary" and strict:
        prefix = _BINARY_PREFIXES.get((name, message_type))
        if prefix is None:
            raw_name = name.encode("utf-8")
            prefix = _I32.pack(_VERSION_1 | message_type) + _I32.pack(len(raw_name)) + raw_name
            if len(_BINARY_PREFIXES) < _MAX_PREFIXES and len(name) <= _MAX_CACHED_NAME:
                _BINARY_PREFIXES[(name, message_type)] = prefix
        return prefix + _I32.pack(seqid)
    raw_name = name.encode("utf-8")
    if protocol == "binary":
        return _I32.pack(len(raw_name)) + raw_name + bytes([message_type]) + _I32.pack(seqid)
    out = bytearray([_COMPACT_ID, (message_type << 5) | _COMPACT_VERSION])
    encode_varint(seqid & 0xFFFFFFFF, out)
    encode_varint(len(raw_name), out)
    return bytes(out + raw_name)


_TYPES = {t.value: t for t in MessageType}


def read_message_header(
    data: bytes | bytearray | memoryview, protocol: Protocol | str = Protocol.BINARY
) -> tuple[MessageHeader, int]:
    """The header at the start of `data`, and the offset where the body begins.

    For JSON the body ends before the message's last byte, `]`: `read_message`
    cuts it off."""
    if protocol == "binary" and isinstance(data, bytes) and len(data) >= 12:
        # The common case, strict binary, without the general reader.
        (first,) = _I32.unpack_from(data, 0)
        if first & _VERSION_MASK == _VERSION_1 and (first & 0xFF) in _TYPES:
            (length,) = _I32.unpack_from(data, 4)
            end = 8 + length
            if length >= 0 and end + 4 <= len(data):
                try:
                    name = data[8:end].decode("utf-8")
                except UnicodeDecodeError:
                    pass  # the general reader reports it
                else:
                    (seqid,) = _I32.unpack_from(data, end)
                    return MessageHeader(name, _TYPES[first & 0xFF], seqid), end + 4
    view = bytes(data)
    reader = _Reader(view)
    try:
        if protocol == "json":
            name, kind, seqid, offset = json_protocol.read_message_prefix(view)
            return MessageHeader(name, _message_type(kind), seqid), offset
        if protocol == "binary":
            first = reader.i32()
            if first < 0:
                if first & _VERSION_MASK != _VERSION_1:
                    raise DecodeError(f"bad binary message version 0x{first & 0xFFFFFFFF:08x}")
                kind = first & 0xFF
                name = reader.text(reader.i32())
            else:  # the non-strict form: the name's length comes first
                name = reader.text(first)
                kind = reader.byte()
            seqid = reader.i32()
        else:
            if reader.byte() != _COMPACT_ID:
                raise DecodeError("not a compact protocol message (bad protocol id)")
            version_and_type = reader.byte()
            if version_and_type & 0x1F != _COMPACT_VERSION:
                raise DecodeError(f"bad compact message version {version_and_type & 0x1F}")
            kind = version_and_type >> 5
            seqid = _signed32(reader.varint())
            name = reader.text(reader.varint())
        return MessageHeader(name, _message_type(kind), seqid), reader.pos
    except DecodeError as exc:
        raise exc.within("message header") from None


def message_parts(
    name: str,
    message_type: MessageType,
    seqid: int,
    body: bytes,
    protocol: Protocol | str = Protocol.BINARY,
) -> tuple[bytes, bytes]:
    """A whole message in two parts that make it when joined: the envelope's
    head, then `body` (a struct encoded with the same protocol) with the
    envelope's tail, which only JSON has. Transports frame the two parts
    without joining them first."""
    if protocol == "json":
        return json_protocol.message_prefix(name, message_type, seqid), body + b"]"
    return write_message_header(name, message_type, seqid, protocol), body


def write_message(
    name: str,
    message_type: MessageType,
    seqid: int,
    body: bytes,
    protocol: Protocol | str = Protocol.BINARY,
) -> bytes:
    """A whole message: the envelope of `protocol` around `body`."""
    return b"".join(message_parts(name, message_type, seqid, body, protocol))


def read_message(
    data: bytes | bytearray | memoryview, protocol: Protocol | str = Protocol.BINARY
) -> tuple[MessageHeader, bytes]:
    """The header of the one whole message in `data`, and its body's bytes."""
    header, start = read_message_header(data, protocol)
    end = len(data)
    if protocol == "json":
        if not data or data[-1] != ord("]"):
            raise DecodeError("a JSON message ends with ']' after its body", "message header")
        end -= 1
    return header, bytes(data[start:end])


def _message_type(kind: int) -> MessageType:
    found = _TYPES.get(kind)
    if found is None:
        raise DecodeError(f"unknown message type {kind}")
    return found


def _signed32(n: int) -> int:
    n &= 0xFFFFFFFF
    return n - 0x100000000 if n > 0x7FFFFFFF else n


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or n > len(self.data) - self.pos:
            raise DecodeError(f"truncated: {n} bytes needed, {len(self.data) - self.pos} left")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def byte(self) -> int:
        return self.take(1)[0]

    def i32(self) -> int:
        value: int = _I32.unpack(self.take(4))[0]
        return value

    def varint(self) -> int:
        try:
            found = decode_varint(self.data, self.pos, 5)
        except VarintTooLong as exc:
            raise DecodeError(str(exc)) from None
        if found is None:
            raise DecodeError("truncated: the varint is cut short")
        value, self.pos = found
        return value

    def text(self, n: int) -> str:
        try:
            return self.take(n).decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError("message name is not valid UTF-8") from None
