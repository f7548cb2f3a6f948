"""Is a blog entry about the brand, and does it read as a review? Pure decisions, no I/O.

The blogs network (``brandbot/networks/blogs.py``) reads RSS and Atom feeds; each entry
is turned into a :class:`FeedEntry` and judged here:

- it *mentions* the brand when one of the watched phrases (the brand's name, the book,
  the author, by default) appears in its title, text or tags as whole words, compared
  after :func:`~brandbot.core.textnorm.normalize` (case and accents do not matter);
- it *reads as a review* when it names a rating ("4/5", "4.5 out of 5", "★★★★☆",
  "4 stars") or one of the review words ("review", "my rating", ...) in its title or tags,
  or in its text.

Kept apart from the network so the rules can be tested on plain strings and changed by
configuration, and so the review-copy plugin can share the notion of a blog (its host).
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from brandbot.core.events import Kind
from brandbot.core.textnorm import normalize

#: Words that make an entry a review when they appear as whole words (after normalize).
DEFAULT_REVIEW_WORDS: tuple[str, ...] = (
    "review",
    "reviews",
    "reviewed",
    "my rating",
    "rating",
    "stars",
    "verdict",
    "recension",
    "rezension",
    "critique",
)

#: Excerpts are at most this many characters (a sentence or two for the staff and rules).
EXCERPT_CHARS = 280

_TAG = re.compile(r"<[^>]*>")
_STARS = re.compile(r"[★⭐]{1,5}(?:[☆✩]{0,4})")
_RATING = re.compile(
    r"(?<![\d.])(?P<value>\d(?:[.,]\d)?)\s*(?:/|out\s+of)\s*(?P<scale>5|10)(?!\d)"
    r"|(?<![\d.])(?P<count>\d(?:[.,]\d)?)\s*(?:stars?|sterne|étoiles|estrellas)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One entry of a feed, as the network read it (text already without markup)."""

    feed: str  # the feed's name in the config
    blog: str  # the blog's host, "saltandpages.example": who wrote it, for the review copies
    blog_title: str
    link: str
    guid: str
    title: str
    author: str
    text: str
    tags: tuple[str, ...] = ()
    published: datetime | None = None
    site: bool = False  # from a review site or search feed: many writers share the host

    @property
    def key(self) -> str:
        """What makes two entries the same one: the canonical link, else the guid."""
        return canonical_link(self.link) or self.guid.strip()

    @property
    def event_id(self) -> str:
        """A stable event id, the same in every feed that lists this entry (the dedupe key)."""
        return "entry:" + hashlib.sha256(self.key.encode()).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class Watch:
    """What makes an entry worth an event: the phrases to look for and the review signals."""

    mentions: tuple[str, ...]
    review_words: tuple[str, ...] = DEFAULT_REVIEW_WORDS
    ratings: bool = True
    _phrases: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _words: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_phrases", _normalized(self.mentions))
        object.__setattr__(self, "_words", _normalized(self.review_words))

    def mentions_brand(self, entry: FeedEntry) -> bool:
        """True when the title, text or tags name one of the watched phrases."""
        haystack = _haystack(entry.title, entry.text, *entry.tags)
        return any(_has_phrase(haystack, phrase) for phrase in self._phrases)

    def reads_as_review(self, entry: FeedEntry) -> bool:
        """True when the entry gives a rating or uses a review word (title, tags or text)."""
        if self.ratings and rating_in(f"{entry.title}\n{entry.text}"):
            return True
        haystack = _haystack(entry.title, entry.text, *entry.tags)
        return any(_has_phrase(haystack, word) for word in self._words)

    def kind_of(self, entry: FeedEntry) -> Kind | None:
        """``review``, ``post``, or None for an entry that does not mention the brand."""
        if not self.mentions_brand(entry):
            return None
        return Kind.REVIEW if self.reads_as_review(entry) else Kind.POST


def rating_in(text: str) -> str:
    """The first rating the text gives, as written ("4/5", "4.5 out of 5", "★★★★☆"), or "".

    Only scales of 5 and 10 count, and the value must fit the scale: "24/7" or "1/100"
    is no rating.
    """
    stars = _STARS.search(text)
    for match in _RATING.finditer(text):
        value = match.group("value") or match.group("count")
        number = float(value.replace(",", "."))
        scale = float(match.group("scale") or 5)
        if 0 < number <= scale and (stars is None or match.start() < stars.start()):
            return " ".join(match.group(0).split())
    return stars.group(0) if stars else ""


def plain_text(markup: str) -> str:
    """HTML as readable text: tags dropped, entities decoded, whitespace collapsed."""
    spaced = re.sub(r"(?i)<\s*(br|/p|/div|/li|/h\d)\b[^>]*>", " ", markup)
    return " ".join(html.unescape(_TAG.sub("", spaced)).split())


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The start of ``text``, cut at a word boundary with an ellipsis when it is longer."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip(" ,;:-") + "…"


def blog_of(url: str) -> str:
    """The blog a link or a staff member's word names: its host, lower case, without
    ``www.`` ("https://WWW.SaltAndPages.example/2026/review" -> "saltandpages.example").

    A bare host ("saltandpages.example") is accepted as it is."""
    text = url.strip()
    if not text:
        return ""
    host = urlsplit(text if "//" in text else f"//{text}").hostname or ""
    return host.lower().removeprefix("www.")


def canonical_link(url: str) -> str:
    """The form two feeds' links to one entry share: scheme and host lower case, no
    fragment, no trailing slash, ``www.`` dropped, http and https alike."""
    if not url.strip():
        return ""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    port = f":{parts.port}" if parts.port else ""
    query = f"?{parts.query}" if parts.query else ""
    return f"{host}{port}{parts.path.rstrip('/')}{query}"


def _normalized(phrases: Iterable[str]) -> tuple[str, ...]:
    return tuple(p for p in (normalize(x) for x in phrases) if p)


def _haystack(*parts: str) -> str:
    return f" {normalize(' '.join(parts))} "


def _has_phrase(haystack: str, phrase: str) -> bool:
    """Whole-word containment: "review" is not found in "reviewers" (but "reviews" is its own word)."""
    return re.search(rf"(?<![\w]){re.escape(phrase)}(?![\w])", haystack) is not None


def mention_terms(brand: dict[str, object], keys: Sequence[str] = ("name", "book", "author")) -> tuple[str, ...]:
    """The phrases watched by default: the brand's name, its book and its author."""
    return tuple(str(brand[k]).strip() for k in keys if isinstance(brand.get(k), str) and str(brand[k]).strip())


__all__ = [
    "DEFAULT_REVIEW_WORDS",
    "EXCERPT_CHARS",
    "FeedEntry",
    "Watch",
    "blog_of",
    "canonical_link",
    "excerpt",
    "mention_terms",
    "plain_text",
    "rating_in",
]
