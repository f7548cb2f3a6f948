"""Opening, closing and reading: the connections every concern works through.

Point reads run synchronously on a read-only connection owned by the event loop's
thread: an indexed lookup is microseconds of C, cheaper than a thread hop. Batches are
committed on a writer connection: small ones at once on the loop's thread, large ones
on the store's writer thread as one statement (see ``bulk.py``), so SQLite's work runs
beside the loop. Work that may take
long (migrations, scans, exports, merges and forgets, WAL checkpoints that may fsync)
runs on the aiosqlite connection or a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import sqlite3
import stat
import tempfile
import threading
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import aiosqlite

from brandbot.core.errors import StoreError
from brandbot.store import migrations
from brandbot.store.bloom import KeyFilter
from brandbot.store.sqlite.batch import _BATCH_ORDER
from brandbot.store.sqlite.bulk import BulkStatement, unsupported_reason
from brandbot.store.sqlite.rows import _job_from
from brandbot.store.sqlite.writer import _MIN_FILTER_CAPACITY, WriteBehind

R = TypeVar("R")

logger = logging.getLogger("brandbot.store.sqlite")


_CONNECTION_PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 5000",
    "PRAGMA temp_store = MEMORY",
    # Zero the old bytes of changed and deleted rows inside pages at no extra I/O,
    # so a forgotten person's earlier row versions do not linger in the file.
    "PRAGMA secure_delete = FAST",
)
#: SQLite page cache of the event-loop connection, in KiB (the OS caches the rest).
_PAGE_CACHE_KIB = 4096
#: The part of it the read connection gets (the writer gets the rest, at least as much):
#: a reader's cache is emptied whenever another connection has committed, so it serves
#: only the reads between two commits.
_READ_CACHE_KIB = 1024


def _create_private(path: Path) -> None:
    """Create a new database file readable by its owner only (0600, whatever the umask).

    SQLite gives the ``-wal`` and ``-shm`` files the database file's permissions, so they
    are private too. An existing file keeps its mode (the operator may have chosen it),
    but one that other users can read is reported with the command that fixes it.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        with contextlib.suppress(OSError):
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                logger.warning(
                    "database %s is readable by other users (mode %s); run: chmod 600 %s",
                    path, oct(mode), path,
                )
        return
    except OSError:
        return  # not creatable here: SQLite's own error says why
    os.close(fd)


class SqliteBase(WriteBehind):
    """The opened database: lifecycle, and the read helpers the concern classes share."""

    # --- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def open(self) -> None:
        """Open (creating if needed), migrate, load the counters and the key filters."""
        if self._conn is not None:
            return
        if self._closed:
            raise StoreError("this store was closed; create a new SqliteStore to reopen")
        if self._path == ":memory:":
            self._temp_dir = tempfile.mkdtemp(prefix="brandbot-store-")
            self._path = str(Path(self._temp_dir) / "memory.sqlite3")
        else:
            parent = Path(self._path).expanduser().parent
            if not parent.is_dir():
                raise StoreError(
                    f"cannot open database {self._path}: folder {parent} does not exist"
                )
            _create_private(Path(self._path).expanduser())
        try:
            conn = await aiosqlite.connect(self._path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {self._path}: {exc}") from exc
        try:
            for pragma in _CONNECTION_PRAGMAS:
                await conn.execute_fetchall(pragma)
            self._version = await migrations.migrate(conn)
            self._db = self._open_loop_connection()
            self._writer = self._open_writer()
            self._conn = conn
            await self._load()
        except BaseException as exc:
            self._conn = None
            self._close_loop_connections()
            await conn.close()
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"cannot open database {self._path}: {exc}") from exc
            raise
        self._flusher = asyncio.get_running_loop().create_task(
            self._flush_loop(), name=f"brandbot-store-flusher:{self._path}"
        )

    def _open_loop_connection(self) -> sqlite3.Connection:
        """The event loop's connection: point reads only."""
        db = self._open_connection(cache_kib=_READ_CACHE_KIB)
        db.execute("PRAGMA query_only = ON").fetchall()
        return db

    def _open_connection(
        self, *, cache_kib: int, check_same_thread: bool = True
    ) -> sqlite3.Connection:
        db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=check_same_thread)
        for pragma in _CONNECTION_PRAGMAS:
            db.execute(pragma).fetchall()
        # Checkpoints copy the WAL into the database and may fsync: they run on a worker
        # thread (see _checkpoint), never inside a commit.
        db.execute("PRAGMA wal_autocheckpoint = 0").fetchall()
        db.execute(f"PRAGMA cache_size = -{cache_kib}").fetchall()
        return db

    def _open_writer(self) -> sqlite3.Connection:
        """The connection that commits batches (one at a time: on the loop's thread or
        the writer thread, see ``WriteBehind._commit_pending``)."""
        cache_kib = max(_PAGE_CACHE_KIB - _READ_CACHE_KIB, _READ_CACHE_KIB)
        db = self._open_connection(cache_kib=cache_kib, check_same_thread=False)
        reason = unsupported_reason()
        if reason is None:
            bulk = BulkStatement([sql for _, sql in _BATCH_ORDER])
            bulk.install(db)
            self._bulk = bulk
        else:
            logger.warning(
                "store: %s; every batch is committed on the event loop's thread, one "
                "statement per row, which keeps the loop busier under load (upgrade SQLite "
                "to 3.38 or newer)",
                reason,
            )
        self._write_thread = ThreadPoolExecutor(1, thread_name_prefix="brandbot-store-writer")
        return db

    def _close_loop_connections(self) -> None:
        """Close the reader and the writer (no commit is running: caller holds ``_lock``
        or open failed), and let the writer thread go."""
        db, writer, thread = self._db, self._writer, self._write_thread
        self._db = self._writer = self._write_thread = None
        self._bulk = None
        if thread is not None:
            thread.shutdown(wait=True)
        for connection in (db, writer):
            if connection is not None:
                connection.close()

    async def _load(self) -> None:
        """Counters from the database, the small tables, and the key filters."""
        seq = dict(await self._fetch("SELECT name, seq FROM sqlite_sequence"))
        for table, attr in (
            ("followers", "_last_follower_id"),
            ("interactions", "_last_interaction_id"),
            ("outbox", "_last_outbox_id"),
        ):
            rows = await self._fetch(f"SELECT MAX(id) FROM {table}")
            setattr(self, attr, max(int(seq.get(table) or 0), int(rows[0][0] or 0)))
        self._cursors = dict(await self._fetch("SELECT key, value FROM cursors"))
        self._jobs = {
            job.name: job
            for job in map(
                _job_from, await self._fetch("SELECT name, due, owner, payload FROM jobs")
            )
        }
        # The key filters fill in the background: lookups read until they are ready.
        self._filler = asyncio.get_running_loop().create_task(
            self._fill_filters(), name=f"brandbot-store-filters:{self._path}"
        )

    #: The query whose keys fill each filter (attribute name -> SQL; one-column keys are bare).
    _FILTER_SOURCES = (
        ("_identity_seen", "SELECT network, user_id FROM identities", False),
        ("_processed_seen", "SELECT network, event_id FROM processed", False),
        ("_once_seen", "SELECT key FROM once_keys", True),
    )

    async def _fill_filters(self) -> None:
        """Fill the key filters from the database, off the start-up path.

        Until a filter is ready it answers "maybe" and the store reads instead, so a
        failure here (logged) costs reads, never a wrong answer.
        """
        try:
            for attr, sql, single in self._FILTER_SOURCES:
                await self._fill_filter(getattr(self, attr), sql, single=single)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("store: the key filters could not be filled; lookups keep reading")

    async def filters_filled(self) -> None:
        """Wait until the key filters are filled (start-up does not: see ``_fill_filters``)."""
        if self._filler is not None:
            await asyncio.shield(self._filler)

    async def _fill_filter(self, target: KeyFilter, sql: str, *, single: bool = False) -> None:
        """Fill ``target`` with every key the query returns, sized to double.

        The scan runs in a worker thread on a connection of its own (on the shared one, its
        open statement would hold a read snapshot that every other read there would see
        until it ended) and hands the keys to the loop chunk by chunk, in order. Cancelled
        (the store closes), it stops after the chunk in hand and is waited for, so no
        thread is still reading when the database is closed.
        """
        loop = asyncio.get_running_loop()
        stop = threading.Event()

        def scan() -> int:
            db = sqlite3.connect(self._path)
            try:
                db.execute("PRAGMA query_only = ON")
                total = int(db.execute(f"SELECT COUNT(*) FROM ({sql})").fetchone()[0])
                loop.call_soon_threadsafe(target.start_fill, max(_MIN_FILTER_CAPACITY, 2 * total))
                cursor = db.execute(sql)
                while not stop.is_set() and (rows := cursor.fetchmany(50_000)):
                    keys = [row[0] for row in rows] if single else [tuple(row) for row in rows]
                    loop.call_soon_threadsafe(target.fill, keys)
                return total
            finally:
                db.close()

        scanning = loop.run_in_executor(None, scan)
        try:
            total = await asyncio.shield(scanning)
        except asyncio.CancelledError:
            stop.set()
            await asyncio.wait([scanning])
            raise
        target.finish_fill(total)  # after every chunk: they were queued to the loop first

    async def backup(self, target: str | Path) -> None:
        """Write a consistent copy of the database to ``target`` while running (VACUUM INTO)."""
        await self.flush()
        conn = self._conn
        if conn is None:
            raise StoreError("the store is not open")
        target = Path(target)
        if target.exists():
            raise StoreError(f"backup target {target} exists; choose a new file name")
        await conn.execute("VACUUM INTO ?", (str(target),))

    async def close(self) -> None:
        """Stop the flusher, commit what is buffered, close. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        filler, self._filler = self._filler, None
        if filler is not None:
            filler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await filler
        flusher, self._flusher = self._flusher, None
        if flusher is not None:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
        if self._checkpointer is not None:  # let a running checkpoint finish
            await asyncio.shield(self._checkpointer)
        conn = self._conn
        if conn is None:
            return
        try:
            async with self._lock:
                await self._commit_pending()
                with contextlib.suppress(sqlite3.Error):
                    # Keeps the planner's statistics fresh.
                    await conn.execute_fetchall("PRAGMA optimize")
        finally:
            self._conn = None
            self._close_loop_connections()
            await conn.close()
            if self._temp_dir is not None:
                shutil.rmtree(self._temp_dir, ignore_errors=True)

    def schema_version(self) -> int:
        return self._version

    # --- small helpers --------------------------------------------------------------------

    @staticmethod
    async def _rollback(conn: aiosqlite.Connection) -> None:
        with contextlib.suppress(sqlite3.Error, ValueError):
            await conn.execute("ROLLBACK")

    def _read_now(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """A point read on the event loop's connection: an indexed lookup, no thread hop."""
        try:
            return self._loop_connection().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"database read failed ({exc}): {sql.split(' WHERE')[0]}") from exc

    def _connection(self) -> aiosqlite.Connection:
        if self._conn is None:
            if self._closed:
                raise StoreError("the store is closed")
            raise StoreError("the store is not open; call open() first")
        return self._conn

    async def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            return list(await self._connection().execute_fetchall(sql, params))
        except sqlite3.Error as exc:
            raise StoreError(f"database read failed ({exc}): {sql.split(' WHERE')[0]}") from exc

    async def _count_rows(self, table: str) -> int:
        rows = await self._fetch(f"SELECT COUNT(*) FROM {table}")
        return int(rows[0][0])

    async def _transaction(
        self, work: Callable[[aiosqlite.Connection], Awaitable[R]], *, erase: bool = False
    ) -> R:
        """Flush, then run ``work`` in one transaction. Caller holds ``_lock``.

        ``erase`` also zeroes pages freed by the work (secure_delete ON rather than the
        usual FAST), for work that removes personal data.
        """
        await self._commit_pending()
        conn = self._connection()
        try:
            if erase:
                await conn.execute_fetchall("PRAGMA secure_delete = ON")
            try:
                try:
                    await conn.execute("BEGIN IMMEDIATE")
                    result = await work(conn)
                    await conn.execute("COMMIT")
                except BaseException:
                    await self._rollback(conn)
                    raise
            finally:
                if erase:
                    await conn.execute_fetchall("PRAGMA secure_delete = FAST")
        except sqlite3.Error as exc:
            raise StoreError(f"database transaction failed: {exc}") from exc
        return result

    def _redirect(self, follower_id: int) -> int:
        """Where writes naming ``follower_id`` go now: itself, its merge target, or 0 (gone)."""
        return self._gone.get(follower_id, follower_id) if follower_id else follower_id
