"""Rule state at run time: when cooldowns started, and which reply variant each person got.

In memory and bounded, and pure: the caller passes the time.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Hashable
from datetime import datetime

from brandbot.core.lru import Lru, RecentMap
from brandbot.core.reading import Reading
from brandbot.core.rules.model import Rule


def _remaining(seconds: float) -> str:
    """A short human duration for cooldown reasons: "45s", "58m", "2h 5m", "1d 3h"."""
    s = max(1, int(-(-seconds // 1)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{-(-s // 60)}m"
    if s < 86400:
        h, m = divmod(s // 60, 60)
        return f"{h}h {m}m" if m else f"{h}h"
    d, h = divmod(s // 3600, 24)
    return f"{d}d {h}h" if h else f"{d}d"


#: Last reply variants kept in memory, per (rule, follower). They are only a cache: the
#: store keeps them too and ``RuleResponders.pick_variant`` reloads a forgotten one. Few
#: (rule, person) pairs come back soon: in the soak (100 rules, 100,000 people) 20,000 of
#: them (3.1 MB) answered 1.2% of the lookups, 4,096 (0.65 MB) 7.7%; a miss costs one
#: indexed read.
VARIANT_MEMORY = 1_024
#: A cooldown table is swept of expired entries once it has doubled since the last sweep
#: (and has at least this many entries), which keeps sweeping O(1) per entry on average.
_SWEEP_MIN = 1024
#: Rule numbers below 2**_RULE_BITS share one int key with the follower id.
_RULE_BITS = 20


class _Cooldowns:
    """When the cooldowns of one rule and one kind (person, conversation or global) started.

    Exact: an entry is dropped only once its cooldown is over, so a reply can never come
    too soon. The table holds about the cooldowns started within the last cooldown
    period (at most twice that, between sweeps), however many people write in.
    """

    __slots__ = ("_starts", "_sweep_at")

    def __init__(self) -> None:
        self._starts: dict[Hashable, datetime] = {}
        self._sweep_at = _SWEEP_MIN

    def __len__(self) -> int:
        return len(self._starts)

    def left(self, key: Hashable, seconds: float, now: datetime) -> float:
        """Seconds of cooldown left for ``key`` (zero or less: none)."""
        last = self._starts.get(key)
        if last is None:
            return 0.0
        return seconds - max(0.0, (now - last).total_seconds())

    def start(self, key: Hashable, seconds: float, now: datetime) -> None:
        starts = self._starts
        starts[key] = now
        if len(starts) >= self._sweep_at:
            self._starts = {
                k: t for k, t in starts.items() if seconds - max(0.0, (now - t).total_seconds()) > 0
            }
            self._sweep_at = max(_SWEEP_MIN, 2 * len(self._starts))


class RuleState:
    """Cooldown times and last reply variants, in memory and bounded (pure: no clock).

    Cooldowns are kept per rule name (a state belongs to one rule book, so a name has one
    cooldown) and forgotten only once over. Last variants are a cache of what the store
    keeps: at most ``max_entries`` of them, the least recently set forgotten first, each
    under one int key.
    """

    def __init__(self, max_entries: int = VARIANT_MEMORY) -> None:
        self._person: dict[str, _Cooldowns] = {}
        self._conversation: dict[str, _Cooldowns] = {}
        self._global: dict[str, _Cooldowns] = {}
        self._variants: Lru[Hashable, int] = Lru(max_entries)
        self._rule_numbers: dict[str, int] = {}
        self.people = PersonMemory()

    def cooldown_ok(
        self, rule: Rule, follower_id: int, conversation_key: Hashable, now: datetime
    ) -> str | None:
        """None if the rule may fire now, else why not (e.g. "cooldown: person 58m left")."""
        cooldown = rule.cooldown
        if not (cooldown.person or cooldown.conversation or cooldown.global_):
            return None
        checks = (
            ("person", cooldown.person, self._person, follower_id),
            ("conversation", cooldown.conversation, self._conversation, conversation_key),
            ("global", cooldown.global_, self._global, None),
        )
        for label, seconds, tables, key in checks:
            if not seconds:
                continue
            table = tables.get(rule.name)
            if table is None:
                continue
            left = table.left(key, seconds, now)
            if left > 0:
                return f"cooldown: {label} {_remaining(left)} left"
        return None

    def note_fired(
        self, rule: Rule, follower_id: int, conversation_key: Hashable, now: datetime
    ) -> None:
        """Start the rule's cooldowns from ``now``."""
        cooldown = rule.cooldown
        if cooldown.person:
            self._table(self._person, rule.name).start(follower_id, cooldown.person, now)
        if cooldown.conversation:
            table = self._table(self._conversation, rule.name)
            table.start(conversation_key, cooldown.conversation, now)
        if cooldown.global_:
            self._table(self._global, rule.name).start(None, cooldown.global_, now)

    @staticmethod
    def _table(tables: dict[str, _Cooldowns], name: str) -> _Cooldowns:
        table = tables.get(name)
        if table is None:
            table = tables[name] = _Cooldowns()
        return table

    def cooldown_entries(self) -> int:
        """How many cooldown start times are held (for tests and memory checks)."""
        return sum(
            len(t)
            for tables in (self._person, self._conversation, self._global)
            for t in tables.values()
        )

    def pick_variant(self, rule: Rule, follower_id: int, rng: random.Random) -> int:
        """A random variant index, never the one this follower got last time; remembered."""
        count = len(rule.variants)
        if count <= 1:
            return 0
        key = self._variant_key(rule.name, follower_id)
        last = self._variants.get(key, None)
        if last is None or not 0 <= last < count:
            index = rng.randrange(count)
        else:
            index = rng.randrange(count - 1)
            if index >= last:
                index += 1
        self._remember(key, index)
        return index

    def last_variant(self, rule_name: str, follower_id: int) -> int | None:
        last: int | None = self._variants.get(self._variant_key(rule_name, follower_id), None)
        return last

    def remember_variant(self, rule_name: str, follower_id: int, index: int) -> None:
        self._remember(self._variant_key(rule_name, follower_id), index)

    def _remember(self, key: Hashable, index: int) -> None:
        self._variants.put(key, index)

    def _variant_key(self, rule_name: str, follower_id: int) -> Hashable:
        """One int for (rule, follower): the rule's number in the low bits, the id above.

        Far smaller than a tuple of a string and an int. Any int id works (the mapping
        ``id * 2**_RULE_BITS + number`` is one-to-one); a book with more than 2**20 rule
        names falls back to tuples for the rest.
        """
        numbers = self._rule_numbers
        number = numbers.get(rule_name)
        if number is None:
            number = numbers[rule_name] = len(numbers)
        if number >> _RULE_BITS or type(follower_id) is not int:
            return (rule_name, follower_id)
        return (follower_id << _RULE_BITS) | number


#: People whose language and last message are remembered (the most recently seen).
PERSON_MEMORY = 20_000
#: Last messages kept whole (their reading as the event left it) before being settled:
#: several times the events handled at once (``runtime.max_concurrency``, 64 by default).
UNSETTLED = 256


class PersonMemory:
    """Each person's language and last message as read, bounded, in memory.

    The people remembered are those who wrote (or told their language) most recently,
    at most ``size`` and always the ``size // 2`` latest: looking a person up does not
    keep them.

    The last message's reading stays lazy: its sentiment is worked out only if a
    promotion is about to go to that person. Kept with the rule state, so it survives
    reloads; not in the database (a restart forgets it). Once ``UNSETTLED`` newer
    messages have come in, a reading is settled (:meth:`Reading.settle`): it no longer
    holds the function that looks up the person's language, with their tags, nor the
    intent's scores. Whole, each was about 600 bytes in the soak (12 MB for 20,000).
    """

    __slots__ = ("_languages", "_last", "_unsettled")

    def __init__(self, size: int = PERSON_MEMORY) -> None:
        # Two-dict maps, not Lru: the exact order does not matter here, only that the
        # recent writers are in (at least size // 2 of them); an entry costs about 80
        # bytes less (1.5 MB of the 5 MB this memory held in the soak).
        self._languages: RecentMap[int, str] = RecentMap(size)
        self._last: RecentMap[int, Reading] = RecentMap(size)
        self._unsettled: deque[Reading] = deque()

    def language(self, follower_id: int) -> str:
        """The language of the person's latest message that told one, or ""."""
        last = self._last.peek(follower_id, None)
        if isinstance(last, Reading) and last.detected_language:
            return last.detected_language
        return str(self._languages.peek(follower_id, ""))

    def note_language(self, follower_id: int, language: str) -> None:
        self._languages.put(follower_id, language)

    def remember(self, follower_id: int, reading: Reading) -> None:
        """The person's latest message (the one before it hands on its language, if it told one)."""
        previous = self._last.peek(follower_id, None)
        if isinstance(previous, Reading) and previous.detected_language:
            self._languages.put(follower_id, previous.detected_language)
        self._last.put(follower_id, reading)
        unsettled = self._unsettled
        unsettled.append(reading)
        if len(unsettled) > UNSETTLED:
            unsettled.popleft().settle()

    def last_mood(self, follower_id: int) -> str | None:
        reading = self._last.peek(follower_id, None)
        return reading.mood if isinstance(reading, Reading) else None


__all__ = ["PERSON_MEMORY", "VARIANT_MEMORY", "PersonMemory", "RuleState"]
