"""A bot with a seeded database and the staff web UI served on 127.0.0.1, for the web tests.

Five days of traffic on two simulated networks (telegram and x, with X's summons rule
and cost per post): mentions and direct messages, some answered an hour late (over the
hourly budget), follows,
reposts the amplify plugin records, an opt-out and a handoff the policy then refuses
replies for, a person whose name is HTML, and one private conversation handed to the team.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from brandbot.core.events import Conversation, Event, Kind, Person
from brandbot.runtime.health import HealthServer
from brandbot.testing import BotHarness, build_harness
from brandbot.web.accounts import hash_password
from brandbot.web.app import WebUI

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SECRET = "test-secret-for-the-web-ui-0123456789-abcdef"
PASSWORDS = {"ana": "ana-staff-password", "bo": "bo-staff-password", "vic": "vic-viewer-password",
             "kim": "kim-staff-password"}  # kim: the login throttle's test locks her out
ROLES = {"ana": "staff", "bo": "staff", "vic": "viewer", "kim": "staff"}
EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'
RULES = [
    {"name": "hello", "kinds": ["mention", "direct"], "reply": "Hi {{ name }}, thanks for writing!"},
    {"name": "followed", "kinds": ["follow"], "networks": ["telegram"], "reply": "Thanks for following, {{ name }}!"},
]
_HASHES: dict[str, str] = {}


def accounts() -> dict[str, dict[str, str]]:
    """The accounts section (hashed once per test session: argon2 is slow on purpose)."""
    if not _HASHES:
        _HASHES.update({name: hash_password(pw) for name, pw in PASSWORDS.items()})
    return {name: {"password": _HASHES[name], "role": ROLES[name]} for name in PASSWORDS}


@dataclass
class Served:
    harness: BotHarness
    ui: WebUI
    server: HealthServer

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    async def close(self) -> None:
        await self.server.stop()
        await self.harness.close()


_ids = itertools.count(1)


async def say(h: BotHarness, network: str, kind: str, author: str, text: str = "", *, name: str | None = None,
              private: bool | None = None, post: str = "brand-post-1") -> Event:
    """Deliver one event now (then a minute passes); returns it."""
    k = Kind.parse(kind)
    private = k is Kind.DIRECT if private is None else private
    n = next(_ids)
    conv = f"dm:{author}" if private else "public"
    event = Event(kind=k, network=network, id=f"seed{n}", author=Person(network, f"u-{author}", author,
                                                                           name if name is not None else author.title()),
                  conversation=Conversation(network, conv, private=private), text=text,
                  time=h.clock.now(), post_id=f"p{n}", refers_to=post if k in (Kind.REPOST, Kind.QUOTE) else None,
                  addressed=k in (Kind.MENTION, Kind.DIRECT, Kind.QUOTE))
    await h.deliver(event)
    await h.advance(60)
    return event


async def next_hour(h: BotHarness) -> None:
    """Start a fresh hour, so a test's replies are not held back by the seeded hourly budget."""
    await h.advance(3_600)


async def seed(h: BotHarness) -> None:
    for day in range(5):
        for i in range(day + 2):
            await say(h, "telegram", "mention", f"fan{i}", "hi @brand")
        await say(h, "telegram", "direct", "ana_b", "hello there")
        await say(h, "x", "mention", "cy", "@brand hello")
        await say(h, "telegram", "follow", f"follower{day}")
        await say(h, "x", "repost", "cy", post=f"brand-post-{day}")
        await say(h, "telegram", "repost", "fan0", post=f"brand-post-{day}")
        await say(h, "telegram", "repost", f"fan{day}", post=f"brand-post-{day}")
        await h.advance(3_600)  # replies over the hourly budget leave now, an hour late
        await h.advance(86_400 - 3_600 - 60 * (day + 7))
    await say(h, "x", "quote", "dee", "@brand love this")
    await say(h, "telegram", "mention", "mal", "hi @brand", name=EVIL)
    await say(h, "telegram", "direct", "quinn", "stop")
    await say(h, "telegram", "mention", "quinn", "hi @brand")  # refused: opted out
    await say(h, "telegram", "direct", "zoe", "my order never came")
    await say(h, "telegram", "direct", "zoe", "human")
    await say(h, "telegram", "direct", "zoe", "hello? anyone?")  # refused: handed off
    await h.advance(3_600)  # what waited for the hourly budget leaves; the next hour starts fresh
    await h.bot.store.flush()


async def serve(folder: Path, **extra: object) -> Served:
    """A seeded bot (database file in ``folder``) with the web UI on a free loopback port."""
    config = {
        "storage": {"path": "bot.sqlite3"},
        "plugin_dirs": [str(ROOT / "plugins")],
        "plugins": {"handoff": {}, "optout": {}, "amplify": {"digest": False}},
        "staff": {"network": "telegram", "conversation": "staff"},
        "policy": {"daily_cost_budget": 1.0, "rate_budget_per_hour": 5},
        "http": {"accounts": accounts(), "secret": SECRET},
        **extra,
    }
    h = await build_harness(folder, config=config, rules=RULES, plugins=["handoff", "optout", "amplify"],
                            networks=("telegram", "x"), start=START, store_path=folder / "bot.sqlite3")
    await seed(h)
    ui = WebUI(h.bot)
    server = HealthServer(h.bot, "127.0.0.1", 0, mounts=[ui.mount])
    await server.start()
    return Served(h, ui, server)


def client() -> aiohttp.ClientSession:
    """A client that keeps cookies for 127.0.0.1 (aiohttp's default jar ignores IP hosts) and
    does not follow redirects, so tests see them."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


CSRF_FIELD = 'name="csrf" value="'


def csrf_in(html: str) -> str:
    start = html.index(CSRF_FIELD) + len(CSRF_FIELD)
    return html[start: html.index('"', start)]


async def login(http: aiohttp.ClientSession, url: str, name: str) -> str:
    """Log in through the form; returns the session's CSRF token."""
    async with http.get(f"{url}/login") as r:
        token = csrf_in(await r.text())
    async with http.post(f"{url}/login", data={"csrf": token, "name": name, "password": PASSWORDS[name]},
                         allow_redirects=False) as r:
        assert r.status == 303, await r.text()
    async with http.get(f"{url}/audit") as r:  # a page that needs no database file
        return csrf_in(await r.text())
