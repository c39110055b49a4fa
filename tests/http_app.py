"""An app with every extractor, response kind and layer, served by uvicorn in
tests/test_http.py (as a process, over real HTTP).

VOLO_HTTP_TEST_LOG names the file the access log goes to.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
import os
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from volo_http_test_gen.items import Item as ThriftItem

import volo
from volo import http
from volo.http import (
    Body,
    Cookie,
    Cors,
    Form,
    Header,
    Json,
    Meta,
    Query,
    Request,
    Response,
    State,
    StreamingResponse,
)
from volo.middleware import AccessLog, ConcurrencyLimit, Context, Service, Timeout


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


@dataclasses.dataclass
class Paging:
    limit: int
    offset: int = 0
    tags: list[str] = dataclasses.field(default_factory=list[str])


@dataclasses.dataclass
class Address:
    city: str
    zip: str | None = None


@dataclasses.dataclass
class NewUser:
    name: str
    age: int
    email: str | None = None
    address: Address | None = None
    scores: list[float] = dataclasses.field(default_factory=list[float])


@dataclasses.dataclass
class Login:
    user: str
    remember: bool = False


@dataclasses.dataclass
class AppState:
    greeting: str


class Gauge:
    """How many calls are inside at once, and the most there were."""

    def __init__(self) -> None:
        self.inside = 0
        self.most = 0


limited = Gauge()


class Stamp:
    """A user layer: says in a reply header which route it saw, and counts calls."""

    def __init__(self) -> None:
        self.calls = 0

    def layer(self, inner: Service) -> Service:
        stamp = self

        class _Stamp:
            async def call(self, ctx: Context, request: Any) -> Any:
                stamp.calls += 1
                ctx.reply_headers["x-route"] = ctx.method
                ctx.reply_headers["x-protocol"] = ctx.protocol
                return await inner.call(ctx, request)

        return _Stamp()


def access_logger() -> logging.Logger:
    logger = logging.getLogger("tests.http.access")
    path = os.environ.get("VOLO_HTTP_TEST_LOG")
    if path and not logger.handlers:
        handler = logging.FileHandler(path)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    return logger


router = http.Router(state=AppState("hello"), layers=[AccessLog(access_logger())])


# ---- responses ---------------------------------------------------------------------------


@router.get("/text")
async def text() -> str:
    return "plain text"


@router.get("/bytes")
async def raw_bytes() -> bytes:
    return b"\x00\x01binary"


@router.get("/dict")
async def a_dict() -> dict[str, Any]:
    return {"a": 1, "b": [True, None], "c": "é"}


@router.get("/list")
async def a_list() -> list[int]:
    return [1, 2, 3]


@router.get("/dataclass")
async def a_dataclass() -> NewUser:
    return NewUser("ann", 30, address=Address("Oslo"))


@router.get("/thrift")
async def thrift_struct() -> ThriftItem:
    return ThriftItem(name="lamp", price=12.5, tags=["a"], data=b"\x01\x02")


@router.get("/status-body")
async def status_body() -> tuple[int, str]:
    return 201, "made"


@router.get("/status-headers-body")
async def status_headers_body() -> tuple[int, dict[str, str], dict[str, bool]]:
    return 202, {"x-extra": "yes"}, {"accepted": True}


@router.get("/response")
async def explicit() -> Response:
    response = Response("<p>hi</p>", status=203, media_type="text/html")
    response.set_cookie("session", "abc123", max_age=60)
    return response


@router.get("/stream")
async def stream() -> StreamingResponse:
    async def chunks() -> AsyncIterator[str]:
        for i in range(3):
            yield f"chunk {i}\n"
            await asyncio.sleep(0)

    return StreamingResponse(chunks(), media_type="text/plain")


@router.get("/generator")
async def generator() -> AsyncIterator[bytes]:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"one,"
        yield b"two"

    return chunks()


@router.delete("/nothing")
async def nothing() -> None:
    return None


@router.get("/fails")
async def fails() -> str:
    raise RuntimeError("a secret detail")


@router.get("/teapot")
async def teapot() -> str:
    raise http.HTTPError(418, "I'm a teapot", headers={"x-brew": "tea"})


# ---- extractors ----------------------------------------------------------------------------


@router.get("/users/{user_id}")
async def get_user(user_id: int, verbose: bool = False) -> dict[str, Any]:
    return {"id": user_id, "verbose": verbose}


@router.get("/items/:item_id/parts/{part}")
async def get_part(item_id: uuid.UUID, part: Color) -> dict[str, str]:
    return {"item": str(item_id), "part": part.value}


@router.get("/files/{*path}")
async def get_file(path: str) -> str:
    return f"file {path}"


@router.get("/search")
async def search(
    q: str, page: int = 1, ratio: float | None = None, ids: list[int] | None = None
) -> dict[str, Any]:
    return {"q": q, "page": page, "ratio": ratio, "ids": ids}


@router.get("/paged")
async def paged(paging: Annotated[Paging, Query]) -> dict[str, Any]:
    return dataclasses.asdict(paging)


@router.post("/users")
async def create_user(user: NewUser) -> tuple[int, NewUser]:
    return 201, user


@router.post("/any-json")
async def any_json(body: Annotated[dict[str, Any], Json]) -> dict[str, Any]:
    return {"got": body}


@router.post("/thrift")
async def thrift_body(item: ThriftItem) -> ThriftItem:
    item.tags = [*(item.tags or []), "seen"]
    return item


@router.post("/login")
async def login(form: Annotated[Login, Form]) -> dict[str, Any]:
    return {"user": form.user, "remember": form.remember}


@router.post("/form-field")
async def form_field(user: Annotated[str, Form], age: Annotated[int, Form]) -> str:
    return f"{user} {age}"


@router.get("/headers")
async def headers(
    user_agent: Annotated[str, Header],
    request_id: Annotated[int, Header("x-request-id")],
    trace: Annotated[str | None, Header("x-trace")] = None,
) -> dict[str, Any]:
    return {"agent": user_agent, "request_id": request_id, "trace": trace}


@router.get("/cookies")
async def cookies(
    session: Annotated[str, Cookie], theme: Annotated[str, Cookie] = "light"
) -> dict[str, str]:
    return {"session": session, "theme": theme}


@router.post("/raw")
async def raw(data: bytes) -> dict[str, int]:
    return {"length": len(data)}


@router.post("/raw-text")
async def raw_text(text: Annotated[str, Body]) -> str:
    return text[::-1]


@router.get("/state")
async def state(app: Annotated[AppState, State]) -> str:
    return app.greeting


@router.get("/request")
async def whole_request(request: Request) -> dict[str, Any]:
    return {"method": request.method, "path": request.path, "query": dict(request.query)}


@router.get("/meta")
async def meta(tenant: Annotated[str, Meta], region: Annotated[str | None, Meta] = None) -> dict[
    str, Any
]:
    ctx = volo.call_context()
    return {
        "tenant": tenant,
        "region": region,
        "from_metainfo": volo.metainfo.get("tenant"),
        "context": [ctx.protocol, ctx.method, ctx.side],
    }


# ---- layers ----------------------------------------------------------------------------------

stamp = Stamp()


@router.get("/slow", layers=[Timeout(0.05)])
async def slow() -> str:
    await asyncio.sleep(30)
    return "too late"


@router.get("/limited", layers=[ConcurrencyLimit(1)])
async def limited_route() -> dict[str, int]:
    limited.inside += 1
    limited.most = max(limited.most, limited.inside)
    await asyncio.sleep(0.02)
    limited.inside -= 1
    return {"most": limited.most}


api = http.Router(layers=[stamp, Cors(allow_origins=["https://app.example"])])


@api.get("/ping")
async def ping() -> str:
    return "pong"


@api.post("/echo/{word}")
async def echo(word: str) -> str:
    return word


@api.get("/stamps")
async def stamps() -> dict[str, int]:
    return {"calls": stamp.calls}


@api.fallback
async def api_fallback(request: Request) -> tuple[int, dict[str, str]]:
    return 404, {"error": f"no API route {request.path}"}


router.nest("/api", api)

app = router
