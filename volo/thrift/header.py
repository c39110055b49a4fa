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

Reading is bounded whatever the peer sends: every count is checked against
the bytes of the header block before any loop, a frame carries at most
`MAX_TRANSFORMS` transforms, each once, and `MAX_HEADERS` headers, and
undoing a transform makes at most the frame limit. Once: zlib inflates a
byte to 1,032 at most, but zlib of zlib to a million (1,800 bytes to 1 GiB).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from pilota.runtime.varint import VarintTooLong, decode_varint, encode_varint
from volo.thrift.framing import DEFAULT_MAX_FRAME, HEADER_MAGIC, FrameError, FrameTooLarge

# THeader's protocol ids.
PROTOCOL_IDS = {0: "binary", 1: "json", 2: "compact"}
INFO_KEY_VALUE = 0x01
INFO_INT_KEY_VALUE = 0x10
TRANSFORM_ZLIB = 0x01
TRANSFORMS = {"zlib": TRANSFORM_ZLIB}
_HEAD = struct.Struct(">HHiH")
# Enough for any real use (one zlib), few enough that undoing them stays cheap.
MAX_TRANSFORMS = 4
# Headers (string and integer keyed) and info blocks in one frame: metainfo
# uses a few dozen; the header block (at most 256 KiB) could hold 131,000.
MAX_HEADERS = 1000


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
    be there (else HeaderTruncated); the payload is what its start decodes
    to, at most `max_size` bytes of it."""
    if len(frame) < _HEAD.size:
        raise FrameError("header frame is truncated")
    magic, flags, seqid, words = _HEAD.unpack_from(frame)
    if magic != HEADER_MAGIC:
        raise FrameError("not a header frame")
    end = _HEAD.size + words * 4
    if end > len(frame):
        if partial:
            raise HeaderTruncated("the header block is cut short")
        raise FrameError("header block is larger than the frame")
    reader = _Reader(frame, _HEAD.size, end)  # reads nothing past the header block
    protocol_id = reader.varint()
    if protocol_id not in PROTOCOL_IDS:
        raise FrameError(f"unknown header protocol id {protocol_id}")
    count = reader.count(1, "transforms")
    if count > MAX_TRANSFORMS:
        raise FrameError(f"the header has {count} transforms: at most {MAX_TRANSFORMS} are allowed")
    transforms = [reader.varint() for _ in range(count)]
    for i, transform in enumerate(transforms):
        if transform not in TRANSFORMS.values():
            raise FrameError(f"unknown header transform {transform}")
        if transform in transforms[:i]:
            name = next(k for k, v in TRANSFORMS.items() if v == transform)
            raise FrameError(f"the header applies transform {transform} ({name}) twice")
    headers: dict[str, str] = {}
    int_headers: dict[int, str] = {}
    room = MAX_HEADERS  # headers and info blocks still allowed
    while reader.pos < end:
        kind = reader.varint()
        if kind not in (INFO_KEY_VALUE, INFO_INT_KEY_VALUE):
            break  # padding, or a block we do not know: skip to the payload
        # each header takes two lengths at least; an integer-keyed one, a key and a length
        count = reader.count(2 if kind == INFO_KEY_VALUE else 3, "headers")
        room -= 1 + count
        if room < 0:
            raise FrameError(f"the header has more than {MAX_HEADERS} headers")
        if kind == INFO_KEY_VALUE:
            for _ in range(count):
                key = reader.text()
                headers[key] = reader.text()
        else:
            for _ in range(count):
                (int_key,) = struct.unpack(">H", reader.take(2))
                int_headers[int_key] = reader.text()
    payload = frame[end:]
    for _ in transforms:  # all zlib (once): undone in reverse order
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
    if partial or inflater.eof:
        return out
    if inflater.unconsumed_tail or len(out) == max_size:  # it would go on
        raise FrameTooLarge(None, max_size)
    raise FrameError("bad zlib payload: the stream is cut short")


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
    """Reads `data[pos:end]`; anything past `end` is truncation."""

    def __init__(self, data: bytes, pos: int, end: int) -> None:
        self.data = data
        self.pos = pos
        self.end = end

    def take(self, n: int) -> bytes:
        if n > self.end - self.pos:
            raise FrameError("header frame is truncated")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def varint(self) -> int:
        try:
            found = decode_varint(self.data, self.pos, 5)
        except VarintTooLong:
            raise FrameError("bad varint in the header") from None
        if found is None or found[1] > self.end:
            raise FrameError("header frame is truncated")
        value, self.pos = found
        return value

    def count(self, size: int, what: str) -> int:
        """A count of items of at least `size` bytes each, checked before any
        loop: no more than the rest of the header block can hold."""
        n = self.varint()
        if n * size > self.end - self.pos:
            raise FrameError(f"the header declares {n} {what}, more than its block holds")
        return n

    def text(self) -> str:
        try:
            return self.take(self.varint()).decode("utf-8")
        except UnicodeDecodeError:
            raise FrameError("header string is not valid UTF-8") from None
