"""HTTP APIs from protobuf `google.api.http` options (gRPC transcoding,
tests/idl/http/proto/library.proto): one handler instance serves its rpcs over
gRPC and over HTTP (uvicorn, real sockets) in the same test, and the JSON on
the wire is ProtoJSON."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

import volo
from tests.proto_support import generate_package
from tests.test_http_idl import body_threads, serve_http
from volo import http

PROTO = Path(__file__).resolve().parent / "idl" / "http" / "proto"

grpc_server = pytest.importorskip("volo.grpc")


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    root = tmp_path_factory.mktemp("transcoding")
    generate_package([PROTO / "library.proto"], [PROTO], root, "volo_http_pb_gen")
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module("volo_http_pb_gen.library.v1.library")
    finally:
        sys.path.remove(str(root))


def make_handler(lib: ModuleType) -> Any:
    from volo.grpc.status import Code, StatusError

    class LibraryImpl(lib.LibraryHandler):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            self.books: dict[int, Any] = {}
            self.protocols: list[str] = []

        async def GetBook(self, request: Any) -> Any:
            self.protocols.append(volo.call_context().protocol)
            book = self.books.get(request.id)
            if book is None:
                raise StatusError(Code.NOT_FOUND, f"no book {request.id}")
            if not request.with_tags:
                return lib.Book(id=book.id, title=book.title, genre=book.genre,
                                author=book.author, page_count=book.page_count)  # fmt: skip
            return book

        async def CreateBook(self, request: Any) -> Any:
            self.protocols.append(volo.call_context().protocol)
            book = request.book
            book.id = len(self.books) + 1
            book.tags = [*book.tags, f"shelf={request.shelf}"]
            self.books[book.id] = book
            return book

        async def ListBooks(self, request: Any) -> Any:
            found = [b for b in self.books.values()
                     if all(t in b.tags for t in request.tags)
                     and request.genre in (lib.Genre.GENRE_UNSPECIFIED, b.genre)]  # fmt: skip
            size = request.page_size or len(found)
            return lib.ListBooksResponse(books=found[:size], total=len(found))

        async def RenameBook(self, request: Any) -> Any:
            book = self.books[request.book.id]
            book.title = request.book.title
            return book

        async def CountBooks(self, request: Any) -> Any:
            return lib.ListBooksResponse(total=len(self.books))

    return LibraryImpl()


async def test_one_handler_serves_grpc_and_http(library: ModuleType) -> None:
    lib = library
    handler = make_handler(lib)
    router = http.handler_router(handler)
    async with volo.grpc.Server(handler, "127.0.0.1", 0) as server:
        channel = volo.grpc.connect(f"127.0.0.1:{server.port}")
        rpc = lib.LibraryClient(channel)
        web = serve_http(router)
        base = await web.__anext__()
        try:
            async with httpx.AsyncClient(base_url=base) as client:
                await scenario(lib, handler, rpc, client)
            async with http.connect(lib.LibraryClient, base) as typed:
                await typed_client(lib, rpc, typed)
        finally:
            await channel.close()
            await web.aclose()


async def scenario(lib: ModuleType, handler: Any, rpc: Any, client: httpx.AsyncClient) -> None:
    # Made over HTTP (a path variable, the body into one field), read over gRPC.
    body = {"title": "Dune", "genre": "NOVEL", "tags": ["sf"], "author": {"name": "Herbert"},
            "pageCount": "412"}  # fmt: skip
    r = await client.post("/v1/shelves/s1/books", json=body)
    assert r.status_code == 200, r.text
    made = await rpc.GetBook(lib.GetBookRequest(id=1, with_tags=True))
    assert made == lib.Book(id=1, title="Dune", genre=lib.Genre.NOVEL, tags=["sf", "shelf=s1"],
                            author=lib.Author(name="Herbert"), page_count=412)  # fmt: skip
    # ProtoJSON on the wire: json names, int64 as strings, enums by name
    assert r.json() == made.to_dict()
    assert r.json() == {"id": "1", "title": "Dune", "genre": "NOVEL", "tags": ["sf", "shelf=s1"],
                        "author": {"name": "Herbert"}, "pageCount": "412"}  # fmt: skip

    # Made over gRPC, read over HTTP: a path variable and a query parameter.
    await rpc.CreateBook(lib.CreateBookRequest(shelf="s2", book=lib.Book(title="Odes",
                                                                         genre=lib.Genre.POETRY)))  # fmt: skip
    r = await client.get("/v1/books/2?with_tags=true")
    assert r.json() == (await rpc.GetBook(lib.GetBookRequest(id=2, with_tags=True))).to_dict()
    assert r.json()["tags"] == ["shelf=s2"]
    assert "tags" not in (await client.get("/v1/books/2")).json()

    # Query parameters: repeated, an enum by name, json or proto names.
    r = await client.get("/v1/books", params={"tags": "sf", "genre": "NOVEL", "pageSize": "5"})
    assert r.json() == {"books": [made.to_dict()], "total": 1}
    r = await client.get("/v1/books?page_size=1")
    assert (len(r.json()["books"]), r.json()["total"]) == (1, 2)
    # an additional binding that answers one field of the response
    r = await client.get("/v1/titles?genre=POETRY")
    assert [b["title"] for b in r.json()] == ["Odes"]

    # body "*" with a nested path variable
    r = await client.patch("/v1/books/1", json={"book": {"title": "Dune Messiah"}})
    assert r.json()["title"] == "Dune Messiah"
    assert (await rpc.GetBook(lib.GetBookRequest(id=1))).title == "Dune Messiah"

    # A gRPC status from the handler: its HTTP status, as transcoding maps it.
    r = await client.get("/v1/books/9")
    assert (r.status_code, r.json()) == (404, {"code": 5, "message": "no book 9"})

    # Bad input: 400 naming the value.
    r = await client.get("/v1/books/abc")
    assert (r.status_code, r.json()["error"]) == (400, "path parameter 'id': expected an integer, got 'abc'")
    r = await client.get("/v1/books?genre=OPERA")
    assert r.status_code == 400
    assert r.json()["in"] == "query"
    assert "genre" in r.json()["error"]
    r = await client.get("/v1/books?colour=red")
    assert r.json()["error"] == "query parameter 'colour': ListBooksRequest has no such field"
    r = await client.post("/v1/shelves/s1/books", json={"title": 5})
    assert r.status_code == 400
    assert r.json()["in"] == "body"
    r = await client.post("/v1/shelves/s1/books", content=b"[", headers={"content-type": "application/json"})
    assert r.status_code == 400

    # CountBooks has no google.api.http option: gRPC only.
    assert (await rpc.CountBooks(lib.ListBooksRequest())).total == 2
    assert set(handler.protocols) == {"http", "grpc"}


def test_unsupported_path_templates_are_refused(library: ModuleType) -> None:
    from volo.http.idl import _route_pattern

    with pytest.raises(ValueError, match=r"\{id=shelves/\*\} is not supported"):
        _route_pattern("/v1/{id=shelves/*}", library.GetBookRequest)
    with pytest.raises(ValueError, match="GetBookRequest has no field 'nope'"):
        _route_pattern("/v1/{nope}", library.GetBookRequest)
    assert _route_pattern("/v1/{id}/{with_tags=**}", library.GetBookRequest)[0] == "/v1/{v0}/{*v1}"


async def typed_client(lib: ModuleType, rpc: Any, client: Any) -> None:
    """The generated protobuf client, over HTTP (volo.http.connect), against the same handler."""
    from volo.grpc.status import Code, StatusError

    made = await client.CreateBook(lib.CreateBookRequest(
        shelf="s3", book=lib.Book(title="Ariel", genre=lib.Genre.POETRY, tags=["verse"],
                                  page_count=2**40)))  # fmt: skip
    assert made == await rpc.GetBook(lib.GetBookRequest(id=made.id, with_tags=True))
    assert made.tags == ["verse", "shelf=s3"]
    # path variable and a query parameter
    assert (await client.GetBook(lib.GetBookRequest(id=made.id, with_tags=True))) == made
    assert (await client.GetBook(lib.GetBookRequest(id=made.id))).tags == []
    # query: repeated, an enum, an int32
    listed = await client.ListBooks(lib.ListBooksRequest(tags=["verse"], genre=lib.Genre.POETRY,
                                                         page_size=5))  # fmt: skip
    assert listed == lib.ListBooksResponse(books=[made], total=1)
    # body "*" with a nested path variable
    renamed = await client.RenameBook(lib.RenameBookRequest(book=lib.Book(id=made.id, title="Ariel II")))
    assert renamed.title == "Ariel II"
    assert (await rpc.GetBook(lib.GetBookRequest(id=made.id))).title == "Ariel II"
    # a gRPC status comes back as one
    with pytest.raises(StatusError) as caught:
        await client.GetBook(lib.GetBookRequest(id=12345))
    assert (caught.value.code, caught.value.message) == (Code.NOT_FOUND, "no book 12345")
    # an rpc without a rule
    with pytest.raises(ValueError, match=r"has no google\.api\.http rule"):
        await client.CountBooks(lib.ListBooksRequest())


async def test_a_large_body_is_read_off_the_event_loop(
    library: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As on Thrift IDL routes (test_http_idl): the request message is read from
    a body over `max_loop_decode` bytes on volo's decoding thread."""
    threads = body_threads(monkeypatch)
    router = http.handler_router(make_handler(library), max_loop_decode=1000)
    transport = httpx.ASGITransport(app=router)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for tags in ([], ["t"] * 300):
            r = await client.post("/v1/shelves/s1/books", json={"title": "Dune", "tags": tags})
            assert r.status_code == 200, r.text
            assert r.json()["tags"] == [*tags, "shelf=s1"]
    assert [name.startswith("volo-decode") for name in threads] == [False, True]
