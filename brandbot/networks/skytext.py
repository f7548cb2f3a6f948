"""Bluesky text and record keys (pure).

- A post may hold 300 graphemes (what a reader sees as one character), whatever the bytes;
  facets (mentions, links) point into the text by UTF-8 *byte* offsets.
- Posts are records whose key is a TID: 64 bits (top bit zero, 53 bits of microseconds
  since the Unix epoch, 10 bits of clock id), written as 13 characters of base32-sortable.
  brandbot derives the key of a reply from its outbox row, so sending the row twice (a
  resend after a crash) names the same record and the server refuses the second.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from brandbot.networks.mastotext import graphemes

#: Bluesky's limit on a post's text, in graphemes.
MAX_GRAPHEMES = 300
#: The record collection of a post.
POST_COLLECTION = "app.bsky.feed.post"

_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
_TID = re.compile(r"[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}")
_CLOCK_IDS = 1024
_MAX_MICROS = (1 << 53) - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_AT_URI = re.compile(r"at://(?P<repo>[^/]+)/(?P<collection>[^/]+)/(?P<rkey>[^/?#]+)")


def problem(text: str) -> str | None:
    """Why ``text`` cannot be one Bluesky post, or None."""
    if not text.strip():
        return "Bluesky does not accept an empty post (without an image or link card)"
    length = graphemes(text)
    if length > MAX_GRAPHEMES:
        return f"the text is {length} characters (graphemes), over Bluesky's {MAX_GRAPHEMES}; shorten it"
    return None


def tid(micros: int, clock_id: int) -> str:
    """The TID for a time in microseconds since the Unix epoch and a clock id (0-1023)."""
    if not 0 <= micros <= _MAX_MICROS:
        raise ValueError(f"a TID holds 0..2**53-1 microseconds, got {micros}")
    value = (micros << 10) | (clock_id % _CLOCK_IDS)
    chars = []
    for _ in range(13):
        chars.append(_TID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def tid_time(key: str) -> datetime:
    """When a TID says it was minted (its microseconds)."""
    if not is_tid(key):
        raise ValueError(f"{key!r} is not a TID")
    value = 0
    for char in key:
        value = value * 32 + _TID_ALPHABET.index(char)
    return _EPOCH + timedelta(microseconds=value >> 10)


def is_tid(key: str) -> bool:
    return bool(_TID.fullmatch(key))


def outbox_rkey(outbox_id: int, created: datetime | None) -> str:
    """The record key of the reply in outbox row ``outbox_id``, created at ``created``.

    The row's creation time (stored to the microsecond) and its id as the clock id make a
    key that is the same on every attempt and different for every row, also across a
    database that was started afresh (ids start again at 1, times do not). Without a
    creation time the id alone is the time (tests, hand-made Outgoing)."""
    if created is None:
        return tid(outbox_id, outbox_id)
    micros = (created - _EPOCH) // timedelta(microseconds=1)
    return tid(micros, outbox_id)


@dataclass(frozen=True, slots=True)
class AtUri:
    """``at://<repo>/<collection>/<rkey>``: where a record lives."""

    repo: str
    collection: str
    rkey: str

    @classmethod
    def parse(cls, uri: str) -> AtUri:
        match = _AT_URI.fullmatch(uri)
        if match is None:
            raise ValueError(f"{uri!r} is not an at:// record URI")
        return cls(match["repo"], match["collection"], match["rkey"])

    def __str__(self) -> str:
        return f"at://{self.repo}/{self.collection}/{self.rkey}"


__all__ = ["MAX_GRAPHEMES", "POST_COLLECTION", "AtUri", "graphemes", "is_tid", "outbox_rkey", "problem", "tid", "tid_time"]
