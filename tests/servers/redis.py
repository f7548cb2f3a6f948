"""A real ``redis-server`` for tests: in a temporary folder, on a free loopback port.

It runs with the production durability settings (append-only file, ``appendfsync
everysec``) so that a test can SIGKILL it and see what a real crash loses, then start it
again on the same port and folder. It never skips: when redis-server is missing or does
not start, the test fails and says what to install.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

#: Where CI (.ci/run) and the Debian package put it; PATH is searched first.
DEFAULT_BINARY = "/usr/bin/redis-server"
START_TIMEOUT = 10.0


class RedisServerError(RuntimeError):
    """redis-server is missing or did not start; the message says what to do."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_binary() -> str:
    found = shutil.which("redis-server") or (DEFAULT_BINARY if os.path.exists(DEFAULT_BINARY) else None)
    if found is None:
        raise RedisServerError("redis-server is not installed: apt-get install redis-server "
                               "(.ci/run installs it in CI); the scale-out tests need a real one")
    return found


class RedisServer:
    """One redis-server process; ``kill()`` is a SIGKILL (a crash), ``start()`` brings it back."""

    def __init__(self, folder: Path, port: int | None = None, *, persist: bool = True) -> None:
        """``persist=False``: no append-only file, so a SIGKILL loses everything (the worst a
        crash can do; with ``appendfsync everysec`` it loses up to the last second or two)."""
        self.folder = folder
        self.port = port or free_port()
        self.persist = persist
        self.process: subprocess.Popen[bytes] | None = None
        self.log = folder / "redis.log"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        if self.process is not None and self.process.poll() is None:
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        args = [
            redis_binary(), "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.folder),
            "--appendonly", "yes" if self.persist else "no", "--appendfsync", "everysec", "--save", "",
            "--protected-mode", "yes", "--logfile", str(self.log), "--daemonize", "no",
        ]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if self._answers():
                return self
            time.sleep(0.02)
        self.stop()
        tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
        raise RedisServerError(f"redis-server did not start on 127.0.0.1:{self.port} within "
                               f"{START_TIMEOUT:.0f}s; its log:\n{tail}")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: no shutdown save, the append-only file keeps what was fsynced."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh redis-server for one test, stopped after it."""
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()
