"""Word forms: "ship", "shipping" and "shipped" meet as one stem, per language.

Keywords are stemmed once, when rules are compiled; a message's tokens are stemmed once
per event (and remembered across events, since people reuse the same few thousand
words). A stem is kept as a *form key* ``"en:ship"``: the language's code, a colon and
the Snowball stem. Tokens never contain a colon, so a form key can share a set with the
plain tokens of a text, and stems of different languages never meet by accident.

The stemmers are the Snowball algorithms (PyStemmer): pure computation, no data files.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import Stemmer

#: Language codes (ISO 639-1) and their Snowball algorithm.
ALGORITHMS: dict[str, str] = {
    "ar": "arabic", "ca": "catalan", "cs": "czech", "da": "danish", "de": "german", "el": "greek",
    "en": "english", "es": "spanish", "eu": "basque", "fi": "finnish", "fr": "french",
    "hu": "hungarian", "id": "indonesian", "it": "italian", "lt": "lithuanian", "nl": "dutch",
    "no": "norwegian", "pl": "polish", "pt": "portuguese", "ro": "romanian", "ru": "russian",
    "sv": "swedish", "tr": "turkish",
}

#: How many distinct tokens a WordForms remembers before starting over (a few MB at most).
_MEMORY = 50_000


class WordForms:
    """The form keys of words in a fixed set of languages, with a memory of recent tokens."""

    __slots__ = ("_memory", "_stemmers", "languages")

    def __init__(self, languages: Sequence[str]) -> None:
        unknown = [code for code in languages if code not in ALGORITHMS]
        if unknown:
            raise ValueError(f"no stemmer for language {unknown[0]!r}; known: {', '.join(sorted(ALGORITHMS))}")
        self.languages: tuple[str, ...] = tuple(dict.fromkeys(languages))
        self._stemmers = tuple((code, Stemmer.Stemmer(ALGORITHMS[code])) for code in self.languages)
        self._memory: dict[str, tuple[str, ...]] = {}

    def keys(self, token: str) -> tuple[str, ...]:
        """The form keys of one normalized token ("shipping" -> ("en:ship", "de:shipping"))."""
        known = self._memory.get(token)
        if known is None:
            word = token[1:] if token[:1] in ("#", "@") else token
            known = tuple(dict.fromkeys(f"{code}:{stemmer.stemWord(word)}" for code, stemmer in self._stemmers))
            if len(self._memory) >= _MEMORY:
                self._memory.clear()
            self._memory[token] = known
        return known

    def add_keys(self, tokens: Iterable[str], into: set[str]) -> None:
        """Add the form keys of every token to ``into`` (a text view's key set)."""
        memory = self._memory
        for token in tokens:
            known = memory.get(token)
            into.update(known if known is not None else self.keys(token))

    def also_matches(self, keyword_keys: Iterable[str], vocabulary: Iterable[str]) -> list[str]:
        """Words of ``vocabulary`` that share a form key with the keyword (for ``brandbot check``)."""
        wanted = set(keyword_keys)
        return sorted({w for w in vocabulary if wanted.intersection(self.keys(w))})


__all__ = ["ALGORITHMS", "WordForms"]
