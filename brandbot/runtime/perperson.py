"""Per-person counts the policy's per-person limits are decided on, in bounded memory.

    PersonMeter   replies to each person this UTC hour and day (per network), and the
                  rate of their messages (a token bucket: a flood empties it); only
                  people active today, or still muted, are remembered
    PersonCosts   money spent on each person today (UTC), persisted in the store's
                  key/value rows so a restart does not hand out a fresh share

The decisions themselves are in :mod:`brandbot.core.policy` (pure); these classes only
count, and forget people as soon as their counts no longer matter.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from brandbot.core.policy import Flood

#: People remembered at most, whatever happens: beyond it the least recently active is
#: forgotten (their counts start again). People idle since before today go first anyway.
PEOPLE_REMEMBERED = 50_000

PersonKey = tuple[str, int]  # (network, follower id)


def _hour(now: datetime) -> int:
    return int(now.astimezone(UTC).timestamp() // 3600)


def _day(now: datetime) -> int:
    return now.astimezone(UTC).date().toordinal()


@dataclass(slots=True)
class _Person:
    touched: datetime  # last reply or message counted
    hour: int = 0  # the UTC hour (hours since the epoch) ``in_hour`` counts
    in_hour: int = 0
    day: int = 0  # the UTC day (ordinal) ``in_day`` counts
    in_day: int = 0
    tokens: float = 0.0  # the flood bucket, as it was at ``counted``
    counted: datetime | None = None  # when the last message was counted (None: never)
    full_at: datetime | None = None  # when the bucket is full again
    last_message: str = ""  # the event last counted, so several replies to one count once
    muted_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class FloodStart:
    """A person just started flooding: tell the staff (once); quiet until ``until``."""

    until: datetime


class PersonMeter:
    """Replies per person per hour and day, and flood detection, per (network, follower).

    Memory stays flat: a person is forgotten, least recently active first, once their
    counts no longer matter (nothing counted today, not muted, flood bucket full again),
    and at most ``capacity`` people are remembered.
    """

    def __init__(self, capacity: int = PEOPLE_REMEMBERED) -> None:
        self._people: OrderedDict[PersonKey, _Person] = OrderedDict()
        self._capacity = capacity

    def __len__(self) -> int:
        return len(self._people)

    def replies(self, key: PersonKey, now: datetime) -> tuple[int, int]:
        """(replies this UTC hour, replies today) to this person on this network."""
        person = self._people.get(key)
        if person is None:
            return 0, 0
        return (person.in_hour if person.hour == _hour(now) else 0,
                person.in_day if person.day == _day(now) else 0)

    def count_reply(self, key: PersonKey, now: datetime) -> None:
        person = self._touch(key, now)
        hour, day = _hour(now), _day(now)
        if person.hour != hour:
            person.hour, person.in_hour = hour, 0
        if person.day != day:
            person.day, person.in_day = day, 0
        person.in_hour += 1
        person.in_day += 1

    def flooding(self, key: PersonKey, now: datetime) -> bool:
        person = self._people.get(key)
        return person is not None and person.muted_until is not None and person.muted_until > now

    def count_message(self, key: PersonKey, message: str, now: datetime, flood: Flood | None) -> FloodStart | None:
        """Count one message of the person (once per event); a FloodStart when it starts a flood.

        A token bucket of ``flood.messages`` tokens refilled over ``flood.seconds``: each
        message takes one; a message finding it empty (re)starts the mute.
        """
        if flood is None:
            return None
        person = self._touch(key, now)
        if person.last_message == message:
            return None
        person.last_message = message
        capacity = float(flood.messages)
        rate = capacity / flood.seconds  # tokens per second
        tokens = capacity
        if person.counted is not None:
            tokens = min(capacity, person.tokens + max(0.0, (now - person.counted).total_seconds()) * rate)
        started = None
        if tokens < 1.0:
            muted = person.muted_until is not None and person.muted_until > now
            person.muted_until = now + timedelta(seconds=flood.mute)
            if not muted:
                started = FloodStart(person.muted_until)
        else:
            tokens -= 1.0
        person.tokens, person.counted = tokens, now
        person.full_at = now + timedelta(seconds=(capacity - tokens) / rate)
        return started

    def _touch(self, key: PersonKey, now: datetime) -> _Person:
        """The person's counts, marked as active now; forgets people whose counts expired."""
        self._sweep(now)
        person = self._people.get(key)
        if person is None:
            person = self._people[key] = _Person(touched=now)
            if len(self._people) > self._capacity:
                self._people.popitem(last=False)
        else:
            person.touched = now
            self._people.move_to_end(key)
        return person

    def _sweep(self, now: datetime) -> None:
        """Forget, least recently active first, the people whose counts no longer matter."""
        people = self._people
        while people:
            key, person = next(iter(people.items()))
            if not _forgettable(person, now):
                return
            del people[key]


def _forgettable(person: _Person, now: datetime) -> bool:
    return (_day(person.touched) != _day(now)
            and (person.muted_until is None or person.muted_until <= now)
            and (person.full_at is None or person.full_at <= now))


class PersonCosts:
    """Money spent on each person today (UTC). The runtime persists each total in the
    store's key/value rows (``day:follower``) and deletes the rows of earlier days."""

    def __init__(self) -> None:
        self._day = 0
        self._spent: dict[int, float] = {}

    def __len__(self) -> int:
        return len(self._spent)

    def today(self, follower_id: int, now: datetime) -> float:
        return self._spent.get(follower_id, 0.0) if self._day == _day(now) else 0.0

    def add(self, follower_id: int, now: datetime, amount: float) -> tuple[list[str], str, float]:
        """Count ``amount``; returns (keys of earlier days to delete, this key, the new total)."""
        stale = self._roll(now)
        total = self._spent.get(follower_id, 0.0) + amount
        self._spent[follower_id] = total
        return stale, _cost_key(self._day, follower_id), total

    def load(self, key: str, amount: float, now: datetime) -> bool:
        """Read back one stored total; False if it is of another day (delete it)."""
        day, _, follower = key.partition(":")
        try:
            ordinal, follower_id = datetime.fromisoformat(day).date().toordinal(), int(follower)
        except ValueError:
            return False
        self._roll(now)
        if ordinal != self._day:
            return False
        self._spent[follower_id] = amount
        return True

    def _roll(self, now: datetime) -> list[str]:
        today = _day(now)
        if today == self._day:
            return []
        stale = [_cost_key(self._day, follower_id) for follower_id in self._spent]
        self._day, self._spent = today, {}
        return stale


def _cost_key(day: int, follower_id: int) -> str:
    return f"{datetime.fromordinal(day).date().isoformat()}:{follower_id}"


__all__ = ["PEOPLE_REMEMBERED", "FloodStart", "PersonCosts", "PersonMeter"]
