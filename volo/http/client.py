"""A typed HTTP client for HTTP APIs generated from Thrift IDL, on httpx.

The generated client class (`StoreClient`) is the typed client: `connect`
gives it a caller that sends each method as the IDL's HTTP annotations say
(`__http_routes__`), the same bindings the server reads, and reads the reply
as the server writes it (JSON by field name, a declared exception as
`{"error": ..., "exception": ...}`):

    async with volo.http.connect(StoreClient, "http://127.0.0.1:8000") as store:
        item = await store.GetItem(GetItemRequest(id=1))   # GET /items/1

Several base URLs are balanced as the RPC clients balance addresses
(`balance`: "round_robin", "weighted_random", "consistent_hash", with
`volo.hash_key`); metainfo travels as `rpc-persist-`/`rpc-transit-` headers;
`volo.timeout` blocks and a handler's deadline bound each call; `layers` are
volo's client layers (their Context has protocol "http"). A method the IDL
does not route over HTTP raises ValueError; an answer that is not the
method's raises `volo.http.HTTPError` (its status and message); a connection
that fails `volo.TransportError`, a call over its time `volo.CallTimeout`.
"""

from __future__ import annotations

import base64
import enum
from collections.abc import Coroutine, Generator, Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from pilota.runtime import protobuf as pb
from pilota.runtime.base import Struct
from pilota.runtime.protobuf import FieldSpec as PbField
from pilota.runtime.protobuf import HttpRule as PbHttpRule
from pilota.runtime.protobuf import Message
from pilota.runtime.protobuf import Method as PbMethod
from pilota.runtime.service import Client, HttpRoute
from pilota.runtime.types import BINARY, BOOL, ENUM, LIST, SET, DecodeError, TypeSpec
from volo import metainfo
from volo.balance import current_hash_key, make_balancer
from volo.calls import call_timeout
from volo.errors import CallTimeout, TransportError
from volo.http import thrift_json
from volo.http.errors import HTTPError
from volo.http.idl import _template_segments
from volo.middleware import Context, Layer, stack

C = TypeVar("C", bound=Client | pb.Client)
Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)


class BaseURL:
    """One server, as balancers see it: `str()` is its URL."""

    def __init__(self, url: str, weight: int = 1) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"bad base URL {url!r}: expected http://HOST:PORT or https://...")
        self.url = url.rstrip("/")
        self.weight = weight

    def __str__(self) -> str:
        return self.url


def connect(
    client_class: type[C],
    base_urls: str | Sequence[str],
    *,
    timeout: float | None = 5.0,
    balance: str = "round_robin",
    layers: Sequence[Layer] = (),
    http_client: httpx.AsyncClient | None = None,
) -> C:
    """A `client_class` (a generated Thrift or protobuf client) whose calls go
    over HTTP to `base_urls`."""
    urls = [base_urls] if isinstance(base_urls, str) else list(base_urls)
    if not urls:
        raise ValueError("a client needs at least one base URL")
    endpoints = [BaseURL(u) for u in urls]
    if issubclass(client_class, pb.Client):
        if not client_class.__http_rules__:
            raise ValueError(f"{client_class.__name__}: its .proto routes no rpc over HTTP")
        pb_caller = PbHttpCaller(client_class.__http_rules__, client_class.__pb_service__,
                                 endpoints, timeout=timeout, balance=balance, layers=layers,
                                 http_client=http_client)  # fmt: skip
        return client_class(pb_caller)  # type: ignore[arg-type]
    if not client_class.__http_routes__:
        raise ValueError(f"{client_class.__name__}: its IDL routes no method over HTTP")
    caller = HttpCaller(client_class.__http_routes__, endpoints, timeout=timeout,
                        balance=balance, layers=layers, http_client=http_client)  # fmt: skip
    return client_class(caller)


class HttpCaller:
    """A generated client's Caller that sends calls as HTTP requests."""

    def __init__(
        self,
        routes: Sequence[HttpRoute],
        endpoints: Sequence[BaseURL],
        *,
        timeout: float | None,
        balance: str,
        layers: Sequence[Layer],
        http_client: httpx.AsyncClient | None,
    ) -> None:
        self.routes = {route.name: route for route in routes}
        self.timeout = timeout
        self.balancer = make_balancer(balance, list(endpoints))
        self.http = http_client or httpx.AsyncClient()
        self.pipeline = stack(_Send(self), layers)

    async def call(
        self,
        service: str,
        method: str,
        args: Struct,
        result_class: type[Struct] | None,
        oneway: bool,
    ) -> Struct | None:
        route = self.routes.get(method)
        if route is None:
            raise ValueError(f"{service}.{method} is not routed over HTTP in its IDL")
        endpoint = self.balancer.pick(current_hash_key())
        ctx = Context(service, method, oneway, "client", str(endpoint),
                      metainfo.outgoing_headers(metainfo.GRPC), call_timeout(None, self.timeout),
                      result_class, endpoint, protocol="http")  # fmt: skip
        result: Struct | None = await self.pipeline.call(ctx, (route, args))
        return result

    async def close(self) -> None:
        await self.http.aclose()


class _Send:
    def __init__(self, caller: HttpCaller) -> None:
        self.caller = caller

    async def call(self, ctx: Context, request: tuple[HttpRoute, Struct]) -> Struct | None:
        route, args = request
        built = _request(route, args, f"{ctx.endpoint}", ctx.headers)
        return _result(ctx.result_class, await _send(self.caller.http, built, ctx))


async def _send(http: httpx.AsyncClient, built: dict[str, Any], ctx: Context) -> httpx.Response:
    try:
        return await http.send(http.build_request(**built, timeout=ctx.timeout))
    except httpx.TimeoutException:
        raise CallTimeout.after(f"{ctx.service}.{ctx.method}", ctx.timeout or 0) from None
    except httpx.HTTPError as exc:
        raise TransportError(f"{ctx.service}.{ctx.method} to {ctx.endpoint}: {exc}") from exc


def _request(route: HttpRoute, args: Struct, base: str, headers: dict[str, str]) -> dict[str, Any]:
    """httpx.build_request's arguments for one call."""
    path_values: dict[str, str] = {}
    query: list[tuple[str, str]] = []
    form: list[tuple[str, str]] = []
    cookies: list[str] = []
    body: dict[str, Any] = {}
    whole: Any = None
    headers = dict(headers)
    for binding in route.bindings:
        owner: Any = getattr(args, binding.arg)
        spec = _spec_of(type(args), binding.arg)
        if binding.field is not None:
            if owner is None:
                continue
            spec = _spec_of(type(owner), binding.field)
            value = getattr(owner, binding.field)
        else:
            value = owner
        if value is None:
            continue
        if binding.source == "body":
            jsonable = thrift_json.value_to_jsonable(spec.type, value)
            if binding.key:
                body[binding.key] = jsonable
            else:
                whole = jsonable
            continue
        texts = _texts(spec.type, value)
        if binding.source == "path":
            path_values[binding.key] = quote(texts[0], safe="")
        elif binding.source == "query":
            query += [(binding.key, t) for t in texts]
        elif binding.source == "header":
            headers[binding.key] = texts[0]
        elif binding.source == "cookie":
            cookies.append(f"{binding.key}={texts[0]}")
        else:
            form += [(binding.key, t) for t in texts]
    if cookies:
        headers["cookie"] = "; ".join(cookies)
    segments = []
    for segment in route.path.split("/"):
        if segment.startswith(":"):
            segment = path_values.get(segment[1:], "")
        elif segment.startswith("{") and segment.endswith("}"):
            segment = path_values.get(segment[1:-1].lstrip("*"), "")
        segments.append(segment)
    built: dict[str, Any] = {"method": route.method, "url": base + "/".join(segments),
                             "params": query, "headers": headers}  # fmt: skip
    if whole is not None:
        if isinstance(whole, dict):
            whole.update(body)
        built["json"] = whole
    elif body:
        built["json"] = body
    elif form:
        built["data"] = dict(form)
    return built


def _spec_of(cls: type[Struct], name: str) -> Any:
    return next(f for f in cls.__thrift_spec__ if f.name == name)


def _texts(t: TypeSpec, value: Any) -> list[str]:
    code = t if isinstance(t, int) else t[0]
    if code in (LIST, SET):
        return [_text(t[1], item) for item in value]  # type: ignore[index]
    return [_text(t, value)]


def _text(t: TypeSpec, value: Any) -> str:
    code = t if isinstance(t, int) else t[0]
    if code == BOOL:
        return "true" if value else "false"
    if code == ENUM or isinstance(value, enum.IntEnum):
        return str(int(value))
    if code == BINARY:
        return bytes(value).decode("utf-8", "surrogateescape")
    return str(value)


def _result(result_class: type[Struct] | None, response: httpx.Response) -> Struct | None:
    """The result struct an RPC reply would carry: the value, or the declared exception."""
    if result_class is None:
        return None
    specs = result_class.__thrift_spec__
    if response.status_code == 204:
        return result_class()
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.is_success:
        success = next((f for f in specs if f.id == 0), None)
        if success is None:
            return result_class()
        try:
            value = thrift_json.value_from_jsonable(success.type, data)
        except DecodeError as exc:
            raise HTTPError(502, f"the reply is not the method's result: {exc}") from None
        return result_class(**{success.name: value})
    if isinstance(data, dict) and isinstance(data.get("exception"), dict):
        for spec in specs:
            cls = spec.type[1] if isinstance(spec.type, tuple) else None
            if spec.id != 0 and cls is not None and cls.__name__ == data.get("error"):
                try:
                    exc_value = thrift_json.from_jsonable(cls, data["exception"])
                except DecodeError:
                    break
                return result_class(**{spec.name: exc_value})
    message = data.get("error") if isinstance(data, dict) else None
    text = message or response.text or response.reason_phrase
    raise HTTPError(response.status_code, str(text))


# ---- protobuf: the generated client over google.api.http rules ----------------------------


class PbHttpCaller:
    """A generated protobuf client's Caller that sends its unary rpcs as the
    `google.api.http` rules say (gRPC transcoding, the server's reading reversed)."""

    def __init__(
        self,
        rules: Sequence[PbHttpRule],
        service: Any,
        endpoints: Sequence[BaseURL],
        *,
        timeout: float | None,
        balance: str,
        layers: Sequence[Layer],
        http_client: httpx.AsyncClient | None,
    ) -> None:
        self.service = service
        self.rules: dict[str, PbHttpRule] = {}
        for rule in rules:  # the first rule of an rpc is the one it is sent by
            self.rules.setdefault(getattr(service, rule.rpc).name, rule)
        self.timeout = timeout
        self.balancer = make_balancer(balance, list(endpoints))
        self.http = http_client or httpx.AsyncClient()
        self.pipeline = stack(_PbSend(self), layers)

    def unary_unary(
        self, method: PbMethod[Req, Resp], request: Req, timeout: float | None,
        metadata: Mapping[str, str] | None,
    ) -> _PbCall[Resp]:  # fmt: skip
        return _PbCall(self._run(method, request, timeout, metadata))

    def unary_stream(self, method: PbMethod[Req, Resp], request: Req, timeout: float | None,
                     metadata: Mapping[str, str] | None) -> Any:  # fmt: skip
        raise ValueError(f"{method.path}: streaming rpcs are not sent over HTTP")

    stream_unary = stream_stream = unary_stream

    async def _run(
        self, method: PbMethod[Req, Resp], request: Req, timeout: float | None,
        metadata: Mapping[str, str] | None,
    ) -> Resp:  # fmt: skip
        rule = self.rules.get(method.name)
        if rule is None:
            raise ValueError(f"{method.path} has no google.api.http rule: it is not sent over HTTP")
        endpoint = self.balancer.pick(current_hash_key())
        headers = {**metainfo.outgoing_headers(metainfo.GRPC), **(metadata or {})}
        ctx = Context(self.service.__pb_name__, method.name, side="client", peer=str(endpoint),
                      headers=headers, timeout=call_timeout(timeout, self.timeout),
                      endpoint=endpoint, protocol="http")  # fmt: skip
        response: Resp = await self.pipeline.call(ctx, (rule, method, request))
        return response

    async def close(self) -> None:
        await self.http.aclose()


class _PbCall(Generic[Resp]):
    """A call with one response: `await` it (`metadata`: the reply's headers)."""

    def __init__(self, run: Coroutine[Any, Any, Resp]) -> None:
        self._run = run
        self.metadata: dict[str, str] = {}

    def __await__(self) -> Generator[Any, None, Resp]:
        return self._run.__await__()


class _PbSend:
    def __init__(self, caller: PbHttpCaller) -> None:
        self.caller = caller

    async def call(
        self, ctx: Context, request: tuple[PbHttpRule, PbMethod[Any, Any], Message]
    ) -> Any:
        rule, method, message = request
        built = _pb_request(rule, message, str(ctx.endpoint), ctx.headers)
        response = await _send(self.caller.http, built, ctx)
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.is_success:
            if rule.response_body:
                spec = _pb_field(method.response, rule.response_body)
                data = {spec.json_name or spec.name: data}
            try:
                return method.response.from_dict(data)
            except (DecodeError, TypeError) as exc:
                what = method.response.__name__
                raise HTTPError(502, f"the reply is not a {what}: {exc}") from None
        if isinstance(data, dict) and isinstance(data.get("code"), int):
            raise _status_error(data["code"], str(data.get("message", "")), response)
        text = data.get("error") if isinstance(data, dict) else None
        raise HTTPError(response.status_code, str(text or response.text or response.reason_phrase))


def _status_error(code: int, message: str, response: httpx.Response) -> Exception:
    """gRPC's own error when volo.grpc is there (a client of a gRPC API expects
    it); else an HTTPError."""
    try:
        from volo.grpc.status import Code, StatusError
    except ImportError:
        return HTTPError(response.status_code, message)
    return StatusError(Code(code), message)


def _pb_field(cls: type[Message], name: str) -> PbField:
    return next(f for f in cls.__pb_fields__ if name in (f.name, f.proto_name, f.json_name))


def _pb_request(
    rule: PbHttpRule, message: Message, base: str, headers: dict[str, str]
) -> dict[str, Any]:
    """httpx.build_request's arguments for one rpc."""
    data: dict[str, Any] = message.to_dict(proto_names=True)
    segments = []
    for segment in _template_segments(rule.path):
        if not (segment.startswith("{") and segment.endswith("}")):
            segments.append(segment)
            continue
        dotted, _, pattern = segment[1:-1].partition("=")
        value: Any = message
        names = []
        for part in dotted.split("."):
            spec = _pb_field(type(value), part)
            names.append(spec.proto_name or spec.name)
            value = getattr(value, spec.name)
        segments.append(quote(_pb_text(value), safe="/" if pattern == "**" else ""))
        _drop(data, names)  # sent in the path, not again in the query or the body
    built: dict[str, Any] = {
        "method": rule.method, "url": base + "/".join(segments), "headers": headers,
    }  # fmt: skip
    if rule.body == "*":
        built["json"] = data
        return built
    if rule.body:
        spec = _pb_field(type(message), rule.body)
        built["json"] = data.pop(spec.proto_name or spec.name, {})
    built["params"] = list(_flatten(data, ""))
    return built


def _pb_text(value: Any) -> str:
    """A path variable's value as text, as ProtoJSON writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.IntEnum):
        return value.name
    if isinstance(value, bytes):
        return base64.urlsafe_b64encode(value).decode("ascii")
    return str(value)


def _drop(data: dict[str, Any], names: list[str]) -> None:
    for name in names[:-1]:
        inner = data.get(name)
        if not isinstance(inner, dict):
            return
        data = inner
    data.pop(names[-1], None)


def _flatten(data: dict[str, Any], prefix: str) -> Iterator[tuple[str, str]]:
    """A ProtoJSON object as query parameters: nested fields dotted, repeated ones
    repeated (repeated messages and maps have no query form: they are left out)."""
    for key, value in data.items():
        name = prefix + key
        if isinstance(value, dict):
            yield from _flatten(value, name + ".")
        elif isinstance(value, list):
            yield from ((name, _json_text(item)) for item in value if not isinstance(item, dict))
        else:
            yield name, _json_text(value)


def _json_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
