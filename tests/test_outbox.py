"""The outbox: a reply goes out only once its row is committed, and sends run side by side."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from brandbot.clocks import ManualClock, SystemClock
from brandbot.core.errors import TransientSendError
from brandbot.core.events import Outgoing
from brandbot.core.records import OutboxEntry, OutboxStatus
from brandbot.networks.base import Network, NetworkHost, Sent
from brandbot.networks.memory import MemoryNetwork
from brandbot.runtime.outbox import Outbox
from brandbot.store.sqlite import SqliteStore

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class GatedNetwork(Network):
    """Sends wait until released; remembers how many were in flight at once and what the
    database held when each send began."""

    name = "gated"

    def __init__(self, db_path: Path, concurrency: int) -> None:
        self.send_concurrency = concurrency
        self.release = asyncio.Event()
        self.in_flight = 0
        self.most_in_flight = 0
        self.rows_committed_at_send: list[bool] = []
        self._db_path = db_path

    async def start(self, host: NetworkHost) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(self, message: Outgoing) -> Sent:
        with sqlite3.connect(self._db_path) as other:  # what a crash right now would keep
            found = other.execute("SELECT 1 FROM outbox WHERE id = ?", (message.outbox_id,)).fetchall()
        self.rows_committed_at_send.append(bool(found))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await self.release.wait()
        self.in_flight -= 1
        return Sent((f"post-{message.outbox_id}",))


def entry(store: SqliteStore, conversation: str, network: str = "gated") -> OutboxEntry:
    return OutboxEntry(
        id=store.next_outbox_id(), network=network, conversation_id=conversation,
        conversation_private=False, text="thanks!", created=T0, next_try=T0,
        status=OutboxStatus.PENDING,
    )  # fmt: skip


async def committed(store: SqliteStore, outbox: Outbox, entries: list[OutboxEntry]) -> None:
    """What the intake's transaction does: commit the rows, then hand them to the outbox."""
    for e in entries:
        store.put_outbox(e)
    await store.flush()
    for e in entries:
        outbox.enqueue(e)


async def wait_for(check, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.005)


@pytest.mark.parametrize(("own_setting", "at_once"), [(3, 3), (0, 4)], ids=["network's own", "default"])
async def test_committed_replies_run_up_to_the_networks_concurrency(
    tmp_path: Path, own_setting: int, at_once: int
) -> None:
    path = tmp_path / "b.db"
    async with SqliteStore(path, commit_delay=3600) as store:
        network = GatedNetwork(path, concurrency=own_setting)
        outbox = Outbox(store, {"gated": network}, SystemClock())
        await outbox.start()
        try:
            await committed(store, outbox, [entry(store, f"c{i}") for i in range(10)])
            await wait_for(lambda: network.in_flight == at_once)
            await asyncio.sleep(0.05)
            assert network.most_in_flight == at_once  # never more than the network allows
            network.release.set()
            await wait_for(lambda: outbox.stats["sent"] == 10)
        finally:
            await outbox.stop()
        # Every send saw its committed row.
        assert network.rows_committed_at_send == [True] * 10


async def test_a_fast_network_keeps_up_with_a_burst_of_replies(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "b.db") as store:
        network = MemoryNetwork(name="memory")
        outbox = Outbox(store, {"memory": network}, SystemClock())
        await outbox.start()
        try:
            await committed(store, outbox, [entry(store, f"c{i % 500}", network="memory") for i in range(2_000)])
            await wait_for(lambda: outbox.stats["sent"] == 2_000)
        finally:
            await outbox.stop()
        # Per conversation, replies went out in the order they were queued.
        by_conversation: dict[str, list[int]] = {}
        for message in network.outgoing:
            by_conversation.setdefault(message.reply.conversation.id, []).append(message.outbox_id)
        assert all(ids == sorted(ids) for ids in by_conversation.values())


async def test_a_burst_beyond_the_memory_bound_waits_in_the_store_and_goes_out_in_order(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    async with SqliteStore(path) as store:
        network = GatedNetwork(path, concurrency=2)
        outbox = Outbox(store, {"gated": network}, SystemClock(), max_in_memory=10)
        await outbox.start()
        try:
            await committed(store, outbox, [entry(store, f"c{i % 3}") for i in range(100)])
            assert outbox.depth() <= 10 + 2  # 10 queued, 2 sending at once: the rest are only in the store
            with sqlite3.connect(path) as other:
                assert other.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall() == [("pending", 100)]
            network.release.set()
            await outbox.drain()
            assert outbox.stats["sent"] == 100 and outbox.depth() == 0
        finally:
            await outbox.stop()
        assert network.rows_committed_at_send == [True] * 100
        await store.flush()
        with sqlite3.connect(path) as other:
            assert other.execute("SELECT COUNT(*) FROM outbox WHERE status = 'sent'").fetchone() == (100,)


async def test_after_a_restart_pending_rows_are_read_back_as_room_allows(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    async with SqliteStore(path) as store:
        for i in range(50):
            store.put_outbox(entry(store, f"c{i}", network="memory"))
    async with SqliteStore(path) as store:
        network = MemoryNetwork(name="memory")
        outbox = Outbox(store, {"memory": network}, SystemClock(), max_in_memory=8)
        assert await outbox.start() == 8
        try:
            await wait_for(lambda: outbox.stats["sent"] == 50)
            later = entry(store, "new", network="memory")
            outbox.enqueue(later)  # back to queueing in memory once the store is emptied
            await wait_for(lambda: outbox.stats["sent"] == 51)
        finally:
            await outbox.stop()
        assert [m.outbox_id for m in network.outgoing] == list(range(1, 52))


async def test_a_reply_whose_commit_is_under_way_when_the_senders_start_goes_out_once(tmp_path: Path) -> None:
    """The first events race the start: the networks start (and events flow) before the
    senders do. Rows are read back before that (restore), so a reply whose batch is still
    being committed when the senders start is sent once: when its transaction hands it over."""
    async with SqliteStore(tmp_path / "b.db") as store:
        network = MemoryNetwork(name="memory")
        outbox = Outbox(store, {"memory": network}, SystemClock())
        earlier = entry(store, "c0", network="memory")
        store.put_outbox(earlier)  # left pending by a previous run, say
        assert await outbox.restore() == 1
        first = entry(store, "c1", network="memory")
        store.put_outbox(first)  # an event's reply, its batch not yet committed
        assert await outbox.start() == 1  # the senders start: nothing read back again
        try:
            await store.flush()
            outbox.enqueue(first)  # handed over by the transaction after the commit
            await wait_for(lambda: outbox.stats["sent"] >= 2)
            await outbox.drain()  # a second copy would be queued or in flight: drain waits for it
        finally:
            await outbox.stop()
        assert sorted(m.outbox_id for m in network.outgoing) == [earlier.id, first.id]


# --- waking the sender with a manual clock ----------------------------------------------------


async def test_a_manual_clock_wakes_a_sleep_whose_task_has_not_started_yet() -> None:
    clock = ManualClock(T0)
    sleeper = asyncio.ensure_future(clock.sleep(10))  # a task: its first step is a turn away
    clock.advance(10)  # a test's advance lands before that step
    await asyncio.wait_for(sleeper, 30)  # woken, not waiting for another advance


class AdvancedAsTheSenderFallsAsleep(ManualClock):
    """A test's ``advance`` lands in the loop turn right after the outbox's sender decided
    to sleep until a retry is due. On a loaded machine any turn can be that one: the
    test's drain() polls on a timer and returns as soon as nothing is due."""

    def __init__(self, seconds: float) -> None:
        super().__init__(T0)
        self.pending = seconds

    def sleep(self, seconds: float) -> Coroutine[Any, Any, None]:
        coro = super().sleep(seconds)
        if self.pending:
            asyncio.get_running_loop().call_soon(self.advance, self.pending)
            self.pending = 0
        return coro


async def test_a_retry_is_sent_when_time_passes_it_as_the_sender_falls_asleep(tmp_path: Path) -> None:
    """The sender slept through such an advance until the next one, which a test waiting
    in drain() never made: test_bot's retry tests hung now and then."""
    clock = AdvancedAsTheSenderFallsAsleep(60)  # backoff for a first retry: 1 to 2 s
    network = MemoryNetwork()
    network.fail_next(TransientSendError("connection reset"))
    async with SqliteStore(tmp_path / "o.db", commit_delay=3600) as store:
        outbox = Outbox(store, {"memory": network}, clock, rng=random.Random(1))
        await outbox.start()
        try:
            await committed(store, outbox, [entry(store, "c1", network="memory")])
            await wait_for(lambda: outbox.stats["sent"] == 1, timeout=30)
        finally:
            await outbox.stop()
    assert outbox.stats["retried"] == 1 and [r.text for r in network.sent] == ["thanks!"]


async def test_a_sent_mark_rides_with_the_commit_being_gathered_else_asks_for_one(make_bot: Any) -> None:
    from brandbot.core.effects import Effects

    bot = (await make_bot()).bot
    asked: list[int] = []
    request_commit = bot.store.request_commit

    def counting() -> None:  # the real request, counted
        asked.append(1)
        request_commit()

    bot.store.request_commit = counting  # type: ignore[method-assign]
    row = OutboxEntry(id=bot.store.next_outbox_id(), network="memory", conversation_id="c", conversation_private=False,
                      text="hi", created=datetime(2026, 1, 1, tzinfo=UTC), next_try=datetime(2026, 1, 1, tzinfo=UTC),
                      status=OutboxStatus.PENDING)
    bot.transactions.add(Effects(outbox=[row]))  # a batch with a reply: its commit is coming
    assert bot.transactions.gathering()
    bot._commit_sent_marks()
    assert asked == []
    await bot.transactions.committed()  # (the reply then goes out: its own mark may ask too)
    assert not bot.transactions.gathering()
    before = len(asked)
    bot._commit_sent_marks()  # nothing coming: the mark asks for its own commit
    assert len(asked) == before + 1
