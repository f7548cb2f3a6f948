"""A compiled reply rule and its parts: conditions, cooldowns, active window, actions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from brandbot.core.events import Event, Kind
from brandbot.core.reading import Reading
from brandbot.core.records import FollowerRecord
from brandbot.core.rules.match import MatchSpec
from brandbot.core.templates import ReplyTemplate

DEFAULT_KINDS = frozenset({Kind.MENTION, Kind.DIRECT, Kind.REPLY, Kind.QUOTE, Kind.COMMAND})


@dataclass(frozen=True)
class Conditions:
    """The ``when:`` of a rule: facts about the follower that must all hold."""

    first_contact: bool | None = None
    tiers: frozenset[str] = frozenset()  # casefolded
    points_at_least: int | None = None
    interactions_at_least: int | None = None
    days_known_at_least: int | None = None
    tags: frozenset[str] = frozenset()  # casefolded
    not_tags: frozenset[str] = frozenset()  # casefolded
    sentiment: str | None = None  # "negative" | "neutral" | "positive": the message's mood
    languages: frozenset[str] = frozenset()  # the message's language is one of these

    @property
    def reads_text(self) -> bool:
        """Whether checking these needs the message read (sentiment, language)."""
        return self.sentiment is not None or bool(self.languages)


@dataclass(frozen=True)
class Cooldown:
    """Seconds before the rule may fire again for the same person / conversation / anyone."""

    person: float | None = None
    conversation: float | None = None
    global_: float | None = None


@dataclass(frozen=True)
class ActiveWindow:
    """When a rule is active, in its timezone: a date range, hours of the day, weekdays.

    ``start`` is inclusive and ``end`` exclusive; a ``until`` date counts the whole day.
    ``hours`` are minutes since local midnight, wrapping past midnight if start > end.
    """

    timezone: str = "UTC"
    start: datetime | None = None
    end: datetime | None = None
    hours: tuple[int, int] | None = None
    days: frozenset[int] = frozenset()

    def contains(self, now: datetime) -> bool:
        local = now.astimezone(self.zone)
        if self.start is not None and local < self.start:
            return False
        if self.end is not None and local >= self.end:
            return False
        if self.days and local.weekday() not in self.days:
            return False
        if self.hours is not None:
            minute = local.hour * 60 + local.minute
            start, end = self.hours
            inside = start <= minute < end if start < end else (minute >= start or minute < end)
            if not inside:
                return False
        return True

    @property
    def zone(self) -> tzinfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class RuleActions:
    tag: frozenset[str] = frozenset()
    untag: frozenset[str] = frozenset()
    points: int = 0
    handoff: bool = False

    @property
    def any(self) -> bool:
        return bool(self.tag or self.untag or self.points or self.handoff)


@dataclass(frozen=True)
class Rule:
    """One compiled reply rule. ``where`` is the file:line of the rule in its YAML file."""

    name: str
    kinds: frozenset[Kind] = DEFAULT_KINDS
    networks: frozenset[str] = frozenset()  # empty = every network
    priority: int = 0
    enabled: bool = True
    match: MatchSpec | None = None
    when: Conditions = Conditions()
    variants: tuple[ReplyTemplate, ...] = ()  # the fallback language's (or the only) variants
    translations: tuple[tuple[str, tuple[ReplyTemplate, ...]], ...] = ()  # other languages' variants
    cooldown: Cooldown = Cooldown()
    once_per_post: bool = False
    active: ActiveWindow | None = None
    actions: RuleActions = RuleActions()
    fallthrough: bool = False
    where: str = ""

    def variants_for(self, language: str) -> tuple[ReplyTemplate, ...]:
        """The reply variants in ``language``, else the fallback ones."""
        for code, variants in self.translations:
            if code == language:
                return variants
        return self.variants

    def fits(self, event: Event, now: datetime) -> bool:
        """Kind, network and time window; not the text (that is the index's job)."""
        return (
            self.enabled
            and event.kind in self.kinds
            and (not self.networks or event.network in self.networks)
            and (self.active is None or self.active.contains(now))
        )


def conditions_hold(
    rule: Rule, follower: FollowerRecord, first_contact: bool, now: datetime,
    reading: Reading | None = None,
) -> bool:
    """Do the rule's ``when:`` conditions hold for this follower at ``now``? (pure)

    ``sentiment`` and ``language`` are read from the message (``reading``), only when a
    rule asks for them; without a reading they do not hold.
    """
    when = rule.when
    if when.reads_text and not _reading_fits(when, reading):
        return False
    if when.first_contact is not None and when.first_contact != first_contact:
        return False
    if when.tiers and follower.tier.casefold() not in when.tiers:
        return False
    if when.points_at_least is not None and follower.points < when.points_at_least:
        return False
    if (
        when.interactions_at_least is not None
        and follower.interactions < when.interactions_at_least
    ):
        return False
    days_known = max(0, (now - follower.first_seen).days)
    if when.days_known_at_least is not None and days_known < when.days_known_at_least:
        return False
    if when.tags or when.not_tags:
        tags = {t.casefold() for t in follower.tags}
        if not when.tags <= tags or when.not_tags & tags:
            return False
    return True


def _reading_fits(when: Conditions, reading: Reading | None) -> bool:
    if reading is None:
        return False
    if when.languages and reading.language not in when.languages:
        return False
    return when.sentiment is None or reading.mood == when.sentiment


def once_key(rule: Rule, follower_id: int, refers_to_or_post_id: str | None) -> str:
    """The once-per-post key; the store's ``forget`` relies on the ":f<id>:" part."""
    return f"rule:{rule.name}:f{follower_id}:{refers_to_or_post_id or ''}"


__all__ = [
    "DEFAULT_KINDS",
    "ActiveWindow",
    "Conditions",
    "Cooldown",
    "Rule",
    "RuleActions",
    "conditions_hold",
    "once_key",
]
