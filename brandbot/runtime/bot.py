"""The Bot: wiring, lifecycle, and the path every event takes.

    network --submit--> Lanes (per-conversation order, per person for follows and
                        reposts: see lane_key; back-pressure)
        --> _handle: dedupe -> resolve follower -> count + score (loyalty)
                     -> record the interaction (write-behind)
                     -> milestones first, then the Router (watchers, responders)
                     -> mark processed
    ctx.reply --> outbound: Policy.decide --> Outbox (persisted, rate-limited) --> network.send

Start with :meth:`Bot.from_config` and :meth:`Bot.run`; tests use
``brandbot.testing`` which builds the same Bot on an in-memory network and store.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import random
import signal
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from brandbot.core import loyalty
from brandbot.runtime.checks import load_rule_book, run_plugin_checks
from brandbot.clocks import Clock, SystemClock
from brandbot.core.config import BotConfig, load_config
from brandbot.runtime.context import Context, JobContext, Note
from brandbot.core.errors import ConfigError, PermanentSendError, PluginError, SendError
from brandbot.core.events import Conversation, Event, Kind, Person, Reply
from brandbot.runtime.lanes import Lanes
from brandbot.core.lru import Lru
from brandbot.runtime.metrics import Metrics
from brandbot.networks.base import CommandSpec, Network, NetworkState
from brandbot.networks.registry import build_network
from brandbot.runtime.outbox import Outbox
from brandbot.core.plugin import LoadedPlugin
from brandbot.runtime.loader import configure, load_plugins
from brandbot.core.policy import Decision, Policy, Reason, SendRequest, Verdict
from brandbot.runtime.routing import Router
from brandbot.runtime.rule_responder import RuleResponders
from brandbot.store.base import Store, find_person
from brandbot.core.records import (
    Direction,
    FollowerRecord,
    Interaction,
    Job,
    OutboxEntry,
    OutboxStatus,
)
from brandbot.store.sqlite import SqliteStore
from brandbot.runtime.supervisor import NetworkSupervisor
from brandbot.core.templates import TemplateEngine, build_context
from brandbot.runtime.unitofwork import Inflight, SharedData, Staged

log = logging.getLogger("brandbot")

HANDOFF_NAMESPACE = "core.handoff"
COST_NAMESPACE = "core.cost"
DM_NAMESPACE = "core.dm"
OPEN_DMS_REMEMBERED = 10_000  # private conversations known open without asking the store
STORE_BACKLOG_LIMIT = 2_000  # buffered writes before handlers wait for a commit


#: Kinds that are about one person, not a turn in a conversation.
PERSONAL_KINDS = frozenset({Kind.FOLLOW, Kind.JOIN, Kind.REPOST, Kind.REACTION})


def lane_key(event: Event) -> tuple[str, ...]:
    """Which events must be handled one after another, in arrival order.

    Messages, mentions, replies, quotes and commands keep their conversation's order (a
    thread is answered in the order it was written). Follows, joins, reposts and
    reactions are about one person: they keep that person's order only. Putting them in
    their "conversation" (the brand profile, a group, a brand post) would make thousands
    of people queue in one lane, handled one per loop turn: under load those lanes fell
    seconds behind.
    """
    if event.kind in PERSONAL_KINDS:
        return (event.network, "person", event.author.id)
    return event.conversation.key


@dataclass(frozen=True, slots=True)
class Handled:
    """What happened to one event: for simulate, tests and logs."""

    event: Event
    duplicate: bool = False
    handled_by: str | None = None
    notes: tuple[Note, ...] = ()
    follower_id: int = 0


class Handoffs:
    """Conversations a human has taken over, with the time the bot may speak again."""

    def __init__(self) -> None:
        self._until: dict[tuple[str, str], datetime] = {}

    def active(self, key: tuple[str, str], now: datetime) -> bool:
        until = self._until.get(key)
        if until is None:
            return False
        if until <= now:
            del self._until[key]
            return False
        return True

    def set(self, key: tuple[str, str], until: datetime) -> None:
        self._until[key] = until

    def clear(self, key: tuple[str, str]) -> bool:
        return self._until.pop(key, None) is not None

    def items(self) -> list[tuple[tuple[str, str], datetime]]:
        return sorted(self._until.items(), key=lambda kv: kv[1])


class CostMeter:
    """Estimated sending cost per UTC day (X bills per post), persisted in plugin data."""

    def __init__(self) -> None:
        self._by_day: dict[str, float] = {}

    def today(self, now: datetime) -> float:
        return self._by_day.get(now.date().isoformat(), 0.0)

    def add(self, now: datetime, amount: float) -> tuple[str, float]:
        day = now.date().isoformat()
        self._by_day[day] = self._by_day.get(day, 0.0) + amount
        return day, self._by_day[day]

    def load(self, day: str, amount: float) -> None:
        self._by_day[day] = amount

    def days(self) -> dict[str, float]:
        return dict(self._by_day)


class Bot:
    """One running brand bot. Implements the NetworkHost every adapter talks to."""

    def __init__(
        self,
        config: BotConfig,
        *,
        store: Store | None = None,
        networks: Mapping[str, Network] | None = None,
        clock: Clock | None = None,
        plugins: Sequence[LoadedPlugin] | None = None,
        dry_run: bool = False,
        rng: random.Random | None = None,
        metrics: Any = None,
    ) -> None:
        self.config = config
        self.metrics: Metrics = metrics or Metrics()
        self.clock: Clock = clock or SystemClock()
        self.log = log
        self.store: Store = store or SqliteStore(config.storage_path, commit_delay=config.top.storage.commit_delay)
        if getattr(self.store, "on_flush", "missing") is None:
            self.store.on_flush = self.metrics.store_flush  # type: ignore[attr-defined]
        self.health_server: Any = None
        self.redactor: Any = None
        self.templates = TemplateEngine(config.brand, lazy=True)
        self.policy = Policy(config.top.policy)
        self.policy_counts_sends = config.top.policy.rate_budget_per_hour is not None
        self.dry_run = dry_run
        self._rng = rng or random.Random()
        self.networks: dict[str, Network] = dict(networks) if networks is not None else self._build_networks()
        self._own_plugins = plugins is None
        self._generation = 0
        self.plugins: list[LoadedPlugin] = list(plugins) if plugins is not None else load_plugins(
            config.plugins, config.plugin_dirs, config.doc
        )
        run_plugin_checks(self.plugins, config)
        book = load_rule_book(config, self.templates, self.networks, measure=False)
        self.rules = RuleResponders(book, self, rng=self._rng)
        self.router = self._build_router()
        self.outbox = Outbox(self.store, self.networks, self.clock, on_sent=self._on_sent,
                             on_failed=self._on_failed, rng=self._rng, metrics=self.metrics)
        self.metrics.set_outbox_depth(self.outbox.depth)
        self.handoffs = Handoffs()
        self.costs = CostMeter()
        self.health: dict[str, tuple[NetworkState, str]] = {}
        self.stats: dict[str, int] = {"events": 0, "duplicates": 0, "replies": 0, "refused": 0, "deferred": 0}
        self._recent_sends: deque[datetime] = deque()  # only kept when an hourly budget is set
        self._stop_requested = asyncio.Event()
        self._stop_reason = ""
        self._started = False
        self._background: list[asyncio.Task[None]] = []
        self._network_tasks: list[asyncio.Task[None]] = []
        self._periodic_tasks: list[asyncio.Task[None]] = []
        self._jobs_lock = asyncio.Lock()
        self._open_dms: Lru[str, bool] = Lru(OPEN_DMS_REMEMBERED)  # the rest are asked of the store
        self.inflight = Inflight()
        self.shared_data = SharedData()
        self._person_locks: dict[int, list[Any]] = {}  # follower id -> [lock, users]
        self.supervisors: dict[str, NetworkSupervisor] = {}
        runtime = config.top.runtime
        self.lanes: Lanes[Event] = Lanes(self._handle_safely, max_concurrency=runtime.max_concurrency, max_queued=runtime.queue_size)
        self.handled: deque[Handled] | None = None  # set to a deque to keep a trace (simulate, tests)
        self.trace: list[Note] | None = None  # set to a list to see proactive sends (simulate)

    @classmethod
    def from_config(cls, path: str | Path, **kwargs: Any) -> "Bot":
        return cls(load_config(path), **kwargs)

    # -- construction ---------------------------------------------------------------------
    def _build_networks(self) -> dict[str, Network]:
        nets: dict[str, Network] = {}
        for section in self.config.networks:
            nets[section.name] = build_network(
                section.name, dict(section.settings), doc=self.config.doc, loc=section.loc,
                where=section.where, clock=self.clock,
            )
        return nets

    def _build_router(self) -> Router:
        handlers = [h for lp in self.plugins for h in lp.plugin.handlers]
        settings = {lp.plugin.name: lp.settings for lp in self.plugins}
        rule_kinds = {k for rule in self.rules.book.rules for k in rule.kinds}
        return Router(handlers, self.rules.candidates, timeout=self.config.top.runtime.handler_timeout,
                      settings=settings, rule_kinds=rule_kinds, on_latency=self.metrics.handler_latency)

    # -- NetworkHost ----------------------------------------------------------------------
    async def submit(self, event: Event) -> None:
        await self.lanes.submit(lane_key(event), event)

    async def settled(self) -> None:
        await self.lanes.join()
        await self.store.flush()

    async def load_cursor(self, key: str) -> str | None:
        return await self.store.get_cursor(key)

    async def save_cursor(self, key: str, value: str) -> None:
        self.store.set_cursor(key, value)

    def _set_health(self, network: str, state: NetworkState, detail: str = "") -> None:
        self.health[network] = (state, detail)
        log.info("network %s: %s %s", network, state.value, detail)

    def commands(self) -> list[CommandSpec]:
        specs = {h.command: CommandSpec(h.command, h.description or h.command, h.admin_only)
                 for h in self.router.commands() if h.command}
        return sorted(specs.values(), key=lambda c: c.name)

    def request_stop(self, reason: str = "") -> None:
        self._stop_reason = reason or "stop requested"
        self._stop_requested.set()

    async def mark_unreachable(self, network: str, user_id: str) -> None:
        found = await self.store.find_follower(network, user_id)
        follower = (self.inflight.latest(found.id) or found) if found is not None else None
        if follower is not None and network not in follower.unreachable:
            self._save_follower(dataclasses.replace(follower, unreachable=follower.unreachable | {network}))
            log.info("follower %d is unreachable on %s (blocked the bot)", follower.id, network)

    # -- the event path -------------------------------------------------------------------
    async def _handle_safely(self, event: Event) -> None:
        try:
            result = await self.handle(event)
            if self.handled is not None:
                self.handled.append(result)
            # Durability before speed: when writes pile up faster than they are committed,
            # wait for the commit (the intake queue then fills and networks slow down).
            if self.store.backlog() > STORE_BACKLOG_LIMIT:
                await self.store.ensure_committed(self.store.write_seq())
        except Exception:
            log.exception("event %s:%s could not be handled", event.network, event.id)

    def _truncate(self, event: Event) -> Event:
        limit = self.config.top.runtime.max_text
        if len(event.text) <= limit:
            return event
        log.warning("event %s:%s text truncated from %d to %d characters", event.network, event.id, len(event.text), limit)
        return dataclasses.replace(event, text=event.text[:limit])

    async def handle(self, event: Event) -> Handled:
        """Handle one event start to finish (used directly by simulate and tests).

        The event's writes (its interaction, the follower's new counts, replies, once-keys
        and the processed mark) are staged and handed to the store together at the end,
        so a crash leaves either all of them or none: a replay is then either a
        duplicate or handled afresh, never counted or answered twice.
        """
        store = self.store
        if await store.is_processed(event.network, event.id):
            self.stats["duplicates"] += 1
            return Handled(event, duplicate=True)
        self.stats["events"] += 1
        self.metrics.event_in(event.network, event.kind.value)
        event = self._truncate(event)
        now = self.clock.now()
        stored, created = await store.resolve(event.author, now)
        # One event per person at a time (their conversations may differ): the person's
        # counts written with one event must never include another event still running.
        held = self._person_locks.get(stored.id)
        if held is None:
            held = self._person_locks[stored.id] = [asyncio.Lock(), 0]
        held[1] += 1
        try:
            async with held[0]:
                return await self._handle_person(event, stored, created, now)
        finally:
            held[1] -= 1
            if held[1] == 0:
                del self._person_locks[stored.id]

    async def _handle_person(self, event: Event, stored: FollowerRecord, created: bool, now: datetime) -> Handled:
        store = self.store
        # Another event of this person may have finished while we waited: read again.
        stored = self.inflight.latest(stored.id) or await store.get_follower(stored.id) or stored
        follower = self.inflight.begin(stored)
        fid = follower.id
        stage = Staged()
        try:
            scored = loyalty.apply(follower, event.kind.value, event.network, now, self.config.top.loyalty)
            follower = scored.follower
            self.inflight.update(follower)
            keep_text = self.config.top.storage.text_retention_days > 0
            self.inflight.add_interaction(Interaction(
                follower_id=fid, time=now, direction=Direction.IN, kind=event.kind.value,
                network=event.network, conversation_id=event.conversation.id, event_id=event.id,
                text=event.text if keep_text else "", points=scored.awarded,
            ))
            is_admin = self.config.is_admin(event.network, event.author.id, event.author.handle)
            notes: list[Note] = []
            milestone_replied = False
            milestones = scored.milestones if self.router.wants(Kind.MILESTONE) else ()
            for i, milestone in enumerate(milestones):
                derived = dataclasses.replace(
                    event, kind=Kind.MILESTONE, id=f"{event.id}#m{i}", text=milestone.label, command=None, args=(),
                    data=(("milestone", milestone.kind), ("value", str(milestone.value)),
                          ("tier", milestone.tier), ("previous_tier", milestone.previous_tier)),
                )
                mctx = self._context(derived, follower, created, is_admin, notes, stage)
                await self.router.dispatch(mctx, responders_allowed=not milestone_replied)
                follower = mctx.follower
                milestone_replied = milestone_replied or mctx.replied
            ctx = self._context(event, follower, created, is_admin, notes, stage)
            result = await self.router.dispatch(ctx, responders_allowed=not milestone_replied)
            # A plugin may have merged or forgotten this person while we worked.
            still_there = await store.get_follower(fid) is not None
        except BaseException:
            self.inflight.drop(fid)
            self._write_shared_data(stage)  # others may have built on these values: keep them
            raise
        self._commit_event(event, fid, still_there, stage, now)
        return Handled(event, handled_by=result.handled_by, notes=tuple(notes), follower_id=fid)

    def _commit_event(self, event: Event, fid: int, still_there: bool, stage: Staged, now: datetime) -> None:
        """Hand an event's staged writes to the store in one synchronous burst (one batch)."""
        store = self.store
        held = self.inflight.end(fid)
        if held is not None:
            record, rows = held
            if still_there:
                store.put_follower(record)
            for row in rows:
                store.add_interaction(row)
        if event.conversation.private:
            self._note_dm(event, fid)
        for key, at in stage.once_keys:
            store.mark_once(key, at)
        self._write_shared_data(stage)
        for name, job in stage.jobs.items():
            if job is None:
                store.delete_job(name)
            else:
                store.put_job(job)
        replying = False
        for entry in stage.outbox:
            if entry.status is OutboxStatus.PENDING and not self.dry_run:
                self.outbox.enqueue(entry)
                replying = True
            else:
                store.put_outbox(entry)
        store.mark_processed(event.network, event.id, now)
        if replying:  # the reply may only go once this is committed: start that now
            store.request_commit()

    def _write_shared_data(self, stage: Staged) -> None:
        """Hand the store the latest values of the plugin data this event wrote."""
        for (namespace, key), value, about in self.shared_data.release(stage):
            if value is None:
                self.store.kv_delete(namespace, key)
            else:
                self.store.kv_set(namespace, key, value, about)

    def _context(self, event: Event, follower: FollowerRecord, first_contact: bool, is_admin: bool,
                 notes: list[Note], stage: Staged | None = None) -> Context:
        return Context(bot=self, plugin_name="", config=_NO_SETTINGS, event=event, follower=follower,
                       first_contact=first_contact, is_admin=is_admin, notes=notes, log=log, stage=stage)

    def template_context(self, event: Event, follower: FollowerRecord, first_contact: bool,
                         extra: Mapping[str, Any] | None) -> dict[str, Any]:
        return build_context(event=event, follower=follower, first_contact=first_contact, now=self.clock.now(),
                             brand=self.config.brand, extra=extra)

    # -- outgoing -------------------------------------------------------------------------
    async def outbound(self, reply: Reply, *, event: Event | None, follower: FollowerRecord | None,
                       essential: bool = False, once_key: str | None = None,
                       notes: list[Note] | None = None, person_wrote_first: bool = False,
                       stage: Staged | None = None) -> Decision:
        """Ask the policy, then record the reply in the outbox (or its refusal, with the reason)."""
        now = self.clock.now()
        network = self.networks.get(reply.network)
        if network is None:
            decision = Decision(Verdict.REFUSE, Reason.UNREACHABLE, f"network {reply.network!r} is not running", None)
        else:
            private = reply.conversation.private
            wrote_first = event is not None and event.conversation.key == reply.conversation.key
            cutoff = now - timedelta(hours=1)
            while self._recent_sends and self._recent_sends[0] <= cutoff:
                self._recent_sends.popleft()
            request = SendRequest(
                network=reply.network,
                requires_summons=network.requires_summons,
                event_kind=event.kind.value if event is not None else None,
                addressed=event.addressed if event is not None else False,
                private=private,
                person_wrote_first=wrote_first or person_wrote_first or not private,
                opted_out=bool(follower and follower.opted_out),
                unreachable=bool(follower and reply.network in follower.unreachable),
                once_key_used=bool(once_key) and await self.store.once_used(once_key or ""),
                handed_off=self.handoffs.active(reply.conversation.key, now),
                now=now,
                cost=network.cost_of(reply.text),
                cost_spent_today=self.costs.today(now),
                sent_last_hour=len(self._recent_sends),
                text_problem=network.check_text(reply.text),
                essential=essential,
            )
            decision = self.policy.decide(request)
        entry = OutboxEntry(
            id=self.store.next_outbox_id(), network=reply.network, conversation_id=reply.conversation.id,
            conversation_private=reply.conversation.private, text=reply.text, created=now,
            next_try=decision.until or now,
            status=OutboxStatus.REFUSED if decision.verdict is Verdict.REFUSE else OutboxStatus.PENDING,
            in_reply_to=reply.in_reply_to or "", recipient_id=reply.recipient.id if reply.recipient else "",
            follower_id=follower.id if follower else 0, event_id=reply.event_id or "", source=reply.source,
            reason="" if decision.verdict is Verdict.ALLOW else f"{decision.reason}: {decision.detail}",
        )
        action = {Verdict.ALLOW: "send", Verdict.DEFER: "defer", Verdict.REFUSE: "refuse"}[decision.verdict]
        self.metrics.decision(reply.network, action, decision.reason.value)
        if notes is None:
            notes = self.trace  # proactive messages (jobs, staff notices): kept when tracing
        if notes is not None:
            notes.append(Note(reply.source, action, "" if decision.verdict is Verdict.ALLOW else f"{decision.reason}: {decision.detail}",
                              reply.text, reply.network, reply.conversation.id))
        if decision.verdict is Verdict.REFUSE:
            self.stats["refused"] += 1
            if stage is not None:
                stage.outbox.append(entry)
            else:
                self.store.put_outbox(entry)
            if follower is not None:
                self._record(Interaction(
                    follower_id=follower.id, time=now, direction=Direction.OUT, kind="refused",
                    network=reply.network, conversation_id=reply.conversation.id, event_id=reply.event_id or "",
                    text=f"{decision.reason}: {decision.detail}", source=reply.source,
                ))
            log.info("refused reply from %s on %s: %s", reply.source, reply.network, decision.reason)
            return decision
        if self.policy_counts_sends:
            self._recent_sends.append(now)
        self.stats["deferred" if decision.verdict is Verdict.DEFER else "replies"] += 1
        if stage is not None:  # written with the event, all or nothing
            if once_key:
                stage.once_keys.append((once_key, now))
            stage.outbox.append(entry)
            return decision
        if once_key:
            self.store.mark_once(once_key, now)
        if self.dry_run:
            self.store.put_outbox(entry)
        else:
            self.outbox.enqueue(entry)
        return decision

    async def announce(self, conversation: Conversation, text: str, *, source: str, essential: bool = True,
                       follower: FollowerRecord | None = None) -> Decision:
        """A proactive message (staff notices, reminders): no event, still through the policy.

        With ``follower`` the person's opt-out and reachability are checked; a private
        conversation is allowed only if the person wrote to the bot there before.
        """
        reply = Reply(network=conversation.network, conversation=conversation, text=text, source=source)
        wrote_first = conversation.private and await self.dm_open(conversation)
        return await self.outbound(reply, event=None, follower=follower, essential=essential,
                                   person_wrote_first=wrote_first)

    async def dm_open(self, conversation: Conversation) -> bool:
        """Whether the person has written to the bot in this private conversation."""
        key = f"{conversation.network}:{conversation.id}"
        if self._open_dms.get(key, False):
            return True
        if await self.store.kv_get(DM_NAMESPACE, key) is not None:
            self._open_dms.put(key, True)
            return True
        return False

    def _note_dm(self, event: Event, follower_id: int) -> None:
        key = f"{event.network}:{event.conversation.id}"
        if not self._open_dms.get(key, False):
            self._open_dms.put(key, True)
            self.store.kv_set(DM_NAMESPACE, key, event.time.isoformat(), follower_id)

    async def notify_staff(self, text: str, *, source: str) -> Decision:
        staff = self.config.top.staff
        return await self.announce(Conversation(staff.network, staff.conversation), text, source=source)

    async def _on_sent(self, entry: OutboxEntry) -> None:
        network = self.networks.get(entry.network)
        now = self.clock.now()
        if network is not None:
            cost = network.cost_of(entry.text)
            if cost:
                day, total = self.costs.add(now, cost)
                self.store.kv_set(COST_NAMESPACE, day, f"{total:.4f}")
        if entry.follower_id:
            keep_text = self.config.top.storage.text_retention_days > 0
            self.store.add_interaction(Interaction(
                follower_id=entry.follower_id, time=now, direction=Direction.OUT, kind="reply",
                network=entry.network, conversation_id=entry.conversation_id, event_id=entry.event_id,
                text=entry.text if keep_text else "", source=entry.source,
            ))

    async def _on_failed(self, entry: OutboxEntry, exc: SendError | Exception) -> None:
        if isinstance(exc, PermanentSendError) and exc.unreachable and entry.recipient_id:
            await self.mark_unreachable(entry.network, entry.recipient_id)

    # -- follower actions (used by Context and rules) ---------------------------------------
    def _record(self, interaction: Interaction) -> None:
        """A history row: staged with the event in flight for that person, else buffered now."""
        if not self.inflight.add_interaction(interaction):
            self.store.add_interaction(interaction)

    def write_person_now(self, follower_id: int) -> None:
        """Hand the person's held record and rows to the store now, before the event ends.

        For plugins about to restructure people in the store (merging two followers),
        which must see the current event counted. Gives up the all-or-nothing guarantee
        for this one event, which such rare, explicit operations accept.
        """
        held = self.inflight.take(follower_id)
        if held is not None:
            record, rows = held
            self.store.put_follower(record)
            for row in rows:
                self.store.add_interaction(row)

    def _save_follower(self, follower: FollowerRecord) -> None:
        if not self.inflight.update(follower):
            self.store.put_follower(follower)

    async def _follower(self, follower_id: int) -> FollowerRecord:
        held = self.inflight.latest(follower_id)
        if held is not None:
            return held
        follower = await self.store.get_follower(follower_id)
        if follower is None:
            raise KeyError(f"no follower {follower_id}")
        return follower

    async def find_person(self, ref: str, default_network: str = "") -> FollowerRecord | None:
        """A follower by id ("12"), "network:handle" or a handle on ``default_network``."""
        return await find_person(self.store, ref, default_network)

    async def forget_person(self, follower_id: int, *, by: str = "") -> bool:
        """Erase a person from every table (GDPR), while running. Their event in flight, if
        any, is not written back: the store drops writes naming a forgotten follower."""
        forgotten = await self.store.forget_follower(follower_id, self.clock.now())
        if forgotten:
            log.info("forgot follower %d (asked by %s)", follower_id, by or "unknown")
        return forgotten

    async def tag_follower(self, follower_id: int, add: Iterable[str] = (), remove: Iterable[str] = ()) -> FollowerRecord:
        follower = await self._follower(follower_id)
        tags = (follower.tags | {t.strip().lower() for t in add if t.strip()}) - {t.strip().lower() for t in remove}
        updated = dataclasses.replace(follower, tags=frozenset(tags))
        self._save_follower(updated)
        return updated

    async def add_points(self, follower_id: int, points: int, reason: str = "") -> FollowerRecord:
        follower = await self._follower(follower_id)
        updated = loyalty.adjust_points(follower, points, self.config.top.loyalty)
        self._save_follower(updated)
        self._record(Interaction(
            follower_id=follower_id, time=self.clock.now(), direction=Direction.IN, kind=loyalty.POINTS_KIND,
            network="", conversation_id="", text=reason, source=reason, points=points,
        ))
        return updated

    async def set_opted_out(self, follower_id: int, opted_out: bool) -> FollowerRecord:
        follower = await self._follower(follower_id)
        updated = dataclasses.replace(follower, opted_out=opted_out)
        self._save_follower(updated)
        return updated

    async def handoff(self, conversation: Conversation, reason: str, *, follower: FollowerRecord | None = None) -> None:
        now = self.clock.now()
        until = now + timedelta(seconds=self.config.top.handoff.timeout)
        self.handoffs.set(conversation.key, until)
        self.store.kv_set(HANDOFF_NAMESPACE, f"{conversation.network}:{conversation.id}", until.isoformat())
        who = f"{follower.name} (follower {follower.id})" if follower else "someone"
        await self.notify_staff(
            f"Handoff: {who} on {conversation.network} in {conversation.title or conversation.id} needs a person "
            f"({reason}). The bot stays quiet there until /release {conversation.network}:{conversation.id} "
            f"or {until:%Y-%m-%d %H:%M} UTC.",
            source="core:handoff",
        )

    async def release(self, network: str, conversation_id: str) -> bool:
        self.store.kv_delete(HANDOFF_NAMESPACE, f"{network}:{conversation_id}")
        return self.handoffs.clear((network, conversation_id))

    # -- scheduled work ---------------------------------------------------------------------
    def schedule(self, plugin: str, job: str, at: datetime, payload: Mapping[str, Any], *, key: str = "",
                 stage: Staged | None = None) -> str:
        name = f"{plugin}:{job}:{key or self.store.next_outbox_id()}"
        record = Job(name=name, due=at, owner=plugin, payload=json.dumps(dict(payload), default=str))
        if stage is not None:
            stage.jobs[name] = record
        else:
            self.store.put_job(record)
        return name

    async def run_due_jobs(self) -> int:
        """Run every persisted job that is due; returns how many ran.

        One pass at a time (the scheduler loop and a test's ``advance`` may overlap), and
        every due job is removed before any runs, so none can run twice.
        """
        async with self._jobs_lock:
            return await self._run_due_jobs()

    async def _run_due_jobs(self) -> int:
        ran = 0
        handlers = {(j.plugin, j.name): (j, lp) for lp in self.plugins for j in lp.plugin.jobs}
        due = await self.store.due_jobs(self.clock.now())
        for job in due:
            self.store.delete_job(job.name)
        for job in due:
            plugin, _, rest = job.name.partition(":")
            kind = rest.split(":", 1)[0]
            found = handlers.get((plugin, kind))
            if found is None:
                log.error("job %s has no handler (plugin %s not enabled?); dropped", job.name, plugin)
                continue
            spec, lp = found
            ctx = JobContext(bot=self, plugin_name=plugin, config=lp.settings, payload=json.loads(job.payload), log=log)
            await self._run_job(spec.func, ctx, f"job {job.name}")
            ran += 1
        return ran

    async def _repeat(self, what: str, seconds: float, work: Callable[[], Awaitable[object]]) -> None:
        """Run ``work`` now and then every ``seconds``; a failure is logged, never fatal."""
        while True:
            try:
                await work()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s failed", what)
            await self.clock.sleep(seconds)

    async def maintain(self) -> tuple[int, int]:
        """Forget what the retention settings say to forget: old message text, old event ids.

        Returns (texts blanked, processed ids pruned). Counts and history rows stay.
        """
        storage = self.config.top.storage
        now = self.clock.now()
        blanked = await self.store.prune_text(now - timedelta(days=storage.text_retention_days))
        pruned = await self.store.prune_processed(now - timedelta(days=storage.processed_retention_days))
        if blanked or pruned:
            log.info("maintenance: blanked the text of %d old interactions, pruned %d old event ids", blanked, pruned)
        return blanked, pruned

    async def _periodic(self, lp: LoadedPlugin, spec: Any) -> None:
        while True:
            await self.clock.sleep(spec.interval)
            ctx = JobContext(bot=self, plugin_name=lp.plugin.name, config=lp.settings, log=log)
            await self._run_job(spec.func, ctx, f"periodic {lp.plugin.name}.{spec.name}")

    async def _run_job(self, func: Callable[[JobContext], Awaitable[object]], ctx: JobContext, what: str) -> None:
        """Run a scheduled or periodic plugin function under the handler timeout; a failure
        is logged, never fatal."""
        try:
            async with asyncio.timeout(self.config.top.runtime.handler_timeout):
                await func(ctx)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s failed", what)

    # -- hot reload -------------------------------------------------------------------------
    def _start_periodic(self) -> None:
        for task in self._periodic_tasks:
            task.cancel()
        self._periodic_tasks = [
            asyncio.create_task(self._periodic(lp, spec), name=f"every:{lp.plugin.name}.{spec.name}")
            for lp in self.plugins for spec in lp.plugin.periodic
        ]

    def watched_files(self) -> list[Path]:
        """The files whose change triggers a reload: config, rules, data files beside them, plugins."""
        files = {self.config.path, *self.config.rule_files}
        files.update(self.config.path.parent.glob("*.yaml"))
        files.update(self.config.path.parent.glob("*.yml"))
        for folder in self.config.plugin_dirs:
            if folder.is_dir():
                files.update(folder.glob("*.py"))
                files.update(folder.glob("*/*.py"))
        return sorted(files)

    @staticmethod
    def _stamp(files: Iterable[Path]) -> dict[Path, float]:
        stamps: dict[Path, float] = {}
        for f in files:
            try:
                stamps[f] = f.stat().st_mtime_ns
            except OSError:
                stamps[f] = -1
        return stamps

    async def _watch_files(self, before: dict[Path, float]) -> None:
        while True:
            await self.clock.sleep(self.config.top.runtime.watch_interval)
            now = self._stamp(self.watched_files())
            if now != before:
                changed = sorted(str(f.name) for f in set(now) | set(before) if now.get(f) != before.get(f))
                log.info("configuration files changed (%s); reloading", ", ".join(changed))
                await self.reload()
                before = self._stamp(self.watched_files())

    async def reload(self) -> bool:
        """Reload config, rules and plugins; all or nothing.

        Everything is built and validated first; only if all of it is valid does the
        bot switch to it, in one step. A reload that fails keeps the running rules and
        plugins and logs the error with file:line. Networks and storage are not
        reloaded (they need a restart); a change to them is logged.
        """
        try:
            config = load_config(self.config.path)
            templates = TemplateEngine(config.brand, lazy=True)
            if self._own_plugins:
                plugins = load_plugins(config.plugins, config.plugin_dirs, config.doc,
                                       generation=self._generation + 1)
            else:
                plugins = [configure(lp.plugin, config, lp.origin) for lp in self.plugins]
            run_plugin_checks(plugins, config)
            book = load_rule_book(config, templates, self.networks, measure=False)
            policy = Policy(config.top.policy)
        except (ConfigError, PluginError) as exc:
            log.error("reload failed; still running the previous rules and plugins: %s", exc)
            return False
        if config.networks != self.config.networks or config.storage_path != self.config.storage_path:
            log.warning("network or storage settings changed; they take effect after a restart")
        rules = RuleResponders(book, self, rng=self._rng)
        rules.state = self.rules.state  # cooldowns and last variants survive a reload
        # The switch: no await between these lines, so no event sees half a reload.
        self._generation += 1
        self.config, self.templates, self.policy = config, templates, policy
        self.policy_counts_sends = config.top.policy.rate_budget_per_hour is not None
        self.plugins, self.rules = plugins, rules
        self.router = self._build_router()
        if self._started:
            self._start_periodic()
        log.info("reloaded: %d rules, %d plugins", len(book), len(plugins))
        return True

    # -- lifecycle --------------------------------------------------------------------------
    async def open(self) -> None:
        """Open the store and restore state; no network is started (simulate stops here)."""
        await self.store.open()
        for key, until in await self.store.kv_items(HANDOFF_NAMESPACE):
            network, _, conv = key.partition(":")
            self.handoffs.set((network, conv), datetime.fromisoformat(until))
        for day, amount in await self.store.kv_items(COST_NAMESPACE):
            self.costs.load(day, float(amount))

    async def start(self) -> None:
        if self._started:
            return
        await self.open()
        await self.outbox.start()
        if self.config.top.http.enabled:
            from brandbot.runtime.health import HealthServer

            http = self.config.top.http
            self.health_server = HealthServer(self, http.host, http.port, allow_remote=http.allow_remote,
                                              redact=self.redactor)
            await self.health_server.start()
        self.supervisors = {}
        for name, network in self.networks.items():
            view = _HostView(self, name)
            supervisor = NetworkSupervisor(network, view, self.clock, rng=self._rng,
                                           report=lambda st, d, n=name: self._set_health(n, st, d))
            view.supervisor = supervisor
            self.supervisors[name] = supervisor
            self._network_tasks.append(asyncio.create_task(supervisor.run(), name=f"network:{name}"))
        # Wait for every network's first attempt (bounded), so a failing one can't hold up the rest.
        await asyncio.wait([asyncio.ensure_future(s.first_attempt.wait()) for s in self.supervisors.values()],
                           timeout=self.config.top.runtime.start_timeout)
        self._started = True
        await self.run_startup_hooks()
        self._start_periodic()
        self._background.append(asyncio.create_task(
            self._repeat("scheduler pass", 1.0, self.run_due_jobs), name="jobs"))
        self._background.append(asyncio.create_task(
            self._repeat("maintenance pass", 3600.0, self.maintain), name="maintenance"))
        if self.config.top.runtime.watch_config:
            stamps = self._stamp(self.watched_files())  # taken now, so no change slips in before the task runs
            self._background.append(asyncio.create_task(self._watch_files(stamps), name="config-watch"))
        log.info("brandbot started: networks %s, %d rules, %d plugins", ", ".join(self.networks),
                 len(self.rules.book), len(self.plugins))

    async def run_startup_hooks(self) -> None:
        """Run every plugin's ``@plugin.on_start`` (also used by simulate, which starts no network)."""
        for lp in self.plugins:
            for func in lp.plugin.startup:
                try:
                    await func(JobContext(bot=self, plugin_name=lp.plugin.name, config=lp.settings, log=log))
                except Exception:
                    log.exception("start-up hook of plugin %s failed", lp.plugin.name)

    async def stop(self) -> None:
        """Stop intake, finish in-flight handlers (bounded), drain due sends, close everything."""
        if not self._started:
            await self.store.close()
            return
        self._started = False
        grace = self.config.top.runtime.shutdown_grace
        for network in self.networks.values():
            if hasattr(network, "stop_intake"):
                await network.stop_intake()
        try:
            await asyncio.wait_for(self.lanes.join(), grace)
        except asyncio.TimeoutError:
            log.warning("stopping with events still being handled; they will be replayed or lost per network")
            await self.lanes.cancel()
        for task in self._background + self._periodic_tasks:
            task.cancel()
        await asyncio.gather(*self._background, *self._periodic_tasks, return_exceptions=True)
        self._background.clear()
        self._periodic_tasks.clear()
        await self.outbox.stop(grace)
        await self.lanes.close()
        for supervisor in self.supervisors.values():
            supervisor.stop()
        for network in self.networks.values():
            try:
                await network.stop()
            except Exception:
                log.exception("network %s did not stop cleanly", network.name)
        for task in self._network_tasks:
            task.cancel()
        await asyncio.gather(*self._network_tasks, return_exceptions=True)
        self._network_tasks.clear()
        if self.health_server is not None:
            await self.health_server.stop()
            self.health_server = None
        await self.store.close()
        log.info("brandbot stopped (%s)", self._stop_reason or "stop")

    async def run(self) -> int:
        """Run until SIGINT/SIGTERM or until a network asks to stop (console at end of input)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self.request_stop, sig.name)
            except (NotImplementedError, RuntimeError):
                pass
        try:
            loop.add_signal_handler(signal.SIGHUP, lambda: self._background.append(
                asyncio.create_task(self.reload(), name="reload")))
        except (NotImplementedError, RuntimeError, AttributeError):
            pass
        await self.start()
        try:
            await self._stop_requested.wait()
        finally:
            await self.stop()
        return 0


class _HostView:
    """The NetworkHost one adapter sees: the bot, with the adapter's name attached."""

    def __init__(self, bot: Bot, network: str) -> None:
        self._bot = bot
        self._network = network
        self.log = logging.getLogger(f"brandbot.network.{network}")
        self.supervisor: NetworkSupervisor | None = None

    async def submit(self, event: Event) -> None:
        await self._bot.submit(event)

    async def settled(self) -> None:
        await self._bot.settled()

    async def load_cursor(self, key: str) -> str | None:
        return await self._bot.load_cursor(key)

    async def save_cursor(self, key: str, value: str) -> None:
        await self._bot.save_cursor(key, value)

    def report_state(self, state: NetworkState, detail: str = "") -> None:
        self._bot._set_health(self._network, state, detail)
        if state is NetworkState.FAILED and self.supervisor is not None:
            self.supervisor.failed.set()

    def commands(self) -> list[CommandSpec]:
        return self._bot.commands()

    def request_stop(self, reason: str = "") -> None:
        self._bot.request_stop(reason)

    async def mark_unreachable(self, network: str, user_id: str) -> None:
        await self._bot.mark_unreachable(network, user_id)


class _NoSettings:
    """Placeholder config for contexts that are not inside a plugin (rules)."""

    def model_dump(self) -> dict[str, Any]:
        return {}


_NO_SETTINGS: Any = _NoSettings()

__all__ = ["Bot", "Handled", "ConfigError", "Person"]
