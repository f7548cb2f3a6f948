"""The store keeps memory flat: key filters, bounded caches read through, prompt commits."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brandbot.core.events import Person
from brandbot.core.lru import MISSING, Lru, RecentMap
from brandbot.networks.base import RateLimits
from brandbot.runtime.ratelimit import RateGate
from brandbot.store.bloom import KeyFilter
from brandbot.store.sqlite import SqliteStore, connection, writer

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


# --- the key filters ---------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    before=st.sets(st.tuples(st.sampled_from(["x", "telegram"]), st.text(max_size=12)), max_size=100),
    stored=st.sets(st.tuples(st.sampled_from(["x", "telegram"]), st.text(max_size=12)), max_size=200),
    during=st.sets(st.tuples(st.sampled_from(["x", "telegram"]), st.text(max_size=12)), max_size=100),
    after=st.sets(st.tuples(st.sampled_from(["x", "telegram"]), st.text(max_size=12)), max_size=100),
)
def test_a_key_filter_never_forgets_a_key_whenever_it_was_added(before: set[tuple[str, str]],
                                                                 stored: set[tuple[str, str]],
                                                                 during: set[tuple[str, str]],
                                                                 after: set[tuple[str, str]]) -> None:
    keys = KeyFilter()
    for key in before:  # added before the fill started
        keys.add(key)
    assert not keys.ready and all(("x", f"anything-{i}") in keys for i in range(5))  # "maybe": read
    keys.start_fill(1000)
    keys.fill(list(stored)[: len(stored) // 2])
    for key in during:  # added while the database's keys stream in
        keys.add(key)
    keys.fill(list(stored)[len(stored) // 2:])
    keys.finish_fill(len(stored))
    for key in after:
        keys.add(key)
    assert keys.ready
    assert all(key in keys for key in before | stored | during | after)
    assert keys.count == len(before) + len(stored) + len(during) + len(after)


def test_a_key_filter_answers_from_the_old_filter_while_refilling_and_then_is_not_full() -> None:
    keys = KeyFilter()
    keys.start_fill(10)
    keys.finish_fill(0)
    for i in range(20):
        keys.add(f"old-{i}")
    assert keys.full
    keys.start_fill(1000)
    assert "old-3" in keys and not keys.full  # still answering, no refill of a refill
    keys.add("new")
    keys.fill(["kept"])
    keys.finish_fill(1)
    assert "new" in keys and "kept" in keys and not keys.full and keys.capacity == 1000


def test_a_key_filter_stays_near_its_error_rate_and_small() -> None:
    keys = KeyFilter()
    keys.start_fill(20_000)
    keys.fill(f"seen-{i}" for i in range(20_000))
    keys.finish_fill(20_000)
    false_positives = sum(f"new-{i}" in keys for i in range(20_000))
    assert false_positives < 20_000 * 0.02
    assert keys.nbytes < 20_000 * 1.4  # about 1.2 bytes a key at 1%


def test_a_key_filter_refuses_nonsense() -> None:
    keys = KeyFilter()
    with pytest.raises(ValueError, match="capacity"):
        keys.start_fill(0)
    with pytest.raises(RuntimeError, match="start_fill"):
        keys.fill(["a"])


def test_the_lru_drops_the_least_recently_used() -> None:
    lru: Lru[str, int] = Lru(2)
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.get("a") == 1  # a is now the most recent
    lru.put("c", 3)
    assert lru.get("b") is MISSING and lru.get("a") == 1 and lru.get("c") == 3
    assert len(lru) == 2


def test_the_lru_admits_a_key_offered_twice_and_forgets_one_offered_once() -> None:
    lru: Lru[str, int] = Lru(8)  # remembers 2 keys offered once
    lru.admit("a", 1)
    assert lru.peek("a") is MISSING  # offered once: only noted
    lru.admit("a", 2)
    assert lru.peek("a") == 2  # offered again: cached
    lru.admit("a", 3)
    assert lru.peek("a") == 3  # a cached key is kept current
    for key in ("b", "c", "d"):  # "b" and "c" fill the notes; "d" starts them over
        lru.admit(key, 0)
    lru.admit("b", 4)
    assert lru.peek("b") is MISSING and len(lru) == 1


def test_a_recent_map_keeps_the_latest_half_and_never_more_than_its_size() -> None:
    recent: RecentMap[int, int] = RecentMap(10)
    for key in range(100):
        recent.put(key, key)
        assert len(recent) <= 10
        assert all(recent.peek(k) == k for k in range(max(0, key - 4), key + 1))  # the latest 5
    assert recent.peek(0) is MISSING and recent.get(0, None) is None


def test_a_recent_map_keeps_a_key_used_again() -> None:
    recent: RecentMap[str, int] = RecentMap(4)  # two dicts of two
    recent.put("a", 1)
    recent.put("b", 2)
    recent.put("c", 3)  # a and b are the older half now
    assert recent.get("a") == 1  # used: moved back into the newer half
    assert recent.peek("b") == 2  # peeked: stays where it is
    recent.put("d", 4)  # the newer half (c, a) turns older; b is dropped
    assert recent.peek("b") is MISSING
    assert [recent.peek(k) for k in "acd"] == [1, 3, 4]
    recent.put("a", 5)
    recent.discard("c")
    assert (recent.peek("a"), recent.peek("c"), len(recent)) == (5, MISSING, 2)
    recent.clear()
    assert len(recent) == 0
    single: RecentMap[str, int] = RecentMap(1)
    single.put("x", 1)
    single.put("y", 2)
    assert (single.peek("x"), single.peek("y"), len(single)) == (MISSING, 2, 1)


# --- the store with small caches -------------------------------------------------------------


async def test_small_caches_read_people_and_data_back_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    async with SqliteStore(path, cache_size=3) as store:
        people = [Person("x", str(i), f"p{i}") for i in range(20)]
        followers = [(await store.resolve(p, T0))[0] for p in people]
        for f in followers:
            store.kv_set("plugin", f"k{f.id}", f"v{f.id}", f.id)
            store.mark_processed("x", f"e{f.id}", T0)
            store.mark_once(f"once:f{f.id}:", T0)
        await store.flush()
        assert len(store._follower_cache) <= 3 and len(store._kv_cache) <= 3
        for person, follower in zip(people, followers):
            assert await store.resolve(person, T0) == (follower, False)
            assert await store.get_follower(follower.id) == follower
            assert await store.kv_get("plugin", f"k{follower.id}") == f"v{follower.id}"
            assert await store.is_processed("x", f"e{follower.id}")
            assert await store.once_used(f"once:f{follower.id}:")
        assert not await store.is_processed("x", "never")
        assert not await store.once_used("never")
        assert await store.kv_get("plugin", "never") is None


async def test_plugin_data_read_once_is_not_cached(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "b.db") as store:
        for i in range(100):
            store.kv_set("rules.variant", f"rule:f{i}:", "1", i + 1)
        store.kv_set("plugin", "total", "7")
        await store.flush()
        for i in range(100):  # each person's datum, read once as they pass by
            assert await store.kv_get("rules.variant", f"rule:f{i}:") == "1"
        for _ in range(3):  # a datum read again and again
            assert await store.kv_get("plugin", "total") == "7"
        assert len(store._kv_cache) == 1 and store._kv_cache.peek(("plugin", "total")) == "7"


async def test_followers_read_back_share_their_sets_tiers_and_days(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "b.db") as store:
        for i in range(2):
            follower, _ = await store.resolve(Person("x", f"u{i}"), T0)
            day = "-".join(("2026", "03", "01"))  # equal texts, distinct objects
            store.put_follower(replace(follower, tier="".join(("Go", "ld")), streak_day=day, points_day=day))
        await store.flush()
        store._follower_cache.clear()
        first, second = await store.get_follower(1), await store.get_follower(2)
    assert first is not None and second is not None
    # A cached follower read from disk held two new empty frozensets (216 bytes each)
    # and its own copies of the tier and day texts.
    assert first.tags is second.tags is first.unreachable is second.unreachable
    assert first.tier is second.tier and first.tier == "Gold"
    assert first.points_day is second.points_day is first.streak_day is second.streak_day


async def test_an_identity_read_back_holds_the_persons_own_strings(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "b.db") as store:
        ana, _ = await store.resolve(Person("x", "ana-1", "ana"), T0)
        await store.flush()
        store._identity_cache.clear()
        store._follower_cache.clear()
        again = Person("x", "-".join(("ana", "1")), "ana")  # equal to the stored id, another object
        assert await store.resolve(again, T0) == (ana, False)
        cached = store._identity_cache.peek(("x", again.id))
    assert cached.user_id is again.id and cached.network is again.network


async def test_a_reopened_store_knows_every_processed_id_and_person(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    async with SqliteStore(path) as store:
        ana, _ = await store.resolve(Person("x", "ana"), T0)
        for i in range(500):
            store.mark_processed("x", f"e{i}", T0)
        store.mark_once("welcome:f1:", T0)
    async with SqliteStore(path, cache_size=1) as store:
        assert all([await store.is_processed("x", f"e{i}") for i in range(500)])
        assert not await store.is_processed("x", "e500")
        assert await store.resolve(Person("x", "ana"), T0) == (ana, False)
        assert await store.once_used("welcome:f1:")


async def test_a_false_positive_of_the_filter_is_settled_by_the_database(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "b.db") as store:
        store._processed_seen.add(("x", "ghost"))  # what a false positive looks like
        store._identity_seen.add(("x", "ghost"))
        assert not await store.is_processed("x", "ghost")
        _, created = await store.resolve(Person("x", "ghost"), T0)
        assert created


async def test_a_populated_database_opens_before_its_filters_are_filled_and_answers_right(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    async with SqliteStore(path) as store:
        for i in range(300):
            store.mark_processed("x", f"e{i}", T0)
            await store.resolve(Person("x", f"u{i}"), T0)
        store.mark_once("once:a", T0)
    async with SqliteStore(path) as store:
        assert not store._processed_seen.ready  # open did not scan the tables
        assert await store.is_processed("x", "e7") and not await store.is_processed("x", "e900")
        assert await store.once_used("once:a") and not await store.once_used("once:b")
        assert not (await store.resolve(Person("x", "u5"), T0))[1]
        await store.filters_filled()
        assert store._processed_seen.ready and store._identity_seen.ready and store._once_seen.ready
        assert await store.is_processed("x", "e7") and not await store.is_processed("x", "e900")
        assert await store.once_used("once:a") and not await store.once_used("once:b")
        assert not (await store.resolve(Person("x", "u5"), T0))[1]
        assert (await store.resolve(Person("x", "u900"), T0))[1]


async def test_prune_rebuilds_a_full_processed_filter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection, "_MIN_FILTER_CAPACITY", 10)  # the filters built at open
    async with SqliteStore(tmp_path / "b.db") as store:
        await store.filters_filled()
        for i in range(40):
            store.mark_processed("x", f"old{i}", T0 - timedelta(days=30))
        store.mark_processed("x", "new", T0)
        await store.flush()
        store.mark_processed("x", "buffered", T0)
        assert store._processed_seen.full
        assert await store.prune_processed(T0 - timedelta(days=7)) == 40
        assert not store._processed_seen.full
        assert await store.is_processed("x", "new") and await store.is_processed("x", "buffered")
        assert not await store.is_processed("x", "old3")


async def test_a_requested_commit_happens_at_the_next_loop_turn(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    async with SqliteStore(path, commit_delay=3600) as store:
        store.mark_processed("x", "e1", T0)
        store.request_commit()
        store.request_commit()  # one commit serves every request of the turn
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert store.backlog() == 0  # taken by the commit (its COMMIT runs on the writer thread)

        def committed() -> list[tuple[str]]:
            with sqlite3.connect(path) as other:
                return other.execute("SELECT event_id FROM processed").fetchall()

        for _ in range(3000):  # a hang guard, not a timing assumption: no flush() asked for it
            if committed():
                break
            await asyncio.sleep(0.01)
        assert committed() == [("e1",)]


#: Commits that go on beside a background checkpoint before the test waits for it.
_BESIDE = 5


async def test_the_wal_is_checkpointed_and_started_over_while_commits_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer, "_CHECKPOINT_ROWS", 50)
    path = tmp_path / "b.db"
    wal = tmp_path / "b.db-wal"
    sizes = []
    commits = 0
    # How many commits go on beside one background checkpoint is up to the thread
    # scheduler: anything from none to every commit of the round on a busy machine, and
    # the WAL's high-water mark with it. So a checkpoint gets at most _BESIDE commits
    # beside it, then the test waits for it to end: the mark no longer depends on timing.
    running: asyncio.Task[None] | None = None
    beside = 0
    async with SqliteStore(path, commit_delay=3600) as store:
        for i in range(3_000):
            store.mark_processed("x", f"event-number-{i:06d}-" + "x" * 40, T0)
            if i % 10 == 9:
                await store.flush()
                commits += 1
                await asyncio.sleep(0)  # lets a background checkpoint start
                if store._checkpointer is not running:
                    running, beside = store._checkpointer, 0
                elif running is not None:
                    beside += 1
                    if beside == _BESIDE:
                        await running
            if i % 500 == 499:
                if store._checkpointer is not None:
                    await store._checkpointer
                sizes.append(wal.stat().st_size)
    with sqlite3.connect(path) as other:
        assert other.execute("SELECT COUNT(*) FROM processed").fetchone() == (3_000,)
        (page_size,) = other.execute("PRAGMA page_size").fetchone()
    # Every commit appends at least one frame (a header of 24 bytes and a page) to the WAL
    # unless the file is started over; so without that it would end with at least one frame
    # per commit (several, in fact). Reused from its start, it stops growing at the frames
    # of the few commits between two checkpoints.
    frames = [(size - 32) // (24 + page_size) for size in sizes]
    assert max(frames) < commits // 2, (frames, commits)


async def test_an_in_memory_store_leaves_no_file_behind(tmp_path: Path) -> None:
    store = SqliteStore(":memory:")
    await store.open()
    folder = Path(store._path).parent
    await store.resolve(Person("x", "ana"), T0)
    await store.flush()
    assert folder.is_dir()
    await store.close()
    assert not folder.exists()


# --- the outbox's rate gate -------------------------------------------------------------------


def test_the_rate_gate_keeps_nothing_per_conversation_without_such_limits() -> None:
    gate = RateGate(RateLimits())
    for i in range(1_000):
        gate.record(f"c{i}", False, float(i))
    assert len(gate._per_key) == 0


def test_the_rate_gate_retires_idle_conversations_but_keeps_busy_ones() -> None:
    gate = RateGate(RateLimits(per_conversation=((1, 1.0),)), max_keys=1_000)
    gate.record("busy", False, 0.0)
    for i in range(100):
        gate.record(f"c{i}", False, 0.5)  # "busy" is the oldest key but still within its window
    assert gate.ready_at("busy", False, 0.5) == 1.0
    for i in range(100):
        gate.record(f"d{i}", False, 100.0 + i)  # everything older has gone idle
    assert len(gate._per_key) < 60
