"""What the bot reads in one message: its language, its mood and its intent, each lazily.

Rules and plugins ask a :class:`Reading` (``ctx.reading``) for what they need; each fact
is worked out the first time somebody asks, at most once per event, by a
:class:`Reader`. Most events never need any of them (reposts, follows, commands, a
keyword rule that answered first), and those cost nothing. The readers themselves
(language detection, sentiment lexicons, the embedding model) live outside the core in
``brandbot.understanding``; the core only knows this small protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

#: The moods a rule can ask for with ``when: {sentiment: ...}``.
MOODS = ("negative", "neutral", "positive")


#: A rule's keyword hit stands against another intent found by the model unless that
#: intent is more similar than the rule's own by more than this (see ``IntentHit.outweighs``).
KEYWORD_MARGIN = 0.1


@dataclass(frozen=True, slots=True)
class IntentHit:
    """The intent a message was found to have, how similar it was to that intent's closest
    example, and its similarity to every intent (``scores``, by name)."""

    name: str
    score: float
    scores: tuple[tuple[str, float], ...] = ()

    def outweighs(self, other: str, margin: float = KEYWORD_MARGIN) -> bool:
        """Whether this intent clearly beats ``other`` (a rule's own intent whose keyword hit)."""
        if other == self.name:
            return False
        theirs = dict(self.scores).get(other)
        return theirs is None or self.score - theirs > margin


class Reader(Protocol):
    """Reads texts; pure functions of the text as far as the caller can tell."""

    def language(self, text: str) -> str:
        """The language code of ``text`` ("en", "de"), or "" if it cannot tell."""

    def sentiment(self, text: str, language: str) -> float:
        """-1 (very negative) .. +1 (very positive); 0 when it cannot tell."""

    def mood(self, score: float) -> str:
        """One of MOODS for a sentiment score (the thresholds are the reader's configuration)."""

    def intent(self, text: str, language: str) -> IntentHit | None:
        """The intent of ``text`` above its threshold, or None (``language`` may be "": unknown)."""


class PlainReader:
    """The reader when nothing is configured: no language, neutral, no intent."""

    def language(self, text: str) -> str:
        return ""

    def sentiment(self, text: str, language: str) -> float:
        return 0.0

    def mood(self, score: float) -> str:
        return "neutral"

    def intent(self, text: str, language: str) -> IntentHit | None:
        return None


_UNSET: object = object()


class Reading:
    """One message as read, each fact computed once, on first use.

    ``known_language`` is the person's language from earlier messages (or a function that
    looks it up, called only if needed): the fallback for texts too short to tell ("ok").
    """

    __slots__ = ("_detected", "_intent", "_known", "_language", "_reader", "_sentiment", "text")

    def __init__(self, text: str, reader: Reader, known_language: str | Callable[[], str] = "") -> None:
        self.text = text
        self._known = known_language
        self._reader = reader
        self._language: str | None = None
        self._detected = ""
        self._sentiment: float | None = None
        self._intent: object = _UNSET

    def settle(self) -> None:
        """Keep only what a reading remembered after its event needs (its language and mood).

        The person's known language is looked up now, which drops the lookup function and
        what it holds, and a found intent (with its score for every intent) is dropped
        (asked again, it is worked out again: same text, same answer).
        """
        if not isinstance(self._known, str):
            self._known = self.known_language
        self._intent = _UNSET

    @property
    def known_language(self) -> str:
        known = self._known
        return known if isinstance(known, str) else known()

    @property
    def language(self) -> str:
        """The message's language, else the person's known one, else ""."""
        if self._language is None:
            self._detected = self._reader.language(self.text) if self.text else ""
            self._language = self._detected or self.known_language
        return self._language

    @property
    def detected_language(self) -> str:
        """The language found in this message itself, if someone asked for it ("" if not asked or unsure)."""
        return self._detected

    @property
    def sentiment(self) -> float:
        if self._sentiment is None:
            self._sentiment = self._reader.sentiment(self.text, self.language) if self.text else 0.0
        return self._sentiment

    @property
    def mood(self) -> str:
        """"negative", "neutral" or "positive"."""
        return self._reader.mood(self.sentiment)

    @property
    def negative(self) -> bool:
        return self.mood == "negative"

    @property
    def intent(self) -> IntentHit | None:
        if self._intent is _UNSET:
            self._intent = self._reader.intent(self.text, self._language or "") if self.text.strip() else None
        return self._intent  # type: ignore[return-value]

    @property
    def intent_name(self) -> str | None:
        hit = self.intent
        return hit.name if hit is not None else None


__all__ = ["KEYWORD_MARGIN", "MOODS", "IntentHit", "PlainReader", "Reader", "Reading"]
