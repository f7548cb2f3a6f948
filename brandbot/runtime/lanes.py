"""Per-conversation ordering with bounded concurrency and a bounded queue.

Events of one conversation are handled one after another, in arrival order; different
conversations run concurrently on a fixed pool of ``max_concurrency`` workers (no task
per event). When ``max_queued`` events are waiting, ``submit`` blocks: that is the
back-pressure a polling network feels (it polls more slowly instead of the bot
dropping events). Blocked producers go on once the queue is down to three quarters,
not at the first free place: at full speed a wake-up then admits many events instead
of costing one per event.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Generator, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger("brandbot.runtime.lanes")


class _Yield:
    """``await _YIELD`` gives the loop one turn, like ``asyncio.sleep(0)`` for less work.

    A bare ``yield`` inside a task is how ``asyncio.sleep(0)`` itself yields; this skips the
    two coroutine frames around it, which the workers would otherwise pay once per event.
    """

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        yield


_YIELD = _Yield()


class Lanes(Generic[T]):
    def __init__(self, handler: Callable[[T], Awaitable[None]], *, max_concurrency: int = 64,
                 max_queued: int = 10_000) -> None:
        self._handler = handler
        self._max_workers = max_concurrency
        self._lanes: dict[Hashable, deque[T]] = {}  # every lane with queued or running events
        self._ready: deque[Hashable] = deque()  # lanes with work and no worker on them
        self._workers: set[asyncio.Task[None]] = set()
        self._sleepers: deque[asyncio.Future[None]] = deque()  # idle workers, woken one at a time
        self._queued = 0
        self._max_queued = max_queued
        self._resume_at = max_queued * 3 // 4  # blocked producers go on at or below this
        self._room = asyncio.Event()
        self._room.set()
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def queued(self) -> int:
        return self._queued

    async def submit(self, key: Hashable, item: T) -> None:
        """Queue ``item`` on lane ``key``; waits while the queue is full."""
        while self._queued >= self._max_queued:
            self._room.clear()
            await self._room.wait()
        self._queued += 1
        self._idle.clear()
        lane = self._lanes.get(key)
        if lane is not None:
            lane.append(item)  # a worker has or will have this lane: order is kept
            return
        self._lanes[key] = deque((item,))
        self._ready.append(key)
        while self._sleepers:
            sleeper = self._sleepers.popleft()
            if not sleeper.done():
                sleeper.set_result(None)
                return
        if len(self._workers) < self._max_workers:
            task = asyncio.create_task(self._work())
            self._workers.add(task)
            task.add_done_callback(self._workers.discard)

    async def _work(self) -> None:
        ready, lanes = self._ready, self._lanes
        while True:
            if not ready:
                sleeper = asyncio.get_running_loop().create_future()
                self._sleepers.append(sleeper)
                await sleeper
                continue
            key = ready.popleft()
            lane = lanes[key]
            item = lane[0]
            try:
                await self._handler(item)
            except asyncio.CancelledError:
                raise
            except Exception:  # one event must not stop its lane (logged with its traceback)
                log.exception("unhandled error while handling an event in lane %r", key)
            lane.popleft()
            self._queued -= 1
            if lane:
                ready.append(key)  # round robin: other conversations get a turn
            else:
                del lanes[key]
                if not lanes:
                    self._idle.set()
            if not self._room.is_set() and self._queued <= self._resume_at:
                self._room.set()
            # A handler that never waits would otherwise let one worker drain the whole
            # backlog in one loop step, starving the outbox and the store's commits.
            await _YIELD

    async def join(self) -> None:
        """Wait until every queued event has been handled."""
        await self._idle.wait()

    async def close(self) -> None:
        """Stop the idle workers (after ``join``)."""
        await self.cancel()

    async def cancel(self) -> None:
        for task in list(self._workers):
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._lanes.clear()
        self._ready.clear()
        self._queued = 0
        self._idle.set()
        self._room.set()
