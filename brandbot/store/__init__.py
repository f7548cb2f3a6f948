"""Persistence: the store's role protocols, their union Store, and the backend to open.

SQLite is the default; ``storage: {url: postgresql://...}`` selects PostgreSQL
(``brandbot.store.postgres``), for several processes sharing one database.
"""

from __future__ import annotations

from brandbot.core.config import StorageConfig
from brandbot.core.records import (
    Direction,
    FollowerExport,
    FollowerQuery,
    FollowerRecord,
    Identity,
    Interaction,
    Job,
    OutboxEntry,
    OutboxStatus,
)
from brandbot.store.base import (
    Cursors,
    Dedupe,
    Durability,
    Followers,
    History,
    Jobs,
    KeyValue,
    Lifecycle,
    OnceKeys,
    OutboxRows,
    Privacy,
    Store,
)


def store_for(storage_path: str, storage: StorageConfig) -> Store:
    """The store the settings ask for: PostgreSQL when ``storage.url`` is set, else the
    SQLite file at ``storage_path``. Imported lazily: a SQLite bot never loads asyncpg."""
    if storage.url:
        from brandbot.store.postgres import PostgresStore

        return PostgresStore(storage.url, brand=storage.brand_id, commit_delay=storage.commit_delay)
    from brandbot.store.sqlite import SqliteStore

    return SqliteStore(storage_path, commit_delay=storage.commit_delay)


__all__ = [
    "Cursors",
    "Dedupe",
    "Direction",
    "Durability",
    "FollowerExport",
    "FollowerQuery",
    "FollowerRecord",
    "Followers",
    "History",
    "Identity",
    "Interaction",
    "Job",
    "Jobs",
    "KeyValue",
    "Lifecycle",
    "OnceKeys",
    "OutboxEntry",
    "OutboxRows",
    "OutboxStatus",
    "Privacy",
    "Store",
    "store_for",
]
