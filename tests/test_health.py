"""The health endpoint on 127.0.0.1: status codes an operator's supervisor can act on."""

from __future__ import annotations

import aiohttp
import pytest

from brandbot.core.errors import ConfigError
from brandbot.networks.base import NetworkState
from brandbot.runtime.health import HealthServer, network_states, overall_status
from brandbot.runtime.logs import Redactor

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"


@pytest.fixture
async def served(make_bot):
    """A bot on two in-memory networks with its health server on a free loopback port."""
    bot = await make_bot(rules=[{"name": "hello", "kinds": ["direct"], "reply": "Hi!"}],
                         networks=["memory", "chat"])
    server = HealthServer(bot.bot, "127.0.0.1", 0, redact=Redactor([TOKEN]))
    await server.start()
    async with aiohttp.ClientSession() as http:
        yield bot, server, http
    await server.stop()


async def get(http: aiohttp.ClientSession, server: HealthServer, path: str) -> tuple[int, str, str]:
    async with http.get(f"http://127.0.0.1:{server.port}{path}") as response:
        return response.status, response.headers["Content-Type"], await response.text()


async def get_json(http: aiohttp.ClientSession, server: HealthServer) -> tuple[int, dict]:
    async with http.get(f"http://127.0.0.1:{server.port}/healthz") as response:
        return response.status, await response.json()


async def test_healthz_is_200_while_every_network_is_ready(served) -> None:
    _, server, http = served
    assert server.port != 0
    status, body = await get_json(http, server)
    assert status == 200
    assert body["status"] == "ok"
    assert body["networks"] == {"memory": {"state": "ready", "detail": ""}, "chat": {"state": "ready", "detail": ""}}
    assert body["outbox_depth"] == 0
    assert body["uptime_seconds"] >= 0
    assert body["store"]["schema_version"] >= 1
    assert body["version"]


async def test_healthz_is_503_when_a_network_failed(served) -> None:
    bot, server, http = served
    bot.bot.health["chat"] = (NetworkState.FAILED, "token rejected (401)")
    status, body = await get_json(http, server)
    assert status == 503
    assert body["status"] == "failing"
    assert body["networks"]["chat"] == {"state": "failed", "detail": "token rejected (401)"}
    assert body["networks"]["memory"]["state"] == "ready"


async def test_healthz_is_503_degraded_while_reconnecting_and_200_once_resumed(served) -> None:
    bot, server, http = served
    bot.bot.health["memory"] = (NetworkState.DEGRADED, "gateway connection lost")
    status, body = await get_json(http, server)
    assert (status, body["status"]) == (503, "degraded")
    bot.bot.health["memory"] = (NetworkState.RESUMED, "gateway session resumed")
    status, body = await get_json(http, server)
    assert (status, body["status"]) == (200, "ok")


async def test_healthz_never_shows_a_token_a_network_put_in_its_detail(served) -> None:
    bot, server, http = served
    bot.bot.health["chat"] = (NetworkState.FAILED, f"GET https://api.telegram.org/bot{TOKEN}/getMe: 401")
    _, body = await get_json(http, server)
    detail = body["networks"]["chat"]["detail"]
    assert TOKEN not in detail and "bot***/getMe" in detail


async def test_healthz_counts_replies_waiting_in_the_outbox(served) -> None:
    from brandbot.core.errors import RateLimitedError

    bot, server, http = served
    bot.networks["memory"].fail_next(RateLimitedError("429", 60))
    await bot.receive("direct", "hi", network="memory")
    _, body = await get_json(http, server)
    assert body["outbox_depth"] == 1


async def test_metrics_serves_prometheus_text_with_network_up(served) -> None:
    bot, server, http = served
    await bot.receive("direct", "hi", network="memory")
    bot.bot.health["chat"] = (NetworkState.CONNECTING, "")
    status, content_type, text = await get(http, server, "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain") and "version=0.0.4" in content_type
    assert 'brandbot_events_total{kind="direct",network="memory"} 1.0' in text
    assert 'brandbot_network_up{network="memory"} 1.0' in text
    assert 'brandbot_network_up{network="chat"} 0.0' in text


async def test_unknown_paths_are_404(served) -> None:
    _, server, http = served
    status, _, _ = await get(http, server, "/admin")
    assert status == 404


async def test_a_stopped_server_no_longer_answers(make_bot) -> None:
    bot = await make_bot()
    server = HealthServer(bot.bot, "127.0.0.1", 0)
    await server.start()
    port = server.port
    await server.stop()
    await server.stop()  # twice is fine
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(f"http://127.0.0.1:{port}/healthz")


async def test_a_busy_port_is_a_config_error_naming_the_port(make_bot) -> None:
    bot = await make_bot()
    first = HealthServer(bot.bot, "127.0.0.1", 0)
    await first.start()
    try:
        second = HealthServer(bot.bot, "127.0.0.1", first.port)
        with pytest.raises(ConfigError, match=f"127.0.0.1:{first.port}.*http.port"):
            await second.start()
    finally:
        await first.stop()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "bot.example.com"])
async def test_hosts_reachable_from_other_machines_are_refused(make_bot, host: str) -> None:
    bot = await make_bot()
    with pytest.raises(ConfigError, match="allow_remote"):
        HealthServer(bot.bot, host, 0)
    HealthServer(bot.bot, host, 0, allow_remote=True)  # the operator said so (not started here)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
async def test_loopback_hosts_are_accepted(make_bot, host: str) -> None:
    bot = await make_bot()
    HealthServer(bot.bot, host, 0)


def test_overall_status() -> None:
    ready, resumed = (NetworkState.READY, ""), (NetworkState.RESUMED, "")
    assert overall_status({"a": ready, "b": resumed}) == "ok"
    assert overall_status({"a": ready, "b": (NetworkState.CONNECTING, "")}) == "degraded"
    assert overall_status({"a": ready, "b": (NetworkState.DEGRADED, "")}) == "degraded"
    assert overall_status({"a": (NetworkState.DEGRADED, ""), "b": (NetworkState.FAILED, "")}) == "failing"
    assert overall_status({"a": (NetworkState.CLOSED, "")}) == "failing"
    assert overall_status({}) == "failing"


def test_a_network_that_never_reported_counts_as_connecting() -> None:
    states = network_states(["a", "b"], {"a": (NetworkState.READY, "")})
    assert states["a"] == (NetworkState.READY, "")
    assert states["b"][0] is NetworkState.CONNECTING
