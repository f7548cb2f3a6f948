"""The batch pass of issue 14: the people of queued events read with one statement, ahead of
their events, and a follower row encoded once per batch."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from brandbot.core.events import Conversation, Event, Kind, Person
from brandbot.core.records import FollowerRecord
from brandbot.store.sqlite import SqliteStore
from brandbot.testing import MakeBot

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _selects(statements: list[str]) -> list[str]:
    return [s for s in statements if s.lstrip().upper().startswith("SELECT")]


async def _known_people(path: Path, count: int) -> list[Person]:
    people = [Person("x", str(n), handle=f"p{n}", name=f"P{n}") for n in range(count)]
    people.append(Person("tg", "1", handle="tg1", name="T1"))
    async with SqliteStore(path) as store:
        for person in people:
            await store.resolve(person, T0)
    return people


async def test_known_people_are_read_in_one_statement_per_network_and_then_resolved_from_memory(
        tmp_path: Path) -> None:
    path = tmp_path / "people.db"
    people = await _known_people(path, 5)
    newcomer = Person("x", "new", handle="new", name="New")
    async with SqliteStore(path) as store:  # reopened: nothing cached
        await store.filters_filled()
        before = {p.id: (await store.resolve(p, T0))[0] for p in people[:1]}  # one cached already
        statements: list[str] = []
        assert store._db is not None
        store._db.set_trace_callback(statements.append)
        read = await store.prefetch_people([*people, people[2], newcomer])
        assert read == len(people) - 1  # not the cached one, not the newcomer, not twice
        assert len(_selects(statements)) == 2  # one per network
        statements.clear()
        resolved = [await store.resolve(p, T0) for p in people]
        assert _selects(statements) == []  # every known person came from memory
        store._db.set_trace_callback(None)
        assert [created for _, created in resolved] == [False] * len(people)
        assert resolved[0][0] == before[people[0].id]
        assert [f.name for f, _ in resolved] == [p.name for p in people]
        _, created = await store.resolve(newcomer, T0)
        assert created


async def test_a_buffered_newer_record_wins_over_the_row_read_ahead(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    people = await _known_people(path, 2)
    async with SqliteStore(path, commit_delay=3600) as store:
        await store.filters_filled()
        ana = await store.get_follower(1)
        assert ana is not None
        store._follower_cache.clear()
        store._identity_cache.clear()
        store.put_follower(dataclasses.replace(ana, points=99))  # buffered, not committed
        assert await store.prefetch_people(people) == len(people)
        found, created = await store.resolve(people[0], T0)
        assert (found.id, found.points, created) == (1, 99, False)


async def test_prefetch_is_bounded_per_call(tmp_path: Path) -> None:
    from brandbot.store.sqlite.prefetch import PREFETCH_LIMIT

    path = tmp_path / "many.db"
    people = await _known_people(path, PREFETCH_LIMIT + 10)
    async with SqliteStore(path) as store:
        await store.filters_filled()
        assert await store.prefetch_people(people) == PREFETCH_LIMIT


def _mention(n: int) -> Event:
    author = Person("memory", f"u{n}", handle=f"u{n}", name=f"U{n}")
    return Event(network="memory", kind=Kind.MENTION, id=f"again-{n}", author=author,
                 conversation=Conversation("memory", f"thread-{n}"), text="hello there", time=T0)


async def test_the_intake_reads_the_people_of_queued_events_together(make_bot: MakeBot, tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    first = await make_bot(store_path=db)
    for n in range(40):
        await first.bot.handle(dataclasses.replace(_mention(n), id=f"first-{n}"))
    await first.close()

    again = await make_bot(store_path=db)
    store = again.bot.store
    assert isinstance(store, SqliteStore)
    await store.filters_filled()
    statements: list[str] = []
    assert store._db is not None
    store._db.set_trace_callback(statements.append)
    for n in range(40):
        await again.bot.submit(_mention(n))  # queued: handled from the next loop turn on
    await again.bot.settled()
    store._db.set_trace_callback(None)
    people_reads = [s for s in _selects(statements) if "FROM identities" in s]
    assert len(people_reads) == 1, people_reads  # not 40
    assert again.bot.intake.stats["events"] == 40
    assert {(await again.follower(f"u{n}")).interactions for n in range(40)} == {2}


async def test_a_follower_written_by_several_events_of_a_batch_is_encoded_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from brandbot.store.sqlite import writer

    encoded: list[int] = []
    original = writer._follower_row

    def counting(follower: FollowerRecord) -> tuple[object, ...]:
        encoded.append(follower.id)
        return original(follower)

    monkeypatch.setattr(writer, "_follower_row", counting)
    async with SqliteStore(tmp_path / "once.db", commit_delay=3600) as store:
        ana, created = await store.resolve(Person("x", "1", name="Ana"), T0)  # a newcomer: buffered
        assert created
        for points in (1, 2, 3):  # three events of the batch count her
            store.put_follower(dataclasses.replace(ana, points=points))
        with pytest.raises(ValueError, match="naive datetime"):  # still refused at the call
            store.put_follower(dataclasses.replace(ana, last_seen=datetime(2026, 3, 1)))
        await store.flush()
        assert encoded == [ana.id]
        assert store._read_now("SELECT points FROM followers WHERE id = ?", (ana.id,)) == [(3,)]


async def test_the_read_ahead_uses_a_few_statement_shapes_whatever_the_number_of_people(
        tmp_path: Path) -> None:
    path = tmp_path / "shapes.db"
    people = await _known_people(path, 40)
    async with SqliteStore(path) as store:
        await store.filters_filled()
        statements: list[str] = []
        assert store._db is not None
        store._db.set_trace_callback(statements.append)
        start = 0
        for count in (3, 5, 6, 7, 9, 10):  # 40 people in batches of as many sizes
            assert await store.prefetch_people(people[start:start + count]) == count
            start += count
        store._db.set_trace_callback(None)
        # Each count of marks is its own prepared statement, kept in the statement cache.
        marks = {s.count(",", s.index(" IN (")) + 1 for s in _selects(statements)}
        assert marks == {4, 8, 16}
        assert all([(await store.resolve(p, T0))[0].name == p.name for p in people[:start]])
