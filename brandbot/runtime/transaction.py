"""One transaction per batch: the effects of many events written together, then their replies.

Each handled event hands its :class:`~brandbot.core.effects.Effects` to :meth:`Transactions.add`.
The effects are written into the store's buffers at once and in one synchronous step (no
``await``), so every later read sees them (read-your-writes) and a commit takes all of an
event's rows or none. Effects with replies (or a caller waiting) wake the committer, and
only once their batch is committed are the replies handed to the outbox. Effects without
replies are committed by the store's own bounded flush delay.

When to commit: at once when the intake has nothing more in hand (a reply to a lone
message leaves within a loop turn), else once the batch holds ``max_units`` events or its
first reply has waited ``max_wait`` seconds. Under load a commit thus carries hundreds of
events instead of the few that finished in one loop turn: a commit costs about a
millisecond of page writes whatever its size, so fewer, larger ones leave more time for
handling, while ``max_wait`` bounds what it adds to a reply's delay. Measured at half the
maximum rate (p99 event-to-send): 0 (a commit every loop turn) 14-29 ms, 4 ms 6.6 ms,
20 ms 9-11 ms; the maximum rate was the same with 4 and 20 ms.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Generator

from brandbot.core.effects import Effects
from brandbot.core.records import OutboxEntry
from brandbot.store.base import Store

log = logging.getLogger("brandbot.runtime.transaction")

RETRY_AFTER_FAILED_COMMIT = 1.0  # seconds; the store keeps the batch and tries again
MAX_UNITS = 512  # events in one commit at most, while the intake is busy
MAX_WAIT = 0.004  # seconds a reply may wait for more events to join its commit (measured: see above)


class _Yield:
    """``await _YIELD`` gives the loop one turn (see ``lanes._Yield``)."""

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        yield


_YIELD = _Yield()


def write_effects(store: Store, effects: Effects) -> None:
    """Hand one unit's effects to the store's write buffers, in one synchronous step."""
    if effects.follower is not None:
        store.put_follower(effects.follower)
    for row in effects.interactions:
        store.add_interaction(row)
    for key, at in effects.once_keys:
        store.mark_once(key, at)
    for write in effects.data:
        if write.value is None:
            store.kv_delete(write.namespace, write.key)
        else:
            store.kv_set(write.namespace, write.key, write.value, write.follower_id)
    for name, job in effects.jobs.items():
        if job is None:
            store.delete_job(name)
        else:
            store.put_job(job)
    for entry in effects.outbox:
        store.put_outbox(entry)
    if effects.processed is not None:
        p = effects.processed
        store.mark_processed(p.network, p.event_id, p.at)


class Transactions:
    """Group commit of effects, with the replies handed over only after their commit."""

    def __init__(self, store: Store, deliver: Callable[[OutboxEntry], None], *,
                 busy: Callable[[], bool] = lambda: False, max_units: int = MAX_UNITS,
                 max_wait: float = MAX_WAIT) -> None:
        self._store = store
        self.deliver = deliver  # where committed replies go: the outbox (simulate sets its own)
        self.busy = busy  # the intake has more events in hand: let them join the batch
        self._max_units = max_units
        self._max_wait = max_wait
        self._units = 0
        self._replies: list[OutboxEntry] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._busy = False  # a batch is being committed (its units no longer counted above)
        self._first_reply_at: float | None = None  # loop time the batch's first reply was added
        self.commits = 0
        self.units_committed = 0

    def add(self, effects: Effects) -> None:
        """Write ``effects`` into the store's buffers now; its replies go out after the commit."""
        write_effects(self._store, effects)
        self._units += 1
        replies = effects.replies()
        if replies:
            if self._first_reply_at is None:
                self._first_reply_at = asyncio.get_running_loop().time()
            self._replies.extend(replies)
            self._ensure_running()
            self._wake.set()

    def gathering(self) -> bool:
        """A batch with replies is waiting to be committed: a commit comes within max_wait
        (writes buffered meanwhile go with it)."""
        return bool(self._replies)

    async def committed(self) -> None:
        """Return once everything added so far is committed and its replies are queued."""
        if not self._units and not self._replies and not self._busy:
            return  # nothing added, nothing being committed
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        self._ensure_running()
        self._wake.set()
        await fut

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="transactions")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()  # resumes in the loop's next turn: the events that
            self._wake.clear()       # finished in this one are all in the batch by then
            # The wait counts from the batch's first reply: replies added while the last
            # commit was being written have waited for it already.
            first = self._first_reply_at
            deadline = (loop.time() if first is None else first) + self._max_wait
            while (self._units < self._max_units and not self._waiters and self.busy()
                   and loop.time() < deadline):
                await _YIELD  # more events are being handled: let them join this commit
            await self._commit_batch()

    async def _commit_batch(self) -> None:
        self._busy = True
        try:
            await self._commit_taken()
        finally:
            self._busy = False

    async def _commit_taken(self) -> None:
        units, replies, waiters = self._units, self._replies, self._waiters
        self._units, self._replies, self._waiters = 0, [], []
        first_reply_at, self._first_reply_at = self._first_reply_at, None
        try:
            while True:
                try:
                    await self._store.flush()
                    break
                except Exception:
                    log.exception("commit of %d events failed; retrying in %.0fs", units,
                                  RETRY_AFTER_FAILED_COMMIT)
                    await asyncio.sleep(RETRY_AFTER_FAILED_COMMIT)
        except asyncio.CancelledError:
            # Cancelled while waiting for the store (or between retries): the batch is put
            # back in front of what came since, for the next commit (``close`` commits it).
            self._replies[:0], self._waiters[:0] = replies, waiters
            self._units += units
            if first_reply_at is not None:  # the put-back replies are the batch's oldest
                self._first_reply_at = first_reply_at
            raise
        self.commits += 1
        self.units_committed += units
        for entry in replies:
            try:
                self.deliver(entry)
            except Exception:
                log.exception("outbox row %d could not be queued; it stays pending in the store", entry.id)
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    async def close(self) -> None:
        """Stop the committer, then commit what is left.

        In that order: the committer may be in the middle of a batch, waiting for the store
        (a maintenance transaction holds it). Cancelled, it puts that batch back, and it is
        committed here with the rest; checked first, the batch it had taken was counted
        nowhere, and its replies were never handed to the outbox.
        """
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._units or self._replies or self._waiters:
            await self._commit_batch()
