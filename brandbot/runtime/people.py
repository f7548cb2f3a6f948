"""People: what plugins and admin commands may do to followers (``ctx.people``).

Every change goes through here so that a person whose event is being handled right now
is changed in the held record (``Inflight``), and everyone else in the store. Handlers
never see the store itself: this is the capability they get instead.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable

from brandbot.clocks import Clock
from brandbot.core import loyalty
from brandbot.core.config import BotConfig
from brandbot.core.records import (
    Direction,
    FollowerExport,
    FollowerQuery,
    FollowerRecord,
    Identity,
    Interaction,
)
from brandbot.runtime.unitofwork import Inflight
from brandbot.store.base import Store, find_person

log = logging.getLogger("brandbot")


class UnknownPerson(KeyError):
    """No follower with that id (forgotten, merged away, or never known)."""


class People:
    """Find, change, link and forget followers; safe while their events are in flight."""

    def __init__(self, store: Store, inflight: Inflight, clock: Clock, config: Callable[[], BotConfig]) -> None:
        self._store = store
        self._inflight = inflight
        self._clock = clock
        self._config = config

    # -- reading -----------------------------------------------------------------------
    async def get(self, follower_id: int) -> FollowerRecord | None:
        """The freshest record: the one held by an event in flight, else the stored one."""
        held = self._inflight.latest(follower_id)
        return held if held is not None else await self._store.get_follower(follower_id)

    async def find(self, ref: str, default_network: str = "") -> FollowerRecord | None:
        """A follower by id ("12"), "network:handle", or a handle on ``default_network``."""
        found = await find_person(self._store, ref, default_network)
        return await self.get(found.id) if found is not None else None

    async def on(self, network: str, user_id_or_handle: str) -> FollowerRecord | None:
        """The follower behind one identity on one network."""
        found = await self._store.find_follower(network, user_id_or_handle)
        return await self.get(found.id) if found is not None else None

    async def identities(self, follower_id: int) -> list[Identity]:
        return await self._store.identities(follower_id)

    async def history(self, follower_id: int, limit: int = 20) -> list[Interaction]:
        """The person's latest interactions, newest first."""
        return await self._store.recent_interactions(follower_id, limit)

    async def top(self, by: str = "points", limit: int = 10) -> list[FollowerRecord]:
        """The leaders by ``points``, ``interactions``, ``reposts`` or another column."""
        return await self._store.list_followers(FollowerQuery(order_by=by, limit=limit))

    async def export(self, follower_id: int) -> FollowerExport | None:
        return await self._store.export_follower(follower_id)

    # -- changing ----------------------------------------------------------------------
    async def tag(self, follower_id: int, add: Iterable[str] = (), remove: Iterable[str] = ()) -> FollowerRecord:
        follower = await self._require(follower_id)
        tags = (follower.tags | {t.strip().lower() for t in add if t.strip()}) - {t.strip().lower() for t in remove}
        return self._save(dataclasses.replace(follower, tags=frozenset(tags)))

    async def add_points(self, follower_id: int, points: int, reason: str = "") -> FollowerRecord:
        """Give (or take, if negative) points; the tier follows and the reason is in the history."""
        follower = await self._require(follower_id)
        updated = self._save(loyalty.adjust_points(follower, points, self._config().top.loyalty))
        self.record(Interaction(
            follower_id=follower_id, time=self._clock.now(), direction=Direction.IN, kind=loyalty.POINTS_KIND,
            network="", conversation_id="", text=reason, source=reason, points=points,
        ))
        return updated

    async def set_opted_out(self, follower_id: int, opted_out: bool) -> FollowerRecord:
        follower = await self._require(follower_id)
        return self._save(dataclasses.replace(follower, opted_out=opted_out))

    async def mark_unreachable(self, network: str, user_id: str) -> None:
        """The person blocked the bot (or left) on ``network``: stop writing to them there."""
        found = await self._store.find_follower(network, user_id)
        follower = await self.get(found.id) if found is not None else None
        if follower is not None and network not in follower.unreachable:
            self._save(dataclasses.replace(follower, unreachable=follower.unreachable | {network}))
            log.info("follower %d is unreachable on %s (blocked the bot)", follower.id, network)

    async def forget(self, follower_id: int, *, by: str = "") -> bool:
        """Erase a person from every table (GDPR). Their event in flight, if any, is not
        written back: the store drops writes naming a forgotten follower."""
        forgotten = await self._store.forget_follower(follower_id, self._clock.now())
        if forgotten:
            log.info("forgot follower %d (asked by %s)", follower_id, by or "unknown")
        return forgotten

    async def link(self, keep_id: int, merge_id: int) -> FollowerRecord:
        """Merge two followers into ``keep_id``: identities, history and data move, and
        counters and points are recomputed from the combined history (nothing counted twice)."""
        keep, other = await self._require(keep_id), await self._require(merge_id)
        self._write_now(merge_id)  # the event in flight is part of the merged history
        self._write_now(keep_id)
        combined = dataclasses.replace(
            keep,
            first_seen=min(keep.first_seen, other.first_seen),
            last_seen=max(keep.last_seen, other.last_seen),
            tags=keep.tags | other.tags,
            opted_out=keep.opted_out or other.opted_out,
            unreachable=keep.unreachable | other.unreachable,
            notes="\n".join(n for n in (keep.notes, other.notes) if n),
        )
        await self._store.merge_followers(keep_id, merge_id, combined)
        return await self.rescore(keep_id)

    async def unlink(self, network: str, user_id: str) -> FollowerRecord:
        """Detach one identity into a follower of its own (past history stays)."""
        return await self._store.unlink_identity(network, user_id, self._clock.now())

    async def rescore(self, follower_id: int) -> FollowerRecord:
        """Recompute counters, points and tier from the stored history."""
        follower = await self._require(follower_id)
        fresh = loyalty.rescore(follower, await self._store.all_interactions(follower_id), self._config().top.loyalty)
        return self._save(fresh)

    def next_tier(self, points: int) -> tuple[str, int] | None:
        """The next tier up and the points still needed for it; None at the top tier."""
        return loyalty.next_tier(points, self._config().top.loyalty)

    # -- the mechanics -----------------------------------------------------------------
    def record(self, interaction: Interaction) -> None:
        """A history row: with the person's event in flight if there is one, else buffered now."""
        if not self._inflight.add_interaction(interaction):
            self._store.add_interaction(interaction)

    def _save(self, follower: FollowerRecord) -> FollowerRecord:
        if not self._inflight.update(follower):
            self._store.put_follower(follower)
        return follower

    async def _require(self, follower_id: int) -> FollowerRecord:
        follower = await self.get(follower_id)
        if follower is None:
            raise UnknownPerson(f"no follower {follower_id}")
        return follower

    def _write_now(self, follower_id: int) -> None:
        """Hand a held record and its rows to the store before the event ends (for merges,
        which restructure people in the store and must see the current event counted)."""
        held = self._inflight.take(follower_id)
        if held is not None:
            record, rows = held
            self._store.put_follower(record)
            for row in rows:
                self._store.add_interaction(row)


__all__ = ["People", "UnknownPerson"]
