"""THeader / TTHeader frames: a framed message with a header block in front.

Layout, after the 4-byte frame length::

    magic 0x0FFF (2) | flags (2) | seqid (4) | header size / 4 (2)
    header: protocol id (varint: 0 binary, 2 compact), transform count and ids
            (varints), then info blocks, zero-padded to a multiple of 4 bytes
    payload: the Thrift message, in that protocol, transformed

Info blocks: 0x01 string key-values (Apache THeader; Kitex/Volo TTHeader use
them for metainfo) and 0x10 integer-keyed values (TTHeader's transport info).
Transforms: zlib (id 1), applied in the order listed on write and undone in
reverse on read; a server answers with the transforms its request used.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from pilota.runtime.varint import VarintTooLong, decode_varint, encode_varint
from volo.framing import DEFAULT_MAX_FRAME, HEADER_MAGIC, FrameError, FrameTooLarge

# THeader's protocol ids.
PROTOCOL_IDS = {0: "binary", 1: "json", 2: "compact"}
INFO_KEY_VALUE = 0x01
INFO_INT_KEY_VALUE = 0x10
TRANSFORM_ZLIB = 0x01
TRANSFORMS = {"zlib": TRANSFORM_ZLIB}
_HEAD = struct.Struct(">HHiH")


@dataclass
class HeaderFrame:
    protocol: str
    seqid: int
    payload: bytes  # the message, transforms undone
    headers: dict[str, str] = field(default_factory=dict)
    int_headers: dict[int, str] = field(default_factory=dict)
    flags: int = 0
    transforms: Sequence[int] = ()  # ids, in the order they were applied


class HeaderTruncated(FrameError):
    """The header block has not all come yet."""


def parse_header_frame(
    frame: bytes, max_size: int = DEFAULT_MAX_FRAME, *, partial: bool = False
) -> HeaderFrame:
    """`frame`: everything after the 4-byte frame length. Undoing the
    transforms makes at most `max_size` bytes (else FrameTooLarge). With
    `partial`, `frame` may be the start of a frame: the header block must all
    be there (else HeaderTruncated); the payload is what its start decodes to."""
    reader = _Reader(frame)
    magic, flags, seqid, words = _HEAD.unpack(reader.take(_HEAD.size))
    if magic != HEADER_MAGIC:
        raise FrameError("not a header frame")
    end = reader.pos + words * 4
    if end > len(frame):
        if partial:
            raise HeaderTruncated("the header block is cut short")
        raise FrameError("header block is larger than the frame")
    protocol_id = reader.varint()
    if protocol_id not in PROTOCOL_IDS:
        raise FrameError(f"unknown header protocol id {protocol_id}")
    transforms = [reader.varint() for _ in range(reader.varint())]
    for transform in transforms:
        if transform != TRANSFORM_ZLIB:
            raise FrameError(f"unknown header transform {transform}")
    headers: dict[str, str] = {}
    int_headers: dict[int, str] = {}
    while reader.pos < end:
        kind = reader.varint()
        if kind == INFO_KEY_VALUE:
            for _ in range(reader.varint()):
                key = reader.text()
                headers[key] = reader.text()
        elif kind == INFO_INT_KEY_VALUE:
            for _ in range(reader.varint()):
                (key,) = struct.unpack(">H", reader.take(2))
                int_headers[key] = reader.text()
        else:
            break  # padding, or a block we do not know: skip to the payload
    payload = frame[end:]
    for _ in transforms:  # all zlib: undone in reverse order, alike
        payload = _inflate(payload, max_size, partial)
    return HeaderFrame(
        PROTOCOL_IDS[protocol_id], seqid, payload, headers, int_headers, flags, transforms
    )


def _inflate(data: bytes, max_size: int, partial: bool) -> bytes:
    """zlib's inverse, never making more than `max_size` bytes."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, max_size)
    except zlib.error as exc:
        raise FrameError(f"bad zlib payload: {exc}") from None
    if partial:
        return out
    if inflater.unconsumed_tail:
        raise FrameTooLarge(None, max_size)
    if not inflater.eof:
        raise FrameError("bad zlib payload: the stream is cut short")
    return out


def build_header_frame(frame: HeaderFrame) -> bytes:
    """The whole frame, the 4-byte length included."""
    block = bytearray()
    encode_varint({v: k for k, v in PROTOCOL_IDS.items()}[frame.protocol], block)
    encode_varint(len(frame.transforms), block)
    payload = frame.payload
    for transform in frame.transforms:
        encode_varint(transform, block)
        payload = zlib.compress(payload)  # the one transform there is
    if frame.headers:
        encode_varint(INFO_KEY_VALUE, block)
        encode_varint(len(frame.headers), block)
        for key, value in frame.headers.items():
            _text(key, block)
            _text(value, block)
    if frame.int_headers:
        encode_varint(INFO_INT_KEY_VALUE, block)
        encode_varint(len(frame.int_headers), block)
        for int_key, value in frame.int_headers.items():
            block += struct.pack(">H", int_key)
            _text(value, block)
    block += b"\x00" * (-len(block) % 4)
    head = _HEAD.pack(HEADER_MAGIC, frame.flags, frame.seqid, len(block) // 4)
    body = head + bytes(block) + payload
    return len(body).to_bytes(4, "big") + body


def _text(value: str, out: bytearray) -> None:
    raw = value.encode("utf-8")
    encode_varint(len(raw), out)
    out += raw


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n > len(self.data) - self.pos:
            raise FrameError("header frame is truncated")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def varint(self) -> int:
        try:
            found = decode_varint(self.data, self.pos, 5)
        except VarintTooLong:
            raise FrameError("bad varint in the header") from None
        if found is None:
            raise FrameError("header frame is truncated")
        value, self.pos = found
        return value

    def text(self) -> str:
        try:
            return self.take(self.varint()).decode("utf-8")
        except UnicodeDecodeError:
            raise FrameError("header string is not valid UTF-8") from None
