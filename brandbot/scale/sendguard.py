"""The gateway's networks as its outbox sees them: shared rate limits, and no reply sent twice.

:class:`GuardedNetwork` wraps a started network adapter. Before each send it takes a turn
from the :class:`~brandbot.scale.ratelimit.SharedRateLimiter` (every process of the
brand counts together), and it remembers the outbox ids it delivered in this run: a reply
may reach the gateway's outbox twice (its notice from a worker, and the sweep of the
store that catches notices Redis lost), and the second copy is answered from memory.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from brandbot.core.errors import RateLimitedError
from brandbot.core.events import Outgoing
from brandbot.core.lru import Lru
from brandbot.networks.base import Network, NetworkHost, Sent
from brandbot.scale.connection import UNAVAILABLE, retrying
from brandbot.scale.ratelimit import SharedRateLimiter

#: Outbox ids remembered as delivered; far more than can be queued in the outbox at once.
REMEMBERED_SENDS = 200_000
#: When Redis is down no process can know the shared counts: wait this long and retry.
REDIS_DOWN_RETRY = 1.0


class GuardedNetwork(Network):
    """A network adapter whose sends are rate-limited across processes and never doubled."""

    def __init__(self, inner: Network, limiter: SharedRateLimiter) -> None:
        self.inner = inner
        self.name = inner.name
        self.requires_summons = inner.requires_summons
        self.limits = inner.limits
        self.send_concurrency = inner.send_concurrency
        self._limiter = limiter
        self._delivered: Lru[int, Sent] = Lru(REMEMBERED_SENDS)
        self.duplicates_suppressed = 0
        self.waited = 0.0  # seconds sends waited for the shared limits
        self._reports: set[asyncio.Task[None]] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)  # stop_intake, identity, ... of the adapter

    async def start(self, host: NetworkHost) -> None:
        await self.inner.start(host)

    async def stop(self) -> None:
        await self.inner.stop()

    async def send(self, message: Outgoing) -> Sent:
        done = self._delivered.get(message.outbox_id, None)
        if done is not None:
            self.duplicates_suppressed += 1
            return done
        reply = message.reply
        started = time.monotonic()
        try:
            ticket = await self._limiter.take(self.name, self.limits, reply.conversation.id,
                                              reply.conversation.private)
        except UNAVAILABLE as exc:  # retried by the outbox without counting as a failed attempt
            raise RateLimitedError(f"{self.name}: shared rate limits unknown while redis is down "
                                   f"({type(exc).__name__})", REDIS_DOWN_RETRY) from exc
        self.waited += time.monotonic() - started
        try:
            sent = await self.inner.send(message)
        finally:
            try:
                await self._limiter.done(ticket)
            except UNAVAILABLE:  # told once Redis is back; meanwhile the send holds its window slots
                task = asyncio.create_task(retrying("report a send to the rate limiter",
                                                    lambda: self._limiter.done(ticket)))
                self._reports.add(task)
                task.add_done_callback(self._reports.discard)
        self._delivered.put(message.outbox_id, sent)
        return sent

    def cost_of(self, text: str) -> float:
        return self.inner.cost_of(text)

    def check_text(self, text: str) -> str | None:
        return self.inner.check_text(text)

    def length_of(self, text: str) -> int:
        return self.inner.length_of(text)


__all__ = ["GuardedNetwork"]
