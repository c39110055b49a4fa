"""Extractors: where each handler parameter comes from, worked out once, when
the handler is registered, from its type annotation.

    @router.get("/users/{user_id}")
    async def get_user(
        user_id: int,                                   # a path parameter (named in the route)
        verbose: bool = False,                          # a query parameter (any other scalar)
        paging: Annotated[Paging, Query],               # the whole query into a dataclass
        agent: Annotated[str, Header("user-agent")],    # a header
        session: Annotated[str | None, Cookie] = None,  # a cookie
        db: Annotated[Database, State],                 # the router's state
        tenant: Annotated[str, Meta],                   # metainfo (rpc-persist-/transit-)
        request: Request,                               # the request itself
    ) -> User: ...

    @router.post("/users")
    async def create(user: NewUser) -> User: ...        # a JSON body (dataclass, generated class)

Without a marker, a parameter named in the route is a path parameter; a
dataclass, generated Thrift struct or protobuf message is the JSON body;
`bytes` is the raw body; `Request` is the request; any other scalar (str, int,
float, bool, UUID, an Enum, `T | None`, `list[T]`) is a query parameter.
Markers say otherwise: `Path`, `Query`, `Json`, `Form`, `Header`, `Cookie`,
`Body` (raw bytes or text), `State`, `Meta`; each takes a name, as
`Header("x-request-id")`, where the parameter's name is not the one to use
(a header's default name is the parameter's with `-` for `_`).

Bad input is answered 400 (415 for a body of the wrong media type, 413 for
one too large) with what was wrong: `query parameter 'limit': expected an
integer, got 'ten'`. An annotation that cannot be extracted is a TypeError when
the handler is registered, never a failure per request.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import enum
import inspect
import json
import math
import re
import sys
import types
import typing
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Union

from pilota.runtime.base import Struct
from pilota.runtime.protobuf.message import Message
from pilota.runtime.types import DecodeError
from volo import metainfo
from volo.http import thrift_json
from volo.http.errors import HTTPError, bad_input
from volo.http.request import Request
from volo.http.thrift_json import json_type


class Source:
    """A marker for `Annotated[T, ...]`: where the parameter comes from."""

    __slots__ = ("kind", "name")

    def __init__(self, kind: str, name: str | None = None) -> None:
        self.kind = kind
        self.name = name

    def __call__(self, name: str) -> Source:
        """The same source under another name: `Header("x-request-id")`."""
        return Source(self.kind, name)

    def __repr__(self) -> str:
        return f"{self.kind.capitalize()}({self.name!r})" if self.name else self.kind.capitalize()


Path = Source("path")
Query = Source("query")
Json = Source("json")
Form = Source("form")
Header = Source("header")
Cookie = Source("cookie")
Body = Source("body")
State = Source("state")
Meta = Source("meta")

Extractor = Callable[[Request], Any]
_MISSING: Any = object()


@dataclasses.dataclass(slots=True)
class Plan:
    """How to call a handler: each parameter's extractor, and whether the body is read."""

    extractors: list[tuple[str, Extractor]]
    reads_body: bool


class Invalid(ValueError):
    """A value that does not convert; `path` locates it inside a body."""

    def __init__(self, reason: str, path: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = path


def plan(handler: Callable[..., Any], path_params: frozenset[str]) -> Plan:
    """The extractors of `handler`'s parameters; a TypeError names the one that cannot be."""
    name = getattr(handler, "__qualname__", repr(handler))
    try:
        hints = typing.get_type_hints(handler, include_extras=True)
    except Exception as exc:  # a name the annotations use that cannot be resolved
        raise TypeError(f"handler {name}: cannot resolve its annotations ({exc})") from None
    extractors: list[tuple[str, Extractor]] = []
    reads_body = False
    for param in inspect.signature(handler).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"handler {name}: *{param.name} cannot be extracted from a request")
        if param.name not in hints:
            raise TypeError(f"handler {name}: parameter {param.name!r} needs a type annotation")
        try:
            extractor, body = _extractor(param, hints[param.name], path_params)
        except TypeError as exc:
            raise TypeError(f"handler {name}, parameter {param.name!r}: {exc}") from None
        extractors.append((param.name, extractor))
        reads_body |= body
    return Plan(extractors, reads_body)


def _extractor(
    param: inspect.Parameter, annotation: Any, path_params: frozenset[str]
) -> tuple[Extractor, bool]:
    tp, source = _split(annotation)
    default = _MISSING if param.default is param.empty else param.default
    if source is None:
        if tp is Request:
            return (lambda request: request), False
        if param.name in path_params:
            source = Path
        elif tp is bytes:
            source = Body
        elif is_model(tp):
            source = Json
        else:
            source = Query
    kind = source.kind
    if kind == "path":
        key = source.name or param.name
        if key not in path_params:
            raise TypeError(f"the route has no path parameter {{{key}}}")
        return _scalar_extractor("path", key, tp, default, lambda r: r.path_params), False
    if kind == "query":
        if is_model(tp):
            return _model_extractor("query", tp, lambda r: r.query), False
        return _scalar_extractor("query", source.name or param.name, tp, default,
                                 lambda r: r.query), False  # fmt: skip
    if kind == "header":
        key = source.name or param.name.replace("_", "-")
        return _scalar_extractor("header", key, tp, default, lambda r: r.headers), False
    if kind == "cookie":
        key = source.name or param.name
        return _scalar_extractor("cookie", key, tp, default, lambda r: r.cookies), False
    if kind == "form":
        if is_model(tp):
            return _model_extractor("form", tp, _form), True
        return _scalar_extractor("form", source.name or param.name, tp, default, _form), True
    if kind == "json":
        return _json_extractor(tp), True
    if kind == "body":
        return _body_extractor(tp), True
    if kind == "state":
        return (lambda request: request.state), False
    if kind == "meta":
        return _meta_extractor(source.name or param.name, tp, default), False
    raise TypeError(f"unknown source {source!r}")


def _split(annotation: Any) -> tuple[Any, Source | None]:
    """`Annotated[T, Source]` as (T, Source); anything else as (it, None)."""
    if typing.get_origin(annotation) is typing.Annotated:
        tp, *extras = typing.get_args(annotation)
        sources = [e for e in extras if isinstance(e, Source)]
        return tp, (sources[-1] if sources else None)
    return annotation, None


def is_model(tp: Any) -> bool:
    """A class a whole query, form or JSON body can become."""
    return isinstance(tp, type) and (
        dataclasses.is_dataclass(tp) or issubclass(tp, Struct | Message)
    )


# ---- scalars: path, query, header, cookie, form, metainfo ---------------------------------


def _optional(tp: Any) -> tuple[Any, bool]:
    """`T | None` as (T, True); anything else as (it, False)."""
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


_INTEGER = re.compile(r"[+-]?[0-9]+")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def scalar_parser(tp: Any) -> Callable[[str], Any]:
    """Text to `tp` (str, int, float, bool, UUID, an Enum); ValueError says why not."""
    if tp is str:
        return str
    if tp is bool:

        def parse_bool(text: str) -> bool:
            lowered = text.lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
            raise ValueError(f"expected true or false, got {text!r}")

        return parse_bool
    if tp is int:

        def parse_int(text: str) -> int:
            if text.isdigit() and text.isascii() and len(text) <= 4000:
                return int(text)  # the common case, without the pattern
            # int() would also take "1_000", " 5 " and other scripts' digits
            if not _INTEGER.fullmatch(text) or len(text) > 4000:
                raise ValueError(f"expected an integer, got {_shown(text)}")
            return int(text)

        return parse_int
    if tp is float:

        def parse_float(text: str) -> float:
            try:
                number = float(text) if text.isascii() and "_" not in text else math.nan
            except ValueError:
                number = math.nan
            if not math.isfinite(number):  # NaN and infinities are no JSON numbers either
                raise ValueError(f"expected a number, got {_shown(text)}")
            return number

        return parse_float
    if tp is uuid.UUID:

        def parse_uuid(text: str) -> uuid.UUID:
            try:
                return uuid.UUID(text)
            except ValueError:
                raise ValueError(f"expected a UUID, got {text!r}") from None

        return parse_uuid
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum_parser(tp)
    raise TypeError(
        f"{_type_text(tp)} cannot be read from text: use str, int, float, bool, UUID, an "
        "Enum, T | None or list[T]"
    )


def _enum_parser(tp: type[enum.Enum]) -> Callable[[str], Any]:
    by_text = {str(m.value): m for m in tp}
    by_text.update(tp.__members__)

    def parse_enum(text: str) -> Any:
        member = by_text.get(text)
        if member is None:
            choices = ", ".join(tp.__members__)
            raise ValueError(f"expected one of {choices}, got {text!r}")
        return member

    return parse_enum


def _shown(text: str) -> str:
    """A value as an error message quotes it: at most 60 characters."""
    return repr(text if len(text) <= 60 else text[:60] + "…")


def _type_text(tp: Any) -> str:
    return tp.__name__ if isinstance(tp, type) else str(tp)


def _scalar_extractor(
    where: str,
    key: str,
    tp: Any,
    default: Any,
    values: Callable[[Request], Mapping[str, str]],
) -> Extractor:
    inner, optional = _optional(tp)
    if optional and default is _MISSING:
        default = None
    if typing.get_origin(inner) is list:
        (element,) = typing.get_args(inner) or (str,)
        parse_item = scalar_parser(element)
        if where not in ("query", "header", "form"):
            raise TypeError(f"a {where} parameter has one value, not a list")

        def extract_list(request: Request) -> Any:
            source: Any = values(request)
            texts = source.get_all(key)
            if not texts:
                if default is _MISSING:
                    raise bad_input(where, key, "missing")
                return default
            try:
                return [parse_item(text) for text in texts]
            except ValueError as exc:
                raise bad_input(where, key, str(exc)) from None

        return extract_list
    parse = scalar_parser(inner)

    def extract(request: Request) -> Any:
        text = values(request).get(key)
        if text is None:
            if default is _MISSING:
                raise bad_input(where, key, "missing")
            return default
        try:
            return parse(text)
        except ValueError as exc:
            raise bad_input(where, key, str(exc)) from None

    return extract


def _meta_extractor(key: str, tp: Any, default: Any) -> Extractor:
    inner, optional = _optional(tp)
    if inner is not str:
        raise TypeError("metainfo values are str (or str | None)")
    if optional and default is _MISSING:
        default = None

    def extract(request: Request) -> Any:
        value = metainfo.get(key)
        if value is None:
            if default is _MISSING:
                raise bad_input("metainfo", key, "missing")
            return default
        return value

    return extract


# ---- a whole query or form into a class --------------------------------------------------


@dataclasses.dataclass(slots=True)
class _Field:
    name: str  # the attribute
    key: str  # its name in the query or form
    parse: Callable[[list[str]], Any]
    required: bool


def _model_fields(cls: type) -> list[_Field]:
    hints = typing.get_type_hints(cls)
    fields = []
    if dataclasses.is_dataclass(cls):
        for f in dataclasses.fields(cls):
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            fields.append(_Field(f.name, f.name, _texts_parser(hints[f.name], f.name), required))
        return fields
    if issubclass(cls, Struct):
        for spec in cls.__thrift_spec__:
            fields.append(
                _Field(spec.name, spec.idl_name or spec.name,
                       _texts_parser(hints[spec.name], spec.name), spec.required == 0)
            )  # fmt: skip
        return fields
    raise TypeError(f"{cls.__name__}: a query or form becomes a dataclass or a Thrift struct")


def _texts_parser(tp: Any, name: str) -> Callable[[list[str]], Any]:
    inner, _ = _optional(tp)
    try:
        if typing.get_origin(inner) in (list, set):
            container = typing.get_origin(inner)
            (element,) = typing.get_args(inner) or (str,)
            parse_item = scalar_parser(element)
            return lambda texts: container(parse_item(t) for t in texts)
        parse = scalar_parser(inner)
    except TypeError as exc:
        raise TypeError(f"field {name}: {exc}") from None
    return lambda texts: parse(texts[-1])


def _model_extractor(where: str, cls: type, values: Callable[[Request], Any]) -> Extractor:
    fields = _model_fields(cls)

    def extract(request: Request) -> Any:
        source = values(request)
        kwargs = {}
        for f in fields:
            texts = source.get_all(f.key)
            if not texts:
                if f.required:
                    raise bad_input(where, f.key, "missing")
                continue
            try:
                kwargs[f.name] = f.parse(texts)
            except ValueError as exc:
                raise bad_input(where, f.key, str(exc)) from None
        return cls(**kwargs)

    return extract


def _form(request: Request) -> Any:
    from volo.http.request import QueryParams

    if request.content_type != "application/x-www-form-urlencoded":
        raise _wrong_media(request, "application/x-www-form-urlencoded")
    assert request._body is not None  # read before extracting: the plan reads the body
    try:
        return QueryParams(request._body.decode("utf-8"))
    except UnicodeDecodeError:
        raise bad_input("form", "", "the body is not UTF-8") from None


def _wrong_media(request: Request, expected: str) -> HTTPError:
    got = request.content_type or "none"
    return HTTPError(
        415, f"body: expected Content-Type {expected}, got {got}", where="body"
    )


# ---- bodies ------------------------------------------------------------------------------


def _body_extractor(tp: Any) -> Extractor:
    if tp is bytes:
        return lambda request: request._body
    if tp is str:

        def extract_text(request: Request) -> str:
            assert request._body is not None
            try:
                return request._body.decode("utf-8")
            except UnicodeDecodeError:
                raise bad_input("body", "", "the body is not UTF-8") from None

        return extract_text
    raise TypeError(f"a raw body is bytes or str, not {_type_text(tp)}")


def _json_extractor(tp: Any) -> Extractor:
    convert = json_converter(tp)

    def extract(request: Request) -> Any:
        content_type = request.content_type
        if content_type != "application/json" and not content_type.endswith("+json"):
            raise _wrong_media(request, "application/json")
        body = request._body
        assert body is not None
        data = json_body(body)
        try:
            return convert(data)
        except Invalid as exc:
            raise bad_input("body", exc.path.lstrip("."), exc.reason) from None

    return extract


def json_body(body: bytes) -> Any:
    """A request's body as JSON values; bad input (400) that says why not."""
    try:
        return _loads(body)
    except RecursionError:
        raise bad_input("body", "", "the JSON nests too deeply") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise bad_input("body", "", f"invalid JSON ({exc})") from None
    except ValueError:  # int()'s, whose message tells the server how to lift the limit
        limit = sys.get_int_max_str_digits()
        raise bad_input(
            "body", "", f"invalid JSON (an integer of more than {limit} digits)"
        ) from None


def _loads(body: bytes) -> Any:
    """`json.loads(body)`, taking its own steps where they are known: a body whose
    first byte is ASCII (not NUL, so no BOM) and whose second is not NUL is UTF-8
    to `json.detect_encoding`, so it is decoded as json.loads decodes it and
    given to the decoder json.loads uses (the same values and errors)."""
    if len(body) >= 2 and 0 < body[0] < 0x80 and body[1]:
        return _decoder.decode(body.decode("utf-8", "surrogatepass"))
    return json.loads(body)


_decoder = json.JSONDecoder()

Converter = Callable[[Any], Any]


def json_converter(tp: Any) -> Converter:
    """JSON values (as `json.loads` makes them) to `tp`, checked; `Invalid` says
    where and why not. Types: str, int, float, bool, None, Any, `T | None`,
    list, set, dict with str keys, Enum, UUID, bytes (base64), dataclasses and
    generated classes (their own JSON mappings)."""
    if tp is Any or tp is object:
        return _identity
    inner, optional = _optional(tp)
    if optional:
        convert_inner = json_converter(inner)
        return lambda value: None if value is None else convert_inner(value)
    if tp is type(None) or tp is None:
        return _expect((type(None),), "null")
    if tp is bool:
        return _expect((bool,), "true or false")
    if tp is int:
        return _expect((int,), "an integer")
    if tp is float:
        return _to_float
    if tp is str:
        return _expect((str,), "a string")
    if tp is bytes:
        return _to_bytes
    if tp is uuid.UUID or (isinstance(tp, type) and issubclass(tp, enum.Enum)):
        return _parsed(tp)
    origin = typing.get_origin(tp)
    if origin in (list, set, frozenset):
        (element,) = typing.get_args(tp) or (Any,)
        return _list_converter(json_converter(element), origin, element)
    if origin is dict:
        key_type, value_type = typing.get_args(tp) or (str, Any)
        if key_type is not str:
            raise TypeError(f"JSON object keys are strings: use dict[str, ...], not {tp}")
        return _dict_converter(json_converter(value_type), value_type)
    if isinstance(tp, type) and issubclass(tp, Struct):
        return _generated(lambda value: thrift_json.from_jsonable(tp, value))
    if isinstance(tp, type) and issubclass(tp, Message):
        return _generated(lambda value: _message_from_dict(tp, value))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass_converter(tp)
    raise TypeError(f"{_type_text(tp)} cannot be read from JSON")


def _identity(value: Any) -> Any:
    return value


# Element types whose JSON values are taken as they are, once their type is checked
# (`type(v) is int` leaves out bools, as JSON does): one set of the values' types,
# made in C, is checked, where a generator would run per value.
_EXACT: dict[Any, frozenset[type]] = {
    str: frozenset({str}), int: frozenset({int}), bool: frozenset({bool}),
    type(None): frozenset({type(None)}),
}  # fmt: skip


def _list_converter(convert_item: Converter, origin: Any, element: Any) -> Converter:
    exact = _EXACT.get(element)

    def to_list(value: Any) -> Any:
        if type(value) is not list:
            raise Invalid(f"expected an array, got {json_type(value)}")
        if exact is not None and set(map(type, value)) <= exact:
            items = value  # checked in one pass; json.loads made it, so it is ours
        else:
            items = []
            for i, item in enumerate(value):
                try:
                    items.append(convert_item(item))
                except Invalid as exc:
                    raise Invalid(exc.reason, f"[{i}]{exc.path}") from None
        return items if origin is list else origin(items)

    return to_list


def _dict_converter(convert_value: Converter, value_type: Any) -> Converter:
    exact = _EXACT.get(value_type)

    def to_dict(value: Any) -> Any:
        if type(value) is not dict:
            raise Invalid(f"expected an object, got {json_type(value)}")
        if exact is not None and set(map(type, value.values())) <= exact:
            return value
        result = {}
        for k, v in value.items():
            try:
                result[k] = convert_value(v)
            except Invalid as exc:
                raise Invalid(exc.reason, f".{k}{exc.path}") from None
        return result

    return to_dict


def _to_float(value: Any) -> float:
    if type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    raise Invalid(f"expected a number, got {json_type(value)}")


def _to_bytes(value: Any) -> bytes:
    if isinstance(value, str):
        try:
            return base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
        except binascii.Error:
            pass
    raise Invalid("expected base64 text")


def _parsed(tp: Any) -> Converter:
    """A UUID from its text; an Enum member from its name or value."""
    parse = scalar_parser(tp)
    is_enum = tp is not uuid.UUID

    def to_parsed(value: Any) -> Any:
        if is_enum and not isinstance(value, str):
            value = str(value)
        if not isinstance(value, str):
            raise Invalid(f"expected a string, got {json_type(value)}")
        try:
            return parse(value)
        except ValueError as exc:
            raise Invalid(str(exc)) from None

    return to_parsed


def _message_from_dict(cls: type[Message], value: Any) -> Message:
    if not isinstance(value, dict):
        raise Invalid(f"expected an object, got {json_type(value)}")
    return cls.from_dict(value)


def _generated(read: Callable[[Any], Any]) -> Converter:
    def convert(value: Any) -> Any:
        try:
            return read(value)
        except DecodeError as exc:
            # The codec's path starts with the class name: the field path follows it.
            head, dot, rest = exc.path.partition(".")
            inner = dot + rest if dot else exc.path[len(head.partition("[")[0]) :]
            raise Invalid(exc.message, inner) from None

    return convert


def _dataclass_converter(cls: type) -> Converter:
    hints = typing.get_type_hints(cls)
    fields = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        fields.append((f.name, json_converter(hints[f.name]), required))

    def to_dataclass(value: Any) -> Any:
        if type(value) is not dict:
            raise Invalid(f"expected an object, got {json_type(value)}")
        kwargs = {}
        for name, convert, required in fields:
            if name not in value:
                if required:
                    raise Invalid("missing", f".{name}")
                continue
            try:
                kwargs[name] = convert(value[name])
            except Invalid as exc:
                raise Invalid(exc.reason, f".{name}{exc.path}") from None
        return cls(**kwargs)

    return to_dataclass


def _expect(types: tuple[type, ...], expected: str) -> Converter:
    def check(value: Any) -> Any:
        if type(value) not in types:
            raise Invalid(f"expected {expected}, got {json_type(value)}")
        return value

    return check
