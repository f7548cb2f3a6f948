"""The outbox: every reply is written to the store before it is sent, and marked after.

Per network, a sender task picks the oldest reply whose conversation may send now
(platform rate windows from ``Network.limits``, retry times), never two at once for the
same conversation (so a conversation's replies keep their order), and delivers it.
Failures are classified by the exception the network raises:

- ``RateLimitedError``: wait exactly the time the network asked, then retry; never dropped.
- ``TransientSendError`` (and unexpected errors): exponential backoff with jitter, up to
  ``max_attempts``, then FAILED with the last reason.
- ``PermanentSendError``: FAILED at once; ``unreachable`` marks the person as such.

After a crash, rows still PENDING are sent on start; networks with an idempotency
mechanism (Discord's nonce) receive ``Outgoing.idempotency_key`` so a send that was in
flight at the crash is not posted twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import random
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from brandbot.clocks import Clock
from brandbot.core.errors import PermanentSendError, RateLimitedError, SendError
from brandbot.core.events import Conversation, Outgoing, Person, Reply
from brandbot.core.records import OutboxEntry, OutboxStatus
from brandbot.networks.base import Network, Sent
from brandbot.runtime.ratelimit import RateGate
from brandbot.store.base import Store

log = logging.getLogger("brandbot.runtime.outbox")

SentHook = Callable[[OutboxEntry], Awaitable[None] | None]
FailedHook = Callable[[OutboxEntry, SendError | Exception], Awaitable[None] | None]


def entry_to_reply(entry: OutboxEntry) -> Reply:
    conversation = Conversation(entry.network, entry.conversation_id, private=entry.conversation_private)
    recipient = Person(entry.network, entry.recipient_id) if entry.recipient_id else None
    return Reply(
        network=entry.network,
        conversation=conversation,
        text=entry.text,
        in_reply_to=entry.in_reply_to or None,
        recipient=recipient,
        event_id=entry.event_id or None,
        source=entry.source,
    )


def backoff_seconds(attempt: int, rng: random.Random, base: float = 2.0, cap: float = 600.0) -> float:
    """Exponential backoff with full jitter: uniform in [0.5, 1] x base^attempt, capped."""
    return min(cap, base ** max(0, attempt)) * rng.uniform(0.5, 1.0)


class _NetworkQueue:
    """Pending entries of one network, grouped by conversation, oldest conversation first."""

    def __init__(self, name: str, network: Network, concurrency: int, max_in_memory: int) -> None:
        self.name = name
        self.network = network
        self.gate = RateGate(network.limits)
        self.by_conversation: OrderedDict[str, deque[OutboxEntry]] = OrderedDict()
        self.inflight: set[str] = set()
        self.free_slots = concurrency  # sends that may start now (the network's concurrency)
        self.wake = asyncio.Event()
        self.size = 0
        # Past ``max_in_memory`` queued entries, new ones stay in the store only (they are
        # already recorded there) and are read back, oldest first, as the queue empties:
        # a burst bigger than the platform's rate limits must not grow memory without end.
        self.max_in_memory = max_in_memory
        self.spilled_after: int | None = None  # entries with a higher id wait in the store
        self.spills = 0  # entries ever left in the store (a refill checks none came meanwhile)
        #: Ids of the entries queued or being sent: an entry reaches the queue once, however
        #: many ways lead to it (handed over after its commit, read back from the store).
        self.ids: set[int] = set()

    def offer(self, entry: OutboxEntry) -> bool:
        """Queue a new entry (True), or leave it in the store when the queue is full, or
        ignore it when it is queued or being sent already (False)."""
        if entry.id in self.ids:
            return False
        if self.spilled_after is None and self.size < self.max_in_memory:
            self.push(entry)
            return True
        if self.spilled_after is None:
            self.spilled_after = entry.id - 1
        self.spills += 1
        self.wake.set()
        return False

    def wants_refill(self) -> bool:
        return self.spilled_after is not None and self.size <= self.max_in_memory // 2

    def pop_head(self, conversation: str) -> OutboxEntry:
        """Take the oldest entry of a conversation (forgetting the conversation once empty)."""
        entries = self.by_conversation[conversation]
        head = entries.popleft()
        self.size -= 1
        if not entries:
            del self.by_conversation[conversation]
        return head

    def push(self, entry: OutboxEntry, front: bool = False) -> None:
        q = self.by_conversation.get(entry.conversation_id)
        if q is None:
            q = self.by_conversation[entry.conversation_id] = deque()
        if front:
            q.appendleft(entry)
        else:
            q.append(entry)
        self.size += 1
        self.ids.add(entry.id)
        self.wake.set()


class Outbox:
    def __init__(
        self,
        store: Store,
        networks: Mapping[str, Network],
        clock: Clock,
        *,
        on_sent: SentHook | None = None,
        on_failed: FailedHook | None = None,
        concurrency: int = 4,
        max_attempts: int = 8,
        max_in_memory: int = 10_000,
        rng: random.Random | None = None,
        metrics: Any = None,
        commit_marks: Callable[[], None] | None = None,
    ) -> None:
        self._metrics = metrics
        # How a "sent" mark is made durable soon: the store's next-turn commit, unless the
        # owner knows a commit is coming anyway (Bot: one the transactions are gathering).
        self._commit_marks = commit_marks or store.request_commit
        self._store = store
        self._clock = clock
        self._queues = {
            name: _NetworkQueue(name, net, net.send_concurrency or concurrency, max_in_memory)
            for name, net in networks.items()
        }
        self._on_sent = on_sent
        self._on_failed = on_failed
        self._max_attempts = max_attempts
        self._rng = rng or random.Random()
        self._tasks: list[asyncio.Task[None]] = []
        self._sends: set[asyncio.Task[None]] = set()
        self._running = False
        self._restored: int | None = None  # rows read back by restore(), once it ran
        self.stats = {"sent": 0, "failed": 0, "retried": 0, "rate_limited": 0}

    # -- lifecycle --------------------------------------------------------------------
    async def restore(self) -> int:
        """Read the rows left PENDING in the store back into the queues (as room allows),
        once, oldest first. Returns how many were read back at once.

        Call it before events flow (the Bot: after the start-up hooks, before the
        networks start). Replies handed over before it (the start-up hooks') are
        committed by then and read back from the store, in order. A reply whose batch is
        still being committed would be read back here from the store's buffers AND
        handed over by its transaction after the commit: it would go out twice, and the
        first time before its row is durable.
        """
        if self._restored is not None:
            return self._restored
        restored = 0
        await self._store.flush()
        for queue in self._queues.values():
            queue.by_conversation.clear()
            queue.ids.clear()
            queue.size = 0
            queue.spilled_after = 0  # whatever the store holds is read back like a spill
            restored += await self._refill(queue)
        for entry in await self._store.pending_outbox(limit=1000):
            if entry.network not in self._queues:
                log.warning("outbox row %d is for network %r, which is not enabled; left pending", entry.id, entry.network)
        self._restored = restored
        return restored

    async def start(self) -> int:
        """Start the senders (restoring first if :meth:`restore` was not called); returns
        how many rows were read back at once."""
        restored = await self.restore()
        self._running = True
        self._tasks = [asyncio.create_task(self._sender(q), name=f"outbox:{n}") for n, q in self._queues.items()]
        if restored:
            log.info("outbox: %d replies from before the restart will be sent", restored)
        return restored

    async def _refill(self, q: _NetworkQueue) -> int:
        """Read entries left in the store back into the queue, oldest first."""
        after = q.spilled_after
        if after is None:
            return 0
        room = max(1, q.max_in_memory - q.size)
        spills = q.spills
        rows = await self._store.pending_outbox(limit=room, network=q.name, after_id=after)
        for entry in rows:
            if entry.id not in q.ids:
                q.push(entry)
        if len(rows) < room and q.spills == spills:
            q.spilled_after = None  # the store holds nothing more: new entries queue again
        elif rows:
            q.spilled_after = rows[-1].id
        return len(rows)

    async def stop(self, grace: float = 5.0) -> None:
        """Let due sends finish for up to ``grace`` seconds, then stop. Pending rows stay in the store."""
        if not self._running:
            return
        try:
            await asyncio.wait_for(self.drain(), grace)
        except TimeoutError:
            log.warning("outbox: stopping with replies still due; they are kept and sent after restart")
        self._running = False
        for t in self._tasks:
            t.cancel()
        for t in list(self._sends):
            t.cancel()
        await asyncio.gather(*self._tasks, *self._sends, return_exceptions=True)
        self._tasks = []

    # -- API --------------------------------------------------------------------------
    def enqueue(self, entry: OutboxEntry) -> None:
        """Queue a PENDING entry whose row is already committed (the intake's transaction
        commits a batch, then hands over its replies): a reply is never sent before it is
        recorded, so a crash cannot make a replayed event answer twice."""
        if entry.status is not OutboxStatus.PENDING:
            return
        queue = self._queues.get(entry.network)
        if queue is None:
            raise SendError(f"no network {entry.network!r} is running to send outbox row {entry.id}")
        if queue.offer(entry):
            self._start_at_once(queue, entry)

    def depth(self) -> int:
        """Entries queued in memory or being sent (those waiting in the store not counted)."""
        return sum(q.size + len(q.inflight) for q in self._queues.values())

    def due_count(self) -> int:
        """Entries that could go now or are being sent.

        A conversation's replies go out in order, so entries queued behind one that waits
        for a later time (quiet hours, a retry) are not due either.
        """
        if any(q.spilled_after is not None for q in self._queues.values()):
            return 1 + sum(q.size for q in self._queues.values())  # more wait in the store
        now = self._clock.now()
        due = 0
        for q in self._queues.values():
            due += len(q.inflight)
            for entries in q.by_conversation.values():
                for entry in entries:
                    if entry.next_try > now:
                        break
                    due += 1
        return due

    async def drain(self, poll: float = 0.005) -> None:
        """Return once nothing is due or in flight (deferred entries may remain)."""
        while self.due_count():
            await asyncio.sleep(poll)

    # -- the sender -------------------------------------------------------------------
    def _pick(self, q: _NetworkQueue) -> tuple[OutboxEntry | None, float]:
        """The next entry that may go now, or None and the monotonic time to look again."""
        now_wall = self._clock.now()
        now = self._clock.monotonic()
        earliest = math.inf
        empty: list[str] = []
        for conv, entries in q.by_conversation.items():
            if not entries:
                empty.append(conv)
                continue
            if conv in q.inflight:
                continue
            ready = self._ready_at(q, entries[0], now_wall, now)
            if ready > now:
                earliest = min(earliest, ready)
                continue
            for c in empty:
                q.by_conversation.pop(c, None)
            return q.pop_head(conv), now
        for c in empty:
            q.by_conversation.pop(c, None)
        return None, earliest

    @staticmethod
    def _ready_at(q: _NetworkQueue, head: OutboxEntry, now_wall: datetime, now: float) -> float:
        """When (monotonic) a conversation's head may go: its retry time, then the rate gate."""
        wait = (head.next_try - now_wall).total_seconds()
        if wait > 0:
            return now + wait
        return q.gate.ready_at(head.conversation_id, head.conversation_private, now)

    def _start(self, q: _NetworkQueue, entry: OutboxEntry, at: float) -> None:
        """Begin delivering ``entry`` (a slot is free; it is its conversation's head)."""
        q.free_slots -= 1
        q.inflight.add(entry.conversation_id)
        q.gate.record(entry.conversation_id, entry.conversation_private, at)
        task = asyncio.create_task(self._deliver(q, entry))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    def _start_at_once(self, q: _NetworkQueue, entry: OutboxEntry) -> None:
        """The common case of a quiet conversation: send without waking the sender task
        (which would cost a few turns of the event loop before the send even begins)."""
        conv = entry.conversation_id
        entries = q.by_conversation.get(conv)
        if not self._running or q.free_slots <= 0 or conv in q.inflight or not entries or entries[0] is not entry:
            return
        now = self._clock.monotonic()
        if self._ready_at(q, entry, self._clock.now(), now) > now:
            return
        self._start(q, q.pop_head(conv), now)

    async def _sender(self, q: _NetworkQueue) -> None:
        while self._running:
            if q.wants_refill():
                await self._refill(q)
            entry, at = self._pick(q) if q.free_slots > 0 else (None, math.inf)
            if entry is not None:
                self._start(q, entry, at)
                continue
            q.wake.clear()
            waits: list[asyncio.Future[object]] = [asyncio.ensure_future(q.wake.wait())]
            if at != math.inf:
                waits.append(asyncio.ensure_future(self._clock.sleep(at - self._clock.monotonic())))
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()

    async def _deliver(self, q: _NetworkQueue, entry: OutboxEntry) -> None:
        attempt = entry.attempts + 1
        retried = False
        try:
            sent: Sent = await q.network.send(Outgoing(entry.id, entry_to_reply(entry), attempt, entry.created))
        except RateLimitedError as exc:
            self.stats["rate_limited"] += 1
            if self._metrics is not None:
                self._metrics.rate_limit_wait(entry.network, exc.retry_after)
            log.info("outbox %d: %s; will retry", entry.id, exc)
            self._retry(q, entry, attempt, str(exc), exc.retry_after)
            retried = True
        except PermanentSendError as exc:
            await self._fail(entry, attempt, exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - transient and unexpected errors retry
            if attempt >= self._max_attempts:
                await self._fail(entry, attempt, exc)
            else:
                self.stats["retried"] += 1
                delay = backoff_seconds(attempt, self._rng)
                log.warning("outbox %d: send failed (%s: %s); retry %d in %.1fs",
                            entry.id, type(exc).__name__, exc, attempt, delay)
                self._retry(q, entry, attempt, f"{type(exc).__name__}: {exc}", delay)
                retried = True
        else:
            self.stats["sent"] += 1
            if self._metrics is not None:
                self._metrics.send_result(entry.network, "sent")
            done = dataclasses.replace(
                entry, attempts=attempt, status=OutboxStatus.SENT, reason="", post_ids=sent.post_ids
            )
            self._store.put_outbox(done)
            # The "sent" mark is made durable at once, not after the store's flush delay: a
            # crash re-sends what is not marked, so only the sends in flight may go twice.
            self._commit_marks()
            if self._on_sent is not None:
                result = self._on_sent(done)
                if result is not None:
                    await result
        finally:
            q.inflight.discard(entry.conversation_id)
            if not retried:  # a retry is queued again under the same id
                q.ids.discard(entry.id)
            q.free_slots += 1
            q.wake.set()

    def _retry(self, q: _NetworkQueue, entry: OutboxEntry, attempt: int, reason: str, delay: float) -> None:
        """Record the failed attempt and put the entry back at the head of its conversation."""
        retry = dataclasses.replace(
            entry, attempts=attempt, reason=reason, next_try=self._clock.now() + timedelta(seconds=delay)
        )
        self._store.put_outbox(retry)
        q.push(retry, front=True)

    async def _fail(self, entry: OutboxEntry, attempt: int, exc: Exception) -> None:
        self.stats["failed"] += 1
        if self._metrics is not None:
            self._metrics.send_result(entry.network, "failed")
        log.warning("outbox %d: giving up: %s", entry.id, exc)
        failed = dataclasses.replace(entry, attempts=attempt, status=OutboxStatus.FAILED, reason=str(exc))
        self._store.put_outbox(failed)
        if self._on_failed is not None:
            result = self._on_failed(failed, exc)
            if result is not None:
                await result
