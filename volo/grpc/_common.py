"""What the gRPC server and client share: grpcio's names for our codes,
compression and options, and metadata as volo's headers and metainfo."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

import grpc

from pilota.runtime.protobuf import DecodeError, Message
from volo import metainfo
from volo.grpc.status import Code, StatusError, shown

# The largest message received or sent by default, as grpcio's default receive limit.
DEFAULT_MAX_MESSAGE = 4 * 1024 * 1024

GRPC_CODES = {code.value[0]: code for code in grpc.StatusCode}
COMPRESSIONS = {"gzip": grpc.Compression.Gzip, "deflate": grpc.Compression.Deflate, None: None}
# Metadata that grpcio or HTTP/2 set: not for handlers to read as headers.
_TRANSPORT_KEYS = frozenset({"user-agent", "grpc-accept-encoding", "grpc-encoding",
                             "grpc-timeout", "content-type", "te"})  # fmt: skip
Metadata = tuple[tuple[str, str | bytes], ...]


def grpc_code(code: Code) -> grpc.StatusCode:
    return GRPC_CODES[int(code)]


def compression_of(name: str | None) -> grpc.Compression | None:
    try:
        return COMPRESSIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown compression {name!r}: expected 'gzip', 'deflate' or None"
        ) from None


def message_options(max_message: int) -> list[tuple[str, Any]]:
    if max_message < 1:
        raise ValueError("max_message must be at least 1 byte")
    return [("grpc.max_receive_message_length", max_message),
            ("grpc.max_send_message_length", max_message)]  # fmt: skip


def serialize(message: Message) -> bytes:
    return message.to_bytes()


class Undecodable(NamedTuple):
    """A message that does not decode, as `decoder` hands it on. Raised in a
    deserializer, grpcio's server answers UNKNOWN naming the exception's class, and
    its client returns None for the message; both log a traceback."""

    error: DecodeError

    def status(self, what: str) -> StatusError:
        """INTERNAL, as gRPC's libraries answer a message they cannot parse, saying
        what is wrong with it (the peer's bytes, nothing of ours)."""
        return StatusError(Code.INTERNAL, shown(f"cannot decode the {what}: {self.error}"))


def decoder(cls: type[Message]) -> Callable[[bytes], Any]:
    """A grpcio deserializer for `cls`: bytes that do not decode become Undecodable."""

    def decode(data: bytes) -> Any:
        try:
            return cls.from_bytes(data)
        except DecodeError as exc:
            return Undecodable(exc)

    return decode


def headers_of(metadata: Iterable[tuple[str, str | bytes]] | None) -> dict[str, str]:
    """Metadata as Context headers: its text entries, save those of the transport."""
    return {
        key: value for key, value in metadata or ()
        if isinstance(value, str) and key not in _TRANSPORT_KEYS
    }  # fmt: skip


def outgoing(given: Mapping[str, str] | None) -> dict[str, str]:
    """A call's metadata: the metainfo to send, then what the call gives;
    keys in lower case (as HTTP/2 has them). Raises ValueError for metadata
    gRPC cannot carry."""
    headers = metainfo.outgoing_headers(metainfo.GRPC)
    if given:
        headers.update(given)
    return checked(headers)


def checked(headers: Mapping[str, str]) -> dict[str, str]:
    """`headers` with keys in lower case, if gRPC can carry them as text
    metadata; else ValueError, which names the entry."""
    found = {}
    for key, value in headers.items():
        name = key.lower()
        if not _KEY.fullmatch(name) or name.startswith("grpc-") or name.endswith("-bin"):
            raise ValueError(
                f"metadata key {key[:64]!r}: expected letters, digits, '-', '_' or '.', "
                "not starting 'grpc-' (gRPC's own) nor ending '-bin' (binary)"
            )
        if not isinstance(value, str) or not _VALUE.fullmatch(value):
            raise ValueError(f"metadata value of {key[:64]!r}: expected printable ASCII text")
        found[name] = value
    return found


_KEY = re.compile(r"[0-9a-z_.\-]+")
_VALUE = re.compile(r"[\x20-\x7e]*")


def as_metadata(headers: Mapping[str, str]) -> Metadata:
    return tuple(headers.items())


def receive_metainfo(headers: Mapping[str, str]) -> None:
    """Install the metainfo that came with a request, if any did."""
    prefixes = metainfo.GRPC
    if any(key.startswith(prefixes) for key in headers):
        metainfo.receive(headers, prefixes)
