"""The fast paths of text normalization give exactly what the straightforward code gives.

``brandbot.core.textnorm`` avoids per-character Python loops and slow character classes; these
tests compare it with the plain definitions (decompose, drop combining characters one
by one, translate, collapse whitespace with a regex) on generated and tricky texts.
"""

from __future__ import annotations

import re
import sys
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from brandbot.core import textnorm
from brandbot.core.textnorm import clean, normalize, words

INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"), None)
SPACES = re.compile(r"\s+")


def ref_collapse(text: str) -> str:
    return SPACES.sub(" ", text).strip()


def ref_normalize(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.translate(INVISIBLE)).casefold()
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = unicodedata.normalize("NFC", text)
    return ref_collapse(text.translate(textnorm._TYPOGRAPHIC).translate(textnorm._FOLD_EXTRA))


def ref_clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text.translate(INVISIBLE))
    return ref_collapse(text.translate(textnorm._TYPOGRAPHIC))


def _marks() -> str:
    return "".join(
        re.escape(chr(cp))
        for cp in range(sys.maxunicode + 1)
        if unicodedata.category(chr(cp)).startswith("M")
    )


REF_WORD = re.compile(rf"[#@]?[\w{_marks()}]+")

#: Characters the fast paths treat specially, mixed into generated text.
SPECIAL = (
    "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"  # invisible
    "\u2018\u2019\u02bc\u201c\u201d\u2013\u2014\u0131"  # typographic, dotless i
    "\u00a0\u2003\u3000\x1c\x1f\u0085\u2028\t\n\r\x0b\x0c "  # whitespace of all kinds
    "\u0301\u0308\u093f\u094d\u0903\u20dd\ufe0f\U0001d167\U000110b9\U000e0100"  # marks
    "éÉçÇœﬁＡａİß#@_'-❤😂🔥"
)
texts = st.text(alphabet=st.characters(), max_size=40) | st.text(
    alphabet=st.sampled_from(SPECIAL + "abc XYZ09"), max_size=40
)


@settings(max_examples=500, deadline=None)
@given(texts)
def test_normalize_equals_the_plain_definition(text: str) -> None:
    assert normalize(text) == ref_normalize(text)


@settings(max_examples=300, deadline=None)
@given(texts)
def test_clean_equals_the_plain_definition(text: str) -> None:
    assert clean(text) == ref_clean(text)


@settings(max_examples=500, deadline=None)
@given(texts)
def test_words_equal_the_single_class_definition(text: str) -> None:
    for form in (text, normalize(text), clean(text)):
        assert words(form) == REF_WORD.findall(form)


def test_words_of_ascii_and_mixed_text() -> None:
    assert words("#booktour is gr8, @brand_x!") == ["#booktour", "is", "gr8", "@brand_x"]
    assert words(normalize("Café ❤️ #Tour")) == ["cafe", "\ufe0f", "#tour"]


def test_collapse_agrees_with_the_regex_on_every_whitespace_character() -> None:
    spaces = "".join(chr(cp) for cp in range(sys.maxunicode + 1) if chr(cp).isspace())
    sample = f"{spaces}a{spaces}b c{spaces}"
    assert textnorm._collapse(sample) == ref_collapse(sample) == "a b c"


def test_mark_classes_cover_exactly_the_marks_and_combining_characters() -> None:
    """The classes are built from ``_MARK_BLOCKS`` only: no mark may lie outside them."""
    for cp in range(sys.maxunicode + 1):
        ch = chr(cp)
        is_mark = unicodedata.category(ch).startswith("M")
        in_blocks = any(cp in block for block in textnorm._MARK_BLOCKS)
        assert not is_mark or in_blocks, hex(cp)
        removed = textnorm._COMBINING.fullmatch(ch) is not None
        assert removed == bool(unicodedata.combining(ch)), hex(cp)
        if is_mark:
            assert textnorm._WORD.fullmatch(ch) is not None, hex(cp)
