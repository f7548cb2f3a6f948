"""The console network: the embedded default, no tokens, one person or many.

Each input line is a message. ``@name: text`` speaks as the follower ``name`` (so one
person can play several followers); a plain line speaks as the default author.
Replies are printed as ``[bot -> name] text``. Extra forms for trying campaigns:

- ``/command args``        a command
- ``@ana #room: text``    a public message in ``room`` (a mention if it names the bot)
- ``@ana: !repost POST``  a repost of brand post POST (also ``!quote POST text``,
  ``!reply POST text``, ``!follow``, ``!join``, ``!react POST emoji``)

Works interactively and with piped input; at end of input the bot finishes what it
is doing, flushes and exits.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import sys
import threading
import time
from typing import IO

from pydantic import BaseModel, ConfigDict, Field

from brandbot.clocks import Clock, SystemClock
from brandbot.core.events import Conversation, Event, Kind, Outgoing, Person
from brandbot.networks.base import Network, NetworkHost, NetworkState, RateLimits, Sent

_LINE = re.compile(r"^@(?P<name>[\w.\-]+)(?:\s+#(?P<room>[\w.\-]+))?\s*:\s?(?P<text>.*)$", re.DOTALL)
_ACTIONS = {"repost": Kind.REPOST, "quote": Kind.QUOTE, "reply": Kind.REPLY, "follow": Kind.FOLLOW,
            "join": Kind.JOIN, "react": Kind.REACTION}


class ConsoleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    default_author: str = Field("you", description="Who plain lines (without @name:) come from")
    bot_name: str = Field("brandbot", description="Name that makes a room message a mention (@brandbot)")
    prompt: bool = Field(True, description="Print a short help line when stdin is a terminal")


class ConsoleNetwork(Network):
    name = "console"
    Config = ConsoleConfig
    limits = RateLimits()

    def __init__(self, config: ConsoleConfig | None = None, *, clock: Clock | None = None,
                 stdin: IO[str] | None = None, stdout: IO[str] | None = None) -> None:
        self.config = config or ConsoleConfig()
        self._clock = clock or SystemClock()
        self._in = stdin if stdin is not None else sys.stdin
        self._out = stdout if stdout is not None else sys.stdout
        self._host: NetworkHost | None = None
        self._task: asyncio.Task[None] | None = None
        self._run = f"{time.time_ns():x}"
        self._seq = itertools.count(1)
        self._posts = itertools.count(1)
        self.eof = asyncio.Event()

    # -- parsing (pure) -----------------------------------------------------------------
    def parse(self, line: str) -> Event | None:
        """Turn one input line into an Event (None for blank lines)."""
        line = line.rstrip("\r\n")
        if not line.strip():
            return None
        m = _LINE.match(line)
        name, room, text = (m["name"], m["room"], m["text"]) if m else (self.config.default_author, None, line)
        author = Person("console", name, handle=name, name=name.capitalize())
        n = next(self._seq)
        event_id = f"{self._run}-{n}"
        if room:
            conversation = Conversation("console", room, private=False, title=f"#{room}")
        else:
            conversation = Conversation("console", f"dm:{name}", private=True, title=name)
        kind, refers_to, command = Kind.DIRECT if not room else Kind.MESSAGE, None, None
        args: tuple[str, ...] = ()
        data: tuple[tuple[str, str], ...] = ()
        stripped = text.strip()
        if stripped.startswith("!") and stripped[1:].split(" ", 1)[0] in _ACTIONS:
            word, _, rest = stripped[1:].partition(" ")
            kind = _ACTIONS[word]
            if kind in (Kind.REPOST, Kind.QUOTE, Kind.REPLY, Kind.REACTION):
                refers_to, _, rest = rest.strip().partition(" ")
                refers_to = refers_to or "brand-post"
                if kind is Kind.REACTION:
                    data = (("emoji", rest.strip() or "❤"),)
                    rest = ""
            text = rest.strip()
        elif stripped.startswith("/") and len(stripped) > 1:
            kind = Kind.COMMAND
            head, *words = stripped[1:].split()
            command = head.split("@", 1)[0].lower()
            args = tuple(words)
        elif room and f"@{self.config.bot_name}".lower() in stripped.lower():
            kind = Kind.MENTION
        addressed = kind in (Kind.DIRECT, Kind.MENTION, Kind.COMMAND, Kind.REPLY, Kind.QUOTE)
        return Event(
            kind=kind, network="console", id=event_id, author=author, conversation=conversation,
            text=text, time=self._clock.now(), post_id=f"c{self._run}-{n}", refers_to=refers_to,
            addressed=addressed, command=command, args=args, data=data, raw=line,
        )

    # -- network contract ---------------------------------------------------------------
    async def start(self, host: NetworkHost) -> None:
        self._host = host
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[str | None] = asyncio.Queue()

        def read() -> None:  # a daemon thread: a blocked read never holds up shutdown
            try:
                for line in self._in:
                    loop.call_soon_threadsafe(lines.put_nowait, line)
            except (ValueError, OSError):
                pass
            finally:
                try:
                    loop.call_soon_threadsafe(lines.put_nowait, None)
                except RuntimeError:
                    pass

        if self.config.prompt and getattr(self._in, "isatty", lambda: False)():
            self._print("brandbot console: type a message, or '@name: text' to speak as someone else. Ctrl-D quits.")
        threading.Thread(target=read, name="console-stdin", daemon=True).start()
        self._task = asyncio.create_task(self._pump(lines), name="console")
        host.report_state(NetworkState.READY)

    async def _pump(self, lines: asyncio.Queue[str | None]) -> None:
        assert self._host is not None
        while True:
            line = await lines.get()
            if line is None:
                break
            event = self.parse(line)
            if event is not None:
                await self._host.submit(event)
        self.eof.set()
        request_stop = getattr(self._host, "request_stop", None)
        if request_stop is not None:
            request_stop("end of console input")

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._host is not None:
            self._host.report_state(NetworkState.CLOSED)
            self._host = None

    async def send(self, message: Outgoing) -> Sent:
        conv = message.reply.conversation
        target = conv.id[3:] if conv.id.startswith("dm:") else f"#{conv.id}"
        self._print(f"[bot -> {target}] {message.reply.text}")
        return Sent((f"out-{self._run}-{next(self._posts)}",))

    def _print(self, text: str) -> None:
        self._out.write(text + "\n")
        self._out.flush()
