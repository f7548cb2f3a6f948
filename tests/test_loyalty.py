"""Loyalty scoring: config validation, points, caps, streaks, tiers, milestones, replay."""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from brandbot.core.events import Kind
from brandbot.core.loyalty import (
    NEVER_REWARDED,
    LoyaltyConfig,
    Milestone,
    adjust_points,
    apply,
    next_tier,
    ordinal,
    recompute,
    reset,
    tier_for,
)
from brandbot.core.records import FollowerRecord

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def fresh(config: LoyaltyConfig | None = None) -> FollowerRecord:
    follower = FollowerRecord(id=1, name="Ana", first_seen=T0, last_seen=T0)
    return reset(follower, config or LoyaltyConfig())


def fold(
    follower: FollowerRecord, history: list[tuple[str, str, datetime]], config: LoyaltyConfig
) -> FollowerRecord:
    for kind, network, time in history:
        follower = apply(follower, kind, network, time, config).follower
    return follower


# --------------------------------------------------------------------------- config


def test_defaults_validate() -> None:
    config = LoyaltyConfig()
    assert config.points["quote"] == 5 and config.points["command"] == 0
    assert [t.name for t in config.tiers] == ["Reader", "Regular", "Silver", "Gold"]
    assert [(b.days, b.points) for b in config.streak_bonus] == [(7, 10)]
    assert config.daily_cap == 50
    assert config.milestones.interactions == [1, 10, 50, 100, 500]


def test_points_merge_over_defaults_and_normalise_kind_names() -> None:
    config = LoyaltyConfig(points={"Quote": 9})
    assert config.points["quote"] == 9
    assert config.points["mention"] == 2


@pytest.mark.parametrize(
    ("tiers", "expected"),
    [
        ([{"name": "A", "min_points": 10}], "first tier must start at 0"),
        (
            [{"name": "A", "min_points": 0}, {"name": "B", "min_points": 0}],
            re.escape("'B' (0) must be above 'A' (0)"),
        ),
        (
            [
                {"name": "A", "min_points": 0},
                {"name": "B", "min_points": 50},
                {"name": "C", "min_points": 20},
            ],
            "strictly increasing",
        ),
        (
            [{"name": "A", "min_points": 0}, {"name": "a", "min_points": 5}],
            "'a' appears twice",
        ),
        ([], "at least one tier"),
        ([{"name": "  ", "min_points": 0}], "a tier needs a name"),
    ],
)
def test_bad_tiers_say_what_to_fix(tiers: list[dict[str, object]], expected: str) -> None:
    with pytest.raises(ValidationError, match=expected):
        LoyaltyConfig(tiers=tiers)


def test_unknown_kind_is_a_clear_error() -> None:
    with pytest.raises(ValidationError, match="unknown event kind 'retweet'"):
        LoyaltyConfig(points={"retweet": 3})
    with pytest.raises(ValidationError, match="unknown event kind 'like'"):
        LoyaltyConfig(network_points={"discord": {"like": 0}})


def test_config_rejects_negative_points_milestone_kind_and_forbidden_rewards() -> None:
    with pytest.raises(ValidationError, match="must be 0 or more"):
        LoyaltyConfig(points={"mention": -1})
    with pytest.raises(ValidationError, match="never scored"):
        LoyaltyConfig(points={"milestone": 5})
    with pytest.raises(ValidationError, match="forbids incentivising reposts"):
        LoyaltyConfig(network_points={"X": {"repost": 4}})
    with pytest.raises(ValidationError, match="daily_cap"):
        LoyaltyConfig(daily_cap=-1)
    with pytest.raises(ValidationError, match="streak_bonus lists 7 days twice"):
        LoyaltyConfig(streak_bonus=[{"days": 7, "points": 1}, {"days": 7, "points": 2}])
    with pytest.raises(ValidationError, match="extra"):
        LoyaltyConfig(tiers_typo=[])  # type: ignore[call-arg]


def test_milestone_thresholds_are_sorted_and_positive() -> None:
    config = LoyaltyConfig(milestones={"interactions": [10, 1, 10]})
    assert config.milestones.interactions == [1, 10]
    with pytest.raises(ValidationError, match="interactions milestones must be 1 or more"):
        LoyaltyConfig(milestones={"interactions": [0]})


# --------------------------------------------------------------------------- apply


def test_apply_counts_points_and_kind_counters() -> None:
    config = LoyaltyConfig()
    follower = fresh(config)
    follower = apply(follower, "mention", "telegram", T0, config).follower
    follower = apply(follower, "reply", "telegram", T0, config).follower
    scored = apply(follower, "quote", "discord", T0 + timedelta(hours=1), config)
    follower = scored.follower
    follower = apply(follower, "repost", "discord", T0, config).follower
    assert scored.awarded == 5
    assert (follower.interactions, follower.mentions, follower.replies) == (4, 1, 1)
    assert (follower.quotes, follower.reposts) == (1, 1)
    assert follower.points == 2 + 2 + 5 + 3
    assert follower.last_seen == T0 + timedelta(hours=1)
    assert follower.tier == "Reader"


def test_network_overrides_apply_only_to_their_network() -> None:
    config = LoyaltyConfig(network_points={"discord": {"reaction": 0}})
    assert apply(fresh(config), "reaction", "discord", T0, config).awarded == 0
    assert apply(fresh(config), "reaction", "telegram", T0, config).awarded == 1


def test_x_reposts_and_follows_earn_nothing_but_still_count() -> None:
    config = LoyaltyConfig(points={"repost": 20, "follow": 20})
    assert ("x", "repost") in NEVER_REWARDED
    repost = apply(fresh(config), "repost", "x", T0, config)
    follow = apply(fresh(config), "follow", "X", T0, config)
    assert (repost.awarded, follow.awarded) == (0, 0)
    assert repost.follower.reposts == 1 and repost.follower.interactions == 1
    assert apply(fresh(config), "repost", "telegram", T0, config).awarded == 20
    assert apply(fresh(config), "quote", "x", T0, config).awarded == 5


def test_x_reposts_and_follows_do_not_build_streaks_or_bonuses() -> None:
    config = LoyaltyConfig(streak_bonus=[{"days": 2, "points": 10}])
    follower = apply(fresh(config), "mention", "x", T0, config).follower
    next_day = T0 + timedelta(days=1)
    repost = apply(follower, "repost", "x", next_day, config)
    assert repost.awarded == 0
    assert (repost.follower.streak, repost.follower.streak_day) == (1, "2024-05-01")
    mention = apply(repost.follower, "mention", "x", next_day + timedelta(hours=1), config)
    assert mention.follower.streak == 2
    assert mention.awarded == 2 + 10


def test_milestone_events_are_never_scored() -> None:
    config = LoyaltyConfig()
    follower = fresh(config)
    scored = apply(follower, Kind.MILESTONE, "x", T0, config)
    assert scored.follower == follower
    assert scored.awarded == 0 and scored.milestones == ()


def test_unknown_kind_and_naive_time_are_rejected() -> None:
    config = LoyaltyConfig()
    with pytest.raises(ValueError, match="unknown event kind"):
        apply(fresh(config), "retweet", "x", T0, config)
    with pytest.raises(ValueError, match="timezone-aware"):
        apply(fresh(config), "mention", "x", datetime(2024, 5, 1, 9), config)


def test_streak_same_day_next_day_and_gap() -> None:
    config = LoyaltyConfig(streak_bonus=[])
    follower = apply(fresh(config), "mention", "telegram", T0, config).follower
    assert (follower.streak, follower.streak_day) == (1, "2024-05-01")
    follower = apply(follower, "mention", "telegram", T0 + timedelta(hours=14), config).follower
    assert (follower.streak, follower.streak_day) == (1, "2024-05-01")  # 23:00, same UTC day
    follower = apply(follower, "mention", "telegram", T0 + timedelta(hours=15), config).follower
    assert (follower.streak, follower.streak_day) == (2, "2024-05-02")  # 00:00 next day
    follower = apply(follower, "mention", "telegram", T0 + timedelta(days=3), config).follower
    assert (follower.streak, follower.streak_day) == (1, "2024-05-04")  # gap restarts


def test_streak_uses_utc_days_for_non_utc_times() -> None:
    config = LoyaltyConfig(streak_bonus=[])
    plus_two = timezone(timedelta(hours=2))
    # 01:00 at +02:00 is 23:00 UTC the day before.
    first = apply(fresh(config), "mention", "t", datetime(2024, 5, 2, 1, tzinfo=plus_two), config)
    assert first.follower.streak_day == "2024-05-01"


def test_late_event_from_an_earlier_day_does_not_restart_the_streak() -> None:
    config = LoyaltyConfig(streak_bonus=[])
    follower = fold(
        fresh(config), [("mention", "t", T0), ("mention", "t", T0 + timedelta(days=1))], config
    )
    late = apply(follower, "mention", "t", T0 - timedelta(days=5), config).follower
    assert (late.streak, late.streak_day) == (2, "2024-05-02")
    assert late.last_seen == T0 + timedelta(days=1)
    assert late.first_seen == T0 - timedelta(days=5)


def test_streak_bonus_on_the_day_the_streak_reaches_its_length() -> None:
    config = LoyaltyConfig(streak_bonus=[{"days": 3, "points": 10}])
    days = [T0 + timedelta(days=n) for n in range(4)]
    follower = fold(fresh(config), [("direct", "t", d) for d in days[:2]], config)
    third = apply(follower, "direct", "t", days[2], config)
    assert third.awarded == 1 + 10
    again_same_day = apply(third.follower, "direct", "t", days[2] + timedelta(hours=1), config)
    assert again_same_day.awarded == 1
    fourth = apply(again_same_day.follower, "direct", "t", days[3], config)
    assert fourth.awarded == 1


def test_daily_cap_limits_points_per_utc_day_and_resets_next_day() -> None:
    config = LoyaltyConfig(daily_cap=7)
    follower = fresh(config)
    awards = []
    for minute in range(5):
        scored = apply(follower, "quote", "t", T0 + timedelta(minutes=minute), config)
        follower, awards = scored.follower, [*awards, scored.awarded]
    assert awards == [5, 2, 0, 0, 0]
    assert (follower.points, follower.points_today, follower.points_day) == (7, 7, "2024-05-01")
    next_day = apply(follower, "quote", "t", T0 + timedelta(days=1), config)
    assert next_day.awarded == 5
    assert next_day.follower.points_today == 5


def test_no_cap_and_zero_cap() -> None:
    uncapped = LoyaltyConfig(daily_cap=None)
    follower = fold(fresh(uncapped), [("quote", "t", T0)] * 30, uncapped)
    assert follower.points == 150
    zero = LoyaltyConfig(daily_cap=0)
    assert fold(fresh(zero), [("quote", "t", T0)] * 3, zero).points == 0


def test_tier_rises_with_points_and_reports_the_change() -> None:
    config = LoyaltyConfig(daily_cap=None, milestones={"interactions": []})
    follower = fold(fresh(config), [("quote", "t", T0)] * 9, config)
    assert (follower.points, follower.tier) == (45, "Reader")
    scored = apply(follower, "quote", "t", T0, config)
    assert (scored.follower.points, scored.follower.tier) == (50, "Regular")
    assert scored.milestones == (
        Milestone("tier", 50, "tier Regular", previous_tier="Reader", tier="Regular"),
    )
    no_change = apply(scored.follower, "quote", "t", T0, config)
    assert no_change.milestones == ()


def test_tier_change_milestones_can_be_switched_off() -> None:
    config = LoyaltyConfig(
        daily_cap=None, milestones={"interactions": [], "tier_change": False}
    )
    follower = fold(fresh(config), [("quote", "t", T0)] * 9, config)
    scored = apply(follower, "quote", "t", T0, config)
    assert scored.follower.tier == "Regular" and scored.milestones == ()


def test_interaction_and_repost_milestones() -> None:
    config = LoyaltyConfig(streak_bonus=[], milestones={"tier_change": False})
    first = apply(fresh(config), "repost", "telegram", T0, config)
    assert first.milestones == (
        Milestone("interactions", 1, "1st interaction"),
        Milestone("reposts", 1, "1st repost"),
    )
    follower = fold(first.follower, [("mention", "t", T0)] * 8, config)
    tenth = apply(follower, "reaction", "t", T0, config)
    assert tenth.follower.interactions == 10
    assert tenth.milestones == (Milestone("interactions", 10, "10th interaction"),)
    eleventh = apply(tenth.follower, "reaction", "t", T0, config)
    assert eleventh.milestones == ()


def test_x_repost_still_reaches_repost_milestone_without_points() -> None:
    config = LoyaltyConfig()
    scored = apply(fresh(config), "repost", "x", T0, config)
    assert scored.awarded == 0
    assert Milestone("reposts", 1, "1st repost") in scored.milestones


def test_seven_day_streak_milestone_once_per_streak() -> None:
    config = LoyaltyConfig(milestones={"interactions": [], "tier_change": False})
    follower = fold(
        fresh(config), [("direct", "t", T0 + timedelta(days=n)) for n in range(6)], config
    )
    seventh = apply(follower, "direct", "t", T0 + timedelta(days=6), config)
    assert seventh.follower.streak == 7
    assert seventh.milestones == (Milestone("streak", 7, "7-day streak"),)
    assert seventh.awarded == 1 + 10  # the default 7-day streak bonus
    same_day = apply(seventh.follower, "direct", "t", T0 + timedelta(days=6, hours=1), config)
    assert same_day.milestones == ()


def test_ordinal_labels() -> None:
    labels = [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111, 500)]
    expected = "1st 2nd 3rd 4th 11th 12th 13th 21st 22nd 101st 111th 500th".split()
    assert labels == expected


# --------------------------------------------------------------------------- tiers, admin


def test_tier_for_and_next_tier() -> None:
    config = LoyaltyConfig()
    assert [tier_for(p, config) for p in (0, 49, 50, 149, 150, 399, 400, 10_000)] == [
        "Reader", "Reader", "Regular", "Regular", "Silver", "Silver", "Gold", "Gold",
    ]
    assert next_tier(0, config) == ("Regular", 50)
    assert next_tier(120, config) == ("Silver", 30)
    assert next_tier(400, config) is None


def test_adjust_points_floors_at_zero_ignores_cap_and_sets_tier() -> None:
    config = LoyaltyConfig(daily_cap=5)
    follower = fresh(config)
    raised = adjust_points(follower, 500, config)
    assert (raised.points, raised.tier, raised.points_today) == (500, "Gold", 0)
    lowered = adjust_points(raised, -1000, config)
    assert (lowered.points, lowered.tier) == (0, "Reader")


def test_recompute_resets_and_replays_oldest_first() -> None:
    config = LoyaltyConfig()
    history = [
        ("quote", "t", T0 + timedelta(days=1)),
        ("mention", "t", T0),
        ("repost", "x", T0 + timedelta(days=2)),
    ]
    stale = dataclasses.replace(fresh(config), points=999, interactions=42, tier="Gold", streak=9)
    rebuilt = recompute(stale, history, config)
    assert rebuilt == fold(fresh(config), sorted(history, key=lambda h: h[2]), config)
    # The x repost counts as an interaction but neither earns points nor extends the streak.
    assert (rebuilt.points, rebuilt.interactions, rebuilt.streak) == (7, 3, 2)
    assert rebuilt.tier == "Reader"
    assert recompute(stale, [], config) == reset(stale, config)


# --------------------------------------------------------------------------- properties

NETWORKS = st.sampled_from(["x", "telegram", "discord", "console"])
KINDS = st.sampled_from([k.value for k in Kind])


@st.composite
def histories(draw: st.DrawFn) -> list[tuple[str, str, datetime]]:
    """Chronological interactions over a few weeks, with bursts and gaps."""
    steps = draw(st.lists(st.integers(min_value=0, max_value=60 * 60 * 40), max_size=60))
    history = []
    time = T0
    for step in steps:
        time += timedelta(seconds=step)
        history.append((draw(KINDS), draw(NETWORKS), time))
    return history


@st.composite
def configs(draw: st.DrawFn) -> LoyaltyConfig:
    kinds = st.sampled_from(list(LoyaltyConfig().points))
    points = draw(st.dictionaries(kinds, st.integers(0, 40)))
    minimums = draw(st.lists(st.integers(1, 500), unique=True, max_size=4))
    tiers = [{"name": "T0", "min_points": 0}] + [
        {"name": f"T{m}", "min_points": m} for m in sorted(minimums)
    ]
    bonus = draw(st.lists(st.integers(1, 10), unique=True, max_size=3))
    return LoyaltyConfig(
        points=points,
        daily_cap=draw(st.one_of(st.none(), st.integers(0, 60))),
        tiers=tiers,
        streak_bonus=[{"days": d, "points": draw(st.integers(0, 30))} for d in bonus],
    )


@settings(max_examples=150, deadline=None)
@given(history=histories(), config=configs())
def test_folding_apply_equals_recompute(
    history: list[tuple[str, str, datetime]], config: LoyaltyConfig
) -> None:
    start = fresh(config)
    assert fold(start, history, config) == recompute(start, history, config)


@settings(max_examples=150, deadline=None)
@given(history=histories(), config=configs())
def test_points_never_negative_capped_per_day_and_tier_consistent(
    history: list[tuple[str, str, datetime]], config: LoyaltyConfig
) -> None:
    follower = fresh(config)
    per_day: dict[str, int] = defaultdict(int)
    for kind, network, time in history:
        before = follower.points
        scored = apply(follower, kind, network, time, config)
        follower = scored.follower
        assert follower.points == before + scored.awarded
        assert scored.awarded >= 0 and follower.points >= 0
        assert follower.tier == tier_for(follower.points, config)
        per_day[time.date().isoformat()] += scored.awarded
        if (network, kind) in NEVER_REWARDED or kind == Kind.MILESTONE:
            assert scored.awarded == 0
    if config.daily_cap is not None:
        assert all(total <= config.daily_cap for total in per_day.values())


@settings(max_examples=100, deadline=None)
@given(history=histories(), delta=st.integers(-10_000, 10_000))
def test_adjust_points_keeps_points_non_negative_and_tier_consistent(
    history: list[tuple[str, str, datetime]], delta: int
) -> None:
    config = LoyaltyConfig()
    follower = adjust_points(fold(fresh(config), history, config), delta, config)
    assert follower.points >= 0
    assert follower.tier == tier_for(follower.points, config)


@settings(max_examples=100, deadline=None)
@given(
    kinds=st.lists(st.sampled_from(["repost", "follow"]), min_size=1, max_size=20),
    config=configs(),
)
def test_x_reposts_and_follows_never_add_points(kinds: list[str], config: LoyaltyConfig) -> None:
    history = [(kind, "x", T0 + timedelta(hours=n * 7)) for n, kind in enumerate(kinds)]
    assert fold(fresh(config), history, config).points == 0
