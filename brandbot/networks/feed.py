"""The feed network: events from a JSON-lines file, replies to a JSON-lines file.

For imports and backfills (run a year of exported messages through the rules and the
loyalty scoring), for replaying traffic, and for the crash test (``benchmarks/killtest.py``).
Each input line is one event in the format of ``brandbot simulate`` (see
:func:`brandbot.core.eventlines.parse_event`)::

    {"kind": "mention", "author": "ana", "text": "hi @brand", "id": "m-17"}

Why it is shaped this way:

- **Durable cursor.** The byte offset and line number of the next unread line are saved
  with ``host.save_cursor("feed:<absolute input path>", ...)``, but only after
  ``await host.settled()``: every event before the cursor has been handled and its
  writes committed. A crash therefore replays at most the events since the last save,
  and the bot's processed-id dedupe drops those that were already handled. The cursor
  is saved every ``batch`` events or ``save_interval`` seconds, whichever comes first.
- **Stable ids.** A line without an ``"id"`` gets ``<file name>:<line number>``, the same
  after every restart (so replays dedupe) and different between two files.
- **Hostile lines are skipped, not fatal.** A line that is not a valid event is logged
  with file:line and what is wrong, and reading goes on.
- **Replies are whole lines.** Each reply is one ``os.write`` of one JSON line to a file
  opened for appending (and ``fsync``-ed with ``fsync: true``); a line torn by a crash
  is terminated on the next start so it cannot swallow the next reply.
- ``follow: true`` tails a growing file (a line is read only once its newline arrived);
  otherwise, at the end of the input the feed asks the bot to stop, like the console.

Relative paths are relative to the working directory of the process.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from brandbot.clocks import Clock, SystemClock
from brandbot.core.errors import ConfigError
from brandbot.core.eventlines import parse_event
from brandbot.core.events import Event, Outgoing
from brandbot.networks.base import Network, NetworkHost, NetworkState, RateLimits, Sent

log = logging.getLogger("brandbot.network.feed")


class FeedConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # ``follow`` comes first: whether ``input`` must exist already depends on it.
    follow: bool = Field(False, description="Keep reading as the input file grows, like tail -f")
    input: str = Field(description="JSON-lines file of events to read")
    output: str | None = Field(None, description="File the replies are appended to as JSON lines (default: stdout)")
    batch: int = Field(200, ge=1, description="Save the read position at least every this many events")
    save_interval: float = Field(1.0, gt=0, description="... and at least every this many seconds")
    fsync: bool = Field(False, description="fsync the output after every reply (slower, survives power loss)")
    poll: float = Field(0.2, gt=0, description="Seconds between looks at the input when following it")
    keep_networks: bool = Field(
        False,
        description="Keep each line's 'network' field (importing another network's history) instead of "
        "attributing every event to this feed",
    )
    stop_at_end: bool = Field(True, description="Ask the bot to stop at the end of the input (when not following)")

    @field_validator("input")
    @classmethod
    def _input_exists(cls, value: str, info: ValidationInfo) -> str:
        # Caught by ``brandbot check`` and before ``run`` starts anything, with the line.
        if not value.strip():
            raise ValueError("give the path of a JSON-lines file of events")
        if not info.data.get("follow") and not Path(value).expanduser().is_file():
            raise ValueError(
                f"input file {value!r} does not exist (relative paths are relative to the working "
                f"directory, {Path.cwd()}); set follow: true to wait for it to appear"
            )
        return value


@dataclass(frozen=True, slots=True)
class FeedCursor:
    """Where reading resumes: the byte offset and the number of lines before it."""

    offset: int = 0
    line: int = 0

    def dump(self) -> str:
        return json.dumps({"offset": self.offset, "line": self.line})

    @classmethod
    def load(cls, text: str | None) -> FeedCursor:
        if not text:
            return cls()
        try:
            data = json.loads(text)
            cursor = cls(int(data["offset"]), int(data["line"]))
        except (ValueError, KeyError, TypeError):
            log.warning("feed: saved cursor %r is unreadable; starting from the beginning", text)
            return cls()
        return cursor if cursor.offset >= 0 and cursor.line >= 0 else cls()


def parse_line(raw: bytes, line: int, path: Path, network: str, *, keep_network: bool = False) -> Event | None:
    """One input line -> Event; None for a blank line. Raises ConfigError naming file:line."""

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", f"{path}:{line}") from None
    if not text.strip():
        return None
    event = parse_event(text, line, str(path))
    if event.id == f"sim{line}":  # no "id" in the line: stable, and distinct between files
        event = dataclasses.replace(event, id=f"{path.name}:{line}")
    if not keep_network and event.network != network:
        event = dataclasses.replace(
            event,
            network=network,
            author=dataclasses.replace(event.author, network=network),
            conversation=dataclasses.replace(event.conversation, network=network),
        )
    return event


def reply_record(message: Outgoing, network: str, now: str) -> dict[str, Any]:
    """The JSON object written for one reply."""
    reply = message.reply
    return {
        "outbox_id": message.outbox_id,
        "event_id": reply.event_id,
        "network": network,
        "conversation": reply.conversation.id,
        "text": reply.text,
        "time": now,
    }


class FeedNetwork(Network):
    name = "feed"
    Config = FeedConfig
    limits = RateLimits(max_text=1_000_000)
    send_concurrency = 64  # a send is a buffered line written to a file

    def __init__(self, config: FeedConfig, *, clock: Clock | None = None, name: str = "feed") -> None:
        self.config = config
        self.name = name
        self._clock = clock or SystemClock()
        self.input = Path(config.input).expanduser().absolute()
        self.output = Path(config.output).expanduser().absolute() if config.output else None
        self.cursor_key = f"feed:{self.input}"
        self._host: NetworkHost | None = None
        self._task: asyncio.Task[None] | None = None
        self._out_fd: int | None = None
        self._write_lock = asyncio.Lock()
        self._stopping = False
        self._last_save = time.monotonic()
        self._inode: int | None = None  # of the input file being read, to notice a replaced file
        self.position = FeedCursor()  # the next line to read (may be ahead of the saved cursor)
        self.saved = FeedCursor()  # the last cursor handed to save_cursor
        self.submitted = 0
        self.skipped = 0
        self.finished = asyncio.Event()  # set at the end of the input (not following)

    # -- network contract ---------------------------------------------------------------
    async def start(self, host: NetworkHost) -> None:
        if not self.input.is_file() and not self.config.follow:
            raise FileNotFoundError(f"feed input {self.input} does not exist")
        self._host = host
        self._last_save = time.monotonic()
        self._stopping = False
        self.finished.clear()
        if self.output is not None:
            self._out_fd = _open_for_append(self.output)
        self.position = self.saved = FeedCursor.load(await host.load_cursor(self.cursor_key))
        if self.position.offset:
            log.info("feed %s: resuming at line %d (byte %d)", self.input, self.position.line + 1, self.position.offset)
        self._task = asyncio.create_task(self._read(), name=f"feed:{self.input.name}")
        host.report_state(NetworkState.READY, f"reading {self.input}")

    async def stop_intake(self) -> None:
        """Stop reading; the bot then finishes what was already submitted.

        The cursor is not saved here nor in ``stop``: on a stop whose grace ran out the
        bot cancels events still being handled, and a cursor saved after that would skip
        them. The next start replays from the last checkpoint and dedupe drops the rest.
        """
        self._stopping = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def stop(self) -> None:
        await self.stop_intake()
        if self._host is not None:
            self._host.report_state(NetworkState.CLOSED)
            self._host = None
        if self._out_fd is not None:
            os.close(self._out_fd)
            self._out_fd = None

    async def send(self, message: Outgoing) -> Sent:
        record = reply_record(message, self.name, self._clock.now().isoformat())
        data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        if self._out_fd is None and self.output is not None:
            self._out_fd = _open_for_append(self.output)
        async with self._write_lock:
            if self._out_fd is None:
                print(data.decode("utf-8"), end="", flush=True)
            elif self.config.fsync:
                await asyncio.to_thread(_write_all, self._out_fd, data, True)
            else:
                _write_all(self._out_fd, data, False)
        return Sent((f"{self.name}-{message.outbox_id}",))

    # -- reading --------------------------------------------------------------------------
    async def _read(self) -> None:
        host = self._host
        assert host is not None
        try:
            while not self._stopping:
                if self.input.is_file():  # when following, the file may not exist yet
                    await self._read_available(host)
                    if not self.config.follow:
                        break
                await asyncio.sleep(self.config.poll)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("feed %s: reading failed", self.input)
            host.report_state(NetworkState.FAILED, f"{type(exc).__name__}: {exc}")
            return
        log.info("feed %s: end of input after line %d (%d events, %d lines skipped)",
                 self.input, self.position.line, self.submitted, self.skipped)
        self.finished.set()
        request_stop = getattr(host, "request_stop", None)
        if self.config.stop_at_end and request_stop is not None:
            request_stop("end of feed input")

    async def _read_available(self, host: NetworkHost) -> None:
        """Submit every complete line from the current position, then save the position."""
        # Plain blocking reads: a local file, read a line at a time between submits.
        with open(self.input, "rb") as f:  # noqa: ASYNC230
            stat = os.fstat(f.fileno())
            replaced = self._inode is not None and stat.st_ino != self._inode
            if stat.st_size < self.position.offset or replaced:
                log.warning("feed %s: the file was truncated or replaced; reading it again from the start "
                            "(lines without an \"id\" get the same ids again and are taken as already seen)",
                            self.input)
                self.position = FeedCursor()
            self._inode = stat.st_ino
            f.seek(self.position.offset)
            while not self._stopping:
                raw = f.readline()
                if not raw:
                    break
                if not raw.endswith(b"\n") and self.config.follow:
                    break  # a line still being written: read it once its newline is there
                line = self.position.line + 1
                try:
                    event = parse_line(raw, line, self.input, self.name, keep_network=self.config.keep_networks)
                except ConfigError as exc:
                    self.skipped += 1
                    log.error("feed: skipped a line that is not an event: %s", exc)
                    event = None
                except Exception:
                    self.skipped += 1
                    log.exception("feed: skipped line %s:%d, which could not be read", self.input, line)
                    event = None
                if event is not None:
                    await host.submit(event)
                    self.submitted += 1
                self.position = FeedCursor(self.position.offset + len(raw), line)
                if (self.position.line - self.saved.line >= self.config.batch
                        or time.monotonic() - self._last_save >= self.config.save_interval):
                    await self._checkpoint()
        await self._checkpoint()

    async def _checkpoint(self) -> None:
        """Save the read position once every event before it is handled and committed."""
        host = self._host
        if host is None:
            return
        position = self.position
        self._last_save = time.monotonic()
        if position == self.saved:
            return
        await host.settled()
        await host.save_cursor(self.cursor_key, position.dump())
        self.saved = position


def _open_for_append(path: Path) -> int:
    """Open ``path`` for appending; terminate a line a crash left half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    size = os.fstat(fd).st_size
    if size:
        with open(path, "rb") as f:
            f.seek(size - 1)
            if f.read(1) != b"\n":
                _write_all(fd, b"\n", False)
    return fd


def _write_all(fd: int, data: bytes, sync: bool) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    if sync:
        os.fsync(fd)


__all__ = ["FeedConfig", "FeedCursor", "FeedNetwork", "parse_line", "reply_record"]
