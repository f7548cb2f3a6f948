"""``brandbot simulate``: what the bot would send, and what it would not and why.

Events come in as JSON lines; decisions go out as JSON lines. The real Bot runs
(rules, plugins, policy, loyalty) on an in-memory store and stand-in networks that
copy each platform's rules (X: replies only when summoned, 280 weighted characters,
cost per post), so nothing reaches a real network and the real database is untouched.

What the real outbox would do after the policy allowed a reply is simulated too: the
reply's cost counts against ``policy.daily_cost_budget`` (so later replies are deferred
as they would be), and each network's posting limits (X: 100 posts per 15 minutes and
10,000 a day; Telegram and Discord: their per-chat and global rates) hold a reply back;
a reply that would wait is shown as ``"action": "wait"`` with the time it would leave.
Events on a network the configuration does not know are refused with their line.
"""

from __future__ import annotations

import difflib
import json
from collections import deque
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from brandbot.clocks import Clock, ManualClock
from brandbot.core.config import BotConfig
from brandbot.core.errors import BrandbotError, ConfigError
from brandbot.core.eventlines import parse_event
from brandbot.core.records import OutboxEntry
from brandbot.networks.base import RateLimits, Window
from brandbot.networks.memory import MemoryConfig, MemoryNetwork
from brandbot.networks.registry import known_networks, network_class
from brandbot.runtime.bot import Bot, Handled
from brandbot.store.sqlite import SqliteStore


def read_events(path: str) -> tuple[list[str], str]:
    """The lines of an events file and its name for messages; one clear error if unreadable."""
    try:
        return Path(path).read_text(encoding="utf-8").splitlines(), path
    except FileNotFoundError:
        raise BrandbotError(f"events file {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BrandbotError(f"cannot read events file {path}: {exc}") from None


class SimulatedNetwork(MemoryNetwork):
    """A MemoryNetwork that applies a real platform's text and cost rules."""

    def __init__(self, name: str, *, clock: Clock | None = None, limits: RateLimits | None = None) -> None:
        super().__init__(MemoryConfig(requires_summons=name == "x"), name=name, clock=clock, limits=limits)
        self.read_only = name == "blogs"  # as the real one: the bot never posts on blogs
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


def _platform_limits(name: str, config: BotConfig) -> RateLimits:
    """The posting limits of the real network behind ``name`` (none for unknown adapters)."""
    section = config.top.networks.get(name) or {}
    adapter = section.get("adapter") if isinstance(section, dict) else None
    try:
        return network_class(name, adapter).limits
    except (ConfigError, ImportError, AttributeError):
        return RateLimits()


def _window_text(window: Window) -> str:
    count, seconds = window
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            amount = int(seconds // size)
            return f"{count} posts per {unit if amount == 1 else f'{amount} {unit}s'}"
    return f"{count} posts per {seconds:g} seconds"


class _PostingLimits:
    """When each reply would leave under a network's limits, as the outbox would send it."""

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self._sent: dict[tuple[str, Window], deque[datetime]] = {}

    def _windows(self, entry: OutboxEntry) -> list[tuple[str, Window]]:
        limits = self.limits
        found = [("overall", w) for w in limits.overall]
        found += [(f"conv:{entry.conversation_id}", w) for w in limits.per_conversation]
        if entry.conversation_private:
            found += [("private", w) for w in limits.private_overall]
        else:
            found += [(f"group:{entry.conversation_id}", w) for w in limits.per_group]
        return found

    def send(self, entry: OutboxEntry, now: datetime) -> tuple[datetime, Window | None]:
        """The time the reply leaves (``now`` or later) and the window that held it back."""
        at, holding = now, None
        windows = self._windows(entry)
        for key, window in windows:
            count, seconds = window
            sent = self._sent.setdefault((key, window), deque())
            while sent and sent[0] <= at - timedelta(seconds=seconds):
                sent.popleft()
            if len(sent) >= count:
                free = sent[len(sent) - count] + timedelta(seconds=seconds)
                if free > at:
                    at, holding = free, window
        for key, window in windows:
            self._sent[(key, window)].append(at)
        return at, holding


class _SimulatedOutbox:
    """Stands in for the outbox: counts each allowed reply's cost and applies the limits."""

    def __init__(self, bot: Bot, config: BotConfig, clock: ManualClock) -> None:
        self._bot = bot
        self._clock = clock
        self._limits = {name: _PostingLimits(_platform_limits(name, config)) for name in bot.networks}
        self.rows: list[dict[str, Any]] = []

    def deliver(self, entry: OutboxEntry) -> None:
        now = self._clock.now()
        limits = self._limits.get(entry.network)
        if limits is not None:
            at, holding = limits.send(entry, max(now, entry.next_try))
            if holding is not None:
                self.rows.append({
                    "event": entry.event_id or None, "action": "wait", "source": entry.source,
                    "to": f"{entry.network}:{entry.conversation_id}",
                    "reason": f"{entry.network} allows {_window_text(holding)}: this reply would leave at "
                              f"{at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC",
                })
        self._bot.sending.on_sent(entry)  # its cost counts against the daily budget

    def write(self, out: IO[str]) -> None:
        for row in self.rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        self.rows.clear()


def _check_networks(config: BotConfig, numbered: list[tuple[int, Any]], source: str) -> None:
    """Refuse events on networks the configuration does not know, naming the line."""
    known = set(known_networks(config)) | {config.top.staff.network}
    for line, event in numbered:
        if event.network not in known:
            close = difflib.get_close_matches(event.network, sorted(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"unknown network {event.network!r}{hint} (known: {', '.join(repr(n) for n in sorted(known))})",
                f"{source}:{line}",
            )


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
    numbered = [(i, parse_event(line, i, source)) for i, line in enumerate(lines, 1) if line.strip()]
    _check_networks(config, numbered, source)
    events = [event for _, event in numbered]
    names = {e.network for e in events} | {s.name for s in config.networks} | {config.top.staff.network}
    start = min((e.time for e in events), default=datetime.now(UTC))
    clock = ManualClock(start)
    networks = {name: SimulatedNetwork(name, clock=clock) for name in names}
    bot = Bot(config, store=SqliteStore(":memory:"), networks=networks, clock=clock, dry_run=True)
    outbox = _SimulatedOutbox(bot, config, clock)
    bot.transactions.deliver = outbox.deliver  # dry run: replies stop here instead of the outbox
    await bot.open()
    bot.sending.trace = []
    try:
        await bot.run_startup_hooks()
        _write_trace(bot, out, clock.now())
        for event in events:
            if event.time > clock.now():
                await _advance_to(bot, clock, event.time, out)
            handled = await bot.handle(event)
            await bot.drain()
            for decision in decisions(handled):
                out.write(json.dumps(decision, ensure_ascii=False) + "\n")
            outbox.write(out)
            _write_trace(bot, out, clock.now())
    finally:
        await bot.store.close()
    return len(events)
