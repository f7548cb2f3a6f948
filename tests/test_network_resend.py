"""A crash right after Mastodon or Bluesky accepted a reply, through the bot's real outbox.

The network gets the reply, the process dies before the row is marked sent (a crash image of
the database taken at that moment is what a restart finds), and the restarted bot sends the
row again, as it must. The platform's own duplicate guard, keyed by the outbox row
(Mastodon's Idempotency-Key, Bluesky's record key), turns that resend into the post made the
first time: the person gets one reply.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from brandbot.core.config import load_config
from brandbot.core.events import Outgoing
from brandbot.networks.base import Network, Sent
from brandbot.networks.bluesky import BlueskyConfig, BlueskyNetwork
from brandbot.networks.mastodon import MastodonConfig, MastodonNetwork
from brandbot.runtime.bot import Bot
from brandbot.testing import write_config
from tests.fake_bluesky import APP_PASSWORD, CREATE_RECORD, HANDLE, FakeBluesky
from tests.fake_mastodon import POST_STATUS, TOKEN, FakeMastodon

RULES = [{"name": "tour", "kinds": ["mention"], "match": {"any": ["tour"]}, "reply": "Hi {{ name }}, Monday!"}]


def crash_image(db: Path, image: Path) -> None:
    """What a process killed right now leaves on disk: the committed state only."""
    image.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(db) as src, sqlite3.connect(image) as dst:
        src.backup(dst)


def crashing(cls: type[Network], db: Path, image: Path) -> type[Network]:
    """The adapter, killed (a crash image taken) right after its first send was accepted."""

    class CrashAfterSend(cls):  # type: ignore[misc, valid-type]
        async def send(self, message: Outgoing) -> Sent:
            sent: Sent = await super().send(message)
            if not image.exists():
                crash_image(db, image)
            return sent

    return CrashAfterSend


Case = tuple[Any, str, dict[str, Any], str]  # the fake, the network, its settings, the create endpoint


async def mastodon_case() -> Case:
    fake = await FakeMastodon().start()
    return fake, "mastodon", {"api_base_url": fake.url, "access_token": TOKEN}, POST_STATUS


async def bluesky_case() -> Case:
    fake = await FakeBluesky().start()
    return fake, "bluesky", {"handle": HANDLE, "app_password": APP_PASSWORD, "api_base_url": fake.url}, CREATE_RECORD


NETWORKS: dict[str, tuple[type[Network], Any]] = {
    "mastodon": (MastodonNetwork, MastodonConfig),
    "bluesky": (BlueskyNetwork, BlueskyConfig),
}


@pytest.mark.parametrize("case", [mastodon_case, bluesky_case], ids=["mastodon", "bluesky"])
async def test_a_resend_after_a_crash_right_after_posting_does_not_post_twice(tmp_path: Path, case: Any) -> None:
    fake, name, settings, create = await case()
    cls, config_model = NETWORKS[name]
    live, crashed = tmp_path / "live", tmp_path / "crashed"
    try:
        for folder in (live, crashed):
            folder.mkdir()
            write_config(folder, {"storage": {"path": "bot.sqlite3"}, "networks": {name: settings}}, RULES)
        first = crashing(cls, live / "bot.sqlite3", crashed / "bot.sqlite3")(
            config_model.model_validate(settings), poll_in_background=False)
        bot = Bot(load_config(live / "brandbot.yaml"), networks={name: first}, plugins=[])
        await bot.start()
        fake.push_mention(fake.add_account("ana", "Ana"), "when is the tour?")
        await first.poll_once()  # type: ignore[attr-defined]
        await bot.settled()
        await bot.outbox.drain()
        await bot.stop()
        assert len(fake.posted) == 1
        with sqlite3.connect(crashed / "bot.sqlite3") as conn:
            pending = conn.execute("SELECT id, status FROM outbox").fetchall()
        assert pending and all(status == "pending" for _, status in pending), "the crash image is not mid-send"

        second = cls(config_model.model_validate(settings), poll_in_background=False)  # type: ignore[call-arg]
        restarted = Bot(load_config(crashed / "brandbot.yaml"), networks={name: second}, plugins=[])
        await restarted.start()  # the row left pending is sent again
        await second.poll_once()  # type: ignore[attr-defined]
        await restarted.settled()
        await restarted.outbox.drain()
        await restarted.stop()
    finally:
        await fake.stop()
    assert len(fake.calls_to(create)) == 2, "the restarted bot did not send the pending row again"
    assert len(fake.posted) == 1, "the resend after the crash posted a second reply"
    with sqlite3.connect(crashed / "bot.sqlite3") as conn:
        statuses = conn.execute("SELECT status, post_ids FROM outbox").fetchall()
    assert [s for s, _ in statuses] == ["sent"]
