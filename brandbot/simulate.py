"""``brandbot simulate``: what the bot would send, and what it would not and why.

Events come in as JSON lines; decisions go out as JSON lines. The real Bot runs
(rules, plugins, policy, loyalty) on an in-memory store and stand-in networks that
copy each platform's rules (X: replies only when summoned, 280 weighted characters,
cost per post), so nothing reaches a real network and the real database is untouched.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import IO, Any

from brandbot.bot import Bot, Handled
from brandbot.clock import Clock, ManualClock
from brandbot.config import BotConfig
from brandbot.errors import ConfigError
from brandbot.events import Conversation, Event, Kind, Person
from brandbot.networks.base import RateLimits
from brandbot.networks.memory import MemoryConfig, MemoryNetwork
from brandbot.store.sqlite import SqliteStore


class SimulatedNetwork(MemoryNetwork):
    """A MemoryNetwork that applies a real platform's text and cost rules."""

    def __init__(self, name: str, *, clock: Clock | None = None, limits: RateLimits | None = None) -> None:
        super().__init__(MemoryConfig(requires_summons=name == "x"), name=name, clock=clock, limits=limits)
        self._x = None
        if name == "x":
            from brandbot.networks import xtext

            self._x = xtext

    def check_text(self, text: str) -> str | None:
        return self._x.problem(text) if self._x is not None else None

    def cost_of(self, text: str) -> float:
        return self._x.cost(text) if self._x is not None else 0.0


#: The fields of an input line and the JSON types each may have.
_NULLABLE = frozenset({"refers_to", "conversation", "post_id"})
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "id": (str, int), "kind": (str,), "author": (str, int), "handle": (str,), "name": (str,),
    "text": (str,), "network": (str,), "conversation": (str, int), "private": (bool,), "addressed": (bool,),
    "time": (str,), "post_id": (str, int), "refers_to": (str, int),
}
_TYPE_NAMES = {str: "text", int: "a number", bool: "true or false"}


def _check_fields(text: str, where: str) -> None:
    """Reject lines whose fields ``parse_event`` would misread (null ids become "None",
    a bad time raises ValueError) with an error naming the line and the field."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        return  # parse_event reports it with the column
    if not isinstance(obj, dict):
        return
    for key, types in _FIELD_TYPES.items():
        if key not in obj or (obj[key] is None and key in _NULLABLE):
            continue
        value = obj[key]
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            expected = " or ".join(_TYPE_NAMES[t] for t in types)
            raise ConfigError(f"'{key}' must be {expected}, not {json.dumps(value)[:40]}", where)
        if key in ("id", "author") and str(value).strip() == "":
            raise ConfigError(f"'{key}' must not be empty", where)
    if "time" in obj:
        try:
            datetime.fromisoformat(obj["time"])
        except ValueError:
            raise ConfigError(
                f"'time' must be an ISO 8601 date-time like 2025-05-01T10:00:00Z, not {obj['time'][:40]!r}", where
            ) from None


def parse_event(line: str, number: int, source: str = "stdin") -> Event:
    """One JSON object -> Event. Errors name the line and the missing or bad field."""
    where = f"{source}:{number}"
    _check_fields(line, where)
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"not valid JSON ({exc.msg} at column {exc.colno})", where) from None
    if not isinstance(obj, dict):
        raise ConfigError("each line must be a JSON object like {\"kind\": \"mention\", \"author\": \"ana\", \"text\": \"hi\"}", where)
    try:
        kind = Kind.parse(str(obj.get("kind", "direct")))
    except ValueError as exc:
        raise ConfigError(str(exc), where) from None
    author = obj.get("author")
    if not author:
        raise ConfigError("missing 'author' (the person's id or handle)", where)
    network = str(obj.get("network", "console"))
    text = str(obj.get("text", ""))
    private = bool(obj.get("private", kind is Kind.DIRECT))
    conversation = str(obj.get("conversation") or (f"dm:{author}" if private else "public"))
    command, args = None, ()
    if kind is Kind.COMMAND:
        head, *rest = (text.lstrip("/").split() or [""])
        command, args = head.lower(), tuple(rest)
    when = obj.get("time")
    time = datetime.fromisoformat(when) if when else None
    if time is not None and time.tzinfo is None:
        time = time.replace(tzinfo=timezone.utc)
    return Event(
        kind=kind, network=network, id=str(obj.get("id", f"sim{number}")),
        author=Person(network, str(author), handle=str(obj.get("handle", author)), name=str(obj.get("name", str(author).capitalize()))),
        conversation=Conversation(network, conversation, private=private),
        text=text, time=time or datetime.now(timezone.utc), post_id=str(obj.get("post_id", f"sim{number}")),
        refers_to=obj.get("refers_to"), addressed=bool(obj.get("addressed", kind in (Kind.DIRECT, Kind.MENTION, Kind.REPLY, Kind.QUOTE, Kind.COMMAND))),
        command=command, args=args,
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
    assert bot.trace is not None
    for note in bot.trace:
        row: dict[str, Any] = {"event": None, "time": now.isoformat(), "action": note.action, "source": note.source,
                               "to": f"{note.network}:{note.conversation}"}
        if note.text:
            row["text"] = note.text
        if note.detail:
            row["reason"] = note.detail
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
    bot.trace.clear()


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
    start = min((e.time for e in events), default=datetime.now(timezone.utc))
    clock = ManualClock(start)
    bot = Bot(config, store=SqliteStore(":memory:"), networks=networks, clock=clock, dry_run=True)
    await bot.open()
    bot.trace = []
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
