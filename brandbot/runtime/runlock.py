"""One running bot per database, and no offline edits while it runs.

``brandbot run`` holds an exclusive lock on ``<database>.lock``. Commands that change
people in the store behind the bot's back (``followers forget``/``tag``, ``loyalty
recompute``) take the same lock first and refuse while the bot runs: the running bot
keeps people in memory and would write them back.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType
from typing import Self

from brandbot.core.errors import BrandbotError


class DatabaseBusyError(BrandbotError):
    """Another process holds the database's run lock."""


class RunLock:
    def __init__(self, database: str, purpose: str) -> None:
        self.path = None if database == ":memory:" else Path(database + ".lock")
        self.purpose = purpose
        self._fd: int | None = None

    def __enter__(self) -> Self:
        if self.path is None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise DatabaseBusyError(
                f"{self.path.with_suffix('')} is in use by {holder}; stop the bot first "
                f"(it keeps followers in memory and would undo this {self.purpose})"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"brandbot {self.purpose} (pid {os.getpid()})".encode())
        self._fd = fd
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
