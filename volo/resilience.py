"""What a client does when a call fails, for Thrift and gRPC alike: failover,
retries, backup requests and per-instance circuit breakers.

    transport = volo.thrift.connect(
        "etcd://127.0.0.1:2379/kv",
        idempotent=["Get"],                                    # may run twice
        retry=RetryPolicy(max_attempts=3, backoff=0.02, budget=1.0),
        backup=BackupRequest(delay=0.05),
        breaker=CircuitBreaker(window=10, min_calls=20, error_rate=0.5, open_for=5),
    )

The rules:

- **Failover.** A call that could not be sent (connecting failed, or every
  instance's circuit is open) goes to another instance, `retries` more times
  at most (default 1). A call already sent is never sent again (it may have
  run) unless its method is declared idempotent.
- **Retry policy** (idempotent methods): after a failure once sent (the
  connection lost, no reply within the timeout, a server error), the call goes
  again to another instance if there is one, up to `max_attempts` in all,
  waiting `backoff` seconds before the second attempt and twice as long before
  each next one (at most `max_backoff`), and not past `budget` seconds from
  the call's start. An idempotent method without a policy fails over once
  like a call that could not be sent (up to `retries`).
- **Backup request** (idempotent methods): with no reply after `delay`
  seconds, a copy goes to another instance; the first reply wins, and the
  other attempt is cancelled.
- **Circuit breaker** (per instance): once an instance's failures reach
  `error_rate` of its calls in the last `window` seconds (with at least
  `min_calls` calls), its circuit opens: no calls go to it for `open_for`
  seconds. Then it is half-open: `probes` calls go to it, one at a time; if
  they succeed the circuit closes, if one fails it opens again. A declared
  exception or an application error is an answer, not a failure.

Each protocol says which of its errors are which (`Outcome`).
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import enum
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from volo.balance import current_hash_key
from volo.discovery import InstancePool
from volo.errors import CircuitOpen
from volo.middleware import Context, Request, Response, Service

log = logging.getLogger("volo.resilience")


class Outcome(enum.Enum):
    """What a failed call means for the instance that had it."""

    ANSWERED = "answered"  # the server answered (a declared exception, a refusal): no failure
    UNSENT = "unsent"  # nothing was sent: safe to send anywhere
    FAILED = "failed"  # sent, and no good answer came: resend only if idempotent


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of idempotent methods after a failure (see the module's docstring)."""

    max_attempts: int = 3
    backoff: float = 0.01
    max_backoff: float = 1.0
    budget: float | None = None

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {self.max_attempts}")


@dataclass(frozen=True)
class BackupRequest:
    """A second copy of an idempotent call after `delay` seconds without a reply."""

    delay: float


@dataclass(frozen=True)
class CircuitBreaker:
    """When an instance gets no calls for a while (see the module's docstring)."""

    window: float = 10.0
    min_calls: int = 20
    error_rate: float = 0.5
    open_for: float = 5.0
    probes: int = 1

    def __post_init__(self) -> None:
        if not 0 < self.error_rate <= 1:
            raise ValueError(f"error_rate must be over 0 and at most 1, not {self.error_rate}")


class State(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class Breaker:
    """One instance's circuit."""

    def __init__(self, config: CircuitBreaker, name: str) -> None:
        self.config, self.name = config, name
        self.state = State.CLOSED
        self.calls: collections.deque[tuple[float, bool]] = collections.deque()  # (when, ok)
        self.failures = 0
        self.opened_at = 0.0
        self.probing = 0  # half-open: probes in flight
        self.probed = 0  # half-open: probes that succeeded

    def allows(self, now: float) -> bool:
        """Whether a call may go to the instance now (a half-open probe is
        taken by the call that is allowed)."""
        if self.state is State.OPEN:
            if now < self.opened_at + self.config.open_for:
                return False
            self.state, self.probing, self.probed = State.HALF_OPEN, 0, 0
            log.info("circuit of %s half-open", self.name)
        if self.state is State.HALF_OPEN:
            if self.probing + self.probed >= self.config.probes:
                return False
            self.probing += 1
        return True

    def record(self, ok: bool | None, now: float, probe: bool) -> None:
        """How a call allowed by `allows` went (None: it was cancelled, no verdict)."""
        if probe:
            self.probing -= 1
            if self.state is not State.HALF_OPEN or ok is None:
                return
            if not ok:
                self._open(now)
                return
            self.probed += 1
            if self.probed >= self.config.probes:
                self.state = State.CLOSED
                self.calls.clear()
                self.failures = 0
                log.info("circuit of %s closed", self.name)
            return
        if ok is None or self.state is not State.CLOSED:
            return
        calls = self.calls
        calls.append((now, ok))
        self.failures += not ok
        horizon = now - self.config.window
        while calls and calls[0][0] < horizon:
            self.failures -= not calls.popleft()[1]
        config = self.config
        if len(calls) >= config.min_calls and self.failures >= config.error_rate * len(calls):
            self._open(now)

    def _open(self, now: float) -> None:
        self.state, self.opened_at = State.OPEN, now
        self.calls.clear()
        self.failures = 0
        log.warning("circuit of %s open for %g s", self.name, self.config.open_for)


@dataclass(frozen=True)
class Resilience:
    """A client's rules for failed calls (see the module's docstring)."""

    retries: int = 1
    retry: RetryPolicy | None = None
    backup: BackupRequest | None = None
    breaker: CircuitBreaker | None = None
    idempotent: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        retries: int = 1,
        retry: RetryPolicy | None = None,
        backup: BackupRequest | None = None,
        breaker: CircuitBreaker | None = None,
        idempotent: Iterable[str] = (),
    ) -> Resilience:
        if isinstance(idempotent, str):
            raise TypeError("idempotent takes a list of method names, not one string")
        if retries < 0:
            raise ValueError(f"retries must be 0 or more, not {retries}")
        return cls(retries, retry, backup, breaker, frozenset(idempotent))

    @property
    def plain(self) -> bool:
        """Nothing but failover when connecting fails: a call on an open
        connection may go straight out."""
        return self.retry is None and self.backup is None and self.breaker is None

    def is_idempotent(self, service: str, method: str) -> bool:
        names = self.idempotent
        return bool(names) and (method in names or f"{service}.{method}" in names)

    def layer(self, pool: InstancePool[Any], outcome: Callable[[BaseException], Outcome]) -> _Layer:
        return _Layer(self, pool, outcome)


class _Layer:
    def __init__(
        self,
        rules: Resilience,
        pool: InstancePool[Any],
        outcome: Callable[[BaseException], Outcome],
    ) -> None:
        self.rules, self.pool, self.outcome = rules, pool, outcome
        self.breakers: dict[str, Breaker] = {}

    def layer(self, inner: Service) -> Service:
        return _Resilient(inner, self)


class _Resilient:
    """Sends a call through `inner` as the rules say: to which instance, how
    many times, with a backup copy or not."""

    def __init__(self, inner: Service, layer: _Layer) -> None:
        self.inner, self.layer, self.rules = inner, layer, layer.rules

    async def call(self, ctx: Context, request: Request) -> Response:
        if ctx.request_stream or ctx.response_stream:
            # A stream is made once: its requests cannot be replayed, nor its
            # responses taken back.
            return await self.inner.call(ctx, request)
        rules = self.rules
        idempotent = rules.is_idempotent(ctx.service, ctx.method)
        retry = rules.retry if idempotent else None
        backup = rules.backup if idempotent else None
        loop = asyncio.get_running_loop()
        start = loop.time()
        tried: list[Any] = []
        failovers = attempts = 0
        while True:
            endpoint = self.choose(ctx, tried)
            try:
                if backup is not None:
                    return await self.with_backup(ctx, request, endpoint, tried, backup.delay)
                return await self.attempt(ctx, request, endpoint)
            except Exception as exc:
                outcome = self.layer.outcome(exc)
                if outcome is Outcome.ANSWERED:
                    raise
                tried.append(endpoint)
                if outcome is Outcome.UNSENT or (idempotent and retry is None):
                    failovers += 1
                    if failovers > rules.retries:
                        raise
                    log.debug("%s.%s: %s; trying another instance", ctx.service, ctx.method, exc)
                    continue
                attempts += 1
                if retry is None or attempts >= retry.max_attempts:
                    raise
                delay = min(retry.max_backoff, retry.backoff * 2 ** (attempts - 1))
                if retry.budget is not None and loop.time() + delay - start >= retry.budget:
                    raise
                log.debug("%s.%s: %s; retrying in %g s", ctx.service, ctx.method, exc, delay)
                await asyncio.sleep(delay)

    def choose(self, ctx: Context, tried: list[Any]) -> Any:
        """The instance for the next attempt: the one picked for the call at
        first, then another not tried yet if there is one; never one whose
        circuit is open."""
        pool = self.layer.pool
        endpoint = ctx.endpoint if not tried else pool.pick(current_hash_key(), tried)
        config = self.rules.breaker
        if config is None:
            return endpoint
        now = asyncio.get_running_loop().time()
        others = [e for e in pool.endpoints if e is not endpoint]
        untried = [e for e in others if e not in tried]
        for candidate in [endpoint, *untried, *(e for e in others if e in tried)]:
            if self.breaker(candidate).allows(now):
                return candidate
        raise CircuitOpen(
            f"{ctx.service}.{ctx.method}: the circuit of every instance of"
            f" {pool.discover.target} is open"
        )

    def breaker(self, endpoint: Any) -> Breaker:
        config = self.rules.breaker
        assert config is not None
        name = str(endpoint)
        found = self.layer.breakers.get(name)
        if found is None:
            found = self.layer.breakers[name] = Breaker(config, name)
        return found

    async def attempt(self, ctx: Context, request: Request, endpoint: Any) -> Response:
        ctx.endpoint, ctx.peer = endpoint, str(endpoint)
        if self.rules.breaker is None:
            return await self.inner.call(ctx, request)
        breaker = self.breaker(endpoint)
        probe = breaker.state is State.HALF_OPEN
        loop = asyncio.get_running_loop()
        try:
            response = await self.inner.call(ctx, request)
        except asyncio.CancelledError:
            breaker.record(None, loop.time(), probe)
            raise
        except Exception as exc:
            breaker.record(self.layer.outcome(exc) is Outcome.ANSWERED, loop.time(), probe)
            raise
        breaker.record(True, loop.time(), probe)
        return response

    async def with_backup(
        self, ctx: Context, request: Request, endpoint: Any, tried: list[Any], delay: float
    ) -> Response:
        loop = asyncio.get_running_loop()
        first = loop.create_task(self.attempt(ctx, request, endpoint))
        pending: set[asyncio.Task[Response]] = {first}
        try:
            done, _ = await asyncio.wait(pending, timeout=delay)
            if done:
                return first.result()
            copy = dataclasses.replace(ctx)
            try:
                other = self.choose(copy, [*tried, endpoint])
            except CircuitOpen:
                return await first
            log.debug("%s.%s: no reply from %s within %g s; a backup request goes to %s",
                      ctx.service, ctx.method, endpoint, delay, other)  # fmt: skip
            second = loop.create_task(self.attempt(copy, request, other))
            pending.add(second)
            error: BaseException | None = None
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    exc = task.exception()
                    if exc is None or self.layer.outcome(exc) is Outcome.ANSWERED:
                        if task is second:
                            ctx.endpoint, ctx.peer = copy.endpoint, copy.peer
                            ctx.reply_headers = copy.reply_headers
                        return task.result()
                    error = exc
            assert error is not None
            raise error
        finally:
            for task in pending:
                task.cancel()
