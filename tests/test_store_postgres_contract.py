"""The store contract, run on both backends: SQLite (the default) and PostgreSQL.

Every test here uses only the Store protocol, plus the rows really committed, read through
a connection of its own (``Backend.rows``), so the same test passes on both stores or
shows where they differ. SQLite-only behaviour (file modes, WAL, page zeroing) stays in
tests/test_store.py; PostgreSQL-only behaviour (claims across processes, brands, restarts)
in tests/test_store_postgres.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

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
from brandbot.store.base import Store
from brandbot.store.postgres import PostgresStore
from brandbot.store.sqlite import SqliteStore
from tests.servers.postgres import PostgresServer

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Backend:
    """One database and how to open stores on it and read what is committed."""

    name: str
    make: Callable[..., Any]  # (**store options) -> a new, unopened store on the database
    rows: Callable[[str], Awaitable[list[tuple[Any, ...]]]]  # committed rows, own connection
    tables: Callable[[], Awaitable[dict[str, list[dict[str, Any]]]]]  # every row of every table
    folder: Path | None = None  # where the database's files are (SQLite), if they are local


def _sqlite_backend(path: Path) -> Backend:
    def rows_now(sql: str) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(path)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    async def rows(sql: str) -> list[tuple[Any, ...]]:
        return rows_now(sql)

    async def tables() -> dict[str, list[dict[str, Any]]]:
        conn = sqlite3.connect(path)
        try:
            names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            found = {}
            for table in names:
                cursor = conn.execute(f'SELECT * FROM "{table}"')
                columns = [d[0] for d in cursor.description]
                found[table] = [dict(zip(columns, row)) for row in cursor.fetchall()]
            return found
        finally:
            conn.close()

    return Backend("sqlite", lambda **kw: SqliteStore(path, **kw), rows, tables, path.parent)


def _postgres_backend(url: str) -> Backend:
    async def rows(sql: str) -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(url)
        try:
            return [tuple(r) for r in await conn.fetch(sql)]
        finally:
            await conn.close()

    async def tables() -> dict[str, list[dict[str, Any]]]:
        conn = await asyncpg.connect(url)
        try:
            names = [r[0] for r in await conn.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
            )]  # fmt: skip
            return {t: [dict(r) for r in await conn.fetch(f'SELECT * FROM "{t}"')] for t in names}
        finally:
            await conn.close()

    return Backend("postgres", lambda **kw: PostgresStore(url, **kw), rows, tables)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return _sqlite_backend(tmp_path / "brandbot.db")
    server: PostgresServer = request.getfixturevalue("postgres_server")
    if not server.running:
        server.start()
    return _postgres_backend(await server.create_database())


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Any]:
    """A store that commits only when told to (the delay is far longer than any test)."""
    s = backend.make(commit_delay=3600)
    await s.open()
    yield s
    await s.close()


async def wait_for_rows(backend: Backend, sql: str, expected: list[tuple[Any, ...]]) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if await backend.rows(sql) == expected:
            return True
        await asyncio.sleep(0.02)
    return await backend.rows(sql) == expected


def interaction(follower_id: int, text: str = "hi", when: datetime = T0, **kw: Any) -> Interaction:
    return Interaction(
        follower_id=follower_id, time=when, direction=kw.pop("direction", Direction.IN),
        kind=kw.pop("kind", "mention"), network=kw.pop("network", "telegram"),
        conversation_id=kw.pop("conversation_id", "chat-1"), text=text, **kw,
    )  # fmt: skip


def outbox(store: Store, follower_id: int = 0, **kw: Any) -> OutboxEntry:
    return OutboxEntry(
        id=store.next_outbox_id(), network=kw.pop("network", "telegram"),
        conversation_id=kw.pop("conversation_id", "chat-1"),
        conversation_private=kw.pop("conversation_private", False),
        text=kw.pop("text", "thanks!"), created=T0, next_try=T0, follower_id=follower_id, **kw,
    )  # fmt: skip


def assert_files_do_not_contain(folder: Path, secrets: list[str]) -> None:
    for file in folder.iterdir():
        data = file.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, f"{file.name} still holds {secret!r}"


# --- write-behind ------------------------------------------------------------------------------


async def test_buffered_writes_are_readable_before_commit_and_durable_after_flush(
    store: Any, backend: Backend
) -> None:
    follower, created = await store.resolve(Person("telegram", "42", "ana", "Ana"), T0)
    store.add_interaction(interaction(follower.id, "hello"))
    store.mark_processed("telegram", "ev-1", T0)
    store.set_cursor("telegram:offset", "100")
    store.mark_once("welcome:f1:", T0)
    store.kv_set("loyalty", "badge", "gold", follower.id)
    store.put_job(Job("remind:1", T0 + timedelta(days=1), "events"))

    assert created
    assert await store.get_follower(follower.id) == follower
    assert [i.text for i in await store.recent_interactions(follower.id)] == ["hello"]
    assert await store.is_processed("telegram", "ev-1")
    assert not await store.is_processed("telegram", "ev-2")
    assert await store.get_cursor("telegram:offset") == "100"
    assert await store.once_used("welcome:f1:")
    assert await store.kv_get("loyalty", "badge") == "gold"
    assert [j.name for j in await store.all_jobs()] == ["remind:1"]
    assert await backend.rows("SELECT COUNT(*) FROM followers") == [(0,)]  # nothing committed

    await store.flush()
    assert await backend.rows("SELECT id, name FROM followers") == [(follower.id, "Ana")]
    assert await backend.rows("SELECT text FROM interactions") == [("hello",)]
    assert await backend.rows("SELECT event_id FROM processed") == [("ev-1",)]
    assert await backend.rows("SELECT value FROM cursors") == [("100",)]
    assert await backend.rows("SELECT value, follower_id FROM plugin_data") == [
        ("gold", follower.id)
    ]
    assert await backend.rows("SELECT name FROM jobs") == [("remind:1",)]


async def test_the_flusher_commits_on_its_own_within_the_delay(backend: Backend) -> None:
    async with backend.make(commit_delay=0.05) as s:
        s.set_cursor("a", "1")
        assert await wait_for_rows(backend, "SELECT value FROM cursors", [("1",)])
        s.set_cursor("a", "2")
        s.set_cursor("b", "3")
        assert await wait_for_rows(
            backend, "SELECT key, value FROM cursors ORDER BY key", [("a", "2"), ("b", "3")]
        )


async def test_a_full_batch_is_committed_without_waiting_for_the_delay(backend: Backend) -> None:
    async with backend.make(commit_delay=3600, max_batch=10) as s:
        for i in range(10):
            s.mark_processed("x", f"e{i}", T0)
        assert await wait_for_rows(backend, "SELECT COUNT(*) FROM processed", [(10,)])


async def test_a_reply_waits_for_its_rows_and_no_longer(backend: Backend) -> None:
    async with backend.make(commit_delay=3600) as s:
        s.set_cursor("k", "v")
        await asyncio.wait_for(s.ensure_committed(s.write_seq()), 30)
        assert await backend.rows("SELECT value FROM cursors") == [("v",)]
        assert s.backlog() == 0


async def test_close_commits_what_is_buffered_and_is_idempotent(backend: Backend) -> None:
    s = backend.make(commit_delay=3600)
    await s.open()
    s.kv_set("ns", "k", "v")
    await s.close()
    await s.close()
    assert await backend.rows("SELECT value FROM plugin_data") == [("v",)]
    with pytest.raises(StoreError, match="closed"):
        s.kv_set("ns", "k", "w")


async def test_a_row_that_can_never_be_stored_does_not_block_the_others(
    store: Any, backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    store.set_cursor("good", "1")
    store.put_follower(FollowerRecord(id=7, name="x", first_seen=T0, last_seen=T0, points=2**70))
    store.kv_set("ns", "also-good", "3")
    with caplog.at_level(logging.ERROR, logger="brandbot.store"):
        await store.flush()
    assert await backend.rows("SELECT key FROM cursors") == [("good",)]
    assert await backend.rows("SELECT key FROM plugin_data") == [("also-good",)]
    assert await backend.rows("SELECT COUNT(*) FROM followers") == [(0,)]
    assert "dropped a followers row" in caplog.text


async def test_naive_datetimes_are_refused_at_the_call(store: Any) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        store.mark_processed("x", "e", datetime(2026, 1, 1))


# --- restarts ------------------------------------------------------------------------------


async def test_everything_survives_a_restart(backend: Backend) -> None:
    ana = Person("telegram", "42", "ana", "Ana")
    async with backend.make(commit_delay=3600) as s:
        follower, _ = await s.resolve(ana, T0)
        s.add_interaction(interaction(follower.id, "first"))
        s.set_cursor("telegram:offset", "77")
        s.kv_set("giveaway", "entries", "[1, 2]")
        s.put_job(Job("giveaway:close:1", T0 + timedelta(days=1), "giveaway", '{"id": 1}'))
        s.mark_once("welcome:f1:", T0)
        s.mark_processed("telegram", "ev-9", T0)
        pending = outbox(s, follower.id, text="still to send", post_ids=("p1", "p2"))
        sent = dataclasses.replace(outbox(s, follower.id), status=OutboxStatus.SENT)
        s.put_outbox(pending)
        s.put_outbox(sent)
    async with backend.make() as s:
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


async def test_every_follower_field_round_trips(backend: Backend) -> None:
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
        else:  # a new kind of field: the stores' codecs need to learn it
            pytest.fail(f"FollowerRecord.{field.name} has type {field.type}; teach the stores")
    record = FollowerRecord(**values)
    async with backend.make() as s:
        s.put_follower(record)
    async with backend.make() as s:
        assert await s.get_follower(5) == record
        assert (await s.get_follower(5)).last_seen.tzinfo is not None


async def test_ids_are_never_reused_after_a_restart(backend: Backend) -> None:
    async with backend.make() as s:
        await s.resolve(Person("x", "1"), T0)
        newest, _ = await s.resolve(Person("x", "2"), T0)
        s.add_interaction(interaction(newest.id))
        entry = outbox(s, newest.id)
        s.put_outbox(entry)
        assert await s.forget_follower(newest.id, T0)
    async with backend.make() as s:
        third, created = await s.resolve(Person("x", "3"), T0)
        assert created and third.id > newest.id
        assert s.next_outbox_id() > entry.id
        s.add_interaction(interaction(third.id))
        (row,) = await s.recent_interactions(third.id)
        assert row.id > 1


# --- followers and identities ----------------------------------------------------------------


async def test_resolve_is_idempotent_and_follows_handle_changes(store: Any) -> None:
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


async def test_resolve_after_a_restart_and_two_resolves_at_once(backend: Backend) -> None:
    people = [Person("x", str(i), f"p{i}") for i in range(5)]
    async with backend.make() as s:
        created = [await s.resolve(p, T0) for p in people]
    async with backend.make() as s:
        for person, (follower, _) in zip(people, created):
            assert await s.resolve(person, T0) == (follower, False)
        await s.flush()
        # Two resolves of one new person at once still make one follower.
        newcomer = Person("x", "new")
        (a, a_new), (b, b_new) = await asyncio.gather(
            s.resolve(newcomer, T0), s.resolve(newcomer, T0)
        )
        assert a == b and [a_new, b_new].count(True) == 1
        assert await s.count_followers() == 6


async def test_merge_moves_history_and_deletes_the_merged_follower(
    store: Any, backend: Backend
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
    assert await backend.rows("SELECT follower_id FROM plugin_data") == [(keep.id,)]
    assert await backend.rows("SELECT kept_id, merged_id FROM merges") == [(keep.id, gone.id)]
    assert await backend.rows(f"SELECT COUNT(*) FROM followers WHERE id = {gone.id}") == [(0,)]
    # A handler that still holds the old id writes to the survivor, not to a ghost.
    store.add_interaction(interaction(gone.id, "late"))
    store.put_follower(gone)
    await store.flush()
    assert [i.text for i in await store.recent_interactions(keep.id, limit=1)] == ["late"]
    assert await store.count_followers() == 1


async def test_merge_refuses_nonsense(store: Any) -> None:
    a, _ = await store.resolve(Person("x", "a"), T0)
    with pytest.raises(ValueError, match="itself"):
        await store.merge_followers(a.id, a.id, a)
    with pytest.raises(ValueError, match="surviving id"):
        await store.merge_followers(a.id, 99999, dataclasses.replace(a, id=99999))
    with pytest.raises(StoreError, match="no follower with id 99999"):
        await store.merge_followers(a.id, 99999, a)
    assert await store.get_follower(a.id) == a


async def test_unlink_gives_an_identity_its_own_follower(store: Any) -> None:
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


async def test_forget_leaves_no_row_naming_the_person(backend: Backend) -> None:
    secrets = ["tg-user-98765", "anasecret_handle", "Ana Secretname", "x-user-55555", "ana_on_x"]
    async with backend.make(commit_delay=0.01) as s:
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
        s.put_outbox(outbox(s, 0, text=f"staff: {secrets[1]} asked for a human"))
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
        # Late writes from a handler that still holds the person are dropped or redacted.
        s.put_follower(ana)
        s.add_interaction(interaction(ana.id, f"late {secrets[2]}"))
        s.add_interaction(interaction(bob.id, f"bob quotes {secrets[2]}"))
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
        if backend.folder is not None:  # SQLite zeroes freed pages and empties the WAL
            assert_files_do_not_contain(backend.folder, secrets)

    for table, rows in (await backend.tables()).items():
        for record in rows:
            text = " ".join(map(str, record.values()))
            for secret in secrets:
                assert secret not in text, f"{table} still names the person: {record}"
            for gone in (ana.id, alias.id):
                for column in ("follower_id", "kept_id", "merged_id"):
                    assert record.get(column) != gone, f"{table}.{column} = {gone}: {record}"
                if table == "followers":
                    assert record["id"] != gone
                assert not re.search(rf":f{gone}:", f":{text}:".replace(" ", ":")), (
                    f"{table} has a key naming them: {record}"
                )
    # Bob is untouched.
    assert await backend.rows("SELECT name FROM followers") == [("Bob",)]
    assert sorted(await backend.rows("SELECT text FROM interactions")) == [
        ("bob quotes [forgotten]",), ("bob speaks",),
    ]  # fmt: skip
    assert await backend.rows("SELECT text FROM outbox") == [("hi bob",)]
    assert await backend.rows("SELECT key FROM once_keys") == [(f"welcome:f{bob.id}:post-1",)]
    if backend.folder is not None:
        assert_files_do_not_contain(backend.folder, secrets)


async def test_export_holds_everything_about_the_person(store: Any) -> None:
    ana, _ = await store.resolve(Person("telegram", "t1", "ana", "Ana"), T0)
    bob, _ = await store.resolve(Person("telegram", "t2", "bob", "Bob"), T0)
    store.add_interaction(interaction(ana.id, "mine"))
    store.add_interaction(interaction(bob.id, "not mine"))
    entry = outbox(store, ana.id)
    store.put_outbox(entry)
    untied = outbox(store, 0, text="staff: Ana asked for a human")
    store.put_outbox(untied)
    store.kv_set("loyalty", "badge", "gold", ana.id)
    store.kv_set("loyalty", "other", "x", bob.id)
    store.mark_once(f"welcome:f{ana.id}:post-1", T0)

    export = await store.export_follower(ana.id)

    assert export is not None
    assert export.follower == ana
    assert export.identities == (Identity(ana.id, "telegram", "t1", "ana", "Ana"),)
    assert [i.text for i in export.interactions] == ["mine"]
    assert export.outbox == (entry, untied)
    assert export.plugin_data == (("loyalty", "badge", "gold"),)
    assert [(t, r["key"]) for t, r in export.other_rows] == [
        ("once_keys", f"welcome:f{ana.id}:post-1")
    ]
    assert await store.export_follower(99999) is None


# --- queries -------------------------------------------------------------------------------------


async def test_list_followers_filters_and_orders(store: Any) -> None:
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
    for f, u in zip(made, updates):
        store.put_follower(dataclasses.replace(f, **u))

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


async def test_recent_interactions_merge_buffered_and_committed_rows(store: Any) -> None:
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


async def test_pending_outbox_includes_buffered_rows_and_excludes_sent_ones(store: Any) -> None:
    committed_pending = outbox(store, text="a")
    committed_to_be_sent = outbox(store, text="b")
    store.put_outbox(committed_pending)
    store.put_outbox(committed_to_be_sent)
    await store.flush()
    store.put_outbox(
        dataclasses.replace(committed_to_be_sent, status=OutboxStatus.SENT, post_ids=("p1",))
    )
    buffered = outbox(store, text="c", network="x")
    refused = dataclasses.replace(
        outbox(store, text="d"), status=OutboxStatus.REFUSED, reason="opted out"
    )
    store.put_outbox(buffered)
    store.put_outbox(refused)

    assert await store.pending_outbox() == [committed_pending, buffered]
    assert await store.pending_outbox(limit=1) == [committed_pending]
    assert await store.pending_outbox(network="x") == [buffered]
    assert await store.pending_outbox(after_id=committed_pending.id) == [buffered]
    assert await store.outbox_counts() == {"pending": 2, "sent": 1, "refused": 1, "failed": 0}
    assert await store.pending_outbox() == [committed_pending, buffered]


async def test_prune_text_and_processed_ids(store: Any) -> None:
    follower, _ = await store.resolve(Person("x", "1"), T0)
    store.add_interaction(interaction(follower.id, "ancient", when=T0 - timedelta(days=100)))
    store.add_interaction(interaction(follower.id, "recent", when=T0))
    store.mark_processed("x", "old", T0 - timedelta(days=100))
    store.mark_processed("x", "new", T0)
    old_reply = dataclasses.replace(outbox(store, follower.id, text="old"), status=OutboxStatus.SENT)
    store.put_outbox(dataclasses.replace(old_reply, created=T0 - timedelta(days=100)))

    assert await store.prune_text(T0 - timedelta(days=30)) == 1
    assert await store.prune_text(T0 - timedelta(days=30)) == 0
    assert await store.prune_outbox_text(T0 - timedelta(days=30)) == 1
    assert [i.text for i in await store.all_interactions(follower.id)] == ["", "recent"]
    assert await store.prune_processed(T0 - timedelta(days=30)) == 1
    assert not await store.is_processed("x", "old")
    assert await store.is_processed("x", "new")


async def test_jobs_due_and_deleted(store: Any, backend: Backend) -> None:
    store.put_job(Job("b", T0 + timedelta(hours=2), "p"))
    store.put_job(Job("a", T0 + timedelta(hours=1), "p"))
    store.put_job(Job("c", T0 + timedelta(days=1), "p"))
    assert [j.name for j in await store.due_jobs(T0 + timedelta(hours=3))] == ["a", "b"]
    await store.flush()
    store.delete_job("a")
    store.put_job(Job("b", T0 + timedelta(days=2), "p", '{"moved": true}'))
    assert [j.name for j in await store.all_jobs()] == ["c", "b"]
    await store.flush()
    assert await backend.rows("SELECT name, payload FROM jobs ORDER BY name") == [
        ("b", '{"moved": true}'),
        ("c", "{}"),
    ]
    # A rescheduled job comes due again (a claim does not outlive its rescheduling).
    assert [j.name for j in await store.due_jobs(T0 + timedelta(days=3))] == ["c", "b"]


async def test_kv_items_see_buffered_writes_and_deletes(store: Any) -> None:
    store.kv_set("ns", "a:1", "x")
    store.kv_set("ns", "a:2", "y")
    store.kv_set("ns", "b:1", "z")
    store.kv_set("ns", "é", "accent")
    store.kv_set("other", "a:3", "w")
    await store.flush()
    store.kv_delete("ns", "a:1")
    store.kv_set("ns", "a:0", "v")
    assert await store.kv_items("ns", "a:") == [("a:0", "v"), ("a:2", "y")]
    assert await store.kv_items("ns") == [("a:0", "v"), ("a:2", "y"), ("b:1", "z"), ("é", "accent")]
    assert await store.kv_get("ns", "a:1") is None
    with pytest.raises(TypeError, match=r"json\.dumps"):
        store.kv_set("ns", "n", 3)
