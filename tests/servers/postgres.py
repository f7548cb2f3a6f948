"""A real PostgreSQL server for the tests: a fresh cluster in a temporary folder, on a free
loopback port, started once per test session and stopped after.

The server binaries come from the system's PostgreSQL package (``/usr/lib/postgresql/*/bin``;
``.ci/run`` installs it when missing). PostgreSQL refuses to run as root, and the tests run
as root in CI: then the cluster belongs to the ``postgres`` system user (created by the
package) and the server runs as that user. When the server cannot start, the fixture
fails with the reason and what to do: tests marked ``postgres`` never skip silently.

Fixtures: ``postgres_server`` (the session's server) and ``pg_url`` (a new, empty database
on it for one test). ``PostgresServer`` can also be started on its own, for a test that
stops and starts the server under a running store.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

#: Seconds a start or a stop may take before the fixture gives up (and says why).
START_TIMEOUT = 60.0
_SERVER_USER = "postgres"
_PR_SET_PDEATHSIG = 1
_databases = itertools.count(1)


class PostgresUnavailable(RuntimeError):
    """The test server cannot run here; the message says what to install or fix."""


def _bin_dir() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/postgres"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if not found:
        raise PostgresUnavailable(
            "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin: install the system "
            "package (apt-get install postgresql; .ci/run does it) to run the tests marked "
            "'postgres'"
        )
    return Path(found[-1]).parent


def _die_with_the_tests() -> None:
    """In the server's process before exec: stop it when the test process dies, even by
    SIGKILL or a timeout, so a killed run leaves no server behind (Linux)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGQUIT)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """One throw-away cluster: ``start()``, ``stop()`` (and start again), ``remove()``."""

    def __init__(self) -> None:
        self.bin = _bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="brandbot-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = _free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._user: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                self._user = pwd.getpwnam(_SERVER_USER)
            except KeyError:
                raise PostgresUnavailable(
                    f"the tests run as root, which PostgreSQL refuses, and there is no "
                    f"'{_SERVER_USER}' user to run it as: install the postgresql package "
                    "(it creates the user) or run the tests as an ordinary user"
                ) from None
            os.chown(self.root, self._user.pw_uid, self._user.pw_gid)
        os.chmod(self.root, 0o700)
        self._initdb()

    # --- running commands as the server's user -----------------------------------------

    def _run(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [str(self.bin / args[0]), *args[1:]], capture_output=True, check=False,
            timeout=START_TIMEOUT, **self._as_user(),
        )  # fmt: skip

    def _as_user(self) -> dict[str, object]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"}
        if self._user is None:
            return {"env": {**env, "HOME": os.environ.get("HOME", str(self.root))}}
        return {
            "user": self._user.pw_uid,
            "group": self._user.pw_gid,
            "extra_groups": [],
            "env": {**env, "HOME": str(self.root)},
            "cwd": str(self.root),
        }

    def _initdb(self) -> None:
        done = self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--no-sync", "--no-instructions",
        )  # fmt: skip
        if done.returncode != 0:
            raise PostgresUnavailable(
                f"initdb failed (exit {done.returncode}) in {self.data}: "
                f"{(done.stderr or done.stdout).decode(errors='replace').strip()[-2000:]}"
            )

    # --- start and stop ------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Start the server (again, on the same port and data) and wait until it answers."""
        if self.running:
            return
        log = open(self.log, "ab")  # noqa: SIM115 - the server writes to it while it runs
        try:
            self._process = subprocess.Popen(
                [
                    str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port),
                    "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.root}",
                    # A throw-away cluster: durability against power loss is not under test.
                    "-c", "fsync=off", "-c", "full_page_writes=off",
                    "-c", "max_connections=200", "-c", "shared_buffers=32MB",
                ],
                # The death signal follows the thread that started the server, not the
                # process: set from a worker thread (asyncio.to_thread), it stopped the server
                # as soon as that thread ended. There, the fixture's teardown stops it.
                stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_the_tests if threading.current_thread() is threading.main_thread() else None,  # noqa: PLW1509
                **self._as_user(),  # type: ignore[call-overload]
            )  # fmt: skip
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            ready = subprocess.run(
                [str(self.bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
                check=False, timeout=START_TIMEOUT,
            )  # fmt: skip
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        self.stop()
        raise PostgresUnavailable(
            f"PostgreSQL did not start on 127.0.0.1:{self.port} within {START_TIMEOUT:.0f} s; "
            f"its log ({self.log}) ends with:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """Fast shutdown (clients are disconnected, nothing committed is lost)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(START_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"

    async def create_database(self) -> str:
        """A new empty database on this server; returns its URL."""
        import asyncpg

        name = f"test_{os.getpid()}_{next(_databases)}"
        conn = await asyncpg.connect(self.url())
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return self.url(name)


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """A server of its own, started, and removed after (for tests that stop it)."""
    try:
        server = PostgresServer()
        server.start()
    except PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server (fails the test, never skips, when it cannot start)."""
    with running_postgres() as server:
        yield server


@pytest.fixture
async def pg_url(postgres_server: PostgresServer) -> AsyncIterator[str]:
    """The URL of a new, empty database for one test."""
    if not postgres_server.running:  # a test stopped it: bring it back for the next one
        postgres_server.start()
    yield await postgres_server.create_database()
