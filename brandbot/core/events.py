"""The one event model every network translates into, and the reply it gets back.

Everything here is a frozen dataclass so that handlers can pass events around,
cache them and compare them without worrying about who mutates what.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from brandbot.core.fastinit import fast_init


class Kind(enum.StrEnum):
    """What happened on the network, independent of which network it was."""

    MESSAGE = "message"  # a message in a group or channel that did not address the bot
    MENTION = "mention"  # a public message that names the bot or brand account
    DIRECT = "direct"  # a private/direct message to the bot
    REPLY = "reply"  # a reply to one of the bot's or brand's posts
    QUOTE = "quote"  # a quote of a brand post, with the quoter's own words
    REPOST = "repost"  # a plain share of a brand post (retweet, forward)
    FOLLOW = "follow"  # someone followed the brand account
    JOIN = "join"  # someone joined a group/server the bot is in
    REACTION = "reaction"  # a reaction (emoji, like) on a brand or bot post
    COMMAND = "command"  # "/name args" addressed to the bot
    REVIEW = "review"  # a blog or review-site entry about the brand that reads as a review
    POST = "post"  # a blog entry that mentions the brand, book or author (not a review)
    MILESTONE = "milestone"  # emitted by brandbot itself (loyalty), never by a network

    @classmethod
    def parse(cls, value: str) -> Kind:
        """Parse a kind name, with an error that lists the valid ones."""
        if isinstance(value, cls):
            return value
        exact = cls._value2member_map_.get(value)  # the hot path: already a clean name
        if exact is not None:
            return exact  # type: ignore[return-value]
        try:
            return cls(value.strip().lower())
        except ValueError:
            valid = ", ".join(k.value for k in cls)
            raise ValueError(f"unknown event kind {value!r}; expected one of: {valid}") from None


#: Kinds in which the person addressed the bot of their own accord. Platforms that allow
#: automated replies only when "summoned" (X) accept replies to these and nothing else.
SUMMONING_KINDS = frozenset({Kind.MENTION, Kind.DIRECT, Kind.REPLY, Kind.QUOTE, Kind.COMMAND})


def utcnow() -> datetime:
    """Timezone-aware now; brandbot never handles naive datetimes."""
    return datetime.now(UTC)


@fast_init
@dataclass(frozen=True, slots=True)
class Person:
    """Somebody on one network. The same human on two networks is two Persons, one Follower."""

    network: str
    id: str
    handle: str = ""
    name: str = ""

    @property
    def display(self) -> str:
        """The friendliest name we have: display name, else handle, else the raw id."""
        return self.name or self.handle or self.id

    @property
    def key(self) -> tuple[str, str]:
        return (self.network, self.id)


@fast_init
@dataclass(frozen=True, slots=True)
class Conversation:
    """Where an event happened: a chat, channel, DM thread or public timeline."""

    network: str
    id: str
    private: bool = False
    title: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.network, self.id)


@fast_init
@dataclass(frozen=True, slots=True)
class Event:
    """One thing a person did that the bot may react to.

    ``id`` is unique within the network and is the dedupe key. ``post_id`` is the
    platform id of the message itself (what a reply should thread under) and
    ``refers_to`` the id of the brand/bot post this event replies to, quotes, reposts or
    reacts to. ``addressed`` says whether the person summoned the bot (mention, DM,
    reply, quote, command); networks that forbid unsolicited automation rely on it.
    """

    kind: Kind
    network: str
    id: str
    author: Person
    conversation: Conversation
    text: str = ""
    time: datetime = field(default_factory=utcnow)
    post_id: str | None = None
    refers_to: str | None = None
    addressed: bool = False
    command: str | None = None
    args: tuple[str, ...] = ()
    data: tuple[tuple[str, str], ...] = ()  # small extra facts, e.g. (("emoji", "❤"),)
    raw: Any = field(default=None, compare=False, repr=False, hash=False)

    def extra(self, key: str, default: str = "") -> str:
        """Look up one of the small extra facts a network attached."""
        for k, v in self.data:
            if k == key:
                return v
        return default


@fast_init
@dataclass(frozen=True, slots=True)
class Reply:
    """A message the bot wants to send, before the policy and the outbox decide its fate."""

    network: str
    conversation: Conversation
    text: str
    in_reply_to: str | None = None  # platform post id to thread/quote under
    recipient: Person | None = None
    event_id: str | None = None  # the event that caused it, for history and dedupe
    source: str = ""  # "rule:<name>" or "plugin:<name>"; shown in history and simulate


@fast_init
@dataclass(frozen=True, slots=True)
class Outgoing:
    """A reply as the outbox hands it to a network: with a stable id for idempotency."""

    outbox_id: int
    reply: Reply
    attempt: int = 1
    #: When the outbox row was written (to the microsecond, as stored): with ``outbox_id``
    #: it names the row across databases, for keys a network keeps longer than one store.
    created: datetime | None = None

    @property
    def idempotency_key(self) -> str:
        """Stable across restarts; networks with nonces (Discord) send it to avoid duplicates."""
        return f"bb{self.outbox_id}"
