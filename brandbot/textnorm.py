"""Text normalization shared by rule keywords and incoming messages.

Keywords and messages go through the *same* functions, so "CAFÉ", "Café" and "cafe"
all meet as "cafe", whatever keyboard, phone or network produced them. Matching is
then plain string and token comparison, which keeps the rule index simple and fast.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

#: Invisible characters that phones and copy-paste sprinkle into text; they would split
#: or glue words without anyone seeing it. Soft hyphen included.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"), None)

#: Typographic punctuation mapped to the ASCII a keyword author would type.
_TYPOGRAPHIC = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u02bc": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
    }
)

#: Letters that casefolding leaves alone but that people treat as an accented variant
#: (Turkish dotless i). Folding them also keeps regex prefilters exact: after this, every
#: character that ``re.IGNORECASE`` equates with an ASCII letter is that ASCII letter.
_FOLD_EXTRA = str.maketrans({"\u0131": "i"})

_SPACES = re.compile(r"\s+")


def _mark_class() -> str:
    """A regex character class body for all combining marks (categories Mn, Mc, Me).

    Python's ``\\w`` does not include marks, so without them words in scripts such as
    Devanagari would be cut in pieces. Marks live in planes 0, 1 and 14 only.
    """
    ranges: list[tuple[int, int]] = []
    for block in (range(0x0300, 0x20000), range(0xE0100, 0xE01F0)):
        for cp in block:
            if unicodedata.category(chr(cp)).startswith("M"):
                if ranges and ranges[-1][1] == cp - 1:
                    ranges[-1] = (ranges[-1][0], cp)
                else:
                    ranges.append((cp, cp))
    return "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
        for a, b in ranges
    )


_WORD = re.compile(rf"[#@]?[\w{_mark_class()}]+")
del _mark_class


def _collapse(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def normalize(text: str) -> str:
    """Casefold, strip accents, drop invisible characters and collapse whitespace.

    "  Ça   VA\u200b? " -> "ca va?". Compatibility forms are unified as well (NFKD), so
    full-width letters and ligatures match their plain spelling.
    """
    if text.isascii():  # the common case: nothing to decompose, fold or translate
        return _collapse(text.lower())
    text = unicodedata.normalize("NFKD", text.translate(_INVISIBLE)).casefold()
    text = unicodedata.normalize("NFKD", text)  # casefold can produce decomposable letters
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    # Typographic marks last: compatibility decomposition can produce them ("﹘" -> "—").
    text = unicodedata.normalize("NFC", text).translate(_TYPOGRAPHIC).translate(_FOLD_EXTRA)
    return _collapse(text)


@lru_cache(maxsize=256)
def normalize_all(phrases: tuple[str, ...]) -> tuple[str, ...]:
    """``normalize`` each of a fixed list of phrases (settings), computed once per list."""
    return tuple(normalize(p) for p in phrases)


def clean(text: str) -> str:
    """The case- and accent-preserving variant of :func:`normalize`, for case-sensitive rules.

    Canonical composition (NFC) still makes a precomposed "é" equal to "e" + combining acute.
    """
    text = unicodedata.normalize("NFC", text.translate(_INVISIBLE))
    return _collapse(text.translate(_TYPOGRAPHIC))


def words(normalized: str) -> list[str]:
    """Word tokens of already-normalized text: letters, digits, marks and '_'.

    A leading '#' or '@' stays part of the token ("#booktour", "@brand"), so a rule can
    ask for the hashtag specifically. Everything else (punctuation, emoji) separates words.
    """
    return _WORD.findall(normalized)


def strip_prefix(token: str) -> str:
    """ "#booktour" -> "booktour"; tokens without a hashtag/mention prefix are returned as is."""
    return token[1:] if token[:1] in ("#", "@") else token


__all__ = ["clean", "normalize", "strip_prefix", "words"]
