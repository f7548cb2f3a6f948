"""Versioned schema migrations for the PostgreSQL store: the same story as SQLite's.

Each migration is applied once, in its own transaction, and recorded in ``schema_version``;
a database newer than the newest migration here is refused. Several processes may open
the store at once: a transaction-scoped advisory lock lets one of them migrate while the
others wait, then find the work done.

To change the schema, append a ``Migration`` with the next version number. Never edit one
that has shipped: databases in the field have already run it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import asyncpg

from brandbot.core.errors import StoreError
from brandbot.store.migrations import Migration, _check_ordered

#: Ids are handed out by sequences in blocks of this many (see ``ids.IdBlocks``): a
#: process allocates ids without a round-trip, and two processes never get the same one.
ID_BLOCK = 1000

# Conventions: every table's key starts with ``brand`` (several brands may share one
# database; a store sees its own brand only). Times are timestamptz, flags boolean, sets
# of strings (tags, unreachable) and tuples of post ids jsonb arrays. Ids come from
# sequences shared by all brands, so they are never reused, even after forget.
# ``claimed_by``/``claimed_until`` on outbox and jobs: a process takes a row with
# SELECT ... FOR UPDATE SKIP LOCKED and holds it until the lease ends (see outbox.py).
_INITIAL_SCHEMA = f"""
CREATE SEQUENCE follower_ids INCREMENT BY {ID_BLOCK} MINVALUE 1 START WITH 1;
CREATE SEQUENCE interaction_ids INCREMENT BY {ID_BLOCK} MINVALUE 1 START WITH 1;
CREATE SEQUENCE outbox_ids INCREMENT BY {ID_BLOCK} MINVALUE 1 START WITH 1;

CREATE TABLE followers (
    brand text NOT NULL,
    id bigint NOT NULL,
    name text NOT NULL DEFAULT '',
    first_seen timestamptz NOT NULL,
    last_seen timestamptz NOT NULL,
    interactions bigint NOT NULL DEFAULT 0,
    mentions bigint NOT NULL DEFAULT 0,
    replies bigint NOT NULL DEFAULT 0,
    reposts bigint NOT NULL DEFAULT 0,
    quotes bigint NOT NULL DEFAULT 0,
    points bigint NOT NULL DEFAULT 0,
    tier text NOT NULL DEFAULT '',
    streak bigint NOT NULL DEFAULT 0,
    streak_day text NOT NULL DEFAULT '',
    points_day text NOT NULL DEFAULT '',
    points_today bigint NOT NULL DEFAULT 0,
    tags jsonb NOT NULL DEFAULT '[]',
    notes text NOT NULL DEFAULT '',
    opted_out boolean NOT NULL DEFAULT false,
    unreachable jsonb NOT NULL DEFAULT '[]',
    PRIMARY KEY (brand, id)
);
CREATE INDEX followers_by_points ON followers (brand, points);

-- handle_key: the handle without '@', lower-cased by Python (the same in every script).
CREATE TABLE identities (
    brand text NOT NULL,
    network text NOT NULL,
    user_id text NOT NULL,
    follower_id bigint NOT NULL,
    handle text NOT NULL DEFAULT '',
    handle_key text NOT NULL DEFAULT '',
    name text NOT NULL DEFAULT '',
    PRIMARY KEY (brand, network, user_id)
);
CREATE INDEX identities_by_follower ON identities (brand, follower_id);
CREATE INDEX identities_by_handle ON identities (brand, network, handle_key);

CREATE TABLE interactions (
    brand text NOT NULL,
    id bigint NOT NULL,
    follower_id bigint NOT NULL,
    time timestamptz NOT NULL,
    direction text NOT NULL,
    kind text NOT NULL,
    network text NOT NULL,
    conversation_id text NOT NULL DEFAULT '',
    event_id text NOT NULL DEFAULT '',
    text text NOT NULL DEFAULT '',
    source text NOT NULL DEFAULT '',
    points bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (brand, id)
);
CREATE INDEX interactions_by_follower ON interactions (brand, follower_id, id DESC);
CREATE INDEX interactions_by_time ON interactions (brand, time) WHERE text != '';

CREATE TABLE processed (
    brand text NOT NULL,
    network text NOT NULL,
    event_id text NOT NULL,
    at timestamptz NOT NULL,
    PRIMARY KEY (brand, network, event_id)
);
CREATE INDEX processed_by_at ON processed (brand, at);

CREATE TABLE outbox (
    brand text NOT NULL,
    id bigint NOT NULL,
    network text NOT NULL,
    conversation_id text NOT NULL,
    conversation_private boolean NOT NULL DEFAULT false,
    text text NOT NULL,
    created timestamptz NOT NULL,
    next_try timestamptz NOT NULL,
    status text NOT NULL,
    in_reply_to text NOT NULL DEFAULT '',
    recipient_id text NOT NULL DEFAULT '',
    follower_id bigint NOT NULL DEFAULT 0,
    event_id text NOT NULL DEFAULT '',
    source text NOT NULL DEFAULT '',
    attempts bigint NOT NULL DEFAULT 0,
    reason text NOT NULL DEFAULT '',
    post_ids jsonb NOT NULL DEFAULT '[]',
    claimed_by text NOT NULL DEFAULT '',
    claimed_until timestamptz,
    PRIMARY KEY (brand, id)
);
CREATE INDEX outbox_pending ON outbox (brand, id) WHERE status = 'pending';
CREATE INDEX outbox_by_follower ON outbox (brand, follower_id, id DESC);

CREATE TABLE cursors (
    brand text NOT NULL,
    key text NOT NULL,
    value text NOT NULL,
    PRIMARY KEY (brand, key)
);

CREATE TABLE once_keys (
    brand text NOT NULL,
    key text NOT NULL,
    at timestamptz NOT NULL,
    PRIMARY KEY (brand, key)
);

CREATE TABLE plugin_data (
    brand text NOT NULL,
    namespace text NOT NULL,
    key text NOT NULL,
    value text NOT NULL,
    follower_id bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (brand, namespace, key)
);
CREATE INDEX plugin_data_by_follower ON plugin_data (brand, follower_id) WHERE follower_id != 0;

CREATE TABLE jobs (
    brand text NOT NULL,
    name text NOT NULL,
    due timestamptz NOT NULL,
    owner text NOT NULL,
    payload text NOT NULL DEFAULT '{{}}',
    claimed_by text NOT NULL DEFAULT '',
    claimed_until timestamptz,
    PRIMARY KEY (brand, name)
);
CREATE INDEX jobs_by_due ON jobs (brand, due);

CREATE TABLE merges (
    brand text NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    time timestamptz NOT NULL,
    kept_id bigint NOT NULL,
    merged_id bigint NOT NULL,
    PRIMARY KEY (brand, id)
);

CREATE TABLE audit (
    brand text NOT NULL,
    id bigint GENERATED ALWAYS AS IDENTITY,
    time timestamptz NOT NULL,
    text text NOT NULL,
    PRIMARY KEY (brand, id)
);
"""

# Followers merged away (survivor: the id they live on as) or forgotten (survivor 0): late
# writes from any process naming them are redirected or dropped at commit (see gone.py).
_GONE_FOLLOWERS = """
CREATE TABLE gone_followers (
    brand text NOT NULL,
    id bigint NOT NULL,
    survivor bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (brand, id)
);
CREATE INDEX gone_followers_by_survivor ON gone_followers (brand, survivor);
"""

#: Every schema step, oldest first. Append; never edit or reorder.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", _INITIAL_SCHEMA),
    Migration(2, "followers merged away or forgotten", _GONE_FOLLOWERS),
)

LATEST_VERSION: int = MIGRATIONS[-1].version

_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version integer PRIMARY KEY,
    description text NOT NULL,
    applied_at timestamptz NOT NULL
)
"""
#: pg_advisory_xact_lock key of "a process is migrating this database" (any constant).
_MIGRATION_LOCK = 0x6272616E64  # "brand"


async def current_version(conn: asyncpg.Connection) -> int:
    """The newest migration recorded in the database; 0 for a fresh one."""
    exists = await conn.fetchval("SELECT to_regclass('schema_version') IS NOT NULL")
    if not exists:
        return 0
    return int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_version"))


async def migrate(conn: asyncpg.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Bring the database up to the newest of ``migrations``; returns the version reached.

    Each step runs in a transaction of its own, under an advisory lock, so a failing
    step leaves the previous version intact and two processes never apply one twice.
    """
    _check_ordered(migrations)
    latest = migrations[-1].version if migrations else 0
    version = await current_version(conn)
    _refuse_newer(version, latest)
    for step in migrations:
        if step.version <= version:
            continue
        try:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
                await conn.execute(_VERSION_TABLE)
                version = await current_version(conn)
                _refuse_newer(version, latest)
                if version >= step.version:
                    continue  # another process applied it while we waited for the lock
                await conn.execute(step.sql)
                await conn.execute(
                    "INSERT INTO schema_version (version, description, applied_at) "
                    "VALUES ($1, $2, $3)",
                    step.version, step.description, datetime.now(UTC),
                )  # fmt: skip
        except asyncpg.PostgresError as exc:
            raise StoreError(
                f"schema migration {step.version} ({step.description}) failed and was rolled "
                f"back: {exc}"
            ) from exc
        version = step.version
    return version


def _refuse_newer(version: int, latest: int) -> None:
    if version > latest:
        raise StoreError(
            f"the database schema is version {version} but this brandbot only knows up to "
            f"version {latest}; it was written by a newer brandbot. Upgrade brandbot, or "
            "restore a backup made before the upgrade."
        )
