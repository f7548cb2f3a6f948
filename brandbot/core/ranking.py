"""Text relevance for short documents: BM25F over a few weighted fields (pure).

Used to answer "where can I learn to self-publish?" with the best few entries of a small
library (titles, tags, descriptions). The model is Okapi BM25 extended to fields (BM25F,
Robertson & Zaragoza, "The Probabilistic Relevance Framework", 2009, simple variant):

- each field's term frequency is length-normalised on its own, weighted and summed::

      tf~(t, d) = sum over fields f of  w_f * tf(t, d, f) / ((1 - b) + b * len(d, f) / avglen(f))

- the pseudo frequency is saturated once and multiplied by the term's rarity::

      score(d, q) = sum over distinct terms t of q of  idf(t) * tf~ / (k1 + tf~)
      idf(t)      = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))

  with k1 = 1.2 and b = 0.75. This idf (the Lucene form) is never negative, so a word
  that appears in most documents adds little but never subtracts. A word repeated in
  the query counts once: "book book book" asks no more than "book".

Default field weights are title 3, tags 2, description 1: a word in the title says more
about a document than the same word in its description.

Words are found as everywhere else in brandbot (:func:`brandbot.core.textnorm.normalize` and
:func:`~brandbot.core.textnorm.words`: case- and accent-insensitive, '#'/'@' prefixes dropped),
minus a short list of English stopwords, then lightly stemmed with the first and last
steps of Porter's algorithm (plural and -ed/-ing endings, final -y and -e), so
"publishing", "published" and "publish" meet, as do "guides"/"guide" and
"stories"/"story". Only words of plain ASCII letters are stemmed; others (other scripts,
numbers) are kept as written and still match exactly.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from brandbot.core.textnorm import normalize, strip_prefix, words

K1 = 1.2
B = 0.75
DEFAULT_WEIGHTS: Mapping[str, float] = {"title": 3.0, "tags": 2.0, "description": 1.0}

#: Function words that say nothing about what someone is looking for, the pieces
#: contractions leave behind ("café's", "don't") and the verbs of asking ("find", "need").
#: Kept short on purpose: "help", "tips" or "guide" stay searchable (rare ones still carry
#: weight).
_STOPWORD_TEXT = """
    a about am an and any anyone are as at be been being but by can could did do does doing
    for from get got had has have having he her here hers him his how i if in into is it
    its just me might my no nor not of on or our ours out please she should so some someone
    something than that the their them then there these they this those to too up us very
    was we were what when where which who whom why will with would you your yours
    hi hello hey thanks thank
    s t d ll m re ve
    find need want know like looking
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

_VOWELS = frozenset("aeiou")


# -- analysis --------------------------------------------------------------------------------


def analyze(text: str) -> list[str]:
    """The index terms of ``text``, in order: normalised, stopwords dropped, stemmed."""
    terms: list[str] = []
    for token in words(normalize(text)):
        token = strip_prefix(token)
        if not token or token in STOPWORDS:
            continue
        terms.append(stem(token))
    return terms


def stem(word: str) -> str:
    """Porter's steps 1a, 1b, 1c and 5a: "groups"->"group", "writing"->"write", "guides"->"guid".

    Light on purpose: it only removes endings that rarely change a word's meaning.
    Words that are not plain ASCII letters (names in other scripts, numbers) are returned
    unchanged, and a final "s" stays on words of three letters ("bus", "yes").
    """
    if len(word) <= 2 or not (word.isascii() and word.isalpha()):
        return word
    if len(word) > 3:
        word = _step_1a(word)
    word = _step_1b(word)
    word = _step_1c(word)
    return _step_5a(word)


def _is_consonant(word: str, i: int) -> bool:
    letter = word[i]
    if letter in _VOWELS:
        return False
    if letter == "y":
        return i == 0 or not _is_consonant(word, i - 1)
    return True


def _measure(stem_: str) -> int:
    """Porter's m: the number of vowel-consonant sequences in [C](VC)^m[V]."""
    m = 0
    previous_vowel = False
    for i in range(len(stem_)):
        vowel = not _is_consonant(stem_, i)
        if previous_vowel and not vowel:
            m += 1
        previous_vowel = vowel
    return m


def _has_vowel(stem_: str) -> bool:
    return any(not _is_consonant(stem_, i) for i in range(len(stem_)))


def _ends_double_consonant(stem_: str) -> bool:
    return len(stem_) >= 2 and stem_[-1] == stem_[-2] and _is_consonant(stem_, len(stem_) - 1)


def _ends_cvc(stem_: str) -> bool:
    """Consonant-vowel-consonant at the end, the last not w, x or y ("hop", not "snow")."""
    if len(stem_) < 3:
        return False
    n = len(stem_)
    return (
        _is_consonant(stem_, n - 3)
        and not _is_consonant(stem_, n - 2)
        and _is_consonant(stem_, n - 1)
        and stem_[-1] not in "wxy"
    )


def _step_1a(word: str) -> str:
    if word.endswith("sses"):
        return word[:-2]
    if word.endswith("ies"):
        return word[:-2]
    if word.endswith("ss"):
        return word
    if word.endswith("s"):
        return word[:-1]
    return word


def _step_1b(word: str) -> str:
    # The longest matching ending decides, even when its condition then fails ("need").
    if word.endswith("eed"):
        return word[:-1] if _measure(word[:-3]) > 0 else word
    for ending in ("ed", "ing"):
        if word.endswith(ending):
            base = word[: -len(ending)]
            return _after_1b(base) if _has_vowel(base) else word
    return word


def _after_1b(base: str) -> str:
    if base.endswith(("at", "bl", "iz")):
        return base + "e"
    if _ends_double_consonant(base) and base[-1] not in "lsz":
        return base[:-1]
    if _measure(base) == 1 and _ends_cvc(base):
        return base + "e"
    return base


def _step_1c(word: str) -> str:
    if word.endswith("y") and _has_vowel(word[:-1]):
        return word[:-1] + "i"
    return word


def _step_5a(word: str) -> str:
    if not word.endswith("e"):
        return word
    base = word[:-1]
    m = _measure(base)
    if m > 1 or (m == 1 and not _ends_cvc(base)):
        return base
    return word


# -- the index -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Doc:
    """One searchable document: a stable id and its text fields (e.g. title, tags, description)."""

    id: str
    fields: Mapping[str, str]


@dataclass(frozen=True, slots=True, order=True)
class Hit:
    """A document that matched a query, with its BM25F score (higher is more relevant)."""

    id: str
    score: float


@dataclass(frozen=True)
class Index:
    """An immutable BM25F index. Build it once per library; search it many times."""

    ids: tuple[str, ...]
    #: term -> ((document position, saturated-ready pseudo frequency tf~), ...)
    postings: Mapping[str, tuple[tuple[int, float], ...]] = field(repr=False)
    k1: float = K1

    @classmethod
    def build(
        cls,
        docs: Sequence[Doc],
        *,
        weights: Mapping[str, float] = DEFAULT_WEIGHTS,
        k1: float = K1,
        b: float = B,
    ) -> Index:
        """Index ``docs``. Fields not named in ``weights`` are ignored; ids must be unique."""
        if k1 <= 0 or not 0 <= b <= 1:
            raise ValueError(f"BM25 needs k1 > 0 and 0 <= b <= 1 (got k1={k1}, b={b})")
        bad = {name: w for name, w in weights.items() if not w >= 0}
        if bad:
            raise ValueError(f"field weights must be zero or more, got {bad}")
        ids = tuple(d.id for d in docs)
        repeated = sorted(i for i, n in Counter(ids).items() if n > 1)
        if repeated:
            raise ValueError(f"document ids must be unique; repeated: {', '.join(repeated)}")
        analyzed = [{name: analyze(d.fields.get(name, "")) for name in weights} for d in docs]
        average = {
            name: (sum(len(a[name]) for a in analyzed) / len(analyzed)) if analyzed else 0.0
            for name in weights
        }
        pseudo: dict[str, dict[int, float]] = {}
        for position, fields_terms in enumerate(analyzed):
            for name, terms in fields_terms.items():
                if not terms or weights[name] == 0:
                    continue
                norm = (1 - b) + b * len(terms) / average[name] if average[name] else 1.0
                for term in terms:
                    per_doc = pseudo.setdefault(term, {})
                    per_doc[position] = per_doc.get(position, 0.0) + weights[name] / norm
        postings = {term: tuple(sorted(per_doc.items())) for term, per_doc in pseudo.items()}
        return cls(ids, postings, k1)

    def __len__(self) -> int:
        return len(self.ids)

    def idf(self, term: str) -> float:
        """Rarity of an (analysed) term: high for words few documents have; never negative."""
        n = len(self.ids)
        df = len(self.postings.get(term, ()))
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def scores(self, query: str) -> dict[str, float]:
        """BM25F score of every document that shares at least one term with ``query``."""
        totals: dict[int, float] = {}
        for term in dict.fromkeys(analyze(query)):  # distinct, in query order
            postings = self.postings.get(term)
            if not postings:
                continue
            idf = self.idf(term)
            for position, tf in postings:
                totals[position] = totals.get(position, 0.0) + idf * tf / (self.k1 + tf)
        return {self.ids[p]: s for p, s in totals.items()}

    def search(self, query: str, limit: int = 3, min_score: float = 0.0) -> list[Hit]:
        """The best ``limit`` documents scoring at least ``min_score`` (and above zero).

        Sorted by score, highest first; equal scores by id, so results never depend on
        the order documents were given in.
        """
        if limit < 0:
            raise ValueError(f"limit must be zero or more, got {limit}")
        hits = [Hit(i, s) for i, s in self.scores(query).items() if s > 0 and s >= min_score]
        hits.sort(key=lambda h: (-h.score, h.id))
        return hits[:limit]


__all__ = ["DEFAULT_WEIGHTS", "K1", "STOPWORDS", "B", "Doc", "Hit", "Index", "analyze", "stem"]
