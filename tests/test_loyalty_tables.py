"""The fast scoring path (config tables, direct record construction) against a reference.

``reference_apply`` is :func:`brandbot.core.loyalty.apply` as it was before it read the config
through :meth:`LoyaltyConfig.tables`: it calls the plain config methods and
``dataclasses.replace``. Both must agree on every follower state, kind spelling, network,
time zone and config, including late events and stale stored fields.
"""

from __future__ import annotations

import dataclasses
import pickle
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brandbot.core.events import Kind
from brandbot.core.loyalty import (
    LoyaltyConfig,
    Milestone,
    MilestonesConfig,
    Scored,
    TierConfig,
    apply,
    recompute,
    reset,
    tier_for,
)
from brandbot.core.records import FollowerRecord

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)

_COUNTERS = {Kind.MENTION: "mentions", Kind.REPLY: "replies", Kind.REPOST: "reposts", Kind.QUOTE: "quotes"}


# --------------------------------------------------------------------------- reference


def _ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }"


def _utc_day(time: datetime) -> date:
    if time.tzinfo is None or time.utcoffset() is None:
        raise ValueError(f"loyalty needs timezone-aware times; got naive {time.isoformat()}")
    return time.astimezone(UTC).date()


def _parse_day(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


def _next_streak(follower: FollowerRecord, day: date) -> tuple[int, str, bool]:
    last = _parse_day(follower.streak_day)
    if last is None or day > last + timedelta(days=1):
        return 1, day.isoformat(), True
    if day == last + timedelta(days=1):
        return follower.streak + 1, day.isoformat(), True
    return follower.streak, follower.streak_day, False


def _crossed(before: FollowerRecord, after: FollowerRecord, grew: bool, config: LoyaltyConfig) -> tuple[Milestone, ...]:
    wanted = config.milestones
    found: list[Milestone] = []
    if after.interactions in wanted.interactions:
        n = after.interactions
        found.append(Milestone("interactions", n, f"{_ordinal(n)} interaction"))
    if after.reposts != before.reposts and after.reposts in wanted.reposts:
        n = after.reposts
        found.append(Milestone("reposts", n, f"{_ordinal(n)} repost"))
    if grew and after.streak in wanted.streak:
        found.append(Milestone("streak", after.streak, f"{after.streak}-day streak"))
    if wanted.tier_change:
        previous, current = tier_for(before.points, config), after.tier
        if previous != current:
            minimum = next(t.min_points for t in config.tiers if t.name == current)
            found.append(Milestone("tier", minimum, f"tier {current}", previous_tier=previous, tier=current))
    return tuple(found)


def reference_apply(
    follower: FollowerRecord, kind: str, network: str, time: datetime, config: LoyaltyConfig
) -> Scored:
    parsed = Kind.parse(kind)
    if parsed is Kind.MILESTONE:
        return Scored(follower, 0, ())
    day = _utc_day(time)
    counters = {"interactions": follower.interactions + 1}
    counter = _COUNTERS.get(parsed)
    if counter:
        counters[counter] = getattr(follower, counter) + 1
    if config.rewardable(parsed.value, network):
        streak, streak_day, grew = _next_streak(follower, day)
    else:
        streak, streak_day, grew = follower.streak, follower.streak_day, False
    earned = config.points_for(parsed.value, network)
    if grew:
        earned += config.streak_bonus_for(streak)
    points_day = _parse_day(follower.points_day)
    if points_day is None or day > points_day:
        points_day, spent_today = day, 0
    else:
        spent_today = follower.points_today
    if config.daily_cap is not None:
        earned = min(earned, max(0, config.daily_cap - spent_today))
    points = follower.points + earned
    updated = dataclasses.replace(
        follower, **counters,
        first_seen=min(follower.first_seen, time), last_seen=max(follower.last_seen, time),
        streak=streak, streak_day=streak_day, points_day=points_day.isoformat(),
        points_today=spent_today + earned, points=points, tier=tier_for(points, config),
    )
    return Scored(updated, earned, _crossed(follower, updated, grew, config))


# --------------------------------------------------------------------------- strategies

ZONES = st.sampled_from([
    UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-7)), timezone(timedelta(0)),
])
#: Kind spellings as networks and configs give them, clean and not.
KINDS = st.sampled_from([k.value for k in Kind] + [Kind.MENTION, Kind.REPOST, "Mention", " QUOTE ", "reply\n"])
NETWORKS = st.sampled_from(["x", "X", " x ", "telegram", "discord", "Discord", "memory"])
DAYS = st.one_of(
    st.just(""),
    st.dates(min_value=date(2024, 4, 20), max_value=date(2024, 5, 20)).map(date.isoformat),
    st.just("20240501"),  # not the form apply writes, but one date.fromisoformat reads
)


@st.composite
def followers(draw: st.DrawFn) -> FollowerRecord:
    """Any stored state, including a stale tier and days in other spellings."""
    first = T0 + timedelta(hours=draw(st.integers(-400, 400)))
    return FollowerRecord(
        id=draw(st.integers(1, 10)),
        name=draw(st.sampled_from(["Ana", "Bo"])),
        first_seen=first,
        last_seen=first + timedelta(hours=draw(st.integers(0, 400))),
        interactions=draw(st.integers(0, 600)),
        mentions=draw(st.integers(0, 30)),
        replies=draw(st.integers(0, 30)),
        reposts=draw(st.integers(0, 30)),
        quotes=draw(st.integers(0, 30)),
        points=draw(st.integers(0, 700)),
        tier=draw(st.sampled_from(["", "Reader", "Gold", "T9"])),
        streak=draw(st.integers(0, 40)),
        streak_day=draw(DAYS),
        points_day=draw(DAYS),
        points_today=draw(st.integers(0, 80)),
        tags=draw(st.sampled_from([frozenset(), frozenset({"vip"})])),
        notes=draw(st.sampled_from(["", "met at the fair"])),
        opted_out=draw(st.booleans()),
        unreachable=draw(st.sampled_from([frozenset(), frozenset({"x"})])),
    )


@st.composite
def configs(draw: st.DrawFn) -> LoyaltyConfig:
    kinds = st.sampled_from(list(LoyaltyConfig().points))
    minimums = draw(st.lists(st.integers(1, 500), unique=True, max_size=4))
    tiers = [{"name": "T0", "min_points": 0}] + [{"name": f"T{m}", "min_points": m} for m in sorted(minimums)]
    bonus = draw(st.lists(st.integers(1, 10), unique=True, max_size=3))
    network_points = draw(st.dictionaries(
        st.sampled_from(["telegram", "discord", "memory"]), st.dictionaries(kinds, st.integers(0, 40)), max_size=2))
    return LoyaltyConfig(
        points=draw(st.dictionaries(kinds, st.integers(0, 40))),
        network_points=network_points,
        daily_cap=draw(st.one_of(st.none(), st.integers(0, 60))),
        tiers=tiers,
        streak_bonus=[{"days": d, "points": draw(st.integers(0, 30))} for d in bonus],
        milestones={
            "interactions": draw(st.lists(st.integers(1, 600), max_size=5)),
            "reposts": draw(st.lists(st.integers(1, 31), max_size=4)),
            "streak": draw(st.lists(st.integers(1, 41), max_size=3)),
            "tier_change": draw(st.booleans()),
        },
    )


@st.composite
def times(draw: st.DrawFn) -> datetime:
    """Aware times around the follower's days, in several zones (late events included)."""
    instant = T0 + timedelta(minutes=draw(st.integers(-60 * 24 * 20, 60 * 24 * 20)))
    return instant.astimezone(draw(ZONES))


# --------------------------------------------------------------------------- properties


@settings(max_examples=400, deadline=None)
@given(follower=followers(), kind=KINDS, network=NETWORKS, time=times(), config=configs())
def test_apply_matches_the_reference_on_any_state(
    follower: FollowerRecord, kind: str, network: str, time: datetime, config: LoyaltyConfig
) -> None:
    assert apply(follower, kind, network, time, config) == reference_apply(follower, kind, network, time, config)


@settings(max_examples=150, deadline=None)
@given(
    start=followers(),
    steps=st.lists(st.tuples(KINDS, NETWORKS, st.integers(0, 60 * 60 * 40), ZONES), max_size=40),
    config=configs(),
)
def test_folding_apply_matches_the_reference(
    start: FollowerRecord, steps: list[tuple[str, str, int, timezone]], config: LoyaltyConfig
) -> None:
    fast = slow = start
    time = T0
    for kind, network, step, zone in steps:
        time += timedelta(seconds=step)
        got = apply(fast, kind, network, time.astimezone(zone), config)
        want = reference_apply(slow, kind, network, time.astimezone(zone), config)
        assert got == want
        fast, slow = got.follower, want.follower


@settings(max_examples=100, deadline=None)
@given(points=st.integers(-10, 1000), config=configs())
def test_table_lookups_match_the_config_methods(points: int, config: LoyaltyConfig) -> None:
    tables = config.tables()
    assert tables.tier(points) == tier_for(points, config)
    for days in range(12):
        assert tables.streak_bonus(days) == config.streak_bonus_for(days)
    for kind in [k.value for k in Kind if k is not Kind.MILESTONE]:
        for network in ["x", " X", "discord", "memory"]:
            rate = tables.rate(kind, network, config)
            assert rate.points == config.points_for(kind, network)
            assert rate.rewardable == config.rewardable(kind, network)


def test_every_follower_field_is_carried_over() -> None:
    """apply builds the record field by field: a new FollowerRecord field must be added there."""
    assert [f.name for f in dataclasses.fields(FollowerRecord)] == [
        "id", "name", "first_seen", "last_seen", "interactions", "mentions", "replies", "reposts",
        "quotes", "points", "tier", "streak", "streak_day", "points_day", "points_today", "tags",
        "notes", "opted_out", "unreachable",
    ], "FollowerRecord changed: update loyalty.apply, which constructs it directly"


# --------------------------------------------------------------------------- the tables' life


def _follower() -> FollowerRecord:
    return reset(FollowerRecord(id=1, name="Ana", first_seen=T0, last_seen=T0), LoyaltyConfig())


def test_tables_are_built_once_and_kept_out_of_the_fields() -> None:
    config = LoyaltyConfig()
    assert config.tables() is config.tables()
    assert config == LoyaltyConfig()
    assert "tables" not in str(config.model_dump())


def test_tables_follow_a_reassigned_field() -> None:
    config = LoyaltyConfig()
    assert apply(_follower(), "quote", "telegram", T0, config).awarded == 5
    config.points = {**config.points, "quote": 9}
    config.daily_cap = 3
    assert apply(_follower(), "quote", "telegram", T0, config).awarded == 3
    config.daily_cap = None
    assert apply(_follower(), "quote", "telegram", T0, config).awarded == 9


def test_tables_follow_model_copy_with_updates() -> None:
    config = LoyaltyConfig()
    config.tables()
    only = config.model_copy(update={"tiers": [TierConfig(name="Only", min_points=0)]})
    quiet = config.model_copy(
        update={"daily_cap": 1, "milestones": MilestonesConfig(interactions=[], tier_change=False)}
    )
    assert apply(_follower(), "quote", "telegram", T0, only).follower.tier == "Only"
    scored = apply(_follower(), "quote", "telegram", T0, quiet)
    assert (scored.awarded, scored.milestones) == (1, ())
    assert apply(_follower(), "quote", "telegram", T0, config).awarded == 5


def test_configs_with_tables_pickle_and_rebuild() -> None:
    config = LoyaltyConfig(points={"quote": 7})
    config.tables()
    clone = pickle.loads(pickle.dumps(config))
    assert clone == config
    assert apply(_follower(), "quote", "telegram", T0, clone).awarded == 7


def test_unknown_kinds_still_fail_every_time_and_are_not_remembered() -> None:
    config = LoyaltyConfig()
    for _ in range(2):
        with pytest.raises(ValueError, match="unknown event kind 'retweet'"):
            apply(_follower(), "retweet", "x", T0, config)


def test_milestone_events_ignore_time_and_network() -> None:
    config = LoyaltyConfig()
    follower = _follower()
    naive = datetime(2024, 5, 1, 9, 0)
    assert apply(follower, "milestone", "x", naive, config) == Scored(follower, 0, ())
    with pytest.raises(ValueError, match="timezone-aware"):
        apply(follower, "mention", "x", naive, config)


def test_many_network_spellings_are_resolved_past_the_table_limit() -> None:
    config = LoyaltyConfig(network_points={"n7": {"mention": 9}})
    follower = _follower()
    for i in range(400):
        assert apply(follower, "mention", f"n{i}", T0, config).awarded == (9 if i == 7 else 2)
    assert apply(follower, "mention", "N7 ", T0, config).awarded == 9


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(st.tuples(KINDS, NETWORKS, st.integers(0, 60 * 60 * 30)), max_size=30), config=configs())
def test_recompute_agrees_with_live_scoring(steps: list[tuple[str, str, int]], config: LoyaltyConfig) -> None:
    start = reset(FollowerRecord(id=1, name="Ana", first_seen=T0, last_seen=T0), config)
    live = start
    history = []
    time = T0
    for kind, network, step in steps:
        time += timedelta(seconds=step)
        history.append((kind, network, time))
        live = apply(live, kind, network, time, config).follower
    assert recompute(start, history, config) == live
