"""Persistence: the Store protocol and its default SQLite implementation."""

from brandbot.store.base import Store
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

__all__ = [
    "Direction",
    "FollowerExport",
    "FollowerQuery",
    "FollowerRecord",
    "Identity",
    "Interaction",
    "Job",
    "OutboxEntry",
    "OutboxStatus",
    "Store",
]
