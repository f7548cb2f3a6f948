"""Where the plugin's memory lives: keys in its plugin data (persisted, survives restarts).

Key layout. Every key about a person contains ``:f<follower id>:`` and is saved with
that ``follower_id``, so ``brandbot followers forget`` erases it:

    tour:file                   the stops read from tour.yaml at start
    tour:added                  the stops added with /tour add
    sub:f<id>:                  one follower's subscription
    qa:open                     the stop whose Q&A is open, and since when
    qa:count:<stop>             the last question number given out at a stop
    q:<stop>:<nnnnn>:f<id>:     one question
    asked:<stop>:f<id>:         how many questions this person asked at this stop
    seen:<stop>:f<id>:          the person took part in the stop's conversation
    new:<stop>:f<id>:           the person's first contact happened during the stop
    ran:<job name>              a scheduled job that already ran (jobs run once)
    recap:<stop>                when the stop's recap went to the staff
"""

from __future__ import annotations

from datetime import datetime

from brandbot import PluginData

from .records import Question, Subscription, question_key, question_prefix
from .tour import Stop


class State:
    """Typed access to the plugin data of the events plugin."""

    def __init__(self, data: PluginData) -> None:
        self.data = data

    # -- the tour ---------------------------------------------------------------------------
    async def stops(self) -> list[Stop]:
        """Every stop, file and admin-added, in date order (the file wins a clash of ids)."""
        from_file = [Stop.from_json(s) for s in await self.data.get("tour:file", [])]
        ids = {s.id for s in from_file}
        added = [Stop.from_json(s) for s in await self.data.get("tour:added", []) if s["id"] not in ids]
        return sorted([*from_file, *added], key=lambda s: (s.start, s.id))

    async def stop(self, stop_id: str) -> Stop | None:
        return next((s for s in await self.stops() if s.id == stop_id), None)

    def save_file_stops(self, stops: list[Stop]) -> None:
        self.data.set("tour:file", [s.to_json() for s in stops])

    async def add_stop(self, stop: Stop) -> None:
        added = await self.data.get("tour:added", [])
        self.data.set("tour:added", [*added, stop.to_json()])

    async def remove_stop(self, stop_id: str) -> bool:
        added = await self.data.get("tour:added", [])
        kept = [s for s in added if s["id"] != stop_id]
        self.data.set("tour:added", kept)
        return len(kept) != len(added)

    # -- subscriptions ----------------------------------------------------------------------
    async def subscription(self, follower_id: int) -> Subscription | None:
        raw = await self.data.get(f"sub:f{follower_id}:")
        return Subscription.from_json(raw) if raw else None

    def save_subscription(self, sub: Subscription) -> None:
        key = f"sub:f{sub.follower_id}:"
        if sub.empty:
            self.data.delete(key)
        else:
            self.data.set(key, sub.to_json(), follower_id=sub.follower_id)

    async def subscriptions(self) -> list[Subscription]:
        return [Subscription.from_json(v) for _, v in await self.data.items("sub:") if v]

    # -- Q&A --------------------------------------------------------------------------------
    async def open_qa(self) -> str | None:
        raw = await self.data.get("qa:open")
        return raw["stop"] if raw else None

    def set_open_qa(self, stop_id: str | None, now: datetime) -> None:
        if stop_id is None:
            self.data.delete("qa:open")
        else:
            self.data.set("qa:open", {"stop": stop_id, "since": now.isoformat()})

    async def next_number(self, stop_id: str) -> int:
        number = int(await self.data.get(f"qa:count:{stop_id}", 0)) + 1
        self.data.set(f"qa:count:{stop_id}", number)
        return number

    async def questions(self, stop_id: str) -> list[Question]:
        found = [Question.from_json(v) for _, v in await self.data.items(question_prefix(stop_id))]
        return sorted(found, key=lambda q: q.number)

    def save_question(self, q: Question) -> None:
        self.data.set(question_key(q.stop, q.number, q.follower_id), q.to_json(), follower_id=q.follower_id)

    async def count_asked(self, stop_id: str, follower_id: int) -> int:
        """Count one more question by this person at this stop; returns the new total."""
        key = f"asked:{stop_id}:f{follower_id}:"
        total = int(await self.data.get(key, 0)) + 1
        self.data.set(key, total, follower_id=follower_id)
        return total

    # -- attendance -------------------------------------------------------------------------
    async def mark(self, what: str, stop_id: str, follower_id: int) -> None:
        """Remember once that a person took part (``seen``) or first wrote (``new``) during a stop."""
        key = f"{what}:{stop_id}:f{follower_id}:"
        if await self.data.get(key) is None:
            self.data.set(key, 1, follower_id=follower_id)

    async def count(self, what: str, stop_id: str) -> int:
        return len(await self.data.items(f"{what}:{stop_id}:f"))

    # -- once-only work ---------------------------------------------------------------------
    async def claim(self, name: str, now: datetime) -> bool:
        """True the first time ``name`` is claimed: scheduled work runs once even if started twice.

        The first read may wait for the database; the second is then served from the
        store's memory without yielding, so no other job can slip in between the check
        and the write (two scheduler passes can run the same due job concurrently).
        """
        key = f"ran:{name}"
        await self.data.get(key)
        if await self.data.get(key) is not None:
            return False
        self.data.set(key, now.isoformat())
        return True

    async def recap_sent(self, stop_id: str) -> datetime | None:
        """When the stop's recap went to the staff (it was closed then), if it did."""
        raw = await self.data.get(f"recap:{stop_id}")
        return datetime.fromisoformat(raw) if raw else None

    def set_recap_sent(self, stop_id: str, now: datetime) -> None:
        self.data.set(f"recap:{stop_id}", now.isoformat())
