"""One transaction per batch: replies leave only after their commit, and waiting is exact.

The settle()/drain() helpers used to return while a reply was still waiting for its
commit (an entry between the queue and the network was counted nowhere), which made
tests flaky on a loaded machine. These tests slow every commit down on purpose.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from brandbot.core.effects import Effects, Processed
from brandbot.core.records import OutboxEntry, OutboxStatus
from brandbot.runtime.transaction import Transactions
from brandbot.store.sqlite import SqliteStore
from brandbot.testing import build_harness

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)
SLOW_COMMIT = 0.03  # seconds


class SlowStore(SqliteStore):
    """A store whose every commit takes 30 ms longer, as on a busy disk."""

    commits = 0

    async def flush(self) -> None:
        await asyncio.sleep(SLOW_COMMIT)
        SlowStore.commits += 1
        await super().flush()


def reply_row(store: SqliteStore, n: int) -> OutboxEntry:
    return OutboxEntry(id=store.next_outbox_id(), network="memory", conversation_id=f"c{n}",
                       conversation_private=False, text=f"reply {n}", created=T0, next_try=T0,
                       status=OutboxStatus.PENDING)


async def test_replies_are_handed_over_only_after_their_rows_are_committed(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    delivered: list[tuple[int, bool]] = []
    async with SlowStore(path, commit_delay=3600) as store:

        def deliver(entry: OutboxEntry) -> None:
            with sqlite3.connect(path) as other:  # what a crash right now would leave
                row = other.execute("SELECT status FROM outbox WHERE id = ?", (entry.id,)).fetchone()
            delivered.append((entry.id, row == ("pending",)))

        transactions = Transactions(store, deliver)
        for n in range(20):
            transactions.add(Effects(outbox=[reply_row(store, n)], processed=Processed("memory", f"e{n}", T0)))
        assert delivered == []  # nothing leaves before the commit
        await transactions.committed()
        await transactions.close()
    assert len(delivered) == 20 and all(committed for _, committed in delivered)


async def test_the_effects_of_one_turn_share_one_commit(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "t.db", commit_delay=3600) as store:
        transactions = Transactions(store, lambda entry: None)
        for n in range(50):
            transactions.add(Effects(outbox=[reply_row(store, n)]))
        await transactions.committed()
        assert (transactions.commits, transactions.units_committed) == (1, 50)
        transactions.add(Effects(outbox=[reply_row(store, 99)]))  # an idle bot: a batch of one
        await transactions.committed()
        assert (transactions.commits, transactions.units_committed) == (2, 51)
        await transactions.close()


async def test_closing_while_a_batch_waits_for_the_store_still_hands_over_its_replies(tmp_path: Path) -> None:
    """The bot stops (end of console input, SIGTERM) while the committer's batch waits for
    the store, e.g. behind the maintenance pass that runs at start. close() must commit
    that batch and queue its replies: they used to be dropped until the next start."""
    delivered: list[int] = []
    async with SqliteStore(tmp_path / "t.db", commit_delay=3600) as store:
        transactions = Transactions(store, lambda entry: delivered.append(entry.id))
        await store._lock.acquire()  # a maintenance transaction holds the store
        row = reply_row(store, 1)
        transactions.add(Effects(outbox=[row], processed=Processed("memory", "e1", T0)))
        await until(lambda: transactions._busy)  # the committer took the batch; it waits
        closing = asyncio.create_task(transactions.close())
        await until(lambda: transactions._task is None)  # close() stopped the committer
        store._lock.release()  # the maintenance transaction ends
        await asyncio.wait_for(closing, 30)
    assert delivered == [row.id]
    with sqlite3.connect(tmp_path / "t.db") as other:
        assert other.execute("SELECT event_id FROM processed").fetchall() == [("e1",)]


async def until(condition, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    """Wait for ``condition`` (a hang guard, not a timing assumption)."""
    async def check() -> None:
        while not condition():
            await asyncio.sleep(0)

    await asyncio.wait_for(check(), timeout)


async def test_drain_waits_for_every_reply_even_when_each_commit_is_slow(tmp_path: Path) -> None:
    harness = await build_harness(tmp_path, rules=[{"name": "hi", "kinds": ["direct"], "reply": "Hi {{ name }}!"}],
                                  store=SlowStore(":memory:"))
    bot = harness.bot
    try:
        before = SlowStore.commits
        for n in range(40):
            await bot.submit(harness_event(harness, n))
        await bot.drain()
        assert len(harness.sent) == 40  # drain returned only when every reply was out
        assert SlowStore.commits > before
        await harness.receive("direct", "hi", author="zoe")  # receive() settles the same way
        assert harness.sent[-1] == "Hi Zoe!"
    finally:
        await harness.close()


def harness_event(harness, n: int):  # type: ignore[no-untyped-def]
    from brandbot.core.events import Conversation, Event, Kind, Person

    return Event(kind=Kind.DIRECT, network="memory", id=f"slow{n}",
                 author=Person("memory", f"u{n}", handle=f"u{n}", name=f"U{n}"),
                 conversation=Conversation("memory", f"dm:u{n}", private=True), text="hi",
                 time=harness.clock.now(), post_id=f"p{n}", addressed=True)


async def test_while_the_intake_is_busy_a_commit_gathers_events_up_to_its_size(tmp_path: Path) -> None:
    delivered: list[int] = []
    busy = True
    async with SqliteStore(tmp_path / "t.db", commit_delay=3600) as store:
        transactions = Transactions(store, lambda entry: delivered.append(entry.id), busy=lambda: busy,
                                    max_units=5, max_wait=3600)
        for n in range(4):
            transactions.add(Effects(outbox=[reply_row(store, n)]))
            for _ in range(3):
                await asyncio.sleep(0)
        assert delivered == [] and transactions.commits == 0  # busy, and 4 < 5 events: still gathering
        transactions.add(Effects(outbox=[reply_row(store, 4)]))
        await until(lambda: len(delivered) == 5)  # the fifth filled the batch
        assert transactions.commits == 1
        await transactions.close()


async def test_a_commit_stops_gathering_when_the_intake_runs_dry_or_the_first_reply_waited_long_enough(
        tmp_path: Path) -> None:
    delivered: list[int] = []
    busy = True
    async with SqliteStore(tmp_path / "t.db", commit_delay=3600) as store:
        transactions = Transactions(store, lambda entry: delivered.append(entry.id), busy=lambda: busy,
                                    max_units=100, max_wait=3600)
        transactions.add(Effects(outbox=[reply_row(store, 0)]))
        for _ in range(3):
            await asyncio.sleep(0)
        assert delivered == []
        busy = False  # nothing more in hand: commit now
        await until(lambda: len(delivered) == 1)
        busy = True
        short = Transactions(store, lambda entry: delivered.append(entry.id), busy=lambda: True,
                             max_units=100, max_wait=0.01)
        short.add(Effects(outbox=[reply_row(store, 1)]))
        await asyncio.wait_for(short.committed(), 5)  # a waiting caller does not wait for more events
        await asyncio.sleep(0.05)
        assert len(delivered) == 2
        short.add(Effects(outbox=[reply_row(store, 2)]))
        for _ in range(200):  # still busy, but the first reply's wait is bounded by max_wait
            if len(delivered) == 3:
                break
            await asyncio.sleep(0.01)
        assert len(delivered) == 3
        await transactions.close()
        await short.close()


async def test_replies_added_while_a_commit_waits_are_not_held_back_again_after_it(tmp_path: Path) -> None:
    """The gathering wait counts from a batch's first reply: a reply that waited through
    the previous commit goes into the very next one."""
    delivered: list[int] = []
    asked = [0]  # how often the committer asked whether to gather more: once per loop turn of waiting

    def busy() -> bool:
        asked[0] += 1
        return True

    async with SqliteStore(tmp_path / "t.db", commit_delay=3600) as store:
        transactions = Transactions(store, lambda entry: delivered.append(entry.id), busy=busy,
                                    max_units=100, max_wait=0.2)
        async with store._lock:  # as a maintenance transaction: the commit must wait for the store
            transactions.add(Effects(outbox=[reply_row(store, 0)]))
            await asyncio.sleep(0.3)  # the first reply waited max_wait: its commit waits for the store
            transactions.add(Effects(outbox=[reply_row(store, 1)]))  # the next batch
            await asyncio.sleep(0.3)  # ... whose first reply has now waited max_wait too
            assert delivered == []
            asked[0] = 0
        await until(lambda: len(delivered) == 2)
        assert transactions.commits == 2
        assert asked[0] <= 2  # the second batch was not held back for another max_wait
        await transactions.close()
