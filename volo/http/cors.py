"""CORS: which web pages (origins) may call the API from a browser.

    router = Router(layers=[Cors(allow_origins=["https://app.example"])])

A layer on the router: it answers preflight requests (OPTIONS with
`Access-Control-Request-Method`) itself, and adds the `Access-Control-Allow-*`
headers to the responses to allowed origins, errors included. A request
from an origin not allowed passes as it is, without them: the browser then
keeps the response from the page.
"""

from __future__ import annotations

from collections.abc import Sequence

from volo.http.errors import HTTPError
from volo.http.request import Request
from volo.http.response import Response
from volo.middleware import Context, Service


class Cors:
    def __init__(
        self,
        allow_origins: Sequence[str] = ("*",),
        allow_methods: Sequence[str] = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"),
        allow_headers: Sequence[str] = ("*",),
        expose_headers: Sequence[str] = (),
        allow_credentials: bool = False,
        max_age: int = 600,
    ) -> None:
        if allow_credentials and "*" in allow_origins:
            raise ValueError("allow_credentials needs the origins named: browsers refuse '*'")
        self.any_origin = "*" in allow_origins
        self.origins = frozenset(allow_origins)
        self.methods = ", ".join(m.upper() for m in allow_methods)
        self.any_header = "*" in allow_headers
        self.headers = ", ".join(allow_headers)
        self.expose = ", ".join(expose_headers)
        self.credentials = allow_credentials
        self.max_age = str(max_age)

    def allows(self, origin: str) -> bool:
        return self.any_origin or origin in self.origins

    def simple_headers(self, origin: str) -> dict[str, str]:
        headers = {"access-control-allow-origin": "*" if self.any_origin else origin}
        if not self.any_origin:
            headers["vary"] = "Origin"
        if self.credentials:
            headers["access-control-allow-credentials"] = "true"
        if self.expose:
            headers["access-control-expose-headers"] = self.expose
        return headers

    def layer(self, inner: Service) -> Service:
        cors = self

        class _Cors:
            async def call(self, ctx: Context, request: Request) -> Response:
                origin = request.headers.get("origin")
                if origin is None or not cors.allows(origin):
                    return await inner.call(ctx, request)  # type: ignore[no-any-return]
                preflight = "access-control-request-method" in request.headers
                if request.method == "OPTIONS" and preflight:
                    return cors.preflight(origin, request)
                headers = cors.simple_headers(origin)
                try:
                    response: Response = await inner.call(ctx, request)
                except HTTPError as exc:
                    exc.headers.update(headers)
                    raise
                for name, value in headers.items():
                    response.set_header(name, value)
                return response

        return _Cors()

    def preflight(self, origin: str, request: Request) -> Response:
        headers = self.simple_headers(origin)
        headers["access-control-allow-methods"] = self.methods
        asked = request.headers.get("access-control-request-headers", "")
        headers["access-control-allow-headers"] = asked if self.any_header else self.headers
        headers["access-control-max-age"] = self.max_age
        return Response(status=204, headers=headers)
