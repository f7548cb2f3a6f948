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
    """The form keys of words in a fixed set of languages, with a memory of recent tokens.

    :meth:`only` gives a view that adds to a text's keys only the form keys some rule
    uses: most words of a message then cost one dict lookup and add nothing.
    """

    __slots__ = ("_memory", "_relevant", "_seen", "_stemmers", "_useful", "_with_keys", "languages")

    def __init__(self, languages: Sequence[str]) -> None:
        unknown = [code for code in languages if code not in ALGORITHMS]
        if unknown:
            raise ValueError(f"no stemmer for language {unknown[0]!r}; known: {', '.join(sorted(ALGORITHMS))}")
        self.languages: tuple[str, ...] = tuple(dict.fromkeys(languages))
        self._stemmers = tuple((code, Stemmer.Stemmer(ALGORITHMS[code])) for code in self.languages)
        self._memory: dict[str, tuple[str, ...]] = {}
        self._relevant: frozenset[str] | None = None
        self._useful: dict[str, tuple[str, ...]] = {}  # token -> its relevant keys, if it has any
        self._seen: set[str] = set()  # tokens whose relevant keys are known (most have none)
        self._with_keys: set[str] = set()  # the tokens of ``_useful``, as a set

    def only(self, relevant: frozenset[str]) -> WordForms:
        """The same stemmers (and memory), adding only the form keys in ``relevant`` to texts."""
        view = WordForms.__new__(WordForms)
        view.languages, view._stemmers, view._memory = self.languages, self._stemmers, self._memory
        view._relevant, view._useful, view._seen, view._with_keys = relevant, {}, set(), set()
        return view

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
        """Add the form keys of every token to ``into`` (a text view's key set, holding the tokens).

        A restricted view (:meth:`only`) works with set operations in C: the tokens not
        seen before are stemmed once, and only those with a relevant key cost more.
        """
        relevant = self._relevant
        if relevant is None:
            memory = self._memory
            for token in tokens:
                known = memory.get(token)
                into.update(known if known is not None else self.keys(token))
            return
        seen, useful = self._seen, self._useful
        if not into <= seen:  # a word not met before (rarely, once the vocabulary is known)
            fresh = into - seen
            if len(seen) >= _MEMORY:
                seen.clear()
                useful.clear()
                self._with_keys.clear()
            for token in fresh:
                found = tuple(key for key in self.keys(token) if key in relevant)
                if found:
                    useful[token] = found
                    self._with_keys.add(token)
            seen.update(fresh)
        for token in into & self._with_keys:  # set & set: CPython walks the smaller one
            into.update(useful[token])

    def relevant_keys(self, token: str) -> tuple[str, ...]:
        """The form keys of a token of a text that went through :meth:`add_keys` (the relevant
        ones only, for a restricted view)."""
        if self._relevant is None:
            return self.keys(token)
        found = self._useful.get(token)
        if found is None and token not in self._seen:  # forgotten since (the memory started over)
            found = tuple(key for key in self.keys(token) if key in self._relevant)
        return found or ()

    def also_matches(self, keyword_keys: Iterable[str], vocabulary: Iterable[str]) -> list[str]:
        """Words of ``vocabulary`` that share a form key with the keyword (for ``brandbot check``)."""
        wanted = set(keyword_keys)
        return sorted({w for w in vocabulary if wanted.intersection(self.keys(w))})


__all__ = ["ALGORITHMS", "WordForms"]
