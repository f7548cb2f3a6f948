"""Redis key names, partitioning and the wire format of stream entries: pure, no I/O.

Every key starts with ``brandbot:{<brand id>}:`` so that several brands can share one Redis.
Events go to one of ``partitions`` streams chosen by their author: one person's events
always land in the same stream, and a stream is read by one worker at a time (its lease),
so one person's events are handled in the order the gateway received them.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from brandbot.core.events import Conversation, Event, Kind, Person
from brandbot.core.records import OutboxEntry, OutboxStatus

#: A brand id: short, safe in a Redis key and a file name.
BRAND_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")  # as storage.brand_id

#: The consumer group every worker of a brand reads the event streams with.
WORKERS_GROUP = "workers"
#: The consumer group the gateway reads committed replies with.
SENDERS_GROUP = "senders"


class WireFormatError(ValueError):
    """A stream entry that is not what brandbot writes (another program's, or damaged)."""


@dataclass(frozen=True, slots=True)
class Keys:
    """The Redis keys of one brand."""

    brand: str
    partitions: int

    def __post_init__(self) -> None:
        if not BRAND_ID.fullmatch(self.brand):
            raise ValueError(f"brand id {self.brand!r}: use 1-63 of a-z, 0-9, _ and -, starting "
                             "with a letter or digit")
        if not 1 <= self.partitions <= 1024:
            raise ValueError(f"partitions must be 1..1024, not {self.partitions}")

    @property
    def prefix(self) -> str:
        """``brandbot:{brand}:``; the braces make it a Redis Cluster hash tag, so every key of a
        brand sits in one slot and the rate-limit script may touch several at once."""
        return f"brandbot:{{{self.brand}}}:"

    def events(self, partition: int) -> str:
        """The stream of one partition's events."""
        return f"{self.prefix}events:{partition}"

    def lease(self, partition: int) -> str:
        """Who reads a partition now (a key with a TTL, renewed while the worker lives)."""
        return f"{self.prefix}lease:{partition}"

    @property
    def workers(self) -> str:
        """Sorted set of live workers, scored by their last heartbeat (Redis server ms)."""
        return f"{self.prefix}workers"

    @property
    def outbox(self) -> str:
        """Stream of committed replies, from the workers to the gateway that sends them."""
        return f"{self.prefix}outbox"

    def rate(self, network: str, scope: str) -> str:
        """A rate window's log (a sorted set of send times): scope is 'all', 'dm' or a chat."""
        return f"{self.prefix}rate:{network}:{scope}"

    def all_event_streams(self) -> list[str]:
        return [self.events(p) for p in range(self.partitions)]


def partition_of(network: str, author_id: str, partitions: int) -> int:
    """The partition of a person: stable across processes, restarts and Python versions."""
    return zlib.crc32(f"{network}\x00{author_id}".encode()) % partitions


def owner_of(partition: int, workers: list[str]) -> str | None:
    """Which live worker should read ``partition`` (rendezvous hashing; None: no worker).

    Every worker computes the same answer from the same list, and when a worker joins or
    leaves only the partitions it wins or held move.
    """
    best: tuple[int, str] | None = None
    for worker in workers:
        score = zlib.crc32(f"{partition}\x00{worker}".encode())
        if best is None or (score, worker) > best:
            best = (score, worker)
    return best[1] if best is not None else None


# ------------------------------------------------------------------ the wire format


def encode_event(event: Event) -> dict[str, str]:
    """The fields of one event's stream entry (``raw`` stays behind: it is the library's)."""
    body = {
        "kind": event.kind.value,
        "network": event.network,
        "id": event.id,
        "author": [event.author.network, event.author.id, event.author.handle, event.author.name],
        "conversation": [event.conversation.network, event.conversation.id,
                         event.conversation.private, event.conversation.title],
        "text": event.text,
        "time": event.time.isoformat(),
        "post_id": event.post_id,
        "refers_to": event.refers_to,
        "addressed": event.addressed,
        "command": event.command,
        "args": list(event.args),
        "data": [list(pair) for pair in event.data],
    }
    return {"v": "1", "event": json.dumps(body, ensure_ascii=False, separators=(",", ":"))}


def decode_event(fields: dict[Any, Any]) -> Event:
    """Read back what :func:`encode_event` wrote (bytes or text field names and values)."""
    text = _field(fields, "event")
    try:
        body = json.loads(text)
        author = Person(*map(str, body["author"]))
        net, cid, private, title = body["conversation"]
        return Event(
            kind=Kind.parse(body["kind"]), network=str(body["network"]), id=str(body["id"]),
            author=author, conversation=Conversation(str(net), str(cid), bool(private), str(title)),
            text=str(body["text"]), time=datetime.fromisoformat(body["time"]),
            post_id=body["post_id"], refers_to=body["refers_to"], addressed=bool(body["addressed"]),
            command=body["command"], args=tuple(body["args"]),
            data=tuple((str(k), str(v)) for k, v in body["data"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise WireFormatError(f"not a brandbot event entry ({type(exc).__name__}: {exc})") from exc


def encode_outbox(entry: OutboxEntry) -> dict[str, str]:
    """A committed reply, as the gateway needs it to send (the row is already in the store)."""
    body = {
        "id": entry.id, "network": entry.network, "conversation_id": entry.conversation_id,
        "private": entry.conversation_private, "text": entry.text, "created": entry.created.isoformat(),
        "next_try": entry.next_try.isoformat(), "status": entry.status.value, "in_reply_to": entry.in_reply_to,
        "recipient_id": entry.recipient_id, "follower_id": entry.follower_id, "event_id": entry.event_id,
        "source": entry.source, "attempts": entry.attempts,
    }
    return {"v": "1", "outbox": json.dumps(body, ensure_ascii=False, separators=(",", ":"))}


def decode_outbox(fields: dict[Any, Any]) -> OutboxEntry:
    text = _field(fields, "outbox")
    try:
        b = json.loads(text)
        return OutboxEntry(
            id=int(b["id"]), network=str(b["network"]), conversation_id=str(b["conversation_id"]),
            conversation_private=bool(b["private"]), text=str(b["text"]),
            created=datetime.fromisoformat(b["created"]), next_try=datetime.fromisoformat(b["next_try"]),
            status=OutboxStatus(b["status"]), in_reply_to=str(b["in_reply_to"]),
            recipient_id=str(b["recipient_id"]), follower_id=int(b["follower_id"]),
            event_id=str(b["event_id"]), source=str(b["source"]), attempts=int(b["attempts"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise WireFormatError(f"not a brandbot outbox entry ({type(exc).__name__}: {exc})") from exc


def _field(fields: dict[Any, Any], name: str) -> str:
    value = fields.get(name, fields.get(name.encode()))
    if value is None:
        raise WireFormatError(f"stream entry has no {name!r} field (fields: {sorted(map(str, fields))[:5]})")
    return value.decode() if isinstance(value, bytes) else str(value)


__all__ = [
    "SENDERS_GROUP",
    "WORKERS_GROUP",
    "Keys",
    "WireFormatError",
    "decode_event",
    "decode_outbox",
    "encode_event",
    "encode_outbox",
    "owner_of",
    "partition_of",
]
