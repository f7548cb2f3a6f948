"""core/reviews.py: does an entry mention the brand, does it read as a review (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brandbot.core.events import Kind
from brandbot.core.reviews import (
    FeedEntry,
    Watch,
    blog_of,
    canonical_link,
    excerpt,
    plain_text,
    rating_in,
)
from brandbot.networks.blogs import SEEN_PER_FEED, remember
from brandbot.runtime.reviewcopies import Copy

WATCH = Watch(("Inkwell Press", "The Salt Orchard", "Maya Lindqvist"))


def entry(title: str, text: str = "", tags: tuple[str, ...] = ()) -> FeedEntry:
    return FeedEntry("Feed", "blog.example", "Blog", "https://blog.example/x", "g", title, "Bea", text, tags)


@pytest.mark.parametrize(("text", "rating"), [
    ("I give it 4/5", "4/5"), ("4.5 out of 5!", "4.5 out of 5"), ("4,5/5", "4,5/5"), ("rated 9/10", "9/10"),
    ("★★★★☆ lovely", "★★★★☆"), ("⭐⭐⭐", "⭐⭐⭐"), ("5 stars", "5 stars"), ("Rating: 3 Sterne", "3 Sterne"),
    ("open 24/7", ""), ("1/100 people", ""), ("chapter 3 of 5", ""), ("6/5 is not a rating", ""), ("0/5", ""),
    ("nothing", ""),
])
def test_ratings_on_scales_of_five_and_ten(text: str, rating: str) -> None:
    assert rating_in(text) == rating


@pytest.mark.parametrize(("title", "text", "tags", "kind"), [
    ("Review: The Salt Orchard", "", (), Kind.REVIEW),
    ("Ten questions for MAYA LINDQVIST", "We talked about the sea", (), Kind.POST),
    ("Weekend links", "", ("the salt orchard",), Kind.POST),
    ("The Sált Orchard", "four stars: 4/5", (), Kind.REVIEW),  # accents do not matter
    ("Inkwell Pressure", "a review", (), None),  # whole words: not the press
    ("My review of another book", "5/5", (), None),
    ("Salt Orchard", "", (), None),  # not the whole phrase
])
def test_what_an_entry_becomes(title: str, text: str, tags: tuple[str, ...], kind: Kind | None) -> None:
    assert WATCH.kind_of(entry(title, text, tags)) is kind


def test_review_words_and_ratings_are_configurable() -> None:
    strict = Watch(("The Salt Orchard",), review_words=("verdict",), ratings=False)
    assert strict.kind_of(entry("The Salt Orchard: 5/5")) is Kind.POST
    assert strict.kind_of(entry("The Salt Orchard: the verdict")) is Kind.REVIEW


def test_text_helpers() -> None:
    assert plain_text("<p>Hi&amp;<b>there</b></p><p>x</p>") == "Hi&there x"
    assert excerpt("word " * 100, 40) == "word word word word word word word word…"
    assert excerpt("short", 40) == "short"
    assert blog_of("https://WWW.SaltAndPages.example/2026/x") == blog_of("saltandpages.example") == "saltandpages.example"
    assert canonical_link("https://www.A.example/x/#c") == canonical_link("http://a.example/x") == "a.example/x"


@given(st.text(max_size=400), st.integers(min_value=10, max_value=300))
def test_an_excerpt_is_never_longer_than_asked(text: str, limit: int) -> None:
    assert len(excerpt(text, limit)) <= limit + 1


def test_a_feed_cursor_keeps_what_the_feed_lists_however_long() -> None:
    listed = {f"k{i}" for i in range(2 * SEEN_PER_FEED)}
    seen = [f"old{i}" for i in range(10)] + sorted(listed)
    kept = remember(seen, listed)
    assert set(kept) == listed  # all that is still listed; no room for the old ones
    short = remember([f"old{i}" for i in range(SEEN_PER_FEED)] + ["new"], {"new"})
    assert len(short) == SEEN_PER_FEED and short[-1] == "new" and "old0" not in short


def test_a_copy_matches_its_blog_or_on_a_review_site_its_writer() -> None:
    from datetime import UTC, datetime

    sent = datetime(2026, 12, 1, tzinfo=UTC)
    bea = Copy(1, "Bea Quill", "saltandpages.example", sent)
    assert bea.matches("saltandpages.example", "Guest writer")  # her blog: anyone posting there
    assert not bea.matches("inkdrops.example", "Bea Quill")
    on_site = Copy(2, "Bea  Quill", "reads.example", sent)
    assert on_site.matches("reads.example", "bea quill", site=True)
    assert not on_site.matches("reads.example", "Someone Else", site=True)  # a site has many writers
    nameless = Copy(3, "Cy", "", sent)
    assert nameless.matches("any.example", "cy") and not nameless.matches("any.example", "")
    assert not bea.reviewed_at(sent, "l", "t").matches("saltandpages.example", "Bea Quill")
    from datetime import timedelta

    assert not bea.matches("saltandpages.example", "Bea", published=sent - timedelta(days=1))  # an older review
    asked = Copy(4, "Di", "di.example", sent, requested=sent - timedelta(days=3))
    assert asked.matches("di.example", "Di", published=sent - timedelta(days=1))  # written while the copy travelled
