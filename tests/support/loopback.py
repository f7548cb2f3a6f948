"""Serve fakes of real network APIs on 127.0.0.1 under their real host names.

The network libraries keep their hard-coded https URLs (discord.com, api.x.com, ...);
the client side gets an aiohttp connector whose resolver maps those names to the
fake's loopback port and an SSL context that trusts only a throw-away test CA.
Nothing here can reach anything but loopback: unknown host names fail to resolve.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field

import aiohttp
import trustme
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult


class LoopbackResolver(AbstractResolver):
    """Resolves only the given host names, all to 127.0.0.1:<port>; anything else fails."""

    def __init__(self, hosts: Iterable[str], port: int) -> None:
        self._hosts = {h.lower() for h in hosts}
        self._port = port

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host.lower() not in self._hosts and host not in ("127.0.0.1", "localhost"):
            raise OSError(f"test resolver refuses {host!r}: only loopback fakes are reachable")
        return [
            ResolveResult(
                hostname=host,
                host="127.0.0.1",
                port=self._port,
                family=socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
        ]

    async def close(self) -> None:
        return None


@dataclass
class LoopbackTLS:
    """A test CA and a server certificate for the given names."""

    hosts: tuple[str, ...]
    ca: trustme.CA = field(default_factory=trustme.CA)

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert(*self.hosts).configure_cert(ctx)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        self.ca.configure_trust(ctx)
        return ctx


class LoopbackServer:
    """An aiohttp app served with TLS on 127.0.0.1 at a free port, posing as ``hosts``."""

    def __init__(self, app: web.Application, hosts: Iterable[str]) -> None:
        self.app = app
        self.hosts = tuple(hosts)
        self.tls = LoopbackTLS(self.hosts)
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app)
        await self._runner.setup()
        site = web.TCPSite(
            self._runner, "127.0.0.1", 0, ssl_context=self.tls.server_context()
        )
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def connector(self) -> aiohttp.TCPConnector:
        """A connector that sends the library's requests for ``hosts`` to this server."""
        return aiohttp.TCPConnector(
            resolver=LoopbackResolver(self.hosts, self.port),
            ssl=self.tls.client_context(),
            use_dns_cache=False,
        )
