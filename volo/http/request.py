"""The request a handler (or a layer) sees: an ASGI HTTP scope and its body."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl

from volo.decoding import MAX_LOOP_DECODE
from volo.http.errors import HTTPError

# ASGI's scope and messages, typed as ASGI servers and clients type them.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


class Headers(Mapping[str, str]):
    """Request headers by lower-case name; `get_all` for a repeated one."""

    __slots__ = ("_first", "_pairs")

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self._pairs = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in raw]
        first: dict[str, str] = {}
        for key, value in self._pairs:
            first.setdefault(key, value)
        self._first = first

    def __getitem__(self, name: str) -> str:
        return self._first[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._first

    def __iter__(self) -> Iterator[str]:
        return iter(self._first)

    def __len__(self) -> int:
        return len(self._first)

    def get_all(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self._pairs if key == name]

    def to_dict(self) -> dict[str, str]:
        """Each name's first value, in a new dict: `dict(headers)` without a lookup per name."""
        return self._first.copy()

    def __repr__(self) -> str:
        return f"Headers({self._pairs!r})"


class QueryParams(Mapping[str, str]):
    """The query string's parameters: the first value by name; `get_all` for all."""

    __slots__ = ("_first", "_pairs")

    def __init__(self, query_string: str) -> None:
        if "%" in query_string or "+" in query_string:
            self._pairs = parse_qsl(query_string, keep_blank_values=True)
        else:  # nothing to unquote: parse_qsl's split, without its two calls per field
            self._pairs = []
            for field in query_string.split("&"):
                if field:
                    name, _, value = field.partition("=")
                    self._pairs.append((name, value))
        first: dict[str, str] = {}
        for key, value in self._pairs:
            if key not in first:
                first[key] = value
        self._first = first

    def __getitem__(self, name: str) -> str:
        return self._first[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._first)

    def __len__(self) -> int:
        return len(self._first)

    def get_all(self, name: str) -> list[str]:
        return [value for key, value in self._pairs if key == name]


class Request:
    """One HTTP request: method, path, headers, query, cookies, path parameters,
    the app's state and the body (read once, at most `max_body` bytes; its
    arguments decoded on volo's decoding thread over `max_loop_decode`)."""

    __slots__ = (
        "_body",
        "_cookies",
        "_headers",
        "_query",
        "_receive",
        "max_body",
        "max_loop_decode",
        "path_params",
        "scope",
        "state",
    )

    def __init__(
        self,
        scope: Scope,
        receive: Any,
        path_params: dict[str, str] | None = None,
        state: Any = None,
        max_body: int = 1 << 20,
        max_loop_decode: int | None = MAX_LOOP_DECODE,
    ) -> None:
        self.scope = scope
        self._receive = receive
        self.path_params: dict[str, str] = path_params if path_params is not None else {}
        self.state = state
        self.max_body = max_body
        self.max_loop_decode = max_loop_decode
        self._body: bytes | None = None
        self._headers: Headers | None = None
        self._query: QueryParams | None = None
        self._cookies: dict[str, str] | None = None

    @property
    def method(self) -> str:
        return str(self.scope["method"])

    @property
    def path(self) -> str:
        return str(self.scope["path"])

    @property
    def peer(self) -> str:
        """The client's address, host:port ("" when the server does not say)."""
        client = self.scope.get("client")
        return f"{client[0]}:{client[1]}" if client else ""

    @property
    def headers(self) -> Headers:
        if self._headers is None:
            self._headers = Headers(self.scope["headers"])
        return self._headers

    @property
    def query(self) -> QueryParams:
        if self._query is None:
            self._query = QueryParams(self.scope.get("query_string", b"").decode("latin-1"))
        return self._query

    @property
    def cookies(self) -> dict[str, str]:
        if self._cookies is None:
            cookies: dict[str, str] = {}
            for header in self.headers.get_all("cookie"):
                jar: SimpleCookie = SimpleCookie()
                try:
                    jar.load(header)
                except CookieError:
                    continue  # a malformed Cookie header: as if it were not sent
                cookies.update({key: morsel.value for key, morsel in jar.items()})
            self._cookies = cookies
        return self._cookies

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower case ("" when not given)."""
        return self.headers.get("content-type", "").partition(";")[0].strip().lower()

    async def body(self) -> bytes:
        """The whole body; a body over `max_body` bytes is answered 413."""
        if self._body is not None:
            return self._body
        length = self.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            raise _too_large(self.max_body)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise HTTPError(400, "the client went away before sending the whole body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise _too_large(self.max_body)
            if not message.get("more_body", False):
                if not chunks and type(chunk) is bytes:  # the whole body in one message
                    self._body = chunk
                    return chunk
                chunks.append(chunk)
                break
            chunks.append(chunk)
        self._body = b"".join(chunks)
        return self._body


def _too_large(limit: int) -> HTTPError:
    return HTTPError(413, f"body: the body is over {limit} bytes", where="body")
