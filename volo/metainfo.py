"""Metainfo: string key-values that travel with calls, whatever their protocol.

As in Kitex and Volo: a *persistent* value passes on with every downstream
call made while handling the request that brought it; a *transient* value
goes one hop only. On the wire they are headers with a prefix per kind:
TTHeader string headers prefixed `RPC_PERSIST_` and `RPC_TRANSIT_` (Thrift),
gRPC metadata prefixed `rpc-persist-` and `rpc-transit-` (as Volo's HTTP/2
metainfo). gRPC metadata keys are lower case: use lower-case keys for values
that cross both protocols.

    volo.metainfo.set_persistent("tenant", "acme")   # before calling
    volo.metainfo.get("tenant")                      # in a handler: "acme"

Each request handled runs in its own context, so values never leak between
calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import NamedTuple


class Prefixes(NamedTuple):
    """How a protocol marks metainfo among its headers."""

    persistent: str
    transient: str


TTHEADER = Prefixes("RPC_PERSIST_", "RPC_TRANSIT_")
GRPC = Prefixes("rpc-persist-", "rpc-transit-")


@dataclass
class MetaInfo:
    persistent: dict[str, str] = field(default_factory=dict)
    transient: dict[str, str] = field(default_factory=dict)  # to send, one hop
    received: dict[str, str] = field(default_factory=dict)  # transient values that came in

    def copy(self) -> MetaInfo:
        return MetaInfo(dict(self.persistent), dict(self.transient), dict(self.received))


_current: ContextVar[MetaInfo | None] = ContextVar("volo_metainfo", default=None)


def _mine() -> MetaInfo:
    """This context's metainfo, copied on first write so that a caller's is never changed."""
    info = _current.get()
    info = MetaInfo() if info is None else info.copy()
    _current.set(info)
    return info


def get(key: str) -> str | None:
    """A value received with the current request, or set in this context."""
    info = _current.get()
    if info is None:
        return None
    for source in (info.transient, info.persistent, info.received):
        if key in source:
            return source[key]
    return None


def set_persistent(key: str, value: str) -> None:
    _mine().persistent[key] = value


def set_transient(key: str, value: str) -> None:
    _mine().transient[key] = value


def outgoing_headers(prefixes: Prefixes = TTHEADER) -> dict[str, str]:
    """The headers a call made now should carry."""
    info = _current.get()
    if info is None:
        return {}
    persistent, transient = prefixes
    headers = {persistent + k: v for k, v in info.persistent.items()}
    headers.update({transient + k: v for k, v in info.transient.items()})
    return headers


def receive(headers: Mapping[str, str], prefixes: Prefixes = TTHEADER) -> None:
    """Install the metainfo that came with a request (server side)."""
    info = MetaInfo()
    persistent, transient = prefixes
    for key, value in headers.items():
        if key.startswith(persistent):
            info.persistent[key[len(persistent) :]] = value
        elif key.startswith(transient):
            info.received[key[len(transient) :]] = value
    _current.set(info)
