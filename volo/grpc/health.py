"""The standard health service (`grpc.health.v1.Health`), which a
`volo.grpc.Server` serves unless `health=False`: every service it serves, and
the server as a whole (""), is NOT_SERVING until it starts, SERVING while it
runs and NOT_SERVING once it begins shutting down; `server.health.set(name,
status)` changes one. Check answers the status now (NOT_FOUND for a service
it does not know); Watch answers it, then each change, and ends once the
server shuts down (after saying NOT_SERVING), so that it drains.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

from volo.grpc.pb.grpc.health.v1.health import (
    HealthCheckRequest,
    HealthCheckResponse,
    HealthHandler,
)
from volo.grpc.status import Code, StatusError

ServingStatus = HealthCheckResponse.ServingStatus


class HealthService(HealthHandler):
    def __init__(self, services: Iterable[str]) -> None:
        self.statuses = dict.fromkeys(["", *services], ServingStatus.NOT_SERVING)
        self.closing = False
        self._changed: list[asyncio.Future[None]] = []

    def set(self, service: str, status: ServingStatus | str) -> None:
        """The status of `service` ("" for the server as a whole) from now on:
        a ServingStatus, or its name ("SERVING", "NOT_SERVING")."""
        if isinstance(status, str):
            if status not in ServingStatus.__members__:
                raise ValueError(f"unknown serving status {status!r}")
            status = ServingStatus.__members__[status]
        self.statuses[service] = status
        self._wake()

    def serving(self) -> None:
        self.closing = False
        for service in self.statuses:
            self.statuses[service] = ServingStatus.SERVING
        self._wake()

    def shutting_down(self) -> None:
        self.closing = True
        for service in self.statuses:
            self.statuses[service] = ServingStatus.NOT_SERVING
        self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, []
        for future in changed:
            if not future.done():
                future.set_result(None)

    async def Check(self, request: HealthCheckRequest) -> HealthCheckResponse:
        status = self.statuses.get(request.service)
        if status is None:
            raise StatusError(Code.NOT_FOUND, f"unknown service {request.service[:256]!r}")
        return HealthCheckResponse(status=status)

    async def Watch(self, request: HealthCheckRequest) -> AsyncIterator[HealthCheckResponse]:
        sent: ServingStatus | None = None
        while True:
            status = self.statuses.get(request.service, ServingStatus.SERVICE_UNKNOWN)
            if status != sent:
                yield HealthCheckResponse(status=status)
                sent = status
            if self.closing:
                return
            changed = asyncio.get_running_loop().create_future()
            self._changed.append(changed)
            try:
                await changed
            finally:  # a watcher that went is forgotten now, not at the next change
                if not changed.done():
                    self._changed.remove(changed)
