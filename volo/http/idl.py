"""HTTP APIs generated from Thrift IDL: the handler the RPC server serves,
served over HTTP as its IDL's annotations say (Hertz's convention).

    service Store {
        Item GetItem(1: GetItemRequest req) (api.get = "/items/:id"),
    }
    struct GetItemRequest {
        1: i64 id (api.path = "id"),
        2: optional bool verbose (api.query = "verbose"),
        3: optional string trace (api.header = "X-Trace"),
    }

    handler = StoreImpl()                        # a subclass of the generated StoreHandler
    router = volo.http.handler_router(handler)   # an ASGI app: GET /items/:id
    server = volo.thrift.Server(handler, ...)     # the same handler over RPC

The generator turns the annotations into the handler class's `__http_routes__`:
each route fills the method's arguments from the request (`api.path`,
`api.query`, `api.header`, `api.cookie`, `api.form`, `api.body`; a value
without one comes from the body for POST, PUT and PATCH, else from the query)
and answers with the method's result as JSON, by field name (`thrift_json`);
a void method answers 204. Bad input is a 400 naming the value; a declared
exception is answered with the status `statuses` gives its class (500 when
not given) and `{"error": "<ExceptionName>", "exception": {its fields}}`.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from pilota.runtime import protobuf as pb
from pilota.runtime.base import Struct
from pilota.runtime.protobuf import FieldSpec as PbField
from pilota.runtime.protobuf import Handler as PbHandler
from pilota.runtime.protobuf import HttpRule as PbHttpRule
from pilota.runtime.protobuf import Message, Unimplemented
from pilota.runtime.protobuf import Method as PbMethod
from pilota.runtime.service import Handler, HttpBinding, HttpRoute, Method
from pilota.runtime.types import (
    BINARY,
    BOOL,
    DOUBLE,
    ENUM,
    INT_RANGES,
    LIST,
    REQUIRED,
    SET,
    STRUCT,
    UUID,
    DecodeError,
    FieldSpec,
    TypeSpec,
)
from volo import decoding
from volo.http import thrift_json
from volo.http.errors import HTTPError, bad_input
from volo.http.extract import json_body, scalar_parser
from volo.http.request import QueryParams, Request
from volo.http.response import Response, json_response
from volo.http.routing import Router, path_params
from volo.middleware import Context, Layer

_BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def handler_router(
    handler: Handler | PbHandler,
    *,
    layers: Sequence[Layer] = (),
    statuses: Mapping[type[Exception], int] | None = None,
    max_body: int = 1 << 20,
    max_loop_decode: int | None = decoding.MAX_LOOP_DECODE,
) -> Router:
    """A Router serving the methods of `handler` that its IDL routes over HTTP;
    `layers` wrap them all (the router's name is the service's; `max_body`
    and `max_loop_decode` are its, see Router). A Thrift
    handler's declared exceptions are answered with the status `statuses`
    gives their class; a protobuf handler's gRPC status errors as gRPC
    transcoding maps their codes."""
    if isinstance(handler, PbHandler):
        return rules_router(handler, layers=layers, max_body=max_body,
                            max_loop_decode=max_loop_decode)  # fmt: skip
    cls = type(handler)
    if not cls.__http_routes__:
        raise ValueError(
            f"{cls.__name__}: its IDL routes no method over HTTP (annotate methods with "
            'api.get = "/path" ...)'
        )
    router = Router(layers=layers, name=cls.__thrift_service__, max_body=max_body,
                    max_loop_decode=max_loop_decode)  # fmt: skip
    for route in cls.__http_routes__:
        method = cls.__thrift_methods__[route.name]
        _check_path_bindings(cls.__thrift_service__, route)
        router.add_service(route.method, route.path, _Endpoint(handler, method, route,
                                                               dict(statuses or {})))  # fmt: skip
    return router


def _check_path_bindings(service: str, route: HttpRoute) -> None:
    """Each `api.path` names a parameter of the route, and each parameter is bound."""
    params = set(path_params(route.path))
    bound = {b.key for b in route.bindings if b.source == "path"}
    where = f"{service}.{route.name} ({route.method} {route.path})"
    for key in sorted(bound - params):
        raise ValueError(f'{where}: api.path = "{key}" names no parameter of the route')
    for key in sorted(params - bound):
        raise ValueError(f"{where}: the route's parameter {key!r} has no api.path value")


class _Value:
    """One binding, worked out when the router is made."""

    __slots__ = ("arg", "field", "key", "source", "spec")

    def __init__(self, binding: HttpBinding, spec: FieldSpec) -> None:
        self.arg = binding.arg
        self.field = binding.field
        self.source = binding.source
        self.key = binding.key
        self.spec = spec


class _Endpoint:
    """A method of a generated handler as an HTTP Service."""

    def __init__(
        self,
        handler: Handler,
        method: Method,
        route: HttpRoute,
        statuses: dict[type[Exception], int],
    ) -> None:
        self.call_method = getattr(handler, method.python_name)
        self.args_class = method.args
        self.route = route
        self.statuses = statuses
        args = {spec.name: spec for spec in method.args.__thrift_spec__}
        # An argument filled field by field: its struct class.
        self.structs: dict[str, type[Struct]] = {}
        self.values: list[_Value] = []
        for binding in route.bindings:
            spec = args[binding.arg]
            if binding.field is not None:
                struct = _struct_class(spec.type)
                self.structs[binding.arg] = struct
                spec = next(f for f in struct.__thrift_spec__ if f.name == binding.field)
            self.values.append(_Value(binding, spec))
        self.reads_body = any(v.source in ("body", "form") for v in self.values)
        self.result: FieldSpec | None = None
        self.exceptions: tuple[type[Exception], ...] = ()
        if method.result is not None:
            specs = method.result.__thrift_spec__
            self.result = next((f for f in specs if f.id == 0), None)
            self.exceptions = tuple(_struct_class(f.type) for f in specs if f.id != 0)  # type: ignore[misc]

    async def call(self, ctx: Context | None, request: Request) -> Response:
        raw = await request.body() if self.reads_body else b""
        most = request.max_loop_decode
        kwargs = await decoding.decoded(len(raw), most, self.arguments, request, raw)
        try:
            result = await self.call_method(**kwargs)
        except self.exceptions as exc:
            assert isinstance(exc, Struct)
            status = next((s for cls, s in self.statuses.items() if isinstance(exc, cls)), 500)
            return json_response(
                {"error": type(exc).__name__, "exception": thrift_json.to_jsonable(exc)}, status
            )
        if self.result is None or result is None:
            return Response(status=204)
        return json_response(thrift_json.value_to_jsonable(self.result.type, result))

    def arguments(self, request: Request, raw: bytes) -> dict[str, Any]:
        """The method's arguments, from the request and its body `raw`."""
        body: Any = None
        form: QueryParams | None = None
        if self.reads_body:
            if any(v.source == "body" for v in self.values):
                body = _json_body(request, raw)
            if any(v.source == "form" for v in self.values):
                form = _form_body(request, raw)
        kwargs: dict[str, Any] = {}
        fields: dict[str, dict[str, Any]] = {arg: {} for arg in self.structs}
        for value in self.values:
            found = _fetch(value, request, body, form)
            if found is None:
                if value.spec.required == REQUIRED:
                    raise bad_input(value.source, value.key, "missing")
                continue
            target = kwargs if value.field is None else fields[value.arg]
            target[value.spec.name] = found
        for arg, struct in self.structs.items():
            try:
                kwargs[arg] = struct(**fields[arg])
            except TypeError as exc:  # a union given other than one member
                raise bad_input("body", "", str(exc)) from None
        # Through the args struct, as an RPC call's arguments: those left out get
        # the values an RPC call would give them (the IDL's default, else zero).
        args = self.args_class(**kwargs)
        return {spec.name: getattr(args, spec.name) for spec in self.args_class.__thrift_spec__}


def _struct_class(t: TypeSpec) -> type[Struct]:
    assert isinstance(t, tuple) and t[0] == STRUCT, t
    cls: type[Struct] = t[1]
    return cls


def _json_body(request: Request, raw: bytes) -> Any:
    if not raw:
        return {}  # no body: as if its values were all left out
    content_type = request.content_type
    if content_type != "application/json" and not content_type.endswith("+json"):
        got = content_type or "none"
        raise HTTPError(415, f"body: expected Content-Type application/json, got {got}",
                        where="body")  # fmt: skip
    return json_body(raw)


def _form_body(request: Request, raw: bytes) -> QueryParams:
    if raw and request.content_type != "application/x-www-form-urlencoded":
        got = request.content_type or "none"
        raise HTTPError(415, "body: expected Content-Type application/x-www-form-urlencoded, "
                        f"got {got}", where="body")  # fmt: skip
    try:
        return QueryParams(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise bad_input("form", "", "the body is not UTF-8") from None


def _fetch(value: _Value, request: Request, body: Any, form: QueryParams | None) -> Any:
    """The value the request has for `value`, converted; None when it has none."""
    source, key, t = value.source, value.key, value.spec.type
    if source == "body":
        if key == "":
            raw = body
        else:
            if not isinstance(body, dict):
                got = thrift_json.json_type(body)
                raise bad_input("body", "", f"expected an object, got {got}")
            raw = body.get(key)
        if raw is None:
            return None
        try:
            return thrift_json.value_from_jsonable(t, raw)
        except DecodeError as exc:
            raise bad_input("body", (key + exc.path).lstrip("."), exc.message) from None
    texts: list[str]
    if source == "path":
        text = request.path_params.get(key)
        texts = [] if text is None else [text]
    elif source == "query":
        texts = request.query.get_all(key)
    elif source == "header":
        texts = request.headers.get_all(key)
    elif source == "cookie":
        text = request.cookies.get(key)
        texts = [] if text is None else [text]
    else:
        assert form is not None
        texts = form.get_all(key)
    if not texts:
        return None
    try:
        return _from_texts(t, texts)
    except (ValueError, DecodeError) as exc:
        reason = exc.message if isinstance(exc, DecodeError) else str(exc)
        raise bad_input(source, key, reason) from None


def _from_texts(t: TypeSpec, texts: list[str]) -> Any:
    code = t if isinstance(t, int) else t[0]
    if code in (LIST, SET):
        items = [_from_text(t[1], text) for text in texts]  # type: ignore[index]
        return items if code == LIST else set(items)
    return _from_text(t, texts[0])


def _from_text(t: TypeSpec, text: str) -> Any:
    code = t if isinstance(t, int) else t[0]
    if code == BOOL:
        return scalar_parser(bool)(text)
    if code == ENUM:
        return thrift_json.enum_member(t[1], int(text) if _is_int(text) else text)  # type: ignore[index]
    if code in INT_RANGES:
        return thrift_json.integer(code, scalar_parser(int)(text))
    if code == DOUBLE:
        return scalar_parser(float)(text)
    if code == BINARY:
        return text.encode("utf-8")
    if code == UUID:
        return scalar_parser(uuid.UUID)(text)
    if isinstance(t, int):
        return text  # string
    raise ValueError(f"a {type(t).__name__} cannot be read from text")


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()


# ---- protobuf: google.api.http (gRPC transcoding) ------------------------------------------

# google.rpc.Code to HTTP, as gRPC transcoding maps them.
GRPC_TO_HTTP = {
    1: 499, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429, 9: 400, 10: 409,
    11: 400, 12: 501, 13: 500, 14: 503, 15: 500, 16: 401,
}  # fmt: skip
_PB_INTEGERS = frozenset({pb.INT32, pb.INT64, pb.UINT32, pb.UINT64, pb.SINT32, pb.SINT64,
                          pb.FIXED32, pb.FIXED64, pb.SFIXED32, pb.SFIXED64})  # fmt: skip


def rules_router(
    handler: PbHandler,
    *,
    layers: Sequence[Layer] = (),
    max_body: int = 1 << 20,
    max_loop_decode: int | None = decoding.MAX_LOOP_DECODE,
) -> Router:
    """A Router serving the rpcs of a protobuf `handler` that `google.api.http`
    options route (see `handler_router`)."""
    cls = type(handler)
    if not cls.__http_rules__:
        raise ValueError(
            f"{cls.__name__}: its .proto routes no rpc over HTTP (add google.api.http options)"
        )
    service = cls.__pb_service__
    router = Router(layers=layers, name=service.__pb_name__, max_body=max_body,
                    max_loop_decode=max_loop_decode)  # fmt: skip
    for rule in cls.__http_rules__:
        method = _pb_method(service, rule.rpc)
        pattern, variables = _route_pattern(rule.path, method.request)
        router.add_service(rule.method, pattern,
                           _RuleEndpoint(handler, method, rule, variables))  # fmt: skip
    return router


def _pb_method(service: Any, rpc: str) -> PbMethod[Any, Any]:
    method: PbMethod[Any, Any] = getattr(service, rpc)
    return method


def _route_pattern(template: str, request: type[Message]) -> tuple[str, dict[str, list[PbField]]]:
    """A path template (`/v1/items/{id}`, `{item.id}`, `{path=**}`) as a route,
    and each route parameter's field path in the request."""
    segments = []
    variables: dict[str, list[PbField]] = {}
    if ":" in template.rpartition("/")[2]:
        raise ValueError(f"path template {template!r}: a custom verb (':verb') is not supported")
    for segment in _template_segments(template):
        if not (segment.startswith("{") and segment.endswith("}")):
            segments.append(segment)
            continue
        field_path, _, pattern = segment[1:-1].partition("=")
        name = f"v{len(variables)}"
        if pattern in ("", "*"):
            segments.append(f"{{{name}}}")
        elif pattern == "**":
            segments.append(f"{{*{name}}}")
        else:
            raise ValueError(
                f"path template {template!r}: {{{field_path}={pattern}}} is not supported "
                "(a variable takes {name}, {name=*} or {name=**})"
            )
        variables[name] = _field_path(request, field_path, template)
    return "/".join(segments), variables


def _template_segments(template: str) -> list[str]:
    """`template` split at the slashes outside `{...}`."""
    segments, depth, start = [], 0, 0
    for i, char in enumerate(template):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if char == "/" and depth == 0:
            segments.append(template[start:i])
            start = i + 1
    segments.append(template[start:])
    return segments


def _field_path(cls: type[Message], dotted: str, where: str) -> list[PbField]:
    specs = []
    for part in dotted.split("."):
        spec = next((f for f in cls.__pb_fields__ if part in (f.name, f.proto_name, f.json_name)),
                    None)  # fmt: skip
        if spec is None:
            raise ValueError(f"{where}: {cls.__name__} has no field {part!r}")
        specs.append(spec)
        if spec.kind == pb.MESSAGE:
            cls = spec.type
    return specs


class _RuleEndpoint:
    """An rpc of a generated protobuf handler as an HTTP Service (gRPC transcoding)."""

    def __init__(
        self, handler: PbHandler, method: PbMethod[Any, Any], rule: PbHttpRule,
        variables: dict[str, list[PbField]],
    ) -> None:  # fmt: skip
        self.call_method = getattr(handler, rule.rpc)
        self.request_class: type[Message] = method.request
        self.rule = rule
        self.variables = variables
        bound = {specs[0].name for specs in variables.values()}
        if rule.body not in ("", "*"):
            body_field = _field_path(method.request, rule.body, rule.path)[0]
            self.body_key = body_field.proto_name or body_field.name
            bound.add(body_field.name)
        self.bound = bound

    async def call(self, ctx: Context | None, request: Request) -> Response:
        raw = await request.body() if self.rule.body else b""
        most = request.max_loop_decode
        message = await decoding.decoded(len(raw), most, self.message, request, raw)
        try:
            reply = await self.call_method(message)
        except Exception as exc:
            status = _grpc_status(exc)
            if status is None:
                raise
            code, text = status
            return json_response({"code": code, "message": text}, GRPC_TO_HTTP.get(code, 500))
        answer: Any = reply.to_dict()
        if self.rule.response_body:
            spec = _field_path(type(reply), self.rule.response_body, self.rule.path)[0]
            answer = answer.get(spec.json_name or spec.name)
        return json_response(answer)

    def message(self, request: Request, raw: bytes) -> Message:
        """The rpc's request message, from the request and its body `raw`."""
        data: dict[str, Any] = {}
        origins: dict[str, tuple[str, str]] = {}  # top-level key -> (source, parameter)
        if self.rule.body:
            body = _json_body(request, raw)
            if self.rule.body == "*":
                if not isinstance(body, dict):
                    got = thrift_json.json_type(body)
                    raise bad_input("body", "", f"expected an object, got {got}")
                data = body
            else:
                data[self.body_key] = body
        for name, specs in self.variables.items():
            text = request.path_params[name]
            dotted = ".".join(s.proto_name or s.name for s in specs)
            _put(data, specs, _pb_from_texts(specs[-1], [text], "path", dotted))
            origins[specs[0].proto_name or specs[0].name] = ("path", dotted)
        if self.rule.body != "*":
            for key in request.query:
                try:
                    specs = _field_path(self.request_class, key, "")
                except ValueError:
                    raise bad_input("query", key, f"{self.request_class.__name__} has no such "
                                    "field") from None  # fmt: skip
                if specs[0].name in self.bound:
                    continue
                _put(data, specs, _pb_from_texts(specs[-1], request.query.get_all(key), "query",
                                                 key))  # fmt: skip
                origins[specs[0].proto_name or specs[0].name] = ("query", key)
        try:
            return self.request_class.from_dict(data)
        except DecodeError as exc:
            _, dot, rest = exc.path.partition(".")
            inner = rest if dot else ""
            top = inner.partition(".")[0].partition("[")[0]
            source, _ = origins.get(top, ("body", ""))
            raise bad_input(source, inner, exc.message) from None


def _grpc_status(exc: Exception) -> tuple[int, str] | None:
    """(gRPC code, message) of an error a protobuf handler raised on purpose."""
    if isinstance(exc, Unimplemented):
        return 12, str(exc) or "not implemented"
    status = sys.modules.get("volo.grpc.status")  # loaded if the handler raised one
    if status is not None and isinstance(exc, status.StatusError):
        return int(exc.code), exc.message
    return None


def _put(data: dict[str, Any], specs: list[PbField], value: Any) -> None:
    for spec in specs[:-1]:
        inner = data.setdefault(spec.proto_name or spec.name, {})
        if not isinstance(inner, dict):
            raise bad_input("body", spec.proto_name or spec.name, "expected an object")
        data = inner
    data[specs[-1].proto_name or specs[-1].name] = value


def _pb_from_texts(spec: PbField, texts: list[str], where: str, key: str) -> Any:
    """Texts (of the path or query) as the ProtoJSON value of `spec`."""
    repeated = spec.label in (pb.REPEATED, pb.PACKED)
    try:
        values = [_pb_from_text(spec, text) for text in (texts if repeated else texts[:1])]
    except ValueError as exc:
        raise bad_input(where, key, str(exc)) from None
    return values if repeated else values[0]


def _pb_from_text(spec: PbField, text: str) -> Any:
    kind = spec.kind
    if kind == pb.BOOL:
        return scalar_parser(bool)(text)
    if kind in _PB_INTEGERS:
        return scalar_parser(int)(text)
    if kind in (pb.DOUBLE, pb.FLOAT):
        return scalar_parser(float)(text)
    if kind == pb.ENUM:
        return int(text) if _is_int(text) else text
    if kind in (pb.STRING, pb.BYTES):
        return text
    raise ValueError("a message field cannot be set from text")
