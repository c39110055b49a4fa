"""volo.http through a real ASGI server: tests/http_app.py served by uvicorn as a
process, called over HTTP with httpx. Every extractor and response kind, the
4xx answers to bad input, and the layers (the RPC ones, a user's, CORS)."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest

import pilota
from tests.http_support import uvicorn_process
from volo import http

IDL = Path(__file__).resolve().parent / "idl" / "http"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, Path]]:
    root = tmp_path_factory.mktemp("http")
    pilota.generate([IDL / "items.thrift"], root / "volo_http_test_gen")
    log = root / "access.log"
    env = {"VOLO_HTTP_TEST_LOG": str(log)}
    with (
        uvicorn_process("tests.http_app:app", pythonpath=[root], env=env) as base,
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        yield client, log


@pytest.fixture
def client(served: tuple[httpx.Client, Path]) -> httpx.Client:
    return served[0]


def error_of(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    return body


# ---- responses ----------------------------------------------------------------------------


def test_str_is_text(client: httpx.Client) -> None:
    r = client.get("/text")
    assert (r.status_code, r.text) == (200, "plain text")
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.headers["content-length"] == "10"


def test_bytes_are_octets(client: httpx.Client) -> None:
    r = client.get("/bytes")
    assert (r.status_code, r.content) == (200, b"\x00\x01binary")
    assert r.headers["content-type"] == "application/octet-stream"


def test_dict_and_list_are_json(client: httpx.Client) -> None:
    r = client.get("/dict")
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"a": 1, "b": [True, None], "c": "é"}
    assert client.get("/list").json() == [1, 2, 3]


def test_dataclass_is_json(client: httpx.Client) -> None:
    assert client.get("/dataclass").json() == {
        "name": "ann", "age": 30, "email": None, "address": {"city": "Oslo", "zip": None},
        "scores": [],
    }  # fmt: skip


def test_thrift_struct_is_json_by_field_name(client: httpx.Client) -> None:
    r = client.get("/thrift")
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"name": "lamp", "price": 12.5, "tags": ["a"],
                        "data": base64.b64encode(b"\x01\x02").decode()}  # fmt: skip


def test_status_and_body(client: httpx.Client) -> None:
    r = client.get("/status-body")
    assert (r.status_code, r.text) == (201, "made")


def test_status_headers_and_body(client: httpx.Client) -> None:
    r = client.get("/status-headers-body")
    assert r.status_code == 202
    assert r.headers["x-extra"] == "yes"
    assert r.json() == {"accepted": True}


def test_explicit_response_with_cookie(client: httpx.Client) -> None:
    r = client.get("/response")
    assert (r.status_code, r.text) == (203, "<p>hi</p>")
    assert r.headers["content-type"] == "text/html"
    assert r.headers["set-cookie"] == "session=abc123; Path=/; SameSite=lax; Max-Age=60; HttpOnly"


def test_streaming_response(client: httpx.Client) -> None:
    with client.stream("GET", "/stream") as r:
        assert r.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in r.headers
        assert "".join(r.iter_text()) == "chunk 0\nchunk 1\nchunk 2\n"


def test_async_iterator_is_streamed(client: httpx.Client) -> None:
    r = client.get("/generator")
    assert (r.status_code, r.content) == (200, b"one,two")
    assert r.headers["transfer-encoding"] == "chunked"


def test_none_is_no_content(client: httpx.Client) -> None:
    r = client.delete("/nothing")
    assert (r.status_code, r.content) == (204, b"")


def test_head_is_get_without_body(client: httpx.Client) -> None:
    r = client.head("/text")
    assert (r.status_code, r.content) == (200, b"")
    assert r.headers["content-length"] == "10"


def test_a_failing_handler_is_500_without_details(client: httpx.Client) -> None:
    r = client.get("/fails")
    assert r.status_code == 500
    assert error_of(r) == {"error": "internal server error"}
    assert "secret" not in r.text


def test_http_error_from_a_handler(client: httpx.Client) -> None:
    r = client.get("/teapot")
    assert r.status_code == 418
    assert r.headers["x-brew"] == "tea"
    assert error_of(r) == {"error": "I'm a teapot"}


# ---- routing ------------------------------------------------------------------------------


def test_unknown_path_is_404(client: httpx.Client) -> None:
    r = client.get("/nowhere")
    assert r.status_code == 404
    assert error_of(r) == {"error": "no route for GET /nowhere"}


def test_wrong_method_is_405_with_allow(client: httpx.Client) -> None:
    r = client.post("/text")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, HEAD"
    assert error_of(r) == {"error": "POST is not allowed on /text (allowed: GET, HEAD)"}


def test_nested_router_and_its_fallback(client: httpx.Client) -> None:
    assert client.get("/api/ping").text == "pong"
    r = client.get("/api/missing")
    assert r.status_code == 404
    assert r.json() == {"error": "no API route /api/missing"}
    # outside the prefix, the top router's own fallback answers
    assert error_of(client.get("/apix"))["error"] == "no route for GET /apix"


# ---- path ---------------------------------------------------------------------------------


def test_path_parameter_and_query_flag(client: httpx.Client) -> None:
    assert client.get("/users/42").json() == {"id": 42, "verbose": False}
    assert client.get("/users/7?verbose=true").json() == {"id": 7, "verbose": True}


def test_path_parameters_uuid_and_enum_hertz_syntax(client: httpx.Client) -> None:
    item = "12345678-1234-5678-1234-567812345678"
    assert client.get(f"/items/{item}/parts/red").json() == {"item": item, "part": "red"}
    assert client.get(f"/items/{item}/parts/GREEN").json()["part"] == "green"


def test_rest_of_path(client: httpx.Client) -> None:
    assert client.get("/files/a/b/c.txt").text == "file a/b/c.txt"


def test_invalid_path_parameter_is_400(client: httpx.Client) -> None:
    r = client.get("/users/abc")
    assert r.status_code == 400
    assert error_of(r) == {"error": "path parameter 'user_id': expected an integer, got 'abc'",
                           "in": "path", "parameter": "user_id"}  # fmt: skip
    r = client.get("/items/not-a-uuid/parts/red")
    assert r.status_code == 400
    assert error_of(r)["error"] == "path parameter 'item_id': expected a UUID, got 'not-a-uuid'"
    r = client.get("/items/12345678-1234-5678-1234-567812345678/parts/blue")
    assert error_of(r)["error"] == "path parameter 'part': expected one of RED, GREEN, got 'blue'"


# ---- query --------------------------------------------------------------------------------


def test_query_scalars_optional_and_list(client: httpx.Client) -> None:
    assert client.get("/search?q=lamp").json() == {"q": "lamp", "page": 1, "ratio": None,
                                                    "ids": None}  # fmt: skip
    r = client.get("/search", params={"q": "x", "page": "3", "ratio": "0.5", "ids": ["1", "2"]})
    assert r.json() == {"q": "x", "page": 3, "ratio": 0.5, "ids": [1, 2]}


def test_query_missing_and_invalid_are_400(client: httpx.Client) -> None:
    r = client.get("/search")
    assert r.status_code == 400
    assert error_of(r) == {"error": "query parameter 'q': missing", "in": "query",
                           "parameter": "q"}  # fmt: skip
    r = client.get("/search?q=x&page=ten")
    assert r.status_code == 400
    assert error_of(r)["error"] == "query parameter 'page': expected an integer, got 'ten'"
    r = client.get("/search?q=x&ids=1&ids=two")
    assert error_of(r)["error"] == "query parameter 'ids': expected an integer, got 'two'"
    r = client.get("/users/1?verbose=maybe")
    assert error_of(r)["error"] == "query parameter 'verbose': expected true or false, got 'maybe'"
    # what int() and float() would take, but is no number here
    for bad in ("1_000", " 5", "٣"):
        r = client.get("/search", params={"q": "x", "page": bad})
        assert error_of(r)["error"] == f"query parameter 'page': expected an integer, got {bad!r}"
    for bad in ("nan", "inf", "-Infinity"):
        r = client.get("/search", params={"q": "x", "ratio": bad})
        assert (r.status_code, error_of(r)["error"]) == (
            400, f"query parameter 'ratio': expected a number, got {bad!r}")  # fmt: skip
    r = client.get("/search", params={"q": "x", "page": "9" * 5000})
    assert error_of(r)["error"] == f"query parameter 'page': expected an integer, got {'9' * 60 + '…'!r}"


def test_query_into_a_dataclass(client: httpx.Client) -> None:
    r = client.get("/paged?limit=10&tags=a&tags=b")
    assert r.json() == {"limit": 10, "offset": 0, "tags": ["a", "b"]}
    r = client.get("/paged?offset=5")
    assert r.status_code == 400
    assert error_of(r)["error"] == "query parameter 'limit': missing"
    r = client.get("/paged?limit=1&offset=x")
    assert error_of(r)["error"] == "query parameter 'offset': expected an integer, got 'x'"


# ---- JSON body ----------------------------------------------------------------------------


def test_json_into_a_dataclass(client: httpx.Client) -> None:
    body = {"name": "bo", "age": 5, "address": {"city": "Rome"}, "scores": [1, 2.5]}
    r = client.post("/users", json=body)
    assert r.status_code == 201
    assert r.json() == {"name": "bo", "age": 5, "email": None,
                        "address": {"city": "Rome", "zip": None}, "scores": [1.0, 2.5]}  # fmt: skip


def test_json_errors_name_the_field(client: httpx.Client) -> None:
    r = client.post("/users", json={"name": "bo"})
    assert r.status_code == 400
    assert error_of(r) == {"error": "body field 'age': missing", "in": "body",
                           "parameter": "age"}  # fmt: skip
    r = client.post("/users", json={"name": "bo", "age": "five"})
    assert error_of(r)["error"] == "body field 'age': expected an integer, got a string"
    r = client.post("/users", json={"name": "bo", "age": 1, "address": {"zip": "1"}})
    assert error_of(r)["error"] == "body field 'address.city': missing"
    r = client.post("/users", json={"name": "bo", "age": 1, "scores": [1, "x"]})
    assert error_of(r)["error"] == "body field 'scores[1]': expected a number, got a string"
    r = client.post("/users", json=[1])
    assert error_of(r)["error"] == "body: expected an object, got an array"


def test_malformed_json_is_400(client: httpx.Client) -> None:
    r = client.post("/users", content=b'{"name": ', headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert error_of(r)["error"].startswith("body: invalid JSON (Expecting value")
    r = client.post("/users", content=b"\xff\xfe", headers={"content-type": "application/json"})
    assert r.status_code == 400
    deep = b"[" * 100_000 + b"]" * 100_000
    r = client.post("/any-json", content=deep, headers={"content-type": "application/json"})
    assert r.status_code == 400
    # past Python's limit on an int's digits: said so, without int()'s advice to the
    # server's programmer ("use sys.set_int_max_str_digits() to increase the limit")
    r = client.post("/any-json", content=b"1" * 5000, headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert error_of(r) == {"error": "body: invalid JSON (an integer of more than 4300 digits)", "in": "body"}


def test_json_needs_its_media_type(client: httpx.Client) -> None:
    r = client.post("/users", content=b'{"name": "a", "age": 1}')
    assert r.status_code == 415
    assert error_of(r)["error"] == "body: expected Content-Type application/json, got none"
    r = client.post("/users", data={"name": "a"})
    assert r.status_code == 415


def test_any_json(client: httpx.Client) -> None:
    assert client.post("/any-json", json={"x": [1, {"y": None}]}).json() == {
        "got": {"x": [1, {"y": None}]}
    }
    r = client.post("/any-json", json=[1, 2])
    assert error_of(r)["error"] == "body: expected an object, got an array"


def test_json_into_a_thrift_struct_and_back(client: httpx.Client) -> None:
    body = {"name": "lamp", "price": 3, "tags": ["x"], "data": "AQI=", "status": "RETIRED",
            "id": 2**40, "notes": {"1": "one"}}  # fmt: skip
    r = client.post("/thrift", json=body)
    assert r.status_code == 200
    assert r.json() == {"name": "lamp", "price": 3.0, "tags": ["x", "seen"], "data": "AQI=",
                        "status": 2, "id": 2**40, "notes": {"1": "one"}}  # fmt: skip


def test_thrift_struct_errors_name_the_field(client: httpx.Client) -> None:
    r = client.post("/thrift", json={"price": 1})
    assert r.status_code == 400
    assert error_of(r)["error"] == "body field 'name': required field is missing"
    r = client.post("/thrift", json={"name": "x", "tags": ["a", 1]})
    assert error_of(r)["error"] == "body field 'tags[1]': expected a string, got a number"
    r = client.post("/thrift", json={"name": "x", "notes": {"one": "x"}})
    assert error_of(r)["error"] == "body field 'notes.one': expected an integer key, got 'one'"
    r = client.post("/thrift", json={"name": "x", "id": 2**70})
    assert r.status_code == 400
    assert "out of range" in error_of(r)["error"]


def test_too_large_body_is_413(client: httpx.Client) -> None:
    r = client.post("/raw", content=b"x" * ((1 << 20) + 1))
    assert r.status_code == 413
    assert error_of(r)["error"] == f"body: the body is over {1 << 20} bytes"


# ---- form, headers, cookies, raw body, state, request, metainfo ------------------------------


def test_form_into_a_dataclass(client: httpx.Client) -> None:
    assert client.post("/login", data={"user": "ann", "remember": "on"}).json() == {
        "user": "ann", "remember": True}  # fmt: skip
    r = client.post("/login", data={"remember": "on"})
    assert r.status_code == 400
    assert error_of(r) == {"error": "form field 'user': missing", "in": "form",
                           "parameter": "user"}  # fmt: skip
    r = client.post("/login", json={"user": "ann"})
    assert r.status_code == 415
    assert error_of(r)["error"] == (
        "body: expected Content-Type application/x-www-form-urlencoded, got application/json"
    )


def test_form_fields(client: httpx.Client) -> None:
    assert client.post("/form-field", data={"user": "ann", "age": "3"}).text == "ann 3"
    r = client.post("/form-field", data={"user": "ann", "age": "old"})
    assert error_of(r)["error"] == "form field 'age': expected an integer, got 'old'"


def test_headers(client: httpx.Client) -> None:
    r = client.get("/headers", headers={"user-agent": "probe/1", "x-request-id": "9"})
    assert r.json() == {"agent": "probe/1", "request_id": 9, "trace": None}
    r = client.get("/headers", headers={"X-Request-Id": "9", "X-Trace": "t1"})
    assert r.json()["trace"] == "t1"


def test_missing_and_invalid_headers_are_400(client: httpx.Client) -> None:
    r = client.get("/headers")
    assert r.status_code == 400
    assert error_of(r) == {"error": "header parameter 'x-request-id': missing", "in": "header",
                           "parameter": "x-request-id"}  # fmt: skip
    r = client.get("/headers", headers={"x-request-id": "nine"})
    assert error_of(r)["error"] == "header parameter 'x-request-id': expected an integer, got 'nine'"


def test_cookies(client: httpx.Client) -> None:
    client.cookies.clear()  # what /response set
    r = client.get("/cookies", headers={"cookie": "session=s1; theme=dark"})
    assert r.json() == {"session": "s1", "theme": "dark"}
    assert client.get("/cookies", headers={"cookie": "session=s2"}).json()["theme"] == "light"
    r = client.get("/cookies")
    assert r.status_code == 400
    assert error_of(r)["error"] == "cookie parameter 'session': missing"


def test_raw_body(client: httpx.Client) -> None:
    assert client.post("/raw", content=b"\x00" * 1000).json() == {"length": 1000}
    assert client.post("/raw-text", content=b"abc").text == "cba"
    r = client.post("/raw-text", content=b"\xff")
    assert (r.status_code, error_of(r)["error"]) == (400, "body: the body is not UTF-8")


def test_state_and_request(client: httpx.Client) -> None:
    assert client.get("/state").text == "hello"
    assert client.get("/request?a=1").json() == {"method": "GET", "path": "/request",
                                                  "query": {"a": "1"}}  # fmt: skip


def test_metainfo_from_headers(client: httpx.Client) -> None:
    r = client.get("/meta", headers={"rpc-persist-tenant": "acme", "rpc-transit-region": "eu"})
    assert r.json() == {"tenant": "acme", "region": "eu", "from_metainfo": "acme",
                        "context": ["http", "GET /meta", "server"]}  # fmt: skip
    r = client.get("/meta")
    assert (r.status_code, error_of(r)["error"]) == (400, "metainfo parameter 'tenant': missing")


# ---- layers -------------------------------------------------------------------------------


def test_timeout_layer_answers_504(client: httpx.Client) -> None:
    r = client.get("/slow")
    assert r.status_code == 504
    assert error_of(r) == {"error": "http.GET /slow: no reply within 0.05 s"}


def test_concurrency_limit_layer(served: tuple[httpx.Client, Path]) -> None:
    base = str(served[0].base_url)

    async def many() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            return await asyncio.gather(*(client.get("/limited") for _ in range(6)))

    responses = asyncio.run(many())
    assert all(r.status_code == 200 for r in responses)
    assert max(r.json()["most"] for r in responses) == 1


def test_user_layer_sees_the_route_and_sets_reply_headers(client: httpx.Client) -> None:
    before = client.get("/api/stamps").json()["calls"]
    r = client.post("/api/echo/hi")
    assert r.text == "hi"
    assert r.headers["x-route"] == "POST /api/echo/{word}"
    assert r.headers["x-protocol"] == "http"
    assert client.get("/api/stamps").json()["calls"] == before + 2
    # the router's layers wrap its 405 answers too
    r = client.get("/api/echo/hi")
    assert r.status_code == 405
    assert r.headers["x-route"] == "GET /api/echo/{word}"


def test_access_log_layer(served: tuple[httpx.Client, Path]) -> None:
    client, log = served
    client.get("/users/5")
    client.get("/fails")
    lines = log.read_text().splitlines()
    assert any(line.startswith("server http.GET /users/{user_id} 127.0.0.1:") and " ok " in line
               for line in lines), lines  # fmt: skip
    assert any("http.GET /fails" in line and " RuntimeError " in line for line in lines), lines


def test_cors_preflight_and_simple_requests(client: httpx.Client) -> None:
    origin = "https://app.example"
    r = client.options("/api/echo/x", headers={
        "origin": origin, "access-control-request-method": "POST",
        "access-control-request-headers": "content-type"})  # fmt: skip
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == origin
    assert "POST" in r.headers["access-control-allow-methods"]
    assert r.headers["access-control-allow-headers"] == "content-type"
    assert r.headers["vary"] == "Origin"
    r = client.get("/api/ping", headers={"origin": origin})
    assert r.headers["access-control-allow-origin"] == origin
    # errors carry the headers too, so that the page can read them
    r = client.get("/api/echo/x", headers={"origin": origin})
    assert r.status_code == 405
    assert r.headers["access-control-allow-origin"] == origin
    # another origin gets no CORS headers; the top router has no CORS layer
    assert "access-control-allow-origin" not in client.get(
        "/api/ping", headers={"origin": "https://evil.example"}).headers  # fmt: skip
    assert "access-control-allow-origin" not in client.get(
        "/text", headers={"origin": origin}).headers  # fmt: skip


# ---- registration errors (in-process: they happen before serving) ---------------------------


def test_bad_handlers_are_refused_at_registration() -> None:
    router = http.Router()

    async def no_annotation(x):  # type: ignore[no-untyped-def]
        return x

    with pytest.raises(TypeError, match=r"parameter 'x' needs a type annotation"):
        router.add("GET", "/a", no_annotation)

    async def bad_query(x: dict[str, int]) -> str:
        return ""

    with pytest.raises(TypeError, match=r"parameter 'x': dict\[str, int\] cannot be read from text"):
        router.add("GET", "/b", bad_query)

    async def wrong_path(x: Annotated[int, http.Path("y")]) -> str:
        return ""

    with pytest.raises(TypeError, match=r"the route has no path parameter \{y\}"):
        router.add("GET", "/c/{x}", wrong_path)

    async def fine(x: int) -> str:
        return ""

    router.add("GET", "/d/{x}", fine)
    with pytest.raises(ValueError, match=r"GET /d/\{y\} is routed already \(as /d/\{x\}\)"):
        router.add("GET", "/d/{y}", fine)
    with pytest.raises(ValueError, match="a parameter takes a whole segment"):
        router.add("GET", "/e/{x}.txt", fine)
    with pytest.raises(ValueError, match="must start with '/'"):
        router.add("GET", "e", fine)
    with pytest.raises(ValueError, match="unknown method 'FETCH'"):
        router.add("FETCH", "/f/{x}", fine)


# ---- a user's code type-checks ----------------------------------------------------------------


def test_users_code_passes_mypy_and_pyright_strict(
    tmp_path: Path,
) -> None:
    """tests/http_app.py uses every extractor, response kind and layer as a user
    would: it passes `mypy --strict` and pyright's strict mode."""
    import shutil

    pilota.generate([IDL / "items.thrift"], tmp_path / "volo_http_test_gen")
    shutil.copy(Path(__file__).with_name("http_app.py"), tmp_path / "http_app.py")
    type_check(tmp_path, "http_app.py")


def type_check(folder: Path, module: str) -> None:
    """`module` in `folder` passes mypy --strict and pyright's strict mode."""
    import json
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    env = {**os.environ, "MYPYPATH": str(REPO)}
    mypy = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", module],
        cwd=folder, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert mypy.returncode == 0, mypy.stdout + mypy.stderr
    pyright = Path(sys.executable).with_name("pyright")
    if not pyright.exists():
        if os.environ.get("CI"):
            pytest.fail("pyright is not installed (it is a test dependency)")
        pytest.skip("pyright is not installed")
    config = {"typeCheckingMode": "strict", "extraPaths": [str(REPO)], "pythonVersion": "3.11"}
    (folder / "pyrightconfig.json").write_text(json.dumps(config))
    result = subprocess.run([str(pyright), module], cwd=folder, env=env,
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_routes_are_added_before_serving() -> None:
    """The router builds its table at the first request: later routes would be lost."""
    router = http.Router()

    @router.get("/a")
    async def a() -> str:
        return "a"

    async def first() -> httpx.Response:
        transport = httpx.ASGITransport(app=router)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/a")

    assert asyncio.run(first()).text == "a"
    with pytest.raises(RuntimeError, match="before the router serves its first request"):
        router.add("GET", "/b", a)
    with pytest.raises(RuntimeError, match="before the router serves its first request"):
        router.nest("/c", http.Router())


# ---- fast paths read as the general ones do (in-process) --------------------------------------


@pytest.mark.parametrize(
    "query",
    ["", "a", "a=", "=b", "a=b=c", "&&a=1&&b&", "a=1&a=2&b=3", "a;b=c", "é=ü&x=y",
     "x=%41b", "x=a+b", "a+b=1&a b=2", "x=%zz&y=%C3%A9", "k=1&k&k="],
)  # fmt: skip
def test_query_params_are_parse_qsl(query: str) -> None:
    """Queries without '%' and '+' skip parse_qsl's unquoting: the pairs, the
    first value by name and their order are parse_qsl's all the same."""
    from urllib.parse import parse_qsl

    params = http.QueryParams(query)
    pairs = parse_qsl(query, keep_blank_values=True)
    first: dict[str, str] = {}
    for key, value in pairs:
        first.setdefault(key, value)
    assert list(params.items()) == list(first.items())
    for key in first:
        assert params.get_all(key) == [value for name, value in pairs if name == key]


def test_integers_from_text() -> None:
    """ASCII digits skip the pattern; everything else meets it, as before."""
    from volo.http.extract import scalar_parser

    parse = scalar_parser(int)
    for text, number in [("0", 0), ("0042", 42), ("-7", -7), ("+7", 7), ("9" * 4000, int("9" * 4000))]:
        assert parse(text) == number
    for bad in ("", "1_000", " 5", "5 ", "٣", "²", "1.0", "9" * 4001, "-", "0x10"):
        with pytest.raises(ValueError, match="expected an integer"):
            parse(bad)


@pytest.mark.parametrize(
    "body",
    [b"{}", b"[1,2]", b"1", b"12", b"", b" ", b'"\xc3\xa9"', b'"\xed\xa0\x80"', b'"\xff"',
     b"\xef\xbb\xbf{}", '{"a":1}'.encode("utf-16"), '{"a":1}'.encode("utf-16-le"),
     '{"a":1}'.encode("utf-32-be"), "[]".encode("utf-16-be"), b"{\x00}", b"nan", b"NaN",
     b"{'a':1}", b'{"a":1} x', b"[" * 100_000],
)  # fmt: skip
def test_json_bodies_read_as_json_loads_reads_them(body: bytes) -> None:
    """The body extractor's own path to the JSON decoder gives json.loads's values and errors."""
    import json

    from volo.http.extract import _loads

    def outcome(read: Any) -> Any:
        try:
            return read(body)
        except (ValueError, RecursionError) as exc:
            return type(exc), str(exc)

    assert repr(outcome(_loads)) == repr(outcome(json.loads))  # repr: NaN is not NaN


def test_json_lists_and_maps_of_scalars_are_checked_per_value() -> None:
    """Lists and maps whose values all have the exact type are taken whole; any
    other value (a bool among ints, an int among strs) is named by its place."""
    from volo.http.extract import Invalid, json_converter

    ints, names = json_converter(list[int]), json_converter(dict[str, str])
    assert ints([]) == [] and ints([1, -2, 3]) == [1, -2, 3]
    assert names({}) == {} and names({"a": "x"}) == {"a": "x"}
    for convert, value, path, reason in [
        (ints, [1, True], "[1]", "expected an integer, got a boolean"),
        (ints, [1.0], "[0]", "expected an integer, got a number"),
        (names, {"a": "x", "b": 1}, ".b", "expected a string, got a number"),
        (names, {"a": None}, ".a", "expected a string, got null"),
    ]:
        with pytest.raises(Invalid) as caught:
            convert(value)
        assert (caught.value.path, caught.value.reason) == (path, reason)


def test_dataclass_responses_again() -> None:
    """The second value of a dataclass type takes the remembered way to JSON, nested too."""
    import dataclasses

    @dataclasses.dataclass
    class Inner:
        n: int

    @dataclasses.dataclass
    class Outer:
        name: str
        inner: Inner

    for _ in range(2):
        response = http.into_response(Outer("é", Inner(1)))
        assert (response.status, response.body) == (200, '{"name":"é","inner":{"n":1}}'.encode())
        assert response.header("content-type") == "application/json"


def test_headers_to_dict_is_dict_of_headers() -> None:
    headers = http.Headers([(b"X-A", b"1"), (b"x-a", b"2"), (b"host", b"h"), (b"Vary", b"\xe9")])
    assert headers.to_dict() == dict(headers) == {"x-a": "1", "host": "h", "vary": "é"}
    assert list(headers.to_dict()) == list(dict(headers))
    headers.to_dict()["host"] = "changed"  # a copy: the request's headers stay
    assert headers["host"] == "h"


@pytest.mark.parametrize("freeze", [True, False])
def test_lifespan_startup_freezes_what_is_alive_then(freeze: bool) -> None:
    # In a process of its own: gc.freeze() is process-wide.
    script = (
        "import asyncio, gc\n"
        "from volo import http\n"
        f"app = http.Router(freeze_at_startup={freeze})\n"
        "sent = []\n"
        "async def main():\n"
        "    messages = iter([{'type': 'lifespan.startup'}, {'type': 'lifespan.shutdown'}])\n"
        "    async def receive(): return next(messages)\n"
        "    async def send(message): sent.append(message['type'])\n"
        "    await app({'type': 'lifespan', 'asgi': {'version': '3.0'}}, receive, send)\n"
        "asyncio.run(main())\n"
        "print(sent, gc.get_freeze_count() > 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"['lifespan.startup.complete', 'lifespan.shutdown.complete'] {freeze}"
