"""`HOST:PORT` as users write it: on command lines, in configuration, to `connect`."""

from __future__ import annotations


def parse_address(text: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """`"host:port"`, `":port"` (the default host) or `"[IPv6 address]:port"` as
    (host, port); anything else is a ValueError of one sentence."""
    if text.startswith("["):  # [::1]:8080
        host, bracket, rest = text[1:].partition("]")
        colon, port = rest[:1], rest[1:]
        if not bracket or not host or rest[:1] not in ("", ":"):
            raise ValueError(f"bad address {text!r}: expected [IPV6]:PORT, e.g. '[::1]:8080'")
    else:
        host, colon, port = text.rpartition(":")
        if ":" in host:
            raise ValueError(
                f"bad address {text!r}: an IPv6 address goes in brackets, e.g. '[::1]:8080'"
            )
    if not colon:
        example = f"{text or 'localhost'}:8080"
        raise ValueError(f"address {text!r} has no port: expected HOST:PORT, e.g. {example!r}")
    if not (port.isascii() and port.isdigit()) or int(port) > 65535:
        raise ValueError(f"bad address {text!r}: the port must be a number from 0 to 65535")
    return host or default_host, int(port)


def format_address(host: str, port: int) -> str:
    """`host:port` as `parse_address` reads it back: an IPv6 host in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
