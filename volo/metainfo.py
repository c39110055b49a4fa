"""Metainfo: string key-values that travel with calls in TTHeader headers.

As in Kitex and Volo: a *persistent* value passes on with every downstream
call made while handling the request that brought it; a *transient* value
goes one hop only. On the wire they are TTHeader string headers prefixed
`RPC_PERSIST_` and `RPC_TRANSIT_`.

    volo.metainfo.set_persistent("tenant", "acme")   # before calling
    volo.metainfo.get("tenant")                      # in a handler: "acme"

Each request handled runs in its own context, so values never leak between
calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field

PERSISTENT_PREFIX = "RPC_PERSIST_"
TRANSIENT_PREFIX = "RPC_TRANSIT_"


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


def outgoing_headers() -> dict[str, str]:
    """The headers a call made now should carry."""
    info = _current.get()
    if info is None:
        return {}
    headers = {PERSISTENT_PREFIX + k: v for k, v in info.persistent.items()}
    headers.update({TRANSIENT_PREFIX + k: v for k, v in info.transient.items()})
    return headers


def receive(headers: Mapping[str, str]) -> None:
    """Install the metainfo that came with a request (server side)."""
    info = MetaInfo()
    for key, value in headers.items():
        if key.startswith(PERSISTENT_PREFIX):
            info.persistent[key[len(PERSISTENT_PREFIX) :]] = value
        elif key.startswith(TRANSIENT_PREFIX):
            info.received[key[len(TRANSIENT_PREFIX) :]] = value
    _current.set(info)
