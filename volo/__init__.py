"""volo: the asyncio Thrift RPC runtime for pilota-generated services."""

from volo.client import CallTimeout, ClientTransport, TransportError, connect, timeout
from volo.framing import FrameError, Framing, WireFormat
from volo.server import Server, run

__all__ = [
    "CallTimeout",
    "ClientTransport",
    "FrameError",
    "Framing",
    "Server",
    "TransportError",
    "WireFormat",
    "connect",
    "run",
    "timeout",
]
