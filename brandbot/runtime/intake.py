"""Intake: the path every event takes, from a network to committed effects.

    network --submit--> lanes (a conversation's events in order; follows, joins,
        reposts and reactions in their person's order; bounded: back-pressure)
      -> dedupe -> the person (one event per person at a time) -> count and score
      -> route (routing.py): watchers, then responders until one handles it
      -> milestones (only where they add to the event's own handling)
      -> Effects -> one transaction per batch -> replies to the outbox (sending.py)

First of the three files of the message path; ``routing.py`` and ``sending.py`` follow.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from brandbot.clocks import Clock
from brandbot.core import loyalty
from brandbot.core.config import BotConfig
from brandbot.core.effects import Effects, Processed
from brandbot.core.events import Event, Kind, Person
from brandbot.core.fastinit import fast_init
from brandbot.core.records import Direction, FollowerRecord, Interaction
from brandbot.runtime.context import Context, Services
from brandbot.runtime.lanes import Lanes
from brandbot.runtime.metrics import Metrics
from brandbot.runtime.routing import Router, RouteResult
from brandbot.runtime.sending import Note
from brandbot.runtime.transaction import Transactions
from brandbot.runtime.unitofwork import Inflight
from brandbot.store.base import Store

log = logging.getLogger("brandbot")

#: Kinds that are about one person, not a turn in a conversation.
PERSONAL_KINDS = frozenset({Kind.FOLLOW, Kind.JOIN, Kind.REPOST, Kind.REACTION})

#: Authors of queued events read ahead in one go (see Intake._prefetch).
PREFETCH_BATCH = 256

#: Responders below this priority only speak when nothing else does (the fallback):
#: a milestone's thanks may take their place.
FALLBACK_PRIORITY = 0


def lane_key(event: Event) -> tuple[str, ...]:
    """Which events must be handled one after another, in arrival order.

    Messages, mentions, replies, quotes and commands keep their conversation's order (a
    thread is answered in the order it was written). Follows, joins, reposts and
    reactions are about one person: they keep that person's order only. Putting them in
    their "conversation" (the brand profile, a group, a brand post) would make thousands
    of people queue in one lane, handled one per loop turn.
    """
    if event.kind in PERSONAL_KINDS:
        return (event.network, "person", event.author.id)
    return event.conversation.key


def share_key(event: Event, follower_id: int) -> str | None:
    """The once-key of one person's share of one post (None: the event is not a share).

    Loyalty counts and scores a share only the first time: a second repost of the same
    post (undo and redo, or a forward again) is history, not a new share.
    """
    if event.kind not in (Kind.REPOST, Kind.QUOTE) or not event.refers_to:
        return None
    network, post = (part.replace("%", "%25").replace(":", "%3A") for part in (event.network, event.refers_to))
    return f"loyalty:share:{network}:{post}:f{follower_id}:"


@fast_init
@dataclass(frozen=True, slots=True)
class Handled:
    """What happened to one event: for simulate, tests and logs."""

    event: Event
    duplicate: bool = False
    handled_by: str | None = None
    notes: tuple[Note, ...] = ()
    follower_id: int = 0


class _NoSettings:
    """Placeholder config for contexts that are not inside a plugin (rules)."""

    def model_dump(self) -> dict[str, Any]:
        return {}


_NO_SETTINGS: Any = _NoSettings()


class Intake:
    """Lanes, dedupe, the person lock, scoring and routing; effects go to the transactions."""

    def __init__(self, *, store: Store, clock: Clock, metrics: Metrics, services: Services, inflight: Inflight,
                 transactions: Transactions, config: Callable[[], BotConfig], router: Callable[[], Router]) -> None:
        self._store = store
        self._clock = clock
        self._metrics = metrics
        self._services = services
        self._inflight = inflight
        self._transactions = transactions
        self._config = config
        self._router = router
        self._person_locks: dict[int, list[Any]] = {}  # follower id -> [lock, users]
        self._finished = 0  # events that left the person lock (see handle_uncommitted)
        self._unfetched: deque[Person] = deque()  # authors of queued events, not yet prefetched
        self.stats: dict[str, int] = {"events": 0, "duplicates": 0}
        self.handled: deque[Handled] | None = None  # set to a deque to keep a trace (simulate, tests)
        runtime = config().top.runtime
        self.lanes: Lanes[Event] = Lanes(self._handle_safely, max_concurrency=runtime.max_concurrency,
                                         max_queued=runtime.queue_size)

    async def submit(self, event: Event) -> None:
        """Queue an event (waits while the intake is full: the network slows down)."""
        await self.lanes.submit(lane_key(event), event)
        self._unfetched.append(event.author)

    async def settled(self) -> None:
        """Every queued event handled and its effects committed (replies queued to send)."""
        await self.lanes.join()
        await self._transactions.committed()

    async def handle(self, event: Event) -> Handled:
        """Handle one event start to finish and wait for its commit (simulate and tests)."""
        result = await self.handle_uncommitted(event)
        await self._transactions.committed()
        return result

    async def _handle_safely(self, event: Event) -> None:
        try:
            result = await self.handle_uncommitted(event)
            if self.handled is not None:
                self.handled.append(result)
        except Exception:
            log.exception("event %s:%s could not be handled", event.network, event.id)

    async def handle_uncommitted(self, event: Event) -> Handled:
        """Handle one event; its effects are written and committed with the current batch."""
        if self._unfetched:
            await self._prefetch()
        if await self._store.is_processed(event.network, event.id):
            self.stats["duplicates"] += 1
            return Handled(event, duplicate=True)
        self.stats["events"] += 1
        self._metrics.event_in(event.network, event.kind.value)
        event = self._truncate(event)
        now = self._clock.now()
        finished_before = self._finished
        stored, created = await self._store.resolve(event.author, now)
        # One event per person at a time (their conversations may differ): the person's
        # counts written with one event must never include another event still running.
        held = self._person_locks.get(stored.id)
        if held is None:
            held = self._person_locks[stored.id] = [asyncio.Lock(), 0]
        held[1] += 1
        try:
            # The store is read again only if another event may have written the record
            # since ``resolve``: another event of this person holds or awaits the lock (their
            # count, not ``locked()``: a released lock reads unlocked while the waiter it woke
            # has not run yet), or any event finished while resolve waited (a store that reads
            # over the network; SQLite's never waits).
            reread = held[1] > 1 or self._finished != finished_before
            async with held[0]:
                return await self._handle_person(event, stored, created, now, reread=reread)
        finally:
            self._finished += 1
            held[1] -= 1
            if held[1] == 0:
                del self._person_locks[stored.id]

    async def _prefetch(self) -> None:
        """The people of the next queued events read from the store at once (one read, not
        one per person): queued events are handled in about the order they came."""
        unfetched = self._unfetched
        batch = [unfetched.popleft() for _ in range(min(len(unfetched), PREFETCH_BATCH))]
        await self._store.prefetch_people(batch)

    def _truncate(self, event: Event) -> Event:
        limit = self._config().top.runtime.max_text
        if len(event.text) <= limit:
            return event
        log.warning("event %s:%s text truncated from %d to %d characters", event.network, event.id,
                    len(event.text), limit)
        return dataclasses.replace(event, text=event.text[:limit])

    async def _handle_person(self, event: Event, stored: FollowerRecord, created: bool, now: datetime, *,
                             reread: bool) -> Handled:
        # Another event (of this person, or one whose plugin changed this person) may hold a
        # newer record in flight; one may also have finished while we waited: read again.
        latest = self._inflight.latest(stored.id)
        if latest is not None:
            stored = latest
        elif reread:
            stored = await self._store.get_follower(stored.id) or stored
        follower = self._inflight.begin(stored)
        fid = follower.id
        effects = Effects(processed=Processed(event.network, event.id, now))
        config = self._config().top
        try:
            share = share_key(event, fid)
            repeat = share is not None and (effects.once_key_pending(share) or await self._store.once_used(share))
            if repeat:  # one share of one post is counted (and thanked) once
                scored = loyalty.Scored(follower, 0, ())
            else:
                scored = loyalty.apply(follower, event.kind.value, event.network, now, config.loyalty)
                if share is not None:
                    effects.once_keys.append((share, now))
            follower = scored.follower
            self._inflight.update(follower)
            keep_text = config.storage.text_retention_days > 0
            self._inflight.add_interaction(Interaction(
                follower_id=fid, time=now, direction=Direction.IN, kind=event.kind.value,
                network=event.network, conversation_id=event.conversation.id, event_id=event.id,
                text=event.text if keep_text else "", points=scored.awarded,
                source=loyalty.REPEAT_SHARE if repeat else "",
            ))
            is_admin = self._config().is_admin(event.network, event.author.id, event.author.handle)
            notes: list[Note] = []
            router = self._router()
            ctx = self._context(event, follower, created, is_admin, notes, effects)
            own_answer = len(effects.outbox)
            result = await router.dispatch(ctx)
            follower = ctx.follower
            if scored.milestones and router.wants(Kind.MILESTONE):
                await self._milestones(event, scored.milestones, follower, created, is_admin, notes, effects,
                                       result, own_answer)
            # A plugin may have merged or forgotten this person while we worked.
            still_there = await self._store.get_follower(fid) is not None
        except BaseException:
            self._inflight.drop(fid)  # the event will be replayed: nothing of it is written ...
            # ... but the plugin data it shared: other events may already have built on it.
            self._transactions.add(Effects(data=self._services.shared_data.release(effects)))
            raise
        self._finish(event, fid, still_there, effects)
        return Handled(event, handled_by=result.handled_by, notes=tuple(notes), follower_id=fid)

    async def _milestones(self, event: Event, milestones: Any, follower: FollowerRecord, created: bool,
                          is_admin: bool, notes: list[Note], effects: Effects, result: RouteResult,
                          own_answer: int) -> None:
        """Milestones never override the event's own handling.

        Watchers always see them. A milestone may answer (the thanks) only when the event
        itself was not handled, or only by a fallback, and never to an opted-out person or an admin;
        the fallback's answer, not yet committed, is then withdrawn for the thanks.
        """
        router = self._router()
        fallback_only = result.handled_by is None or (result.priority is not None
                                                        and result.priority < FALLBACK_PRIORITY)
        may_answer = fallback_only and not follower.opted_out and not is_admin  # the team is not thanked
        answered = False
        for i, milestone in enumerate(milestones):
            derived = dataclasses.replace(
                event, kind=Kind.MILESTONE, id=f"{event.id}#m{i}", text=milestone.label, command=None, args=(),
                data=(("milestone", milestone.kind), ("value", str(milestone.value)),
                      ("tier", milestone.tier), ("previous_tier", milestone.previous_tier)),
            )
            before = len(effects.outbox)
            mctx = self._context(derived, follower, created, is_admin, notes, effects)
            await router.dispatch(mctx, responders_allowed=may_answer and not answered)
            follower = mctx.follower
            if len(effects.outbox) > before and not answered:
                answered = True
                withdrawn = effects.outbox[own_answer:before]
                del effects.outbox[own_answer:before]
                for entry in withdrawn:
                    notes.append(Note(entry.source, "skip", "withdrawn: a milestone thanks the person instead",
                                      entry.text, entry.network, entry.conversation_id))

    def _finish(self, event: Event, fid: int, still_there: bool, effects: Effects) -> None:
        """Gather the event's effects (the person's record and rows, data) and hand them over."""
        held = self._inflight.end(fid)
        if held is not None:
            record, rows = held
            effects.follower = record if still_there else None
            effects.interactions[:0] = rows
        if event.conversation.private:
            self._services.sending.note_dm(event, fid, effects)
        effects.data.extend(self._services.shared_data.release(effects))
        self._transactions.add(effects)

    def _context(self, event: Event, follower: FollowerRecord, first_contact: bool, is_admin: bool,
                 notes: list[Note], effects: Effects) -> Context[Any]:
        return Context(services=self._services, plugin_name="", config=_NO_SETTINGS, event=event,
                       follower=follower, first_contact=first_contact, is_admin=is_admin, notes=notes,
                       log=log, effects=effects)


__all__ = ["PERSONAL_KINDS", "Handled", "Intake", "lane_key", "share_key"]
