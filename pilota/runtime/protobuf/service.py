"""What generated code says about a protobuf service: its methods."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from pilota.runtime.protobuf.message import Message

Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)


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
