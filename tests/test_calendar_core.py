"""The calendar's time arithmetic (pure): repeats on the local wall clock, DST gaps and
overlaps, the late rule, and posts.yaml validation with file:line errors."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brandbot.core.calendar import (
    LateMode,
    Lateness,
    LateRule,
    RepeatError,
    Schedule,
    following_occurrence,
    late_verdict,
    occurrence_key,
    parse_repeat,
    pending_occurrence,
)
from brandbot.core.errors import ConfigError
from brandbot.core.postsfile import TIMELINE, Target, load_posts, parse_target

ZONES = ["Europe/Stockholm", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC", "America/St_Johns",
         "Pacific/Chatham", "Europe/London"]
REPEATS = ["daily", "weekdays", "weekly", "monthly", "mon,thu", "sat, sun", "every 6h", "every 45m", "every 1d"]

starts = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2030, 12, 31)).map(
    lambda d: d.replace(second=0, microsecond=0))
moments = st.datetimes(min_value=datetime(2024, 6, 1), max_value=datetime(2032, 1, 1),
                       timezones=st.just(UTC))


def schedule(start: datetime, zone: str, repeat: str, until: date | None = None) -> Schedule:
    return Schedule(start, zone, parse_repeat(repeat, start.date()), until)


# --------------------------------------------------------------------------- properties


@settings(max_examples=150, deadline=None)
@given(start=starts, zone=st.sampled_from(ZONES), repeat=st.sampled_from(REPEATS), moment=moments)
def test_next_and_latest_bracket_any_moment(start: datetime, zone: str, repeat: str, moment: datetime) -> None:
    """latest_at_or_before(t) <= t < next_after(t), and nothing lies strictly between them."""
    s = schedule(start, zone, repeat)
    latest, nxt = s.latest_at_or_before(moment), s.next_after(moment)
    assert nxt is not None and nxt > moment  # no 'until': a repeat never ends
    if latest is not None:
        assert latest <= moment
        assert s.next_after(latest) == nxt  # no occurrence skipped between the two
    else:
        assert nxt == s.first


@settings(max_examples=100, deadline=None)
@given(start=starts, zone=st.sampled_from(ZONES), repeat=st.sampled_from(["daily", "weekdays", "weekly", "mon,thu",
                                                                          "monthly"]))
def test_wall_clock_repeats_keep_the_local_time_except_in_a_gap(start: datetime, zone: str, repeat: str) -> None:
    """Every occurrence shows the start's wall time locally, or lies just after a spring-forward gap."""
    s = schedule(start, zone, repeat)
    tz = ZoneInfo(zone)
    at = s.first
    seen = 0
    while at is not None and seen < 60:
        local = at.astimezone(tz)
        if local.time().replace(tzinfo=None) != start.time():
            # the wall time did not exist that day: it moved forward by the gap (at most 1h here... or 30m)
            wall = datetime.combine(local.date(), start.time())
            assert wall.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None) != wall
        if repeat == "weekdays":
            assert local.date().weekday() < 5 or local.time().replace(tzinfo=None) != start.time()
        nxt = s.next_after(at)
        assert nxt is not None and nxt > at
        at, seen = nxt, seen + 1


@settings(max_examples=100, deadline=None)
@given(start=starts, zone=st.sampled_from(ZONES), hours=st.integers(1, 48), moment=moments)
def test_interval_repeats_step_in_real_time(start: datetime, zone: str, hours: int, moment: datetime) -> None:
    s = schedule(start, zone, f"every {hours}h")
    nxt = s.next_after(moment)
    assert nxt is not None
    assert (nxt - s.first) % timedelta(hours=hours) == timedelta(0)
    assert nxt - timedelta(hours=hours) <= max(moment, s.first - timedelta(hours=hours))


@settings(max_examples=100, deadline=None)
@given(start=starts, zone=st.sampled_from(ZONES), repeat=st.sampled_from(REPEATS), days=st.integers(0, 60))
def test_until_is_the_last_local_day(start: datetime, zone: str, repeat: str, days: int) -> None:
    until = start.date() + timedelta(days=days)
    s = schedule(start, zone, repeat, until)
    everything = s.between(datetime(2024, 1, 1, tzinfo=UTC), datetime(2033, 1, 1, tzinfo=UTC), limit=10**6)
    if s.first is None:  # e.g. weekdays from a Saturday until that Saturday
        assert everything == []
        return
    assert everything[0] == s.first
    assert all(at.astimezone(ZoneInfo(zone)).date() <= until + timedelta(days=1) for at in everything)
    assert s.next_after(everything[-1]) is None
    assert everything == sorted(set(everything))


@settings(max_examples=200, deadline=None)
@given(behind=st.integers(-7200, 7 * 86400), grace=st.integers(60, 86400), mode=st.sampled_from(list(LateMode)))
def test_late_rule(behind: int, grace: int, mode: LateMode) -> None:
    due = datetime(2027, 3, 14, 11, 0, tzinfo=UTC)
    verdict = late_verdict(due, due + timedelta(seconds=behind), LateRule(mode, timedelta(seconds=grace)))
    if behind < 0:
        assert verdict is Lateness.EARLY
    elif behind <= 60:
        assert verdict is Lateness.ON_TIME
    elif mode is LateMode.POST and behind <= grace:
        assert verdict is Lateness.LATE_POST
    else:
        assert verdict is Lateness.TOO_LATE


# --------------------------------------------------------------------------- examples


def test_daily_across_spring_forward_in_stockholm() -> None:
    s = schedule(datetime(2027, 3, 27, 2, 30), "Europe/Stockholm", "daily")
    days = s.between(datetime(2027, 3, 26, tzinfo=UTC), datetime(2027, 3, 30, tzinfo=UTC))
    local = [d.astimezone(ZoneInfo("Europe/Stockholm")).strftime("%d %H:%M") for d in days]
    assert local == ["27 02:30", "28 03:30", "29 02:30"]  # 02:30 did not exist on the 28th


def test_daily_across_fall_back_posts_once_at_the_first_instant() -> None:
    s = schedule(datetime(2027, 10, 30, 2, 30), "Europe/Stockholm", "daily")
    days = s.between(datetime(2027, 10, 30, tzinfo=UTC), datetime(2027, 11, 1, tzinfo=UTC))
    assert [d.isoformat() for d in days] == ["2027-10-30T00:30:00+00:00", "2027-10-31T00:30:00+00:00"]


def test_weekly_is_on_the_start_weekday_and_days_lists_pick_the_first_listed_day() -> None:
    s = schedule(datetime(2027, 3, 4, 19, 0), "Europe/Stockholm", "weekly")  # a Thursday
    assert [d.date().isoformat() for d in s.between(datetime(2027, 3, 1, tzinfo=UTC),
                                                     datetime(2027, 3, 20, tzinfo=UTC))] == [
        "2027-03-04", "2027-03-11", "2027-03-18"]
    tue = schedule(datetime(2027, 3, 2, 9, 0), "UTC", "mon,wed")  # starts on a Tuesday
    assert tue.first == datetime(2027, 3, 3, 9, 0, tzinfo=UTC)


def test_monthly_skips_months_without_the_day() -> None:
    s = schedule(datetime(2027, 1, 31, 9, 0), "UTC", "monthly")
    got = [d.date().isoformat() for d in s.between(datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 6, 1, tzinfo=UTC))]
    assert got == ["2027-01-31", "2027-03-31", "2027-05-31"]


def test_pending_occurrence_after_downtime_is_only_the_latest_missed_one() -> None:
    s = schedule(datetime(2027, 3, 1, 9, 0), "UTC", "daily")
    rule = LateRule(LateMode.POST, timedelta(hours=2))
    # down from the 3rd to the 5th at 10:00: the 5th's 09:00 is within the grace, the rest are not
    assert pending_occurrence(s, datetime(2027, 3, 5, 10, 0, tzinfo=UTC), rule) == datetime(2027, 3, 5, 9, 0, tzinfo=UTC)
    assert pending_occurrence(s, datetime(2027, 3, 5, 12, 0, tzinfo=UTC), rule) == datetime(2027, 3, 6, 9, 0, tzinfo=UTC)
    skip = LateRule(LateMode.SKIP)
    assert pending_occurrence(s, datetime(2027, 3, 5, 9, 5, tzinfo=UTC), skip) == datetime(2027, 3, 6, 9, 0, tzinfo=UTC)


def test_repeat_words_and_their_errors() -> None:
    assert parse_repeat("Weekdays", date(2027, 1, 1)).weekdays == frozenset(range(5))
    assert parse_repeat("every mon, fri", date(2027, 1, 1)).weekdays == frozenset({0, 4})
    assert parse_repeat(None, date(2027, 1, 1)).describe() == "once"
    with pytest.raises(RepeatError, match="every 15m or more"):
        parse_repeat("every 5m", date(2027, 1, 1))
    with pytest.raises(RepeatError, match="daily, weekdays, weekly"):
        parse_repeat("fortnightly", date(2027, 1, 1))


def test_occurrence_keys_are_utc_and_stable_across_zones() -> None:
    at = datetime(2027, 3, 14, 12, 0, tzinfo=ZoneInfo("Europe/Stockholm"))
    assert occurrence_key("tour-day", at) == "calendar:tour-day:2027-03-14T11:00:00Z"
    assert occurrence_key("tour-day", at.astimezone(UTC)) == occurrence_key("tour-day", at)


def test_targets() -> None:
    assert parse_target("x") == Target("x", TIMELINE)
    assert parse_target("Telegram:-100123") == Target("telegram", "-100123")
    with pytest.raises(ValueError, match="telegram needs a conversation"):
        parse_target("telegram")


# --------------------------------------------------------------------------- posts.yaml


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "posts.yaml"
    path.write_text(text)
    return path


def test_the_example_posts_file_loads() -> None:
    root = Path(__file__).resolve().parents[1]
    posts = load_posts(root / "config" / "posts.yaml").posts
    assert [p.id for p in posts] == ["launch-qa-soon", "tour-day", "reading-club", "spring-giveaway"]
    club = posts[2]
    assert club.schedule is not None and club.late.mode is LateMode.SKIP
    assert club.schedule.first == datetime(2027, 3, 4, 18, 0, tzinfo=UTC)
    assert posts[0].offset == -timedelta(minutes=30) and posts[0].schedule is None


def test_every_broken_post_is_named_with_its_line_and_what_to_fix(tmp_path: Path) -> None:
    path = write(tmp_path, """\
timezone: Europe/Stockholm
posts:
  - id: ok
    at: 2027-03-14 12:00
    networks: [x]
    text: fine
  - id: Bad Id
    at: 2027-03-14 12:00
    networks: [x]
    text: hi
  - id: no-zone
    at: 2027-03-14 12:00
    timezone: Europe/Stockholmm
    networks: [x]
    text: hi
  - id: gap
    at: 2027-03-28 02:30
    networks: [x]
    text: hi
  - id: bare-telegram
    at: 2027-03-14 12:00
    networks: [telegram]
    text: hi
  - id: often
    at: 2027-03-14 12:00
    repeat: every 1m
    networks: [x]
    text: hi
  - id: when
    at: tomorrow
    networks: [x]
    text: hi
  - id: ok
    at: 2027-03-14 12:00
    networks: [x]
    text: twice
""")
    with pytest.raises(ConfigError) as info:
        load_posts(path)
    message = str(info.value)
    assert f"{path}:7" in message and "try 'bad-id'" in message
    assert "did you mean 'Europe/Stockholm'?" in message
    assert "does not exist in Europe/Stockholm" in message
    assert "telegram needs a conversation: write telegram:<chat or channel id>" in message
    assert "every 15m or more" in message
    assert "expected a local date and time like '2027-03-14 12:00', got 'tomorrow'" in message
    assert "duplicate post id 'ok' (first used at line 3)" in message


def test_event_and_giveaway_posts_are_checked_for_what_they_need(tmp_path: Path) -> None:
    path = write(tmp_path, """\
posts:
  - id: both
    at: 2027-03-14 12:00
    event: qa-live
    networks: [x]
    text: hi
  - id: giveaway-with-text
    at: 2027-03-14 12:00
    giveaway: prize=Book enter=#book
    networks: [console:room]
    text: hi
  - id: no-text
    at: 2027-03-14 12:00
    networks: [x]
  - id: no-time
    networks: [x]
    text: hi
""")
    with pytest.raises(ConfigError) as info:
        load_posts(path)
    message = str(info.value)
    assert "give either 'at:' or 'event:'" in message
    assert "remove 'text:'" in message
    assert "the post needs 'text:'" in message
    assert "give the post a time" in message


# --------------------------------------------------------------------------- restarts, as a property


def run_with_downtime(s: Schedule, rule: LateRule, start: datetime,
                      segments: list[tuple[int, int]]) -> tuple[list[tuple[datetime, datetime]], list[datetime]]:
    """Drive the calendar's decisions the way the runtime does (sync at each start, the job
    run when due, then the following occurrence; once-keys) over up-times given as (down
    minutes, up minutes). Returns (due, posted at) pairs and the occurrences skipped as too late."""
    posted: list[tuple[datetime, datetime]] = []
    skipped: list[datetime] = []
    once_keys: set[datetime] = set()
    job: datetime | None = None
    now = start
    for down, up in segments:
        now += timedelta(minutes=down)
        end = now + timedelta(minutes=up)
        if job is None or job > now:  # sync: a missed job is kept, its run applies the late rule
            job = pending_occurrence(s, now, rule)
        while job is not None and job <= end:
            now = max(now, job)
            due: datetime | None = job
            while due is not None and due <= now:
                verdict = late_verdict(due, now, rule)
                if due in once_keys:
                    pass  # went out (or was skipped) before the restart: the once-key says so
                elif verdict is Lateness.TOO_LATE:
                    skipped.append(due)
                else:
                    posted.append((due, now))
                once_keys.add(due)
                due = following_occurrence(s, due, now, rule)
            job = due
        now = end
    return posted, skipped


@settings(max_examples=150, deadline=None)
@given(start=starts, zone=st.sampled_from(ZONES), repeat=st.sampled_from(["daily", "weekdays", "every 6h", "mon,thu"]),
       mode=st.sampled_from(list(LateMode)), grace=st.integers(2, 600),
       segments=st.lists(st.tuples(st.integers(0, 6000), st.integers(0, 6000)), min_size=1, max_size=8))
def test_across_restarts_each_occurrence_goes_out_at_most_once_and_never_too_late(
        start: datetime, zone: str, repeat: str, mode: LateMode, grace: int, segments: list[tuple[int, int]]) -> None:
    s = schedule(start, zone, repeat)
    rule = LateRule(mode, timedelta(minutes=grace))
    begin = s.first - timedelta(minutes=30) if s.first is not None else datetime(2025, 1, 1, tzinfo=UTC)
    posted, skipped = run_with_downtime(s, rule, begin, segments)
    dues = [due for due, _ in posted] + skipped
    assert len(dues) == len(set(dues)), "an occurrence was handled twice"
    allowed = rule.grace if mode is LateMode.POST else timedelta(minutes=1)
    assert all(timedelta(0) <= at - due <= max(allowed, timedelta(minutes=1)) for due, at in posted)
    # while the bot is up nothing is missed: every occurrence inside an up-time was handled
    now = begin
    for down, up in segments:
        now += timedelta(minutes=down)
        for due in s.between(now, now + timedelta(minutes=up)):
            assert due in dues
        now += timedelta(minutes=up)
