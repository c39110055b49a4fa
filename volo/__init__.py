"""volo: the asyncio Thrift RPC runtime for pilota-generated services."""

from volo.client import (
    CallTimeout,
    ClientTransport,
    Endpoint,
    TransportError,
    connect,
    hash_key,
    parse_address,
    timeout,
)
from volo.framing import FrameError, Framing, WireFormat
from volo.server import Server, run

__all__ = [
    "CallTimeout",
    "ClientTransport",
    "Endpoint",
    "FrameError",
    "Framing",
    "Server",
    "TransportError",
    "WireFormat",
    "connect",
    "hash_key",
    "parse_address",
    "run",
    "timeout",
]
