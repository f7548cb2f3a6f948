"""Where the giveaway's memory lives: keys in its plugin data (persisted, survives restarts).

Key layout (namespace ``plugin:giveaway``). Rows about a person carry their follower id
and a ``:f<id>:`` key segment, so ``brandbot followers forget`` erases them:

    next_id                                   the last giveaway number used
    index                                     open giveaways' matchers, and the recently closed ones
    giveaway:<000007>                         one giveaway (the seed stays secret until it closes)
    draw:<7>                                  the anonymous entry list the draw ran on
    entry:<7>:<identity hash>:f<follower>:    one person's entry
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from brandbot import Follower, JobContext, People, PluginData

from .records import Entry, Giveaway, Matcher, entry_prefix, giveaway_key

#: Closed giveaways still recognised, to answer late entries "closed".
RECENTLY_CLOSED = 10


@dataclass(frozen=True)
class Index:
    """The matchers of the open giveaways and of the last few closed ones, newest first."""

    open: tuple[Matcher, ...] = ()
    closed: tuple[Matcher, ...] = ()

    @classmethod
    def load(cls, data: dict[str, list[dict[str, Any]]]) -> Index:
        return cls(
            tuple(Matcher.load(m) for m in data.get("open", [])),
            tuple(Matcher.load(m) for m in data.get("closed", [])),
        )

    def dump(self) -> dict[str, list[dict[str, Any]]]:
        return {"open": [m.dump() for m in self.open], "closed": [m.dump() for m in self.closed]}

    def with_giveaway(self, giveaway: Giveaway) -> Index:
        """This index with the giveaway's matcher where its status puts it."""
        open_ = tuple(m for m in self.open if m.id != giveaway.id)
        closed = tuple(m for m in self.closed if m.id != giveaway.id)
        if giveaway.status == "open":
            return Index((*open_, giveaway.matcher), closed)
        return Index(open_, (giveaway.matcher, *closed)[:RECENTLY_CLOSED])


class State:
    """Typed access to the giveaway's plugin data, and to who holds an entry now."""

    def __init__(self, data: PluginData, people: People) -> None:
        self.data = data
        self.people = people

    @classmethod
    def of(cls, ctx: JobContext[Any]) -> State:
        return cls(ctx.data, ctx.people)

    # -- giveaways --------------------------------------------------------------------------
    async def giveaway(self, giveaway_id: int) -> Giveaway | None:
        data = await self.data.get(giveaway_key(giveaway_id))
        return Giveaway.load(data) if data else None

    async def giveaways(self) -> list[Giveaway]:
        """Every giveaway, oldest first."""
        return [Giveaway.load(v) for _, v in await self.data.items("giveaway:")]

    def save(self, giveaway: Giveaway) -> None:
        self.data.set(giveaway.key, giveaway.dump())

    async def next_id(self) -> int:
        return int(await self.data.get("next_id", 0)) + 1

    def use_id(self, giveaway_id: int) -> None:
        self.data.set("next_id", giveaway_id)

    # -- the index of what entries look like ------------------------------------------------
    async def index(self) -> Index:
        return Index.load(await self.data.get("index", {}))

    async def reindex(self, giveaway: Giveaway) -> None:
        """Put the giveaway's matcher where its status says (open, or recently closed)."""
        self.data.set("index", (await self.index()).with_giveaway(giveaway).dump())

    # -- entries ----------------------------------------------------------------------------
    async def entries(self, giveaway_id: int) -> list[Entry]:
        return [Entry.load(k, v) for k, v in await self.data.items(entry_prefix(giveaway_id))]

    async def entries_by_id(self, giveaway_id: int) -> dict[str, Entry]:
        return {e.entry: e for e in await self.entries(giveaway_id)}

    async def entry_of_person(self, giveaway_id: int, follower_id: int) -> Entry | None:
        """This person's entry, whichever of their linked identities made it."""
        for identity in await self.people.identities(follower_id):
            found = await self.data.items(
                entry_prefix(giveaway_id, identity.network, identity.user_id)
            )
            if found:
                key, value = found[0]
                return Entry.load(key, value)
        return None

    def save_entry(self, giveaway_id: int, entry: Entry, *, owner: int) -> None:
        """Save an entry as a row of ``owner`` (the person now: they may have linked accounts)."""
        self.data.set(entry.key(giveaway_id), entry.dump(), follower_id=owner)

    async def holder(self, entry: Entry) -> Follower | None:
        """The follower an entry belongs to now (they may have linked accounts since)."""
        follower = await self.people.get(entry.follower_id)
        if follower is None:  # merged into another follower: whoever holds the identity now
            follower = await self.people.on(entry.network, entry.user_id)
        return follower

    # -- the draw ---------------------------------------------------------------------------
    async def draw_list(self, giveaway_id: int) -> list[str]:
        """The anonymous entry ids the draw ran on, sorted (empty before the draw)."""
        return list(await self.data.get(f"draw:{giveaway_id}", []))

    def save_draw_list(self, giveaway_id: int, entries: list[str]) -> None:
        self.data.set(f"draw:{giveaway_id}", entries)
