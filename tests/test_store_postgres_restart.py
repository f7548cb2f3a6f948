"""A PostgreSQL store whose pooled connections the server ends while they sit idle.

At shutdown (or ``pg_terminate_backend``) the server sends every idle session a FATAL
ErrorResponse and then closes it. asyncpg reads the message while the connection waits in
the pool and puts its protocol out of step ("another operation is in progress"); until the
close arrives, the pool still hands the connection out. The store must drop such a
connection and try again on a fresh one, not fail the read that got it.

``_Proxy`` forwards the store's connections to a real server on loopback and can send that
FATAL message itself while holding the close back, so the window is open for as long as the
test needs instead of for one event-loop turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from brandbot.store.postgres import PostgresStore

pytestmark = pytest.mark.postgres


def _fatal(code: str, message: str) -> bytes:
    """A PostgreSQL ErrorResponse message ('E'), as the server sends it before closing."""
    fields = b"".join(
        kind + value.encode() + b"\0"
        for kind, value in ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", code), (b"M", message))
    )
    body = fields + b"\0"
    return b"E" + struct.pack("!I", len(body) + 4) + body


_ADMIN_SHUTDOWN = _fatal("57P01", "terminating connection due to administrator command")


class _Proxy:
    """Loopback TCP forwarding to the server; ``end_sessions`` mimics a shutdown, minus the close."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._target = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self._parts = parts
        self._sessions: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = []
        self._pumps: set[asyncio.Task[None]] = set()
        self.url = ""

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[_Proxy]:
        """Listen on a free loopback port (``url``) until the block ends."""
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        self.url = urlunsplit(
            self._parts._replace(netloc=f"{self._parts.username}@127.0.0.1:{port}")
        )
        try:
            yield self
        finally:
            server.close()
            for client, upstream in self._sessions:
                client.close()
                upstream.close()
            for pump in self._pumps:
                pump.cancel()
            await asyncio.gather(*self._pumps, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        self._sessions.append((writer, up_writer))
        for pump in (
            self._to_server(reader, up_writer, writer),
            self._to_client(up_reader, up_writer, writer),
        ):
            task = asyncio.create_task(pump)
            self._pumps.add(task)
            task.add_done_callback(self._pumps.discard)

    @staticmethod
    async def _to_server(
        reader: asyncio.StreamReader, upstream: asyncio.StreamWriter, client: asyncio.StreamWriter
    ) -> None:
        """Forward the client's messages; once its session was ended, close on its next one
        (the server would have closed already: this lets the store close such a connection)."""
        try:
            while (data := await reader.read(65536)) and not upstream.is_closing():
                upstream.write(data)
                await upstream.drain()
        except ConnectionError:
            pass
        finally:
            client.close()
            upstream.close()

    @staticmethod
    async def _to_client(
        up_reader: asyncio.StreamReader,
        upstream: asyncio.StreamWriter,
        client: asyncio.StreamWriter,
    ) -> None:
        """Forward the server's messages; when the server closes, close the client, unless
        ``end_sessions`` closed the server side to hold the close back."""
        with contextlib.suppress(ConnectionError):
            while data := await up_reader.read(65536):
                client.write(data)
                await client.drain()
        if not upstream.is_closing():
            client.close()

    async def end_sessions(self) -> int:
        """Send every open client session the server's shutdown FATAL; keep its socket open.

        The server side is closed, so nothing more arrives on these sessions: the store sees
        the message and no close. New connections are forwarded as before."""
        sessions, self._sessions = self._sessions, []
        for client, upstream in sessions:
            upstream.close()
            client.write(_ADMIN_SHUTDOWN)
            await client.drain()
        await asyncio.sleep(0.1)  # the store's event loop reads the message (loopback)
        return len(sessions)


async def test_a_pooled_connection_the_server_ended_is_dropped_and_the_read_retried(
    pg_url: str,
) -> None:
    async with (
        _Proxy(pg_url).running() as proxy,
        PostgresStore(proxy.url, commit_delay=3600, reconnect_timeout=20) as s,
    ):
        s.set_cursor("k", "v")
        await s.flush()
        assert await s.get_cursor("other") is None  # a read through the pool: it is idle now
        assert await proxy.end_sessions() >= 1
        assert await s.get_cursor("k") == "v"  # the read, on a fresh connection
        s.set_cursor("k", "w")
        assert await proxy.end_sessions() >= 1
        await s.flush()  # the commit, on a fresh connection
        assert await s.get_cursor("k") == "w"
