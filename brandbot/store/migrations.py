"""Versioned schema migrations for the SQLite store.

Each migration is applied once, in its own transaction, and recorded in the
``schema_version`` table. A database whose version is newer than the newest migration
here was written by a newer brandbot: opening it is refused rather than risking damage.

To change the schema, append a ``Migration`` with the next version number. Never edit
one that has shipped: databases in the field have already run it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import aiosqlite

from brandbot.core.errors import StoreError


@dataclass(frozen=True, slots=True)
class Migration:
    """One step of the schema: ``sql`` is a script of statements, without BEGIN/COMMIT."""

    version: int
    description: str
    sql: str


# Conventions of the schema: datetimes are ISO-8601 text in UTC with microseconds
# ("2026-01-01T12:00:00.000000+00:00", so text order is time order); sets of strings
# (tags, unreachable) and tuples of post ids are JSON arrays; booleans are 0/1.
# AUTOINCREMENT on followers, interactions and outbox keeps their ids from ever being
# reused, even after the newest rows were deleted by forget.
_INITIAL_SCHEMA = """
CREATE TABLE followers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL DEFAULT '',
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    interactions INTEGER NOT NULL DEFAULT 0,
    mentions INTEGER NOT NULL DEFAULT 0,
    replies INTEGER NOT NULL DEFAULT 0,
    reposts INTEGER NOT NULL DEFAULT 0,
    quotes INTEGER NOT NULL DEFAULT 0,
    points INTEGER NOT NULL DEFAULT 0,
    tier TEXT NOT NULL DEFAULT '',
    streak INTEGER NOT NULL DEFAULT 0,
    streak_day TEXT NOT NULL DEFAULT '',
    points_day TEXT NOT NULL DEFAULT '',
    points_today INTEGER NOT NULL DEFAULT 0,
    tags TEXT NOT NULL DEFAULT '[]',
    notes TEXT NOT NULL DEFAULT '',
    opted_out INTEGER NOT NULL DEFAULT 0,
    unreachable TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX followers_by_points ON followers (points);

-- handle_key is the handle without a leading '@', lower-cased by Python (SQLite's
-- lower() folds ASCII only), so case-insensitive lookups work for every script.
CREATE TABLE identities (
    network TEXT NOT NULL,
    user_id TEXT NOT NULL,
    follower_id INTEGER NOT NULL REFERENCES followers (id) ON DELETE CASCADE,
    handle TEXT NOT NULL DEFAULT '',
    handle_key TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (network, user_id)
) WITHOUT ROWID;
CREATE INDEX identities_by_follower ON identities (follower_id);
CREATE INDEX identities_by_handle ON identities (network, handle_key);

CREATE TABLE interactions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    follower_id INTEGER NOT NULL,
    time TEXT NOT NULL,
    direction TEXT NOT NULL,
    kind TEXT NOT NULL,
    network TEXT NOT NULL,
    conversation_id TEXT NOT NULL DEFAULT '',
    event_id TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    points INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX interactions_by_follower ON interactions (follower_id, id DESC);

CREATE TABLE processed (
    network TEXT NOT NULL,
    event_id TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (network, event_id)
) WITHOUT ROWID;

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    network TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    conversation_private INTEGER NOT NULL DEFAULT 0,
    text TEXT NOT NULL,
    created TEXT NOT NULL,
    next_try TEXT NOT NULL,
    status TEXT NOT NULL,
    in_reply_to TEXT NOT NULL DEFAULT '',
    recipient_id TEXT NOT NULL DEFAULT '',
    follower_id INTEGER NOT NULL DEFAULT 0,
    event_id TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    reason TEXT NOT NULL DEFAULT '',
    post_ids TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX outbox_by_status ON outbox (status, next_try);
CREATE INDEX outbox_by_follower ON outbox (follower_id, id DESC);

CREATE TABLE cursors (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE once_keys (
    key TEXT PRIMARY KEY,
    at TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE plugin_data (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    follower_id INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID;
CREATE INDEX plugin_data_by_follower ON plugin_data (follower_id) WHERE follower_id != 0;

CREATE TABLE jobs (
    name TEXT PRIMARY KEY,
    due TEXT NOT NULL,
    owner TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT '{}'
) WITHOUT ROWID;
CREATE INDEX jobs_by_due ON jobs (due);

CREATE TABLE merges (
    id INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    kept_id INTEGER NOT NULL,
    merged_id INTEGER NOT NULL
);

CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    text TEXT NOT NULL
);
"""

#: Every schema step, oldest first. Append; never edit or reorder.
MIGRATIONS: tuple[Migration, ...] = (Migration(1, "initial schema", _INITIAL_SCHEMA),)

LATEST_VERSION: int = MIGRATIONS[-1].version

_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at TEXT NOT NULL
)
"""


async def current_version(conn: aiosqlite.Connection) -> int:
    """The newest migration recorded in the database; 0 for a fresh one."""
    rows = await conn.execute_fetchall(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    )
    if not list(rows):
        return 0
    rows = await conn.execute_fetchall("SELECT MAX(version) FROM schema_version")
    value = next(iter(rows))[0]
    return int(value or 0)


async def migrate(conn: aiosqlite.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Bring the database up to the newest of ``migrations``; returns the version reached.

    ``conn`` must be in autocommit mode (``isolation_level=None``): each migration runs
    in a transaction of its own, so a failing one leaves the previous version intact.
    """
    _check_ordered(migrations)
    latest = migrations[-1].version if migrations else 0
    version = await current_version(conn)
    if version > latest:
        raise StoreError(
            f"the database schema is version {version} but this brandbot only knows up to "
            f"version {latest}; it was written by a newer brandbot. Upgrade brandbot, or "
            "open a backup made before the upgrade."
        )
    if version < latest:
        await conn.execute(_VERSION_TABLE)
    for step in migrations:
        if step.version <= version:
            continue
        await _apply(conn, step)
        version = step.version
    return version


async def _apply(conn: aiosqlite.Connection, step: Migration) -> None:
    applied_at = datetime.now(UTC).isoformat(timespec="microseconds")
    script = (
        "BEGIN IMMEDIATE;\n"
        f"{step.sql.strip().rstrip(';')};\n"
        "INSERT INTO schema_version (version, description, applied_at) VALUES "
        f"({int(step.version)}, {_quote(step.description)}, {_quote(applied_at)});\n"
        "COMMIT;\n"
    )
    try:
        await conn.executescript(script)
    except sqlite3.Error as exc:
        try:
            await conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the failure already ended the transaction
        # Another process may have applied the same step in the meantime.
        if await current_version(conn) >= step.version:
            return
        raise StoreError(
            f"schema migration {step.version} ({step.description}) failed and was rolled "
            f"back: {exc}"
        ) from exc


def _check_ordered(migrations: Sequence[Migration]) -> None:
    expected = 1
    for step in migrations:
        if step.version != expected:
            raise StoreError(
                f"migration versions must run 1, 2, 3, ... without gaps; found "
                f"{step.version} where {expected} was expected"
            )
        expected += 1


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
