"""When a giveaway closes, as admins write it: "2h", "1d 12h", "in 90 minutes", "18:00",
"2026-05-01 18:00" (UTC unless an offset is given).

Read in two steps: :func:`read_closing` checks the words alone (so ``/giveaway open``
lists a typo with the other problems), :meth:`Closing.at` turns them into a moment
once the bot's time is known.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from brandbot import parse_duration

_UNITS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
    **dict.fromkeys(("w", "week", "weeks"), 604800),
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")


@dataclass(frozen=True)
class Closing:
    """A closing time as typed: after a while, at the next time of day, or at a moment."""

    typed: str
    rule: timedelta | time | datetime

    def at(self, now: datetime) -> datetime:
        if isinstance(self.rule, timedelta):
            return now + self.rule
        if isinstance(self.rule, time):  # the next time the clock shows it, in UTC
            moment = datetime.combine(now.date(), self.rule, tzinfo=UTC)
            return moment if moment > now else moment + timedelta(days=1)
        return self.rule


def read_closing(value: str) -> Closing:
    """The closing time in ``value``; ValueError saying what to write instead."""
    text = value.strip().lower().removeprefix("in ").strip()
    parts = _DURATION_PART.findall(text)
    if parts and _DURATION_PART.sub("", text).strip(" ,and") == "":
        seconds = 0.0
        for number, unit in parts:
            if unit not in _UNITS:
                raise ValueError(f"unknown time unit {unit!r} in {value!r} (use m, h, d or w)")
            seconds += float(number) * _UNITS[unit]
        return Closing(value, timedelta(seconds=seconds))
    try:
        seconds = parse_duration(text)
    except ValueError:
        pass
    else:
        if seconds == 0:
            return Closing(value, timedelta(0))  # "now": refused as not in the future
        raise ValueError(f"say the unit, for example {text}m or {text}h")
    try:
        return Closing(value, time.fromisoformat(text))
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value.strip().upper().replace("UTC", "").strip())
    except ValueError:
        raise ValueError(
            f"{value!r} is neither a duration (2h, 90m, 3d) nor a date and time "
            "(2026-05-01 18:00, in UTC)"
        ) from None
    return Closing(value, moment if moment.tzinfo else moment.replace(tzinfo=UTC))
