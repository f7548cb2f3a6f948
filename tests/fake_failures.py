"""What the loopback fakes of Mastodon and Bluesky share: a served aiohttp app, recorded calls,
scripted failures and a rate window counted on the fake's clock (like the servers count)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from brandbot.clocks import Clock


@dataclass(frozen=True)
class Call:
    """One request a fake answered: the endpoint (name or XRPC method), its query, headers and body."""

    endpoint: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any = None


@dataclass
class Failure:
    status: int
    reset_in: float | None = None  # seconds until the rate window resets (429s)
    body: str = "failure injected by the test"


@dataclass
class Failures:
    """The next answers of an endpoint, when a test wants them to fail."""

    queued: dict[str, deque[Failure]] = field(default_factory=dict)

    def add(self, endpoint: str, status: int, times: int = 1, reset_in: float | None = None) -> None:
        for _ in range(times):
            self.queued.setdefault(endpoint, deque()).append(Failure(status, reset_in))

    def take(self, endpoint: str) -> Failure | None:
        queue = self.queued.get(endpoint)
        return queue.popleft() if queue else None


class RateWindow:
    """A fixed request budget per window, counted on the fake's clock."""

    def __init__(self, clock: Clock, limit: int, seconds: float) -> None:
        self.clock = clock
        self.limit = limit
        self.seconds = seconds
        self.used = 0
        self.start = clock.now().timestamp()

    def spend(self) -> bool:
        """Count one request; False when the window had no room left."""
        now = self.clock.now().timestamp()
        if now >= self.start + self.seconds:
            self.start, self.used = now, 0
        if self.used >= self.limit:
            return False
        self.used += 1
        return True

    def exhaust(self, reset_in: float | None) -> None:
        """Spend the window (a 429 the test asked for), resetting ``reset_in`` seconds from now."""
        self.used = self.limit
        if reset_in is not None:
            self.start = self.clock.now().timestamp() + reset_in - self.seconds

    def restart(self, clock: Clock) -> None:
        """Count on ``clock`` from now on, with a fresh window."""
        self.clock, self.start, self.used = clock, clock.now().timestamp(), 0

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def reset_at(self) -> float:
        return self.start + self.seconds


class FakeService:
    """An HTTP API served on 127.0.0.1 at a free port, with the controls tests share."""

    def __init__(self, clock: Clock, requests_per_window: int, window_seconds: float) -> None:
        self.clock = clock
        self.calls: list[Call] = []
        self.failures = Failures()
        self.window = RateWindow(clock, requests_per_window, window_seconds)
        self.port = 0
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def use_clock(self, clock: Clock) -> None:
        """Date answers and count the rate window on ``clock`` (a test's ManualClock)."""
        self.clock = clock
        self.window.restart(clock)

    async def serve(self, app: web.Application) -> None:
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        assert site._server is not None and site._server.sockets
        self.port = int(site._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def fail_next(self, endpoint: str, status: int, times: int = 1, reset_in: float | None = None) -> None:
        self.failures.add(endpoint, status, times, reset_in)

    def calls_to(self, endpoint: str) -> list[Call]:
        return [c for c in self.calls if c.endpoint == endpoint]

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``condition()`` holds (re-checked on every call the fake answers)."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(condition), timeout)

    async def changed(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def record(self, request: web.Request, endpoint: str, body: Any = None) -> Failure | None:
        """Note the call; the failure to play instead of answering, if any (a 429 spends the window),
        or a 429 of its own when the window has no room."""
        self.calls.append(Call(endpoint, dict(request.query), dict(request.headers), body))
        await self.changed()
        failure = self.failures.take(endpoint)
        if failure is not None:
            if failure.status == 429:
                self.window.exhaust(failure.reset_in)
            return failure
        if not self.window.spend():
            return Failure(429, body="Too many requests")
        return None
