"""What the plugin keeps about people: where they wrote, what they subscribed to, what they asked.

Plain frozen dataclasses with JSON round-trips; the queue rules (approve, merge, next)
are pure functions here so they can be read in one place.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from brandbot import Conversation, Event, Kind, Person


def network_label(network: str) -> str:
    """How a network is named in posts: "Telegram", "Discord", "X"."""
    return {"x": "X", "telegram": "Telegram", "discord": "Discord"}.get(network, network[:1].upper() + network[1:])


@dataclass(frozen=True)
class Origin:
    """Where and how a person wrote to us: enough to answer them there later, within the rules.

    A reminder or an answer sent later goes back to this conversation as if answering
    this message, so the policy sees what really happened: the person wrote here first
    (a DM they started, a mention on X that summoned us).
    """

    network: str
    conversation: str
    private: bool
    author_id: str
    handle: str
    name: str
    event_id: str
    post_id: str
    kind: str
    addressed: bool

    @classmethod
    def of(cls, event: Event) -> Origin:
        return cls(
            network=event.network, conversation=event.conversation.id, private=event.conversation.private,
            author_id=event.author.id, handle=event.author.handle, name=event.author.display,
            event_id=event.id, post_id=event.post_id or "", kind=event.kind.value, addressed=event.addressed,
        )

    @property
    def key(self) -> tuple[str, str]:
        return (self.network, self.conversation)

    @property
    def person(self) -> Person:
        return Person(self.network, self.author_id, self.handle, self.name)

    @property
    def where(self) -> Conversation:
        return Conversation(self.network, self.conversation, private=self.private)

    def to_event(self, now: datetime) -> Event:
        """The person's message again, for the policy: it is what allows us to answer here.

        An answer goes threaded under it in public; a private chat needs no thread.
        """
        return Event(
            kind=Kind(self.kind), network=self.network, id=self.event_id, author=self.person,
            conversation=self.where, time=now, post_id=None if self.private else (self.post_id or None),
            addressed=self.addressed,
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Origin:
        return cls(**data)


@dataclass(frozen=True)
class Subscription:
    """Which stops one follower wants reminders for, and where they asked for them."""

    follower_id: int
    origin: Origin
    everything: bool = False
    stops: tuple[str, ...] = ()  # with everything=False: only these
    skipped: tuple[str, ...] = ()  # with everything=True: all but these

    def covers(self, stop_id: str) -> bool:
        return stop_id not in self.skipped if self.everything else stop_id in self.stops

    @property
    def empty(self) -> bool:
        return not self.everything and not self.stops

    def with_stop(self, stop_id: str | None) -> Subscription:
        if stop_id is None:
            return replace(self, everything=True, stops=(), skipped=())
        if self.everything:
            return replace(self, skipped=tuple(s for s in self.skipped if s != stop_id))
        return replace(self, stops=tuple(sorted({*self.stops, stop_id})))

    def without_stop(self, stop_id: str | None) -> Subscription:
        if stop_id is None:
            return replace(self, everything=False, stops=(), skipped=())
        if self.everything:
            return replace(self, skipped=tuple(sorted({*self.skipped, stop_id})))
        return replace(self, stops=tuple(s for s in self.stops if s != stop_id))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Subscription:
        return cls(
            follower_id=int(data["follower_id"]), origin=Origin.from_json(data["origin"]),
            everything=bool(data.get("everything")), stops=tuple(data.get("stops", ())),
            skipped=tuple(data.get("skipped", ())),
        )


class Status(enum.StrEnum):
    PENDING = "pending"  # waiting for a moderator
    APPROVED = "approved"  # may be posted
    POSTED = "posted"  # shown to the audience, waiting for its answer
    ANSWERED = "answered"
    MERGED = "merged"  # a duplicate: credited on the question it was merged into
    REJECTED = "rejected"


#: Questions still in the moderators' hands (shown by /qa queue).
OPEN_STATUSES = (Status.PENDING, Status.APPROVED, Status.POSTED)


@dataclass(frozen=True)
class Question:
    stop: str
    number: int
    follower_id: int
    text: str
    origin: Origin
    asked_at: datetime
    status: Status = Status.PENDING
    merged_into: int = 0
    merged: tuple[int, ...] = ()  # numbers of the duplicates merged into this one

    @property
    def key(self) -> str:
        return question_key(self.stop, self.number, self.follower_id)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["asked_at"] = self.asked_at.isoformat()
        data["status"] = self.status.value
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Question:
        values = dict(data)
        values["origin"] = Origin.from_json(values["origin"])
        values["asked_at"] = datetime.fromisoformat(values["asked_at"])
        values["status"] = Status(values["status"])
        values["merged"] = tuple(values.get("merged", ()))
        return cls(**values)


def question_prefix(stop: str, number: int | None = None) -> str:
    return f"q:{stop}:" if number is None else f"q:{stop}:{number:05d}:"


def question_key(stop: str, number: int, follower_id: int) -> str:
    return f"{question_prefix(stop, number)}f{follower_id}:"


# --------------------------------------------------------------------------- queue rules


class QueueError(ValueError):
    """A moderation command that cannot be done; the message is shown to the moderator."""


def find(questions: Sequence[Question], number: int) -> Question:
    for q in questions:
        if q.number == number:
            return q
    numbers = [q.number for q in questions]
    known = f"questions so far: {numbers[0]}-{numbers[-1]}" if numbers else "no questions yet"
    raise QueueError(f"there is no question {number} ({known}); /qa queue lists them")


def approve(q: Question) -> Question:
    if q.status is Status.PENDING:
        return replace(q, status=Status.APPROVED)
    if q.status is Status.MERGED:
        raise QueueError(f"question {q.number} was merged into question {q.merged_into}; approve that one")
    if q.status is Status.REJECTED:
        return replace(q, status=Status.APPROVED)
    raise QueueError(f"question {q.number} is already {q.status.value}")


def reject(q: Question) -> Question:
    if q.status in (Status.PENDING, Status.APPROVED):
        return replace(q, status=Status.REJECTED)
    raise QueueError(f"question {q.number} is {q.status.value}; only waiting questions can be rejected")


def merge(keep: Question, duplicate: Question) -> tuple[Question, Question]:
    """Merge ``duplicate`` into ``keep``: one question, every asker credited."""
    if keep.number == duplicate.number:
        raise QueueError("a question cannot be merged into itself")
    for q in (keep, duplicate):
        if q.status in (Status.MERGED, Status.REJECTED):
            hint = f" into question {q.merged_into}" if q.status is Status.MERGED else ""
            raise QueueError(f"question {q.number} was already {q.status.value}{hint}")
    if duplicate.status in (Status.POSTED, Status.ANSWERED):
        raise QueueError(f"question {duplicate.number} was already {duplicate.status.value}; merge the other way round")
    kept = replace(keep, merged=tuple(sorted({*keep.merged, duplicate.number, *duplicate.merged})))
    gone = replace(duplicate, status=Status.MERGED, merged_into=keep.number, merged=())
    return kept, gone


def next_approved(questions: Iterable[Question]) -> Question | None:
    """The approved question asked first: the queue is fair, first come first served."""
    waiting = [q for q in questions if q.status is Status.APPROVED]
    return min(waiting, key=lambda q: q.number) if waiting else None


def askers_of(q: Question, questions: Sequence[Question]) -> list[Question]:
    """The question and the duplicates merged into it (their askers are all credited)."""
    merged = [d for d in questions if d.number in q.merged]
    return [q, *merged]


def join_names(names: Sequence[str], most: int = 12) -> str:
    """["Ana"] -> "Ana"; ["Ana", "Ben", "Cy"] -> "Ana, Ben and Cy"; a long list ends "and 7 others"."""
    unique = list(dict.fromkeys(names))
    if len(unique) > most:
        unique = [*unique[: most - 1], f"{len(unique) - most + 1} others"]
    if len(unique) <= 1:
        return "".join(unique)
    return f"{', '.join(unique[:-1])} and {unique[-1]}"
