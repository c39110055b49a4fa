"""What generated code says about a protobuf service: its methods, the base of
its handler and the base of its typed client.

A generated handler (`<Service>Handler`) has one method per rpc, named as in
the .proto file: a unary rpc is `async def M(self, request) -> Response`; one
whose client streams takes `requests: AsyncIterator[Request]`; one whose server
streams returns an `AsyncIterator[Response]` (write it as an async generator,
with `yield`). Unimplemented methods raise `Unimplemented`, which a server
answers as gRPC's UNIMPLEMENTED.

A generated client (`<Service>Client`) sends each call through a `Caller`
(a volo.grpc channel): a call whose server answers once returns a `UnaryCall`
(await it for the response), one whose server streams a `StreamCall` (iterate
it). Both give the reply's metadata once they are over. This module knows no
transport: grpcio is volo.grpc's business.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Generator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, NamedTuple, Protocol, Self, TypeAlias, TypeVar

from pilota.runtime.protobuf.message import Message

Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)
Resp_co = TypeVar("Resp_co", bound=Message, covariant=True)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Method(Generic[Req, Resp]):
    """One rpc: its name in the .proto, its path on the wire (`/pkg.Service/Method`,
    as gRPC names it), its message classes and which sides stream."""

    name: str
    path: str
    request: type[Req]
    response: type[Resp]
    client_streaming: bool = False
    server_streaming: bool = False


class Unimplemented(NotImplementedError):
    """A handler method that was not implemented (what generated bases raise)."""


# What a client-streaming call sends: any iterable of messages, or an async one.
Requests: TypeAlias = AsyncIterable[T] | Iterable[T]


class UnaryCall(Protocol[Resp_co]):
    """A call with one response: `await` it for the response."""

    def __await__(self) -> Generator[Any, None, Resp_co]: ...

    @property
    def metadata(self) -> Mapping[str, str]:
        """The metadata the server sent back (initial and trailing), once the call is over."""


class StreamCall(Protocol[Resp_co]):
    """A call whose server streams: `async for response in call`."""

    def __aiter__(self) -> AsyncIterator[Resp_co]: ...

    async def __anext__(self) -> Resp_co: ...

    @property
    def metadata(self) -> Mapping[str, str]:
        """The metadata the server sent back (initial and trailing), once the stream is over."""

    def cancel(self) -> None:
        """Stop the call: the server sees it cancelled; iterating raises CancelledError."""


class Caller(Protocol):
    """What a generated client sends its calls through: a volo.grpc channel."""

    def unary_unary(
        self, method: Method[Req, Resp], request: Req, timeout: float | None,
        metadata: Mapping[str, str] | None,
    ) -> UnaryCall[Resp]: ...  # fmt: skip

    def unary_stream(
        self, method: Method[Req, Resp], request: Req, timeout: float | None,
        metadata: Mapping[str, str] | None,
    ) -> StreamCall[Resp]: ...  # fmt: skip

    def stream_unary(
        self, method: Method[Req, Resp], requests: Requests[Req], timeout: float | None,
        metadata: Mapping[str, str] | None,
    ) -> UnaryCall[Resp]: ...  # fmt: skip

    def stream_stream(
        self, method: Method[Req, Resp], requests: Requests[Req], timeout: float | None,
        metadata: Mapping[str, str] | None,
    ) -> StreamCall[Resp]: ...  # fmt: skip

    async def close(self) -> None: ...


class HttpRule(NamedTuple):
    """An rpc served over HTTP, from its `google.api.http` option (gRPC transcoding)."""

    method: str  # "GET", "POST", ...
    path: str  # the path template, `/v1/items/{id}`
    rpc: str  # the handler's method
    body: str  # "" (no body), "*" (the request message) or the request field it fills
    response_body: str  # "" (the response message) or the response field answered


class Handler:
    """Base of generated handlers: subclass `<Service>Handler` and implement its methods."""

    # The service's description (its class of `Method`s); set by generated code.
    __pb_service__: ClassVar[Any] = None
    # The rpcs `google.api.http` options route over HTTP (volo.http serves them).
    __http_rules__: ClassVar[tuple[HttpRule, ...]] = ()


class Client:
    """Base of generated clients: every call goes through the `caller` given
    (`volo.grpc.connect(...)`). Closing the client (`close()`, or the end of
    `async with`) closes the caller."""

    __pb_service__: ClassVar[Any] = None
    __http_rules__: ClassVar[tuple[HttpRule, ...]] = ()  # as the handler's

    def __init__(self, caller: Caller) -> None:
        self._caller = caller

    async def close(self) -> None:
        await self._caller.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
