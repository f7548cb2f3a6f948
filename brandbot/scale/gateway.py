"""``brandbot gateway``: the process that owns the network connections, and sends.

It runs every configured network exactly as ``brandbot run`` does (supervised, the same
adapters), but an event goes to a Redis stream instead of the intake
(:class:`~brandbot.scale.publisher.EventPublisher`), and ``settled()`` waits for the
workers to have committed it in the store, so cursors only move past committed events.

The gateway is also the one process that sends. Replies are decided and committed by the
workers; each committed reply is announced on the ``outbox`` stream and the gateway's
outbox (the same :class:`~brandbot.runtime.outbox.Outbox` as in one process) sends it
through the adapters that hold the connections: a Discord slash command is answered
through the interaction the gateway received, Telegram's and Discord's clients are
logged in once. Sends pass the shared rate limiter in Redis. Platform limits (Telegram
30 messages/s, Discord 50 requests/s per bot) are far below what one process can send,
so one sender is no bottleneck; deciding is the work that needs many processes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from brandbot.core.config import BotConfig
from brandbot.core.events import Event
from brandbot.core.lru import Lru
from brandbot.core.records import OutboxEntry
from brandbot.networks.base import Network
from brandbot.runtime.bot import Bot
from brandbot.scale.connection import UNAVAILABLE, retrying, stop_tasks
from brandbot.scale.metrics import GATEWAY_HELP, RoleCollector
from brandbot.scale.publisher import EventPublisher
from brandbot.scale.ratelimit import SharedRateLimiter
from brandbot.scale.sendguard import GuardedNetwork
from brandbot.scale.streams import SENDERS_GROUP, Keys, WireFormatError, decode_outbox
from brandbot.store.base import Store

log = logging.getLogger("brandbot.scale.gateway")

#: A committed reply whose notice did not arrive within this time is taken from the store.
SWEEP_AFTER = timedelta(seconds=5)
SWEEP_EVERY = 2.0


def process_name(role: str) -> str:
    """A consumer name unique to this process (host, pid): a restarted process is a new one."""
    return f"{role}-{socket.gethostname()}-{os.getpid()}"


class Gateway(Bot):
    """The networks, the stream publisher, and the outbox that sends what workers decided."""

    def __init__(self, config: BotConfig, *, store: Store, networks: Mapping[str, Network], redis: Redis,
                 keys: Keys, rate_margin: float = 0.0, publisher: EventPublisher | None = None,
                 lease: float = 5.0, **kwargs: Any) -> None:
        limiter = SharedRateLimiter(redis, keys, margin=rate_margin)
        guarded = {name: GuardedNetwork(net, limiter) for name, net in networks.items()}
        super().__init__(config, store=store, networks=guarded, **kwargs)
        self.redis = redis
        self.keys = keys
        self.name = process_name("gateway")
        # An event Redis lost is appended again a lease later: a worker may still be handling it.
        self.publisher = publisher or EventPublisher(redis, keys, store, replay_after=lease)
        self._enqueued: Lru[int, bool] = Lru(200_000)
        self._sent_once: Lru[int, bool] = Lru(200_000)
        self._feed: list[asyncio.Task[None]] = []
        self._closing = False
        self.metrics.registry.register(RoleCollector("gateway", self._counters, self._gauges, GATEWAY_HELP))

    def _counters(self) -> dict[str, float]:
        guarded = [n for n in self.networks.values() if isinstance(n, GuardedNetwork)]
        return {**{k: float(v) for k, v in self.publisher.stats.items()},
                "duplicate_sends_suppressed": float(sum(n.duplicates_suppressed for n in guarded)),
                "rate_wait_seconds": sum(n.waited for n in guarded)}

    def _gauges(self) -> dict[str, float]:
        return {"outstanding": float(self.publisher.outstanding())}

    # -- events in: to the stream -------------------------------------------------------
    async def submit(self, event: Event) -> None:
        await self.publisher.publish(event)

    async def settled(self) -> None:
        """Every event appended so far is committed by a worker; cursors may move past them."""
        await self.publisher.settled()
        await self.store.flush()

    # -- replies out ----------------------------------------------------------------------
    def _on_sent(self, entry: OutboxEntry) -> None:
        if self._sent_once.get(entry.id, False):
            return  # a second copy of a reply answered from memory: its history row exists
        self._sent_once.put(entry.id, True)
        super()._on_sent(entry)

    def _take(self, entry: OutboxEntry) -> None:
        if self._enqueued.get(entry.id, False):
            return
        self._enqueued.put(entry.id, True)
        try:
            self.outbox.enqueue(entry)
        except Exception as exc:  # noqa: BLE001 - a network not enabled here: the row waits in the store
            log.warning("reply %d not queued: %s", entry.id, exc)

    async def _ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.keys.outbox, SENDERS_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _read_replies(self) -> None:
        stream = self.keys.outbox
        await retrying("create the senders group", self._ensure_group, stopping=lambda: self._closing)
        while not self._closing:
            try:
                got: Any = await self.redis.xreadgroup(SENDERS_GROUP, self.name, {stream: ">"}, count=500,
                                                       block=1000)
            except ResponseError as exc:
                if "NOGROUP" in str(exc):  # Redis lost the group (a crash): make it again
                    await retrying("create the senders group", self._ensure_group)
                    continue
                raise
            except UNAVAILABLE as exc:
                log.warning("reading replies waits for redis: %s", exc)
                await asyncio.sleep(0.5)
                continue
            ids: list[Any] = []
            for _stream, entries in got or []:
                for entry_id, fields in entries:
                    ids.append(entry_id)
                    try:
                        self._take(decode_outbox(fields))
                    except WireFormatError as exc:
                        log.error("outbox stream entry %s skipped: %s", entry_id, exc)
            if ids:
                await retrying("XACK replies", self._acker(stream, ids))

    def _acker(self, stream: str, ids: list[Any]) -> Callable[[], Awaitable[Any]]:
        async def ack() -> Any:
            return await self.redis.xack(stream, SENDERS_GROUP, *ids)

        return ack

    async def _sweep(self) -> None:
        """Committed replies whose notice Redis lost (a crash) are found in the store."""
        while not self._closing:
            await asyncio.sleep(SWEEP_EVERY)
            try:
                await self.sweep_once()
            except Exception:
                log.exception("outbox sweep failed; retrying")

    async def sweep_once(self) -> int:
        edge = self.clock.now() - SWEEP_AFTER
        found = 0
        for entry in await self.store.pending_outbox(limit=1000):
            if entry.created <= edge and not self._enqueued.get(entry.id, False) and entry.network in self.networks:
                found += 1
                self._take(entry)
        if found:
            log.info("outbox sweep: %d committed replies were not announced (redis lost them?); queued", found)
        return found

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        try:
            await self.open()
            await self._start_http()
            self.publisher.start()
            for entry in await self.store.pending_outbox(limit=100_000):
                self._enqueued.put(entry.id, True)  # the outbox reads these back itself
            await self.outbox.start()
            self._feed = [asyncio.create_task(self._read_replies(), name="gateway-replies"),
                          asyncio.create_task(self._sweep(), name="gateway-sweep")]
            await self.network_runner.start(self.config.top.runtime.start_timeout)
        except BaseException:
            await self.stop()
            raise
        log.info("gateway %s started: networks %s, brand %s, %d partitions", self.name, ", ".join(self.networks),
                 self.keys.brand, self.keys.partitions)

    async def stop(self) -> None:
        if not self._started:
            await self.store.close()
            return
        self._started = False
        self._closing = True
        grace = self.config.top.runtime.shutdown_grace
        await self.network_runner.stop_intake()
        try:
            await asyncio.wait_for(self.publisher.settled(), grace)
        except TimeoutError:
            log.warning("stopping with %d events not yet committed by the workers; the networks replay "
                        "them after the restart", self.publisher.outstanding())
        await stop_tasks(self._feed)
        self._feed.clear()
        await self.outbox.stop(grace)
        await self.network_runner.stop()
        await self.publisher.stop()
        if self.health_server is not None:
            await self.health_server.stop()
            self.health_server = None
        await self.store.close()
        await self.redis.aclose()
        log.info("gateway stopped (%s)", self._stop_reason or "stop")


__all__ = ["Gateway", "process_name"]
