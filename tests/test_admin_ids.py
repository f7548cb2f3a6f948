"""Admins are stable user ids per network, never handles (which people choose and re-claim).

On Discord and X a handle may be all digits: someone could take an admin's numeric id as
their handle and run /points add, /forget, giveaway and tour commands. A handle written
under ``admins:`` for Telegram, Discord or X is a configuration error that says how to
find the id; every admin command refused to a non-admin is logged with the person's id.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml
from test_plugin_events import MOD, tour_bot

from brandbot.core.config import load_config
from brandbot.core.errors import ConfigError
from brandbot.core.events import Conversation, Event, Kind, Person
from brandbot.testing import BotHarness

ADMIN_ID = "123456789012345678"  # a Discord snowflake
IMPOSTOR_ID = "998877665544332211"


async def command_as(bot: BotHarness, network: str, person: Person, text: str, conversation: str = "public"):
    head, *args = text.lstrip("/").split()
    n = len(bot.handled) + 1
    event = Event(kind=Kind.COMMAND, network=network, id=f"adm{n}", author=person,
                  conversation=Conversation(network, conversation), text=text, time=bot.clock.now(),
                  post_id=f"adm-p{n}", addressed=True, command=head.lower(), args=tuple(args))
    return await bot.deliver(event)


async def test_a_handle_equal_to_an_admins_id_is_not_an_admin(
    make_bot, bundled, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await make_bot(networks=("discord",), plugins=["loyalty", "optout"],
                         config={**bundled, "admins": {"discord": [ADMIN_ID]}})
    await bot.receive("direct", "hi", author="ana", network="discord")
    impostor = Person("discord", IMPOSTOR_ID, handle=ADMIN_ID, name="Definitely Staff")
    with caplog.at_level(logging.WARNING):
        await command_as(bot, "discord", impostor, "/points add discord:ana 500 trust me")
        await command_as(bot, "discord", impostor, "/forget discord:ana")
    assert bot.take_sent() == ["Sorry, adding points is only for the team.", "Sorry, /forget is only for the team."]
    assert (await bot.follower("ana", "discord")).points < 500
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 2 and all(f"discord:{IMPOSTOR_ID}" in r for r in refusals), refusals

    admin = Person("discord", ADMIN_ID, handle="someone_else_now", name="Boss")
    await command_as(bot, "discord", admin, "/points add discord:ana 25 great review")
    assert "Ana now has" in bot.take_sent()[-1]  # the id is the admin, whatever the handle


def test_is_admin_ignores_the_handle(tmp_path: Path) -> None:
    path = tmp_path / "brandbot.yaml"
    path.write_text(yaml.safe_dump({"storage": {"path": ":memory:"}, "admins": {"x": ["44196397"], "console": ["staff"]}}))
    config = load_config(path)
    assert config.is_admin("x", "44196397", "anything")
    assert not config.is_admin("x", "1", "44196397")
    assert config.is_admin("console", "staff", "staff") and not config.is_admin("console", "ana", "staff")


def write(tmp_path: Path, network: str, admins: list) -> Path:
    settings = {"telegram": {"token": "123:abc"}, "discord": {"token": "abc"},
                "x": {"bearer_token": "b", "api_key": "k", "api_secret": "s", "access_token": "t",
                      "access_secret": "a"}}[network]
    path = tmp_path / "brandbot.yaml"
    path.write_text(yaml.safe_dump({
        "brand": {"name": "Brand"}, "storage": {"path": ":memory:"},
        "networks": {"console": {"prompt": False}, network: {"enabled": True, **settings}},
        "admins": {network: admins},
    }, sort_keys=False))
    return path


@pytest.mark.parametrize(("network", "admins", "says"), [
    ("telegram", ["@boss"], "@userinfobot"),
    ("telegram", ["boss"], "@userinfobot"),
    ("discord", ["boss_dc"], "Copy User ID"),
    ("discord", ["987654321"], "Copy User ID"),  # all digits, but no Discord id is that short
    ("x", ["@brand_owner"], "numeric user id"),
    ("x", ["elonmusk"], "numeric user id"),
])
def test_a_handle_under_admins_is_a_configuration_error(tmp_path: Path, network: str, admins: list, says: str) -> None:
    path = write(tmp_path, network, admins)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert f"admins.{network}[0]" in message and repr(admins[0]) in message, message
    assert "brandbot.yaml:" in message and says in message, message


@pytest.mark.parametrize(("network", "admins"), [
    ("telegram", ["123456789", 987654321]),  # YAML numbers are fine too
    ("discord", [ADMIN_ID]),
    ("x", ["44196397"]),
])
def test_numeric_ids_pass(tmp_path: Path, network: str, admins: list) -> None:
    config = load_config(write(tmp_path, network, admins))
    assert config.top.admins[network] == [str(a) for a in admins]


def test_admins_of_a_disabled_network_are_checked_when_it_is_enabled(tmp_path: Path) -> None:
    path = write(tmp_path, "telegram", ["boss"])
    data = yaml.safe_load(path.read_text())
    data["networks"]["telegram"]["enabled"] = False
    path.write_text(yaml.safe_dump(data))
    load_config(path)  # not running there: nothing to check yet


async def test_refused_tour_and_qa_commands_are_logged_with_the_id(
    make_bot, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await tour_bot(make_bot, tmp_path / "tour")
    with caplog.at_level(logging.WARNING):
        await bot.receive("command", "/tour add id=x title=X start=2026-03-09T18:00 network=telegram conversation=g",
                          author="mallory", network="telegram")
        await bot.receive("command", "/qa open qa-live", author="mallory", network="telegram")
        await bot.receive("mention", "@brand /qa open qa-live", author="mallory_x", network="x")  # typed on X
    said = bot.take_sent()
    assert len(said) == 3 and all("only for the team" in s for s in said), said
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert any("/tour add" in r and "telegram:mallory" in r for r in refusals), refusals
    assert any("/qa" in r and "telegram:mallory" in r for r in refusals), refusals
    assert any("/qa" in r and "x:mallory_x" in r for r in refusals), refusals
    await bot.receive("command", "/qa open qa-live", **MOD)
    assert "only for the team" not in bot.take_sent()[-1]
