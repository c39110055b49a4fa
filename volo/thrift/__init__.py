"""volo.thrift: Thrift services over TCP (framed, buffered, THeader), for
pilota-generated handlers and clients."""

from pilota.runtime.service import ApplicationError
from volo.thrift.client import ClientTransport, Endpoint, connect
from volo.thrift.framing import FrameError, Framing, WireFormat
from volo.thrift.server import Limits, Server, run

__all__ = [
    "ApplicationError",
    "ClientTransport",
    "Endpoint",
    "FrameError",
    "Framing",
    "Limits",
    "Server",
    "WireFormat",
    "connect",
    "run",
]
