"""What only the SQLite store does: its migrations, file, WAL, caches and page zeroing.

The store contract (write-behind, restarts, identities, merges, privacy, queries) runs on
SQLite and PostgreSQL alike in tests/test_store_postgres_contract.py.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brandbot.core.errors import StoreError
from brandbot.core.events import Person
from brandbot.core.records import (
    Direction,
    Interaction,
    OutboxEntry,
)
from brandbot.store.migrations import LATEST_VERSION, MIGRATIONS, Migration, migrate
from brandbot.store.sqlite import SqliteStore

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TABLES = {
    "followers", "identities", "interactions", "processed", "outbox", "cursors",
    "once_keys", "plugin_data", "jobs", "merges", "audit", "schema_version",
}  # fmt: skip


# --- helpers -------------------------------------------------------------------------------


def db_rows(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read the file through a second, independent connection: what is really committed."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def assert_files_do_not_contain(folder: Path, secrets: list[str]) -> None:
    for file in folder.iterdir():
        data = file.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, f"{file.name} still holds {secret!r}"


async def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.01)
    return check()


def interaction(follower_id: int, text: str = "hi", when: datetime = T0, **kw: Any) -> Interaction:
    return Interaction(
        follower_id=follower_id,
        time=when,
        direction=kw.pop("direction", Direction.IN),
        kind=kw.pop("kind", "mention"),
        network=kw.pop("network", "telegram"),
        conversation_id=kw.pop("conversation_id", "chat-1"),
        text=text,
        **kw,
    )


def outbox(store: SqliteStore, follower_id: int = 0, **kw: Any) -> OutboxEntry:
    return OutboxEntry(
        id=store.next_outbox_id(),
        network=kw.pop("network", "telegram"),
        conversation_id=kw.pop("conversation_id", "chat-1"),
        conversation_private=kw.pop("conversation_private", False),
        text=kw.pop("text", "thanks!"),
        created=T0,
        next_try=T0,
        follower_id=follower_id,
        **kw,
    )


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "brandbot.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SqliteStore]:
    """A store that commits only when told to (the delay is far longer than any test)."""
    s = SqliteStore(db_path, commit_delay=3600)
    await s.open()
    yield s
    await s.close()


# --- migrations ------------------------------------------------------------------------------


async def test_open_creates_the_schema_and_records_its_version(
    store: SqliteStore, db_path: Path
) -> None:
    names = {r[0] for r in db_rows(db_path, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert names >= TABLES
    assert db_rows(db_path, "SELECT version FROM schema_version") == [(LATEST_VERSION,)]
    assert store.schema_version() == LATEST_VERSION
    assert db_rows(db_path, "PRAGMA journal_mode") == [("wal",)]
    indexes = {
        r[0] for r in db_rows(db_path, "SELECT name FROM sqlite_master WHERE type = 'index'")
    }
    assert {
        "interactions_by_follower",
        "identities_by_handle",
        "outbox_by_status",
        "jobs_by_due",
    } <= indexes


async def test_reopening_does_not_rerun_migrations(db_path: Path) -> None:
    for _ in range(3):
        async with SqliteStore(db_path) as s:
            s.set_cursor("k", "v")
    assert db_rows(db_path, "SELECT COUNT(*) FROM schema_version") == [(len(MIGRATIONS),)]
    assert db_rows(db_path, "SELECT value FROM cursors") == [("v",)]


async def test_new_migrations_apply_once_and_a_failing_one_rolls_back(db_path: Path) -> None:
    extra = Migration(len(MIGRATIONS) + 1, "add a table", "CREATE TABLE extra (x INTEGER)")
    broken = Migration(
        len(MIGRATIONS) + 2,
        "half done",
        "CREATE TABLE half (x INTEGER); INSERT INTO no_such_table VALUES (1)",
    )
    conn = await aiosqlite.connect(db_path, isolation_level=None)
    try:
        assert await migrate(conn, [*MIGRATIONS, extra]) == extra.version
        assert await migrate(conn, [*MIGRATIONS, extra]) == extra.version  # second time: no-op
        with pytest.raises(StoreError, match="half done"):
            await migrate(conn, [*MIGRATIONS, extra, broken])
    finally:
        await conn.close()
    tables = {r[0] for r in db_rows(db_path, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "extra" in tables and "half" not in tables
    assert db_rows(db_path, "SELECT MAX(version) FROM schema_version") == [(extra.version,)]


async def test_a_database_newer_than_the_code_is_refused(db_path: Path) -> None:
    async with SqliteStore(db_path):
        pass
    conn = sqlite3.connect(db_path)
    conn.execute("INSERT INTO schema_version VALUES (999, 'from the future', '')")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match=r"version 999.*newer brandbot"):
        await SqliteStore(db_path).open()


async def test_migrations_must_be_numbered_without_gaps(db_path: Path) -> None:
    conn = await aiosqlite.connect(db_path, isolation_level=None)
    try:
        with pytest.raises(StoreError, match="without gaps"):
            await migrate(conn, [Migration(2, "skips one", "SELECT 1")])
    finally:
        await conn.close()


# --- write-behind ------------------------------------------------------------------------------


async def test_a_failing_commit_raises_keeps_the_batch_and_succeeds_later(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with SqliteStore(db_path, commit_delay=0.01) as s:
        # A trigger whose body names a missing table makes every cursor write fail with
        # an operational (not data) error: the database is "unavailable" for cursors.
        conn = sqlite3.connect(db_path)
        conn.execute(
            "CREATE TRIGGER broken BEFORE INSERT ON cursors BEGIN "
            "INSERT INTO missing_table VALUES (1); END"
        )
        conn.commit()
        with caplog.at_level(logging.ERROR, logger="brandbot.store.sqlite"):
            s.set_cursor("k", "v1")
            s.add_interaction(interaction(7, "kept"))
            with pytest.raises(StoreError, match="could not commit"):
                await s.flush()
            assert await wait_until(lambda: "keeping" in caplog.text)
        assert await s.get_cursor("k") == "v1"
        assert [i.text for i in await s.recent_interactions(7)] == ["kept"]
        conn.execute("DROP TRIGGER broken")
        conn.commit()
        conn.close()
        assert await wait_until(lambda: db_rows(db_path, "SELECT value FROM cursors") == [("v1",)])
        assert db_rows(db_path, "SELECT text FROM interactions") == [("kept",)]


async def test_a_row_that_can_never_be_stored_does_not_block_the_others(
    store: SqliteStore, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute(
        "CREATE TRIGGER poison BEFORE INSERT ON cursors WHEN new.key = 'poison' BEGIN "
        "SELECT RAISE(ABORT, 'refused'); END"
    )
    conn.commit()
    conn.close()
    store.set_cursor("good", "1")
    store.set_cursor("poison", "2")
    store.kv_set("ns", "also-good", "3")
    with caplog.at_level(logging.ERROR, logger="brandbot.store.sqlite"):
        await store.flush()
    assert db_rows(db_path, "SELECT key FROM cursors") == [("good",)]
    assert db_rows(db_path, "SELECT key FROM plugin_data") == [("also-good",)]
    assert "dropped a cursors row" in caplog.text


# --- restarts ------------------------------------------------------------------------------


async def test_an_in_memory_store_works(tmp_path: Path) -> None:
    async with SqliteStore(":memory:") as s:
        _, created = await s.resolve(Person("console", "ana"), T0)
        await s.flush()
        assert created and await s.count_followers() == 1


# --- followers and identities ----------------------------------------------------------------


async def test_resolve_finds_people_on_disk_when_the_cache_is_too_small(db_path: Path) -> None:
    people = [Person("x", str(i), f"p{i}") for i in range(5)]
    async with SqliteStore(db_path) as s:
        created = [await s.resolve(p, T0) for p in people]
    async with SqliteStore(db_path, cache_size=2) as s:
        for person, (follower, _) in zip(people, created):
            assert await s.resolve(person, T0) == (follower, False)
        # Two resolves of one new person at once still make one follower.
        newcomer = Person("x", "new")
        (a, a_new), (b, b_new) = await asyncio.gather(
            s.resolve(newcomer, T0), s.resolve(newcomer, T0)
        )
        assert a == b and [a_new, b_new].count(True) == 1
        assert await s.count_followers() == 6


# --- queries -------------------------------------------------------------------------------------


kv_ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("set"), st.sampled_from(["a", "ab", "b", "é", "a:1"]), st.text(max_size=3)
        ),
        st.tuples(st.just("delete"), st.sampled_from(["a", "ab", "b", "é", "a:1"]), st.just("")),
        st.tuples(st.just("flush"), st.just(""), st.just("")),
    ),
    max_size=25,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=kv_ops, prefix=st.sampled_from(["", "a", "a:", "é"]))
def test_any_sequence_of_kv_writes_ends_like_a_dict(
    ops: list[tuple[str, str, str]], prefix: str
) -> None:
    async def scenario() -> None:
        model: dict[str, str] = {}
        async with SqliteStore(":memory:", commit_delay=3600) as s:
            for op, key, value in ops:
                if op == "set":
                    s.kv_set("ns", key, value)
                    model[key] = value
                elif op == "delete":
                    s.kv_delete("ns", key)
                    model.pop(key, None)
                else:
                    await s.flush()
                expected = sorted((k, v) for k, v in model.items() if k.startswith(prefix))
                assert await s.kv_items("ns", prefix) == expected
            for key in ["a", "ab", "b", "é", "a:1"]:
                assert await s.kv_get("ns", key) == model.get(key)
            await s.flush()
            for key in ["a", "ab", "b", "é", "a:1"]:
                assert await s.kv_get("ns", key) == model.get(key)

    asyncio.run(scenario())


async def test_a_known_person_out_of_every_cache_is_resolved_with_one_read(tmp_path: Path) -> None:
    path = tmp_path / "one-read.db"
    async with SqliteStore(path) as store:
        ana, created = await store.resolve(Person("x", "1", handle="ana", name="Ana"), T0)
        assert created
        await store.flush()
    async with SqliteStore(path) as store:  # reopened: nothing cached
        await store.filters_filled()
        statements: list[str] = []
        assert store._db is not None
        store._db.set_trace_callback(statements.append)  # the read connection's SQL, as run
        again, created = await store.resolve(Person("x", "1", handle="ana", name="Ana"), T0)
        store._db.set_trace_callback(None)
        assert (again.id, again.name, created) == (ana.id, "Ana", False)
        assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1
        assert await store.get_follower(ana.id) == again  # cached by that read


async def test_written_plugin_data_refreshes_the_cache_but_is_not_added_to_it(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "kv.db") as store:
        assert await store.kv_get("p", "read-first") is None
        assert await store.kv_get("p", "read-first") is None  # read again: cached as absent
        store.kv_set("p", "read-first", "1")
        store.kv_set("p", "written-only", "2")
        await store.flush()
        assert store._kv_cache.peek(("p", "read-first")) == "1"  # a cached key is kept current
        assert store._kv_cache.peek(("p", "written-only"), None) is None  # a written one is not added
        assert await store.kv_get("p", "read-first") == "1"
        assert await store.kv_get("p", "written-only") == "2"  # read back from the database
