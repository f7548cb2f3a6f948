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
_INVISIBLE_CHARS = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"
_INVISIBLE = dict.fromkeys(map(ord, _INVISIBLE_CHARS), None)
#: The same as a pattern: ``str.translate`` looks up every character of non-ASCII text
#: in a dict, a regex tests it against a bitmap, several times faster.
_INVISIBLE_RE = re.compile(f"[{_INVISIBLE_CHARS}]+")

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

#: ``_TYPOGRAPHIC`` then ``_FOLD_EXTRA`` in one pass (the first only produces ASCII).
_FINAL = {**_TYPOGRAPHIC, **_FOLD_EXTRA}
#: Any character ``_FINAL`` changes: texts without one (nearly all) skip the translation.
_FINAL_RE = re.compile("[" + "".join(map(chr, _FINAL)) + "]")

#: Where combining marks live: planes 0 and 1 below U+20000, and the variation selectors
#: supplement of plane 14. ``tests/test_textnorm.py`` checks no mark lies outside.
_MARK_BLOCKS = (range(0x0300, 0x20000), range(0xE0100, 0xE01F0))


def _ranges(codepoints: list[int]) -> str:
    """A regex character class body for sorted code points, as runs ``a-z``."""
    runs: list[tuple[int, int]] = []
    for cp in codepoints:
        if runs and runs[-1][1] == cp - 1:
            runs[-1] = (runs[-1][0], cp)
        else:
            runs.append((cp, cp))
    return "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in runs
    )


def _mark_tables() -> tuple[str, str, str, str]:
    """Class bodies for the combining marks (categories Mn, Mc, Me) and for the characters
    with a non-zero canonical combining class (what accent stripping removes), each split
    into those inside and outside the Basic Multilingual Plane. One scan of the blocks.
    """
    marks: list[int] = []
    combining: list[int] = []
    for block in _MARK_BLOCKS:
        for cp in block:
            ch = chr(cp)
            if unicodedata.category(ch).startswith("M"):
                marks.append(cp)
                if unicodedata.combining(ch):
                    combining.append(cp)
    return (
        _ranges([cp for cp in marks if cp <= 0xFFFF]),
        _ranges([cp for cp in marks if cp > 0xFFFF]),
        _ranges([cp for cp in combining if cp <= 0xFFFF]),
        _ranges([cp for cp in combining if cp > 0xFFFF]),
    )


# ``re`` turns a class of BMP characters into a lookup table but tests characters beyond
# the BMP range by range (hundreds of ranges here), so those sit behind a one-range guard.
_ASTRAL = "(?=[\U00010000-\U0010ffff])"
_BMP_MARKS, _ASTRAL_MARKS, _BMP_COMBINING, _ASTRAL_COMBINING = _mark_tables()
#: A word: letters, digits, '_' and marks (Python's ``\w`` lacks marks, so words in
#: scripts such as Devanagari would be cut in pieces). ASCII word characters are listed
#: so that they hit the lookup table first.
_WORD = re.compile(rf"[#@]?(?:[0-9A-Z_a-z\w{_BMP_MARKS}]|{_ASTRAL}[{_ASTRAL_MARKS}])+")
#: The same tokens for ASCII text, which has no marks; a small class is several times faster.
_WORD_ASCII = re.compile(r"[#@]?\w+")
#: Accents and other combining characters, removed after decomposition.
_COMBINING = re.compile(f"[{_BMP_COMBINING}]+|{_ASTRAL}[{_ASTRAL_COMBINING}]+")
del _BMP_MARKS, _ASTRAL_MARKS, _BMP_COMBINING, _ASTRAL_COMBINING


def _collapse(text: str) -> str:
    """Runs of whitespace become one space, none at the ends.

    ``str.split()`` and the regex ``\\s`` agree on what whitespace is (both use
    ``str.isspace``), and splitting is several times faster than a substitution.
    """
    return " ".join(text.split())


def normalize(text: str) -> str:
    """Casefold, strip accents, drop invisible characters and collapse whitespace.

    "  Ça   VA\u200b? " -> "ca va?". Compatibility forms are unified as well (NFKD), so
    full-width letters and ligatures match their plain spelling.
    """
    if text.isascii():  # the common case: nothing to decompose, fold or translate
        return _collapse(text.lower())
    text = unicodedata.normalize("NFKD", _INVISIBLE_RE.sub("", text)).casefold()
    text = unicodedata.normalize("NFKD", text)  # casefold can produce decomposable letters
    text = unicodedata.normalize("NFC", _COMBINING.sub("", text))
    # Typographic marks last: compatibility decomposition can produce them ("﹘" -> "—").
    if _FINAL_RE.search(text):
        text = text.translate(_FINAL)
    return _collapse(text)


@lru_cache(maxsize=256)
def normalize_all(phrases: tuple[str, ...]) -> tuple[str, ...]:
    """``normalize`` each of a fixed list of phrases (settings), computed once per list."""
    return tuple(normalize(p) for p in phrases)


def clean(text: str) -> str:
    """The case- and accent-preserving variant of :func:`normalize`, for case-sensitive rules.

    Canonical composition (NFC) still makes a precomposed "é" equal to "e" + combining acute.
    """
    text = unicodedata.normalize("NFC", _INVISIBLE_RE.sub("", text))
    if _FINAL_RE.search(text):  # a superset of the typographic marks: worth a translation
        text = text.translate(_TYPOGRAPHIC)
    return _collapse(text)


def words(normalized: str) -> list[str]:
    """Word tokens of already-normalized text: letters, digits, marks and '_'.

    A leading '#' or '@' stays part of the token ("#booktour", "@brand"), so a rule can
    ask for the hashtag specifically. Everything else (punctuation, emoji) separates words.
    """
    return (_WORD_ASCII if normalized.isascii() else _WORD).findall(normalized)


def strip_prefix(token: str) -> str:
    """ "#booktour" -> "booktour"; tokens without a hashtag/mention prefix are returned as is."""
    return token[1:] if token[:1] in ("#", "@") else token


__all__ = ["clean", "normalize", "strip_prefix", "words"]
