"""One commit on PostgreSQL: the batch's statements, in order, in one transaction.

Every statement is idempotent (upserts, ``DO NOTHING``), so a batch whose COMMIT outcome
was unknown (the server went away at that moment) is simply written again. Rows whose
data can never be stored are found by writing the batch row by row (a savepoint each),
logged and dropped, so they do not block every later write.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from brandbot.store.postgres import gone
from brandbot.store.sqlite.rows import _FOLLOWER_NAMES, _INTERACTION_COLUMNS, _OUTBOX_COLUMNS

logger = logging.getLogger("brandbot.store.postgres")

#: Errors caused by a row's data rather than by the database or the connection.
DATA_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.DataError,
    asyncpg.IntegrityConstraintViolationError,
    OverflowError,
)
#: Errors after which waiting and trying again may succeed: the server restarts, the
#: connection dropped, or a transaction lost a serialization race. InternalClientError is
#: a connection whose protocol the server's FATAL message put out of step (the store
#: closes that connection, see ``writer._Checkout``; the retry gets a fresh one).
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.TransactionRollbackError,
)


def _marks(count: int, start: int = 1) -> str:
    return ", ".join(f"${n}" for n in range(start, start + count))


def _upsert(table: str, columns: tuple[str, ...], key: tuple[str, ...], extra: str = "") -> str:
    """INSERT ... ON CONFLICT (key) DO UPDATE every other column (the newest row wins)."""
    names = ("brand", *columns)
    updates = [f"{c} = EXCLUDED.{c}" for c in columns if c not in key]
    return (
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({_marks(len(names))}) "
        f"ON CONFLICT (brand, {', '.join(key)}) DO UPDATE SET {', '.join(updates)}{extra}"
    )


def _names(columns: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in columns.split(","))


SQL_UPSERT_FOLLOWER = _upsert("followers", _FOLLOWER_NAMES, ("id",))
SQL_UPSERT_IDENTITY = _upsert(
    "identities", ("network", "user_id", "follower_id", "handle", "handle_key", "name"),
    ("network", "user_id"),
)  # fmt: skip
SQL_PUT_INTERACTION = _upsert("interactions", _names(_INTERACTION_COLUMNS), ("id",))
SQL_MARK_PROCESSED = (
    "INSERT INTO processed (brand, network, event_id, at) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT DO NOTHING"
)
# Claims are not part of the row: an update keeps the claim, a new row may start with one
# ($18: the claiming process, '' for none; $19: the lease in seconds).
_OUTBOX_NAMES = _names(_OUTBOX_COLUMNS)
SQL_PUT_OUTBOX = (
    f"INSERT INTO outbox (brand, {', '.join(_OUTBOX_NAMES)}, claimed_by, claimed_until) "
    f"VALUES ({_marks(len(_OUTBOX_NAMES) + 2)}, "
    f"CASE WHEN $18 = '' THEN NULL ELSE clock_timestamp() + $19 * interval '1 second' END) "
    f"ON CONFLICT (brand, id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in _OUTBOX_NAMES if c != "id")
)
SQL_SET_CURSOR = _upsert("cursors", ("key", "value"), ("key",))
SQL_MARK_ONCE = "INSERT INTO once_keys (brand, key, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
SQL_KV_SET = _upsert("plugin_data", ("namespace", "key", "value", "follower_id"), ("namespace", "key"))
SQL_KV_DELETE = "DELETE FROM plugin_data WHERE brand = $1 AND namespace = $2 AND key = $3"
# A job written again (rescheduled) is free to be claimed again.
SQL_PUT_JOB = _upsert(
    "jobs", ("name", "due", "owner", "payload"), ("name",),
    ", claimed_by = '', claimed_until = NULL",
)  # fmt: skip
SQL_DELETE_JOB = "DELETE FROM jobs WHERE brand = $1 AND name = $2"


@dataclass(slots=True)
class Batch:
    """What one commit writes: (table, sql, rows) in order, how many writes it holds, and
    the follower ids its rows name (checked against merges and forgets, see gone.py)."""

    statements: list[tuple[str, str, list[tuple[Any, ...]]]]
    writes: int
    follower_ids: list[int] = field(default_factory=list)


async def write_batch(conn: asyncpg.Connection, batch: Batch, brand: str) -> dict[int, int]:
    """Returns the followers found gone meanwhile: {id: survivor or 0}."""
    async with conn.transaction():
        await gone.lock_shared(conn, brand)
        for _, sql, rows in batch.statements:
            await conn.executemany(sql, rows)
        return await gone.settle_late_writes(conn, brand, batch.follower_ids)


async def salvage_batch(conn: asyncpg.Connection, batch: Batch, brand: str) -> dict[int, int]:
    """One statement per row, each in a savepoint; rows that cannot be stored are dropped."""
    async with conn.transaction():
        await gone.lock_shared(conn, brand)
        for table, sql, rows in batch.statements:
            for row in rows:
                try:
                    async with conn.transaction():
                        await conn.execute(sql, *row)
                except DATA_ERRORS as exc:
                    logger.error(
                        "store: dropped a %s row that cannot be stored (%s); first column %r",
                        table, exc, row[1],
                    )  # fmt: skip
        return await gone.settle_late_writes(conn, brand, batch.follower_ids)
