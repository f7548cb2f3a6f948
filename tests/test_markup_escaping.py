"""Names and words of people go into replies as text, not as the network's markup.

On Discord a display name like ``[Free Nitro](https://evil.test)`` became a masked link
posted by the brand. Discord gets such values escaped; Telegram and X are sent as plain
text (no parse mode), where nothing needs escaping.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from brandbot.core.config import load_config
from brandbot.networks.registry import build_network
from brandbot.runtime.bot import Bot
from brandbot.store.sqlite import SqliteStore
from tests.fake_discord import FakeDiscord, FakeUser

MASKED = "[Free Nitro](https://evil.test)"


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = await FakeDiscord().start()
    yield server
    await server.stop()


async def test_a_masked_link_in_a_discord_name_is_not_posted_as_a_link(
    fake: FakeDiscord, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCORD_TEST_TOKEN", fake.token)
    rules = {"rules": [{"name": "hello", "kinds": ["mention"], "match": {"any": ["hello"]},
                        "reply": "Hi **{{ name }}**, see {{ brand.url }}"}]}
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    (tmp_path / "brandbot.yaml").write_text(yaml.safe_dump({
        "brand": {"name": "Test Brand", "url": "https://brand.test/a_page"},
        "storage": {"path": ":memory:"},
        "networks": {"discord": {"token": "${DISCORD_TEST_TOKEN}", "enabled": True}},
        "rules": ["rules.yaml"], "plugin_dirs": [],
    }))
    config = load_config(tmp_path / "brandbot.yaml")
    [section] = config.networks
    network = build_network(section.name, dict(section.settings), connector=fake.connector(), guild_ready_timeout=0.05)
    bot = Bot(config, store=SqliteStore(":memory:"), networks={"discord": network}, plugins=[])
    await bot.start()
    try:
        mallory = FakeUser(fake.ids.next(), "mallory", global_name=MASKED)
        await fake.dispatch("MESSAGE_CREATE", fake.message(mallory, f"<@{fake.bot.id}> hello", mentions=[fake.bot]))
        await fake.wait_until(lambda: bool(fake.channel_messages()))
        [sent] = fake.channel_messages(fake.general_id)
    finally:
        await bot.stop()
    # the brand's own markup and link stay; the name's brackets are shown, not obeyed
    assert sent["content"] == "Hi **\\[Free Nitro\\](https://evil.test)**, see https://brand.test/a_page"
    assert MASKED not in sent["content"]


async def test_telegram_gets_the_name_verbatim(make_bot) -> None:
    bot = await make_bot(networks=("telegram", "discord"),
                         rules=[{"name": "hi", "kinds": ["direct"], "reply": "Hi {{ name }} ({{ handle }})"}])
    await bot.receive("direct", "hello", author="m_a_l", name=MASKED, network="telegram")
    await bot.receive("direct", "hello", author="m_a_l", name=MASKED, network="discord")
    assert bot.sent == [f"Hi {MASKED} (m_a_l)", "Hi \\[Free Nitro\\](https://evil.test) (m_a_l)"]


@pytest.mark.parametrize(("text", "escaped"), [
    ("Ana", "Ana"),
    ("Ana Lima-Souza", "Ana Lima-Souza"),
    (MASKED, "\\[Free Nitro\\](https://evil.test)"),
    ("[x](<https://evil.test>)", "\\[x\\](<https://evil.test>)"),
    ("**bold** __under__ ~~gone~~ ||spoiler|| `code`",
     "\\*\\*bold\\*\\* \\_\\_under\\_\\_ \\~\\~gone\\~\\~ \\|\\|spoiler\\|\\| \\`code\\`"),
    ("# Big\n-# small\n> quote\n- item", "\\# Big\n\\-# small\n\\> quote\n\\- item"),
    ("see https://shop.test/a_b_c now", "see https://shop.test/a_b_c now"),
    ("back\\slash", "back\\\\slash"),
    ("ana#1 and a-b", "ana#1 and a-b"),
    ("eve_dc snake_case_name", "eve_dc snake_case_name"),  # inside a word '_' cannot format
    ("_it_ a__b__c _x é_y_é", "\\_it\\_ a\\_\\_b\\_\\_c \\_x é\\_y\\_é"),
])
def test_discord_escaping(text: str, escaped: str) -> None:
    from brandbot.core.templates import escape_markup

    assert escape_markup("discord", text) == escaped


@pytest.mark.parametrize("network", ["telegram", "x", "console", "memory"])
def test_plain_text_networks_are_left_alone(network: str) -> None:
    from brandbot.core.templates import escape_markup

    assert escape_markup(network, MASKED + " **b** _i_") == MASKED + " **b** _i_"
