"""X's weighted text length (twitter-text v3 rules), pure."""

from __future__ import annotations

import string
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brandbot.networks.xtext import (
    MAX_WEIGHTED_LENGTH,
    URL_WEIGHT,
    contains_link,
    fits,
    links,
    weighted_length,
)


def test_plain_latin_counts_one_per_character_up_to_280() -> None:
    assert weighted_length("Hello, world!") == 13
    assert fits("a" * 280)
    assert not fits("a" * 281)
    assert MAX_WEIGHTED_LENGTH == 280


def test_cjk_counts_two() -> None:
    assert weighted_length("中文") == 4
    assert weighted_length("こんにちは") == 10
    assert weighted_length("안녕") == 4
    assert fits("中" * 140)
    assert not fits("中" * 141)


@pytest.mark.parametrize(
    ("text", "weight"),
    [
        ("é", 1),  # Latin-1
        ("Привет", 6),  # Cyrillic
        ("שלום", 4),  # Hebrew
        ("नमस्ते", 6),  # Devanagari, in the light range
        ("“quoted” – dash", 15),  # general punctuation U+2010..U+201F is light
        ("…", 2),  # U+2026 is outside the light ranges
        ("e\u0301", 1),  # NFC folds the combining accent into one é
    ],
)
def test_scripts_and_punctuation_follow_xs_weight_ranges(text: str, weight: int) -> None:
    assert weighted_length(text) == weight


@pytest.mark.parametrize(
    "emoji",
    [
        "😀",
        "👍🏽",  # skin tone modifier
        "👨\u200d👩\u200d👧\u200d👦",  # family: four people joined by ZWJ
        "🏳️\u200d🌈",  # flag with VS16 and ZWJ
        "🇫🇷",  # regional indicator pair
        "1️⃣",  # keycap
        "❤️",  # dingbat with VS16
        "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",  # England: tag sequence
    ],
)
def test_every_emoji_counts_two_however_many_code_points(emoji: str) -> None:
    assert weighted_length(emoji) == 2
    assert weighted_length(f"hi {emoji}!") == 2 + 4


def test_every_url_counts_23_whatever_its_length() -> None:
    long_url = "https://example.com/" + "x" * 200
    assert weighted_length(long_url) == URL_WEIGHT
    assert weighted_length("https://a.co") == URL_WEIGHT
    assert weighted_length(f"see {long_url} now") == 4 + 23 + 4
    assert weighted_length("http://example.com and https://example.org") == 23 + 5 + 23
    assert fits("a" * 256 + " " + long_url)  # 256 + 1 + 23 = 280
    assert not fits("a" * 257 + " " + long_url)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Shop at brand.com today", ("brand.com",)),
        ("brand.com/mug?color=red", ("brand.com/mug?color=red",)),
        (
            "see https://brand.com/mug.",
            ("https://brand.com/mug",),
        ),  # sentence full stop is not the URL's
        ("(https://brand.com/mug)", ("https://brand.com/mug",)),
        ("https://en.wikipedia.org/wiki/Mug_(cup)", ("https://en.wikipedia.org/wiki/Mug_(cup)",)),
        ("brand.co", ("brand.co",)),  # .co and .tv link without a path
        ("www.brand.jp", ("www.brand.jp",)),
        ("brand.jp/mug", ("brand.jp/mug",)),
        ("brand.jp", ()),  # a country code with no path and two labels is not a link
        ("node.js and main.py", ()),
        ("mail ana@brand.com", ()),  # an email address is not a URL
        ("#brand.com @brand.com", ()),
        ("e.g. i.e.", ()),
        ("version 2.0.1", ()),
    ],
)
def test_links_are_found_as_x_finds_them(text: str, found: tuple[str, ...]) -> None:
    assert links(text) == found
    assert contains_link(text) is bool(found)


def test_a_bare_domain_counts_23_and_a_non_link_counts_its_characters() -> None:
    assert weighted_length("brand.com") == 23
    assert weighted_length("brand.jp") == 8


@given(st.text(alphabet=string.ascii_letters + " ,!?'-\n", max_size=400))
def test_plain_ascii_without_links_weighs_its_length(text: str) -> None:
    assert weighted_length(text) == len(text)
    assert fits(text) is (len(text) <= 280)


@given(st.text(max_size=300))
def test_without_links_no_code_point_weighs_more_than_two(text: str) -> None:
    if contains_link(text):
        return
    normalized = unicodedata.normalize("NFC", text)
    assert len(normalized) > 0 or weighted_length(text) == 0
    assert weighted_length(text) <= 2 * len(normalized)
