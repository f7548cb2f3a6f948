"""An event is never handled by two workers at once after Redis forgot who read it.

A Redis crash (without persistence: everything is lost) leaves the workers alive with
batches they read before it. Two things keep another worker from handling the same
events meanwhile: a worker handles a batch only for partitions whose lease is still its
own (the crash took the leases), and the gateway appends a lost event again only a
lease after it first found it missing from the store (a batch being handled at the crash
commits in that time). Real Redis; the store is SQLite (the publisher asks only
``is_processed``).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from brandbot.core.events import Conversation, Event, Kind, Person
from brandbot.scale.connection import UNAVAILABLE, connect
from brandbot.scale.leases import Leases
from brandbot.scale.publisher import EventPublisher
from brandbot.scale.streams import WORKERS_GROUP, Keys
from brandbot.store.sqlite import SqliteStore
from tests.servers.redis import RedisServer, redis_server  # noqa: F401 - fixture

pytestmark = pytest.mark.redis


async def test_a_batch_read_before_redis_crashed_is_not_handled_by_its_reader(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", persist=False).start()
    keys = Keys("acme", 4)
    redis = connect(server.url)
    first = Leases(redis, keys, "worker-a", 4.0)
    try:
        await first.tick()
        assert first.held == {0, 1, 2, 3}
        assert await first.still_mine([0, 2]) == {0, 2}  # nothing happened: the batch is handled
        server.kill()  # without persistence: the leases are gone
        server.start()
        with pytest.raises(UNAVAILABLE):  # the worker's batch is abandoned, unhandled, on this
            await first.still_mine([0, 2])
        assert await first.still_mine([0, 2]) == set()  # the leases went with the crash
        assert first.held == {1, 3}  # and those partitions are not read any more
        second = Leases(redis, keys, "worker-b", 4.0)
        await second.tick()  # the first to beat after the crash takes every free partition
        assert second.held == {0, 1, 2, 3}
        await first.tick()  # its renewals fail: it reads nothing of what worker-b holds
        assert first.held == set()
        assert await first.still_mine([1, 3]) == set()
    finally:
        await redis.aclose()
        server.stop()


def _event(n: int) -> Event:
    author = Person("telegram", f"u{n}", f"user{n}", f"User {n}")
    return Event(kind=Kind.DIRECT, network="telegram", id=f"e{n}", author=author,
                 conversation=Conversation("telegram", f"u{n}", True, ""), text=f"hi {n}",
                 time=datetime(2026, 12, 8, tzinfo=UTC))


async def _read_and_ack(redis: object, keys: Keys) -> int:
    """What a worker does, except the commit: read every partition's entries and XACK them,
    so the gateway sees them read past and not in the store (as after a crash)."""
    read = 0
    for p in range(keys.partitions):
        stream = keys.events(p)
        if not await redis.exists(stream):  # type: ignore[attr-defined]
            continue
        try:
            await redis.xgroup_create(stream, WORKERS_GROUP, id="0")  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - BUSYGROUP: made for an earlier read
            assert "BUSYGROUP" in str(exc)
        got = await redis.xreadgroup(WORKERS_GROUP, "w", {stream: ">"}, count=100)  # type: ignore[attr-defined]
        for _stream, entries in got or []:
            ids = [entry_id for entry_id, _ in entries]
            read += len(ids)
            await redis.xack(stream, WORKERS_GROUP, *ids)  # type: ignore[attr-defined]
    return read


async def test_a_lost_event_is_appended_again_only_a_lease_later_and_not_if_committed_meanwhile(
        redis_server: RedisServer, tmp_path: Path) -> None:  # noqa: F811
    keys = Keys("acme", 2)
    redis = connect(redis_server.url)
    store = SqliteStore(str(tmp_path / "bot.sqlite3"))
    await store.open()
    grace = 0.5
    publisher = EventPublisher(redis, keys, store, replay_after=grace)
    try:
        await publisher.publish(_event(1))
        await publisher.publish(_event(2))
        assert await _read_and_ack(redis, keys) == 2  # read past, committed nowhere yet
        assert await publisher.confirm_once() == 0
        assert publisher.stats["replayed"] == 0  # a worker may still be handling them
        store.mark_processed("telegram", "e1", datetime(2026, 12, 8, tzinfo=UTC))  # its worker commits it
        await store.flush()
        await asyncio.sleep(grace * 1.2)
        assert await publisher.confirm_once() == 1  # e1 is released, never appended again
        assert publisher.stats == {"published": 2, "confirmed": 1, "replayed": 1, "given_up": 0}
        assert await _read_and_ack(redis, keys) == 1  # only e2 came back
        assert publisher.outstanding() == 1
    finally:
        await store.close()
        await redis.aclose()
