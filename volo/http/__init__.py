"""volo.http: HTTP services on ASGI, with volo's middleware.

A `Router` is an ASGI application (serve it with uvicorn, granian, hypercorn):
handlers are `async def` functions whose parameters are extractors
(`volo.http.extract`) and whose return values become responses
(`volo.http.response`); layers are volo's own (`volo.middleware`: Timeout,
ConcurrencyLimit, AccessLog, yours) plus `Cors`.

    from typing import Annotated
    from volo import http

    router = http.Router()

    @router.get("/hello/{name}")
    async def hello(name: str, shout: bool = False) -> str:
        return f"hello, {name}".upper() if shout else f"hello, {name}"
"""

from volo.http.client import connect
from volo.http.cors import Cors
from volo.http.errors import HTTPError
from volo.http.extract import Body, Cookie, Form, Header, Json, Meta, Path, Query, Source, State
from volo.http.idl import handler_router
from volo.http.request import Headers, QueryParams, Request
from volo.http.response import Response, StreamingResponse, into_response, json_response
from volo.http.routing import Router

__all__ = [
    "Body",
    "Cookie",
    "Cors",
    "Form",
    "HTTPError",
    "Header",
    "Headers",
    "Json",
    "Meta",
    "Path",
    "Query",
    "QueryParams",
    "Request",
    "Response",
    "Router",
    "Source",
    "State",
    "StreamingResponse",
    "connect",
    "handler_router",
    "into_response",
    "json_response",
]
