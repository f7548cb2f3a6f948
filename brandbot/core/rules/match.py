"""A rule's compiled ``match:``: keywords and phrases as token sequences, and a regex.

They are evaluated on a :class:`TextView`, one per text form per event, which holds the
tokens once so that every rule reads the same view.
"""

from __future__ import annotations

from dataclasses import dataclass

from brandbot.core.rules.regex import RuleRegex
from brandbot.core.textnorm import clean, normalize, strip_prefix, words


class TextView:
    """One text as the matcher sees it: the string, its tokens and the set of token keys.

    ``keys`` holds every token and, for "#tag"/"@name" tokens, also the bare word: one
    set lookup answers "does this keyword occur?". Token positions, needed only to check
    phrases, are built when first asked for.
    """

    __slots__ = ("_positions", "keys", "text", "tokens")

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokens = words(text)
        keys = set(tokens)
        if "#" in text or "@" in text:  # only then can a token carry a prefix
            keys.update([t[1:] for t in tokens if t[0] in "#@"])
        self.keys = keys
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


@dataclass(frozen=True)
class Term:
    """A keyword or phrase, normalized: its word tokens and its text.

    ``needs_text`` is set when tokens alone would lose something the author wrote
    ("c++", "don't") or when there are no word tokens at all (an emoji): then the
    normalized keyword must also occur in the normalized text.
    """

    source: str
    tokens: tuple[str, ...]
    text: str
    needs_text: bool

    @classmethod
    def of(cls, keyword: str, case_sensitive: bool) -> Term:
        text = clean(keyword) if case_sensitive else normalize(keyword)
        tokens = tuple(words(text))
        needs_text = not tokens or "".join(tokens) != text.replace(" ", "")
        return cls(keyword, tokens, text, needs_text)

    def matches_view(self, view: TextView) -> bool:
        if self.tokens and not view.has_sequence(self.tokens):
            return False
        return not self.needs_text or self.text in view.text

    @property
    def trigger(self) -> str | None:
        """The token to file this term under in the index (its longest), if it has tokens."""
        return max(self.tokens, key=len) if self.tokens else None


@dataclass(frozen=True)
class MatchSpec:
    """The compiled ``match:`` of a rule. ``matches(text)`` evaluates it on raw text."""

    any: tuple[Term, ...] = ()
    all: tuple[Term, ...] = ()
    phrase: Term | None = None
    regex: RuleRegex | None = None  # RE2: linear in the text
    not_: tuple[Term, ...] = ()
    case_sensitive: bool = False

    def prepare(self, text: str) -> str:
        """The form of the text this spec matches against (normalized or cleaned)."""
        return clean(text) if self.case_sensitive else normalize(text)

    def matches(self, text: str) -> bool:
        return self.matches_view(TextView(self.prepare(text)))

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
