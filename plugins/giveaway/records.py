"""What the giveaway stores: a giveaway, one person's entry, and the matcher that finds entries.

Frozen records with their JSON (``load``/``dump``); the JSON keeps the field names, so
data written by earlier versions of the plugin still loads.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

#: How long after closing an entry attempt is still answered "the giveaway has closed".
LATE_WINDOW = timedelta(days=7)


def _known_fields(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """The stored values ``cls`` has fields for, JSON lists back as tuples."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in names}


@dataclass(frozen=True)
class Matcher:
    """What recognises an entry to one giveaway; kept in the index: one read per event."""

    id: int
    hashtag: str = ""
    phrase: str = ""
    command: bool = False
    post: str = ""
    networks: tuple[str, ...] = ()
    closed_at: str = ""

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> Matcher:
        return cls(**_known_fields(cls, data))

    def dump(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "networks": list(self.networks)}

    def on_network(self, network: str) -> bool:
        return not self.networks or network in self.networks

    def in_text(self, event_words: Sequence[str]) -> bool:
        """The hashtag as a word, or the phrase as consecutive whole words."""
        if self.hashtag and self.hashtag in event_words:
            return True
        phrase = self.phrase.split()
        n = len(phrase)
        return bool(phrase) and any(
            list(event_words[i : i + n]) == phrase for i in range(len(event_words) - n + 1)
        )

    def recently_closed(self, now: datetime) -> bool:
        """Closed less than LATE_WINDOW ago: late entries are still told it closed."""
        return bool(self.closed_at) and datetime.fromisoformat(self.closed_at) + LATE_WINDOW > now


def giveaway_key(giveaway_id: int) -> str:
    return f"giveaway:{giveaway_id:06d}"


@dataclass(frozen=True)
class Giveaway:
    """One giveaway, as stored. ``seed`` and ``secret`` are never shown while it is open;
    ``secret`` (which makes entry ids anonymous) is never shown at all."""

    id: int
    prize: str
    winners: int
    hashtag: str = ""  # normalized, with '#'
    phrase: str = ""  # normalized
    command: bool = False
    post: str = ""
    networks: tuple[str, ...] = ()
    min_days: int = 0
    min_interactions: int = 0
    previous_winners: Literal["exclude", "allow"] = "exclude"
    network: str = ""  # where announcements go
    conversation: str = ""
    private: bool = False
    opened_at: str = ""
    closes_at: str = ""
    commitment: str = ""
    seed: str = ""
    secret: str = ""
    status: Literal["open", "closed"] = "open"
    closed_at: str = ""
    drawn_at: str = ""
    announced: bool = False
    entries: int = 0  # eligible entries the draw ran on
    excluded: int = 0
    drawn: tuple[str, ...] = ()  # every entry drawn, in order (winners_count = len)
    forfeited: tuple[str, ...] = ()
    claimed: tuple[str, ...] = ()

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> Giveaway:
        return cls(**_known_fields(cls, data))

    def dump(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def key(self) -> str:
        return giveaway_key(self.id)

    @property
    def closes(self) -> datetime | None:
        return datetime.fromisoformat(self.closes_at) if self.closes_at else None

    @property
    def where(self) -> tuple[str, str]:
        """(network, conversation) where the announcement and the results go."""
        return self.network, self.conversation

    @property
    def pending(self) -> list[str]:
        """Winners drawn who have neither claimed nor forfeited."""
        return [e for e in self.drawn if e not in self.forfeited and e not in self.claimed]

    @property
    def matcher(self) -> Matcher:
        """The giveaway's fields that recognise entries (a Matcher's fields, by name)."""
        return Matcher(**{f.name: getattr(self, f.name) for f in dataclasses.fields(Matcher)})

    def how(self) -> str:
        ways = []
        if self.hashtag:
            ways.append(f"post {self.hashtag}")
        if self.phrase:
            ways.append(f'write "{self.phrase}"')
        if self.command:
            ways.append("send /enter")
        if self.post:
            ways.append(f"react to post {self.post}")
        where = f" on {', '.join(self.networks)}" if self.networks else ""
        return f"To enter, {' or '.join(ways)}{where}."


@dataclass(frozen=True)
class Entry:
    """One person's entry, as stored under ``entry:<id>:<identity hash>:f<follower>:``."""

    entry: str
    follower_id: int
    network: str
    user_id: str
    conversation: str
    private: bool
    post_id: str
    at: str
    told: bool = False  # "already entered" said once; later repeats get no answer

    @classmethod
    def load(cls, key: str, data: Mapping[str, Any]) -> Entry:
        follower_id = int(key.rstrip(":").rsplit(":f", 1)[1])
        return cls(follower_id=follower_id, **{k: v for k, v in data.items() if k != "follower_id"})

    def dump(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        del data["follower_id"]
        return data

    def key(self, giveaway_id: int) -> str:
        return entry_key(giveaway_id, self.network, self.user_id, self.follower_id)


def identity_hash(network: str, user_id: str) -> str:
    """A short fixed-length key for one network identity (user ids may contain ':')."""
    return hashlib.sha256(f"{network}\n{user_id}".encode()).hexdigest()[:16]


def entry_prefix(giveaway_id: int, network: str = "", user_id: str = "") -> str:
    """Keys of a giveaway's entries, or of one identity's entry when it is given."""
    if not network:
        return f"entry:{giveaway_id}:"
    return f"entry:{giveaway_id}:{identity_hash(network, user_id)}:"


def entry_key(giveaway_id: int, network: str, user_id: str, follower_id: int) -> str:
    return f"{entry_prefix(giveaway_id, network, user_id)}f{follower_id}:"
