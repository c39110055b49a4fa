"""HTTP APIs generated from IDL annotations (tests/idl/http/store.thrift, Hertz's
convention): one handler instance serves its methods over Thrift RPC and over
HTTP (uvicorn, real sockets) in the same test, and the JSON on the wire is the
generated classes' JSON mapping."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import httpx
import pytest
import uvicorn

import pilota
import volo
import volo.thrift
from volo import http
from volo.http import idl, thrift_json

IDL = Path(__file__).resolve().parent / "idl" / "http"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    root = tmp_path_factory.mktemp("http_idl")
    pilota.generate([IDL / "store.thrift"], root / "volo_http_idl_gen")
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module("volo_http_idl_gen.store")
    finally:
        sys.path.remove(str(root))


def make_handler(store: ModuleType) -> Any:
    class StoreImpl(store.StoreHandler):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            self.items: dict[int, Any] = {}
            self.protocols: list[str] = []  # the protocol of each call, as the handler sees it
            self.tenants: list[str | None] = []  # metainfo that came with Forget

        def seen(self) -> None:
            self.protocols.append(volo.call_context().protocol)

        async def GetItem(self, req: Any) -> Any:
            self.seen()
            if req.id not in self.items:
                raise store.NotFound(what=f"item {req.id}")
            item = self.items[req.id]
            if req.verbose:
                extra = [f"trace={req.trace}", f"session={req.session}"]
                return store.Item(id=item.id, name=item.name, price=item.price,
                                  tags=[*item.tags, *extra], kind=item.kind)  # fmt: skip
            return item

        async def CreateItem(self, req: Any) -> Any:
            self.seen()
            item = store.Item(id=len(self.items) + 1, name=req.name, price=req.price,
                              tags=[*req.tags, f"shop={req.shop}", f"token={req.token}"],
                              kind=req.kind)  # fmt: skip
            self.items[item.id] = item
            return item

        async def Search(self, req: Any) -> Any:
            self.seen()
            found = [i for i in self.items.values()
                     if req.q in i.name and all(t in i.tags for t in req.tags)]  # fmt: skip
            return store.SearchResponse(items=found[: req.limit], total=len(found))

        async def Login(self, req: Any) -> str:
            self.seen()
            return f"hello {req.user} ({'with' if req.password else 'no'} password)"

        async def Rename(self, id: int, name: str) -> Any:
            self.seen()
            if id not in self.items:
                raise store.NotFound(what=f"item {id}")
            self.items[id].name = name
            return self.items[id]

        async def Count(self) -> int:
            return len(self.items)

        async def Forget(self, id: int) -> None:
            self.seen()
            self.tenants.append(volo.metainfo.get("tenant"))
            self.items.pop(id, None)

    return StoreImpl()


async def serve_http(app: Any) -> AsyncIterator[str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                           lifespan="off"))  # fmt: skip
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_one_handler_serves_rpc_and_http(store: ModuleType) -> None:
    handler = make_handler(store)
    router = http.handler_router(handler, statuses={store.NotFound: 404})
    async with volo.thrift.Server(handler, "127.0.0.1", 0) as rpc_server:
        transport = volo.thrift.connect(f"127.0.0.1:{rpc_server.port}")
        rpc = store.StoreClient(transport)
        web = serve_http(router)
        base = await web.__anext__()
        try:
            async with httpx.AsyncClient(base_url=base) as client:
                await scenario(store, handler, rpc, client)
            async with http.connect(store.StoreClient, base) as typed:
                await typed_client(store, handler, rpc, typed)
        finally:
            await transport.close()
            await web.aclose()


async def scenario(store: ModuleType, handler: Any, rpc: Any, client: httpx.AsyncClient) -> None:
    # Made over HTTP (path, JSON body fields, a header), read over RPC.
    r = await client.post("/shops/main/items", headers={"x-token": "t0"},
                          json={"name": "lamp", "price": 3.5, "tags": ["a"], "kind": "TOOL"})  # fmt: skip
    assert r.status_code == 200, r.text
    created = await rpc.GetItem(store.GetItemRequest(id=1))
    assert created == store.Item(id=1, name="lamp", price=3.5, tags=["a", "shop=main", "token=t0"],
                                 kind=store.Kind.TOOL)  # fmt: skip
    assert r.json() == thrift_json.to_jsonable(created)
    assert r.json() == {"id": 1, "name": "lamp", "price": 3.5,
                        "tags": ["a", "shop=main", "token=t0"], "kind": 2}  # fmt: skip

    # Made over RPC, read over HTTP (path, query, header, cookie).
    made = await rpc.CreateItem(store.CreateItemRequest(shop="b", name="desk", price=10.0, tags=[]))
    r = await client.get(f"/items/{made.id}")
    assert r.json() == thrift_json.to_jsonable(made)
    r = await client.get(f"/items/{made.id}?verbose=1", headers={"x-trace": "tr",
                                                              "cookie": "session=s9"})  # fmt: skip
    assert r.json()["tags"] == ["shop=b", "token=None", "trace=tr", "session=s9"]

    # Query values into a request struct: a list, a default, a required one.
    r = await client.get("/search", params={"q": "l", "tag": ["a", "shop=main"], "limit": "5"})
    assert r.json() == {"items": [thrift_json.to_jsonable(created)], "total": 1}
    r = await client.get("/search?q=zzz")
    assert r.json() == {"items": [], "total": 0}

    # A form, and a string result as JSON.
    r = await client.post("/login", data={"user": "ann", "password": "pw"})
    assert (r.status_code, r.json()) == (200, "hello ann (with password)")

    # Arguments bound one by one ({id} route syntax too); a void method is 204.
    r = await client.put("/items/1/name?name=bulb")
    assert r.json()["name"] == "bulb"
    assert (await rpc.GetItem(store.GetItemRequest(id=1))).name == "bulb"
    r = await client.delete("/items/1")
    assert (r.status_code, r.content) == (204, b"")
    with pytest.raises(store.NotFound):
        await rpc.GetItem(store.GetItemRequest(id=1))

    # A declared exception: the status given for it, and its fields.
    r = await client.get("/items/1")
    assert r.status_code == 404
    assert r.json() == {"error": "NotFound", "exception": {"what": "item 1"}}

    # Bad input: 400 naming the value.
    r = await client.get("/items/abc")
    assert (r.status_code, r.json()["error"]) == (400, "path parameter 'id': expected an integer, got 'abc'")
    r = await client.get("/search")
    assert (r.status_code, r.json()["error"]) == (400, "query parameter 'q': missing")
    r = await client.get("/search?q=a&limit=99999999999")
    assert r.status_code == 400
    assert r.json()["error"].startswith("query parameter 'limit': 99999999999 is out of range")
    r = await client.post("/shops/main/items", json={"price": 1})
    assert (r.status_code, r.json()["error"]) == (400, "body field 'name': missing")
    r = await client.post("/shops/main/items", json={"name": "x", "price": "cheap"})
    assert r.json()["error"] == "body field 'price': expected a number, got a string"
    r = await client.post("/shops/main/items", json={"name": "x", "kind": "FOOD"})
    assert r.json()["error"] == "body field 'kind': 'FOOD' is not a member of Kind (BOOK, TOOL)"
    r = await client.post("/shops/main/items", content=b"{", headers={"content-type": "application/json"})
    assert r.status_code == 400
    r = await client.post("/shops/main/items", content=b'{"name": "x", "price": ' + b"1" * 5000 + b"}",
                          headers={"content-type": "application/json"})  # fmt: skip
    assert (r.status_code, r.json()["error"]) == (400, "body: invalid JSON (an integer of more than 4300 digits)")
    r = await client.post("/login", data={"password": "x"})
    assert (r.status_code, r.json()["error"]) == (400, "form field 'user': missing")

    # Count has no HTTP annotation: RPC only.
    assert await rpc.Count() == 1
    assert (await client.get("/count")).status_code == 404

    # Every call reached the one handler, over both protocols.
    assert set(handler.protocols) == {"http", "thrift"}


def test_a_handler_without_http_routes_is_refused(store: ModuleType) -> None:
    class Plain(store.StoreHandler):  # type: ignore[misc, name-defined]
        __http_routes__ = ()

    with pytest.raises(ValueError, match="its IDL routes no method over HTTP"):
        http.handler_router(Plain())


async def typed_client(store: ModuleType, handler: Any, rpc: Any, client: Any) -> None:
    """The generated client, over HTTP (volo.http.connect), against the same handler."""
    item = await client.CreateItem(store.CreateItemRequest(shop="web", name="pen", price=1.5,
                                                           tags=["x"], token="tk"))  # fmt: skip
    assert item == await rpc.GetItem(store.GetItemRequest(id=item.id))
    assert item.tags == ["x", "shop=web", "token=tk"]
    got = await client.GetItem(store.GetItemRequest(id=item.id, verbose=True, trace="t",
                                                    session="s"))  # fmt: skip
    assert got.tags == [*item.tags, "trace=t", "session=s"]
    found = await client.Search(store.SearchRequest(q="pe", tags=["x"], limit=3))
    assert found == store.SearchResponse(items=[item], total=1)
    assert await client.Login(store.LoginRequest(user="bo")) == "hello bo (no password)"
    renamed = await client.Rename(item.id, "marker")
    assert renamed.name == "marker"
    # a declared exception comes back as itself
    with pytest.raises(store.NotFound) as caught:
        await client.GetItem(store.GetItemRequest(id=999))
    assert caught.value == store.NotFound(what="item 999")
    # metainfo travels as headers; a void method returns None
    volo.metainfo.set_persistent("tenant", "acme")
    assert await client.Forget(item.id) is None
    assert handler.tenants[-1] == "acme"
    # a method without an HTTP route, an answer that is not the method's
    with pytest.raises(ValueError, match=r"Store\.Count is not routed over HTTP"):
        await client.Count()
    with pytest.raises(store.NotFound):
        await client.Rename(123456, "x")
    with pytest.raises(http.HTTPError) as error:
        await client.Login(store.LoginRequest(user=None))  # the required user unset
    assert (error.value.status, error.value.message) == (400, "form field 'user': missing")


def test_path_bindings_must_match_the_route(store: ModuleType) -> None:
    from pilota.runtime.service import HttpBinding, HttpRoute

    class Wrong(store.StoreHandler):  # type: ignore[misc, name-defined]
        __http_routes__ = (
            HttpRoute("GET", "/items/:item_id", "GetItem", (HttpBinding("req", "id", "path", "id"),)),
        )

    with pytest.raises(ValueError, match=r'Store\.GetItem \(GET /items/:item_id\): api\.path = "id" names no parameter of the route'):
        http.handler_router(Wrong())

    class Unbound(store.StoreHandler):  # type: ignore[misc, name-defined]
        __http_routes__ = (HttpRoute("DELETE", "/items/:id", "Forget", ()),)

    with pytest.raises(ValueError, match=r"the route's parameter 'id' has no api\.path value"):
        http.handler_router(Unbound())


def body_threads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the threads IDL routes read JSON bodies on, as they come."""
    threads: list[str] = []
    json_body = idl._json_body

    def recording(request: Any, raw: bytes) -> Any:
        threads.append(threading.current_thread().name)
        return json_body(request, raw)

    monkeypatch.setattr(idl, "_json_body", recording)
    return threads


@dataclasses.dataclass
class Note:
    """A plain route's body, which says where it was read."""

    text: str
    threads: ClassVar[list[str]] = []

    def __post_init__(self) -> None:
        self.threads.append(threading.current_thread().name)


async def test_a_large_body_is_read_off_the_event_loop(
    store: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A handler's arguments are read from a body over the router's
    `max_loop_decode` bytes on volo's decoding thread (the JSON parsed and
    converted there), from smaller ones on the loop, and from all with None,
    on IDL routes and plain ones; the answers, errors included, are the same."""
    threads = body_threads(monkeypatch)
    monkeypatch.setattr(Note, "threads", threads)
    for most, on_thread in ((1000, [False, True, False, True, True]), (None, [False] * 5)):
        threads.clear()
        router = http.handler_router(make_handler(store), max_loop_decode=most)

        @router.post("/notes")
        async def add(note: Note) -> dict[str, int]:
            return {"length": len(note.text)}

        transport = httpx.ASGITransport(app=router)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            for tags in ([], ["t"] * 300):
                r = await client.post("/shops/main/items", json={"name": "lamp", "tags": tags})
                assert r.status_code == 200, r.text
                assert r.json()["tags"] == [*tags, "shop=main", "token=None"]
            for text in ("x", "x" * 2000):
                r = await client.post("/notes", json={"text": text})
                assert r.json() == {"length": len(text)}
            r = await client.post("/shops/main/items", content=b"{" + b" " * 2000,
                                  headers={"content-type": "application/json"})  # fmt: skip
            assert r.status_code == 400
            assert "invalid JSON" in r.text
        assert [name.startswith("volo-decode") for name in threads] == on_thread
    with pytest.raises(ValueError, match=r"^max_loop_decode must be at least 0"):
        http.Router(max_loop_decode=-1)
