"""``brandbot report --html FILE``: the Overview and Advocates pages as one static file.

The same figures and charts as the live pages, read from the database of a bot that
may or may not be running (read-only), with the stylesheet inlined: the file opens
offline, can be mailed, and loads nothing from anywhere.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from brandbot.core.config import BotConfig
from brandbot.runtime.reports import PeopleLookup
from brandbot.web.advocates import advocates_context, advocates_data
from brandbot.web.numbers import DayRange
from brandbot.web.overview import overview_context, overview_data
from brandbot.web.queries import Queries
from brandbot.web.render import environment, render, stylesheet

HANDOFF_NAMESPACES = ("core.handoff", "core.handoff.person")  # what the runtime persists handoffs in


async def open_handoffs(queries: Queries, now: datetime) -> int:
    """Handoffs still running at ``now``, as the bot persisted them."""
    count = 0
    for namespace in HANDOFF_NAMESPACES:
        for _, until in await queries.data(namespace):
            try:
                count += datetime.fromisoformat(str(until)) > now
            except ValueError:
                continue
    return count


async def html_report(config: BotConfig, people: PeopleLookup, days: DayRange, now: datetime) -> str:
    """The report as one HTML document."""
    queries = Queries(config.storage_path)
    try:
        today: date = now.date()
        over = await overview_data(queries, days, today, handoffs_open=await open_handoffs(queries, now),
                                   budget=config.top.policy.daily_cost_budget)
        adv = await advocates_data(queries, people, now)
    finally:
        await queries.close()
    return render(environment(), "report.html", brand=str(config.brand.get("name", "")), written=now,
                  css=stylesheet(), **overview_context(over), **advocates_context(adv, live=False))


def write_report(path: Path, html: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")


__all__ = ["html_report", "open_handoffs", "write_report"]
