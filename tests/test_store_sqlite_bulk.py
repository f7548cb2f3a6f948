"""The SQLite store's one-statement commit on its writer thread (brandbot/store/sqlite/bulk.py).

The same batch written through the JSON form and through ``executemany`` must leave the
same rows with the same types; reads must see a batch while the thread commits it; a
commit that fails or is cancelled in flight must neither lose nor settle twice.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brandbot.core.errors import StoreError
from brandbot.core.events import Person
from brandbot.core.records import FollowerRecord
from brandbot.store.migrations import MIGRATIONS
from brandbot.store.sqlite import SqliteStore, writer
from brandbot.store.sqlite.batch import _BATCH_ORDER, _Batch, commit_batch
from brandbot.store.sqlite.bulk import BulkStatement, Unencodable, bulk_form, unsupported_reason

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
_BULK = BulkStatement([sql for _, sql in _BATCH_ORDER])
_TABLES = ("followers", "identities", "interactions", "processed", "outbox", "cursors",
           "once_keys", "plugin_data", "jobs")  # fmt: skip


def _schema_db(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL").fetchall()
    db.execute("PRAGMA foreign_keys = ON").fetchall()
    for step in MIGRATIONS:
        db.executescript(step.sql)
    return db


def _dump(db: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every batch table, each value with its SQLite type."""
    found = {}
    for table in _TABLES:
        columns = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
        select = ", ".join(f"{c}, typeof({c})" for c in columns)
        found[table] = sorted(db.execute(f"SELECT {select} FROM {table}").fetchall(), key=repr)
    return found


@pytest.fixture
def twin(tmp_path: Path) -> Iterator[tuple[sqlite3.Connection, sqlite3.Connection]]:
    """Two fresh databases: one written in the JSON form, one with executemany."""
    bulk_db, plain_db = _schema_db(tmp_path / "bulk.db"), _schema_db(tmp_path / "plain.db")
    _BULK.install(bulk_db)
    yield bulk_db, plain_db
    bulk_db.close()
    plain_db.close()


def _write_both(
    twin: tuple[sqlite3.Connection, sqlite3.Connection], statements: list[Any]
) -> None:
    bulk_db, plain_db = twin
    batch = _Batch([s for s in statements if s[2]], 1)
    try:
        bulk = (_BULK.insert, _BULK.parameters(batch.statements))
    except Unencodable:
        bulk = None
    commit_batch(bulk_db, batch, bulk, False)
    commit_batch(plain_db, batch, None, False)


_ints = st.integers(-(2**63), 2**63 - 1)
_text = st.text(max_size=30)  # every code point but lone surrogates (UTF-8 refuses those)
# What a column may be handed: JSON's kinds, and what JSON cannot carry exactly.
_any = st.one_of(_ints, _text, st.none(), st.booleans(), st.floats(allow_nan=False),
                 st.integers(2**63, 2**80), st.just("nul\x00inside"))  # fmt: skip


def _rows(width: int, values: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    return st.lists(st.tuples(*[values] * width), max_size=4)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_a_batch_leaves_the_same_rows_and_types_as_executemany(
    twin: tuple[sqlite3.Connection, sqlite3.Connection], data: st.DataObject
) -> None:
    kinds = data.draw(st.sampled_from(["typed", "anything"]))
    statements = []
    for table, sql in _BATCH_ORDER:
        width = sql.count("?")
        if kinds == "typed":
            values: st.SearchStrategy[Any] = st.one_of(_ints, _text, st.booleans())
        else:
            values = _any
        statements.append((table, sql, data.draw(_rows(width, values))))
    _write_both(twin, statements)
    assert _dump(twin[0]) == _dump(twin[1])


def test_every_column_type_round_trips_exactly(
    twin: tuple[sqlite3.Connection, sqlite3.Connection],
) -> None:
    text = "é 日本 😀 'quote' \"double\" back\\slash \n\t\x01 [1,2] {\"k\":1}"
    follower = (2**63 - 1, text, "2026-03-01T12:00:00.000000+00:00", "t", -(2**63), 0, 1, True,
                False, 12345678901234567, "", 0, "", "", 7, '["a"]', "", 1, "[]")  # fmt: skip
    statements = [
        ("followers", _BATCH_ORDER[0][1], [follower]),
        ("identities", _BATCH_ORDER[1][1], [("x", "007", 2**63 - 1, "@h", "h", text)]),
        ("cursors", _BATCH_ORDER[5][1], [("1.5", "9" * 40), ("n", "1e3")]),
    ]
    _write_both(twin, statements)
    assert _dump(twin[0]) == _dump(twin[1])
    row = twin[0].execute("SELECT id, name, interactions, reposts, quotes FROM followers").fetchone()
    assert row == (2**63 - 1, text, -(2**63), 1, 0)  # bools as 1/0
    assert twin[0].execute("SELECT value FROM cursors ORDER BY key").fetchall() == [
        ("9" * 40,), ("1e3",)
    ]


def test_what_json_cannot_carry_is_written_the_old_way(
    twin: tuple[sqlite3.Connection, sqlite3.Connection],
) -> None:
    with pytest.raises(Unencodable):
        _BULK.parameters([("cursors", _BATCH_ORDER[5][1], [("k", "a\x00b")])])
    with pytest.raises(Unencodable):
        _BULK.parameters([("cursors", _BATCH_ORDER[5][1], [("k", b"bytes")])])
    # A float or an integer beyond 64 bits is encodable, but the trigger refuses it.
    params = _BULK.parameters([("cursors", _BATCH_ORDER[5][1], [("k", 2**64)])])
    with pytest.raises(sqlite3.IntegrityError, match="64-bit"):
        twin[0].execute(_BULK.insert, params)
    statements = [("cursors", _BATCH_ORDER[5][1], [("nul", "a\x00b"), ("f", 0.1), ("big", 2**64)])]
    _write_both(twin, statements)
    assert _dump(twin[0]) == _dump(twin[1])
    assert ("a\x00b",) in twin[0].execute("SELECT value FROM cursors").fetchall()


def test_every_batch_statement_has_a_json_form() -> None:
    for _, sql in _BATCH_ORDER:
        assert "json_each(?)" in bulk_form(sql, "?")
    with pytest.raises(ValueError, match="cannot rewrite"):
        bulk_form("UPDATE followers SET points = ?", "?")


def test_an_old_sqlite_is_named_and_the_batch_still_written(
    twin: tuple[sqlite3.Connection, sqlite3.Connection],
) -> None:
    assert "3.38" in (unsupported_reason((3, 37, 2)) or "")
    assert unsupported_reason((3, 38, 0)) is None
    commit_batch(twin[1], _Batch([("cursors", _BATCH_ORDER[5][1], [("k", "v")])], 1), None, False)
    assert twin[1].execute("SELECT key, value FROM cursors").fetchall() == [("k", "v")]


# --- the store: a commit in flight on the writer thread -------------------------------------


@pytest.fixture
def on_the_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every batch goes to the writer thread (only large ones do by default)."""
    monkeypatch.setattr(writer, "_THREAD_MIN_WRITES", 1)


def _rows_of(path: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


async def _taken(store: SqliteStore) -> None:
    """Until the buffered writes are taken by a commit (on the writer thread now)."""
    while store.backlog():
        await asyncio.sleep(0.001)


def _hold_write_lock(path: Path) -> sqlite3.Connection:
    """Another connection holding the write lock: the store's commit waits for it."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    return other


async def _fill(store: SqliteStore) -> FollowerRecord:
    follower, _ = await store.resolve(Person(network="x", id="u1", handle="@u1"), T0)
    store.put_follower(FollowerRecord(id=follower.id, name="Ann", first_seen=T0, last_seen=T0, points=5))
    store.mark_processed("x", "e1", T0)
    store.kv_set("ns", "k", "v", follower.id)
    store.mark_once("once", T0)
    return follower


@pytest.mark.usefixtures("on_the_thread")
async def test_reads_see_a_batch_while_the_writer_thread_commits_it(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    async with SqliteStore(path, commit_delay=3600) as store:
        follower = await _fill(store)
        other = _hold_write_lock(path)
        try:
            flushing = asyncio.create_task(store.flush())
            await _taken(store)
            # The loop is not blocked and reads (buffered rows in flight) are answered.
            found = await store.get_follower(follower.id)
            assert found is not None and found.points == 5
            assert await store.is_processed("x", "e1")
            assert await store.kv_get("ns", "k") == "v"
            assert await store.once_used("once")
            again, new = await store.resolve(Person(network="x", id="u1"), T0)
            assert (again.id, new) == (follower.id, False)
            assert not flushing.done()
        finally:
            other.execute("COMMIT")
            other.close()
        await flushing
        assert _rows_of(path, "SELECT name, points FROM followers") == [("Ann", 5)]
        assert await store.kv_get("ns", "k") == "v"  # settled into the cache


@pytest.mark.usefixtures("on_the_thread")
async def test_a_commit_that_fails_on_the_thread_keeps_its_batch(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    async with SqliteStore(path, commit_delay=3600) as store:
        follower = await _fill(store)
        with sqlite3.connect(path) as conn:  # every write of a cursor fails (not the data's fault)
            conn.execute("CREATE TRIGGER broken BEFORE INSERT ON cursors BEGIN "
                         "INSERT INTO missing_table VALUES (1); END")  # fmt: skip
        store.set_cursor("c", "1")
        with pytest.raises(StoreError, match="could not commit"):
            await store.flush()
        assert store.backlog() > 0
        found = await store.get_follower(follower.id)
        assert found is not None and found.points == 5
        assert await store.is_processed("x", "e1")
        assert _rows_of(path, "SELECT COUNT(*) FROM followers") == [(0,)]  # nothing half-written
        with sqlite3.connect(path) as conn:
            conn.execute("DROP TRIGGER broken")
        await store.flush()
        assert store.backlog() == 0
    assert _rows_of(path, "SELECT name, points FROM followers") == [("Ann", 5)]
    assert _rows_of(path, "SELECT value FROM cursors") == [("1",)]


@pytest.mark.usefixtures("on_the_thread")
async def test_a_commit_cancelled_in_flight_is_settled_once_and_close_commits_the_rest(
    tmp_path: Path,
) -> None:
    path = tmp_path / "b.db"
    store = SqliteStore(path, commit_delay=3600)
    await store.open()
    await _fill(store)
    other = _hold_write_lock(path)
    flushing = asyncio.create_task(store.flush())
    await _taken(store)
    flushing.cancel()
    store.set_cursor("late", "1")  # buffered while the first commit is in flight
    other.execute("COMMIT")
    other.close()
    with pytest.raises(asyncio.CancelledError):
        await flushing
    assert store.backlog() == 1  # the cancelled commit landed: only the late write waits
    await store.close()
    assert _rows_of(path, "SELECT name, points FROM followers") == [("Ann", 5)]
    assert _rows_of(path, "SELECT key FROM cursors") == [("late",)]
    assert _rows_of(path, "SELECT event_id FROM processed") == [("e1",)]


async def test_a_small_batch_is_committed_on_the_loop_and_a_large_one_on_the_thread(
    tmp_path: Path,
) -> None:
    path = tmp_path / "b.db"
    async with SqliteStore(path, commit_delay=3600) as store:
        store.set_cursor("small", "1")
        other = _hold_write_lock(path)
        try:
            for i in range(writer._THREAD_MIN_WRITES):
                store.mark_processed("x", f"e{i}", T0)
            flushing = asyncio.create_task(store.flush())
            await _taken(store)  # the loop goes on while the thread waits for the lock
            assert await store.is_processed("x", "e3") and not flushing.done()
        finally:
            other.execute("COMMIT")
            other.close()
        await flushing
        store.set_cursor("small", "2")
        await store.flush()
        assert _rows_of(path, "SELECT value FROM cursors") == [("2",)]
    assert _rows_of(path, "SELECT COUNT(*) FROM processed") == [(writer._THREAD_MIN_WRITES,)]


async def test_a_batch_finishing_a_checkpoint_writes_its_rows_on_the_loop_and_commits_on_the_thread(
        tmp_path: Path) -> None:
    """The rows need the GIL (binding), the COMMIT and the checkpoint's last pass (10-25 ms
    with its fsyncs) do not: they run on the writer thread while the loop goes on."""
    async with SqliteStore(tmp_path / "b.db", commit_delay=3600) as store:
        await _fill(store)
        store._finish_checkpoint = True  # a background checkpoint has just copied the WAL
        assert store._writer is not None
        ran: list[tuple[str, bool]] = []
        loop_thread = threading.get_ident()
        store._writer.set_trace_callback(lambda sql: ran.append((sql.split()[0].upper(), threading.get_ident() == loop_thread)))
        await store.flush()
        store._writer.set_trace_callback(None)
    on_loop = {verb for verb, here in ran if here}
    elsewhere = {verb for verb, here in ran if not here}
    assert {"BEGIN", "INSERT"} <= on_loop and "COMMIT" not in on_loop
    assert elsewhere == {"COMMIT", "PRAGMA"}
    assert _rows_of(tmp_path / "b.db", "SELECT event_id FROM processed") == [("e1",)]


async def test_a_small_batch_is_durable_within_the_flush_without_waiting_for_the_thread(
    tmp_path: Path,
) -> None:
    """A reply's small batch is committed in the flush's first step: a hand-off to the
    writer thread and back would add its wake-ups and the GIL's return to every reply."""
    path = tmp_path / "b.db"
    async with SqliteStore(path, commit_delay=3600) as store:
        store.set_cursor("small", "1")
        flushing = asyncio.ensure_future(store.flush())
        await asyncio.sleep(0)  # the flush runs its first step before this resumes
        assert flushing.done()
        assert _rows_of(path, "SELECT value FROM cursors") == [("1",)]
        store.set_cursor("small", "2")
        store._finish_checkpoint = True
        flushing = asyncio.ensure_future(store.flush())
        await asyncio.sleep(0)
        assert not flushing.done()  # a batch finishing a checkpoint: COMMIT on the thread
        await flushing
    assert _rows_of(path, "SELECT value FROM cursors") == [("2",)]
