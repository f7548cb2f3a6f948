"""One commit: the SQL of the batch, in the order it is written, and how it is written.

A batch is written in one transaction. When a row's data can never be stored, the batch
is written again row by row so that the bad rows are logged and dropped instead of
blocking every later write.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from dataclasses import dataclass
from typing import Any

from brandbot.store.sqlite.rows import (
    _FOLLOWER_COLUMNS,
    _FOLLOWER_NAMES,
    _INTERACTION_COLUMNS,
    _OUTBOX_COLUMNS,
)

# One logger name for the whole package, as before it was split into modules.
logger = logging.getLogger("brandbot.store.sqlite")


# Errors caused by the data of a row rather than by the database: retrying the same row
# can never succeed, so a batch failing with one of these is written row by row and the
# offending rows are logged and dropped instead of blocking every later write.
_DATA_ERRORS = (
    sqlite3.IntegrityError,
    sqlite3.ProgrammingError,
    sqlite3.InterfaceError,
    sqlite3.DataError,
    OverflowError,
)

_SQL_UPSERT_FOLLOWER = (
    f"INSERT INTO followers ({_FOLLOWER_COLUMNS}) "
    f"VALUES ({', '.join('?' * len(_FOLLOWER_NAMES))}) ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{column} = excluded.{column}" for column in _FOLLOWER_NAMES[1:])
)
_SQL_UPSERT_IDENTITY = (
    "INSERT INTO identities (network, user_id, follower_id, handle, handle_key, name) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (network, user_id) DO UPDATE SET "
    "follower_id = excluded.follower_id, handle = excluded.handle, "
    "handle_key = excluded.handle_key, name = excluded.name"
)
# Every batch statement is idempotent, so replaying a batch whose COMMIT outcome was
# unknown (cancellation at the wrong moment) cannot fail or duplicate rows.
_SQL_PUT_INTERACTION = (
    f"INSERT OR REPLACE INTO interactions ({_INTERACTION_COLUMNS}) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SQL_MARK_PROCESSED = "INSERT OR IGNORE INTO processed (network, event_id, at) VALUES (?, ?, ?)"
_SQL_PUT_OUTBOX = (
    f"INSERT OR REPLACE INTO outbox ({_OUTBOX_COLUMNS}) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SQL_SET_CURSOR = "INSERT OR REPLACE INTO cursors (key, value) VALUES (?, ?)"
_SQL_MARK_ONCE = "INSERT OR IGNORE INTO once_keys (key, at) VALUES (?, ?)"
_SQL_KV_SET = (
    "INSERT OR REPLACE INTO plugin_data (namespace, key, value, follower_id) VALUES (?, ?, ?, ?)"
)
_SQL_KV_DELETE = "DELETE FROM plugin_data WHERE namespace = ? AND key = ?"
_SQL_PUT_JOB = "INSERT OR REPLACE INTO jobs (name, due, owner, payload) VALUES (?, ?, ?, ?)"
_SQL_DELETE_JOB = "DELETE FROM jobs WHERE name = ?"


#: Every batch statement, in the order a batch writes them (followers before identities:
#: identities reference followers).
_BATCH_ORDER = (
    ("followers", _SQL_UPSERT_FOLLOWER),
    ("identities", _SQL_UPSERT_IDENTITY),
    ("interactions", _SQL_PUT_INTERACTION),
    ("processed", _SQL_MARK_PROCESSED),
    ("outbox", _SQL_PUT_OUTBOX),
    ("cursors", _SQL_SET_CURSOR),
    ("once_keys", _SQL_MARK_ONCE),
    ("plugin_data", _SQL_KV_SET),
    ("plugin_data", _SQL_KV_DELETE),
    ("jobs", _SQL_PUT_JOB),
    ("jobs", _SQL_DELETE_JOB),
)


@dataclass(slots=True)
class _Batch:
    """What one commit writes: (table, sql, rows) in order, and how many writes it holds."""

    statements: list[tuple[str, str, list[tuple[Any, ...]]]]
    writes: int


def _rollback(db: sqlite3.Connection) -> None:
    with contextlib.suppress(sqlite3.Error):
        if db.in_transaction:
            db.execute("ROLLBACK")


def _begin_and_write(db: sqlite3.Connection, batch: _Batch) -> None:
    """BEGIN and every row, ``executemany`` per statement; the transaction stays open."""
    try:
        db.execute("BEGIN IMMEDIATE")
        for _, sql, rows in batch.statements:
            db.executemany(sql, rows)
    except BaseException:
        _rollback(db)
        raise


def _begin_and_salvage(db: sqlite3.Connection, batch: _Batch) -> None:
    """BEGIN and one statement per row; rows that can never be written are logged and
    dropped. The transaction stays open."""
    try:
        db.execute("BEGIN IMMEDIATE")
        for table, sql, rows in batch.statements:
            for row in rows:
                try:
                    db.execute(sql, row)
                except _DATA_ERRORS as exc:
                    logger.error(
                        "store: dropped a %s row that cannot be stored (%s); first column %r",
                        table,
                        exc,
                        row[0],
                    )
    except BaseException:
        _rollback(db)
        raise


def _commit(db: sqlite3.Connection) -> None:
    try:
        db.execute("COMMIT")
    except BaseException:
        _rollback(db)
        raise


def write_rows(db: sqlite3.Connection, batch: _Batch) -> None:
    """The first half of a commit, on the loop's thread: BEGIN and every row of ``batch``,
    the transaction left open for :func:`finish_commit`.

    Binding rows needs the GIL, so ``executemany`` runs where the GIL is; the COMMIT,
    which writes every changed page to the WAL (about 1-3 ms a batch at full speed), does
    not, and goes to the writer thread. A row that can never be stored: the batch is
    written again row by row, the bad rows logged and dropped.
    """
    try:
        _begin_and_write(db, batch)
    except _DATA_ERRORS as exc:
        logger.error(
            "store: a buffered row cannot be written (%s); writing the batch row by "
            "row to keep the rest",
            exc,
        )
        _begin_and_salvage(db, batch)


def finish_commit(db: sqlite3.Connection, finish_checkpoint: bool) -> None:
    """The second half, on the writer thread: COMMIT with the GIL released, then the
    short checkpoint pass that lets the WAL start over, when one is due."""
    _commit(db)
    if finish_checkpoint:
        with contextlib.suppress(sqlite3.Error):  # a busy reader: the next round retries
            db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def commit_batch(
    db: sqlite3.Connection,
    batch: _Batch,
    bulk: tuple[str, list[str | None]] | None,
    finish_checkpoint: bool,
) -> None:
    """Write ``batch`` durably; runs on the store's writer thread.

    ``bulk`` is the one-statement form (see ``bulk.py``) and its parameters. When it
    fails, the batch is written statement by statement as before, which tells the data's
    fault (a constraint: the batch is written row by row, the bad rows logged and
    dropped) from the database's (I/O, a lock: raised, and the caller keeps the batch
    for a retry). That second try also reloads a schema changed by another connection,
    which a failed prepare of the one statement does not.
    """
    if finish_checkpoint:
        with contextlib.suppress(sqlite3.Error):  # a busy reader: the next round retries
            db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    if bulk is not None:
        try:
            db.execute(*bulk)  # no BEGIN: one statement is one transaction, commit included
            return
        except (sqlite3.Error, OverflowError, ValueError) as exc:
            logger.debug("store: writing the batch statement by statement (%s)", exc)
    write_rows(db, batch)
    _commit(db)
