"""``brandbot worker``: reads events from the streams, decides, commits, then acknowledges.

A worker is the same Bot as ``brandbot run`` (intake, rules, plugins, loyalty, one
transaction per batch) without network connections: its events come from the partitions
it holds (:class:`~brandbot.scale.leases.Leases`) and its committed replies are announced
to the gateway, which sends them. The loop, per batch:

1. give up partitions another worker should own (nothing of theirs is in flight);
2. for partitions just taken, claim the entries their previous reader left pending
   (XAUTOCLAIM: a worker killed with SIGKILL left them) and handle those first;
3. otherwise read new entries (XREADGROUP) from every held partition;
4. check the batch's partitions are still leased to this worker (a Redis crash or a stall
   past the lease gave them to another), hand the events to the intake in stream order,
   wait until they are committed in the store, and only then XACK them.

An entry acknowledged is committed; an entry not acknowledged is handled again by whoever
holds its partition next, and the store's processed ids make that replay a no-op.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from brandbot.core.config import BotConfig
from brandbot.core.events import Event
from brandbot.core.records import OutboxEntry
from brandbot.networks.base import Network
from brandbot.runtime.bot import Bot
from brandbot.scale.connection import UNAVAILABLE, retrying, stop_tasks
from brandbot.scale.gateway import process_name
from brandbot.scale.leases import Leases
from brandbot.scale.metrics import WORKER_HELP, RoleCollector
from brandbot.scale.streams import WORKERS_GROUP, Keys, WireFormatError, decode_event, encode_outbox
from brandbot.store.base import Store

log = logging.getLogger("brandbot.scale.worker")

#: Entries another consumer left pending this long are claimed even in a held partition
#: (a reply to XREADGROUP lost with its connection leaves them with us, unread).
STUCK_AFTER_MS = 30_000

Entry = tuple[str, Event | None]  # stream entry id, the event (None: unreadable)


class Worker(Bot):
    """A Bot fed from Redis streams; its committed replies go to the gateway."""

    def __init__(self, config: BotConfig, *, store: Store, networks: Mapping[str, Network], redis: Redis,
                 keys: Keys, lease: float = 5.0, batch: int = 100, block: float = 0.5,
                 name: str | None = None, **kwargs: Any) -> None:
        super().__init__(config, store=store, networks=networks, **kwargs)
        self.redis = redis
        self.keys = keys
        self.name = name or process_name("worker")
        self.leases = Leases(redis, keys, self.name, lease)
        self._lease_seconds = lease
        self._batch = batch
        self._block_ms = max(1, round(block * 1000))
        self._replies: deque[OutboxEntry] = deque()
        self._reply_ready = asyncio.Event()
        self._loop_tasks: list[asyncio.Task[None]] = []
        self._consumer: asyncio.Task[None] | None = None
        self._closing = False
        self.transactions.deliver = self._announce
        self.counts = {"handled": 0, "acked": 0, "claimed": 0, "batches": 0, "replies": 0}
        self.metrics.registry.register(RoleCollector(
            "worker", lambda: {k: float(v) for k, v in self.counts.items()},
            lambda: {"partitions_held": float(len(self.leases.held)), "live_workers": float(len(self.leases.live))},
            WORKER_HELP))

    # -- replies: announced to the gateway after their commit -----------------------------
    def _announce(self, entry: OutboxEntry) -> None:
        self._replies.append(entry)
        self._reply_ready.set()

    async def _publish_replies(self) -> None:
        while not self._closing:
            await self._reply_ready.wait()
            self._reply_ready.clear()
            await self._flush_replies()

    async def _flush_replies(self) -> None:
        while self._replies:
            batch = [self._replies.popleft() for _ in range(min(500, len(self._replies)))]

            async def send(batch: list[OutboxEntry] = batch) -> None:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for entry in batch:
                        pipe.xadd(self.keys.outbox, encode_outbox(entry), maxlen=100_000,  # type: ignore[arg-type]
                                  approximate=True)
                    await pipe.execute()

            # Lost (a crash of this worker or of Redis) is no loss: the gateway's sweep
            # finds committed replies in the store.
            await retrying("announce replies", send)
            self.counts["replies"] += len(batch)

    # -- the streams ------------------------------------------------------------------------
    async def _ensure_group(self, partition: int) -> None:
        try:
            await self.redis.xgroup_create(self.keys.events(partition), WORKERS_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _claim(self, partition: int, min_idle_ms: int) -> list[Entry]:
        """Take over entries other readers of ``partition`` left pending, oldest first."""
        stream = self.keys.events(partition)
        claimed: list[Entry] = []
        start = "0-0"
        while True:
            reply = await self.redis.xautoclaim(stream, WORKERS_GROUP, self.name, min_idle_ms, start, count=500)
            start, entries = reply[0], reply[1]
            claimed += [_decoded(entry_id, fields) for entry_id, fields in entries if fields is not None]
            if start in (b"0-0", "0-0"):
                break
        if claimed:
            self.counts["claimed"] += len(claimed)
            log.info("worker %s claimed %d pending entries of partition %d", self.name, len(claimed), partition)
        return claimed

    async def _next_batch(self) -> dict[int, list[Entry]]:
        """Claimed entries of newly held partitions first; else new entries of all held ones."""
        batch: dict[int, list[Entry]] = {}
        for partition in sorted(self.leases.gained):
            await self._ensure_group(partition)
            claimed = await self._claim(partition, 0)
            self.leases.gained.discard(partition)
            if claimed:
                batch[partition] = claimed
        if batch:
            return batch
        held = sorted(self.leases.held)
        if not held:
            await asyncio.sleep(self._block_ms / 1000)
            return batch
        streams = {self.keys.events(p): ">" for p in held}
        try:
            got: Any = await self.redis.xreadgroup(WORKERS_GROUP, self.name, streams,  # type: ignore[arg-type]
                                              count=self._batch, block=self._block_ms)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            for p in held:  # Redis lost the groups (a crash): make them again, from the start
                await self._ensure_group(p)
            return batch
        by_stream = {self.keys.events(p): p for p in held}
        for stream, entries in got or []:
            name = stream.decode() if isinstance(stream, bytes) else stream
            batch[by_stream[name]] = [_decoded(entry_id, fields) for entry_id, fields in entries]
        return batch

    async def _handle(self, batch: dict[int, list[Entry]]) -> None:
        """Submit in stream order, wait for the commit, then acknowledge.

        Only entries of partitions whose lease is still ours are handled: after a Redis
        crash (leases gone, the gateway appending the lost events again) or a stall past
        the lease, another worker may be handling the same events; entries left unhandled
        stay pending for the partition's holder, or are appended again by the gateway.
        """
        mine = await self.leases.still_mine(sorted(batch))
        dropped = sum(len(entries) for p, entries in batch.items() if p not in mine)
        if dropped:
            log.warning("worker %s leaves %d entries of partitions it no longer holds to their holder",
                        self.name, dropped)
        batch = {p: entries for p, entries in batch.items() if p in mine}
        for entries in batch.values():
            for entry_id, event in entries:
                if event is not None:
                    await self.intake.submit(event)
                    self.counts["handled"] += 1
                else:
                    log.error("stream entry %s is not a brandbot event; acknowledged and skipped", entry_id)
        await self.settled()  # handled and committed: only now may Redis forget them
        # Announced before acknowledged: a partition given up after this batch cannot have
        # its next owner's replies reach the gateway before these.
        await self._flush_replies()
        for partition, entries in batch.items():
            ids = [entry_id for entry_id, _ in entries]
            stream = self.keys.events(partition)

            async def ack(stream: str = stream, ids: list[str] = ids) -> None:
                await self.redis.xack(stream, WORKERS_GROUP, *ids)

            await retrying("XACK", ack)
            self.counts["acked"] += len(ids)
        self.counts["batches"] += 1

    async def _consume(self) -> None:
        claim_stuck_every = STUCK_AFTER_MS / 1000
        last_stuck_check = asyncio.get_running_loop().time()
        while not self._closing:
            try:
                for partition in sorted(self.leases.unwanted):
                    await self.leases.give_up(partition)
                now = asyncio.get_running_loop().time()
                if now - last_stuck_check > claim_stuck_every:
                    last_stuck_check = now
                    for partition in sorted(self.leases.held):
                        stuck = await self._claim(partition, STUCK_AFTER_MS)
                        if stuck:
                            await self._handle({partition: stuck})
                batch = await self._next_batch()
                if batch:
                    await self._handle(batch)
            except UNAVAILABLE as exc:
                log.warning("worker %s waits for redis: %s: %s", self.name, type(exc).__name__, exc)
                await asyncio.sleep(0.5)

    async def _keep_leases(self) -> None:
        while not self._closing:
            try:
                await self.leases.tick()
            except UNAVAILABLE as exc:
                log.warning("worker %s cannot renew its leases (redis: %s); still trying", self.name, exc)
            await asyncio.sleep(self._lease_seconds / 4)

    async def _jobs_if_leader(self) -> int:
        """Scheduled jobs run in one worker: the one that holds partition 0."""
        return await self.run_due_jobs() if 0 in self.leases.held else 0

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        try:
            await self.open()
            await self.run_startup_hooks()
            await self._start_http()
            await retrying("first lease round", self.leases.tick)
        except BaseException:
            await self.stop()
            raise
        self._loop_tasks = [
            asyncio.create_task(self._keep_leases(), name="worker-leases"),
            asyncio.create_task(self._publish_replies(), name="worker-replies"),
        ]
        self._consumer = asyncio.create_task(self._consume(), name="worker-consume")
        self._background.append(asyncio.create_task(
            self.scheduler.repeat("scheduler pass", 1.0, self._jobs_if_leader), name="jobs"))
        log.info("worker %s started: brand %s, %d partitions, holds %s", self.name, self.keys.brand,
                 self.keys.partitions, sorted(self.leases.held))

    async def stop(self) -> None:
        if not self._started:
            await self.store.close()
            return
        self._started = False
        self._closing = True  # the consumer finishes its batch (committed, acknowledged)
        if self._consumer is not None:
            _done, pending = await asyncio.wait([self._consumer],
                                                timeout=self.config.top.runtime.shutdown_grace + self._block_ms / 1000)
            if pending:
                log.warning("worker %s stopping with a batch unacknowledged; another worker handles it again",
                            self.name)
                await stop_tasks(list(pending))
        await self.transactions.close()
        await self._flush_replies()
        await stop_tasks(self._loop_tasks + self._background)
        self._background.clear()
        try:
            await self.leases.give_up_all()
        except UNAVAILABLE:
            log.warning("worker %s could not give its leases back; they expire by themselves", self.name)
        await self.intake.lanes.close()
        if self.health_server is not None:
            await self.health_server.stop()
            self.health_server = None
        await self.store.close()
        await self.redis.aclose()
        log.info("worker %s stopped (%s): %s", self.name, self._stop_reason or "stop", self.counts)


def _decoded(entry_id: Any, fields: Any) -> Entry:
    ident = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
    try:
        return ident, decode_event(fields)
    except WireFormatError as exc:
        log.error("stream entry %s: %s", ident, exc)
        return ident, None


__all__ = ["Worker"]
