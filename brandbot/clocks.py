"""Clocks: time as a dependency, so rate limits, cooldowns and schedules can be tested without
sleeping. The protocol is :class:`brandbot.core.clock.Clock`; these implement it on asyncio."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from brandbot.core.clock import Clock

__all__ = ["Clock", "FakeClock", "ManualClock", "SystemClock"]


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """A clock that moves only when told to; ``sleep`` advances it instantly.

    Sleepers wake in order of their deadline, so code that waits on a rate window
    behaves as it would in real time, only without the waiting.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
        self._elapsed = 0.0

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        return 1000.0 + self._elapsed

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"a {type(self).__name__} cannot go backwards")
        self._elapsed += seconds

    async def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)


class ManualClock(FakeClock):
    """A clock that moves only when ``advance`` is called; sleepers wait for it.

    Unlike FakeClock, a deferred send stays deferred until the test moves time past it,
    which is what a test of quiet hours or cooldowns wants.
    """

    def __init__(self, start: datetime | None = None) -> None:
        super().__init__(start)
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0

    def advance(self, seconds: float) -> None:
        """Move time forward and wake every sleeper whose deadline has passed."""
        super().advance(seconds)
        keep = []
        for deadline, seq, fut in self._sleepers:
            if deadline <= self._elapsed:
                if not fut.done():
                    fut.set_result(None)
            else:
                keep.append((deadline, seq, fut))
        self._sleepers = keep

    def sleep(self, seconds: float) -> Coroutine[Any, Any, None]:
        """Wait until time has moved ``seconds`` past the moment of this call.

        The deadline is fixed here, not when the coroutine first runs: a sleep handed to
        a task (the outbox's sender waits on ``ensure_future(clock.sleep(...))``) starts
        a loop turn later, and an ``advance`` in between would otherwise be lost: the
        deadline would be counted from after it, and the sleeper would wait for another
        ``advance`` that a test waiting on the sleeper never makes.
        """
        return self._sleep_until(self._elapsed + seconds)

    async def _sleep_until(self, deadline: float) -> None:
        if deadline <= self._elapsed:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        self._sleepers.append((deadline, self._seq, fut))
        await fut
