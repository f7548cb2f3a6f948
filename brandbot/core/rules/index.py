"""RuleBook: all rules by priority, and the index that finds candidate rules fast.

``RuleBook.candidates`` must stay cheap with hundreds of rules, so rules are compiled
into an index, one per event kind (rules are bucketed by kind up front) and per text
form (folded, or cleaned for case-sensitive rules). Each rule is filed under *one
necessary condition* (its trigger); candidates are the rules whose trigger is present,
and only those are then verified in full against the event's text:

- keyword rules are filed under one token per ``any`` term (the longest token of each),
  else under the longest token of one ``all`` term, else of the ``phrase``. The event's
  tokens (with and without '#'/'@') are looked up in that dict: one lookup per token,
  independent of the number of rules;
- regex rules are filed under literals one of which every match must contain,
  extracted from the parsed pattern (``re._parser``): the longest run of plain
  characters outside optional parts and flag groups, or for an alternation whose every
  branch has such a run, those runs ("order|invoice"). Literals are bucketed by their
  first three characters, so only literals whose key occurs in the text are searched,
  and only regexes whose literal occurs are run. Each regex is tested on its own, so
  overlapping regexes all match (a single combined alternation could report only one);
- rules whose trigger cannot be extracted (a regex with no required literal, keywords
  made only of symbols) are always verified, and so are rules without ``match`` (or
  with only ``not``).

Rules whose ``match`` is only ``any`` of plain single words match exactly when their
trigger is found, so they skip verification.

Since a trigger is a necessary condition and verification is exact, the result equals
evaluating every rule naively; ``tests/test_rules.py`` checks this with hypothesis.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from brandbot.core.events import Event, Kind
from brandbot.core.rules.compile import compile_rules
from brandbot.core.rules.match import MatchSpec, TextView
from brandbot.core.rules.model import Rule
from brandbot.core.rules.regex import required_literals
from brandbot.core.templates import TemplateEngine
from brandbot.core.textnorm import clean, normalize
from brandbot.core.wordforms import WordForms
from brandbot.core.yamlfile import YamlDoc, load_yaml

#: Regex literals are found through their first characters, at most this many: long
#: enough that a key rarely occurs in a text by chance, short enough for any literal.
_KEY_SIZE = 3


@dataclass(frozen=True)
class _Literals:
    """Required regex literals of one side, found in a text without testing each one.

    ``keys`` maps each literal's first ``size`` characters to the lengths of the literals
    starting with them. Where a key occurs in the text, the text's substrings of those
    lengths are looked up in ``ordinals``: the work depends on the text, not on how many
    literals there are.
    """

    size: int
    keys: dict[str, tuple[int, ...]]
    ordinals: dict[str, tuple[int, ...]]  # literal -> rules that require it

    def find(self, text: str, found: set[int]) -> None:
        """Add the rules whose literal occurs in ``text`` to ``found``."""
        keys, size = self.keys, self.size
        if len(keys) <= len(text):
            for key, lengths in keys.items():
                if key in text:  # rarely: then find each occurrence
                    start = text.find(key)
                    while start >= 0:
                        self._add(text, start, lengths, found)
                        start = text.find(key, start + 1)
        else:  # a long index and a short text: look up each of the text's own substrings
            for start in range(len(text) - size + 1):
                here = keys.get(text[start : start + size])
                if here:
                    self._add(text, start, here, found)

    def _add(self, text: str, start: int, lengths: tuple[int, ...], found: set[int]) -> None:
        ordinals = self.ordinals
        for length in lengths:
            hit = ordinals.get(text[start : start + length])
            if hit:
                found.update(hit)


@dataclass(frozen=True)
class _Side:
    """The index of the rules of one kind that match one text form (folded or clean).

    ``candidates`` returns a superset of the rules whose text conditions hold; for the
    ordinals in ``exact`` the trigger found is the whole condition, so they need no
    verification.
    """

    prepare: Callable[[str], str]
    base: frozenset[int]  # no words needed, or nothing to index: verify every time
    by_word: dict[str, tuple[int, ...]]
    literals: tuple[_Literals, ...]  # one per key size
    exact: frozenset[int]
    forms: WordForms | None  # some rule of this side matches word forms: views get form keys

    def candidates(self, view: TextView) -> set[int]:
        found = set(self.base)
        by_word = self.by_word
        if by_word:
            for token in by_word.keys() & view.keys:  # iterates the smaller of the two
                found.update(by_word[token])
        for literals in self.literals:
            literals.find(view.text, found)
        return found


@dataclass
class _SideBuilder:
    """Collects the rules of one side, then freezes them into a :class:`_Side`."""

    prepare: Callable[[str], str]
    base: list[int] = field(default_factory=list)
    by_word: dict[str, list[int]] = field(default_factory=dict)
    literals: dict[str, list[int]] = field(default_factory=dict)
    exact: list[int] = field(default_factory=list)
    forms: WordForms | None = None
    form_keys: set[str] = field(default_factory=set)  # every form key a rule of this side uses

    def add(self, ordinal: int, spec: MatchSpec | None) -> None:
        """File the rule under one necessary condition of its match (its trigger).

        A rule with an ``intent`` may match without any keyword, so it is verified on
        every event (its keywords only say whether they hit too; see RuleBook.hits).
        """
        if spec is not None and spec.forms is not None:
            self.forms = spec.forms
            for term in (*spec.any, *spec.all, *((spec.phrase,) if spec.phrase else ())):
                self.form_keys.update(key for keys in term.forms for key in keys if ":" in key)
        if spec is None or spec.intent is not None:
            self.base.append(ordinal)
            return
        if spec.any and all(t.trigger for t in spec.any):
            for trigger in {key for t in spec.any for key in t.triggers}:
                self.by_word.setdefault(trigger, []).append(ordinal)
            if _trigger_is_exact(spec):
                self.exact.append(ordinal)
            return
        for terms in (spec.all, (spec.phrase,) if spec.phrase else ()):
            with_tokens = [t for t in terms if t.trigger]
            if with_tokens:
                longest = max(with_tokens, key=lambda t: len(t.trigger or ""))
                for trigger in longest.triggers:
                    self.by_word.setdefault(trigger, []).append(ordinal)
                return
        if spec.regex is not None:
            literals = required_literals(spec.regex, folded=not spec.case_sensitive)
            if literals:
                for literal in literals:
                    self.literals.setdefault(literal, []).append(ordinal)
                return
        self.base.append(ordinal)  # nothing to index (or only "not" terms): always verify

    def freeze(self) -> _Side | None:
        """The finished index, or None if no rule uses this side."""
        if not (self.base or self.by_word or self.literals):
            return None
        return _Side(
            prepare=self.prepare,
            base=frozenset(self.base),
            by_word={word: tuple(hits) for word, hits in self.by_word.items()},
            literals=self._freeze_literals(),
            exact=frozenset(self.exact),
            forms=self.forms.only(frozenset(self.form_keys)) if self.forms is not None else None,
        )

    def _freeze_literals(self) -> tuple[_Literals, ...]:
        """Literals grouped by key size (shorter literals are their own key)."""
        keys: dict[int, dict[str, set[int]]] = {}
        for literal in self.literals:
            size = min(len(literal), _KEY_SIZE)
            keys.setdefault(size, {}).setdefault(literal[:size], set()).add(len(literal))
        ordinals = {literal: tuple(hits) for literal, hits in self.literals.items()}
        return tuple(
            _Literals(size, {k: tuple(sorted(v)) for k, v in table.items()}, ordinals)
            for size, table in sorted(keys.items())
        )


def _trigger_is_exact(spec: MatchSpec) -> bool:
    """True if finding one ``any`` trigger token already means the whole match holds:
    only ``any`` terms, each a single token that needs nothing more than being present."""
    return not (spec.all or spec.phrase or spec.regex is not None or spec.not_) and all(
        len(t.tokens) == 1 and not t.needs_text for t in spec.any
    )


# -- the rule book -------------------------------------------------------------------------


class RuleBook:
    """All rules of all rule files, sorted by priority, with the matching index.

    ``forms`` are the stemmers the keywords were compiled with (None: word forms off) and
    ``intents`` the names of the intents file's intents (for ``brandbot check``).
    """

    def __init__(self, rules: Sequence[Rule], *, forms: WordForms | None = None,
                 intents: Collection[str] = ()) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        self.forms = forms
        self.intents = frozenset(intents)
        self._by_name = {r.name: r for r in self.rules}
        builders: dict[Kind, tuple[_SideBuilder, _SideBuilder]] = {}
        for ordinal, rule in enumerate(self.rules):
            if not rule.enabled:
                continue
            for kind in rule.kinds:
                folded, cleaned = builders.setdefault(
                    kind, (_SideBuilder(normalize), _SideBuilder(clean))
                )
                side = cleaned if rule.match is not None and rule.match.case_sensitive else folded
                side.add(ordinal, rule.match)
        # Per kind, only the sides some rule uses: the folded one first, then the clean one.
        self._index: dict[Kind, tuple[_Side, ...]] = {}
        for kind, pair in builders.items():
            sides = tuple(side for side in (b.freeze() for b in pair) if side is not None)
            if sides:
                self._index[kind] = sides

    @classmethod
    def load(
        cls,
        paths: Sequence[Path],
        engine: TemplateEngine,
        *,
        default_timezone: str = "UTC",
        networks: Sequence[str] | None = None,
        tiers: Sequence[str] | None = None,
        languages: Sequence[str] = ("en",),
        intents: Collection[str] | None = None,
    ) -> RuleBook:
        """Load rule files in order. Raises RuleError/ConfigError with file:line on any problem.

        ``networks`` and ``tiers`` (the configured network and loyalty tier names), when
        given, are used to reject rules that name a network or tier that does not exist;
        ``intents`` likewise. Keywords match their word forms in ``languages`` (none: off).
        """
        return cls.from_docs(
            [load_yaml(Path(p)) for p in paths],
            engine,
            default_timezone=default_timezone,
            networks=networks,
            tiers=tiers,
            languages=languages,
            intents=intents,
        )

    @classmethod
    def from_docs(
        cls,
        docs: Sequence[YamlDoc],
        engine: TemplateEngine,
        *,
        default_timezone: str = "UTC",
        networks: Sequence[str] | None = None,
        tiers: Sequence[str] | None = None,
        languages: Sequence[str] = ("en",),
        intents: Collection[str] | None = None,
    ) -> RuleBook:
        """Compile the rules of ``docs`` (see :func:`compile_rules`), highest priority first."""
        forms = WordForms(languages) if languages else None
        compiled = compile_rules(
            docs, engine, default_timezone=default_timezone, networks=networks, tiers=tiers,
            forms=forms, intents=intents,
        )
        order = sorted(range(len(compiled)), key=lambda i: (-compiled[i].priority, i))
        return cls([compiled[i] for i in order], forms=forms, intents=intents or ())

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def get(self, name: str) -> Rule | None:
        return self._by_name.get(name)

    def candidates(self, event: Event, now: datetime) -> list[Rule]:
        """Enabled rules whose kind, network, time window and keywords fit, by priority.

        Rules with an ``intent`` are included only if their keywords hit; :meth:`hits`
        also returns those whose intent is still to be decided.
        """
        return [rule for rule, hit in self.hits(event, now) if hit]

    def hits(self, event: Event, now: datetime) -> list[tuple[Rule, bool]]:
        """Enabled rules whose kind, network and time window fit and whose text may, by priority.

        With each rule, whether its keywords matched. A rule without an ``intent`` is
        returned only if they did; a rule with one is returned unless a ``not`` term
        occurs, and whether its intent holds is decided later, by the responder, in
        priority order, so that the model runs only if no rule above answered.
        """
        sides = self._index.get(event.kind)
        if sides is None:
            return []
        found: list[tuple[int, bool]] = []
        rules = self.rules
        for side in sides:
            view = TextView(side.prepare(event.text), side.forms)
            hits = side.candidates(view)
            if not hits:
                continue
            exact = side.exact
            for ordinal in hits:
                rule = rules[ordinal]
                # Kind and enabled hold by construction of the index (see Rule.fits).
                if rule.networks and event.network not in rule.networks:
                    continue
                if rule.active is not None and not rule.active.contains(now):
                    continue
                match = rule.match
                if ordinal in exact or match is None:
                    found.append((ordinal, True))
                elif match.intent is None:
                    if match.matches_view(view):
                        found.append((ordinal, True))
                elif not match.excluded(view):
                    found.append((ordinal, match.has_keywords and match.matches_view(view)))
        if len(found) > 1:
            found.sort()
        return [(rules[i], hit) for i, hit in found]


__all__ = ["RuleBook"]
