"""gRPC status codes and the error that carries one.

A handler fails a call by raising `StatusError(Code.NOT_FOUND, "no such
order")`, with optional `details` (messages, each sent packed in an Any, as
the `grpc-status-details-bin` trailer of google.rpc.Status: what grpcio-status,
Go's status package and others read). A client call that fails raises a
StatusError too; with DEADLINE_EXCEEDED it is also a `volo.CallTimeout`, with
UNAVAILABLE also a `volo.TransportError`, so code that handles those errors
handles them for both protocols.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping

from pilota.runtime.protobuf import DecodeError, Message
from pilota.runtime.protobuf.wkt.google.protobuf.any import Any as AnyMessage
from volo.errors import CallTimeout, TransportError
from volo.grpc.pb.google.rpc.status import Status

DETAILS_KEY = "grpc-status-details-bin"
# A status message quoted from a peer or a handler is cut to this.
_MAX_MESSAGE = 1024


class Code(enum.IntEnum):
    """gRPC's status codes."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


class StatusError(Exception):
    """A call that ended with a status other than OK: `code`, `message` and
    `details` (Anys: `error.details[0].unpack(ErrorInfo)`); `metadata` is the
    trailing metadata that came with it (client side)."""

    def __new__(cls, code: Code, message: str = "", details: Iterable[Message] = (),
                metadata: Mapping[str, str] | None = None) -> StatusError:  # fmt: skip
        # The subclass that fits the code, so `except volo.CallTimeout` catches
        # a DEADLINE_EXCEEDED however it was raised.
        if cls is StatusError:
            cls = _BY_CODE.get(code, StatusError)
        return super().__new__(cls)

    def __init__(
        self,
        code: Code,
        message: str = "",
        details: Iterable[Message] = (),
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.args = (message,)  # an OSError (a CallTimeout) would keep none
        self.code = Code(code)
        self.message = message
        self.details = [d if isinstance(d, AnyMessage) else AnyMessage.pack(d) for d in details]
        self.metadata = dict(metadata or {})

    def __str__(self) -> str:
        return f"{self.message or 'the call failed'} ({self.code.name})"

    def __reduce__(self) -> tuple[object, ...]:
        return (StatusError, (self.code, self.message, self.details, self.metadata))

    def details_bin(self) -> bytes | None:
        """The `grpc-status-details-bin` trailer that carries `details`, if any."""
        if not self.details:
            return None
        return Status(code=int(self.code), message=self.message, details=self.details).to_bytes()


class DeadlineExceeded(StatusError, CallTimeout):
    """DEADLINE_EXCEEDED: also a `volo.CallTimeout` (a TimeoutError)."""


class Unavailable(StatusError, TransportError):
    """UNAVAILABLE (the server cannot be reached, or is going away): also a
    `volo.TransportError`."""


_BY_CODE: dict[Code, type[StatusError]] = {
    Code.DEADLINE_EXCEEDED: DeadlineExceeded,
    Code.UNAVAILABLE: Unavailable,
}


def shown(message: str) -> str:
    """A message fit to send or raise: at most 1024 characters."""
    return message if len(message) <= _MAX_MESSAGE else message[:_MAX_MESSAGE] + "…"


def details_from(data: bytes | None) -> list[AnyMessage]:
    """The details a `grpc-status-details-bin` trailer carries ([] if it cannot be read)."""
    if not data:
        return []
    try:
        return list(Status.from_bytes(data).details)
    except DecodeError:
        return []
