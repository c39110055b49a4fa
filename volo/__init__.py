"""volo: the asyncio RPC runtime for pilota-generated services.

This package is the protocol-neutral core: middleware (`volo.middleware`:
Service, Layer, Context and the built-in layers), metainfo (`volo.metainfo`),
timeouts, load balancing, addresses, errors and the server's life as a
process (`volo.lifecycle`), and `volo.call_context()`, which tells a handler
about the call it handles. Each protocol lives beside it: `volo.thrift` and
`volo.grpc`.
"""

from volo import metainfo
from volo.address import parse_address
from volo.balance import hash_key
from volo.calls import call_context, timeout
from volo.errors import CallTimeout, RequestTooLarge, ServerStartError, TransportError

__all__ = [
    "CallTimeout",
    "RequestTooLarge",
    "ServerStartError",
    "TransportError",
    "call_context",
    "hash_key",
    "metainfo",
    "parse_address",
    "timeout",
]
