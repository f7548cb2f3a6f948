"""``brandbot bench``: the standard workload, run through the real Bot, measured.

What runs (all in this one process, on the real code path):

- a rules file of N generated YAML rules (keyword ``any``/``all``, ``phrase``, ``regex``,
  follower conditions, cooldowns, templates with follower variables), loaded by the real
  ``RuleBook``; rule ``i`` is the same whatever N is, so 10 and 1,000 rules are the same
  kind of rule book, only bigger;
- 10 watcher plugins built in code with :class:`brandbot.Plugin` (counting, tagging,
  small regex work); loyalty scoring is part of the core and always runs;
- F followers and E events of mixed kinds, drawn from a seeded generator so that about
  30% of the events are answered by some rule;
- the real ``SqliteStore`` on a temporary file (``commit_delay`` 0.05 s) and an in-memory
  network whose ``send`` is timestamped.

Events go in through ``bot.submit`` on a started bot (lanes, back-pressure and the
outbox all run), exactly as a network adapter delivers them.

Measured: events/s at max rate, event-to-send latency at half that rate, event-to-commit
delay (sampled), RSS, the 1,000/10-rule throughput ratio and start-up time with 1,000
rules; ``--soak`` runs 1M events and watches RSS; ``--profile`` adds a cProfile'd run.
See ``benchmarks/README.md`` for how each figure is taken and what it does not include.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import io
import json
import logging
import os
import platform
import pstats
import random
import re
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
from array import array
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import yaml

from brandbot.core.config import load_config
from brandbot.core.events import Conversation, Event, Kind, Outgoing, Person
from brandbot.core.plugin import LoadedPlugin, NoConfig, Plugin
from brandbot.core.rules import RuleBook
from brandbot.core.templates import TemplateEngine
from brandbot.core.yamlfile import load_yaml
from brandbot.networks.base import Sent
from brandbot.networks.memory import MemoryNetwork
from brandbot.runtime.bot import Bot, Handled
from brandbot.runtime.context import Context

NETWORK = "memory"
COMMIT_DELAY = 0.05
BRAND = {"name": "Bench Brand", "url": "https://bench.example"}


# -- options and targets ---------------------------------------------------------------------


@dataclass(frozen=True)
class BenchOptions:
    """Sizes and switches of one benchmark session."""

    rules: int = 100
    followers: int = 100_000
    events: int = 200_000
    seed: int = 1
    compare_rules: tuple[int, int] = (10, 1000)
    startup_rules: int = 1000
    paced_events: int = 0  # 0: same as events
    probe_every: int = 1000  # every n-th event's commit is watched from a second connection
    hit_ratio: float = 0.6  # share of text-bearing events whose text contains some rule's words
    soak: bool = False
    soak_events: int = 1_000_000
    soak_samples: int = 20
    profile: Path | None = None
    json_path: Path | None = None
    progress: bool = True
    workdir: Path | None = None

    @property
    def paced_count(self) -> int:
        return self.paced_events or self.events

    @classmethod
    def quick(cls, **overrides: Any) -> BenchOptions:
        """A smoke-sized session: seconds, not minutes; the figures only show it works."""
        base = cls(followers=2_000, events=6_000, paced_events=3_000, probe_every=100,
                   soak_events=40_000, compare_rules=(10, 1000))
        return replace(base, **overrides)


@dataclass(frozen=True)
class Target:
    name: str
    key: str  # where the figure is in the summary: "section.field"
    limit: float
    higher_is_better: bool
    unit: str

    def judge(self, value: float | None) -> str:
        if value is None:
            return "n/a"
        ok = value >= self.limit if self.higher_is_better else value <= self.limit
        return "pass" if ok else "MISS"

    def describe(self) -> str:
        return f"{'>=' if self.higher_is_better else '<='} {self.limit:g} {self.unit}".strip()


TARGETS = (
    Target("max throughput", "max_rate.events_per_s", 15_000, True, "events/s"),
    Target("1000-rule / 10-rule throughput", "rules_scaling.ratio", 0.8, True, ""),
    Target("p99 event-to-send at half max rate", "paced.send_latency_ms.p99", 5.0, False, "ms"),
    Target("p99 arrival-to-commit at half max rate", "paced.commit.arrival_to_commit_ms.p99", 50.0, False, "ms"),
    Target("start-up with 1000 rules, empty database", "startup.empty_db_s", 1.0, False, "s"),
    Target("start-up with 1000 rules, populated database", "startup.populated_db_s", 1.0, False, "s"),
    Target("RSS after soak (1M events, 100k followers)", "soak.final_rss_mb", 100.0, False, "MB"),
    Target("RSS growth after warm-up (soak)", "soak.growth_after_warmup_pct", 10.0, False, "%"),
)


# -- the vocabulary ----------------------------------------------------------------------------

# Consonant-vowel-consonant syllables: three of them make words like "kavmirtos" that no
# English filler word can equal, so only texts built to hit a rule can hit it.
_SYLLABLES = (
    "kav", "mir", "tos", "bel", "dun", "fap", "gor", "hil", "jek", "lum", "nax", "pod",
    "ruv", "sel", "tig", "vom", "wex", "yul", "zab", "cop", "dif", "gam", "hus", "kel",
)
FILLER = (
    "the", "a", "and", "i", "you", "we", "is", "it", "so", "just", "really", "love", "this",
    "book", "today", "new", "great", "thanks", "for", "my", "your", "was", "are", "what",
    "when", "how", "about", "can", "do", "got", "have", "read", "reading", "chapter", "cover",
    "story", "author", "shop", "week", "still", "more", "very", "good", "bad", "wow", "lol",
    "please", "again", "friend", "night", "morning", "coffee", "finally", "next", "there",
    "that", "with", "not", "of", "to", "in", "on", "at", "be", "all", "one", "time", "like",
)
POSITIVE = frozenset({"love", "great", "thanks", "good", "wow", "finally"})
NEGATIVE = frozenset({"bad", "not", "still"})
HASHTAGS = ("#booktour", "#newrelease", "#giveaway", "#amreading", "#launch", "#preorder")
CAMPAIGN = frozenset({"giveaway", "launch", "preorder"})
EXTRAS = ("!", "?", "...", "❤️", "😂", "🔥", "https://bench.example/p/481")
FIRST_NAMES = ("Ana", "Bruno", "Chloé", "Dmitri", "Eun-ji", "Farah", "Gustavo", "Hana", "Inès",
               "Jonas", "Kofi", "Léa", "Mateo", "Nora", "Olu", "Priya", "Quinn", "Rafael",
               "Sofia", "Tariq", "Ulla", "Víctor", "Wen", "Yara", "Zoë")
LAST_NAMES = ("Silva", "Okafor", "Müller", "Kim", "Nowak", "García", "Haddad", "Sato",
              "Larsen", "Rossi", "Dubois", "Ivanova", "Chen", "Mensah", "Ortiz")


def word(k: int, seed: int) -> str:
    """The k-th rule word for this seed: distinct for distinct k, never an English word."""
    order = list(_SYLLABLES)
    random.Random(seed).shuffle(order)
    digits = []
    n = k
    for _ in range(3):
        n, d = divmod(n, len(order))
        digits.append(order[d])
    while n:
        n, d = divmod(n, len(order))
        digits.append(order[d])
    return "".join(digits)


# -- the rules ---------------------------------------------------------------------------------

_KIND_SETS: tuple[tuple[str, ...] | None, ...] = (
    None,  # the default kinds: mention, direct, reply, quote, command
    ("mention", "direct"),
    ("mention", "direct", "reply"),
    ("direct", "reply", "quote"),
    ("mention", "reply", "quote"),
)
_CONDITIONS: tuple[dict[str, Any], ...] = (
    {"first_contact": False},
    {"interactions_at_least": 2},
    {"points_at_least": 3},
    {"tier": ["Reader", "Regular"]},
    {"not_tags": ["muted"]},
)
_TEMPLATES = (
    "Hi {{ name }}! Thanks for asking about %(w)s. You have {{ follower.points }} points.",
    "{{ name | first_name }}, all about %(w)s is here: {{ brand.url }}/%(w)s",
    "Thanks {{ name }}! That's your {{ follower.interactions | ordinal }} message; you're a {{ follower.tier }} member.",
    "Hello {{ name }} ({{ follower.tier }}, {{ follower.points }} points): %(w)s news soon!",
)


@dataclass(frozen=True)
class RulePlan:
    """One generated rule: its YAML form and how to write a text that it matches."""

    index: int
    shape: str  # any | any-not | all | phrase | regex | regex-alt
    words: tuple[str, ...]
    kinds: tuple[str, ...] | None
    when: dict[str, Any] | None
    variants: tuple[str, ...]
    priority: int
    cooldown: str | None

    @property
    def name(self) -> str:
        return f"r{self.index:04d}-{self.shape}"

    def to_yaml(self) -> dict[str, Any]:
        w = self.words
        match: dict[str, Any]
        if self.shape == "any":
            match = {"any": list(w[:3])}
        elif self.shape == "any-not":
            match = {"any": list(w[:2]), "not": [w[3]]}
        elif self.shape == "all":
            match = {"all": list(w[:2])}
        elif self.shape == "phrase":
            match = {"phrase": f"{w[0]} {w[1]}"}
        elif self.shape == "regex":
            match = {"regex": rf"{w[0]}[-\s]?#?\d{{3,6}}"}
        else:  # regex-alt: no literal every match must contain, so it is tested on every text
            match = {"regex": rf"(?:{w[0]}|{w[1]})\s+(?:now|asap)\b"}
        data: dict[str, Any] = {"name": self.name}
        if self.kinds is not None:
            data["kinds"] = list(self.kinds)
        data["priority"] = self.priority
        data["match"] = match
        if self.when is not None:
            data["when"] = dict(self.when)
        data["reply"] = self.variants[0] if len(self.variants) == 1 else list(self.variants)
        if self.cooldown is not None:
            data["cooldown"] = {"person": self.cooldown}
        return data

    def trigger(self, rng: random.Random) -> list[str]:
        """Words (or one multi-word piece) that, put in a text, make this rule match."""
        w = self.words
        if self.shape in ("any", "any-not"):
            return [rng.choice(w[:3] if self.shape == "any" else w[:2])]
        if self.shape == "all":
            return [w[0], w[1]]
        if self.shape == "phrase":
            return [f"{w[0]} {w[1]}"]
        if self.shape == "regex":
            return [f"{w[0]}-{rng.randint(100, 999_999)}"]
        return [f"{rng.choice(w[:2])} {rng.choice(('now', 'asap'))}"]


def plan_rule(index: int, seed: int) -> RulePlan:
    """Rule ``index`` of the generated rule book (independent of how many rules there are)."""
    rng = random.Random(seed * 1_000_003 + index)
    slot = index % 20
    shape = ("any" if slot < 7 else "any-not" if slot == 7 else "all" if slot < 12
             else "phrase" if slot < 16 else "regex" if slot < 19 else "regex-alt")
    words = tuple(word(index * 4 + j, seed) for j in range(4))
    variants = tuple(_TEMPLATES[(index + j) % len(_TEMPLATES)] % {"w": words[0]}
                     for j in range(2 if index % 4 == 0 else 1))
    return RulePlan(
        index=index,
        shape=shape,
        words=words,
        kinds=_KIND_SETS[index % len(_KIND_SETS)],
        when=_CONDITIONS[(index // 3) % len(_CONDITIONS)] if index % 3 == 1 else None,
        variants=variants,
        priority=rng.randint(0, 50),
        cooldown="1m" if index % 7 == 3 else None,
    )


def plan_rules(count: int, seed: int) -> list[RulePlan]:
    return [plan_rule(i, seed) for i in range(count)]


def write_rules(path: Path, plans: Sequence[RulePlan]) -> Path:
    data = {"rules": [p.to_yaml() for p in plans]}
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


# -- the events --------------------------------------------------------------------------------

# (kind, weight, has text)
_KIND_MIX: tuple[tuple[Kind, int], ...] = (
    (Kind.MENTION, 30), (Kind.DIRECT, 20), (Kind.REPLY, 20), (Kind.QUOTE, 5),
    (Kind.REPOST, 10), (Kind.REACTION, 10), (Kind.FOLLOW, 3), (Kind.JOIN, 2),
)
_TEXT_KINDS = frozenset({Kind.MENTION, Kind.DIRECT, Kind.REPLY, Kind.QUOTE})
_THREADS = 2000
_BRAND_POSTS = 100


class EventStream:
    """Deterministic events: who, what kind, which conversation, which text.

    Texts come from a pre-built pool (a fraction ``hit_ratio`` built to match one random
    rule, the rest filler words, hashtags, emoji and links), so producing an event costs
    a few random draws and the Event construction a network adapter would do anyway.
    Every one of the F followers appears (when E >= F): new people arrive spread evenly
    over the run, the rest of the events come from people already seen, a few of them
    (the fans) much more often than the others.
    """

    def __init__(self, plans: Sequence[RulePlan], followers: int, seed: int, *,
                 hit_ratio: float = 0.6, pool_size: int = 4096, prefix: str = "e") -> None:
        self.followers = max(1, followers)
        self.seed = seed
        self.prefix = prefix
        rng = random.Random(seed ^ 0x5EED)
        self.texts: list[str] = []
        self.hits = 0
        for _ in range(pool_size):
            plan = rng.choice(plans) if plans and rng.random() < hit_ratio else None
            self.hits += plan is not None
            self.texts.append(_sentence(rng, plan.trigger(rng) if plan else []))
        kinds, weights = zip(*_KIND_MIX)
        self._kinds = rng.choices(kinds, weights, k=997)  # a prime-length cycle of kinds
        self.first_contacts = 0

    def mix(self, count: int) -> dict[str, Any]:
        """What ``count`` events were made of: new vs returning people, and kinds."""
        kinds = Counter(self._kinds[i % len(self._kinds)].value for i in range(count))
        return {
            "first_contacts": self.first_contacts,
            "returning": count - self.first_contacts,
            "first_contact_pct": round(100 * self.first_contacts / max(1, count), 1),
            "kinds_pct": {k: round(100 * n / max(1, count), 1) for k, n in kinds.most_common()},
            "text_built_to_hit_a_rule_pct": round(100 * self.hits / max(1, len(self.texts)), 1),
        }

    def events(self, count: int) -> Iterator[Event]:
        """``count`` events; afterwards ``first_contacts`` says how many came from new people."""
        rng = random.Random(self.seed)
        self.first_contacts = 0
        f = self.followers
        # An int array, not a list: 0.8 MB instead of 3.6 MB for 100,000 followers, which
        # the soak would otherwise count as the bot's memory. Shuffled the same way.
        order = array("l", range(1, f + 1))
        rng.shuffle(order)
        fans = max(1, f // 100)  # the first people to arrive are the most active
        seen = 0
        texts, kinds = self.texts, self._kinds
        for i in range(count):
            if seen < f and rng.random() * (count - i) < f - seen:
                who = order[seen]
                seen += 1
                self.first_contacts += 1
            elif seen == 0:
                who = order[0]
                seen = 1
                self.first_contacts += 1
            elif rng.random() < 0.3:
                who = order[rng.randrange(min(seen, fans))]
            else:
                who = order[rng.randrange(seen)]
            kind = kinds[i % len(kinds)]
            yield self._event(i, who, kind, texts[rng.randrange(len(texts))], rng)

    def _event(self, i: int, who: int, kind: Kind, text: str, rng: random.Random) -> Event:
        author = Person(NETWORK, f"u{who}", handle=f"user{who}",
                        name=f"{FIRST_NAMES[who % 25]} {LAST_NAMES[who % 15]}")
        post = f"brand-post-{rng.randrange(_BRAND_POSTS)}"
        if kind is Kind.DIRECT:
            conversation = Conversation(NETWORK, f"dm:u{who}", private=True)
        elif kind in _TEXT_KINDS:
            conversation = Conversation(NETWORK, f"thread:{rng.randrange(_THREADS)}")
        elif kind in (Kind.REPOST, Kind.REACTION):
            conversation = Conversation(NETWORK, post)
        else:
            conversation = Conversation(NETWORK, "profile" if kind is Kind.FOLLOW else "group")
        return Event(
            kind=kind, network=NETWORK, id=f"{self.prefix}{i}", author=author,
            conversation=conversation, text=text if kind in _TEXT_KINDS else "",
            time=datetime.now(UTC), post_id=f"{self.prefix}p{i}",
            refers_to=post if kind in (Kind.REPLY, Kind.QUOTE, Kind.REPOST, Kind.REACTION) else None,
            addressed=kind in _TEXT_KINDS,
        )


def _sentence(rng: random.Random, pieces: list[str]) -> str:
    out = [rng.choice(FILLER) for _ in range(rng.randint(5, 18))]
    if rng.random() < 0.3:
        out.append(rng.choice(HASHTAGS))
    if rng.random() < 0.25:
        out.append(rng.choice(EXTRAS))
    for piece in pieces:
        out.insert(rng.randrange(len(out) + 1), piece.upper() if rng.random() < 0.1 else piece)
    out[0] = out[0].capitalize()
    return " ".join(out)


# -- the watcher plugins -----------------------------------------------------------------------


@dataclass
class Tally:
    """What the watchers counted: kept in memory, as analytics plugins do."""

    kinds: Counter[str] = field(default_factory=Counter)
    hashtags: Counter[str] = field(default_factory=Counter)
    mood: Counter[str] = field(default_factory=Counter)
    newcomers: int = 0
    hours: Counter[int] = field(default_factory=Counter)
    threads: Counter[str] = field(default_factory=Counter)
    amplified: Counter[str] = field(default_factory=Counter)
    campaign: Counter[str] = field(default_factory=Counter)
    links: int = 0
    tagged: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, int]:
        return {
            "kinds": sum(self.kinds.values()), "hashtags": sum(self.hashtags.values()),
            "positive": self.mood["positive"], "negative": self.mood["negative"],
            "newcomers": self.newcomers, "threads": len(self.threads),
            "amplified": sum(self.amplified.values()), "campaign": sum(self.campaign.values()),
            "links": self.links, "tagged_fan": self.tagged["fan"], "tagged_vip": self.tagged["vip"],
        }


_URL = re.compile(r"https?://\S+")


def build_watchers(tally: Tally) -> list[Plugin]:
    """Ten watcher plugins doing the small, realistic work analytics and tagging do."""
    plugins: list[Plugin] = []

    def plugin(name: str) -> Plugin:
        p = Plugin(f"bench-{name}")
        plugins.append(p)
        return p

    kinds = plugin("kinds")

    @kinds.watch()
    async def count_kind(ctx: Context) -> None:
        tally.kinds[ctx.event.kind.value] += 1

    hashtags = plugin("hashtags")

    @hashtags.watch("mention", "direct", "reply", "quote")
    async def count_hashtags(ctx: Context) -> None:
        for token in ctx.event.text.split():
            if token.startswith("#"):
                tally.hashtags[token.lower()] += 1

    mood = plugin("mood")

    @mood.watch("mention", "direct", "reply", "quote")
    async def score_mood(ctx: Context) -> None:
        words = ctx.event.text.lower().split()
        score = sum(w in POSITIVE for w in words) - sum(w in NEGATIVE for w in words)
        if score > 0:
            tally.mood["positive"] += 1
            if score >= 3 and ctx.follower.interactions >= 3 and "fan" not in ctx.follower.tags:
                await ctx.tag("fan")
                tally.tagged["fan"] += 1
        elif score < 0:
            tally.mood["negative"] += 1

    newcomers = plugin("newcomers")

    @newcomers.watch()
    async def count_newcomer(ctx: Context) -> None:
        if ctx.first_contact:
            tally.newcomers += 1

    hours = plugin("hours")

    @hours.watch()
    async def count_hour(ctx: Context) -> None:
        tally.hours[ctx.event.time.hour] += 1

    threads = plugin("threads")

    @threads.watch(when=lambda e: not e.conversation.private)
    async def count_thread(ctx: Context) -> None:
        tally.threads[ctx.event.conversation.id] += 1

    amplify = plugin("amplify")

    @amplify.watch("repost", "quote")
    async def count_share(ctx: Context) -> None:
        tally.amplified[ctx.event.refers_to or ""] += 1

    campaign = plugin("campaign")

    @campaign.watch("mention", "direct", "reply", "quote")
    async def count_campaign(ctx: Context) -> None:
        text = ctx.event.text.lower()
        for keyword in CAMPAIGN:
            if keyword in text:
                tally.campaign[keyword] += 1

    links = plugin("links")

    @links.watch("mention", "direct", "reply", "quote")
    async def count_links(ctx: Context) -> None:
        if _URL.search(ctx.event.text):
            tally.links += 1

    vip = plugin("vip")

    @vip.watch()
    async def tag_vip(ctx: Context) -> None:
        if ctx.follower.points >= 60 and "vip" not in ctx.follower.tags:
            await ctx.tag("vip")
            tally.tagged["vip"] += 1

    return plugins


# -- instruments -------------------------------------------------------------------------------


class TimedNetwork(MemoryNetwork):
    """The in-memory network, timestamping each send by the event that caused it.

    It keeps no list of sent replies (the plain MemoryNetwork does, for tests), so that
    RSS measures the bot and not the benchmark's bookkeeping.
    """

    def __init__(self, record: bool = True) -> None:
        super().__init__(name=NETWORK)
        self.record = record
        self.sent_at: dict[str, float] = {}
        self.sends = 0

    async def send(self, message: Outgoing) -> Sent:
        at = time.perf_counter()
        sent = await super().send(message)
        self.sent.clear()
        self.outgoing.clear()
        self.sends += 1
        event_id = message.reply.event_id
        if self.record and event_id and event_id not in self.sent_at:
            self.sent_at[event_id] = at
        return sent


class HandledProbe:
    """Plugged in as ``bot.handled`` (the bot's own trace hook): when each event finished."""

    def __init__(self, record_all: bool, sampled: set[str]) -> None:
        self.record_all = record_all
        self.sampled = sampled
        self.at: dict[str, float] = {}

    def append(self, result: Handled) -> None:
        event_id = result.event.id
        if self.record_all or event_id in self.sampled:
            self.at[event_id] = time.perf_counter()


class CommitProbe:
    """When did sampled events become visible in the database, from a second connection?

    The bot marks an event processed as the last write of its handling, after its
    interaction row, so the processed row being visible means the interaction is
    committed too (same batch or an earlier one). While samples are outstanding, one
    indexed query every ``interval`` seconds asks for them; the time recorded is when the
    query saw the row, so each figure is an upper bound, late by at most about
    ``interval`` plus event-loop lag.
    """

    def __init__(self, db_path: Path, interval: float = 0.002) -> None:
        self.interval = interval
        self._db_path = db_path
        self._conn: sqlite3.Connection | None = None
        self.outstanding: set[str] = set()
        self.submitted: dict[str, float] = {}
        self.visible: dict[str, float] = {}
        self.polls = 0
        self._task: asyncio.Task[None] | None = None

    def watch(self, event_id: str, at: float) -> None:
        self.submitted[event_id] = at
        self.outstanding.add(event_id)

    def start(self) -> None:
        self._conn = sqlite3.connect(str(self._db_path), isolation_level=None, check_same_thread=False)
        self._task = asyncio.get_running_loop().create_task(self._poll_loop())

    async def stop(self, timeout: float = 2.0) -> None:
        deadline = time.perf_counter() + timeout
        while self.outstanding and time.perf_counter() < deadline:
            await asyncio.sleep(self.interval)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._conn is not None:
            self._conn.close()

    def _poll(self) -> None:
        assert self._conn is not None
        ids = list(self.outstanding)
        self.polls += 1
        rows = self._conn.execute(
            f"SELECT event_id FROM processed WHERE network = ? AND event_id IN ({','.join('?' * len(ids))})",
            (NETWORK, *ids),
        ).fetchall()
        now = time.perf_counter()
        for (event_id,) in rows:
            self.visible[event_id] = now
            self.outstanding.discard(event_id)

    async def _poll_loop(self) -> None:
        while True:
            if self.outstanding:
                self._poll()
            await asyncio.sleep(self.interval)


class GcMeter:
    """Garbage-collector pauses while installed (``gc.callbacks``): the loop stands still then."""

    def __init__(self) -> None:
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.setdefault(info["generation"], []).append(time.perf_counter() - self._started)

    def start(self) -> None:
        gc.callbacks.append(self._callback)

    def stop(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {f"gen{g}": {"collections": len(p), "total_ms": round(sum(p) * 1000, 1),
                                           "max_ms": round(max(p, default=0.0) * 1000, 2)}
                               for g, p in sorted(self.pauses.items())}
        out["total_ms"] = round(sum(sum(p) for p in self.pauses.values()) * 1000, 1)
        return out


class LoopLag:
    """How late a 1 ms ticker wakes up: how long the event loop is kept from other work."""

    def __init__(self, tick: float = 0.001) -> None:
        self.tick = tick
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.tick)
            self.lags.append(max(0.0, time.perf_counter() - before - self.tick))


def rss_mb() -> float:
    """Resident set size now (VmRSS), in MB."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return peak_rss_mb()


def peak_rss_mb() -> float:
    """The process's peak resident set size so far (ru_maxrss), in MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of unsorted values (0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-pct * len(ordered) // 100))))
    return ordered[rank - 1]


def spread_ms(seconds: Sequence[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {"count": len(ms), "p50": round(percentile(ms, 50), 3), "p99": round(percentile(ms, 99), 3),
            "max": round(max(ms, default=0.0), 3)}


class Progress:
    """A one-line progress bar on stderr, redrawn at most five times a second."""

    def __init__(self, label: str, total: int, enabled: bool, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = max(1, total)
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self._start = time.perf_counter()
        self._last = 0.0

    def update(self, done: int, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self._last < 0.2:
            return
        self._last = now
        frac = min(1.0, done / self.total)
        bar = "#" * int(frac * 30)
        rate = done / max(1e-9, now - self._start)
        self.stream.write(f"\r{self.label:<22} [{bar:<30}] {frac:6.1%} {done:>10,}/{self.total:,} {rate:>10,.0f}/s")
        self.stream.flush()

    def close(self, done: int) -> None:
        if self.enabled:
            self.update(done, force=True)
            self.stream.write("\n")
            self.stream.flush()


# -- one bot on the benchmark workload -----------------------------------------------------------


@dataclass
class BenchBot:
    bot: Bot
    network: TimedNetwork
    tally: Tally
    db_path: Path
    startup_s: float
    phases: dict[str, float]


def write_config(folder: Path, rules_file: Path) -> Path:
    config = {
        "brand": BRAND,
        "storage": {"path": "bench.sqlite3", "commit_delay": COMMIT_DELAY},
        "networks": {NETWORK: {}},
        "rules": [rules_file.name],
        "plugin_dirs": [],
        "staff": {"network": NETWORK, "conversation": "staff"},
    }
    path = folder / "brandbot.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


async def start_bot(folder: Path, plans: Sequence[RulePlan], *, record_sends: bool = True,
                    rules_file: Path | None = None) -> BenchBot:
    """Write the config (and rules unless given), then time construction + start."""
    folder.mkdir(parents=True, exist_ok=True)
    if rules_file is None:
        rules_file = write_rules(folder / "rules.yaml", plans)
    elif rules_file.parent != folder:
        shutil.copy(rules_file, folder / rules_file.name)
    config_path = write_config(folder, rules_file)
    tally = Tally()
    loaded = [LoadedPlugin(p, NoConfig(), "bench") for p in build_watchers(tally)]
    network = TimedNetwork(record=record_sends)
    t0 = time.perf_counter()
    config = load_config(config_path)
    t1 = time.perf_counter()
    bot = Bot(config, networks={NETWORK: network}, plugins=loaded)
    t2 = time.perf_counter()
    await bot.start()
    t3 = time.perf_counter()
    phases = {"load_config_s": t1 - t0, "construct_s": t2 - t1, "start_s": t3 - t2}
    return BenchBot(bot, network, tally, Path(config.storage_path), t3 - t0, phases)


async def drive(bench: BenchBot, stream: EventStream, count: int, *, label: str, progress: bool,
                rate: float | None = None, probe_every: int = 0, record_all: bool = False,
                rss_every: int = 0) -> dict[str, Any]:
    """Submit ``count`` events (as fast as possible, or at ``rate``/s) and wait until done.

    Done means: every event handled, every reply sent, and the store flushed.
    """
    bot = bench.bot
    submitted: dict[str, float] = {}
    scheduled: dict[str, float] = {}
    probe = CommitProbe(bench.db_path) if probe_every else None
    sampled: set[str] = set()
    handled = HandledProbe(record_all, sampled)
    bot.intake.handled = handled  # type: ignore[assignment]  # duck-typed: only .append is used
    rss_samples: list[tuple[int, float]] = []
    bar = Progress(label, count, progress)
    lag = LoopLag()
    gc_meter = GcMeter()
    interval = 1.0 / rate if rate else 0.0
    if probe is not None:
        probe.start()
    lag.start()
    gc_meter.start()
    try:
        t0 = time.perf_counter()
        cpu0, loop_cpu0 = time.process_time(), time.thread_time()  # drive runs on the loop's thread
        for i, event in enumerate(stream.events(count)):
            if rate:
                due = t0 + i * interval
                now = time.perf_counter()
                if due > now:
                    await asyncio.sleep(due - now)
                scheduled[event.id] = due
            at = time.perf_counter()
            if record_all:
                submitted[event.id] = at
            if probe is not None and i % probe_every == 0:
                sampled.add(event.id)
                probe.watch(event.id, at)
            await bot.submit(event)
            if i & 1023 == 0:
                bar.update(i)
            if rss_every and (i + 1) % rss_every == 0:
                rss_samples.append((i + 1, rss_mb()))
        t_submitted = time.perf_counter()
        await bot.intake.settled()
        t_handled = time.perf_counter()
        await bot.outbox.drain()
        await bot.store.flush()
        t_done = time.perf_counter()
        cpu, loop_cpu = time.process_time() - cpu0, time.thread_time() - loop_cpu0
    finally:
        gc_meter.stop()
        await lag.stop()
        if probe is not None:
            await probe.stop()
        bar.close(count)
    bot.intake.handled = None
    result: dict[str, Any] = {
        "events": count,
        "seconds": round(t_done - t0, 3),
        "events_per_s": round(count / max(1e-9, t_done - t0)),
        "submit_s": round(t_submitted - t0, 3),
        "handled_s": round(t_handled - t0, 3),
        "handled_events_per_s": round(count / max(1e-9, t_handled - t0)),
        "drain_after_handled_s": round(t_done - t_handled, 3),
        # CPU time is less disturbed than the rate by other work on the machine: the
        # loop's thread bounds the rate, the process adds the store's writer thread.
        "loop_cpu_us_per_event": round(1e6 * loop_cpu / max(1, count), 1),
        "cpu_us_per_event": round(1e6 * cpu / max(1, count), 1),
        "mix": stream.mix(count),
        "replies_sent": bench.network.sends,
        "answered_pct": round(100 * len(bench.network.sent_at) / max(1, count), 1)
        if bench.network.record else None,
        "bot_stats": dict(bot.stats),
        "rss_mb": round(rss_mb(), 1),
        "loop_lag_ms": spread_ms(lag.lags),
        "gc_pauses": gc_meter.summary(),
    }
    if rss_samples:
        result["rss_samples"] = [(n, round(mb, 1)) for n, mb in rss_samples]
    if probe is not None:
        arrive = [probe.visible[e] - probe.submitted[e] for e in probe.visible]
        after_handled = [probe.visible[e] - handled.at[e] for e in probe.visible if e in handled.at]
        result["commit"] = {
            "sampled": len(probe.submitted), "seen": len(probe.visible),
            "poll_interval_ms": probe.interval * 1000, "polls": probe.polls,
            "arrival_to_commit_ms": spread_ms(arrive),
            "handled_to_commit_ms": spread_ms(after_handled),
        }
    if record_all:
        sent_at = bench.network.sent_at
        result["send_latency_ms"] = spread_ms([sent_at[e] - submitted[e] for e in sent_at if e in submitted])
        if scheduled:
            result["send_latency_from_schedule_ms"] = spread_ms(
                [sent_at[e] - scheduled[e] for e in sent_at if e in scheduled])
        result["handle_latency_ms"] = spread_ms([handled.at[e] - submitted[e] for e in handled.at if e in submitted])
    return result


# -- the runs ------------------------------------------------------------------------------------


class Session:
    """One benchmark session: its options, a scratch folder, and a counter for run folders."""

    def __init__(self, options: BenchOptions, log: TextIO) -> None:
        self.options = options
        self.log = log
        self._owned = options.workdir is None
        self.workdir = Path(options.workdir or tempfile.mkdtemp(prefix="brandbot-bench-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._runs = 0

    def folder(self, name: str) -> Path:
        self._runs += 1
        return self.workdir / f"{self._runs:02d}-{name}"

    def cleanup(self) -> None:
        if self._owned:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def stream(self, plans: Sequence[RulePlan], prefix: str = "e") -> EventStream:
        o = self.options
        return EventStream(plans, o.followers, o.seed, hit_ratio=o.hit_ratio, prefix=prefix)

    def say(self, text: str) -> None:
        self.log.write(text + "\n")
        self.log.flush()


async def max_rate_run(session: Session, rules: int, label: str, *, probe: bool = True,
                       profile: Path | None = None, keep: bool = False) -> dict[str, Any]:
    o = session.options
    plans = plan_rules(rules, o.seed)
    folder = session.folder(label)
    bench = await start_bot(folder, plans)
    profiler = cProfile.Profile() if profile else None
    try:
        if profiler is not None:
            profiler.enable()
        result = await drive(bench, session.stream(plans), o.events, label=label, progress=o.progress,
                             probe_every=o.probe_every if probe else 0)
        if profiler is not None:
            profiler.disable()
    finally:
        await bench.bot.stop()
    result["rules"] = rules
    result["followers"] = o.followers
    result["watchers"] = bench.tally.summary()
    if profiler is not None and profile is not None:
        profile.parent.mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(str(profile))
        result["profile"] = str(profile)
    if not keep:
        shutil.rmtree(folder, ignore_errors=True)
    else:
        result["folder"] = str(folder)
    return result


async def paced_run(session: Session, rate: float) -> dict[str, Any]:
    o = session.options
    plans = plan_rules(o.rules, o.seed)
    folder = session.folder("paced")
    bench = await start_bot(folder, plans)
    try:
        result = await drive(bench, session.stream(plans, prefix="p"), o.paced_count,
                             label=f"paced {rate:,.0f}/s", progress=o.progress, rate=rate,
                             probe_every=o.probe_every, record_all=True)
    finally:
        await bench.bot.stop()
    shutil.rmtree(folder, ignore_errors=True)
    result["target_rate"] = round(rate)
    return result


async def startup_run(session: Session, populated_from: Path | None) -> dict[str, Any]:
    """Start-up with ``startup_rules`` rules: on an empty database, and on one that a
    max-rate run filled (``populated_from``: its run folder), as after a restart."""
    o = session.options
    plans = plan_rules(o.startup_rules, o.seed)
    folder = session.folder("startup")
    rules_file = write_rules(session.workdir / f"rules-{o.startup_rules}.yaml", plans)
    empty = await start_bot(folder, plans, rules_file=rules_file)
    await empty.bot.stop()
    result: dict[str, Any] = {
        "rules": o.startup_rules,
        "empty_db_s": round(empty.startup_s, 3),
        "empty_db_phases_s": {k: round(v, 3) for k, v in empty.phases.items()},
    }
    # The rule book alone: reading the YAML; loading it as the Bot does (templates parsed
    # and checked, compiled on first use); and with every template compiled up front.
    t0 = time.perf_counter()
    load_yaml(rules_file)
    t1 = time.perf_counter()
    RuleBook.load([rules_file], TemplateEngine(BRAND, lazy=True))
    t2 = time.perf_counter()
    RuleBook.load([rules_file], TemplateEngine(BRAND))
    t3 = time.perf_counter()
    result["rulebook_yaml_s"] = round(t1 - t0, 3)
    result["rulebook_lazy_s"] = round(t2 - t1, 3)
    result["rulebook_compiled_s"] = round(t3 - t2, 3)
    if populated_from is not None and (populated_from / "bench.sqlite3").exists():
        restart = await start_bot(populated_from, plans, rules_file=rules_file)
        await restart.bot.stop()
        result["populated_db_s"] = round(restart.startup_s, 3)
        result["populated_db_phases_s"] = {k: round(v, 3) for k, v in restart.phases.items()}
    shutil.rmtree(folder, ignore_errors=True)
    return result


async def soak_run(session: Session) -> dict[str, Any]:
    o = session.options
    plans = plan_rules(o.rules, o.seed)
    folder = session.folder("soak")
    every = max(1, o.soak_events // o.soak_samples)
    bench = await start_bot(folder, plans, record_sends=False)
    rss_before = rss_mb()
    try:
        result = await drive(bench, session.stream(plans, prefix="s"), o.soak_events, label="soak",
                             progress=o.progress, rss_every=every)
    finally:
        await bench.bot.stop()
    shutil.rmtree(folder, ignore_errors=True)
    samples = result.pop("rss_samples", [])
    warm_index = max(0, int(len(samples) * 0.2) - 1)
    warm = samples[warm_index][1] if samples else 0.0
    final = samples[-1][1] if samples else result["rss_mb"]
    growth = 100 * (final - warm) / warm if warm else 0.0
    result.update({
        "followers": o.followers, "rules": o.rules, "rss_before_mb": round(rss_before, 1),
        "rss_samples": samples, "warm_rss_mb": warm, "final_rss_mb": final,
        "max_rss_after_warmup_mb": max((mb for _, mb in samples[warm_index:]), default=final),
        "growth_after_warmup_pct": round(growth, 1), "peak_rss_mb": round(peak_rss_mb(), 1),
        "sample_every": every,
    })
    return result


def generator_cost(session: Session, count: int = 20_000) -> float:
    """Microseconds per event spent only producing events (included in every run's time)."""
    stream = session.stream(plan_rules(session.options.rules, session.options.seed))
    t0 = time.perf_counter()
    n = 0
    for _ in stream.events(count):
        n += 1
    return round((time.perf_counter() - t0) / max(1, n) * 1e6, 2)


async def run_bench(options: BenchOptions, log: TextIO | None = None) -> dict[str, Any]:
    """Run the whole session and return the summary (what ``--json`` writes)."""
    session = Session(options, log or sys.stderr)
    logging.getLogger("brandbot").setLevel(logging.WARNING)
    summary: dict[str, Any] = {"machine": machine(), "options": _jsonable(asdict(options))}
    summary["machine"]["event_loop"] = type(asyncio.get_running_loop()).__module__.split(".")[0]
    try:
        if options.soak:
            session.say(f"soak: {options.soak_events:,} events, {options.followers:,} followers")
            summary["soak"] = await soak_run(session)
        else:
            summary["generator_us_per_event"] = generator_cost(session)
            session.say(f"max rate: {options.rules} rules, {options.followers:,} followers, "
                        f"{options.events:,} events")
            main = await max_rate_run(session, options.rules, f"max-rate {options.rules} rules")
            summary["max_rate"] = main
            summary["peak_rss_mb_after_max_rate"] = round(peak_rss_mb(), 1)
            rate = main["events_per_s"] / 2
            session.say(f"paced at half max rate: {rate:,.0f} events/s")
            summary["paced"] = await paced_run(session, rate)
            low, high = options.compare_rules
            low_run = await max_rate_run(session, low, f"max-rate {low} rules", probe=False)
            high_run = await max_rate_run(session, high, f"max-rate {high} rules", probe=False, keep=True)
            summary["rules_scaling"] = {
                "low_rules": low, "low_events_per_s": low_run["events_per_s"],
                "high_rules": high, "high_events_per_s": high_run["events_per_s"],
                "ratio": round(high_run["events_per_s"] / max(1, low_run["events_per_s"]), 3),
                "low_answered_pct": low_run["answered_pct"], "high_answered_pct": high_run["answered_pct"],
            }
            populated = Path(high_run["folder"]) if high == options.startup_rules else None
            summary["startup"] = await startup_run(session, populated)
            if options.profile is not None:
                session.say(f"profiling a max-rate run into {options.profile}")
                summary["profiled"] = await max_rate_run(
                    session, options.rules, "profiled", probe=False, profile=options.profile)
            summary["peak_rss_mb"] = round(peak_rss_mb(), 1)
    finally:
        session.cleanup()
    summary["targets"] = [
        {"name": t.name, "key": t.key, "target": t.describe(), "value": lookup(summary, t.key),
         "result": t.judge(lookup(summary, t.key))}
        for t in TARGETS
    ]
    return summary


# -- reporting -----------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "nproc": os.cpu_count(), "cpu": cpu, "platform": platform.platform(),
            "loadavg_at_start": [round(x, 2) for x in load]}


def lookup(summary: dict[str, Any], key: str) -> float | None:
    value: Any = summary
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value if isinstance(value, int | float) else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def render_table(summary: dict[str, Any]) -> str:
    """The figures, one per line, with the target and pass/miss next to those that have one."""
    targets = {t["key"]: t for t in summary.get("targets", [])}
    rows: list[tuple[str, str, str, str]] = []

    def add(label: str, key: str, fmt: str = "{:,.0f}", unit: str = "") -> None:
        value = lookup(summary, key)
        if value is None:
            return
        t = targets.get(key)
        rows.append((label, f"{fmt.format(value)} {unit}".strip(), t["target"] if t else "",
                     t["result"] if t else ""))

    add("mix: first contacts (new people)", "max_rate.mix.first_contact_pct", "{:.1f}", "%")
    add("mix: text pool built to hit a rule", "max_rate.mix.text_built_to_hit_a_rule_pct",
        "{:.1f}", "%")
    add("events/s at max rate", "max_rate.events_per_s")
    add("  events/s handled (before replies drained)", "max_rate.handled_events_per_s")
    add("  CPU per event, event loop's thread (us)", "max_rate.loop_cpu_us_per_event")
    add("  CPU per event, whole process (us)", "max_rate.cpu_us_per_event")
    add("  replies sent + store flushed after that", "max_rate.drain_after_handled_s", "{:.1f}", "s")
    add("  answered", "max_rate.answered_pct", "{:.1f}", "%")
    add("  event generation cost", "generator_us_per_event", "{:.1f}", "us/event")
    add("  arrival -> commit p99 (sampled)", "max_rate.commit.arrival_to_commit_ms.p99", "{:.1f}", "ms")
    add("  handled -> commit p99", "max_rate.commit.handled_to_commit_ms.p99", "{:.1f}", "ms")
    add("  handled -> commit max", "max_rate.commit.handled_to_commit_ms.max", "{:.1f}", "ms")
    add("  event-loop lag p99", "max_rate.loop_lag_ms.p99", "{:.1f}", "ms")
    add("  event-loop lag max", "max_rate.loop_lag_ms.max", "{:.1f}", "ms")
    add("  GC pauses, total", "max_rate.gc_pauses.total_ms", "{:.0f}", "ms")
    add("  GC gen2 max pause", "max_rate.gc_pauses.gen2.max_ms", "{:.1f}", "ms")
    add("  peak RSS after max-rate run", "peak_rss_mb_after_max_rate", "{:.1f}", "MB")
    add("paced: events/s achieved", "paced.events_per_s")
    add("  event -> send p50", "paced.send_latency_ms.p50", "{:.2f}", "ms")
    add("  event -> send p99", "paced.send_latency_ms.p99", "{:.2f}", "ms")
    add("  event -> send max", "paced.send_latency_ms.max", "{:.2f}", "ms")
    add("  scheduled arrival -> send p99", "paced.send_latency_from_schedule_ms.p99", "{:.2f}", "ms")
    add("  event -> handled p99 (all)", "paced.handle_latency_ms.p99", "{:.2f}", "ms")
    add("  arrival -> commit p99 (sampled)", "paced.commit.arrival_to_commit_ms.p99", "{:.1f}", "ms")
    add("  arrival -> commit max (sampled)", "paced.commit.arrival_to_commit_ms.max", "{:.1f}", "ms")
    add("  event-loop lag p99", "paced.loop_lag_ms.p99", "{:.1f}", "ms")
    add("  GC gen2 max pause", "paced.gc_pauses.gen2.max_ms", "{:.1f}", "ms")
    add("events/s with few rules", "rules_scaling.low_events_per_s")
    add("events/s with many rules", "rules_scaling.high_events_per_s")
    add("many/few rules throughput ratio", "rules_scaling.ratio", "{:.3f}")
    add("start-up, empty database", "startup.empty_db_s", "{:.3f}", "s")
    add("  rule book: YAML read", "startup.rulebook_yaml_s", "{:.3f}", "s")
    add("  rule book as the bot loads it", "startup.rulebook_lazy_s", "{:.3f}", "s")
    add("  rule book, templates compiled", "startup.rulebook_compiled_s", "{:.3f}", "s")
    add("start-up, populated database", "startup.populated_db_s", "{:.3f}", "s")
    add("soak events/s", "soak.events_per_s")
    add("soak RSS after warm-up", "soak.warm_rss_mb", "{:.1f}", "MB")
    add("soak final RSS", "soak.final_rss_mb", "{:.1f}", "MB")
    add("soak RSS growth after warm-up", "soak.growth_after_warmup_pct", "{:.1f}", "%")
    add("peak RSS (whole session)", "peak_rss_mb", "{:.1f}", "MB")
    width = [max(len(r[i]) for r in rows) if rows else 0 for i in range(4)]
    m = summary.get("machine", {})
    title = (f"brandbot bench on {m.get('cpu', '?')} x{m.get('nproc', '?')}, Python {m.get('python', '?')},"
             f" SQLite {m.get('sqlite', '?')}, event loop: {m.get('event_loop', '?')}")
    lines = [title, ""]
    header = ("figure", "value", "target", "")
    for row in (header, *rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, width)).rstrip())
    return "\n".join(lines)


def render_profile(path: Path, top: int = 25) -> str:
    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    stats.strip_dirs()
    for order in ("cumulative", "tottime"):
        out.write(f"\n=== top {top} by {order} ===\n")
        stats.sort_stats(order).print_stats(top)
    return out.getvalue()


# -- command line --------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``brandbot bench`` (the CLI wires this into its subcommand)."""
    d = BenchOptions()
    parser.add_argument("--rules", type=int, default=None, help=f"rules in the main runs (default {d.rules})")
    parser.add_argument("--followers", type=int, default=None, help=f"distinct followers (default {d.followers:,})")
    parser.add_argument("--events", type=int, default=None, help=f"events per run (default {d.events:,})")
    parser.add_argument("--paced-events", type=int, default=None, help="events in the half-rate run (default: --events)")
    parser.add_argument("--seed", type=int, default=d.seed, help="seed of the generated rules and events")
    parser.add_argument("--compare-rules", default=None, metavar="FEW,MANY",
                        help="rule counts compared for scaling (default 10,1000)")
    parser.add_argument("--startup-rules", type=int, default=None, help="rules for the start-up time (default 1000)")
    parser.add_argument("--probe-every", type=int, default=None,
                        help="watch every n-th event's commit from a second connection (default 1000; 0 = off)")
    parser.add_argument("--profile", type=Path, default=None, metavar="FILE",
                        help="add a cProfile'd max-rate run; write FILE (.prof) and print the top 25")
    parser.add_argument("--soak", action="store_true", help="only the soak: 1,000,000 events, RSS sampled")
    parser.add_argument("--soak-events", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="a fast smoke run with small numbers")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the JSON summary here")
    parser.add_argument("--workdir", type=Path, default=None, help="keep run folders here (default: a temp dir, removed)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def options_from_args(args: argparse.Namespace) -> BenchOptions:
    base = BenchOptions.quick() if args.quick else BenchOptions()
    changes: dict[str, Any] = {"seed": args.seed, "progress": not args.no_progress,
                               "soak": args.soak, "profile": args.profile, "json_path": args.json,
                               "workdir": args.workdir}
    for name in ("rules", "followers", "events", "paced_events", "startup_rules", "probe_every", "soak_events"):
        value = getattr(args, name)
        if value is not None:
            changes[name] = value
    if args.compare_rules:
        few, _, many = args.compare_rules.partition(",")
        changes["compare_rules"] = (int(few), int(many))
    options = replace(base, **changes)
    for name in ("rules", "followers", "events", "startup_rules", "soak_events"):
        if getattr(options, name) < 1:
            raise SystemExit(f"brandbot bench: --{name.replace('_', '-')} must be at least 1")
    return options


def run_from_args(args: argparse.Namespace) -> int:
    """Run ``brandbot bench`` with parsed arguments; prints the table and the JSON summary."""
    from brandbot.ops.cli import run_loop, tune_runtime

    tune_runtime()  # measure the bot as `brandbot run` runs it, on the same event loop
    options = options_from_args(args)
    summary = run_loop(run_bench(options))
    print(render_table(summary))
    if options.profile is not None and Path(options.profile).exists():
        print(render_profile(Path(options.profile)))
    text = json.dumps(_jsonable(summary), indent=2, ensure_ascii=False)
    print(text)
    if options.json_path is not None:
        Path(options.json_path).write_text(text + "\n", encoding="utf-8")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="brandbot bench", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

__all__ = [
    "TARGETS",
    "BenchOptions",
    "EventStream",
    "RulePlan",
    "add_arguments",
    "build_watchers",
    "plan_rules",
    "render_table",
    "run_bench",
    "run_from_args",
]
