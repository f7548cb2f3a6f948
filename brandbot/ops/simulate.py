"""``brandbot simulate``: what the bot would send, and what it would not and why.

Events come in as JSON lines; decisions go out as JSON lines. The real Bot runs
(rules, plugins, policy, loyalty) on an in-memory store and stand-in networks that
copy each platform's rules (X: replies only when summoned, 280 weighted characters,
cost per post), so nothing reaches a real network and the real database is untouched.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import IO, Any

from brandbot.clocks import Clock, ManualClock
from brandbot.core.config import BotConfig
from brandbot.core.eventlines import parse_event
from brandbot.networks.base import RateLimits
from brandbot.networks.memory import MemoryConfig, MemoryNetwork
from brandbot.runtime.bot import Bot, Handled
from brandbot.store.sqlite import SqliteStore


class SimulatedNetwork(MemoryNetwork):
    """A MemoryNetwork that applies a real platform's text and cost rules."""

    def __init__(self, name: str, *, clock: Clock | None = None, limits: RateLimits | None = None) -> None:
        super().__init__(MemoryConfig(requires_summons=name == "x"), name=name, clock=clock, limits=limits)
        self._x = None
        if name == "x":
            from brandbot.networks import xtext

            self._x = xtext

    def length_of(self, text: str) -> int:
        return self._x.weighted_length(text) if self._x is not None else len(text)

    def check_text(self, text: str) -> str | None:
        return self._x.problem(text) if self._x is not None else None

    def cost_of(self, text: str) -> float:
        return self._x.cost(text) if self._x is not None else 0.0


async def _advance_to(bot: Bot, clock: ManualClock, until: datetime, out: IO[str]) -> None:
    """Move time to ``until``, running scheduled jobs (reminders, draws) when they fall due."""
    while True:
        jobs = [j for j in await bot.store.all_jobs() if j.due <= until]
        if not jobs:
            break
        due = min(j.due for j in jobs)
        if due > clock.now():
            clock.advance((due - clock.now()).total_seconds())
        await bot.run_due_jobs()
        _write_trace(bot, out, clock.now())
    if until > clock.now():
        clock.advance((until - clock.now()).total_seconds())


def _write_trace(bot: Bot, out: IO[str], now: datetime) -> None:
    """Print what jobs and notices decided (sends with no triggering event)."""
    assert bot.sending.trace is not None
    for note in bot.sending.trace:
        row: dict[str, Any] = {"event": None, "time": now.isoformat(), "action": note.action, "source": note.source,
                               "to": f"{note.network}:{note.conversation}"}
        if note.text:
            row["text"] = note.text
        if note.detail:
            row["reason"] = note.detail
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
    bot.sending.trace.clear()


def decisions(handled: Handled) -> Iterator[dict[str, Any]]:
    base = {"event": handled.event.id, "network": handled.event.network, "kind": handled.event.kind.value,
            "author": handled.event.author.id}
    if handled.duplicate:
        yield {**base, "action": "duplicate", "reason": "event id already processed"}
        return
    shown = False
    for note in handled.notes:
        if note.action in ("send", "defer", "refuse", "skip", "error", "action"):
            shown = True
            out = {**base, "action": note.action, "source": note.source}
            if note.text:
                out["text"] = note.text
            if note.network and (note.network, note.conversation) != (handled.event.network, handled.event.conversation.id):
                out["to"] = f"{note.network}:{note.conversation}"
            if note.detail:
                out["reason"] = note.detail
            yield out
    if not shown:
        yield {**base, "action": "none", "reason": "no rule or plugin answered"}


async def simulate(config: BotConfig, lines: Iterable[str], out: IO[str], source: str = "stdin") -> int:
    """Run every event through a dry-run bot; returns the number of events read."""
    events = [parse_event(line, i, source) for i, line in enumerate(lines, 1) if line.strip()]
    names = {e.network for e in events} | {s.name for s in config.networks} | {config.top.staff.network}
    networks = {name: SimulatedNetwork(name) for name in names}
    start = min((e.time for e in events), default=datetime.now(UTC))
    clock = ManualClock(start)
    bot = Bot(config, store=SqliteStore(":memory:"), networks=networks, clock=clock, dry_run=True)
    await bot.open()
    bot.sending.trace = []
    try:
        await bot.run_startup_hooks()
        _write_trace(bot, out, clock.now())
        for event in events:
            if event.time > clock.now():
                await _advance_to(bot, clock, event.time, out)
            for decision in decisions(await bot.handle(event)):
                out.write(json.dumps(decision, ensure_ascii=False) + "\n")
            _write_trace(bot, out, clock.now())
    finally:
        await bot.store.close()
    return len(events)
