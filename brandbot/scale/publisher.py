"""The gateway's side of the event streams: append events, hold each until it is committed.

Redis acknowledges an XADD before it is on disk (``appendfsync everysec``): a Redis crash
can lose the last second of entries. So the gateway keeps every event it appended until
the store (PostgreSQL, the truth) says it was processed, and a network's cursor (Telegram
offset, X since_id) is saved only after ``settled()``: the events behind it are
committed. An event the stream lost is appended again; a crash of Redis costs a replay,
never an event.

How an event is known to be done: once the workers' consumer group has read past it and
it is no longer pending (acknowledged after the commit), the store is asked to confirm;
an event the store does not know by then was lost or failed, and is appended again (up
to ``max_replays`` times, so an event that makes every worker fail cannot loop forever).

Not at once, though: ``replay_after`` (a worker lease) later, if the store still does not
know it. When Redis crashes it forgets which worker read which entry, but a worker may
still be handling a batch it read before the crash; appended again at once, the event
would be handled by two workers at the same time, each committing its own reply, and
the reply would go twice. A batch read before the crash but not yet begun (a worker
paused, or slow to read its socket) is dropped by its worker, whose lease is gone
(``Leases.still_mine``); one being handled at the crash needs only the store to commit,
and the grace gives it a lease to do so: the time after which a silent worker is
considered gone anyway (a worker stalled longer may handle an event twice, as after a
lease expiry: docs/scaling.md, "no fencing").
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from brandbot.core.events import Event
from brandbot.scale.connection import UNAVAILABLE, retrying, stop_tasks
from brandbot.scale.streams import WORKERS_GROUP, Keys, encode_event, partition_of
from brandbot.store.base import Dedupe

log = logging.getLogger("brandbot.scale.gateway")


def _id_tuple(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


@dataclass(slots=True)
class Outstanding:
    """One appended event not yet confirmed committed."""

    network: str
    event_id: str
    partition: int
    fields: dict[str, str]
    entry_id: str = ""
    appended_at: float = 0.0
    unconfirmed_since: float = 0.0  # when it was first found read past but not in the store
    replays: int = 0
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class EventPublisher:
    """XADD with back-pressure, and the confirmation loop that releases cursors."""

    def __init__(self, redis: Redis, keys: Keys, store: Dedupe, *, max_outstanding: int = 20_000,
                 check_interval: float = 0.05, lost_after: float = 10.0, max_replays: int = 3,
                 maxlen: int = 100_000, replay_after: float = 5.0) -> None:
        self._redis = redis
        self._keys = keys
        self._store = store
        self._max = max_outstanding
        self._interval = check_interval
        self._lost_after = lost_after
        self._max_replays = max_replays
        self._replay_after = replay_after
        self._maxlen = maxlen
        self._by_partition: dict[int, dict[str, Outstanding]] = defaultdict(dict)  # entry id -> record
        self._count = 0
        self._room = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.stats = {"published": 0, "confirmed": 0, "replayed": 0, "given_up": 0}

    # -- appending ---------------------------------------------------------------------
    async def publish(self, event: Event) -> None:
        """Append one event to its person's partition; waits while too many are unconfirmed."""
        async with self._room:
            await self._room.wait_for(lambda: self._count < self._max)
            self._count += 1
        record = Outstanding(event.network, event.id, partition_of(event.network, event.author.id,
                                                                   self._keys.partitions), encode_event(event))
        await self._append(record)
        self.stats["published"] += 1

    async def _append(self, record: Outstanding) -> None:
        stream = self._keys.events(record.partition)
        entry = await retrying(f"XADD {stream}", lambda: self._redis.xadd(
            stream, record.fields, maxlen=self._maxlen, approximate=True))  # type: ignore[arg-type]
        record.entry_id = entry.decode() if isinstance(entry, bytes) else str(entry)
        record.appended_at = time.monotonic()
        self._by_partition[record.partition][record.entry_id] = record

    # -- waiting -----------------------------------------------------------------------
    async def settled(self, network: str | None = None) -> None:
        """Return once every event appended so far (of ``network``, or all) is committed."""
        waits = [r.done for records in self._by_partition.values() for r in records.values()
                 if network is None or r.network == network]
        if waits:
            await asyncio.gather(*waits)

    def outstanding(self) -> int:
        return self._count

    # -- confirming --------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._confirm_forever(), name="gateway-confirm")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            await stop_tasks([self._task])
            self._task = None

    async def _confirm_forever(self) -> None:
        while not self._stopping:
            try:
                await self.confirm_once()
            except UNAVAILABLE as exc:
                log.warning("confirming events waits for redis or the store: %s: %s", type(exc).__name__, exc)
                await asyncio.sleep(0.5)
            except Exception:
                log.exception("confirming events failed; retrying")
                await asyncio.sleep(0.5)
            await asyncio.sleep(self._interval)

    async def confirm_once(self) -> int:
        """One pass: release what the store confirms, append again what Redis lost."""
        released = 0
        for partition, records in list(self._by_partition.items()):
            if records:
                released += await self._confirm_partition(partition, records)
        return released

    async def _read_position(self, stream: str) -> tuple[tuple[int, int], tuple[int, int] | None] | None:
        """(last id the group delivered, lowest pending id or None); None if no group."""
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.xinfo_groups(stream)
                pipe.xpending(stream, WORKERS_GROUP)
                groups, pending = await pipe.execute()
        except ResponseError:
            return None  # no stream or no group yet (or Redis lost them): nothing read
        delivered = None
        for group in groups:
            name = group.get("name", group.get(b"name"))
            if name in (WORKERS_GROUP, WORKERS_GROUP.encode()):
                raw = group.get("last-delivered-id", group.get(b"last-delivered-id"))
                delivered = _id_tuple(raw.decode() if isinstance(raw, bytes) else str(raw))
        if delivered is None:
            return None
        low = pending.get("min") if pending and pending.get("pending") else None
        lowest = _id_tuple(low.decode() if isinstance(low, bytes) else str(low)) if low else None
        return delivered, lowest

    async def _confirm_partition(self, partition: int, records: dict[str, Outstanding]) -> int:
        stream = self._keys.events(partition)
        position = await self._read_position(stream)
        now = time.monotonic()
        candidates: list[Outstanding] = []
        overdue: list[Outstanding] = []
        for entry_id, record in records.items():
            ident = _id_tuple(entry_id)
            read_past = position is not None and ident <= position[0] and (
                position[1] is None or ident < position[1])
            if read_past:
                candidates.append(record)
            elif now - record.appended_at > self._lost_after:
                overdue.append(record)
        if overdue:  # not read for long: is it still in the stream?
            async with self._redis.pipeline(transaction=False) as pipe:
                for record in overdue:
                    pipe.xrange(stream, record.entry_id, record.entry_id)
                found = await pipe.execute()
            candidates += [r for r, hit in zip(overdue, found) if not hit]
            for record, hit in zip(overdue, found):
                if hit:
                    record.appended_at = now  # still queued: workers are behind, look again later
        # One found unconfirmed before is asked again only once its grace is over.
        candidates = [r for r in candidates
                      if not r.unconfirmed_since or now - r.unconfirmed_since >= self._replay_after]
        if not candidates:
            return 0
        processed = await asyncio.gather(*(self._store.is_processed(r.network, r.event_id) for r in candidates))
        released = 0
        for record, done in zip(candidates, processed):
            if done:
                self._release(records, record)
                self.stats["confirmed"] += 1
                released += 1
            elif not record.unconfirmed_since:
                record.unconfirmed_since = now
            else:
                await self._replay(records, record)
        if released:
            async with self._room:
                self._room.notify_all()
        return released

    def _release(self, records: dict[str, Outstanding], record: Outstanding) -> None:
        records.pop(record.entry_id, None)
        self._count -= 1
        if not record.done.done():
            record.done.set_result(None)

    async def _replay(self, records: dict[str, Outstanding], record: Outstanding) -> None:
        """Read past but not in the store: lost by Redis, or its handling failed."""
        if record.replays >= self._max_replays:
            log.error("event %s:%s was not committed after %d replays (see the workers' logs for its "
                      "error); giving up on it", record.network, record.event_id, record.replays)
            self.stats["given_up"] += 1
            self._release(records, record)
            return
        records.pop(record.entry_id, None)
        record.replays += 1
        record.unconfirmed_since = 0.0
        self.stats["replayed"] += 1
        log.warning("event %s:%s is not in the store although the stream was read past it; appending it "
                    "again (replay %d)", record.network, record.event_id, record.replays)
        await self._append(record)

    def snapshot(self) -> dict[str, Any]:
        return {**self.stats, "outstanding": self._count}


__all__ = ["EventPublisher", "Outstanding"]
