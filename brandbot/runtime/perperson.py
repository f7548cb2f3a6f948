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

from array import array
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from brandbot.core.policy import Flood

#: People remembered at most, whatever happens: beyond it the least recently active is
#: forgotten (their counts start again). People idle since before today go first anyway.
#: Only someone 20,000 other people wrote after since their last message is forgotten:
#: a person near a limit (60 replies an hour, 300 a day) or flooding writes far more
#: often than that on any bot. 50,000 rows were 11.3 MB in the soak (225 bytes a person
#: with the dict and its int keys), most of the memory it gained after warm-up.
PEOPLE_REMEMBERED = 20_000

PersonKey = tuple[str, int]  # (network, follower id)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY = _EPOCH.date().toordinal()
_MICROSECOND = timedelta(microseconds=1)
_HOUR, _DAY = 3_600_000_000, 86_400_000_000  # in microseconds
#: "No time" in the microsecond columns (never counted, no bucket to refill, not muted).
_NEVER = -(2**63)
#: Networks numbered below 2**_NETWORK_BITS share one int key with the follower id.
_NETWORK_BITS = 8


def _day(now: datetime) -> int:
    return now.astimezone(UTC).date().toordinal()


def _micros(now: datetime) -> int:
    """``now`` as whole microseconds since the epoch: exact, unlike a float timestamp."""
    return ((now if now.tzinfo is not None else now.astimezone(UTC)) - _EPOCH) // _MICROSECOND


@dataclass(frozen=True, slots=True)
class FloodStart:
    """A person just started flooding: tell the staff (once); quiet until ``until``."""

    until: datetime


class _Columns:
    """Each remembered person's counts as one row of typed arrays (a few bytes per field),
    the rows chained from the least to the most recently active.

    A slots object per person, with datetimes, floats and the last event id as objects,
    was about 540 bytes a person (27 MB for the 50,000 remembered); a row here is 68
    bytes and a pointer to its key. The order is kept in the rows too (an OrderedDict
    cost about 60 bytes a person more: 15.1 against 12.2 MB for 50,000, after churn).
    Rows of forgotten people are reused.
    """

    __slots__ = ("counted", "day", "free", "full_at", "hour", "in_day", "in_hour", "keys", "message",
                 "muted_until", "newer", "newest", "older", "oldest", "tokens")

    def __init__(self) -> None:
        self.day = array("i")  # the UTC day (ordinal) the person was last active on
        self.hour = array("i")  # the UTC hour (hours since the epoch) ``in_hour`` counts
        self.in_hour = array("i")
        self.in_day = array("i")  # replies on the day of ``hour``
        self.tokens = array("d")  # the flood bucket, as it was at ``counted``
        self.counted = array("q")  # microseconds: when the last message was counted (or _NEVER)
        self.full_at = array("q")  # microseconds: when the bucket is full again (or _NEVER)
        self.muted_until = array("q")  # microseconds (or _NEVER)
        self.message = array("q")  # hash of the event last counted: several replies count once
        self.keys: list[Hashable] = []  # the person each row is of (None: a free row)
        self.older = array("i")  # the row active just before (-1: none)
        self.newer = array("i")  # the row active just after (-1: none)
        self.oldest = self.newest = -1
        self.free: list[int] = []

    def new(self, key: Hashable, day: int) -> int:
        """A row for a new person, the most recently active, on ``day``, nothing counted."""
        if self.free:
            row = self.free.pop()
            self.keys[row] = key
            self.day[row] = day
            self.hour[row] = self.in_hour[row] = self.in_day[row] = 0
            self.tokens[row] = 0.0
            self.counted[row] = self.full_at[row] = self.muted_until[row] = _NEVER
            self.message[row] = 0
        else:
            row = len(self.keys)
            self.keys.append(key)
            self.day.append(day)
            for column in (self.hour, self.in_hour, self.in_day, self.message, self.older, self.newer):
                column.append(0)
            self.tokens.append(0.0)
            for column in (self.counted, self.full_at, self.muted_until):
                column.append(_NEVER)
        self._link_newest(row)
        return row

    def renew(self, row: int) -> None:
        """Make ``row`` the most recently active."""
        if row == self.newest:
            return
        older, newer = self.older[row], self.newer[row]  # newer >= 0: row is not the newest
        self.older[newer] = older
        if older >= 0:
            self.newer[older] = newer
        else:
            self.oldest = newer
        self._link_newest(row)

    def drop_oldest(self) -> Hashable:
        """Free the least recently active row; returns whose it was."""
        row = self.oldest
        newer = self.newer[row]
        self.oldest = newer
        if newer >= 0:
            self.older[newer] = -1
        else:
            self.newest = -1
        key, self.keys[row] = self.keys[row], None
        self.free.append(row)
        return key

    def _link_newest(self, row: int) -> None:
        newest = self.newest
        self.older[row], self.newer[row] = newest, -1
        if newest >= 0:
            self.newer[newest] = row
        else:
            self.oldest = row
        self.newest = row


class PersonMeter:
    """Replies per person per hour and day, and flood detection, per (network, follower).

    Memory stays flat: a person is forgotten, least recently active first, once their
    counts no longer matter (nothing counted today, not muted, flood bucket full again),
    and at most ``capacity`` people are remembered. The counts are rows of typed arrays
    (:class:`_Columns`), found through one int key per person.
    """

    def __init__(self, capacity: int = PEOPLE_REMEMBERED) -> None:
        self._people: dict[Hashable, int] = {}  # key -> row
        self._rows = _Columns()
        self._capacity = max(1, capacity)
        self._networks: dict[str, int] = {}
        self._now: datetime | None = None  # the clock reading ``_at`` last worked out
        self._at_now = (0, 0, 0)

    def __len__(self) -> int:
        return len(self._people)

    def _key(self, key: PersonKey) -> Hashable:
        """One int for (network, follower id), as the rule state's variant keys."""
        network, follower_id = key
        numbers = self._networks
        number = numbers.get(network)
        if number is None:
            number = numbers[network] = len(numbers)
        if number >> _NETWORK_BITS or type(follower_id) is not int:
            return key
        return (follower_id << _NETWORK_BITS) | number

    def replies(self, key: PersonKey, now: datetime) -> tuple[int, int]:
        """(replies this UTC hour, replies today) to this person on this network."""
        row = self._people.get(self._key(key))
        if row is None:
            return 0, 0
        rows, (today, hour, _) = self._rows, self._at(now)
        counted = rows.hour[row]
        return (rows.in_hour[row] if counted == hour else 0,
                rows.in_day[row] if counted // 24 + _EPOCH_DAY == today else 0)

    def count_reply(self, key: PersonKey, now: datetime) -> None:
        row = self._touch(key, now)
        rows, (today, hour, _) = self._rows, self._at(now)
        last = rows.hour[row]
        in_hour = rows.in_hour[row] if last == hour else 0
        in_day = rows.in_day[row] if last // 24 + _EPOCH_DAY == today else 0
        rows.hour[row], rows.in_hour[row], rows.in_day[row] = hour, in_hour + 1, in_day + 1

    def flooding(self, key: PersonKey, now: datetime) -> bool:
        row = self._people.get(self._key(key))
        return row is not None and self._rows.muted_until[row] > self._at(now)[2]

    def count_message(self, key: PersonKey, message: str, now: datetime, flood: Flood | None) -> FloodStart | None:
        """Count one message of the person (once per event); a FloodStart when it starts a flood.

        A token bucket of ``flood.messages`` tokens refilled over ``flood.seconds``: each
        message takes one; a message finding it empty (re)starts the mute.
        """
        if flood is None:
            return None
        row = self._touch(key, now)
        rows = self._rows
        mark = hash(message)
        if rows.message[row] == mark:
            return None
        rows.message[row] = mark
        capacity = float(flood.messages)
        rate = capacity / flood.seconds  # tokens per second
        tokens = capacity
        at = self._at(now)[2]
        counted = rows.counted[row]
        if counted != _NEVER:
            tokens = min(capacity, rows.tokens[row] + max(0, at - counted) / 1_000_000 * rate)
        started = None
        if tokens < 1.0:
            muted = rows.muted_until[row] > at
            until = now + timedelta(seconds=flood.mute)
            rows.muted_until[row] = _micros(until)
            if not muted:
                started = FloodStart(until)
        else:
            tokens -= 1.0
        rows.tokens[row], rows.counted[row] = tokens, at
        rows.full_at[row] = at + timedelta(seconds=(capacity - tokens) / rate) // _MICROSECOND
        return started

    def _at(self, now: datetime) -> tuple[int, int, int]:
        """(UTC day ordinal, UTC hours since the epoch, microseconds since the epoch) of
        ``now``, worked out once per clock reading (a send asks several times)."""
        if now is not self._now:
            micros = _micros(now)
            self._now, self._at_now = now, (micros // _DAY + _EPOCH_DAY, micros // _HOUR, micros)
        return self._at_now

    def _touch(self, key: PersonKey, now: datetime) -> int:
        """The person's row, marked as active now; forgets people whose counts expired."""
        today, _, at = self._at(now)
        self._sweep(today, at)
        people, rows, short = self._people, self._rows, self._key(key)
        row = people.get(short)
        if row is None:
            if len(people) >= self._capacity:
                del people[rows.drop_oldest()]
            row = people[short] = rows.new(short, today)
        else:
            rows.day[row] = today
            rows.renew(row)
        return row

    def _sweep(self, today: int, now: int) -> None:
        """Forget, least recently active first, the people whose counts no longer matter."""
        people, rows = self._people, self._rows
        while (row := rows.oldest) >= 0:
            if rows.day[row] == today or rows.muted_until[row] > now or rows.full_at[row] > now:
                return
            del people[rows.drop_oldest()]


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
