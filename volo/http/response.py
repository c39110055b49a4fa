"""Responses, and what a handler's return value becomes:

- `str`: text/plain; `bytes`: application/octet-stream;
- dict, list, a generated Thrift struct (by field name, `volo.http.thrift_json`),
  a protobuf message (ProtoJSON) or a dataclass: application/json;
- None: 204 No Content;
- `(status, body)` and `(status, headers, body)`, body any of these;
- a `Response` (or `StreamingResponse`) as it is; an async iterator of str or
  bytes is streamed (chunked).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from typing import Any

from pilota.runtime.base import Struct
from pilota.runtime.protobuf.message import Message
from volo.http import thrift_json

Send = Any  # ASGI's send callable
HeaderItems = Mapping[str, str] | Iterable[tuple[str, str]]

TEXT = b"text/plain; charset=utf-8"
JSON = b"application/json"
OCTETS = b"application/octet-stream"


class Response:
    """A status, headers and a body. Headers are kept as ASGI sends them
    (lower-case names as bytes); `set_header` and `header` work in str."""

    __slots__ = ("body", "raw_headers", "status")

    def __init__(
        self,
        body: bytes | str = b"",
        status: int = 200,
        headers: HeaderItems | None = None,
        media_type: str | None = None,
    ) -> None:
        self.status = status
        self.body = body.encode() if isinstance(body, str) else body
        self.raw_headers: list[tuple[bytes, bytes]] = []
        if headers is not None:
            self.extend_headers(headers)
        if media_type is not None:
            self.set_header("content-type", media_type)

    def header(self, name: str) -> str | None:
        key = name.lower().encode("latin-1")
        for k, v in self.raw_headers:
            if k == key:
                return v.decode("latin-1")
        return None

    def set_header(self, name: str, value: str) -> None:
        """Set `name` to `value`, replacing any earlier value."""
        key = name.lower().encode("latin-1")
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != key]
        self.raw_headers.append((key, value.encode("latin-1")))

    def add_header(self, name: str, value: str) -> None:
        """Add a `name` header, keeping earlier ones (set-cookie, vary)."""
        self.raw_headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))

    def extend_headers(self, headers: HeaderItems) -> None:
        items = headers.items() if isinstance(headers, Mapping) else headers
        for name, value in items:
            self.add_header(name, value)

    def set_cookie(self, name: str, value: str, *, max_age: int | None = None,
                   path: str = "/", http_only: bool = True, secure: bool = False,
                   same_site: str = "lax") -> None:  # fmt: skip
        parts = [f"{name}={value}", f"Path={path}", f"SameSite={same_site}"]
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
        if http_only:
            parts.append("HttpOnly")
        if secure:
            parts.append("Secure")
        self.add_header("set-cookie", "; ".join(parts))

    async def send(self, send: Send, head_only: bool = False) -> None:
        headers = self.raw_headers
        for name, _ in headers:  # a loop, not any(): no generator per response
            if name == b"content-length":
                break
        else:
            headers = [*headers, (b"content-length", str(len(self.body)).encode())]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head_only else self.body})

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, body={self.body[:60]!r})"


class StreamingResponse(Response):
    """A body sent as `chunks` yields it (str is sent as UTF-8)."""

    __slots__ = ("chunks",)

    def __init__(
        self,
        chunks: AsyncIterable[bytes | str],
        status: int = 200,
        headers: HeaderItems | None = None,
        media_type: str | None = "application/octet-stream",
    ) -> None:
        super().__init__(b"", status, headers, media_type)
        self.chunks = chunks

    async def send(self, send: Send, head_only: bool = False) -> None:
        await send(
            {"type": "http.response.start", "status": self.status, "headers": self.raw_headers}
        )
        if not head_only:
            async for chunk in self.chunks:
                data = chunk.encode() if isinstance(chunk, str) else bytes(chunk)
                await send({"type": "http.response.body", "body": data, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


def json_response(value: Any, status: int = 200) -> Response:
    response = Response(dumps(value), status)
    response.raw_headers.append((b"content-type", JSON))
    return response


def dumps(value: Any) -> bytes:
    """`value` as compact UTF-8 JSON; generated classes and dataclasses inside too."""
    if isinstance(value, Struct):
        value = thrift_json.to_jsonable(value)
    return _encoder.encode(value).encode()


_dataclass_fields: dict[type, tuple[str, ...]] = {}


def _jsonable(value: Any) -> Any:
    names = _dataclass_fields.get(type(value))  # only types that are neither of the next two
    if names is not None:
        return {name: getattr(value, name) for name in names}
    if isinstance(value, Struct):
        return thrift_json.to_jsonable(value)
    if isinstance(value, Message):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _dataclass_fields[type(value)] = tuple(f.name for f in dataclasses.fields(value))
        return {name: getattr(value, name) for name in names}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# One encoder for every response: json.dumps with options makes one per call.
_encoder = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), default=_jsonable, allow_nan=False
)


# Dataclasses into_response has met, none of the kinds it checks before them: the
# checks depend on the type alone, so the next value of one goes straight to JSON.
_dataclass_kinds: set[type] = set()


def into_response(value: Any) -> Response:
    """What a handler's return value becomes (see the module docstring)."""
    kind = type(value)
    if kind is str:
        response = Response(value.encode())
        response.raw_headers.append((b"content-type", TEXT))
        return response
    if kind is dict or kind is list or kind in _dataclass_kinds:
        return json_response(value)
    if isinstance(value, Response):
        return value
    if isinstance(value, str):
        response = Response(value.encode())
        response.raw_headers.append((b"content-type", TEXT))
        return response
    if isinstance(value, bytes):
        response = Response(value)
        response.raw_headers.append((b"content-type", OCTETS))
        return response
    if isinstance(value, dict | list | Struct):
        return json_response(value)
    if isinstance(value, Message):
        response = Response(value.to_json().encode())
        response.raw_headers.append((b"content-type", JSON))
        return response
    if value is None:
        return Response(status=204)
    if isinstance(value, tuple):
        return _from_tuple(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        _dataclass_kinds.add(kind)
        return json_response(value)
    if isinstance(value, AsyncIterator):
        return StreamingResponse(value)
    raise TypeError(
        f"a handler returned {type(value).__name__}, which is not a response: return str, "
        "bytes, a dict or list, a generated class, a dataclass, (status, body), "
        "(status, headers, body) or a Response"
    )


def _from_tuple(value: tuple[Any, ...]) -> Response:
    if len(value) == 2 and isinstance(value[0], int):
        response = into_response(value[1])
        response.status = value[0]
        return response
    if len(value) == 3 and isinstance(value[0], int):
        response = into_response(value[2])
        response.status = value[0]
        headers = value[1]
        for name, header in headers.items() if isinstance(headers, Mapping) else headers:
            response.set_header(name, header)
        return response
    raise TypeError(
        f"a handler returned a tuple of {len(value)}: expected (status, body) or "
        "(status, headers, body)"
    )
