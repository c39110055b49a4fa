"""volo: the asyncio Thrift RPC runtime for pilota-generated services."""

from pilota.runtime.service import ApplicationError
from volo.address import parse_address
from volo.balance import hash_key
from volo.calls import timeout
from volo.client import ClientTransport, Endpoint, connect
from volo.errors import CallTimeout, RequestTooLarge, ServerStartError, TransportError
from volo.framing import FrameError, Framing, WireFormat
from volo.server import Limits, Server, run

__all__ = [
    "ApplicationError",
    "CallTimeout",
    "ClientTransport",
    "Endpoint",
    "FrameError",
    "Framing",
    "Limits",
    "RequestTooLarge",
    "Server",
    "ServerStartError",
    "TransportError",
    "WireFormat",
    "connect",
    "hash_key",
    "parse_address",
    "run",
    "timeout",
]
