"""The SQLite store: migrations, write-behind, restarts, identities, privacy, queries."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
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
    FollowerQuery,
    FollowerRecord,
    Identity,
    Interaction,
    Job,
    OutboxEntry,
    OutboxStatus,
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


async def test_buffered_writes_are_readable_before_commit_and_durable_after_flush(
    store: SqliteStore, db_path: Path
) -> None:
    follower, created = await store.resolve(Person("telegram", "42", "ana", "Ana"), T0)
    store.add_interaction(interaction(follower.id, "hello"))
    store.mark_processed("telegram", "ev-1", T0)
    store.set_cursor("telegram:offset", "100")
    store.mark_once("welcome:f1:", T0)
    store.kv_set("loyalty", "badge", "gold", follower.id)
    store.put_job(Job("remind:1", T0, "events"))

    assert created
    assert await store.get_follower(follower.id) == follower
    assert [i.text for i in await store.recent_interactions(follower.id)] == ["hello"]
    assert await store.is_processed("telegram", "ev-1")
    assert await store.get_cursor("telegram:offset") == "100"
    assert await store.once_used("welcome:f1:")
    assert await store.kv_get("loyalty", "badge") == "gold"
    assert [j.name for j in await store.all_jobs()] == ["remind:1"]
    assert db_rows(db_path, "SELECT COUNT(*) FROM followers") == [(0,)]  # nothing committed yet

    await store.flush()
    assert db_rows(db_path, "SELECT id, name FROM followers") == [(follower.id, "Ana")]
    assert db_rows(db_path, "SELECT text FROM interactions") == [("hello",)]
    assert db_rows(db_path, "SELECT event_id FROM processed") == [("ev-1",)]
    assert db_rows(db_path, "SELECT value FROM cursors") == [("100",)]
    assert db_rows(db_path, "SELECT value, follower_id FROM plugin_data") == [("gold", follower.id)]
    assert db_rows(db_path, "SELECT name FROM jobs") == [("remind:1",)]


async def test_the_flusher_commits_on_its_own_within_the_delay(db_path: Path) -> None:
    async with SqliteStore(db_path, commit_delay=0.05) as s:
        s.set_cursor("a", "1")
        assert await wait_until(lambda: db_rows(db_path, "SELECT value FROM cursors") == [("1",)])
        s.set_cursor("a", "2")
        s.set_cursor("b", "3")
        assert await wait_until(
            lambda: (
                db_rows(db_path, "SELECT key, value FROM cursors ORDER BY key")
                == [("a", "2"), ("b", "3")]
            )
        )


async def test_a_full_batch_is_committed_without_waiting_for_the_delay(db_path: Path) -> None:
    async with SqliteStore(db_path, commit_delay=3600, max_batch=10) as s:
        for i in range(10):
            s.mark_processed("x", f"e{i}", T0)
        assert await wait_until(
            lambda: db_rows(db_path, "SELECT COUNT(*) FROM processed") == [(10,)]
        )


async def test_close_commits_what_is_buffered_and_is_idempotent(db_path: Path) -> None:
    s = SqliteStore(db_path, commit_delay=3600)
    await s.open()
    s.kv_set("ns", "k", "v")
    await s.close()
    await s.close()
    assert db_rows(db_path, "SELECT value FROM plugin_data") == [("v",)]
    with pytest.raises(StoreError, match="closed"):
        s.kv_set("ns", "k", "w")


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


async def test_naive_datetimes_are_refused_at_the_call(store: SqliteStore) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        store.mark_processed("x", "e", datetime(2026, 1, 1))


# --- restarts ------------------------------------------------------------------------------


async def test_everything_survives_a_restart(db_path: Path) -> None:
    ana = Person("telegram", "42", "ana", "Ana")
    async with SqliteStore(db_path, commit_delay=3600) as s:
        follower, _ = await s.resolve(ana, T0)
        s.add_interaction(interaction(follower.id, "first"))
        s.set_cursor("telegram:offset", "77")
        s.kv_set("giveaway", "entries", "[1, 2]")
        s.put_job(Job("giveaway:close:1", T0 + timedelta(days=1), "giveaway", '{"id": 1}'))
        s.mark_once("welcome:f1:", T0)
        s.mark_processed("telegram", "ev-9", T0)
        pending = outbox(s, follower.id, text="still to send")
        sent = dataclasses.replace(outbox(s, follower.id), status=OutboxStatus.SENT)
        s.put_outbox(pending)
        s.put_outbox(sent)
    async with SqliteStore(db_path) as s:
        again, created = await s.resolve(ana, T0 + timedelta(hours=1))
        assert (again, created) == (follower, False)
        assert [i.text for i in await s.all_interactions(follower.id)] == ["first"]
        assert await s.get_cursor("telegram:offset") == "77"
        assert await s.kv_get("giveaway", "entries") == "[1, 2]"
        assert await s.due_jobs(T0 + timedelta(days=2)) == [
            Job("giveaway:close:1", T0 + timedelta(days=1), "giveaway", '{"id": 1}')
        ]
        assert await s.once_used("welcome:f1:")
        assert await s.is_processed("telegram", "ev-9")
        assert not await s.is_processed("telegram", "ev-10")
        assert await s.pending_outbox() == [pending]
        assert s.next_outbox_id() > sent.id


async def test_every_follower_field_round_trips(db_path: Path) -> None:
    values: dict[str, Any] = {
        "id": 5, "name": "Zoë", "first_seen": T0, "last_seen": T0 + timedelta(seconds=1.5),
        "tags": frozenset({"vip", "beta"}), "opted_out": True,
        "unreachable": frozenset({"x"}),
    }  # fmt: skip
    for field in dataclasses.fields(FollowerRecord):
        if field.name in values:
            continue
        if field.type in ("int", int):
            values[field.name] = 3 + len(values)
        elif field.type in ("str", str):
            values[field.name] = f"{field.name}-value"
        else:  # a new kind of field: the store's codec needs to learn it
            pytest.fail(f"FollowerRecord.{field.name} has type {field.type}; teach the store")
    record = FollowerRecord(**values)
    async with SqliteStore(db_path) as s:
        s.put_follower(record)
    async with SqliteStore(db_path) as s:
        assert await s.get_follower(5) == record
        assert (await s.get_follower(5)).last_seen.tzinfo is not None  # type: ignore[union-attr]


async def test_ids_are_never_reused_after_a_restart(db_path: Path) -> None:
    async with SqliteStore(db_path) as s:
        await s.resolve(Person("x", "1"), T0)
        newest, _ = await s.resolve(Person("x", "2"), T0)
        s.add_interaction(interaction(newest.id))
        entry = outbox(s, newest.id)
        s.put_outbox(entry)
        assert await s.forget_follower(newest.id, T0)
    async with SqliteStore(db_path) as s:
        third, created = await s.resolve(Person("x", "3"), T0)
        assert created and third.id > newest.id
        assert s.next_outbox_id() > entry.id
        s.add_interaction(interaction(third.id))
        (row,) = await s.recent_interactions(third.id)
        assert row.id > 1


async def test_an_in_memory_store_works(tmp_path: Path) -> None:
    async with SqliteStore(":memory:") as s:
        _, created = await s.resolve(Person("console", "ana"), T0)
        await s.flush()
        assert created and await s.count_followers() == 1


# --- followers and identities ----------------------------------------------------------------


async def test_resolve_is_idempotent_and_follows_handle_changes(store: SqliteStore) -> None:
    first, created = await store.resolve(Person("x", "1001", "ana", "Ana"), T0)
    again, created_again = await store.resolve(Person("x", "1001", "ana", "Ana"), T0)
    assert created and not created_again and again == first
    assert first.name == "Ana" and first.first_seen == first.last_seen == T0

    renamed, _ = await store.resolve(Person("x", "1001", "AnaBanana", ""), T0)
    assert renamed.id == first.id
    assert await store.identities(first.id) == [Identity(first.id, "x", "1001", "AnaBanana", "Ana")]
    assert await store.find_follower("x", "@anabanana") == first
    assert await store.find_follower("x", "1001") == first
    assert await store.find_follower("x", "ana") is None
    assert await store.find_follower("telegram", "1001") is None


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


async def test_merge_moves_history_and_deletes_the_merged_follower(
    store: SqliteStore, db_path: Path
) -> None:
    keep, _ = await store.resolve(Person("telegram", "t1", "ana"), T0)
    gone, _ = await store.resolve(Person("x", "x1", "ana_x"), T0)
    store.add_interaction(interaction(keep.id, "on telegram"))
    store.add_interaction(interaction(gone.id, "on x", network="x"))
    store.put_outbox(outbox(store, gone.id, network="x"))
    store.kv_set("loyalty", "x1-badge", "silver", gone.id)
    merged = dataclasses.replace(keep, points=30, name="Ana")

    await store.merge_followers(keep.id, gone.id, merged)

    assert await store.get_follower(gone.id) is None
    assert await store.get_follower(keep.id) == merged
    assert {i.network for i in await store.identities(keep.id)} == {"telegram", "x"}
    assert [i.text for i in await store.all_interactions(keep.id)] == ["on telegram", "on x"]
    assert len(await store.outbox_for(keep.id)) == 1
    assert (await store.resolve(Person("x", "x1", "ana_x"), T0)) == (merged, False)
    assert db_rows(db_path, "SELECT follower_id FROM plugin_data") == [(keep.id,)]
    assert db_rows(db_path, "SELECT kept_id, merged_id FROM merges") == [(keep.id, gone.id)]
    assert db_rows(db_path, "SELECT COUNT(*) FROM followers WHERE id = ?", (gone.id,)) == [(0,)]
    # A handler that still holds the old id writes to the survivor, not to a ghost.
    store.add_interaction(interaction(gone.id, "late"))
    store.put_follower(gone)
    await store.flush()
    assert [i.text for i in await store.recent_interactions(keep.id, limit=1)] == ["late"]
    assert await store.count_followers() == 1


async def test_merge_refuses_nonsense(store: SqliteStore) -> None:
    a, _ = await store.resolve(Person("x", "a"), T0)
    with pytest.raises(ValueError, match="itself"):
        await store.merge_followers(a.id, a.id, a)
    with pytest.raises(ValueError, match="surviving id"):
        await store.merge_followers(a.id, 99, dataclasses.replace(a, id=99))
    with pytest.raises(StoreError, match="no follower with id 99"):
        await store.merge_followers(a.id, 99, a)
    assert await store.get_follower(a.id) == a


async def test_unlink_gives_an_identity_its_own_follower(store: SqliteStore) -> None:
    ana, _ = await store.resolve(Person("telegram", "t1", "ana", "Ana"), T0)
    other, _ = await store.resolve(Person("x", "x1", "not_ana", "Bob"), T0)
    store.add_interaction(interaction(other.id, "bob's words", network="x"))
    await store.merge_followers(ana.id, other.id, ana)

    bob = await store.unlink_identity("x", "x1", T0 + timedelta(days=1))

    assert bob.id not in (ana.id, other.id) and bob.name == "Bob"
    assert bob.first_seen == T0 + timedelta(days=1)
    assert await store.identities(bob.id) == [Identity(bob.id, "x", "x1", "not_ana", "Bob")]
    assert [i.network for i in await store.identities(ana.id)] == ["telegram"]
    assert [i.text for i in await store.all_interactions(ana.id)] == ["bob's words"]
    assert await store.resolve(Person("x", "x1", "not_ana", "Bob"), T0) == (bob, False)
    with pytest.raises(StoreError, match="only identity"):
        await store.unlink_identity("x", "x1", T0)
    with pytest.raises(StoreError, match="no identity"):
        await store.unlink_identity("x", "nobody", T0)


# --- privacy ---------------------------------------------------------------------------------


async def test_forget_leaves_no_row_naming_the_person(db_path: Path) -> None:
    secrets = ["tg-user-98765", "anasecret_handle", "Ana Secretname", "x-user-55555", "ana_on_x"]
    async with SqliteStore(db_path, commit_delay=0.01) as s:
        ana, _ = await s.resolve(Person("telegram", secrets[0], secrets[1], secrets[2]), T0)
        alias, _ = await s.resolve(Person("x", secrets[3], secrets[4], ""), T0)
        bob, _ = await s.resolve(Person("telegram", "tg-bob", "bob", "Bob"), T0)
        for n in range(5):  # several row versions of different sizes, as a busy person makes
            ana = dataclasses.replace(ana, points=n, notes=f"{secrets[2]} likes tea" + "!" * n)
            s.put_follower(ana)
            await s.flush()
        s.add_interaction(interaction(ana.id, f"I am {secrets[2]}"))
        s.add_interaction(interaction(alias.id, "hello from x", network="x"))
        s.add_interaction(interaction(bob.id, "bob speaks"))
        s.put_outbox(outbox(s, ana.id, text=f"Hi {secrets[2]}"))
        s.put_outbox(outbox(s, 0, conversation_id=secrets[0], conversation_private=True))
        s.put_outbox(outbox(s, 0, recipient_id=secrets[0], text="no follower id on this one"))
        s.put_outbox(outbox(s, bob.id, text="hi bob"))
        s.kv_set("loyalty", "badge-ana", secrets[1], ana.id)
        s.kv_set("variants", f"welcome:f{ana.id}:", "2")
        s.kv_set("variants", f"welcome:f{bob.id}:", "1")
        s.mark_once(f"welcome:f{ana.id}:post-1", T0)
        s.mark_once(f"welcome:f{alias.id}:post-2", T0)
        s.mark_once(f"welcome:f{bob.id}:post-1", T0)
        s.put_job(Job(f"remind:f{ana.id}:1", T0, "events"))
        s.put_job(Job(f"remind:f{bob.id}:1", T0, "events"))
        s.mark_processed("telegram", "event-1", T0)
        await s.flush()
        await s.merge_followers(ana.id, alias.id, ana)

        assert await s.forget_follower(ana.id, T0 + timedelta(days=1))
        assert not await s.forget_follower(ana.id, T0)
        assert not await s.forget_follower(12345, T0)
        # Late writes from a handler that still holds the person are dropped.
        s.put_follower(ana)
        s.add_interaction(interaction(ana.id, f"late {secrets[2]}"))
        s.kv_set("loyalty", "late", secrets[1], ana.id)
        await s.flush()

        assert await s.get_follower(ana.id) is None
        assert await s.find_follower("telegram", secrets[0]) is None
        assert not await s.once_used(f"welcome:f{ana.id}:post-1")
        assert await s.once_used(f"welcome:f{bob.id}:post-1")
        assert [j.name for j in await s.all_jobs()] == [f"remind:f{bob.id}:1"]
        assert (await s.audit())[0] == (T0 + timedelta(days=1), "forgot a follower")
        again, created = await s.resolve(Person("telegram", secrets[0]), T0)
        assert created and again.id != ana.id
        assert await s.forget_follower(again.id, T0)
        # Nor do the bytes of the files (database and WAL) keep old copies of the rows.
        assert_files_do_not_contain(db_path.parent, secrets)

    conn = sqlite3.connect(db_path)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
        for row in conn.execute(f"SELECT * FROM {table}"):
            record = dict(zip(columns, row))
            text = " ".join(map(str, row))
            for secret in secrets:
                assert secret not in text, f"{table} still names the person: {record}"
            for gone in (ana.id, alias.id):
                for column in ("follower_id", "kept_id", "merged_id"):
                    assert record.get(column) != gone, f"{table}.{column} = {gone}: {record}"
                if table == "followers":
                    assert record["id"] != gone
                for value in row:
                    assert f":f{gone}:" not in f":{value}:", (
                        f"{table} has a key naming them: {record}"
                    )
    # Bob is untouched.
    assert conn.execute("SELECT name FROM followers").fetchall() == [("Bob",)]
    assert conn.execute("SELECT text FROM interactions").fetchall() == [("bob speaks",)]
    assert conn.execute("SELECT text FROM outbox").fetchall() == [("hi bob",)]
    assert conn.execute("SELECT key FROM once_keys").fetchall() == [(f"welcome:f{bob.id}:post-1",)]
    conn.close()
    assert_files_do_not_contain(db_path.parent, secrets)


async def test_export_holds_everything_about_the_person(store: SqliteStore) -> None:
    ana, _ = await store.resolve(Person("telegram", "t1", "ana", "Ana"), T0)
    bob, _ = await store.resolve(Person("telegram", "t2", "bob", "Bob"), T0)
    store.add_interaction(interaction(ana.id, "mine"))
    store.add_interaction(interaction(bob.id, "not mine"))
    entry = outbox(store, ana.id)
    store.put_outbox(entry)
    store.kv_set("loyalty", "badge", "gold", ana.id)
    store.kv_set("loyalty", "other", "x", bob.id)

    export = await store.export_follower(ana.id)

    assert export is not None
    assert export.follower == ana
    assert export.identities == (Identity(ana.id, "telegram", "t1", "ana", "Ana"),)
    assert [i.text for i in export.interactions] == ["mine"]
    assert export.outbox == (entry,)
    assert export.plugin_data == (("loyalty", "badge", "gold"),)
    assert await store.export_follower(999) is None


# --- queries -------------------------------------------------------------------------------------


async def test_list_followers_filters_and_orders(store: SqliteStore) -> None:
    def person(i: int, network: str = "telegram") -> Person:
        return Person(network, f"u{i}", name=["carla", "Ana", "bob", "Dan"][i])

    made = [
        (await store.resolve(person(i, "x" if i == 3 else "telegram"), T0))[0] for i in range(4)
    ]
    updates: list[dict[str, Any]] = [
        {"points": 10, "tier": "gold", "tags": frozenset({"vip"}), "interactions": 1},
        {"points": 30, "tier": "gold", "interactions": 5, "last_seen": T0 + timedelta(days=3)},
        {"points": 20, "tier": "silver", "tags": frozenset({"vip", "beta"}), "interactions": 9},
        {"points": 5, "tier": "", "interactions": 2, "first_seen": T0 - timedelta(days=9)},
    ]
    followers = [dataclasses.replace(f, **u) for f, u in zip(made, updates)]
    for f in followers:
        store.put_follower(f)

    async def names(**kw: Any) -> list[str]:
        return [f.name for f in await store.list_followers(FollowerQuery(**kw))]

    assert await names() == ["Ana", "bob", "carla", "Dan"]  # points, highest first
    assert await names(descending=False, limit=2) == ["Dan", "carla"]
    assert await names(limit=2, offset=1) == ["bob", "carla"]
    assert await names(order_by="name", descending=False) == ["Ana", "bob", "carla", "Dan"]
    assert await names(order_by="interactions") == ["bob", "Ana", "Dan", "carla"]
    assert (await names(order_by="first_seen", descending=False))[:1] == ["Dan"]
    assert (await names(order_by="last_seen"))[:1] == ["Ana"]
    assert await names(tier="gold") == ["Ana", "carla"]
    assert await names(tag="vip") == ["bob", "carla"]
    assert await names(network="x") == ["Dan"]
    assert await names(seen_since=T0 + timedelta(days=1)) == ["Ana"]
    assert await names(tier="gold", tag="vip") == ["carla"]
    with pytest.raises(ValueError, match="points, last_seen, first_seen, interactions, name"):
        await store.list_followers(FollowerQuery(order_by="karma"))
    assert await store.count_followers() == 4


async def test_recent_interactions_merge_buffered_and_committed_rows(store: SqliteStore) -> None:
    follower, _ = await store.resolve(Person("x", "1"), T0)
    for i in range(3):
        store.add_interaction(interaction(follower.id, f"old {i}"))
    await store.flush()
    for i in range(2):
        store.add_interaction(interaction(follower.id, f"new {i}"))
    recent = await store.recent_interactions(follower.id, limit=3)
    assert [i.text for i in recent] == ["new 1", "new 0", "old 2"]
    assert len({i.id for i in recent}) == 3 and all(i.id > 0 for i in recent)
    assert [i.text for i in await store.all_interactions(follower.id)] == [
        "old 0", "old 1", "old 2", "new 0", "new 1",
    ]  # fmt: skip


async def test_pending_outbox_includes_buffered_rows_and_excludes_sent_ones(
    store: SqliteStore,
) -> None:
    committed_pending = outbox(store, text="a")
    committed_to_be_sent = outbox(store, text="b")
    store.put_outbox(committed_pending)
    store.put_outbox(committed_to_be_sent)
    await store.flush()
    store.put_outbox(
        dataclasses.replace(committed_to_be_sent, status=OutboxStatus.SENT, post_ids=("p1",))
    )
    buffered = outbox(store, text="c")
    refused = dataclasses.replace(
        outbox(store, text="d"), status=OutboxStatus.REFUSED, reason="opted out"
    )
    store.put_outbox(buffered)
    store.put_outbox(refused)

    assert await store.pending_outbox() == [committed_pending, buffered]
    assert await store.pending_outbox(limit=1) == [committed_pending]
    assert await store.outbox_counts() == {"pending": 2, "sent": 1, "refused": 1, "failed": 0}
    assert await store.pending_outbox() == [committed_pending, buffered]


async def test_prune_text_and_processed_ids(store: SqliteStore) -> None:
    follower, _ = await store.resolve(Person("x", "1"), T0)
    store.add_interaction(interaction(follower.id, "ancient", when=T0 - timedelta(days=100)))
    store.add_interaction(interaction(follower.id, "recent", when=T0))
    store.mark_processed("x", "old", T0 - timedelta(days=100))
    store.mark_processed("x", "new", T0)

    assert await store.prune_text(T0 - timedelta(days=30)) == 1
    assert await store.prune_text(T0 - timedelta(days=30)) == 0
    assert [i.text for i in await store.all_interactions(follower.id)] == ["", "recent"]
    assert await store.prune_processed(T0 - timedelta(days=30)) == 1
    assert not await store.is_processed("x", "old")
    assert await store.is_processed("x", "new")


async def test_jobs_due_and_deleted(store: SqliteStore, db_path: Path) -> None:
    store.put_job(Job("b", T0 + timedelta(hours=2), "p"))
    store.put_job(Job("a", T0 + timedelta(hours=1), "p"))
    store.put_job(Job("c", T0 + timedelta(days=1), "p"))
    assert [j.name for j in await store.due_jobs(T0 + timedelta(hours=3))] == ["a", "b"]
    await store.flush()
    store.delete_job("a")
    store.put_job(Job("b", T0 + timedelta(days=2), "p", '{"moved": true}'))
    assert [j.name for j in await store.all_jobs()] == ["c", "b"]
    await store.flush()
    assert db_rows(db_path, "SELECT name, payload FROM jobs ORDER BY name") == [
        ("b", '{"moved": true}'),
        ("c", "{}"),
    ]


async def test_kv_items_see_buffered_writes_and_deletes(store: SqliteStore) -> None:
    store.kv_set("ns", "a:1", "x")
    store.kv_set("ns", "a:2", "y")
    store.kv_set("ns", "b:1", "z")
    store.kv_set("other", "a:3", "w")
    await store.flush()
    store.kv_delete("ns", "a:1")
    store.kv_set("ns", "a:0", "v")
    assert await store.kv_items("ns", "a:") == [("a:0", "v"), ("a:2", "y")]
    assert await store.kv_items("ns") == [("a:0", "v"), ("a:2", "y"), ("b:1", "z")]
    assert await store.kv_get("ns", "a:1") is None


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
