"""The calendar of brand posts, as pure time arithmetic: when is each post due, and is it too late?

A brand post has a local start time in an IANA time zone and an optional repeat. Repeats
follow the local wall clock: a daily 09:00 post in Europe/Stockholm is at 09:00 there in
winter and in summer. Two things the wall clock does twice a year are settled here, once:

- a local time that does not exist (the spring-forward gap, 02:30 on the last Sunday of
  March in Europe) is posted as many minutes after the gap as it lay inside it (03:30);
- a local time that happens twice (the fall-back overlap) is posted at its first instant.

``every <duration>`` repeats are the exception: they step in real time (every 6h is
always 6 hours apart), which is what "every few hours" means.

No I/O: the runtime asks :func:`next_after`, :func:`latest_at_or_before` and
:func:`late_verdict`, and commits what they decide.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from brandbot.core.durations import parse_duration

#: A post that runs this much after its time is still on time (the scheduler passes every second).
ON_TIME = timedelta(minutes=1)
#: The shortest ``every <duration>`` repeat: a calendar is not a spam cannon.
SHORTEST_INTERVAL = 15 * 60.0
#: How far ahead a repeat is searched for its next occurrence (a monthly 31st, 'until' far off).
SEARCH_DAYS = 366 * 5

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = {name: i for i, name in enumerate(WEEKDAYS)} | {
    full: i for i, full in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))
}

REPEAT_FORMS = ("daily", "weekdays", "weekly", "monthly", "mon,wed,fri (days of the week)", "every 6h (15m or more)")


class RepeatError(ValueError):
    """A repeat that cannot be read; the message lists the forms that can."""


class RepeatKind(enum.StrEnum):
    NONE = "none"
    DAYS = "days"  # on the listed weekdays (daily: all seven, weekdays: mon-fri, weekly: the start's)
    MONTHLY = "monthly"
    INTERVAL = "interval"


@dataclass(frozen=True, slots=True)
class Repeat:
    """How a post repeats: on weekdays, monthly on the start's day, or every N seconds."""

    kind: RepeatKind = RepeatKind.NONE
    weekdays: frozenset[int] = frozenset()
    seconds: float = 0.0
    text: str = "none"

    def describe(self) -> str:
        return "once" if self.kind is RepeatKind.NONE else self.text


def parse_repeat(value: object, start: date) -> Repeat:
    """'daily', 'weekdays', 'weekly', 'monthly', 'mon,wed,fri' or 'every 6h' -> a Repeat.

    ``weekly`` repeats on the weekday of ``start``. Raises RepeatError saying what to write.
    """
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "once", "no")):
        return Repeat()
    if value is False:
        return Repeat()
    text = str(value).strip().lower()
    if text == "daily":
        return Repeat(RepeatKind.DAYS, frozenset(range(7)), text=text)
    if text == "weekdays":
        return Repeat(RepeatKind.DAYS, frozenset(range(5)), text=text)
    if text == "weekly":
        return Repeat(RepeatKind.DAYS, frozenset({start.weekday()}), text=f"weekly on {WEEKDAYS[start.weekday()]}")
    if text == "monthly":
        return Repeat(RepeatKind.MONTHLY, text=f"monthly on day {start.day}")
    if text.startswith("every "):
        rest = text.removeprefix("every ").strip()
        try:
            seconds = parse_duration(rest)
        except ValueError:
            seconds = -1.0
        if seconds >= 0:
            if seconds < SHORTEST_INTERVAL:
                raise RepeatError(f"repeat {value!r} is too often: repeat every 15m or more")
            return Repeat(RepeatKind.INTERVAL, seconds=seconds, text=f"every {rest}")
        text = rest  # "every mon, thu"
    names = [word for word in re.split(r"[\s,]+", text) if word]
    days = [_DAY_NAMES.get(word) for word in names]
    if names and all(d is not None for d in days):
        chosen = frozenset(d for d in days if d is not None)
        return Repeat(RepeatKind.DAYS, chosen, text=",".join(WEEKDAYS[d] for d in sorted(chosen)))
    raise RepeatError(f"unknown repeat {value!r}; write one of: {', '.join(REPEAT_FORMS)}")


def instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The UTC instant the local clock shows ``wall`` on ``day`` (first of two; after a gap)."""
    local = datetime.combine(day, wall, tzinfo=zone)  # fold=0: the first of two; in a gap, the offset before it
    return local.astimezone(UTC)


def exists_locally(local: datetime, zone: ZoneInfo) -> bool:
    """Whether the naive local time ``local`` shows on the clocks of ``zone`` (not in a gap)."""
    aware = local.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == local


@dataclass(frozen=True, slots=True)
class Schedule:
    """When one post is due: a local start, its zone, a repeat and an optional last day."""

    start: datetime  # naive local time
    zone: str
    repeat: Repeat = Repeat()
    until: date | None = None  # last local day with an occurrence (inclusive)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    @property
    def first(self) -> datetime | None:
        """The first occurrence: the start, or the first listed weekday after it; None if
        ``until`` comes before any."""
        if self.repeat.kind in (RepeatKind.NONE, RepeatKind.INTERVAL):
            return instant(self.start.date(), self.start.time(), self.tz)
        day = next(self._dates(self.start.date(), 1), None)
        return None if day is None else instant(day, self.start.time(), self.tz)

    def _on(self, day: date) -> bool:
        repeat = self.repeat
        if repeat.kind is RepeatKind.DAYS:
            return day.weekday() in repeat.weekdays
        return repeat.kind is RepeatKind.MONTHLY and day.day == self.start.day

    def _dates(self, day: date, step: int) -> Iterator[date]:
        """Local dates that have an occurrence, from ``day`` forward (step 1) or back (-1),
        between the start and ``until``."""
        first, last = self.start.date(), self.until or date.max
        day = min(max(day, first), last)
        for offset in range(SEARCH_DAYS):
            current = day + timedelta(days=step * offset)
            if not first <= current <= last:
                return
            if self._on(current):
                yield current

    def _interval_end(self) -> datetime | None:
        if self.until is None:
            return None
        return instant(self.until + timedelta(days=1), time(0, 0), self.tz)

    def _scan(self, moment: datetime, step: int) -> datetime | None:
        """The nearest wall-clock occurrence after ``moment`` (step 1) or at or before it (-1).

        The scan starts a day early: a time moved over a gap may land on the next day.
        """
        day = moment.astimezone(self.tz).date() - timedelta(days=step)
        for found in self._dates(day, step):
            at = instant(found, self.start.time(), self.tz)
            if (at > moment) if step > 0 else (at <= moment):
                return at
        return None

    def next_after(self, moment: datetime) -> datetime | None:
        """The first occurrence strictly after ``moment`` (aware), in UTC; None when there is none."""
        return self._nearest(moment, 1)

    def latest_at_or_before(self, moment: datetime) -> datetime | None:
        """The last occurrence at or before ``moment`` (aware), in UTC; None before the first."""
        return self._nearest(moment, -1)

    def _nearest(self, moment: datetime, step: int) -> datetime | None:
        first = self.first
        if first is None or first > moment:
            return first if step > 0 else None
        kind = self.repeat.kind
        if kind is RepeatKind.NONE:
            return None if step > 0 else first
        if kind is RepeatKind.INTERVAL:
            return self._interval(first, moment, step)
        return self._scan(moment, step) or (None if step > 0 else first)

    def _interval(self, first: datetime, moment: datetime, step: int) -> datetime | None:
        """``every <duration>``: whole steps from the first occurrence, in real time."""
        every = timedelta(seconds=self.repeat.seconds)
        end = self._interval_end()
        if step > 0:
            found = first + every * ((moment - first) // every + 1)
            return found if end is None or found < end else None
        last = moment if end is None else min(moment, end - timedelta(microseconds=1))
        return None if last < first else first + every * ((last - first) // every)

    def between(self, start: datetime, end: datetime, limit: int = 1000) -> list[datetime]:
        """Occurrences in [start, end), oldest first, at most ``limit`` (for listings)."""
        found: list[datetime] = []
        at = self.latest_at_or_before(start)
        if at is None or at < start:
            at = self.next_after(start) if at is not None else self.first
        while at is not None and at < end and len(found) < limit:
            if at >= start:
                found.append(at)
            at = self.next_after(at)
        return found


class LateMode(enum.StrEnum):
    POST = "post"  # post late, within the grace period
    SKIP = "skip"  # only on time


@dataclass(frozen=True, slots=True)
class LateRule:
    """What to do with an occurrence whose time passed while the bot was down."""

    mode: LateMode = LateMode.POST
    grace: timedelta = timedelta(hours=1)

    def describe(self) -> str:
        return f"post late within {_span(self.grace)}" if self.mode is LateMode.POST else "skip when late"


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class Lateness(enum.StrEnum):
    EARLY = "early"  # not yet due
    ON_TIME = "on_time"
    LATE_POST = "late_post"  # late, and the rule says post anyway
    TOO_LATE = "too_late"  # late, and the rule says skip (or the grace has passed)


def late_verdict(due: datetime, now: datetime, rule: LateRule) -> Lateness:
    """Whether an occurrence due at ``due`` is posted at ``now``, under ``rule``."""
    if now < due:
        return Lateness.EARLY
    behind = now - due
    if behind <= ON_TIME:
        return Lateness.ON_TIME
    if rule.mode is LateMode.POST and behind <= rule.grace:
        return Lateness.LATE_POST
    return Lateness.TOO_LATE


def pending_occurrence(schedule: Schedule, now: datetime, rule: LateRule) -> datetime | None:
    """The occurrence to wait for (or run at once) at ``now``.

    The latest occurrence that is due and still allowed by the late rule (after
    downtime: only the latest missed one, never a backlog), else the next one ahead.
    The caller checks whether that occurrence already went out (its once-key).
    """
    latest = schedule.latest_at_or_before(now)
    if latest is not None and late_verdict(latest, now, rule) in (Lateness.ON_TIME, Lateness.LATE_POST):
        return latest
    return schedule.next_after(now)


def following_occurrence(schedule: Schedule, done: datetime, now: datetime, rule: LateRule) -> datetime | None:
    """After the occurrence ``done`` was handled at ``now``: the next one to handle.

    Normally the next one ahead; after downtime, the latest missed one the late rule
    still allows (it is due already, and is handled at once), never one before ``done``.
    """
    pending = pending_occurrence(schedule, now, rule)
    if pending is not None and pending <= done:
        return schedule.next_after(max(done, now))
    return pending


def occurrence_key(post_id: str, due: datetime) -> str:
    """The durable once-key prefix of one occurrence of one post: ``calendar:<id>:<UTC time>``."""
    return f"calendar:{post_id}:{due.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


__all__ = [
    "ON_TIME", "REPEAT_FORMS", "SHORTEST_INTERVAL", "WEEKDAYS", "LateMode", "LateRule", "Lateness", "Repeat",
    "RepeatError", "RepeatKind", "Schedule", "exists_locally", "following_occurrence", "instant", "late_verdict",
    "occurrence_key",
    "parse_repeat", "pending_occurrence",
]
