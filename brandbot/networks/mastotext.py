"""Mastodon text, the way a Mastodon server sees it (pure).

- Statuses arrive as HTML (``<p>``, ``<br>``, mention and link anchors): :func:`html_to_text`
  gives the plain text people typed, which is what rules match.
- A server counts a status as its grapheme clusters (what a reader sees as one character),
  with the content warning included, every URL as 23 characters whatever its length, and
  a remote mention ``@name@server`` as the local part ``@name`` only. An instance sets its
  own limit (500 unless its admin changed it); its API says which.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import regex

#: Mastodon's default status length, used until the instance says otherwise.
DEFAULT_MAX_CHARACTERS = 500
#: What the server counts for every URL (``characters_reserved_per_url`` in its API).
DEFAULT_URL_WEIGHT = 23

# The visibilities of a status, narrowest first. A reply never goes wider than the post it answers.
VISIBILITIES = ("direct", "private", "unlisted", "public")

_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]}]", re.IGNORECASE)
# Mastodon's mention syntax: @user or @user@domain, not inside a word or a URL path.
_MENTION = re.compile(r"(?<![=/\w])@([a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_]+)?)(?:@[\w.-]+\w+)?", re.IGNORECASE)
_GRAPHEME = regex.compile(r"\X")


def graphemes(text: str) -> int:
    """How many user-perceived characters ``text`` has (Unicode extended grapheme clusters)."""
    return len(_GRAPHEME.findall(text))


def status_length(text: str, spoiler_text: str = "", url_weight: int = DEFAULT_URL_WEIGHT) -> int:
    """The length a Mastodon server measures against its ``max_characters``."""
    counted = _URL.sub("x" * url_weight, text)
    counted = _MENTION.sub(lambda m: "@" + m.group(1), counted)
    return graphemes(counted) + graphemes(spoiler_text)


def problem(text: str, max_characters: int, spoiler_text: str = "", url_weight: int = DEFAULT_URL_WEIGHT) -> str | None:
    """Why ``text`` cannot be one status on an instance with this limit, or None."""
    if not text.strip():
        return "Mastodon does not accept an empty status"
    length = status_length(text, spoiler_text, url_weight)
    if length > max_characters:
        warning = " with its content warning" if spoiler_text else ""
        return (
            f"the text is {length} characters{warning} as Mastodon counts them (links count "
            f"{url_weight}), over the instance's limit of {max_characters}; shorten it"
        )
    return None


def narrowest(*visibilities: str) -> str:
    """The narrowest of the given visibilities; unknown names count as 'direct' (the safe side)."""
    rank = [VISIBILITIES.index(v) if v in VISIBILITIES else 0 for v in visibilities]
    return VISIBILITIES[min(rank)] if rank else "public"


def mentions(text: str, acct: str) -> bool:
    """Whether ``text`` already names the account ``acct`` (``user`` or ``user@server``)."""
    wanted = acct.lower()
    local = wanted.split("@", 1)[0]
    for match in _MENTION.finditer(text):
        named = match.group(0)[1:].lower()
        if named == wanted or ("@" not in named and named == local):
            return True
    return False


def with_mention(text: str, acct: str) -> str:
    """The text addressed to ``acct``: a Mastodon reply reaches (and notifies) only the
    accounts it mentions, so a direct reply without the mention would reach nobody."""
    if not acct or mentions(text, acct):
        return text
    return f"@{acct} {text}"


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._paragraphs = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p":
            if self._paragraphs:
                self.parts.append("\n\n")
            self._paragraphs += 1

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(content: str) -> str:
    """The plain text of a status's HTML: paragraphs apart by a blank line, links as written."""
    if "<" not in content:
        return html.unescape(content)
    collector = _TextCollector()
    collector.feed(content)
    collector.close()
    return "".join(collector.parts).strip()


__all__ = [
    "DEFAULT_MAX_CHARACTERS",
    "DEFAULT_URL_WEIGHT",
    "VISIBILITIES",
    "graphemes",
    "html_to_text",
    "mentions",
    "narrowest",
    "problem",
    "status_length",
    "with_mention",
]
