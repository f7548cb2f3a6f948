"""Read-only views of a closed bot's store, shaped like the capabilities a plugin gets.

``brandbot report ...`` runs without a bot, straight on the database; the report
functions (:mod:`brandbot.runtime.reports`) take a plugin's data and the people the way
a handler has them (``ctx.data``, ``ctx.people``). These adapters give them that shape.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from brandbot.core.records import FollowerRecord
from brandbot.store.base import Followers, KeyValue

log = logging.getLogger("brandbot.ops")


class StoreRecords:
    """One plugin's data namespace, read like ``ctx.data.items`` (values decoded from JSON)."""

    def __init__(self, store: KeyValue, namespace: str) -> None:
        self._store = store
        self._namespace = namespace

    async def items(self, prefix: str = "") -> list[tuple[str, Any]]:
        decoded: list[tuple[str, Any]] = []
        for key, raw in await self._store.kv_items(self._namespace, prefix):
            try:
                decoded.append((key, json.loads(raw)))
            except ValueError as exc:  # a damaged row must not stop a report
                log.warning("skipping unreadable %s record %r: %s", self._namespace, key, exc)
        return decoded


class StorePeople:
    """Followers looked up like ``ctx.people.get`` / ``ctx.people.on``."""

    def __init__(self, store: Followers) -> None:
        self._store = store

    async def get(self, follower_id: int) -> FollowerRecord | None:
        return await self._store.get_follower(follower_id)

    async def on(self, network: str, user_id_or_handle: str) -> FollowerRecord | None:
        return await self._store.find_follower(network, user_id_or_handle)


__all__ = ["StorePeople", "StoreRecords"]
