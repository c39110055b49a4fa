"""The health and reflection services a volo.grpc server brings, seen by
grpcio's own clients: grpcio-health-checking's stub (Check and Watch) and
grpcio-reflection's ProtoReflectionDescriptorDatabase (v1alpha, and v1)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

import volo.grpc
from tests.grpc_support import make_handler, modules

REPO = Path(__file__).resolve().parent.parent
OUR_SERVICES = {
    "echotest.v1.Echo",
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
}


def reflection_database(port: int, version: str) -> tuple[grpc.Channel, Any]:
    """grpcio-reflection's database on a blocking channel. It speaks v1alpha;
    for v1 its stub is pointed at v1's method, whose messages are the same on
    the wire (grpc's reflection.proto files differ in package only)."""
    from grpc_reflection.v1alpha import reflection_pb2
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
        ProtoReflectionDescriptorDatabase,
    )

    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    database = ProtoReflectionDescriptorDatabase(channel)
    if version == "v1":
        database._stub.ServerReflectionInfo = channel.stream_stream(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )
    return channel, database


def describe(port: int, version: str) -> dict[str, Any]:
    """What a client learns through reflection (blocking: run it in a thread)."""
    from google.protobuf.descriptor_pool import DescriptorPool
    from google.protobuf.message_factory import GetMessageClass

    channel, database = reflection_database(port, version)
    with channel:
        pool = DescriptorPool(database)
        services = set(database.get_services())
        ping = pool.FindMessageTypeByName("echotest.v1.Ping")
        echo = pool.FindServiceByName("echotest.v1.Echo")
        ours = modules().ours
        data = ours.Ping(text="hi", count=3, echo_keys=["a"], details=True).to_bytes()
        decoded = GetMessageClass(ping).FromString(data)
        try:
            pool.FindMessageTypeByName("echotest.v1.NoSuchThing")
        except KeyError:
            unknown = "KeyError"
        health = pool.FindServiceByName("grpc.health.v1.Health")
        by_field = database.FindFileContainingSymbol("echotest.v1.Pong.seen").name
        by_value = database.FindFileContainingSymbol(
            "grpc.health.v1.HealthCheckResponse.NOT_SERVING"
        ).name
    return {
        "services": services,
        "ping_fields": [(f.name, f.number) for f in ping.fields],
        "sent_type": ping.fields_by_name["sent"].message_type.full_name,
        "methods": [(m.name, m.client_streaming, m.server_streaming) for m in echo.methods],
        "decoded": (decoded.text, decoded.count, list(decoded.echo_keys), decoded.details),
        "unknown": unknown,
        "health_methods": [m.name for m in health.methods],
        "by_field_and_enum_value": (by_field, by_value),
    }


@pytest.mark.parametrize("version", ["v1alpha", "v1"])
async def test_reflection_lists_services_and_resolves_messages(version: str) -> None:
    async with volo.grpc.Server(make_handler(), "127.0.0.1", 0) as server:
        found = await asyncio.to_thread(describe, server.port, version)
    assert found["services"] == OUR_SERVICES
    assert found["ping_fields"] == [
        ("text", 1), ("count", 2), ("fail_code", 3), ("fail_message", 4), ("crash", 5),
        ("sleep_ms", 6), ("fail_after", 7), ("blob", 8), ("echo_keys", 9), ("sent", 10),
        ("details", 11), ("children", 12),
    ]  # fmt: skip
    # the dependency (a well-known type) came with the file that needs it
    assert found["sent_type"] == "google.protobuf.Timestamp"
    assert found["methods"] == [
        ("Unary", False, False), ("ServerStream", False, True),
        ("ClientStream", True, False), ("Bidi", True, True),
    ]  # fmt: skip
    # protobuf's dynamic messages, built from the descriptors, read our bytes
    assert found["decoded"] == ("hi", 3, ["a"], True)
    assert found["unknown"] == "KeyError"
    assert found["health_methods"] == ["Check", "Watch"]
    assert found["by_field_and_enum_value"] == (
        "echotest/echo.proto",
        "grpc/health/v1/health.proto",
    )


async def test_without_reflection_it_is_unimplemented() -> None:
    async with volo.grpc.Server(make_handler(), "127.0.0.1", 0, reflection=False) as server:
        with pytest.raises(grpc.RpcError) as failed:
            await asyncio.to_thread(lambda: describe(server.port, "v1alpha"))
    assert failed.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_health_check_and_watch_follow_the_server() -> None:
    SERVING = health_pb2.HealthCheckResponse.SERVING
    NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
    server = volo.grpc.Server(make_handler(), "127.0.0.1", 0)
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    stub = health_pb2_grpc.HealthStub(channel)
    try:
        Request = health_pb2.HealthCheckRequest
        assert (await stub.Check(Request(service=""))).status == SERVING
        assert (await stub.Check(Request(service="echotest.v1.Echo"))).status == SERVING
        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            await stub.Check(Request(service="no.Such"))
        assert unknown.value.code() == grpc.StatusCode.NOT_FOUND

        watch = stub.Watch(Request(service="echotest.v1.Echo"))
        whole = stub.Watch(Request(service=""))
        assert (await watch.read()).status == SERVING
        assert (await whole.read()).status == SERVING
        stranger = stub.Watch(Request(service="no.Such"))
        response = await stranger.read()
        assert response.status == health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
        stranger.cancel()

        server.health.set("echotest.v1.Echo", "NOT_SERVING")
        assert (await watch.read()).status == NOT_SERVING
        assert (await stub.Check(Request(service="echotest.v1.Echo"))).status == NOT_SERVING
        server.health.set("echotest.v1.Echo", volo.grpc.ServingStatus.SERVING)
        assert (await watch.read()).status == SERVING
        assert (await stub.Check(Request(service=""))).status == SERVING

        # Shutting down: NOT_SERVING for all, then the watches end (so that they drain).
        closing = asyncio.ensure_future(server.close(grace=5))
        assert (await whole.read()).status == NOT_SERVING
        assert (await watch.read()).status == NOT_SERVING
        assert await whole.read() is grpc.aio.EOF
        assert await watch.read() is grpc.aio.EOF
        assert await whole.code() == grpc.StatusCode.OK
        await closing
    finally:
        await channel.close()
        await server.close()
    with pytest.raises(ValueError, match="unknown serving status"):
        server.health.set("", "SLEEPING")


def test_shipped_modules_are_what_the_script_makes() -> None:
    """volo/grpc/pb is scripts/grpc_protos.py's output, unedited."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "grpc_protos", REPO / "scripts" / "grpc_protos.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    made = {str(f.path): f.text for f in script.generated()}
    shipped = {
        str(path.relative_to(script.TARGET)): path.read_text()
        for path in script.TARGET.rglob("*")
        if path.is_file() and path.suffix in (".py", ".typed")
    }
    assert made == shipped
