"""Kill test: SIGKILL a running bot again and again, then check that nothing was lost or doubled.

    python benchmarks/killtest.py --kills 20 --events 5000 [--seed 1] [--keep DIR]

A real ``brandbot run`` process (feed network following a JSON-lines file, three YAML
rules that answer about 30% of the events, the loyalty plugin thanking milestones) is
kept under steady load by a writer appending events to its input, and killed with
SIGKILL at random (seeded) moments; it is restarted after every kill. When all input
is written, a last clean run (not following) reads the rest and exits. Then:

1. **No event lost, none counted twice.** Every input event is in ``processed`` and
   has exactly one IN interaction.
2. **No event answered twice,** except a reply that was being sent at a kill: its
   outbox row was committed as PENDING, so the restarted bot sends the same row again
   (same outbox id; printed as "in-flight resends"). Any other repeated answer is a
   *double answer*. To tell them apart without trusting ids, the database is read after
   every kill: a reply line is *recorded* if its outbox row (same id, same event) was
   committed when the process died. A reply that was written out but not recorded was
   sent before it was durable, and is reported too. Every event a rule or a milestone
   should answer was answered at least once, and every recorded reply was delivered.
3. **Loyalty totals match history:** each follower's points, tier and counters equal
   ``brandbot.core.loyalty.recompute`` over their IN interactions (plus admin/rule point
   adjustments), exactly like ``brandbot loyalty recompute``.
4. **Plugin data goes with its event:** a plugin keeps a tally of events per person in
   its own data (``ctx.data``); each equals that person's number of input events (more
   means a replayed event applied its plugin data twice). The plugin also keeps one tally
   over everybody; it is printed, not checked: events of different people run
   concurrently, and a read-modify-write of a shared key that spans an ``await`` can lose
   updates whether or not the bot crashes (a concurrency matter, not crash safety).

Exits 1 on any violation, after printing a summary with every number.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

#: Event kinds and their share of the load; rules answer some of the first four and all reposts.
KIND_WEIGHTS = {"direct": 30, "mention": 25, "reply": 10, "quote": 5, "repost": 10,
                "follow": 5, "reaction": 10, "message": 5}
ROOMS = ("lobby", "books", "tour", "news")
QUIET_TEXTS = ("nice weather today", "just browsing", "lovely cover", "see you", "ok", "reading now")

RULES_YAML = """\
rules:
  - name: hello
    kinds: [direct, mention]
    match: {any: [hello]}
    reply:
      - "Hi {{ name }}! Nice to hear from you."
      - "Hello again {{ name }}, you have {{ follower.points }} points."
  - name: price
    kinds: [reply, quote]
    match: {any: [price]}
    reply: "{{ name }}, the book costs 20 euros."
    actions: {points: 5, tag: [buyer]}
  - name: thanks-for-sharing
    kinds: [repost]
    reply:
      - "Thanks for sharing, {{ name }}!"
      - "{{ name }}, thank you for spreading the word."
"""

#: A plugin like many real ones: it looks something up elsewhere (a CRM, a shop API)
#: before the rules answer, so handling an event spans a few event-loop turns and
#: store commits instead of running in one go.
SLOW_PLUGIN = """\
import asyncio
import zlib

from brandbot import Context, Plugin

plugin = Plugin("lookup", description="kill test: awaits a (pretend) remote lookup on some events")


@plugin.watch()
async def remote_lookup(ctx: Context) -> None:
    # Tallies in the plugin's own data, as plugins keep (visits, entries ...): one per
    # person, and one over everybody (events of different people run concurrently).
    key = f"seen:{ctx.event.author.id}"
    ctx.data.set(key, await ctx.data.get(key, 0) + 1, follower_id=ctx.follower.id)
    ctx.data.set("total", await ctx.data.get("total", 0) + 1)
    if zlib.crc32(ctx.event.id.encode()) % 10 < 3:
        await asyncio.sleep(0.02)
"""


@dataclass(frozen=True)
class Settings:
    kills: int = 20
    events: int = 5000
    seed: int = 1
    min_up: float = 0.6  # seconds a run lives before its kill (startup included)
    max_up: float = 1.8
    rate: float = 0.0  # events/second written; 0 = spread the input over the kill phase
    final_timeout: float = 120.0
    slow_plugin: bool = True
    workdir: Path | None = None


@dataclass
class Summary:
    events: int = 0
    runs: int = 0
    kills: int = 0
    kills_mid_stream: int = 0  # kills while written input lay beyond the saved cursor
    processed: int = 0
    in_interactions: int = 0
    lost_events: list[str] = field(default_factory=list)
    double_counted: list[str] = field(default_factory=list)
    reply_lines: int = 0
    torn_lines: int = 0
    answered_events: int = 0
    expected_answered: int = 0
    unanswered: list[str] = field(default_factory=list)
    inflight_resends: int = 0
    double_answers: list[str] = field(default_factory=list)
    unrecorded_sends: list[str] = field(default_factory=list)
    undelivered: list[int] = field(default_factory=list)
    outbox_not_sent: dict[str, int] = field(default_factory=dict)
    followers: int = 0
    loyalty_mismatches: list[str] = field(default_factory=list)
    tallies_checked: int = 0
    tally_mismatches: list[str] = field(default_factory=list)
    shared_tally: tuple[int, int] = (0, 0)  # (counted, events): informational, see the docstring
    seconds: float = 0.0
    final_exit: int = 0
    workdir: str = ""

    def violations(self) -> list[str]:
        found = []
        if self.lost_events:
            found.append(f"{len(self.lost_events)} events never processed, e.g. {self.lost_events[:5]}")
        if self.double_counted:
            found.append(f"{len(self.double_counted)} events counted twice, e.g. {self.double_counted[:5]}")
        if self.double_answers:
            found.append(f"{len(self.double_answers)} events answered twice, e.g. {self.double_answers[:5]}")
        if self.unrecorded_sends:
            found.append(f"{len(self.unrecorded_sends)} replies sent before their outbox row was committed, "
                         f"e.g. {self.unrecorded_sends[:5]}")
        if self.unanswered:
            found.append(f"{len(self.unanswered)} events that should be answered never were, e.g. {self.unanswered[:5]}")
        if self.undelivered:
            found.append(f"{len(self.undelivered)} recorded replies never delivered, e.g. {self.undelivered[:5]}")
        if self.outbox_not_sent:
            found.append(f"outbox rows not SENT at the end: {self.outbox_not_sent}")
        if self.loyalty_mismatches:
            found.append(f"{len(self.loyalty_mismatches)} followers whose loyalty differs from their history, "
                         f"e.g. {self.loyalty_mismatches[:3]}")
        if self.tally_mismatches:
            found.append(f"{len(self.tally_mismatches)} plugin tallies differ from the events they count "
                         f"(plugin data written twice after a replay), e.g. {self.tally_mismatches[:3]}")
        if self.final_exit != 0:
            found.append(f"the final clean run exited with {self.final_exit}")
        return found

    def render(self) -> str:
        lines = [
            (f"kill test: {self.events} events, {self.kills} SIGKILLs, {self.runs} runs, "
             f"{self.seconds:.1f}s (work dir {self.workdir})"),
            f"  kills with input beyond the saved cursor: {self.kills_mid_stream}",
            f"  (1) processed events                 : {self.processed} of {self.events}",
            f"      IN interactions                  : {self.in_interactions}",
            f"      events lost                      : {len(self.lost_events)}",
            f"      events counted twice             : {len(self.double_counted)}",
            f"  (2) reply lines written              : {self.reply_lines} ({self.torn_lines} torn by a kill)",
            (f"      events answered                  : {self.answered_events} "
             f"(should be at least {self.expected_answered})"),
            f"      should be answered, never were   : {len(self.unanswered)}",
            f"      in-flight resends (same row)     : {self.inflight_resends}",
            f"      double answers                   : {len(self.double_answers)}",
            f"      sent before recorded             : {len(self.unrecorded_sends)}",
            f"      recorded but never delivered     : {len(self.undelivered)}",
            f"  (3) followers checked                : {self.followers}",
            f"      loyalty differs from history     : {len(self.loyalty_mismatches)}",
            f"  (4) plugin tallies checked           : {self.tallies_checked}",
            f"      tally differs from the events    : {len(self.tally_mismatches)}",
            (f"      shared tally (not checked)       : {self.shared_tally[0]} of {self.shared_tally[1]} "
             "events counted"),
        ]
        problems = self.violations()
        lines.append("RESULT: " + ("OK" if not problems else "FAILED"))
        lines += [f"  - {p}" for p in problems]
        return "\n".join(lines)


# -- the load -------------------------------------------------------------------------------
def generate_events(count: int, seed: int) -> tuple[list[dict[str, Any]], set[str]]:
    """The input events and the ids a rule must answer (given exactly-once handling)."""
    rng = random.Random(seed)
    authors = [f"u{i:04d}" for i in range(max(10, count // 25))]
    weights = [1.0 / (i + 1) ** 0.8 for i in range(len(authors))]  # a few very active people
    kinds, kind_weights = zip(*KIND_WEIGHTS.items())
    events: list[dict[str, Any]] = []
    answered: set[str] = set()
    for i in range(count):
        kind = rng.choices(kinds, kind_weights)[0]
        author = rng.choices(authors, weights)[0]
        event: dict[str, Any] = {"id": f"e{i:06d}", "kind": kind, "author": author, "name": author.upper()}
        if kind != "direct":
            event["conversation"] = rng.choice(ROOMS)
            event["private"] = False
        if kind in ("repost", "quote", "reply", "reaction"):
            event["refers_to"] = f"post{rng.randrange(5)}"
        text = rng.choice(QUIET_TEXTS)
        if kind in ("direct", "mention") and rng.random() < 0.3:
            text = f"hello {text}"
            answered.add(event["id"])
        elif kind in ("reply", "quote") and rng.random() < 0.3:
            text = f"what is the price? {text}"
            answered.add(event["id"])
        elif kind == "repost":
            text = ""
            answered.add(event["id"])
        event["text"] = text
        events.append(event)
    return events, answered


def write_config(folder: Path, follow: bool, slow_plugin: bool = True) -> Path:
    (folder / "rules.yaml").write_text(RULES_YAML, encoding="utf-8")
    (folder / "plugins").mkdir(exist_ok=True)
    (folder / "plugins" / "lookup.py").write_text(SLOW_PLUGIN, encoding="utf-8")
    config = {
        "brand": {"name": "Kill Test Press"},
        "storage": {"path": "bot.sqlite3"},
        "networks": {"feed": {"input": str(folder / "input.jsonl"), "output": str(folder / "replies.jsonl"),
                              "follow": follow, "batch": 50, "save_interval": 0.2, "poll": 0.02}},
        "rules": ["rules.yaml"],
        "plugin_dirs": [str(ROOT / "plugins"), str(folder / "plugins")],
        "plugins": {"loyalty": {}, **({"lookup": {}} if slow_plugin else {})},
        "loyalty": {"daily_cap": 200},
        # 24 people send 25 events each within seconds: the per-person limits would rightly
        # call that a flood; this test is about crashes, so they are off.
        "policy": {"per_person": None, "flood": None},
        "logging": {"level": "INFO"},
        "runtime": {"shutdown_grace": 30},
    }
    path = folder / ("follow.yaml" if follow else "final.yaml")
    path.write_text(json.dumps(config, indent=1), encoding="utf-8")  # JSON is YAML
    return path


class Writer(threading.Thread):
    """Appends the events to the input file at a steady rate, whole lines at a time."""

    def __init__(self, path: Path, events: list[dict[str, Any]], rate: float) -> None:
        super().__init__(name="killtest-writer", daemon=True)
        self.path, self.events, self.rate = path, events, rate
        self.written = 0
        self.done = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        with open(self.path, "a", encoding="utf-8") as f:
            while self.written < len(self.events):
                due = min(len(self.events), int((time.monotonic() - started) * self.rate) + 1)
                if due > self.written:
                    f.write("".join(json.dumps(e) + "\n" for e in self.events[self.written:due]))
                    f.flush()
                    self.written = due
                time.sleep(0.005)
        self.done.set()


# -- running the bot ----------------------------------------------------------------------
def bot_command(config: Path) -> list[str]:
    return [sys.executable, "-m", "brandbot.ops.cli", "-c", str(config), "run"]


def spawn(config: Path, log_path: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    with open(log_path, "wb") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(bot_command(config), cwd=config.parent, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, env=env)


@dataclass(frozen=True)
class Snapshot:
    """What the database held when a run ended: outbox rows and processed ids."""

    outbox: dict[int, tuple[str, str]]  # id -> (event_id, status)
    processed: frozenset[str]
    cursor_line: int
    output_size: int


def snapshot(folder: Path) -> Snapshot:
    db = folder / "bot.sqlite3"
    output = folder / "replies.jsonl"
    size = output.stat().st_size if output.exists() else 0
    if not db.exists():
        return Snapshot({}, frozenset(), 0, size)
    with sqlite3.connect(db) as conn:
        try:
            outbox = {row[0]: (row[1], row[2]) for row in conn.execute("SELECT id, event_id, status FROM outbox")}
            processed = frozenset(r[0] for r in conn.execute("SELECT event_id FROM processed"))
            cursor = conn.execute("SELECT value FROM cursors WHERE key LIKE 'feed:%'").fetchone()
        except sqlite3.OperationalError:  # killed before the first migration committed
            return Snapshot({}, frozenset(), 0, size)
    line = json.loads(cursor[0])["line"] if cursor else 0
    return Snapshot(outbox, processed, line, size)


# -- checking -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ReplyLine:
    outbox_id: int
    event_id: str
    run: int
    recorded: bool  # its outbox row was committed when the run ended


def read_replies(folder: Path, snapshots: list[Snapshot]) -> tuple[list[ReplyLine], int]:
    """Every reply line, with the run that wrote it and whether it was recorded by then."""
    data = (folder / "replies.jsonl").read_bytes() if (folder / "replies.jsonl").exists() else b""
    bounds = [s.output_size for s in snapshots]
    replies: list[ReplyLine] = []
    torn = 0
    offset = 0
    for raw in data.split(b"\n"):
        start, offset = offset, offset + len(raw) + 1
        if not raw:
            continue
        try:
            obj = json.loads(raw)
        except ValueError:
            torn += 1
            continue
        run = next((i for i, b in enumerate(bounds) if start < b), len(bounds) - 1)
        row = snapshots[run].outbox.get(obj["outbox_id"])
        recorded = row is not None and row[0] == obj["event_id"]
        replies.append(ReplyLine(obj["outbox_id"], obj["event_id"], run, recorded))
    return replies, torn


def root_event(event_id: str) -> str:
    """Milestone replies carry ``<event id>#m<n>``; they answer the event itself."""
    return event_id.split("#", 1)[0]


def check(folder: Path, events: list[dict[str, Any]], should_answer: set[str],
          snapshots: list[Snapshot], summary: Summary) -> None:
    from brandbot.core import loyalty
    from brandbot.core.config import load_config
    from brandbot.store.sqlite import _FOLLOWER_COLUMNS, _follower_from

    ids = [e["id"] for e in events]
    with sqlite3.connect(folder / "bot.sqlite3") as conn:
        processed = {r[0] for r in conn.execute("SELECT event_id FROM processed WHERE network = 'feed'")}
        ins = Counter(r[0] for r in conn.execute(
            "SELECT event_id FROM interactions WHERE direction = 'in' AND kind != 'points' AND event_id != ''"))
        statuses = Counter(r[0] for r in conn.execute("SELECT status FROM outbox"))
        final_rows = {r[0]: r[1] for r in conn.execute("SELECT id, event_id FROM outbox WHERE status = 'sent'")}
        followers = [_follower_from(r) for r in conn.execute(f"SELECT {_FOLLOWER_COLUMNS} FROM followers")]
        tallies = {key.removeprefix("seen:"): int(value) for key, value in conn.execute(
            "SELECT key, value FROM plugin_data WHERE namespace = 'plugin:lookup' "
            "AND (key LIKE 'seen:%' OR key = 'total')")}
        history: dict[int, list[tuple[str, str, Any]]] = defaultdict(list)
        bonus: Counter[int] = Counter()
        from brandbot.store.sqlite import _dt

        for fid, kind, network, when, points, source in conn.execute(
                "SELECT follower_id, kind, network, time, points, source FROM interactions "
                "WHERE direction = 'in' ORDER BY id"):
            if kind == "points":
                bonus[fid] += points
            elif source != loyalty.REPEAT_SHARE:  # a repeated share of a post: history, never counted
                history[fid].append((kind, network, _dt(when)))

    # (1) every event processed, exactly one IN interaction each
    summary.processed = len(processed & set(ids))
    summary.in_interactions = sum(ins[i] for i in ids)
    summary.lost_events = [i for i in ids if i not in processed or ins[i] == 0]
    summary.double_counted = [i for i in ids if ins[i] > 1]

    # (2) answers: duplicates classified, every expected answer present, every row delivered
    replies, summary.torn_lines = read_replies(folder, snapshots)
    summary.reply_lines = len(replies)
    by_event: dict[str, list[ReplyLine]] = defaultdict(list)
    for r in replies:
        by_event[r.event_id].append(r)
    for event_id, lines in by_event.items():
        recorded_ids: set[int] = set()
        for n, r in enumerate(lines):
            if r.outbox_id in recorded_ids:
                summary.inflight_resends += 1
            elif n > 0:
                summary.double_answers.append(event_id)
            if r.recorded:
                recorded_ids.add(r.outbox_id)
    summary.unrecorded_sends = sorted({f"{r.event_id}@{r.outbox_id}" for r in replies if not r.recorded})
    answered_roots = {root_event(r.event_id) for r in replies}
    summary.answered_events = len(answered_roots & set(ids))
    summary.expected_answered = len(should_answer)
    summary.unanswered = sorted(should_answer - answered_roots)
    delivered = {(r.outbox_id, r.event_id) for r in replies}
    summary.undelivered = sorted(i for i, e in final_rows.items() if (i, e) not in delivered)
    summary.outbox_not_sent = {s: n for s, n in statuses.items() if s != "sent"}

    # (3) loyalty equals a recomputation from history
    config = load_config(folder / "final.yaml").top.loyalty
    summary.followers = len(followers)
    for f in followers:
        fresh = loyalty.recompute(f, history[f.id], config)
        if bonus[f.id]:
            fresh = loyalty.adjust_points(fresh, bonus[f.id], config)
        fields = ("points", "tier", "interactions", "mentions", "replies", "reposts", "quotes", "points_today")
        diff = {k: (getattr(f, k), getattr(fresh, k)) for k in fields if getattr(f, k) != getattr(fresh, k)}
        if diff:
            summary.loyalty_mismatches.append(f"follower {f.id} ({f.name}): stored vs history {diff}")

    # (4) plugin data written while handling an event is committed with it (slow plugin only)
    if tallies:
        per_author = Counter(e["author"] for e in events)
        summary.shared_tally = (tallies.pop("total", 0), len(events))
        summary.tallies_checked = len(per_author)
        summary.tally_mismatches = [f"{a}: tally {tallies.get(a, 0)}, events {n}"
                                    for a, n in sorted(per_author.items()) if tallies.get(a, 0) != n]


def run(settings: Settings, out: Any = sys.stdout) -> Summary:
    started = time.monotonic()
    folder = settings.workdir or Path(tempfile.mkdtemp(prefix="brandbot-killtest-"))
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("input.jsonl", "replies.jsonl", "bot.sqlite3", "bot.sqlite3-wal", "bot.sqlite3-shm"):
        (folder / name).unlink(missing_ok=True)
    (folder / "input.jsonl").touch()
    summary = Summary(events=settings.events, workdir=str(folder))
    rng = random.Random(settings.seed)
    events, should_answer = generate_events(settings.events, settings.seed)
    follow = write_config(folder, True, settings.slow_plugin)
    final = write_config(folder, False, settings.slow_plugin)
    mean_up = (settings.min_up + settings.max_up) / 2
    rate = settings.rate or settings.events / max(1.0, settings.kills * (mean_up + 0.1))
    writer = Writer(folder / "input.jsonl", events, rate)
    writer.start()
    snapshots: list[Snapshot] = []
    for k in range(settings.kills):
        proc = spawn(follow, folder / f"run{k:02d}.log")
        time.sleep(rng.uniform(settings.min_up, settings.max_up))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        snap = snapshot(folder)
        snapshots.append(snap)
        summary.runs += 1
        summary.kills += 1
        summary.kills_mid_stream += writer.written > snap.cursor_line
        print(f"kill {k + 1:2d}/{settings.kills}: {writer.written} events written, cursor at line "
              f"{snap.cursor_line}, {len(snap.processed)} processed, {len(snap.outbox)} outbox rows", file=out)
    writer.done.wait()
    writer.join()
    proc = spawn(final, folder / "final.log")
    try:
        summary.final_exit = proc.wait(settings.final_timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        summary.final_exit = -9
    summary.runs += 1
    snapshots.append(snapshot(folder))
    check(folder, events, should_answer, snapshots, summary)
    summary.seconds = time.monotonic() - started
    if settings.workdir is None and not summary.violations():
        shutil.rmtree(folder, ignore_errors=True)  # kept (and named in the summary) when something failed
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--min-up", type=float, default=0.6, help="shortest life of a run before its kill (s)")
    parser.add_argument("--max-up", type=float, default=1.8, help="longest life of a run before its kill (s)")
    parser.add_argument("--rate", type=float, default=0.0, help="events/s written (default: spread over the kills)")
    parser.add_argument("--no-slow-plugin", action="store_true",
                        help="leave out the plugin that awaits a pretend remote lookup on 30%% of events")
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    args = parser.parse_args(argv)
    settings = Settings(kills=args.kills, events=args.events, seed=args.seed, min_up=args.min_up,
                        max_up=args.max_up, rate=args.rate, slow_plugin=not args.no_slow_plugin,
                        workdir=args.keep)
    summary = run(settings)
    print(summary.render())
    return 1 if summary.violations() else 0


if __name__ == "__main__":
    sys.exit(main())
