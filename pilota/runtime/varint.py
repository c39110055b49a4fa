"""Unsigned LEB128 varints, as the compact protocol and THeader use them."""

from __future__ import annotations


def encode_varint(n: int, out: bytearray) -> None:
    """Append `n` (0 <= n < 2**64) to `out`."""
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


class VarintTooLong(ValueError):
    """More bytes than the value may take."""


def decode_varint(data: bytes | bytearray, pos: int, max_bytes: int = 10) -> tuple[int, int] | None:
    """The varint at `pos` and the position after it; None if `data` ends first."""
    result = shift = 0
    for i in range(max_bytes):
        if pos + i >= len(data):
            return None
        byte = data[pos + i]
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos + i + 1
        shift += 7
    raise VarintTooLong(f"varint is longer than {max_bytes} bytes")
