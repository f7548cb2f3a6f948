"""The contract between brandbot's core and a network adapter.

An adapter only translates: library objects in, :class:`~brandbot.core.events.Event` out;
:class:`~brandbot.core.events.Outgoing` in, library call out. It holds no business logic.
The core hands each adapter a :class:`NetworkHost` with everything it may need.
"""

from __future__ import annotations

import abc
import enum
import logging
from dataclasses import dataclass
from typing import Protocol

from brandbot.core.events import Event, Outgoing


class NetworkState(enum.StrEnum):
    """Health of a network, as reported by its adapter."""

    CONNECTING = "connecting"
    READY = "ready"
    RESUMED = "resumed"
    DEGRADED = "degraded"
    CLOSED = "closed"
    FAILED = "failed"


#: A rate window: at most ``count`` sends per ``seconds``.
Window = tuple[int, float]


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Sending limits the outbox enforces *before* sending: the platform's documented ones.

    Each field is a tuple of windows; all of them must have room for a send to go out.
    """

    per_conversation: tuple[Window, ...] = ()
    per_group: tuple[Window, ...] = ()  # each non-private conversation
    overall: tuple[Window, ...] = ()  # everything this network sends
    private_overall: tuple[Window, ...] = ()  # all private/direct messages together
    max_text: int = 4096  # characters; longer text is split by the adapter


@dataclass(frozen=True, slots=True)
class Sent:
    """What a network returns after delivering: the platform ids of the posted messages."""

    post_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A command the bot answers, for networks that register them (Telegram, Discord)."""

    name: str
    description: str
    admin_only: bool = False


class NetworkHost(Protocol):
    """What the core offers an adapter. Implemented by the Bot."""

    log: logging.Logger

    async def submit(self, event: Event) -> None:
        """Hand over one event. Returns once it is queued; blocks while the queue is full."""

    async def settled(self) -> None:
        """Wait until every event this adapter submitted is handled and durably stored.

        Polling adapters call this before advancing their stored cursor, so a crash
        between the two replays events (deduped by id) instead of losing them.
        """

    async def load_cursor(self, key: str) -> str | None:
        """Read a durable cursor (update offset, since_id) saved under ``key``."""

    async def save_cursor(self, key: str, value: str) -> None:
        """Durably save a cursor; committed with the events submitted before it."""

    def report_state(self, state: NetworkState, detail: str = "") -> None:
        """Tell the bot's health how this network is doing."""

    def commands(self) -> list[CommandSpec]:
        """The commands to register with networks that show a command menu."""


class Network(abc.ABC):
    """Base class of every network adapter.

    ``start`` connects and begins delivering events to ``host.submit``; it returns once
    the network is receiving (it must not block for the network's lifetime: run the
    receive loop as a task). ``stop`` closes everything and is safe to call twice.
    ``send`` delivers one message or raises a :class:`~brandbot.core.errors.SendError`.
    """

    #: name used in config, events and the store: "console", "telegram", "discord", "x"
    name: str = ""
    #: True where the platform allows automated replies only to people who summoned us.
    requires_summons: bool = False
    #: True where the bot only reads (blogs): the policy refuses every message to it.
    read_only: bool = False
    limits: RateLimits = RateLimits()
    #: Sends in flight at once (0: the outbox's default, 4). Remote APIs want few; a
    #: network whose send returns at once (memory, feed) can take many, or replies
    #: generated faster than four per loop turn would pile up in the outbox.
    send_concurrency: int = 0

    @abc.abstractmethod
    async def start(self, host: NetworkHost) -> None: ...

    @abc.abstractmethod
    async def stop(self) -> None: ...

    @abc.abstractmethod
    async def send(self, message: Outgoing) -> Sent: ...

    def cost_of(self, text: str) -> float:
        """Estimated money cost of sending ``text`` (X bills per post); 0 where free."""
        return 0.0

    def check_text(self, text: str) -> str | None:
        """Why ``text`` can never be sent here (e.g. over X's 280 characters), or None."""
        return None

    def length_of(self, text: str) -> int:
        """The length of ``text`` as this network counts it against ``limits.max_text``."""
        return len(text)


def split_text(text: str, limit: int) -> list[str]:
    """Split text into chunks of at most ``limit`` characters, preferring line and word breaks."""
    if limit <= 0:
        raise ValueError("limit must be positive")
    chunks: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit + 1)
        if cut <= 0:
            cut = rest.rfind(" ", 0, limit + 1)
        if cut <= 0:
            cut = limit
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not chunks:
        chunks.append(rest)
    return chunks
