"""Sending: every outgoing message asks the policy, becomes an outbox row, and leaves after commit.

    ctx.reply / job send / staff notice
        -> facts about the send (network rules, opt-out, once-key, handoff, budgets)
        -> Policy.decide (pure, in brandbot.core.policy)
        -> an OutboxEntry (PENDING, deferred, or REFUSED with the reason) in the Effects
        -> committed with its batch -> Outbox -> Network.send

Third of the three files of the message path (after ``intake.py`` and ``routing.py``).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from brandbot.clocks import Clock
from brandbot.core.config import BotConfig
from brandbot.core.effects import DataWrite, Effects
from brandbot.core.errors import PermanentSendError, SendError
from brandbot.core.events import Conversation, Event, Kind, Reply
from brandbot.core.fastinit import fast_init
from brandbot.core.lru import Lru
from brandbot.core.policy import Decision, Policy, Reason, SendRequest, Verdict
from brandbot.core.records import Direction, FollowerRecord, Interaction, OutboxEntry, OutboxStatus
from brandbot.networks.base import Network
from brandbot.runtime.metrics import Metrics
from brandbot.runtime.perperson import FloodStart, PersonCosts, PersonMeter
from brandbot.runtime.transaction import Transactions
from brandbot.store.base import Store

log = logging.getLogger("brandbot")

HANDOFF_NAMESPACE = "core.handoff"  # network:conversation -> until (a whole conversation)
PERSON_HANDOFF_NAMESPACE = "core.handoff.person"  # network:follower:conversation -> until (in a group)
COST_NAMESPACE = "core.cost"
PERSON_COST_NAMESPACE = "core.cost.person"  # day:follower -> money spent on them that UTC day
DM_NAMESPACE = "core.dm"
OPEN_DMS_REMEMBERED = 10_000  # private conversations known open without asking the store


@fast_init
@dataclass(frozen=True, slots=True)
class Note:
    """One decision taken while handling an event: shown by ``simulate`` and in logs."""

    source: str
    action: str  # send | defer | refuse | skip | error | action
    detail: str = ""
    text: str = ""
    network: str = ""
    conversation: str = ""


class Handoffs:
    """Conversations a human has taken over, with the time the bot may speak again.

    In a private chat the whole conversation is handed off. In a group (any conversation
    that is not private) only the person who asked is: the bot stays quiet for them
    there and keeps answering everyone else. Staff name a person's handoff
    ``conversation@follower`` (``/release telegram:-100123@42``).
    """

    def __init__(self) -> None:
        self._until: dict[tuple[str, str, int], datetime] = {}  # (network, conversation, follower or 0)

    def active(self, key: tuple[str, str], now: datetime, person: int = 0) -> bool:
        """Whether the conversation, or ``person`` in it, is handed off at ``now``."""
        return self._live((*key, 0), now) or (person != 0 and self._live((*key, person), now))

    def _live(self, key: tuple[str, str, int], now: datetime) -> bool:
        until = self._until.get(key)
        if until is None:
            return False
        if until <= now:
            del self._until[key]
            return False
        return True

    def set(self, key: tuple[str, str], until: datetime, person: int = 0) -> None:
        self._until[(*key, person)] = until

    def clear(self, key: tuple[str, str], person: int | None = 0) -> list[int]:
        """End the handoff of ``person`` (0: the conversation) or, with None, of the
        conversation and everyone in it; returns the people (0: the conversation) released."""
        found = [p for (net, conv, p) in self._until if (net, conv) == key and (person is None or p == person)]
        for p in found:
            del self._until[(*key, p)]
        return found

    def expired(self, now: datetime) -> list[tuple[str, str, int]]:
        """Forget the handoffs that have ended; returns their keys (their stored rows go too)."""
        gone = [key for key, until in self._until.items() if until <= now]
        for key in gone:
            del self._until[key]
        return gone

    def items(self) -> list[tuple[tuple[str, str], datetime]]:
        """((network, conversation or conversation@follower), until), soonest first."""
        return sorted((((net, f"{conv}@{p}" if p else conv), until) for (net, conv, p), until in self._until.items()),
                      key=lambda kv: kv[1])


def _handoff_row(network: str, conversation: str, person: int) -> tuple[str, str]:
    """Where a handoff is stored: (namespace, key)."""
    if person:
        return PERSON_HANDOFF_NAMESPACE, f"{network}:{person}:{conversation}"
    return HANDOFF_NAMESPACE, f"{network}:{conversation}"


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


class Sending:
    """The policy gate and the way into the outbox, for replies and proactive messages."""

    def __init__(self, *, store: Store, networks: Mapping[str, Network], clock: Clock, metrics: Metrics,
                 transactions: Transactions, config: Callable[[], BotConfig], policy: Callable[[], Policy],
                 ) -> None:
        self._store = store
        self._networks = networks
        self._clock = clock
        self._metrics = metrics
        self._transactions = transactions
        self._config = config
        self._policy = policy
        self.handoffs = Handoffs()
        self.costs = CostMeter()
        self.people = PersonMeter()  # replies per person per hour/day, floods (policy.per_person, policy.flood)
        self.person_costs = PersonCosts()
        self.stats: dict[str, int] = {"replies": 0, "refused": 0, "deferred": 0}
        self.trace: list[Note] | None = None  # set to a list to see proactive sends (simulate)
        self._recent_sends: deque[datetime] = deque()  # only kept when an hourly budget is set
        self._open_dms: Lru[str, bool] = Lru(OPEN_DMS_REMEMBERED)  # the rest are asked of the store

    async def restore(self) -> None:
        """Read handoffs and today's costs back after a restart."""
        for key, until in await self._store.kv_items(HANDOFF_NAMESPACE):
            network, _, conv = key.partition(":")
            self.handoffs.set((network, conv), datetime.fromisoformat(until))
        for key, until in await self._store.kv_items(PERSON_HANDOFF_NAMESPACE):
            network, _, rest = key.partition(":")
            person, _, conv = rest.partition(":")
            self.handoffs.set((network, conv), datetime.fromisoformat(until), int(person))
        for day, amount in await self._store.kv_items(COST_NAMESPACE):
            self.costs.load(day, float(amount))
        now = self._clock.now()
        for key, amount in await self._store.kv_items(PERSON_COST_NAMESPACE):
            if not self.person_costs.load(key, float(amount), now):
                self._store.kv_delete(PERSON_COST_NAMESPACE, key)  # an earlier day's

    # -- the gate ----------------------------------------------------------------------
    async def outbound(self, reply: Reply, *, event: Event | None, follower: FollowerRecord | None,
                       effects: Effects | None = None, essential: bool = False, once_key: str | None = None,
                       notes: list[Note] | None = None, person_wrote_first: bool = False,
                       brand_post: bool = False) -> Decision:
        """Ask the policy, then record the reply (or its refusal, with the reason).

        With ``effects`` (inside an event or job) the row joins that unit's effects;
        without, it is committed on its own and queued after that commit.
        """
        now = self._clock.now()
        network = self._networks.get(reply.network)
        if network is None:
            decision = Decision(Verdict.REFUSE, Reason.UNREACHABLE, f"network {reply.network!r} is not running", None)
        else:
            admin = event is not None and self._config().is_admin(event.network, event.author.id)
            flood = None if admin else self._count_message(reply, event, follower, now)
            if flood is not None and follower is not None:
                await self._tell_flood(reply.network, follower, flood, effects)
            request = await self._facts(reply, network, event, follower, effects, essential, once_key,
                                        person_wrote_first, admin, now)
            if brand_post:  # the calendar's own post (see SendRequest.brand_post)
                request = replace(request, brand_post=True)
            decision = self._policy().decide(request)
            if decision.verdict is not Verdict.REFUSE and follower is not None:
                self._count_reply(reply.network, follower.id, request, now)
        entry = self._entry(reply, follower, decision, now)
        self._note(reply, decision, notes)
        unit = effects if effects is not None else Effects()
        if decision.verdict is Verdict.REFUSE:
            self.stats["refused"] += 1
            unit.outbox.append(entry)
            if follower is not None:
                unit.interactions.append(Interaction(
                    follower_id=follower.id, time=now, direction=Direction.OUT, kind="refused",
                    network=reply.network, conversation_id=reply.conversation.id, event_id=reply.event_id or "",
                    text=f"{decision.reason}: {decision.detail}", source=reply.source,
                ))
            log.info("refused reply from %s on %s: %s", reply.source, reply.network, decision.reason)
        else:
            if self._config().top.policy.rate_budget_per_hour is not None:
                self._recent_sends.append(now)
            self.stats["deferred" if decision.verdict is Verdict.DEFER else "replies"] += 1
            if once_key:
                unit.once_keys.append((once_key, now))
            unit.outbox.append(entry)
        if effects is None:
            self._transactions.add(unit)
        return decision

    async def _facts(self, reply: Reply, network: Network, event: Event | None, follower: FollowerRecord | None,
                     effects: Effects | None, essential: bool, once_key: str | None, person_wrote_first: bool,
                     admin: bool, now: datetime) -> SendRequest:
        """Everything the pure policy needs to know about this send."""
        private = reply.conversation.private
        wrote_first = event is not None and event.conversation.key == reply.conversation.key
        cutoff = now - timedelta(hours=1)
        while self._recent_sends and self._recent_sends[0] <= cutoff:
            self._recent_sends.popleft()
        once_used = bool(once_key) and (
            (effects is not None and effects.once_key_pending(once_key or ""))
            or await self._store.once_used(once_key or ""))
        person = (reply.network, follower.id if follower is not None else 0)
        this_hour, today = self.people.replies(person, now) if follower is not None else (0, 0)
        return SendRequest(
            network=reply.network,
            requires_summons=network.requires_summons,
            read_only=network.read_only,
            event_kind=event.kind.value if event is not None else None,
            addressed=event.addressed if event is not None else False,
            private=private,
            person_wrote_first=wrote_first or person_wrote_first or not private,
            opted_out=bool(follower and follower.opted_out),
            unreachable=bool(follower and reply.network in follower.unreachable),
            once_key_used=once_used,
            handed_off=self.handoffs.active(reply.conversation.key, now,
                                            0 if private or follower is None else follower.id),
            now=now,
            cost=network.cost_of(reply.text),
            cost_spent_today=self.costs.today(now),
            sent_last_hour=len(self._recent_sends),
            text_problem=network.check_text(reply.text),
            text_empty=not reply.text.strip(),
            essential=essential,
            to_person=follower is not None,
            person_is_admin=admin,
            flooding=follower is not None and self.people.flooding(person, now),
            person_replies_this_hour=this_hour,
            person_replies_today=today,
            person_cost_today=self.person_costs.today(follower.id, now) if follower is not None else 0.0,
        )

    # -- per-person counts -------------------------------------------------------------
    def _count_message(self, reply: Reply, event: Event | None, follower: FollowerRecord | None,
                       now: datetime) -> FloodStart | None:
        """Count the person's message this reply answers (once per event), for flood detection."""
        if event is None or follower is None or event.kind is Kind.MILESTONE:
            return None
        flood = self._config().top.policy.flood
        return self.people.count_message((reply.network, follower.id), f"{event.network}:{event.id}", now, flood)

    def _count_reply(self, network: str, follower_id: int, request: SendRequest, now: datetime) -> None:
        """A reply to the person was accepted (sent or deferred): count it and its cost.

        Essential replies are not counted against the person's reply budget (they never
        wait for it either); their cost is counted: it is money spent on the person.
        """
        if not request.essential and not request.person_is_admin:
            self.people.count_reply((network, follower_id), now)
        if request.cost > 0:
            stale, key, total = self.person_costs.add(follower_id, now, request.cost)
            for old in stale:
                self._store.kv_delete(PERSON_COST_NAMESPACE, old)
            self._store.kv_set(PERSON_COST_NAMESPACE, key, f"{total:.4f}", follower_id)

    async def _tell_flood(self, network: str, follower: FollowerRecord, flood: FloodStart,
                          effects: Effects | None) -> None:
        """Tell the staff, once per flood, that the bot stopped answering someone."""
        limits = self._config().top.policy.flood
        rate = f"more than {limits.messages} messages within {limits.seconds:g} s" if limits else "too many messages"
        log.warning("flood: follower %s on %s; not answered until %s", follower.id, network, flood.until.isoformat())
        await self.notify_staff(
            f"Flood: {follower.name} (follower {follower.id}) on {network} sent {rate}. The bot does not answer "
            f"them until {flood.until:%Y-%m-%d %H:%M} UTC (longer if they go on); confirmations they ask for "
            f"(stop, /forgetme) still go out.",
            source="core:flood", effects=effects,
        )

    def _entry(self, reply: Reply, follower: FollowerRecord | None, decision: Decision, now: datetime) -> OutboxEntry:
        return OutboxEntry(
            id=self._store.next_outbox_id(), network=reply.network, conversation_id=reply.conversation.id,
            conversation_private=reply.conversation.private, text=reply.text, created=now,
            next_try=decision.until or now,
            status=OutboxStatus.REFUSED if decision.verdict is Verdict.REFUSE else OutboxStatus.PENDING,
            in_reply_to=reply.in_reply_to or "", recipient_id=reply.recipient.id if reply.recipient else "",
            follower_id=follower.id if follower else 0, event_id=reply.event_id or "", source=reply.source,
            reason="" if decision.verdict is Verdict.ALLOW else f"{decision.reason}: {decision.detail}",
        )

    def _note(self, reply: Reply, decision: Decision, notes: list[Note] | None) -> None:
        action = {Verdict.ALLOW: "send", Verdict.DEFER: "defer", Verdict.REFUSE: "refuse"}[decision.verdict]
        self._metrics.decision(reply.network, action, decision.reason.value)
        if notes is None:
            notes = self.trace  # proactive messages (jobs, staff notices): kept when tracing
        if notes is not None:
            detail = "" if decision.verdict is Verdict.ALLOW else f"{decision.reason}: {decision.detail}"
            notes.append(Note(reply.source, action, detail, reply.text, reply.network, reply.conversation.id))

    # -- proactive messages ------------------------------------------------------------
    async def announce(self, conversation: Conversation, text: str, *, source: str, essential: bool = True,
                       follower: FollowerRecord | None = None, effects: Effects | None = None) -> Decision:
        """A proactive message (staff notices, reminders): no event, still through the policy.

        With ``follower`` the person's opt-out and reachability are checked; a private
        conversation is allowed only if the person wrote to the bot there before.
        """
        reply = Reply(network=conversation.network, conversation=conversation, text=text, source=source)
        wrote_first = conversation.private and await self.dm_open(conversation)
        return await self.outbound(reply, event=None, follower=follower, effects=effects, essential=essential,
                                   person_wrote_first=wrote_first)

    async def notify_staff(self, text: str, *, source: str, effects: Effects | None = None) -> Decision:
        staff = self._config().top.staff
        return await self.announce(Conversation(staff.network, staff.conversation), text, source=source,
                                   effects=effects)

    async def dm_open(self, conversation: Conversation) -> bool:
        """Whether the person has written to the bot in this private conversation."""
        key = f"{conversation.network}:{conversation.id}"
        if self._open_dms.get(key, False):
            return True
        if await self._store.kv_get(DM_NAMESPACE, key) is not None:
            self._open_dms.put(key, True)
            return True
        return False

    def note_dm(self, event: Event, follower_id: int, effects: Effects) -> None:
        """Remember that the person opened this private conversation (the bot may write there)."""
        key = f"{event.network}:{event.conversation.id}"
        if not self._open_dms.get(key, False):
            self._open_dms.put(key, True)
            effects.data.append(DataWrite(DM_NAMESPACE, key, event.time.isoformat(), follower_id))

    # -- handoffs ----------------------------------------------------------------------
    async def handoff(self, conversation: Conversation, reason: str, *, follower: FollowerRecord | None = None,
                      effects: Effects | None = None) -> None:
        """Hand a private chat, or in a group the person who asked, to the staff.

        The staff are told once: asking again while handed off only moves the time the
        bot speaks again.
        """
        now = self._clock.now()
        until = now + timedelta(seconds=self._config().top.handoff.timeout)
        person = 0 if conversation.private or follower is None else follower.id
        already = self.handoffs.active(conversation.key, now, person)
        self._forget_expired(now, effects)
        self.handoffs.set(conversation.key, until, person)
        namespace, key = _handoff_row(conversation.network, conversation.id, person)
        self._write(effects, namespace, key, until.isoformat(), follower.id if follower else 0)
        if already:
            log.info("handoff on %s asked again while handed off; the staff already know", conversation.network)
            return
        who = f"{follower.name} (follower {follower.id})" if follower else "someone"
        where = conversation.title or conversation.id
        target = f"{conversation.network}:{conversation.id}" + (f"@{person}" if person else "")
        scope = f"The bot stays quiet for them in {where}" if person else "The bot stays quiet there"
        await self.notify_staff(
            f"Handoff: {who} on {conversation.network} in {where} needs a person ({reason}). "
            f"{scope} until /release {target} or {until:%Y-%m-%d %H:%M} UTC.",
            source="core:handoff", effects=effects,
        )

    def release(self, network: str, target: str) -> bool:
        """End a handoff: ``conversation`` (and everyone handed off in it) or ``conversation@follower``."""
        released = self.handoffs.clear((network, target), None)
        conversation = target
        if not released:
            conversation, sep, who = target.rpartition("@")
            if sep and who.isdigit():
                released = self.handoffs.clear((network, conversation), int(who))
        for person in released:
            self._store.kv_delete(*_handoff_row(network, conversation, person))
        return bool(released)

    def _forget_expired(self, now: datetime, effects: Effects | None) -> None:
        for network, conversation, person in self.handoffs.expired(now):
            self._write(effects, *_handoff_row(network, conversation, person), None, 0)

    def _write(self, effects: Effects | None, namespace: str, key: str, value: str | None, follower_id: int) -> None:
        """A core datum, committed with the unit of work when there is one."""
        if effects is not None:
            effects.data.append(DataWrite(namespace, key, value, follower_id))
        elif value is None:
            self._store.kv_delete(namespace, key)
        else:
            self._store.kv_set(namespace, key, value, follower_id)

    # -- after a send ------------------------------------------------------------------
    def on_sent(self, entry: OutboxEntry) -> None:
        """Count the cost and record the reply in the person's history."""
        network = self._networks.get(entry.network)
        now = self._clock.now()
        if network is not None:
            cost = network.cost_of(entry.text)
            if cost:
                day, total = self.costs.add(now, cost)
                self._store.kv_set(COST_NAMESPACE, day, f"{total:.4f}")
        if entry.follower_id:
            keep_text = self._config().top.storage.text_retention_days > 0
            self._store.add_interaction(Interaction(
                follower_id=entry.follower_id, time=now, direction=Direction.OUT, kind="reply",
                network=entry.network, conversation_id=entry.conversation_id, event_id=entry.event_id,
                text=entry.text if keep_text else "", source=entry.source,
            ))

    def unreachable_recipient(self, entry: OutboxEntry, exc: SendError | Exception) -> str | None:
        """The user id to mark unreachable after a failed send, if the failure says so."""
        if isinstance(exc, PermanentSendError) and exc.unreachable and entry.recipient_id:
            return entry.recipient_id
        return None


__all__ = ["COST_NAMESPACE", "DM_NAMESPACE", "HANDOFF_NAMESPACE", "PERSON_COST_NAMESPACE", "PERSON_HANDOFF_NAMESPACE",
           "CostMeter", "Handoffs", "Note", "Sending"]
