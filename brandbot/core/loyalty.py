"""Loyalty scoring: points, tiers, streaks and milestones, as pure functions.

Nothing here touches the store, the clock or a network: the caller passes the follower,
what they did, where and when, and gets the updated follower back. That keeps the rules
easy to test and lets ``recompute`` rebuild any follower from their history (after a
config change, say) with exactly the code that scored them live.

Days are UTC days everywhere (streaks and the daily cap), so a follower's score never
depends on where the bot runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from brandbot.core.events import Kind
from brandbot.core.fastinit import fast_init
from brandbot.core.records import Direction, FollowerRecord, Interaction

#: (network, kind) pairs that never earn points, whatever the config says.
#: X's automation rules forbid incentivising follows and reposts ("follow-for-reward",
#: "retweet to win" style mechanics); rewarding them with points would put the brand's
#: account at risk of suspension. They are still counted (interactions, reposts), only
#: never rewarded.
NEVER_REWARDED: frozenset[tuple[str, str]] = frozenset({("x", "follow"), ("x", "repost")})

DEFAULT_POINTS: dict[str, int] = {
    Kind.MENTION.value: 2,
    Kind.DIRECT.value: 1,
    Kind.REPLY.value: 2,
    Kind.QUOTE.value: 5,
    Kind.REPOST.value: 3,
    Kind.FOLLOW.value: 1,
    Kind.JOIN.value: 2,
    Kind.REACTION.value: 1,
    Kind.COMMAND.value: 0,
    Kind.MESSAGE.value: 1,
}


# --------------------------------------------------------------------------- config


def _scored_kind(name: str) -> str:
    """Validate a kind name used as a points key; milestones are never scored."""
    kind = Kind.parse(name)
    if kind is Kind.MILESTONE:
        raise ValueError("'milestone' events are never scored; remove it from the points table")
    return kind.value


def _points_table(table: dict[str, int], where: str) -> dict[str, int]:
    checked: dict[str, int] = {}
    for name, value in table.items():
        kind = _scored_kind(name)
        if value < 0:
            raise ValueError(f"{where}: points for {kind!r} must be 0 or more, not {value}")
        checked[kind] = value
    return checked


class TierConfig(BaseModel):
    """A named tier that a follower reaches at ``min_points``."""

    model_config = ConfigDict(extra="forbid")

    name: str
    min_points: int = Field(ge=0)

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("a tier needs a name")
        return value


class StreakBonus(BaseModel):
    """Extra points awarded on the day a streak reaches ``days`` days in a row."""

    model_config = ConfigDict(extra="forbid")

    days: int = Field(ge=1)
    points: int = Field(ge=0)


def _positive_sorted(values: list[int], what: str) -> list[int]:
    for value in values:
        if value < 1:
            raise ValueError(f"{what} milestones must be 1 or more, not {value}")
    return sorted(set(values))


class MilestonesConfig(BaseModel):
    """Which thresholds produce a milestone (and so a ``milestone`` event to react to)."""

    model_config = ConfigDict(extra="forbid")

    interactions: list[int] = Field(default_factory=lambda: [1, 10, 50, 100, 500])
    reposts: list[int] = Field(default_factory=lambda: [1, 5, 25])
    streak: list[int] = Field(default_factory=lambda: [7, 30])
    tier_change: bool = True

    @field_validator("interactions", "reposts", "streak")
    @classmethod
    def _thresholds(cls, values: list[int], info: ValidationInfo) -> list[int]:
        return _positive_sorted(values, info.field_name or "milestone")


def _default_tiers() -> list[TierConfig]:
    return [
        TierConfig(name="Reader", min_points=0),
        TierConfig(name="Regular", min_points=50),
        TierConfig(name="Silver", min_points=150),
        TierConfig(name="Gold", min_points=400),
    ]


class LoyaltyConfig(BaseModel):
    """The community manager's loyalty settings.

    ``points`` is merged over :data:`DEFAULT_POINTS`: name only the kinds you want to
    change (set a kind to 0 to stop rewarding it). ``network_points`` overrides single
    kinds on single networks, e.g. ``{"discord": {"reaction": 0}}``. ``daily_cap`` limits
    the points (base points plus streak bonus) one follower can earn per UTC day;
    ``None`` means no cap. Admin adjustments are never capped.
    """

    model_config = ConfigDict(extra="forbid")

    points: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_POINTS))
    network_points: dict[str, dict[str, int]] = Field(default_factory=dict)
    daily_cap: int | None = Field(default=50, ge=0)
    tiers: list[TierConfig] = Field(default_factory=_default_tiers)
    streak_bonus: list[StreakBonus] = Field(
        default_factory=lambda: [StreakBonus(days=7, points=10)]
    )
    milestones: MilestonesConfig = Field(default_factory=MilestonesConfig)

    @field_validator("points")
    @classmethod
    def _merge_points(cls, value: dict[str, int]) -> dict[str, int]:
        return {**DEFAULT_POINTS, **_points_table(value, "points")}

    @field_validator("network_points")
    @classmethod
    def _check_network_points(cls, value: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
        checked: dict[str, dict[str, int]] = {}
        for network, table in value.items():
            name = network.strip().lower()
            if not name:
                raise ValueError("network_points has an empty network name")
            checked[name] = _points_table(table, f"network_points.{name}")
        return checked

    @field_validator("tiers")
    @classmethod
    def _check_tiers(cls, tiers: list[TierConfig]) -> list[TierConfig]:
        if not tiers:
            raise ValueError("at least one tier is needed; e.g. [{name: Reader, min_points: 0}]")
        seen: set[str] = set()
        for tier in tiers:
            if tier.name.lower() in seen:
                raise ValueError(f"tier names must be unique; {tier.name!r} appears twice")
            seen.add(tier.name.lower())
        if tiers[0].min_points != 0:
            raise ValueError(
                f"the first tier must start at 0 points so that everyone has a tier; "
                f"{tiers[0].name!r} starts at {tiers[0].min_points}"
            )
        for lower, upper in pairwise(tiers):
            if upper.min_points <= lower.min_points:
                raise ValueError(
                    f"tiers must be listed from lowest to highest with strictly increasing "
                    f"min_points; {upper.name!r} ({upper.min_points}) must be above "
                    f"{lower.name!r} ({lower.min_points})"
                )
        return tiers

    @field_validator("streak_bonus")
    @classmethod
    def _check_streak_bonus(cls, bonuses: list[StreakBonus]) -> list[StreakBonus]:
        seen: set[int] = set()
        for bonus in bonuses:
            if bonus.days in seen:
                raise ValueError(f"streak_bonus lists {bonus.days} days twice; keep one entry")
            seen.add(bonus.days)
        return sorted(bonuses, key=lambda b: b.days)

    @model_validator(mode="after")
    def _no_x_rewards_hidden(self) -> LoyaltyConfig:
        # Overrides for forbidden pairs would silently do nothing; say so instead.
        for network, table in self.network_points.items():
            for kind, value in table.items():
                if (network, kind) in NEVER_REWARDED and value > 0:
                    raise ValueError(
                        f"network_points.{network}.{kind} cannot be rewarded: {network} forbids "
                        f"incentivising {kind}s; remove this entry"
                    )
        return self

    @staticmethod
    def rewardable(kind: str, network: str) -> bool:
        """False for what must never earn anything: milestones and :data:`NEVER_REWARDED`."""
        kind_value = Kind.parse(kind).value
        pair = (network.strip().lower(), kind_value)
        return kind_value != Kind.MILESTONE.value and pair not in NEVER_REWARDED

    def points_for(self, kind: str, network: str) -> int:
        """Base points one interaction of ``kind`` on ``network`` is worth."""
        if not self.rewardable(kind, network):
            return 0
        kind_value = Kind.parse(kind).value
        network = network.strip().lower()
        override = self.network_points.get(network, {})
        if kind_value in override:
            return override[kind_value]
        return self.points.get(kind_value, 0)

    def streak_bonus_for(self, days: int) -> int:
        return sum(b.points for b in self.streak_bonus if b.days == days)

    def tables(self) -> _Tables:
        """The settings as lookup tables for :func:`apply`, built once per config.

        Scoring runs for every event; walking the pydantic lists and normalising names
        each time cost more than the arithmetic. The tables are kept on the instance
        (outside the fields, so dumps and equality ignore them) and rebuilt when a
        field has been reassigned or the config was copied with ``model_copy(update=)``.
        """
        tables: _Tables | None = self.__dict__.get(_TABLES_KEY)
        if tables is None or not tables.built_from(self):
            tables = self.__dict__[_TABLES_KEY] = _Tables(self)
        return tables


# --------------------------------------------------------------------------- results


@fast_init
@dataclass(frozen=True, slots=True)
class Milestone:
    """A threshold a follower just crossed; the bot turns it into a ``milestone`` event.

    ``kind`` is "interactions", "reposts", "streak" or "tier". For tier milestones
    ``value`` is the new tier's minimum points and ``previous_tier``/``tier`` name the
    change.
    """

    kind: str
    value: int
    label: str
    previous_tier: str = ""
    tier: str = ""


@fast_init
@dataclass(frozen=True, slots=True)
class Scored:
    """The follower after one interaction, the points it earned and what it unlocked."""

    follower: FollowerRecord
    awarded: int
    milestones: tuple[Milestone, ...]


# --------------------------------------------------------------------------- tables

#: Where :meth:`LoyaltyConfig.tables` keeps the tables in the instance ``__dict__``.
_TABLES_KEY = "_loyalty_tables"

#: Most distinct (kind, network) spellings one config remembers; more are resolved each time.
_MAX_RATES = 256


@dataclass(frozen=True, slots=True)
class _Rate:
    """How one (kind, network) pair scores, resolved once with the reference methods."""

    kind: Kind
    rewardable: bool
    points: int


class _Tables:
    """Per-config lookups for the scoring hot path; equal by construction to the methods."""

    __slots__ = ("_bonus", "_first_tier", "_rates", "_sources", "_tiers_desc", "daily_cap",
                 "interactions", "reposts", "streak", "tier_change")

    def __init__(self, config: LoyaltyConfig) -> None:
        self._sources = self._fields(config)
        self._rates: dict[tuple[str, str], _Rate] = {}
        self.daily_cap = config.daily_cap
        # Highest first: the first reached is the last in list order, as tier_for picks.
        self._tiers_desc = tuple((t.min_points, t.name) for t in reversed(config.tiers))
        self._first_tier = config.tiers[0].name
        bonus: dict[int, int] = {}
        for b in config.streak_bonus:
            bonus[b.days] = bonus.get(b.days, 0) + b.points
        self._bonus = bonus
        wanted = config.milestones
        self.interactions = frozenset(wanted.interactions)
        self.reposts = frozenset(wanted.reposts)
        self.streak = frozenset(wanted.streak)
        self.tier_change = wanted.tier_change

    @staticmethod
    def _fields(config: LoyaltyConfig) -> tuple[object, ...]:
        return (config.points, config.network_points, config.daily_cap, config.tiers,
                config.streak_bonus, config.milestones)

    def built_from(self, config: LoyaltyConfig) -> bool:
        """Whether ``config`` still holds the very objects these tables were built from."""
        points, network_points, daily_cap, tiers, streak_bonus, milestones = self._sources
        return (
            points is config.points
            and network_points is config.network_points
            and daily_cap is config.daily_cap
            and tiers is config.tiers
            and streak_bonus is config.streak_bonus
            and milestones is config.milestones
        )

    def rate(self, kind: str, network: str, config: LoyaltyConfig) -> _Rate:
        """The scoring of ``kind`` on ``network``; raises for an unknown kind, like Kind.parse."""
        key = (kind, network)
        rate = self._rates.get(key)
        if rate is None:
            parsed = Kind.parse(kind)
            if parsed is Kind.MILESTONE:
                rate = _Rate(parsed, False, 0)  # never scored; the network is not looked at
            else:
                rate = _Rate(parsed, config.rewardable(parsed.value, network),
                             config.points_for(parsed.value, network))
            if len(self._rates) < _MAX_RATES:
                self._rates[key] = rate
        return rate

    def tier(self, points: int) -> str:
        """Same answer as :func:`tier_for`."""
        for minimum, name in self._tiers_desc:
            if points >= minimum:
                return name
        return self._first_tier

    def streak_bonus(self, days: int) -> int:
        """Same answer as :meth:`LoyaltyConfig.streak_bonus_for`."""
        return self._bonus.get(days, 0)


# --------------------------------------------------------------------------- tiers


def tier_for(points: int, config: LoyaltyConfig) -> str:
    """The highest tier whose minimum ``points`` reaches."""
    name = config.tiers[0].name
    for tier in config.tiers:
        if points >= tier.min_points:
            name = tier.name
    return name


def next_tier(points: int, config: LoyaltyConfig) -> tuple[str, int] | None:
    """The next tier up and the points still needed for it; None at the top tier."""
    for tier in config.tiers:
        if tier.min_points > points:
            return tier.name, tier.min_points - points
    return None


def _tier_minimum(name: str, config: LoyaltyConfig) -> int:
    return next(t.min_points for t in config.tiers if t.name == name)


def adjust_points(follower: FollowerRecord, delta: int, config: LoyaltyConfig) -> FollowerRecord:
    """An admin correction ("/points add"): never below 0, not subject to the daily cap."""
    points = max(0, follower.points + delta)
    return dataclasses.replace(follower, points=points, tier=tier_for(points, config))


# --------------------------------------------------------------------------- scoring


def ordinal(n: int) -> str:
    """1 -> "1st", 2 -> "2nd", 11 -> "11th", 23 -> "23rd"."""
    if 10 <= n % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _utc_day(time: datetime) -> date:
    if time.tzinfo is UTC:  # what the bot's clock gives: no conversion needed
        return time.date()
    if time.tzinfo is None or time.utcoffset() is None:
        raise ValueError(f"loyalty needs timezone-aware times; got naive {time.isoformat()}")
    return time.astimezone(UTC).date()


def _parse_day(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


_ONE_DAY = timedelta(days=1)


def _next_streak(follower: FollowerRecord, day: date, today: str) -> tuple[int, str, bool]:
    """(streak, streak_day, grew_today) for an event on ``day`` (``today`` is its ISO form).

    A late event from an earlier day changes nothing.
    """
    last = _parse_day(follower.streak_day)
    if last is None:
        return 1, today, True
    following = last + _ONE_DAY
    if day > following:
        return 1, today, True
    if day == following:
        return follower.streak + 1, today, True
    return follower.streak, follower.streak_day, False


def apply(
    follower: FollowerRecord, kind: str, network: str, time: datetime, config: LoyaltyConfig
) -> Scored:
    """Score one incoming interaction and report the milestones it crossed.

    Counts it (``interactions`` and the per-kind counter), moves ``last_seen``, extends
    or restarts the UTC-day streak (interactions that may never be rewarded, see
    :data:`NEVER_REWARDED`, leave the streak alone: a streak bonus or streak milestone
    earned by reposting would be an incentive to repost), awards base points plus any
    streak bonus within what is left of today's cap, and sets the tier. A late event
    (older than the follower's last counted day) never restarts a streak and is charged
    against the latest day's cap, so no day ever exceeds the cap. ``milestone`` events
    are not interactions: they come back unchanged.

    This runs for every event, so it reads the config through :meth:`LoyaltyConfig.tables`
    and builds the new record directly rather than with ``dataclasses.replace``.
    """
    tables = config.tables()
    rate = tables.rate(kind, network, config)
    parsed = rate.kind
    if parsed is Kind.MILESTONE:
        return Scored(follower, 0, ())
    day = _utc_day(time)
    today = day.isoformat()

    # Unrewardable kinds leave the streak alone, and a day already counted changes nothing
    # (comparing the ISO text spares parsing the stored day for most events).
    if not rate.rewardable or follower.streak_day == today:
        streak, streak_day, grew = follower.streak, follower.streak_day, False
    else:
        streak, streak_day, grew = _next_streak(follower, day, today)
    earned = rate.points
    if grew:
        earned += tables.streak_bonus(streak)

    points_day, spent_today = _points_day(follower, day, today)
    cap = tables.daily_cap
    if cap is not None:
        earned = min(earned, max(0, cap - spent_today))

    points = follower.points + earned
    tier = tables.tier(points)
    updated = FollowerRecord(
        id=follower.id,
        name=follower.name,
        first_seen=min(follower.first_seen, time),
        last_seen=max(follower.last_seen, time),
        interactions=follower.interactions + 1,
        mentions=follower.mentions + 1 if parsed is Kind.MENTION else follower.mentions,
        replies=follower.replies + 1 if parsed is Kind.REPLY else follower.replies,
        reposts=follower.reposts + 1 if parsed is Kind.REPOST else follower.reposts,
        quotes=follower.quotes + 1 if parsed is Kind.QUOTE else follower.quotes,
        points=points,
        tier=tier,
        streak=streak,
        streak_day=streak_day,
        points_day=points_day,
        points_today=spent_today + earned,
        tags=follower.tags,
        notes=follower.notes,
        opted_out=follower.opted_out,
        unreachable=follower.unreachable,
    )
    milestones = _crossed(follower, updated, grew, tables, config)
    return Scored(updated, earned, milestones)


def _points_day(follower: FollowerRecord, day: date, today: str) -> tuple[str, int]:
    """(points_day, points already earned on it) for an event on ``day`` (``today`` its ISO form)."""
    if follower.points_day == today:  # the common case: no date to parse
        return today, follower.points_today
    counted = _parse_day(follower.points_day)
    if counted is None or day > counted:
        return today, 0
    return counted.isoformat(), follower.points_today


def _crossed(
    before: FollowerRecord,
    after: FollowerRecord,
    streak_grew: bool,
    tables: _Tables,
    config: LoyaltyConfig,
) -> tuple[Milestone, ...]:
    found: list[Milestone] = []
    if after.interactions in tables.interactions:
        n = after.interactions
        found.append(Milestone("interactions", n, f"{ordinal(n)} interaction"))
    if after.reposts != before.reposts and after.reposts in tables.reposts:
        n = after.reposts
        found.append(Milestone("reposts", n, f"{ordinal(n)} repost"))
    if streak_grew and after.streak in tables.streak:
        found.append(Milestone("streak", after.streak, f"{after.streak}-day streak"))
    # Same points, same tier: only a change of points can cross a tier boundary.
    if tables.tier_change and after.points != before.points:
        previous, current = tables.tier(before.points), after.tier
        if previous != current:
            found.append(
                Milestone(
                    "tier",
                    _tier_minimum(current, config),
                    f"tier {current}",
                    previous_tier=previous,
                    tier=current,
                )
            )
    return tuple(found)


def reset(base: FollowerRecord, config: LoyaltyConfig) -> FollowerRecord:
    """``base`` with every derived count, point and streak back to the start."""
    return dataclasses.replace(
        base,
        interactions=0,
        mentions=0,
        replies=0,
        reposts=0,
        quotes=0,
        points=0,
        tier=tier_for(0, config),
        streak=0,
        streak_day="",
        points_day="",
        points_today=0,
    )


def recompute(
    base: FollowerRecord,
    history: Iterable[tuple[str, str, datetime]],
    config: LoyaltyConfig,
) -> FollowerRecord:
    """Rebuild a follower's counters, points, streak and tier from their history.

    ``history`` is (kind, network, time) per incoming interaction; it is replayed
    oldest first (a stable sort, so give it in order if times tie). Admin adjustments
    are not interactions: re-apply them with :func:`adjust_points` afterwards.
    """
    follower = reset(base, config)
    for kind, network, time in sorted(history, key=lambda item: item[2]):
        follower = apply(follower, kind, network, time, config).follower
    return follower


#: The history kind of a manual point adjustment (``/points add``, rule actions).
POINTS_KIND = "points"
#: The ``source`` of a history row for a repeated share of the same post: kept as
#: history, never counted or scored (the first share of a post was).
REPEAT_SHARE = "repeat-share"


def rescore(base: FollowerRecord, rows: Iterable[Interaction], config: LoyaltyConfig) -> FollowerRecord:
    """Counters, points, streak and tier from stored history rows, admin adjustments included.

    Used after a loyalty config change (``brandbot loyalty recompute``) and after two
    followers are merged (``/link``). What is not derived from history (tags, notes,
    opt-out, unreachable networks) is kept from ``base``.
    """
    rows = list(rows)
    history = [(r.kind, r.network, r.time) for r in rows
               if r.direction == Direction.IN and r.kind != POINTS_KIND and r.source != REPEAT_SHARE]
    bonus = sum(r.points for r in rows if r.kind == POINTS_KIND)
    fresh = recompute(base, history, config)
    if bonus:
        fresh = adjust_points(fresh, bonus, config)
    return dataclasses.replace(fresh, tags=base.tags, notes=base.notes, opted_out=base.opted_out,
                               unreachable=base.unreachable)
