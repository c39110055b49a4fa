"""The router: an ASGI application that sends each request to its handler.

    router = Router()

    @router.get("/users/{user_id}")
    async def get_user(user_id: int) -> User: ...

    uvicorn.run(router)                   # any ASGI server: uvicorn, granian, hypercorn

Paths: `{name}` (or Hertz's `:name`) matches one segment, `{*rest}` (or
`*rest`) the rest of the path, last; a fixed segment wins over a parameter,
a parameter over the rest. A path that matches with another method is
answered 405 with `Allow`; one that matches nothing goes to the fallback (404
unless `fallback` sets one; a nested router's fallback serves its prefix).
HEAD is answered by the GET route, without the body.

Layers are volo's middleware, as on RPC servers (`volo.middleware`): a
`Service` here takes a `volo.http.Request` and returns a `Response`; the
Context it gets has protocol "http", service the router's `name`, method
`"GET /users/{user_id}"`, the peer and the request's headers. A router's
layers wrap each of its routes, its 405 answers and its fallback (so CORS
answers preflight requests); `layers=` on a route wrap that route only.
Exceptions pass through layers as they do on RPC servers; the router then
answers `HTTPError` with its status, `volo.CallTimeout` (a Timeout layer's)
504, and anything else 500 (logged, no details sent).
"""

from __future__ import annotations

import functools
import gc
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from volo import decoding, metainfo
from volo.calls import enter_call
from volo.errors import CallTimeout
from volo.http.errors import HTTPError
from volo.http.extract import Plan, plan
from volo.http.request import Message, Request, Scope
from volo.http.response import Response, into_response, json_response
from volo.middleware import Context, Layer, Service, stack

log = logging.getLogger("volo.http")

H = TypeVar("H", bound=Callable[..., Awaitable[Any]])
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")
_METAINFO_PREFIX = b"rpc-"  # rpc-persist- and rpc-transit- (metainfo.GRPC)


class Endpoint:
    """A handler as a Service: extracts its arguments, calls it, makes its response."""

    __slots__ = ("handler", "plan")

    def __init__(self, handler: Callable[..., Awaitable[Any]], plan: Plan) -> None:
        self.handler = handler
        self.plan = plan

    async def call(self, ctx: Context | None, request: Request) -> Response:
        if self.plan.reads_body:
            size = len(await request.body())
            if not decoding.on_loop(size, request.max_loop_decode):
                kwargs = await decoding.off_loop(self.arguments, request)
                return into_response(await self.handler(**kwargs))
        return into_response(await self.handler(**self.arguments(request)))

    def arguments(self, request: Request) -> dict[str, Any]:
        return {name: extract(request) for name, extract in self.plan.extractors}


class _Answer:
    """A fixed answer as a Service: 404, 405."""

    def __init__(self, status: int, message: str, headers: dict[str, str]) -> None:
        self.status, self.message, self.headers = status, message, headers

    async def call(self, ctx: Context | None, request: Request) -> Response:
        raise HTTPError(self.status, self.message, headers=self.headers)


@dataclass
class _RouteDef:
    method: str
    pattern: str
    endpoint: Service
    layers: list[Layer]  # the route's own
    router_layers: list[Layer] = field(default_factory=list)  # of the routers nested in this one
    state: Any = None


@dataclass
class _Compiled:
    service: Service
    pattern: str
    layered: bool  # a Context is made for it
    state: Any
    source: _RouteDef | None = None  # the route it was compiled from


@dataclass
class _Node:
    static: dict[str, _Node] = field(default_factory=dict)
    param: _Node | None = None
    param_name: str = ""
    rest_name: str = ""  # a `{*rest}` ends here
    rest: dict[str, _Compiled] = field(default_factory=dict)
    methods: dict[str, _Compiled] = field(default_factory=dict)
    pattern: str = ""
    not_allowed: _Compiled | None = None
    rest_not_allowed: _Compiled | None = None


def _segments(pattern: str) -> list[str]:
    if not pattern.startswith("/"):
        raise ValueError(f"route {pattern!r} must start with '/'")
    return pattern.split("/")[1:]


def _param(segment: str) -> tuple[str, str] | None:
    """("one" | "rest", name) for a parameter segment, None for a fixed one."""
    if segment.startswith("{") and segment.endswith("}"):
        name = segment[1:-1]
        return ("rest", name[1:]) if name.startswith("*") else ("one", name)
    if segment.startswith(":"):
        return "one", segment[1:]
    if segment.startswith("*") and len(segment) > 1:
        return "rest", segment[1:]
    return None


def path_params(pattern: str) -> list[str]:
    """The parameters a route pattern names, in order; ValueError for a bad pattern."""
    names = []
    segments = _segments(pattern)
    for i, segment in enumerate(segments):
        found = _param(segment)
        if found is None:
            if "{" in segment or "}" in segment:
                raise ValueError(
                    f"route {pattern!r}: a parameter takes a whole segment, as /{{name}}/"
                )
            continue
        kind, name = found
        if not name.isidentifier():
            raise ValueError(f"route {pattern!r}: parameter {name!r} must be an identifier")
        if kind == "rest" and i != len(segments) - 1:
            raise ValueError(f"route {pattern!r}: {{*{name}}} must be the last segment")
        if name in names:
            raise ValueError(f"route {pattern!r} names parameter {name!r} twice")
        names.append(name)
    return names


class Router:
    """Routes, the layers around them, state, and a fallback; an ASGI app.

    `state` is what `Annotated[T, State]` parameters get; `max_body` the most
    bytes a request body may have (413 past it); a handler's arguments are
    read from a body over `max_loop_decode` bytes on volo's decoding thread,
    the event loop going on with other requests meanwhile (see volo.decoding;
    None: all on the loop); `name` the service name
    layers see in the Context. With `freeze_at_startup` (the default), once the
    server's lifespan startup is done, the objects alive then (the modules,
    the app) are moved out of the garbage collector's reach (`gc.freeze()`): a
    full collection then no longer walks them, which otherwise stalls every
    request in flight now and then (under load, p99 latency about 3x the
    median)."""

    def __init__(
        self,
        *,
        layers: Sequence[Layer] = (),
        state: Any = None,
        name: str = "http",
        max_body: int = 1 << 20,
        max_loop_decode: int | None = decoding.MAX_LOOP_DECODE,
        freeze_at_startup: bool = True,
    ) -> None:
        self.name = name
        self.freeze_at_startup = freeze_at_startup
        self.state = state
        self.max_body = max_body
        self.max_loop_decode = decoding.checked(max_loop_decode)
        self._layers: list[Layer] = list(layers)
        self._routes: list[_RouteDef] = []
        self._fallbacks: list[tuple[str, _RouteDef]] = []  # (prefix, route)
        self._startup: list[Callable[[], Awaitable[None]]] = []
        self._shutdown: list[Callable[[], Awaitable[None]]] = []
        self._root: _Node | None = None  # built at the first request
        self._static: dict[str, _Node] = {}
        self._fallback_default: _Compiled | None = None
        self._compiled_fallbacks: list[tuple[str, _Compiled]] = []

    # ---- building ----------------------------------------------------------------------

    def add(
        self,
        methods: str | Iterable[str],
        pattern: str,
        handler: Callable[..., Awaitable[Any]],
        *,
        layers: Sequence[Layer] = (),
    ) -> None:
        """Route `methods` on `pattern` to `handler`, wrapped in `layers`."""
        names = frozenset(path_params(pattern))
        self.add_service(methods, pattern, Endpoint(handler, plan(handler, names)), layers=layers)

    def add_service(
        self,
        methods: str | Iterable[str],
        pattern: str,
        endpoint: Service,
        *,
        layers: Sequence[Layer] = (),
    ) -> None:
        """Route `methods` on `pattern` to a Service of your own (it gets the
        Context, or None on a route without layers, and the Request, and returns a
        Response), wrapped in `layers`."""
        if self._root is not None:
            raise RuntimeError("routes are added before the router serves its first request")
        path_params(pattern)
        for method in [methods] if isinstance(methods, str) else methods:
            method = method.upper()
            if method not in METHODS:
                raise ValueError(f"unknown method {method!r}: expected one of {METHODS}")
            self._check_free(method, pattern)
            self._routes.append(_RouteDef(method, pattern, endpoint, list(layers)))

    def _check_free(self, method: str, pattern: str) -> None:
        shape = _shape(pattern)
        for route in self._routes:
            if route.method == method and _shape(route.pattern) == shape:
                raise ValueError(f"{method} {pattern} is routed already (as {route.pattern})")

    def route(
        self, methods: str | Iterable[str], pattern: str, *, layers: Sequence[Layer] = ()
    ) -> Callable[[H], H]:
        def register(handler: H) -> H:
            self.add(methods, pattern, handler, layers=layers)
            return handler

        return register

    def get(self, pattern: str, *, layers: Sequence[Layer] = ()) -> Callable[[H], H]:
        return self.route("GET", pattern, layers=layers)

    def post(self, pattern: str, *, layers: Sequence[Layer] = ()) -> Callable[[H], H]:
        return self.route("POST", pattern, layers=layers)

    def put(self, pattern: str, *, layers: Sequence[Layer] = ()) -> Callable[[H], H]:
        return self.route("PUT", pattern, layers=layers)

    def delete(self, pattern: str, *, layers: Sequence[Layer] = ()) -> Callable[[H], H]:
        return self.route("DELETE", pattern, layers=layers)

    def patch(self, pattern: str, *, layers: Sequence[Layer] = ()) -> Callable[[H], H]:
        return self.route("PATCH", pattern, layers=layers)

    def fallback(self, handler: H) -> H:
        """Answer requests no route matches with `handler` (it takes extractors too)."""
        self._fallbacks = [(p, r) for p, r in self._fallbacks if p != ""]
        endpoint = Endpoint(handler, plan(handler, frozenset()))
        self._fallbacks.append(("", _RouteDef("*", "", endpoint, [])))
        return handler

    def layer(self, layer: Layer) -> Router:
        """Wrap every route of this router (and its fallback and 405s) in `layer`,
        inside the layers given before."""
        self._layers.append(layer)
        return self

    def nest(self, prefix: str, router: Router) -> Router:
        """Serve `router`'s routes under `prefix` (e.g. "/api"), inside its own layers.
        The routes are taken as they are now: nest a router once it is complete."""
        if self._root is not None:
            raise RuntimeError("routers are nested before the router serves its first request")
        if not prefix.startswith("/") or prefix.endswith("/"):
            raise ValueError(f"prefix {prefix!r} must start with '/' and not end with one")
        path_params(prefix)
        for route in router._routes:
            pattern = prefix if route.pattern == "/" else prefix + route.pattern
            self._check_free(route.method, pattern)
            self._routes.append(
                _RouteDef(route.method, pattern, route.endpoint, route.layers,
                          [*router._layers, *route.router_layers],
                          route.state if route.state is not None else router.state)
            )  # fmt: skip
        for inner_prefix, fallback in router._fallbacks:
            self._fallbacks.append(
                (prefix + inner_prefix,
                 _RouteDef("*", "", fallback.endpoint, fallback.layers,
                           [*router._layers, *fallback.router_layers],
                           fallback.state if fallback.state is not None else router.state))
            )  # fmt: skip
        return self

    def on_startup(self, hook: Callable[[], Awaitable[None]]) -> None:
        self._startup.append(hook)

    def on_shutdown(self, hook: Callable[[], Awaitable[None]]) -> None:
        self._shutdown.append(hook)

    # ---- compiling ---------------------------------------------------------------------

    def _compile(self, route: _RouteDef) -> _Compiled:
        layers = [*self._layers, *route.router_layers, *route.layers]
        state = route.state if route.state is not None else self.state
        return _Compiled(stack(route.endpoint, layers), route.pattern, bool(layers), state)

    def _answer(
        self, status: int, headers: dict[str, str], pattern: str, like: _RouteDef | None = None
    ) -> _Compiled:
        """An error answer wrapped as the routes of router `like` came from are."""
        layers = [*self._layers, *(like.router_layers if like is not None else ())]
        service = stack(_Answer(status, "", headers), layers)
        state = like.state if like is not None and like.state is not None else self.state
        return _Compiled(service, pattern, bool(layers), state)

    def _build(self) -> _Node:
        root = _Node()
        for route in self._routes:
            node = root
            rest = ""
            for segment in _segments(route.pattern):
                found = _param(segment)
                if found is None:
                    node = node.static.setdefault(segment, _Node())
                elif found[0] == "rest":
                    rest = found[1]
                    if node.rest_name and node.rest_name != rest:
                        raise ValueError(f"{route.pattern}: {{*{rest}}} conflicts with "
                                         f"{{*{node.rest_name}}} of another route")  # fmt: skip
                    node.rest_name = rest
                else:
                    if node.param is None:
                        node.param, node.param_name = _Node(), found[1]
                    elif node.param_name != found[1]:
                        raise ValueError(f"{route.pattern}: {{{found[1]}}} conflicts with "
                                         f"{{{node.param_name}}} of another route")  # fmt: skip
                    node = node.param
            compiled = self._compile(route)
            compiled.source = route
            (node.rest if rest else node.methods)[route.method] = compiled
            node.pattern = node.pattern or route.pattern
        self._finish(root)
        self._fallback_default = self._answer(404, {}, "*")
        self._compiled_fallbacks = sorted(
            ((prefix, self._compile(route)) for prefix, route in self._fallbacks),
            key=lambda item: -len(item[0]),
        )
        self._static = {}
        self._index_static(root, "")
        return root

    def _finish(self, node: _Node) -> None:
        for table, attr in ((node.methods, "not_allowed"), (node.rest, "rest_not_allowed")):
            if table:
                if "GET" in table and "HEAD" not in table:
                    table["HEAD"] = table["GET"]
                allow = ", ".join(sorted(table))
                first = next(iter(table.values()))
                setattr(node, attr, self._answer(405, {"allow": allow}, first.pattern,
                                                 first.source))  # fmt: skip
        for child in node.static.values():
            self._finish(child)
        if node.param is not None:
            self._finish(node.param)

    def _index_static(self, node: _Node, path: str) -> None:
        """Paths without parameters, for a lookup in one step."""
        if node.methods:
            self._static[path or "/"] = node
        for segment, child in node.static.items():
            self._index_static(child, f"{path}/{segment}")

    # ---- serving -----------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        else:  # websocket: not served
            await send({"type": "websocket.close", "code": 1000})

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        root = self._root
        if root is None:
            root = self._root = self._build()
        method: str = scope["method"]
        path: str = scope["path"]
        params: dict[str, str] = {}
        target: _Compiled | None = None
        node = self._static.get(path)  # a path without parameters: one lookup
        if node is not None:
            target = node.methods.get(method) or node.not_allowed
        else:
            found = _walk(root, path.split("/")[1:], 0, params)
            if found is not None:
                target = found[0].get(method) or found[1]
        if target is None:
            target = next(
                (fb for prefix, fb in self._compiled_fallbacks
                 if path == prefix or path.startswith(prefix + "/") or not prefix),
                None,
            )  # fmt: skip
            if target is None:
                assert self._fallback_default is not None  # built with the root
                target = self._fallback_default
                params = {}
        request = Request(scope, receive, params, target.state, self.max_body,
                          self.max_loop_decode)  # fmt: skip
        for key, _ in scope["headers"]:
            if key[:4] == _METAINFO_PREFIX:
                metainfo.receive(request.headers, metainfo.GRPC)
                break
        # Services get a Context; a route without layers gets None (its Endpoint
        # takes none), and call_context() makes one when asked.
        ctx: Any = None
        try:
            if target.layered:
                ctx = _context(self.name, method, target.pattern, request)
                enter_call(ctx)
            else:
                enter_call(functools.partial(_context, self.name, method, target.pattern, request))
            response = await target.service.call(ctx, request)
        except HTTPError as exc:
            response = _error_response(exc, method, path)
        except CallTimeout as exc:
            response = json_response({"error": str(exc)}, 504)
        except Exception:
            log.exception("%s %s failed", method, path)
            response = json_response({"error": "internal server error"}, 500)
        if ctx is not None and ctx.reply_headers:
            for name, value in ctx.reply_headers.items():
                response.set_header(name, value)
        await response.send(send, head_only=method == "HEAD")

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    for hook in self._startup:
                        await hook()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                if self.freeze_at_startup:
                    gc.collect()
                    gc.freeze()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for hook in self._shutdown:
                    await hook()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _context(name: str, method: str, pattern: str, request: Request) -> Context:
    return Context(name, f"{method} {pattern}", side="server", peer=request.peer,
                   headers=request.headers.to_dict(), protocol="http")  # fmt: skip


def _error_response(exc: HTTPError, method: str, path: str) -> Response:
    message = exc.message
    if exc.status == 404 and not message:
        exc = HTTPError(404, f"no route for {method} {path}")
    elif exc.status == 405 and not message:
        exc = HTTPError(405, f"{method} is not allowed on {path} (allowed: "
                        f"{exc.headers.get('allow', '')})", headers=exc.headers)  # fmt: skip
    response = json_response(exc.body(), exc.status)
    for name, value in exc.headers.items():
        response.set_header(name, value)
    return response


def _shape(pattern: str) -> tuple[str, ...]:
    """A pattern with its parameters' names left out: two routes of one shape clash."""
    shapes = []
    for segment in _segments(pattern):
        found = _param(segment)
        shapes.append(segment if found is None else ("{}" if found[0] == "one" else "{*}"))
    return tuple(shapes)


def _walk(
    node: _Node, segments: list[str], i: int, params: dict[str, str]
) -> tuple[dict[str, _Compiled], _Compiled | None] | None:
    if i == len(segments):
        if node.methods:
            return node.methods, node.not_allowed
        return None
    segment = segments[i]
    child = node.static.get(segment)
    if child is not None:
        found = _walk(child, segments, i + 1, params)
        if found is not None:
            return found
    if node.param is not None and segment:
        params[node.param_name] = segment
        found = _walk(node.param, segments, i + 1, params)
        if found is not None:
            return found
        del params[node.param_name]
    if node.rest_name:
        params[node.rest_name] = "/".join(segments[i:])
        return node.rest, node.rest_not_allowed
    return None
