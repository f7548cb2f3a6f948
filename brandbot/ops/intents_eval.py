"""``brandbot intents eval FILE.jsonl``: how well the bot understands a labelled set.

Each line of the file is one message as a follower would write it, with what should
happen: ``{"text": "do you ship to Canada?", "lang": "en", "intent": "shipping",
"expect": "rule:shipping"}``. ``expect`` names the rule or plugin that should answer
(as ``brandbot simulate`` shows it in ``source``); ``intent`` the intent it belongs to.

Two measures, both printed:

- **answers**: every message goes through the real bot (rules, plugins, policy) on an
  in-memory store, each from a different returning follower in a private chat, and is
  scored by which rule or plugin answered. Accuracy, precision and recall per expected
  answer, per language, and the share of complaints that reached a person.
- **intents**: the intent model alone (if the configuration has intents): a confusion
  table of the intent found against the labelled one, with precision and recall per
  intent, to calibrate the thresholds.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from brandbot.clocks import ManualClock
from brandbot.core.config import BotConfig
from brandbot.core.errors import ConfigError
from brandbot.core.events import Conversation, Event, Kind, Person
from brandbot.networks.memory import MemoryConfig, MemoryNetwork
from brandbot.runtime.bot import Bot
from brandbot.store.sqlite import SqliteStore

#: The label of messages that should reach no intent (small talk, thanks).
NO_INTENT = "none"
#: Written for a message nothing answered.
UNANSWERED = "(none)"


@dataclass(frozen=True)
class Labelled:
    """One labelled message."""

    text: str
    expect: str  # "rule:shipping", "plugin:handoff"
    intent: str = NO_INTENT
    lang: str = ""


def read_labelled(path: Path) -> list[Labelled]:
    """The labelled messages of a JSON-lines file; a bad line is an error naming it."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read the labelled file: {exc}", str(path)) from None
    rows: list[Labelled] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"not valid JSON ({exc.msg} at column {exc.colno})", where) from None
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str) or not obj.get("expect"):
            raise ConfigError('each line needs "text" and "expect", e.g. {"text": "do you ship to Canada?", '
                              '"expect": "rule:shipping", "intent": "shipping", "lang": "en"}', where)
        rows.append(Labelled(obj["text"], str(obj["expect"]), str(obj.get("intent") or NO_INTENT),
                             str(obj.get("lang") or "")))
    if not rows:
        raise ConfigError("the labelled file has no messages", str(path))
    return rows


async def answers(config: BotConfig, rows: Sequence[Labelled]) -> list[str]:
    """Which rule or plugin answered each message (``UNANSWERED`` if none), on a dry-run bot.

    Each message comes from its own follower, who followed the brand a day before (so
    it is not their first contact), in their own private chat, a minute after the last.
    """
    start = datetime(2027, 1, 4, 9, tzinfo=UTC)
    clock = ManualClock(start)
    network = MemoryNetwork(MemoryConfig(), name="console", clock=clock)
    names = {s.name for s in config.networks} | {config.top.staff.network, "console"}
    networks = {name: network if name == "console" else MemoryNetwork(MemoryConfig(), name=name, clock=clock)
                for name in names}
    bot = Bot(config, store=SqliteStore(":memory:"), networks=networks, clock=clock, dry_run=True)
    bot.transactions.deliver = lambda entry: None  # dry run: replies stop at the commit
    await bot.open()
    got: list[str] = []
    try:
        for i, row in enumerate(rows):
            person = Person("console", f"u{i}", handle=f"u{i}", name=f"Reader {i}")
            chat = Conversation("console", f"dm:u{i}", private=True)
            clock.advance(60)
            await bot.handle(Event(id=f"f{i}", network="console", kind=Kind.FOLLOW, author=person,
                                   conversation=chat, time=clock.now()))
            clock.advance(60)
            handled = await bot.handle(Event(id=f"m{i}", network="console", kind=Kind.DIRECT, author=person,
                                             conversation=chat, text=row.text, time=clock.now(),
                                             post_id=f"m{i}", addressed=True))
            await bot.drain()
            got.append(_responder(handled.handled_by))
    finally:
        await bot.store.close()
    return got


def _responder(source: str | None) -> str:
    """"plugin:handoff.ask_for_human" -> "plugin:handoff": labels name the plugin, not its function."""
    if source is None:
        return UNANSWERED
    return source.partition(".")[0] if source.startswith("plugin:") else source


# -- scoring (pure) --------------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    """Precision and recall of one label."""

    label: str
    support: int  # labelled with it
    predicted: int  # given it
    correct: int

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.correct / self.support if self.support else 0.0


def scores(expected: Sequence[str], got: Sequence[str]) -> list[Score]:
    """Precision and recall for every label that was expected or given, sorted by label."""
    support, predicted, correct = Counter(expected), Counter(got), Counter(
        e for e, g in zip(expected, got, strict=True) if e == g)
    return [Score(label, support[label], predicted[label], correct[label])
            for label in sorted(set(support) | set(predicted))]


def accuracy(expected: Sequence[str], got: Sequence[str]) -> float:
    return sum(e == g for e, g in zip(expected, got, strict=True)) / len(expected) if expected else 0.0


def confusion(expected: Sequence[str], got: Sequence[str]) -> list[str]:
    """A confusion table as text lines: one row per expected label, one column per given."""
    labels = sorted(set(expected) | set(got))
    counts = Counter(zip(expected, got, strict=True))
    width = max(12, *(len(label) for label in labels))
    short = [label[:7] for label in labels]
    corner = "expected/got"
    lines = [f"{corner:<{width}} " + " ".join(f"{s:>7}" for s in short)]
    for e in labels:
        lines.append(f"{e:<{width}} " + " ".join(f"{counts[(e, g)] or '.':>7}" for g in labels))
    return lines


def answer_report(rows: Sequence[Labelled], got: Sequence[str],
                  is_complaint: Callable[[Labelled], bool]) -> list[str]:
    """The answers measure as text lines (see the module docstring)."""
    expected = [r.expect for r in rows]
    lines = [f"answers: {accuracy(expected, got):.1%} of {len(rows)} messages answered as labelled"]
    lines += [f"  {s.label:<26} precision {s.precision:6.1%}  recall {s.recall:6.1%}  "
              f"(labelled {s.support}, given {s.predicted})" for s in scores(expected, got)]
    complaints = [(r, g) for r, g in zip(rows, got, strict=True) if is_complaint(r)]
    if complaints:
        to_person = sum(g == r.expect for r, g in complaints)
        lines.append(f"  complaints to a person: {to_person} of {len(complaints)} ({to_person / len(complaints):.1%})")
    for lang in sorted({r.lang for r in rows if r.lang}):
        mine = [(r.expect, g) for r, g in zip(rows, got, strict=True) if r.lang == lang]
        right = sum(e == g for e, g in mine)
        lines.append(f"  language {lang}: {right / len(mine):.1%} of {len(mine)}")
    fallbacks = Counter(got).most_common()
    lines.append("  given: " + ", ".join(f"{label} {n}" for label, n in fallbacks))
    return lines


def intent_report(rows: Sequence[Labelled], found: Iterable[str | None], known: Sequence[str]) -> list[str]:
    """The intents measure: labels outside ``known`` count as "none"."""
    expected = [r.intent if r.intent in known else NO_INTENT for r in rows]
    got = [f or NO_INTENT for f in found]
    lines = [f"intents: {accuracy(expected, got):.1%} of {len(rows)} messages given the labelled intent"]
    lines += [f"  {s.label:<14} precision {s.precision:6.1%}  recall {s.recall:6.1%}  "
              f"(labelled {s.support}, found {s.predicted})" for s in scores(expected, got)]
    lines += ["", *confusion(expected, got)]
    return lines


__all__ = ["NO_INTENT", "UNANSWERED", "Labelled", "Score", "accuracy", "answer_report", "answers",
           "confusion", "intent_report", "read_labelled", "scores"]
