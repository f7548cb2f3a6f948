"""The send policy: each reason alone, their precedence, bypasses, quiet hours, deferrals."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from brandbot.core.policy import (
    Decision,
    Policy,
    PolicyConfig,
    QuietHours,
    Reason,
    SendRequest,
    Verdict,
    check_rule_against_network,
)

NOON = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def request(**changes: object) -> SendRequest:
    """A reply to a mention on X that every check allows; tests change one fact at a time."""
    base = SendRequest(
        network="x",
        requires_summons=True,
        event_kind="mention",
        addressed=True,
        private=False,
        person_wrote_first=False,
        opted_out=False,
        unreachable=False,
        once_key_used=False,
        handed_off=False,
        now=NOON,
    )
    return dataclasses.replace(base, **changes)


def decide(req: SendRequest, **config: object) -> Decision:
    return Policy(PolicyConfig(**config)).decide(req)


# --------------------------------------------------------------------------- single reasons


def test_plain_summoned_reply_is_allowed() -> None:
    decision = decide(request())
    assert decision.allowed
    assert (decision.verdict, decision.reason, decision.until) == (Verdict.ALLOW, Reason.OK, None)


@pytest.mark.parametrize(
    ("changes", "reason", "words"),
    [
        ({"unreachable": True}, Reason.UNREACHABLE, "cannot be reached on x"),
        ({"text_problem": "over 280 characters"}, Reason.TOO_LONG, "over 280 characters"),
        ({"text_empty": True}, Reason.EMPTY, "the reply is empty"),
        ({"opted_out": True}, Reason.OPTED_OUT, "opted out"),
        ({"handed_off": True}, Reason.HANDED_OFF, "taken over"),
        (
            {"event_kind": "repost", "addressed": False},
            Reason.NOT_SUMMONED,
            (
                "x allows automated replies only to people who mentioned or quoted the account; "
                "this was a repost"
            ),
        ),
        ({"event_kind": None, "addressed": False}, Reason.NOT_SUMMONED, "proactive"),
        ({"addressed": False}, Reason.NOT_SUMMONED, "this mention did not address the account"),
        (
            {"private": True, "event_kind": "follow", "requires_summons": False},
            Reason.UNSOLICITED_DM,
            "wrote to us there first",
        ),
        ({"once_key_used": True}, Reason.ALREADY_ANSWERED, "already answered"),
    ],
)
def test_each_refusal_in_isolation(changes: dict[str, object], reason: Reason, words: str) -> None:
    decision = decide(request(**changes))
    assert decision.verdict is Verdict.REFUSE and not decision.allowed
    assert decision.reason is reason
    assert words in decision.detail
    assert decision.until is None


def test_non_summoning_kinds_are_fine_where_summons_are_not_required() -> None:
    assert decide(request(requires_summons=False, event_kind="repost", addressed=False)).allowed
    assert decide(request(requires_summons=False, event_kind=None, addressed=False)).allowed


def test_proactive_message_in_a_dm_the_person_started_counts_as_summoned() -> None:
    proactive_dm = request(event_kind=None, addressed=False, private=True, person_wrote_first=True)
    assert decide(proactive_dm).allowed
    cold_dm = dataclasses.replace(proactive_dm, person_wrote_first=False)
    assert decide(cold_dm).reason is Reason.NOT_SUMMONED


def test_direct_message_reply_is_allowed_when_the_person_wrote_first() -> None:
    dm = request(event_kind="direct", private=True, person_wrote_first=True)
    assert decide(dm).allowed


def test_quiet_hours_defer_until_they_end() -> None:
    quiet = {"start": "11:00", "end": "13:30", "timezone": "UTC"}
    decision = decide(request(), quiet_hours=quiet)
    assert (decision.verdict, decision.reason) == (Verdict.DEFER, Reason.QUIET_HOURS)
    assert decision.until == datetime(2024, 5, 1, 13, 30, tzinfo=UTC)
    assert "quiet hours (11:00-13:30 UTC)" in decision.detail


def test_quiet_hours_refuse_mode_and_network_filter() -> None:
    quiet = {"start": "11:00", "end": "13:30", "mode": "refuse", "networks": ["X"]}
    refused = decide(request(), quiet_hours=quiet)
    assert (refused.verdict, refused.reason, refused.until) == (
        Verdict.REFUSE, Reason.QUIET_HOURS, None,
    )
    elsewhere = request(network="telegram", requires_summons=False)
    assert decide(elsewhere, quiet_hours=quiet).allowed


def test_cost_budget_defers_until_next_utc_midnight() -> None:
    late = datetime(2024, 5, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5)))  # 04:30Z May 2
    req = request(now=late, cost=0.01, cost_spent_today=0.995)
    decision = decide(req, daily_cost_budget=1.0)
    assert (decision.verdict, decision.reason) == (Verdict.DEFER, Reason.COST_BUDGET)
    assert decision.until == datetime(2024, 5, 3, 0, 0, tzinfo=UTC)
    assert decide(dataclasses.replace(req, cost_spent_today=0.99), daily_cost_budget=1.0).allowed


def test_cost_budget_ignores_free_messages_and_refuses_impossible_ones() -> None:
    assert decide(request(cost=0.0, cost_spent_today=5.0), daily_cost_budget=1.0).allowed
    impossible = decide(request(cost=2.0), daily_cost_budget=1.0)
    assert (impossible.verdict, impossible.reason) == (Verdict.REFUSE, Reason.COST_BUDGET)
    assert "more than the whole daily budget" in impossible.detail
    assert decide(request(cost=50.0, cost_spent_today=1e6)).allowed  # no budget configured


def test_rate_budget_defers_until_the_next_hour() -> None:
    req = request(now=datetime(2024, 5, 1, 12, 41, 7, tzinfo=UTC), sent_last_hour=10)
    decision = decide(req, rate_budget_per_hour=10)
    assert (decision.verdict, decision.reason) == (Verdict.DEFER, Reason.RATE_BUDGET)
    assert decision.until == datetime(2024, 5, 1, 13, 0, tzinfo=UTC)
    assert decide(dataclasses.replace(req, sent_last_hour=9), rate_budget_per_hour=10).allowed


# --------------------------------------------------------------------------- precedence


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"unreachable": True, "text_problem": "too long", "opted_out": True}, Reason.UNREACHABLE),
        ({"text_problem": "too long", "opted_out": True}, Reason.TOO_LONG),
        ({"opted_out": True, "handed_off": True}, Reason.OPTED_OUT),
        ({"handed_off": True, "addressed": False}, Reason.HANDED_OFF),
        ({"addressed": False, "private": True, "once_key_used": True}, Reason.NOT_SUMMONED),
        ({"private": True, "once_key_used": True}, Reason.UNSOLICITED_DM),
        ({"once_key_used": True, "sent_last_hour": 99, "cost": 5.0}, Reason.ALREADY_ANSWERED),
        ({"sent_last_hour": 99, "cost": 0.5, "cost_spent_today": 0.9}, Reason.QUIET_HOURS),
    ],
)
def test_documented_precedence(changes: dict[str, object], reason: Reason) -> None:
    config = {
        "quiet_hours": {"start": "11:00", "end": "13:00"},
        "daily_cost_budget": 1.0,
        "rate_budget_per_hour": 5,
    }
    assert decide(request(**changes), **config).reason is reason


def test_cost_budget_comes_before_rate_budget() -> None:
    req = request(sent_last_hour=99, cost=0.5, cost_spent_today=0.9)
    decision = decide(req, daily_cost_budget=1.0, rate_budget_per_hour=5)
    assert decision.reason is Reason.COST_BUDGET


# --------------------------------------------------------------------------- essential


def test_essential_bypasses_opt_out_quiet_hours_and_budgets() -> None:
    config = {
        "quiet_hours": {"start": "11:00", "end": "13:00"},
        "daily_cost_budget": 1.0,
        "rate_budget_per_hour": 1,
    }
    req = request(opted_out=True, cost=5.0, cost_spent_today=5.0, sent_last_hour=50)
    assert decide(req, **config).reason is Reason.OPTED_OUT
    assert decide(dataclasses.replace(req, essential=True), **config).allowed


def test_an_essential_reply_is_not_held_back_by_a_handoff() -> None:
    """"stop" and /forgetme are confirmed while the team has the conversation."""
    handed = request(handed_off=True, opted_out=True)
    assert decide(handed).reason is Reason.OPTED_OUT
    assert decide(dataclasses.replace(handed, opted_out=False)).reason is Reason.HANDED_OFF
    assert decide(dataclasses.replace(handed, essential=True)).allowed


def test_an_essential_proactive_message_still_waits_for_the_end_of_a_handoff() -> None:
    proactive = request(
        handed_off=True, essential=True, event_kind=None, addressed=False,
        requires_summons=False,
    )
    assert decide(proactive).reason is Reason.HANDED_OFF


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"unreachable": True}, Reason.UNREACHABLE),
        ({"text_problem": "over 4096 characters"}, Reason.TOO_LONG),
        ({"text_empty": True}, Reason.EMPTY),
    ],
)
def test_essential_does_not_bypass_unreachable_or_too_long(
    changes: dict[str, object], reason: Reason
) -> None:
    assert decide(request(essential=True, opted_out=True, **changes)).reason is reason


# --------------------------------------------------------------------------- quiet hours


def test_quiet_hours_wrap_midnight_in_a_local_zone() -> None:
    quiet = QuietHours(start="22:00", end="07:00", timezone="Europe/Paris")
    # Summer: Paris is UTC+2.
    at = lambda h, m=0: datetime(2024, 7, 1, h, m, tzinfo=PARIS)  # noqa: E731
    assert [quiet.contains(at(h)) for h in (21, 22, 23, 0, 6)] == [False, True, True, True, True]
    assert not quiet.contains(at(7)) and not quiet.contains(at(12))
    assert quiet.contains(at(6, 59))
    # 20:30 UTC is 22:30 in Paris: quiet until 07:00 Paris = 05:00 UTC next day.
    now = datetime(2024, 7, 1, 20, 30, tzinfo=UTC)
    assert quiet.contains(now)
    assert quiet.ends_after(now) == datetime(2024, 7, 2, 5, 0, tzinfo=UTC)
    # After midnight the end is the same morning.
    after_midnight = datetime(2024, 7, 1, 23, 15, tzinfo=UTC)  # 01:15 Paris, July 2
    assert quiet.ends_after(after_midnight) == datetime(2024, 7, 2, 5, 0, tzinfo=UTC)


def test_quiet_hours_not_wrapping() -> None:
    quiet = QuietHours(start="12:00", end="14:00", timezone="UTC")
    assert quiet.contains(NOON) and not quiet.contains(NOON - timedelta(minutes=1))
    assert not quiet.contains(NOON + timedelta(hours=2))
    assert quiet.ends_after(NOON) == NOON + timedelta(hours=2)


def test_quiet_hours_across_the_spring_forward_night() -> None:
    # New York, 2024-03-10: clocks jump from 02:00 EST to 03:00 EDT.
    quiet = QuietHours(start="22:00", end="07:00", timezone="America/New_York")
    evening = datetime(2024, 3, 9, 23, 0, tzinfo=NEW_YORK)  # EST, UTC-5
    until = quiet.ends_after(evening)
    assert until == datetime(2024, 3, 10, 11, 0, tzinfo=UTC)  # 07:00 EDT
    assert until.astimezone(NEW_YORK).hour == 7
    assert until - evening == timedelta(hours=7)  # one hour of night went missing
    assert quiet.contains(datetime(2024, 3, 10, 10, 59, tzinfo=UTC))  # 06:59 EDT
    assert not quiet.contains(datetime(2024, 3, 10, 11, 0, tzinfo=UTC))


def test_quiet_hours_across_the_fall_back_night() -> None:
    # New York, 2024-11-03: clocks go back from 02:00 EDT to 01:00 EST.
    quiet = QuietHours(start="22:00", end="07:00", timezone="America/New_York")
    evening = datetime(2024, 11, 2, 23, 0, tzinfo=NEW_YORK)  # EDT, UTC-4
    until = quiet.ends_after(evening)
    assert until == datetime(2024, 11, 3, 12, 0, tzinfo=UTC)  # 07:00 EST
    assert until - evening == timedelta(hours=9)


def test_quiet_hours_ending_inside_the_dst_gap_or_overlap() -> None:
    gap = QuietHours(start="22:00", end="02:30", timezone="America/New_York")
    before_gap = datetime(2024, 3, 10, 6, 15, tzinfo=UTC)  # 01:15 EST
    # 02:30 never shows that night; the quiet period ends when the clock reaches 03:30 EDT.
    assert gap.ends_after(before_gap) == datetime(2024, 3, 10, 7, 30, tzinfo=UTC)

    overlap = QuietHours(start="22:00", end="01:30", timezone="America/New_York")
    first_pass = datetime(2024, 11, 3, 5, 10, tzinfo=UTC)  # 01:10 EDT
    second_pass = datetime(2024, 11, 3, 6, 10, tzinfo=UTC)  # 01:10 EST
    assert overlap.ends_after(first_pass) == datetime(2024, 11, 3, 5, 30, tzinfo=UTC)
    assert overlap.ends_after(second_pass) == datetime(2024, 11, 3, 6, 30, tzinfo=UTC)


def test_deferral_in_quiet_hours_through_the_policy_uses_the_local_zone() -> None:
    config = {"quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "Europe/Paris"}}
    winter_night = datetime(2024, 1, 15, 22, 30, tzinfo=UTC)  # 23:30 Paris (UTC+1)
    decision = decide(request(now=winter_night), **config)
    assert decision.verdict is Verdict.DEFER
    assert decision.until == datetime(2024, 1, 16, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"timezone": "Europe/Pariss"}, "unknown time zone 'Europe/Pariss'"),
        ({"start": "25:00"}, "expected a time like '22:00'"),
        ({"end": "7pm"}, "expected a time like '22:00'"),
        ({"start": "08:00", "end": "08:00"}, "start and end are both 08:00"),
        ({"mode": "skip"}, "mode"),
        ({"until": "07:00"}, "extra"),
    ],
)
def test_quiet_hours_config_errors(fields: dict[str, object], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        QuietHours(**fields)


def test_quiet_hours_parse_times_and_defaults() -> None:
    quiet = QuietHours()
    assert (quiet.start, quiet.end, quiet.timezone, quiet.mode) == (
        time(22, 0), time(7, 0), "UTC", "defer",
    )
    assert QuietHours(start="21:30:00").start == time(21, 30)


def test_policy_config_is_strict() -> None:
    with pytest.raises(ValidationError, match="extra"):
        PolicyConfig(quiet=True)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="rate_budget_per_hour"):
        PolicyConfig(rate_budget_per_hour=0)
    with pytest.raises(ValidationError, match="daily_cost_budget"):
        PolicyConfig(daily_cost_budget=-1)


def test_naive_times_are_rejected() -> None:
    naive = datetime(2024, 5, 1, 12, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(request(now=naive))
    with pytest.raises(ValueError, match="timezone-aware"):
        QuietHours().contains(naive)


# --------------------------------------------------------------------------- static check


def test_check_rule_against_network() -> None:
    assert check_rule_against_network(["mention", "quote"], "x", requires_summons=True) is None
    assert check_rule_against_network(["repost", "follow"], "telegram", False) is None
    assert check_rule_against_network(["milestone", "direct"], "x", True) is None
    assert check_rule_against_network(["mention", "repost"], "x", True) == (
        "rule answers 'repost' on x, but x allows automated replies only to people who "
        "mentioned or quoted the account; remove 'repost' from kinds or restrict networks"
    )
    several = check_rule_against_network(["Follow", "join", "follow", "reaction"], "x", True)
    assert several is not None
    assert several.startswith("rule answers 'follow', 'join', 'reaction' on x")
    with pytest.raises(ValueError, match="unknown event kind"):
        check_rule_against_network(["retweet"], "x", True)


# --------------------------------------------------------------------------- property

KINDS = st.one_of(
    st.none(),
    st.sampled_from(["mention", "direct", "reply", "quote", "repost", "follow", "message"]),
)
MOMENTS = st.datetimes(
    min_value=datetime(2023, 1, 1), max_value=datetime(2026, 1, 1), timezones=st.just(UTC)
)


@st.composite
def requests(draw: st.DrawFn) -> SendRequest:
    return SendRequest(
        network=draw(st.sampled_from(["x", "telegram", "discord"])),
        requires_summons=draw(st.booleans()),
        event_kind=draw(KINDS),
        addressed=draw(st.booleans()),
        private=draw(st.booleans()),
        person_wrote_first=draw(st.booleans()),
        opted_out=draw(st.booleans()),
        unreachable=draw(st.booleans()),
        once_key_used=draw(st.booleans()),
        handed_off=draw(st.booleans()),
        now=draw(MOMENTS),
        cost=draw(st.sampled_from([0.0, 0.01, 0.5])),
        cost_spent_today=draw(st.sampled_from([0.0, 0.5, 0.99, 2.0])),
        sent_last_hour=draw(st.integers(0, 20)),
        text_problem=draw(st.sampled_from([None, "over 280 characters"])),
        essential=draw(st.booleans()),
    )


POLICY = Policy(
    PolicyConfig(
        quiet_hours=QuietHours(start="23:00", end="06:00", timezone="Europe/Paris"),
        daily_cost_budget=1.0,
        rate_budget_per_hour=10,
    )
)


@settings(max_examples=400, deadline=None)
@given(req=requests())
def test_allow_implies_no_refusing_fact_holds(req: SendRequest) -> None:
    decision = POLICY.decide(req)
    if decision.allowed:
        assert not req.unreachable and req.text_problem is None
        assert req.essential or not req.opted_out
        assert not req.once_key_used
        assert not req.handed_off or (req.essential and req.event_kind is not None)
        assert not req.private or req.person_wrote_first
        if req.requires_summons:
            assert req.addressed if req.event_kind is not None else req.private
        if not req.essential:
            assert not POLICY.config.quiet_hours.contains(req.now)  # type: ignore[union-attr]
            assert req.cost == 0 or req.cost_spent_today + req.cost <= 1.0
            assert req.sent_last_hour < 10
    elif decision.verdict is Verdict.DEFER:
        assert decision.until is not None and decision.until > req.now
    else:
        assert decision.until is None and decision.reason is not Reason.OK


# --------------------------------------------------------------------------- per person

PERSONAL = Policy(
    PolicyConfig(
        quiet_hours=QuietHours(start="23:00", end="06:00", timezone="Europe/Paris"),
        daily_cost_budget=1.0,
        per_person={"replies_per_hour": 10, "replies_per_day": 40, "cost_share": 0.2,
                    "networks": {"telegram": {"replies_per_day": 15}}},
        flood={"messages": 5, "seconds": "10s", "mute": "10m"},
    )
)
PERSON_REASONS = {Reason.FLOOD, Reason.PERSON_BUDGET, Reason.PERSON_COST_BUDGET}


def to_ana(**changes: object) -> SendRequest:
    return request(to_person=True, **changes)


@pytest.mark.parametrize(
    ("changes", "reason", "words"),
    [
        ({"flooding": True}, Reason.FLOOD, "more than 5 messages within 10 s"),
        ({"person_replies_this_hour": 10}, Reason.PERSON_BUDGET, "10 replies on x this hour"),
        ({"person_replies_today": 40}, Reason.PERSON_BUDGET, "40 replies on x today"),
        ({"cost": 0.015, "person_cost_today": 0.19}, Reason.PERSON_COST_BUDGET, "share of the daily cost"),
    ],
)
def test_each_per_person_refusal(changes: dict[str, object], reason: Reason, words: str) -> None:
    decision = PERSONAL.decide(to_ana(**changes))
    assert (decision.verdict, decision.reason, decision.until) == (Verdict.REFUSE, reason, None)
    assert words in decision.detail
    for exempt in ({"essential": True}, {"person_is_admin": True}, {"to_person": False}):
        assert PERSONAL.decide(dataclasses.replace(to_ana(**changes), **exempt)).allowed


def test_per_person_limits_are_on_by_default_and_can_be_turned_off() -> None:
    default = PolicyConfig()
    assert default.per_person is not None and default.flood is not None
    assert default.per_person.budget("telegram") == (60, 300)
    assert default.per_person.budget("X") == (20, 60)  # built in for X, which bills every post
    assert decide(to_ana(person_replies_this_hour=20)).reason is Reason.PERSON_BUDGET
    assert decide(to_ana(flooding=True)).reason is Reason.FLOOD
    off = {"per_person": None, "flood": None}
    assert decide(to_ana(person_replies_this_hour=10**6, flooding=True), **off).allowed


def test_per_network_budgets_take_unset_keys_from_the_general_ones() -> None:
    config = PolicyConfig(per_person={"replies_per_hour": 30, "networks": {
        "Telegram": {"replies_per_day": 15}, "x": {"replies_per_hour": None}}})
    assert config.per_person is not None
    assert config.per_person.budget("telegram") == (30, 15)
    assert config.per_person.budget("x") == (None, 60)  # hourly off, X's built-in daily kept
    assert PolicyConfig(per_person={"replies_per_hour": 5}).per_person.budget("x") == (5, 60)  # type: ignore[union-attr]
    assert config.per_person.budget("discord") == (30, 300)
    with pytest.raises(ValidationError, match="cost_share"):
        PolicyConfig(per_person={"cost_share": 1.5})
    with pytest.raises(ValidationError, match="extra"):
        PolicyConfig(per_person={"replies_per_minute": 3})
    with pytest.raises(ValidationError, match="duration"):
        PolicyConfig(flood={"mute": "soon"})


def test_a_persons_first_paid_reply_of_the_day_is_never_refused_for_their_share() -> None:
    link_post = to_ana(cost=0.20)  # more than the person's share (0.2 of 1.0 is 0.20; 0.25 of 0.5 is 0.125)
    assert Policy(PolicyConfig(daily_cost_budget=0.5, per_person={"cost_share": 0.25})).decide(link_post).allowed
    second = dataclasses.replace(link_post, person_cost_today=0.20)
    refused = Policy(PolicyConfig(daily_cost_budget=0.5, per_person={"cost_share": 0.25})).decide(second)
    assert refused.reason is Reason.PERSON_COST_BUDGET


def test_per_person_limits_refuse_before_the_brand_wide_deferrals() -> None:
    """A flood must not be deferred to the morning and then sent all at once."""
    night = datetime(2024, 5, 1, 23, 30, tzinfo=UTC)  # 01:30 in Paris: quiet hours
    assert PERSONAL.decide(to_ana(now=night)).reason is Reason.QUIET_HOURS
    assert PERSONAL.decide(to_ana(now=night, person_replies_today=40)).reason is Reason.PERSON_BUDGET
    assert PERSONAL.decide(to_ana(flooding=True, person_replies_today=40)).reason is Reason.FLOOD
    assert PERSONAL.decide(to_ana(opted_out=True, flooding=True)).reason is Reason.OPTED_OUT


@st.composite
def personal_requests(draw: st.DrawFn) -> SendRequest:
    base = draw(requests())
    return dataclasses.replace(
        base,
        to_person=draw(st.booleans()),
        person_is_admin=draw(st.booleans()),
        flooding=draw(st.booleans()),
        person_replies_this_hour=draw(st.integers(0, 30)),
        person_replies_today=draw(st.integers(0, 60)),
        person_cost_today=draw(st.sampled_from([0.0, 0.015, 0.1, 0.19, 0.5])),
        text_empty=draw(st.booleans()),
    )


@settings(max_examples=500, deadline=None)
@given(req=personal_requests(), more=st.integers(0, 50), spent=st.sampled_from([0.0, 0.01, 1.0]))
def test_per_person_limits_hold_and_only_grow_stricter(req: SendRequest, more: int, spent: float) -> None:
    decision = PERSONAL.decide(req)
    limited = req.to_person and not req.essential and not req.person_is_admin
    if decision.reason in PERSON_REASONS:
        assert limited and decision.verdict is Verdict.REFUSE
    if decision.allowed:
        assert not req.text_empty
        if limited:
            hour, day = (10, 15) if req.network == "telegram" else (10, 40)
            assert not req.flooding
            assert req.person_replies_this_hour < hour and req.person_replies_today < day
            assert req.cost == 0 or req.person_cost_today == 0 or req.person_cost_today + req.cost <= 0.2
    # More replies or money spent on the person never turns a refusal into an allow.
    busier = dataclasses.replace(
        req,
        person_replies_this_hour=req.person_replies_this_hour + more,
        person_replies_today=req.person_replies_today + more,
        person_cost_today=req.person_cost_today + spent,
    )
    if not decision.allowed:
        assert not PERSONAL.decide(busier).allowed
