"""volo: the asyncio RPC runtime for pilota-generated services.

This package is the protocol-neutral core: middleware (`volo.middleware`:
Service, Layer, Context and the built-in layers), metainfo (`volo.metainfo`),
timeouts, load balancing, addresses, errors and the server's life as a
process (`volo.lifecycle`). Each protocol lives beside it: `volo.thrift`.
"""

from volo import metainfo
from volo.address import parse_address
from volo.balance import hash_key
from volo.calls import timeout
from volo.errors import CallTimeout, RequestTooLarge, ServerStartError, TransportError

__all__ = [
    "CallTimeout",
    "RequestTooLarge",
    "ServerStartError",
    "TransportError",
    "hash_key",
    "metainfo",
    "parse_address",
    "timeout",
]
