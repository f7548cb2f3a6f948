"""The Overview page: what the bot did per network and day, how fast, what it refused, what it cost.

:func:`overview_data` gathers the figures (the live page and ``brandbot report --html``
share it); :func:`overview_charts` turns them into SVG.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from brandbot.web import charts
from brandbot.web.numbers import (
    DayRange,
    Series,
    human_seconds,
    per_day,
    percentile,
    seconds_between,
    totals,
)
from brandbot.web.queries import Queries
from brandbot.web.render import svg

COST_NAMESPACE = "core.cost"  # day -> money spent (written by the runtime's cost meter)


@dataclass(frozen=True, slots=True)
class Overview:
    range: DayRange
    events: Series
    replies: Series
    delay_p50: float | None
    delay_p95: float | None
    delays_measured: int
    refusals: tuple[tuple[str, int], ...]
    opted_out: int
    followers: int
    handoffs_open: int
    cost: dict[str, list[float]]
    cost_today: float
    budget: float | None

    @property
    def events_total(self) -> int:
        return sum(totals(self.events).values())

    @property
    def replies_total(self) -> int:
        return sum(totals(self.replies).values())

    @property
    def cost_total(self) -> float:
        return sum(sum(v) for v in self.cost.values())


async def overview_data(queries: Queries, days: DayRange, today: date, *, handoffs_open: int,
                        budget: float | None) -> Overview:
    delays = [seconds_between(a, b) for a, b in await queries.reply_delays(days.start, days.end)]
    delays = [d for d in delays if d >= 0]
    spent = {str(k): float(v) for k, v in await queries.data(COST_NAMESPACE)}
    cost = {"cost": [spent.get(day, 0.0) for day in days.days]} if any(d in spent for d in days.days) else {}
    return Overview(
        range=days,
        events=per_day(await queries.events_per_day(days.start, days.end), days.days),
        replies=per_day(await queries.replies_per_day(days.start, days.end), days.days),
        delay_p50=percentile(delays, 0.5),
        delay_p95=percentile(delays, 0.95),
        delays_measured=len(delays),
        refusals=tuple(await queries.refusals(days.start, days.end)),
        opted_out=await queries.opted_out(),
        followers=await queries.followers(),
        handoffs_open=handoffs_open,
        cost=cost,
        cost_today=spent.get(today.isoformat(), 0.0),
        budget=budget,
    )


@dataclass(frozen=True, slots=True)
class OverviewCharts:
    events: str
    replies: str
    refusals: str
    cost: str
    budget: str


def overview_charts(data: Overview) -> OverviewCharts:
    days: Sequence[str] = data.range.days
    budget = (charts.bar_chart("Spent today vs the daily budget", [("today", round(data.cost_today, 2))],
                               marker=("budget", data.budget))
              if data.budget is not None else "")
    return OverviewCharts(
        events=charts.line_chart("Events per network per day", days, data.events),
        replies=charts.line_chart("Replies sent per network per day", days, data.replies),
        refusals=charts.bar_chart("Refusals by reason", [(r, float(n)) for r, n in data.refusals]),
        cost=charts.line_chart("Estimated sending cost per day", days, data.cost) if data.cost
        else charts.empty_chart("Estimated sending cost per day", "No cost recorded in this range."),
        budget=budget,
    )


def overview_context(data: Overview) -> dict[str, Any]:
    """What ``overview_body.html`` needs (the live page and the static report)."""
    drawn = overview_charts(data)
    return {"o": data, "p50": human_seconds(data.delay_p50), "p95": human_seconds(data.delay_p95),
            "charts": {k: svg(getattr(drawn, k)) for k in ("events", "replies", "refusals", "cost", "budget")}}


__all__ = ["COST_NAMESPACE", "Overview", "OverviewCharts", "overview_charts", "overview_context", "overview_data"]
