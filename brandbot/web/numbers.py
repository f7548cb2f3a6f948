"""Pure shaping of the figures the pages show: date ranges, percentiles, series per day.

No I/O here: the queries (``queries.py``) fetch rows, these functions decide what they mean.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

DEFAULT_DAYS = 14
MAX_DAYS = 366


class RangeError(ValueError):
    """A date range the overview cannot show; the message says what to pick instead."""


@dataclass(frozen=True, slots=True)
class DayRange:
    """Whole UTC days from ``first`` to ``last``, both included."""

    first: date
    last: date

    @property
    def days(self) -> list[str]:
        return [(self.first + timedelta(days=i)).isoformat() for i in range((self.last - self.first).days + 1)]

    @property
    def start(self) -> str:
        """The first instant, as stored times compare (ISO text)."""
        return self.first.isoformat()

    @property
    def end(self) -> str:
        """The day after the last, exclusive, as ISO text."""
        return (self.last + timedelta(days=1)).isoformat()


def day_range(today: date, first: str | None, last: str | None) -> DayRange:
    """The range asked for in the query string (``from``/``to``, YYYY-MM-DD); the last
    ``DEFAULT_DAYS`` days when not given."""
    try:
        end = date.fromisoformat(last) if last else today
        start = date.fromisoformat(first) if first else end - timedelta(days=DEFAULT_DAYS - 1)
    except ValueError:
        raise RangeError("dates are written YYYY-MM-DD, e.g. 2026-12-01") from None
    if start > end:
        raise RangeError(f"the range starts ({start}) after it ends ({end}); swap the dates")
    if (end - start).days >= MAX_DAYS:
        raise RangeError(f"pick at most {MAX_DAYS} days")
    return DayRange(start, end)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) by the nearest-rank method; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(q * len(ordered) - 1e-9)))
    return ordered[rank - 1]


def seconds_between(start: str, end: str) -> float:
    """Seconds from one stored ISO time to another."""
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


Series = dict[str, list[int]]


def per_day(rows: Iterable[tuple[str, str, int]], days: Sequence[str]) -> Series:
    """(day, name, count) rows -> {name: [count per day]}, zero where nothing happened."""
    index = {d: i for i, d in enumerate(days)}
    series: Series = {}
    for day, name, count in rows:
        if day in index:
            series.setdefault(name, [0] * len(days))[index[day]] += count
    return dict(sorted(series.items()))


def totals(series: Mapping[str, Sequence[int]]) -> dict[str, int]:
    return {name: sum(values) for name, values in series.items()}


def human_seconds(value: float | None) -> str:
    """12 s, 3.5 min, 2.0 h; a dash when there is nothing to measure."""
    if value is None:
        return "–"
    if value < 90:
        return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"
    if value < 5400:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"


__all__ = ["DEFAULT_DAYS", "MAX_DAYS", "DayRange", "RangeError", "Series", "day_range", "human_seconds",
           "per_day", "percentile", "seconds_between", "totals"]
