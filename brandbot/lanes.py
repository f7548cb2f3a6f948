"""Per-conversation ordering with bounded concurrency and a bounded queue.

Events of one conversation are handled one after another, in arrival order; different
conversations run concurrently, at most ``max_concurrency`` at a time. When
``max_queued`` events are waiting, ``submit`` blocks: that is the back-pressure a
polling network feels (it polls more slowly instead of the bot dropping events).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger("brandbot.lanes")


class Lanes(Generic[T]):
    def __init__(self, handler: Callable[[T], Awaitable[None]], *, max_concurrency: int = 64,
                 max_queued: int = 10_000) -> None:
        self._handler = handler
        self._slots = asyncio.Semaphore(max_concurrency)
        self._lanes: dict[Hashable, deque[T]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._queued = 0
        self._max_queued = max_queued
        self._room = asyncio.Condition()
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def queued(self) -> int:
        return self._queued

    async def submit(self, key: Hashable, item: T) -> None:
        """Queue ``item`` on lane ``key``; waits while the queue is full."""
        if self._queued >= self._max_queued:
            async with self._room:
                await self._room.wait_for(lambda: self._queued < self._max_queued)
        self._queued += 1
        self._idle.clear()
        lane = self._lanes.get(key)
        if lane is not None:
            lane.append(item)
            return
        self._lanes[key] = deque((item,))
        task = asyncio.create_task(self._work(key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _work(self, key: Hashable) -> None:
        lane = self._lanes[key]
        async with self._slots:
            try:
                while lane:
                    item = lane[0]
                    try:
                        await self._handler(item)
                    except asyncio.CancelledError:
                        raise
                    except Exception:  # noqa: BLE001 - one event must not stop its lane
                        log.exception("unhandled error while handling an event in lane %r", key)
                    lane.popleft()
                    self._queued -= 1
                    if self._queued < self._max_queued and self._room._waiters:  # type: ignore[attr-defined]
                        async with self._room:
                            self._room.notify_all()
            finally:
                if not lane:
                    self._lanes.pop(key, None)
                if not self._lanes:
                    self._idle.set()

    async def join(self) -> None:
        """Wait until every queued event has been handled."""
        await self._idle.wait()

    async def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._lanes.clear()
        self._queued = 0
        self._idle.set()
