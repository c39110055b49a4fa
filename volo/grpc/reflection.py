"""gRPC server reflection (v1 and v1alpha), which a `volo.grpc.Server`
serves unless `reflection=False`: clients (grpcurl, grpcio-reflection's
ProtoReflectionDescriptorDatabase) list the services and fetch the
descriptors of the files that define them.

The descriptors are those generated modules carry (`FILE_DESCRIPTOR`, protoc's
bytes): the module of each service served, and every module it imports,
transitively (the well-known types included). A file is answered with the
files it depends on, as grpc's own reflection services answer it.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterable, Sequence
from types import ModuleType
from typing import Any

from pilota.runtime.protobuf import Handler
from pilota.runtime.protobuf.wkt.google.protobuf.descriptor import (
    DescriptorProto,
    EnumDescriptorProto,
    FileDescriptorProto,
)
from volo.grpc.pb.grpc.reflection.v1 import reflection as v1
from volo.grpc.pb.grpc.reflection.v1alpha import reflection as v1alpha
from volo.grpc.status import Code


class DescriptorIndex:
    """The files of the services served, and where each symbol is defined."""

    def __init__(self, handler_classes: Iterable[type[Handler]]) -> None:
        self.services: list[str] = []
        self.files: dict[str, bytes] = {}  # name -> serialized FileDescriptorProto
        self.dependencies: dict[str, list[str]] = {}
        self.symbols: dict[str, str] = {}  # full name -> file name
        self.extensions: dict[str, dict[int, str]] = {}  # extendee -> number -> file name
        seen: set[str] = set()
        for cls in handler_classes:
            service = cls.__pb_service__
            if service.__pb_name__ not in self.services:
                self.services.append(service.__pb_name__)
            self._add_module(sys.modules[service.__module__], seen)

    def _add_module(self, module: ModuleType, seen: set[str]) -> None:
        if module.__name__ in seen:
            return
        seen.add(module.__name__)
        data = getattr(module, "FILE_DESCRIPTOR", None)
        if isinstance(data, bytes):
            self._add_file(data)
        for value in list(vars(module).values()):  # the modules it imports
            if isinstance(value, ModuleType) and hasattr(value, "FILE_DESCRIPTOR"):
                self._add_module(value, seen)

    def _add_file(self, data: bytes) -> None:
        proto = FileDescriptorProto.from_bytes(data)
        name = proto.name or ""
        self.files[name] = data
        self.dependencies[name] = list(proto.dependency)
        scope = f"{proto.package}." if proto.package else ""
        for message in proto.message_type:
            self._add_message(message, scope, name)
        for enum in proto.enum_type:
            self._add_enum(enum, scope, name)
        for service in proto.service:
            full = scope + (service.name or "")
            self.symbols[full] = name
            for method in service.method:
                self.symbols[f"{full}.{method.name}"] = name
        for extension in proto.extension:
            self._add_extension(
                extension.extendee or "", extension.number, scope, extension.name, name
            )

    def _add_message(self, message: DescriptorProto, scope: str, file: str) -> None:
        full = scope + (message.name or "")
        self.symbols[full] = file
        for field in message.field:  # symbols too, to grpc's reflection
            self.symbols[f"{full}.{field.name}"] = file
        for nested in message.nested_type:
            self._add_message(nested, full + ".", file)
        for enum in message.enum_type:
            self._add_enum(enum, full + ".", file)
        for extension in message.extension:
            self._add_extension(extension.extendee or "", extension.number, full + ".",
                                extension.name, file)  # fmt: skip

    def _add_enum(self, enum: EnumDescriptorProto, scope: str, file: str) -> None:
        self.symbols[scope + (enum.name or "")] = file
        for value in enum.value:  # scoped beside their enum, as in C++
            self.symbols[scope + (value.name or "")] = file

    def _add_extension(
        self, extendee: str, number: int | None, scope: str, name: str | None, file: str
    ) -> None:
        self.symbols[scope + (name or "")] = file
        if number is not None:
            self.extensions.setdefault(extendee.lstrip("."), {})[number] = file

    def with_dependencies(self, name: str) -> list[bytes]:
        """The file `name`, then every file it depends on, each once."""
        order: list[str] = []
        pending = [name]
        while pending:
            file = pending.pop(0)
            if file in order or file not in self.files:
                continue
            order.append(file)
            pending += self.dependencies[file]
        return [self.files[f] for f in order]


class _Reflection:
    """One version's service, over the index: `module` is its generated module."""

    module: Any

    def __init__(self, index: DescriptorIndex) -> None:
        self.index = index

    async def ServerReflectionInfo(self, requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for request in requests:
            yield self.answer(request)

    def answer(self, request: Any) -> Any:
        pb, index = self.module, self.index
        response = pb.ServerReflectionResponse(valid_host=request.host, original_request=request)
        match request.message_request:
            case ("file_by_filename", str(name)):
                found = name if name in index.files else None
                what = f"file {name!r}"
            case ("file_containing_symbol", str(symbol)):
                found = index.symbols.get(symbol)
                what = f"symbol {symbol!r}"
            case ("file_containing_extension", extension):
                found = index.extensions.get(extension.containing_type, {}).get(
                    extension.extension_number
                )
                what = f"extension {extension.extension_number} of {extension.containing_type!r}"
            case ("all_extension_numbers_of_type", str(name)):
                if name not in index.symbols:
                    return self.error(response, f"type {name[:256]!r}")
                numbers = sorted(index.extensions.get(name, {}))
                response.all_extension_numbers_response = pb.ExtensionNumberResponse(
                    base_type_name=name, extension_number=numbers
                )
                return response
            case ("list_services", _):
                response.list_services_response = pb.ListServiceResponse(
                    service=[pb.ServiceResponse(name=s) for s in index.services]
                )
                return response
            case _:
                return self.error(response, "request", Code.INVALID_ARGUMENT)
        if found is None:
            return self.error(response, what[:300])
        response.file_descriptor_response = pb.FileDescriptorResponse(
            file_descriptor_proto=index.with_dependencies(found)
        )
        return response

    def error(self, response: Any, what: str, code: Code = Code.NOT_FOUND) -> Any:
        message = f"unknown {what}" if code == Code.NOT_FOUND else f"bad {what}"
        response.error_response = self.module.ErrorResponse(
            error_code=int(code), error_message=message
        )
        return response


class ReflectionV1(_Reflection, v1.ServerReflectionHandler):
    module = v1


class ReflectionV1Alpha(_Reflection, v1alpha.ServerReflectionHandler):
    module = v1alpha


def reflection_handlers(handler_classes: Sequence[type[Handler]]) -> list[Handler]:
    """Both versions of the reflection service, over the services of
    `handler_classes`, the health service's and their own."""
    from volo.grpc.health import HealthService

    index = DescriptorIndex([*handler_classes, HealthService, ReflectionV1, ReflectionV1Alpha])
    return [ReflectionV1(index), ReflectionV1Alpha(index)]
