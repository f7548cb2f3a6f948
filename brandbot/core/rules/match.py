"""A rule's compiled ``match:``: keywords and phrases as token sequences, and a regex.

They are evaluated on a :class:`TextView`, one per text form per event, which holds the
tokens once so that every rule reads the same view.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from brandbot.core.rules.regex import RuleRegex
from brandbot.core.textnorm import clean, normalize, strip_prefix, words
from brandbot.core.wordforms import WordForms


class TextView:
    """One text as the matcher sees it: the string, its tokens and the set of token keys.

    ``keys`` holds every token and, for "#tag"/"@name" tokens, also the bare word: one
    set lookup answers "does this keyword occur?". With ``forms`` (word forms on), the
    set also holds every token's form keys ("en:ship"), so a stemmed keyword is one
    lookup too. Token positions, needed only to check phrases, are built when first
    asked for.
    """

    __slots__ = ("_positions", "forms", "keys", "text", "tokens")

    def __init__(self, text: str, forms: WordForms | None = None) -> None:
        self.text = text
        self.tokens = tokens = words(text)
        keys = set(tokens)
        if "#" in text or "@" in text:  # only then can a token carry a prefix
            keys.update([t[1:] for t in tokens if t[0] in "#@"])
        if forms is not None:
            forms.add_keys(tokens, keys)
        self.keys = keys
        self.forms = forms
        self._positions: dict[str, list[int]] | None = None

    @property
    def positions(self) -> dict[str, list[int]]:
        """Where each key occurs, by token index (a "#tag" token counts for "tag" too)."""
        positions = self._positions
        if positions is None:
            positions = self._positions = {}
            for i, token in enumerate(self.tokens):
                positions.setdefault(token, []).append(i)
                if token[0] in "#@":
                    positions.setdefault(token[1:], []).append(i)
        return positions

    def has_sequence(self, tokens: tuple[str, ...]) -> bool:
        if len(tokens) == 1:
            return tokens[0] in self.keys
        starts = self.positions.get(tokens[0])
        if not starts:
            return False
        mine = self.tokens
        for i in starts:
            if i + len(tokens) > len(mine):
                break
            if all(
                kw == mine[i + j] or kw == strip_prefix(mine[i + j])
                for j, kw in enumerate(tokens)
                if j
            ):
                return True
        return False

    def has_forms(self, sets: tuple[frozenset[str], ...]) -> bool:
        """Like :meth:`has_sequence`, each position matching any key of its set (word forms)."""
        keys = self.keys
        for wanted in sets:  # every word must occur somewhere: set lookups in C, before any scan
            if wanted.isdisjoint(keys):
                return False
        n = len(sets)
        if n == 1:
            return True
        mine, forms, first = self.tokens, self.forms, sets[0]
        for i in range(len(mine) - n + 1):
            if _token_in(mine[i], first, forms):
                for j in range(1, n):
                    if not _token_in(mine[i + j], sets[j], forms):
                        break
                else:
                    return True
        return False


def _token_in(token: str, wanted: frozenset[str], forms: WordForms | None) -> bool:
    if token in wanted or strip_prefix(token) in wanted:
        return True
    return forms is not None and not wanted.isdisjoint(forms.relevant_keys(token))


@dataclass(frozen=True)
class Term:
    """A keyword or phrase, normalized: its word tokens and its text.

    ``needs_text`` is set when tokens alone would lose something the author wrote
    ("c++", "don't") or when there are no word tokens at all (an emoji): then the
    normalized keyword must also occur in the normalized text.

    ``forms`` (word forms on) holds, per token, the token and its form keys in every
    language ("shipping" -> {"shipping", "en:ship", ...}); empty when the term must
    match as written (word forms off, case-sensitive rules, hashtags, "c++").
    """

    source: str
    tokens: tuple[str, ...]
    text: str
    needs_text: bool
    forms: tuple[frozenset[str], ...] = ()

    @classmethod
    def of(cls, keyword: str, case_sensitive: bool, forms: WordForms | None = None) -> Term:
        text = clean(keyword) if case_sensitive else normalize(keyword)
        tokens = tuple(words(text))
        needs_text = not tokens or "".join(tokens) != text.replace(" ", "")
        sets: tuple[frozenset[str], ...] = ()
        if forms is not None and not case_sensitive and not needs_text:
            # The word itself need not be in its set: as written in a message, it has the same
            # form keys. A hashtag or mention keyword stays exact.
            sets = tuple(frozenset({t}) if t[0] in "#@" else frozenset(forms.keys(t)) for t in tokens)
        return cls(keyword, tokens, text, needs_text, sets)

    def matches_view(self, view: TextView) -> bool:
        if self.forms:
            return view.has_forms(self.forms)
        if self.tokens and not view.has_sequence(self.tokens):
            return False
        return not self.needs_text or self.text in view.text

    @property
    def trigger(self) -> str | None:
        """The token to file this term under in the index (its longest), if it has tokens."""
        return max(self.tokens, key=len) if self.tokens else None

    @property
    def triggers(self) -> tuple[str, ...]:
        """The keys to file this term under: its longest token and, with word forms, its form keys."""
        if not self.tokens:
            return ()
        longest = max(range(len(self.tokens)), key=lambda i: len(self.tokens[i]))
        return tuple(sorted(self.forms[longest])) if self.forms else (self.tokens[longest],)


@dataclass(frozen=True)
class MatchSpec:
    """The compiled ``match:`` of a rule. ``matches(text)`` evaluates it on raw text."""

    any: tuple[Term, ...] = ()
    all: tuple[Term, ...] = ()
    phrase: Term | None = None
    regex: RuleRegex | None = None  # RE2: linear in the text
    not_: tuple[Term, ...] = ()
    case_sensitive: bool = False
    intent: str | None = None  # decided by the intent model, per event (see RuleBook.hits)
    forms: WordForms | None = field(default=None, compare=False)  # word forms on: the stemmers

    @property
    def has_keywords(self) -> bool:
        """Whether any keyword condition is given (besides ``not``): else only the intent decides."""
        return bool(self.any or self.all or self.phrase is not None or self.regex is not None)

    def prepare(self, text: str) -> str:
        """The form of the text this spec matches against (normalized or cleaned)."""
        return clean(text) if self.case_sensitive else normalize(text)

    def matches(self, text: str) -> bool:
        """The keyword conditions on raw text (an ``intent`` needs the model: see RuleBook.hits)."""
        return self.matches_view(TextView(self.prepare(text), self.forms))

    def excluded(self, view: TextView) -> bool:
        """One of the ``not`` terms occurs (they always match as written, without word forms)."""
        return any(t.matches_view(view) for t in self.not_)

    def matches_view(self, view: TextView) -> bool:
        if self.any and not any(t.matches_view(view) for t in self.any):
            return False
        if not all(t.matches_view(view) for t in self.all):
            return False
        if self.phrase is not None and not self.phrase.matches_view(view):
            return False
        if self.regex is not None and self.regex.search(view.text) is None:
            return False
        return not any(t.matches_view(view) for t in self.not_)


__all__ = ["MatchSpec", "Term", "TextView"]
