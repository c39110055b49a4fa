"""The errors volo raises, each with a message of one sentence a user can act on."""

from __future__ import annotations


class TransportError(ConnectionError):
    """The connection failed before the call got its reply."""


class ConnectFailed(TransportError):
    """Connecting to an instance failed: the call was not sent (and may go elsewhere)."""


class CircuitOpen(TransportError):
    """The circuit breaker of every instance is open: the call was not sent."""


class CallTimeout(TimeoutError):
    """A call got no reply within its timeout."""

    @classmethod
    def after(cls, method: str, seconds: float) -> CallTimeout:
        return cls(f"{method}: no reply within {seconds:g} s")


class RequestTooLarge(ValueError):
    """A request over the client's `max_frame`: refused before anything was sent."""


class ServerStartError(OSError):
    """The server cannot listen: the address is in use, not allowed or not local."""
