"""PersonMeter keeps its counts in typed arrays: it must decide exactly as plain objects would.

The reference below is the straightforward model (one object per person, datetimes); any
sequence of replies, messages and clock steps must give the same answers from both.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from brandbot.core.policy import Flood
from brandbot.runtime.perperson import FloodStart, PersonKey, PersonMeter


def _day(now: datetime) -> int:
    return now.astimezone(UTC).date().toordinal()


def _hour(now: datetime) -> int:
    return int(now.astimezone(UTC).timestamp() // 3600)


@dataclass
class _Person:
    touched: datetime
    hour: int = -1
    in_hour: int = 0
    day: int = -1
    in_day: int = 0
    tokens: float = 0.0
    counted: datetime | None = None
    full_at: datetime | None = None
    last_message: str = ""
    muted_until: datetime | None = None


class Reference:
    """Per-person objects in an ordered dict, least recently active first."""

    def __init__(self, capacity: int) -> None:
        self.people: OrderedDict[PersonKey, _Person] = OrderedDict()
        self.capacity = capacity

    def replies(self, key: PersonKey, now: datetime) -> tuple[int, int]:
        p = self.people.get(key)
        if p is None:
            return 0, 0
        return (p.in_hour if p.hour == _hour(now) else 0, p.in_day if p.day == _day(now) else 0)

    def count_reply(self, key: PersonKey, now: datetime) -> None:
        p = self.touch(key, now)
        if p.hour != _hour(now):
            p.hour, p.in_hour = _hour(now), 0
        if p.day != _day(now):
            p.day, p.in_day = _day(now), 0
        p.in_hour += 1
        p.in_day += 1

    def flooding(self, key: PersonKey, now: datetime) -> bool:
        p = self.people.get(key)
        return p is not None and p.muted_until is not None and p.muted_until > now

    def count_message(self, key: PersonKey, message: str, now: datetime, flood: Flood) -> FloodStart | None:
        p = self.touch(key, now)
        if p.last_message == message:
            return None
        p.last_message = message
        capacity = float(flood.messages)
        rate = capacity / flood.seconds
        tokens = capacity
        if p.counted is not None:
            tokens = min(capacity, p.tokens + max(0.0, (now - p.counted).total_seconds()) * rate)
        started = None
        if tokens < 1.0:
            muted = p.muted_until is not None and p.muted_until > now
            p.muted_until = now + timedelta(seconds=flood.mute)
            if not muted:
                started = FloodStart(p.muted_until)
        else:
            tokens -= 1.0
        p.tokens, p.counted = tokens, now
        p.full_at = now + timedelta(seconds=(capacity - tokens) / rate)
        return started

    def touch(self, key: PersonKey, now: datetime) -> _Person:
        while self.people:
            oldest, p = next(iter(self.people.items()))
            if (_day(p.touched) == _day(now) or (p.muted_until is not None and p.muted_until > now)
                    or (p.full_at is not None and p.full_at > now)):
                break
            del self.people[oldest]
        p = self.people.get(key)
        if p is None:
            if len(self.people) >= self.capacity:
                self.people.popitem(last=False)
            p = self.people[key] = _Person(touched=now)
        else:
            p.touched = now
            self.people.move_to_end(key)
        return p


KEYS = [("memory", 1), ("x", 1), ("memory", 10**12), ("memory", 2), ("x", 7)]
STEPS = [-1.5, 0.0, 0.000_001, 0.4, 1.0, 2.5, 3.0, 7.0, 61.0, 3599.9, 3600.0, 86_400.0]  # clocks may step back

operation = st.tuples(
    st.sampled_from(["reply", "message", "message", "message", "replies", "flooding", "wait", "wait"]),
    st.sampled_from(KEYS),
    st.sampled_from("abcdefgh"),  # event ids: one repeated at once is counted once
    st.sampled_from(STEPS),
)


@settings(max_examples=600, deadline=None)
@given(
    ops=st.lists(operation, max_size=80),
    start=st.integers(0, 240 * 10**6),
    capacity=st.integers(1, 6),
    messages=st.integers(2, 4),
    seconds=st.sampled_from([1.0, 3.0, 6.0, 60.0]),
)
def test_the_meter_answers_as_plain_objects_would(ops, start, capacity, messages, seconds) -> None:
    flood = Flood(messages=messages, seconds=seconds, mute=30.0)
    now = datetime(2026, 12, 7, 23, 58, tzinfo=UTC) + timedelta(microseconds=start)  # around midnight
    meter, reference = PersonMeter(capacity), Reference(capacity)
    for op, key, event, step in ops:
        if op == "wait":
            now += timedelta(seconds=step)
        elif op == "reply":
            meter.count_reply(key, now)
            reference.count_reply(key, now)
        elif op == "message":
            message = f"{key[0]}:{event}"
            assert meter.count_message(key, message, now, flood) == reference.count_message(key, message, now, flood)
        elif op == "replies":
            assert meter.replies(key, now) == reference.replies(key, now)
        else:
            assert meter.flooding(key, now) == reference.flooding(key, now)
        assert len(meter) == len(reference.people)
    for key in KEYS:
        assert meter.replies(key, now) == reference.replies(key, now)
        assert meter.flooding(key, now) == reference.flooding(key, now)


def test_a_full_meter_forgets_the_least_recently_active_and_reuses_their_row() -> None:
    now = datetime(2026, 12, 7, 12, tzinfo=UTC)
    meter = PersonMeter(capacity=2)
    for follower in (1, 2, 1, 3):  # 2 is the least recently active when 3 arrives
        meter.count_reply(("memory", follower), now)
    assert len(meter) == 2
    assert meter.replies(("memory", 1), now) == (2, 2)
    assert meter.replies(("memory", 2), now) == (0, 0)
    assert meter.replies(("memory", 3), now) == (1, 1)
    assert len(meter._rows.day) == 2  # the forgotten person's row was taken by the new one


def test_a_reply_just_after_midnight_starts_a_new_day_but_a_muted_person_is_kept() -> None:
    flood = Flood(messages=2, seconds=60, mute=1800)
    night = datetime(2026, 12, 7, 23, 59, 50, tzinfo=UTC)
    meter = PersonMeter()
    meter.count_reply(("memory", 1), night)
    for event in ("a", "b", "c"):
        meter.count_message(("memory", 2), event, night, flood)
    assert meter.flooding(("memory", 2), night)
    morning = night + timedelta(seconds=20)
    assert meter.replies(("memory", 1), morning) == (0, 0)
    meter.count_reply(("memory", 3), morning)  # sweeps: 1 is forgotten, 2 is still muted
    assert len(meter) == 2 and meter.flooding(("memory", 2), morning)


def test_the_edges_of_the_flood_bucket() -> None:
    flood = Flood(messages=2, seconds=2, mute=60)  # one token a second
    t = datetime(2026, 12, 7, 23, 59, 59, tzinfo=UTC)
    meter, ana, bob = PersonMeter(), ("memory", 1), ("memory", 2)
    meter.count_message(bob, "e", t, Flood(messages=2, seconds=20))  # bob's bucket is full again at t + 10s
    assert meter.count_message(ana, "a", t, flood) is None  # 2 -> 1 token
    assert meter.count_message(ana, "a", t, flood) is None  # the same event: not counted again
    assert meter.count_message(ana, "b", t - timedelta(seconds=0.5), flood) is None  # a clock step back refills nothing
    started = meter.count_message(ana, "c", t, flood)
    assert started == FloodStart(t + timedelta(seconds=60)) and meter.flooding(ana, t)
    later = t + timedelta(seconds=0.25)  # 0.75 tokens: still empty
    assert meter.count_message(ana, "d", later, flood) is None  # already muted: the staff are told once
    assert meter.flooding(ana, t + timedelta(seconds=60.1))  # but the mute starts again
    assert not meter.flooding(ana, later + timedelta(seconds=61))
    meter.count_reply(("memory", 3), t + timedelta(seconds=2))  # after midnight; bob's bucket is not full yet
    assert len(meter) == 3
    meter.count_reply(bob, t + timedelta(seconds=3))  # ana is now the least recently active
    meter.count_reply(("memory", 4), t + timedelta(seconds=4))  # ana is idle since yesterday, but muted
    assert len(meter) == 4
    meter.count_reply(("memory", 3), t + timedelta(seconds=90))  # her mute is over: forgotten
    assert len(meter) == 3 and not meter.flooding(ana, t + timedelta(seconds=90))


def test_a_default_meter_remembers_twenty_thousand_people_active_today() -> None:
    now = datetime(2026, 12, 7, 12, tzinfo=UTC)
    meter = PersonMeter()
    for follower in range(20_001):  # all active today: only the bound forgets
        meter.count_reply(("memory", follower), now)
    assert len(meter) == 20_000
    assert meter.replies(("memory", 0), now) == (0, 0)  # the least recently active went
    assert meter.replies(("memory", 1), now) == (1, 1)
