"""What the reviewcopy plugin records, and the report on it (``brandbot report reviews``).

The plugin (``plugins/reviewcopy.py``) writes three kinds of records into its data
(namespace ``plugin:reviewcopy``); this module defines them, so the writer and the
readers (``/reviewcopy report``, the CLI) share one definition, as ``reports`` does for
amplify and tags:

- a **request**: a person asked for a review copy, and where (network, conversation,
  their message), so the bot can later thank or remind them there;
- a **copy**: the staff sent that person a copy, for a blog; when it was followed up,
  and when a review from that blog appeared;
- a **review**: a review of the book found on a blog, whoever wrote it.

Every record about a person is keyed with their ``:f<id>:`` and written with their
follower id, so ``forget`` erases it.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from brandbot.core.events import Conversation, Event, Kind, Person
from brandbot.core.reviews import blog_of
from brandbot.runtime.reports import Records, _decode, identity_prefix, key_part, text_table

NAMESPACE = "plugin:reviewcopy"
REQUEST_PREFIX = "req:"
COPY_PREFIX = "copy:"
REVIEW_PREFIX = "review:"


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True, slots=True)
class Request:
    """A person asked for a review copy: where, so thanks and reminders go to the same place."""

    follower_id: int
    name: str
    network: str
    user_id: str
    handle: str
    conversation: str
    private: bool
    post_id: str
    kind: str
    event_id: str
    time: datetime
    addressed: bool = True  # whether they addressed the brand (X answers only those who did)

    @property
    def key(self) -> str:
        return f"{identity_prefix(REQUEST_PREFIX, self.network, self.user_id)}f{self.follower_id}:"

    @classmethod
    def of(cls, event: Event, follower_id: int, name: str) -> Request:
        return cls(follower_id, name, event.network, event.author.id, event.author.handle, event.conversation.id,
                   event.conversation.private, event.post_id or "", event.kind.value, event.id, event.time,
                   event.addressed)

    def event(self) -> Event:
        """The person's request as an event again, for ``ctx.answer`` (threaded under it)."""
        return Event(
            kind=Kind.parse(self.kind), network=self.network, id=self.event_id,
            author=Person(self.network, self.user_id, self.handle, self.name),
            conversation=Conversation(self.network, self.conversation, private=self.private),
            time=self.time, post_id=self.post_id or None, addressed=self.addressed,
        )

    def to_json(self) -> dict[str, Any]:
        return {"follower_id": self.follower_id, "name": self.name, "network": self.network,
                "user_id": self.user_id, "handle": self.handle, "conversation": self.conversation,
                "private": self.private, "post_id": self.post_id, "kind": self.kind, "event_id": self.event_id,
                "time": self.time.isoformat(), "addressed": self.addressed}

    @classmethod
    def from_json(cls, v: Mapping[str, Any]) -> Request:
        return cls(int(v["follower_id"]), str(v.get("name", "")), str(v["network"]), str(v["user_id"]),
                   str(v.get("handle", "")), str(v["conversation"]), bool(v.get("private", False)),
                   str(v.get("post_id", "")), str(v.get("kind", "direct")), str(v.get("event_id", "")),
                   datetime.fromisoformat(v["time"]), bool(v.get("addressed", True)))


@dataclass(frozen=True, slots=True)
class Copy:
    """A review copy the staff sent, and what came of it."""

    follower_id: int
    name: str
    blog: str  # the reviewer's blog host ("" when the staff did not name one)
    sent: datetime
    requested: datetime | None = None
    followed_up: datetime | None = None
    reviewed: datetime | None = None
    review_link: str = ""
    review_title: str = ""

    @property
    def key(self) -> str:
        return copy_key(self.follower_id)

    @property
    def days_to_review(self) -> int | None:
        if self.reviewed is None:
            return None
        return max(0, round((self.reviewed - self.sent).total_seconds() / 86400))  # whole days, rounded

    def matches(self, blog: str, author: str, *, site: bool = False, published: datetime | None = None) -> bool:
        """Whether a review on ``blog`` by ``author`` is this copy's review.

        On a blog, the blog decides; on a review site (``site``: many writers on one
        host), or when the staff named no blog, the writer's name must be the person's.
        A review ``published`` before the person asked (or, if they never asked, before
        the copy was sent) is an older one, not this copy's."""
        if self.reviewed is not None:
            return False
        if published is not None and published < (self.requested or self.sent):
            return False
        same_name = bool(author) and " ".join(author.casefold().split()) == " ".join(self.name.casefold().split())
        if self.blog and self.blog != blog_of(blog):
            return False
        return same_name if site or not self.blog else True

    def reviewed_at(self, when: datetime, link: str, title: str) -> Copy:
        return replace(self, reviewed=when, review_link=link, review_title=title)

    def to_json(self) -> dict[str, Any]:
        return {"follower_id": self.follower_id, "name": self.name, "blog": self.blog, "sent": self.sent.isoformat(),
                "requested": _iso(self.requested), "followed_up": _iso(self.followed_up),
                "reviewed": _iso(self.reviewed), "review_link": self.review_link, "review_title": self.review_title}

    @classmethod
    def from_json(cls, v: Mapping[str, Any]) -> Copy:
        return cls(int(v["follower_id"]), str(v.get("name", "")), str(v.get("blog", "")),
                   datetime.fromisoformat(v["sent"]), _time(v.get("requested")), _time(v.get("followed_up")),
                   _time(v.get("reviewed")), str(v.get("review_link", "")), str(v.get("review_title", "")))


def copy_key(follower_id: int) -> str:
    """``copy:f<id>:`` - one copy per person (sending again updates it)."""
    return f"{COPY_PREFIX}f{follower_id}:"


@dataclass(frozen=True, slots=True)
class Review:
    """A review found on a blog; ``reviewer`` is the follower it was matched to through a
    review copy (0 if none). It is tied to (``follower_id``) the reviewer when known, so
    forgetting them erases it, else to the blog's own person."""

    event_id: str
    follower_id: int
    blog: str
    author: str
    title: str
    link: str
    rating: str
    time: datetime
    reviewer: int = 0

    @property
    def key(self) -> str:
        return f"{REVIEW_PREFIX}{key_part(self.event_id)}:f{self.follower_id}:"

    def to_json(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "follower_id": self.follower_id, "blog": self.blog,
                "author": self.author, "title": self.title, "link": self.link, "rating": self.rating,
                "time": self.time.isoformat(), "reviewer": self.reviewer}

    @classmethod
    def from_json(cls, v: Mapping[str, Any]) -> Review:
        return cls(str(v["event_id"]), int(v["follower_id"]), str(v.get("blog", "")), str(v.get("author", "")),
                   str(v.get("title", "")), str(v.get("link", "")), str(v.get("rating", "")),
                   datetime.fromisoformat(v["time"]), int(v.get("reviewer", 0)))


async def load_requests(records: Records) -> list[Request]:
    return _decode(await records.items(REQUEST_PREFIX), Request.from_json, "review-copy request")


async def load_copies(records: Records) -> list[Copy]:
    return _decode(await records.items(COPY_PREFIX), Copy.from_json, "review copy")


async def load_reviews(records: Records) -> list[Review]:
    return _decode(await records.items(REVIEW_PREFIX), Review.from_json, "review")


@dataclass(frozen=True, slots=True)
class ReviewReport:
    requests: int  # people who asked (once each, whatever the number of their accounts)
    copies: tuple[Copy, ...]
    reviews: int  # reviews found on blogs, matched to a copy or not

    @property
    def reviewed(self) -> tuple[Copy, ...]:
        return tuple(c for c in self.copies if c.reviewed is not None)


async def review_report(records: Records) -> ReviewReport:
    requests = {r.follower_id for r in await load_requests(records)}
    copies = sorted(await load_copies(records), key=lambda c: (c.sent, c.follower_id))
    return ReviewReport(len(requests), tuple(copies), len(await load_reviews(records)))


def format_review_report(report: ReviewReport) -> str:
    """Requests, copies sent, reviews found and days from copy to review, with a row per copy."""
    found = f"{report.reviews} review{'s' if report.reviews != 1 else ''}"
    lines = [(f"Review copies: {report.requests} requested, {len(report.copies)} sent, "
             f"{len(report.reviewed)} reviewed; {found} found on blogs.")]
    days = [c.days_to_review for c in report.reviewed if c.days_to_review is not None]
    if days:
        lines.append(f"Days from copy to review: median {statistics.median(days):g}, "
                     f"fastest {min(days)}, slowest {max(days)}.")
    if report.copies:
        lines.append(text_table(
            ["name", "id", "blog", "requested", "sent", "followed up", "reviewed", "days"],
            [_row(c) for c in report.copies], right=(1, 7)))
    return "\n".join(lines)


def _row(copy: Copy) -> Sequence[object]:
    def day(value: datetime | None) -> str:
        return value.date().isoformat() if value is not None else "-"

    days = copy.days_to_review
    return [copy.name, copy.follower_id, copy.blog or "-", day(copy.requested), day(copy.sent),
            day(copy.followed_up), day(copy.reviewed), "-" if days is None else days]


__all__ = [
    "COPY_PREFIX",
    "NAMESPACE",
    "REQUEST_PREFIX",
    "REVIEW_PREFIX",
    "Copy",
    "Request",
    "Review",
    "ReviewReport",
    "blog_of",
    "copy_key",
    "format_review_report",
    "load_copies",
    "load_requests",
    "load_reviews",
    "review_report",
]
