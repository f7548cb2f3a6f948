"""The operator's HTTP endpoint: ``GET /healthz`` (JSON) and ``GET /metrics`` (Prometheus).

Off unless ``http.enabled`` is true. It has no authentication, so it binds to a loopback
address; another host is refused unless the operator says ``allow_remote`` (then put
it behind a firewall or a reverse proxy). ``/healthz`` answers 200 only while every
network is ready (or resumed after a reconnect), 503 otherwise, so a supervisor or a
load balancer can act on the status code alone.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from brandbot import __version__
from brandbot.core.errors import ConfigError
from brandbot.networks.base import NetworkState
from brandbot.runtime.logs import Redactor
from brandbot.runtime.metrics import UP_STATES

if TYPE_CHECKING:
    from brandbot.runtime.bot import Bot

#: The Prometheus text exposition format the metrics are rendered in.
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: States in which a network is not serving and will not recover on its own.
DOWN_STATES = frozenset({NetworkState.FAILED, NetworkState.CLOSED})

OK, DEGRADED, FAILING = "ok", "degraded", "failing"


def network_states(
    networks: Iterable[str], reported: Mapping[str, tuple[NetworkState, str]]
) -> dict[str, tuple[NetworkState, str]]:
    """Every enabled network's (state, detail); one that has not reported yet is connecting."""
    return {name: reported.get(name, (NetworkState.CONNECTING, "no state reported yet")) for name in networks}


def overall_status(states: Mapping[str, tuple[NetworkState, str]]) -> str:
    """ok when every network is up; failing when one has failed or closed; else degraded."""
    if not states or any(state in DOWN_STATES for state, _ in states.values()):
        return FAILING
    if all(state in UP_STATES for state, _ in states.values()):
        return OK
    return DEGRADED


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


log = logging.getLogger("brandbot")

class HealthServer:
    """Serves /healthz and /metrics for one bot on ``host:port`` (port 0 picks a free one)."""

    def __init__(
        self,
        bot: Bot,
        host: str = "127.0.0.1",
        port: int = 8787,
        *,
        allow_remote: bool = False,
        redact: Callable[[str], str] | None = None,
        mounts: Iterable[Callable[[web.Application], None]] = (),
    ) -> None:
        if not is_loopback(host) and not allow_remote:
            raise ConfigError(
                f"http.host is {host!r}, which is reachable from other machines, and /healthz and "
                "/metrics have no authentication; keep 127.0.0.1 (scrape through a reverse proxy "
                "or an SSH tunnel), or set http.allow_remote: true on a trusted network"
            )
        self._bot = bot
        # The server is where metrics are seen, so it connects the states they read.
        bot.metrics.set_network_states(lambda: network_states(bot.networks, bot.health))
        self._host = host
        self._port = port
        # Adapters redact their details already; this is the second lock on the door.
        self._redact = redact or Redactor()
        self._runner: web.AppRunner | None = None
        self._started = 0.0
        # What else this server serves (the staff web UI), added by a layer above runtime.
        self._mounts = tuple(mounts)

    @property
    def port(self) -> int:
        """The port actually bound (the chosen one when started with port 0)."""
        if self._runner is not None and self._runner.addresses:
            return int(self._runner.addresses[0][1])
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        if self._runner is not None:
            return
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        for mount in self._mounts:
            mount(app)
        # No access log: a scrape every few seconds would drown the useful lines.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
        except OSError as exc:
            await runner.cleanup()
            raise ConfigError(
                f"cannot serve health and metrics on {self._host}:{self._port}: {exc.strerror or exc}; "
                "choose another http.port or stop what is using it"
            ) from exc
        self._runner = runner
        self._started = time.monotonic()
        log.info("health and metrics on %s (/healthz, /metrics)", self.url)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    # -- the two pages -----------------------------------------------------------------
    def report(self) -> tuple[int, dict[str, Any]]:
        """The /healthz status code and body."""
        bot = self._bot
        states = network_states(bot.networks, bot.health)
        status = overall_status(states)
        metrics = bot.metrics
        last = metrics.last_flush
        since = metrics.seconds_since_flush()
        body: dict[str, Any] = {
            "status": status,
            "networks": {
                name: {"state": state.value, "detail": self._redact(detail)} for name, (state, detail) in states.items()
            },
            "outbox_depth": bot.outbox.depth(),
            "uptime_seconds": round(time.monotonic() - self._started, 3) if self._started else 0.0,
            "store": {
                "schema_version": bot.store.schema_version(),
                "seconds_since_flush": None if since is None else round(since, 3),
                "last_flush_rows": None if last is None else last[1],
            },
            "version": __version__,
        }
        return (200 if status == OK else 503), body

    async def _healthz(self, request: web.Request) -> web.Response:
        code, body = self.report()
        return web.json_response(body, status=code, headers={"Cache-Control": "no-store"})

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self._bot.metrics.render(),
            headers={"Content-Type": METRICS_CONTENT_TYPE, "Cache-Control": "no-store"},
        )
