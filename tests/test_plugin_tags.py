"""tags: saved links per person, the community tag cloud, tags on followers and on chats."""

from __future__ import annotations

from pathlib import Path

import pytest

from brandbot.clocks import ManualClock
from brandbot.core.config import load_config
from brandbot.core.errors import ConfigError
from brandbot.core.records import FollowerQuery
from brandbot.networks.memory import MemoryConfig, MemoryNetwork
from brandbot.ops.storeviews import StoreRecords
from brandbot.runtime.bot import Bot
from brandbot.runtime.loader import load_plugins
from brandbot.runtime.reports import TAGS_NAMESPACE, TagCount, format_tag_cloud, top_tags
from brandbot.store.sqlite import SqliteStore
from brandbot.testing import BotHarness, write_config

NETS = ("telegram", "discord")


def tags_config(bundled: dict, **settings: object) -> dict:
    return {**bundled, "admins": {"telegram": ["boss"], "discord": ["boss"]}, "plugins": {"tags": dict(settings)}}


async def say(bot, text: str, author: str = "ana", network: str = "telegram", **kw) -> list[str]:
    await bot.receive("command", text, author=author, network=network, **kw)
    return bot.take_sent()


async def test_save_list_and_unsave_links(make_bot, bundled) -> None:
    bot = await make_bot(networks=NETS, plugins=["tags"], config=tags_config(bundled))
    assert await say(bot, "/saved") == ["You have no saved links yet, Ana. Try /save https://example.com/page #tag"]
    assert await say(bot, "/save https://inkwell.example/tour #BookTour #maya") == [
        "Saved, Ana: https://inkwell.example/tour #booktour #maya. It is number 1 in your /saved list."]
    await bot.advance(60)
    assert await say(bot, "/save http://blog.example/review") == [
        "Saved, Ana: http://blog.example/review. It is number 2 in your /saved list."]
    # the same page again adds its tags instead of a second entry
    assert await say(bot, "/save HTTPS://Inkwell.example/tour#top #review #maya") == [
        "Already in your list as number 1, Ana; its tags are now: #booktour #maya #review"]
    assert await say(bot, "/saved") == [
        "Your saved links, Ana (2):\n1. https://inkwell.example/tour #booktour #maya #review\n2. http://blog.example/review"]
    assert await say(bot, "/unsave 1") == ["Removed number 1: https://inkwell.example/tour"]
    assert await say(bot, "/saved") == ["Your saved links, Ana (1):\n1. http://blog.example/review"]
    # somebody else's list is their own, on another network too
    assert await say(bot, "/saved", author="ben", network="discord") == [
        "You have no saved links yet, Ben. Try /save https://example.com/page #tag"]


@pytest.mark.parametrize(
    ("command", "why"),
    [
        ("/save hello", "that is not a link: send a full address starting with https://"),
        ("/save www.example.com/page", "a link must start with https:// (or http://)"),
        ("/save ftp://files.example/book.pdf", "only http and https links can be saved, not ftp:"),
        ("/save javascript:alert(1)", "that is not a link: send a full address starting with https://"),
        ("/save https://localhost/x", "that does not look like a web address (the site name is missing or incomplete)"),
        ("/save https://bob:secret@example.com/", "links with a user name or password in them are not saved"),
        ("/save https://example.com/" + "a" * 600, "that link is longer than 500 characters"),
        ("/save https://example.com #a #b #c #d #e #f", "at most 5 tags at a time (you gave 6)"),
        ("/save https://example.com #no!", "#no! may use only letters, digits, '-' and '_', starting with a letter or digit"),
        ("/save https://example.com #", "a tag needs at least one letter after the '#'"),
        ("/save look https://example.com #a", "send one link, then its #tags, e.g. /save https://example.com/page #books"),
    ],
)
async def test_save_refuses_bad_input_with_a_clear_reason(make_bot, bundled, command: str, why: str) -> None:
    bot = await make_bot(networks=NETS, plugins=["tags"], config=tags_config(bundled))
    assert await say(bot, command, network="discord") == [f"Sorry Ana, I can't save that: {why}."]
    assert await say(bot, "/saved", network="discord") == [
        "You have no saved links yet, Ana. Try /save https://example.com/page #tag"]


async def test_unsave_and_saved_refuse_numbers_that_do_not_exist(make_bot, bundled) -> None:
    bot = await make_bot(networks=NETS, plugins=["tags"], config=tags_config(bundled, page_size=2))
    assert await say(bot, "/save") == [
        "Usage: /save <link or resource name> #tag #tag, e.g. /save https://example.com/page #books"]
    assert await say(bot, "/unsave 1") == ["You have no saved link number 1, Ana; /saved lists your 0."]
    for i in range(3):
        await say(bot, f"/save https://example.com/{i}")
    assert await say(bot, "/unsave 9") == ["You have no saved link number 9, Ana; /saved lists your 3."]
    assert await say(bot, "/unsave first") == ["Usage: /unsave <number>, the number shown by /saved."]
    assert await say(bot, "/saved") == [
        "Your saved links, Ana (3):\n1. https://example.com/0\n2. https://example.com/1\n(/saved 3 for more)"]
    assert await say(bot, "/saved 3") == ["Your saved links, Ana (3):\n3. https://example.com/2"]
    assert await say(bot, "/saved 4") == ["You have 3 saved links: /saved 1 to /saved 3 shows them from that number on."]
    assert await say(bot, "/saved two") == ["You have 3 saved links: /saved 1 to /saved 3 shows them from that number on."]


class ShortPosts(MemoryNetwork):
    """An in-memory network with X's rule: a post over 280 characters is refused, not split."""

    def check_text(self, text: str) -> str | None:
        return None if len(text) <= 280 else f"too long: {len(text)} characters, the limit is 280"


async def test_lists_shrink_to_fit_a_network_that_does_not_split_posts(bundled, tmp_path: Path) -> None:
    cfg = load_config(write_config(tmp_path, tags_config(bundled), None))
    clock = ManualClock()
    nets = {"x": ShortPosts(MemoryConfig(requires_summons=True), clock=clock, name="x")}
    bot = Bot(cfg, store=SqliteStore(":memory:"), networks=nets, clock=clock,
              plugins=load_plugins(cfg.plugins, cfg.plugin_dirs, cfg.doc))
    await bot.start()
    harness = BotHarness(bot, nets, clock)
    try:
        for i in range(1, 9):
            await say(harness, f"/save https://inkwell.example/2026/tour/stop-{i}/interview #booktour #stop{i}",
                      network="x")
        first = (await say(harness, "/saved", network="x"))[0]
        assert len(first) <= 280 and first.endswith(" for more)")
        shown = [line for line in first.splitlines() if line[:1].isdigit()]
        assert 1 < len(shown) < 8
        rest = (await say(harness, f"/saved {len(shown) + 1}", network="x"))[0]
        assert rest.splitlines()[1].startswith(f"{len(shown) + 1}. https://inkwell.example/2026/tour/stop-")
        tagged = (await say(harness, "/tagged #booktour", network="x"))[0]
        assert len(tagged) <= 280 and tagged.count("(saved by 1)") > 1
        assert not any(n.action == "refuse" for h in harness.handled for n in h.notes)
    finally:
        await harness.close()


async def test_a_full_list_is_refused(make_bot, bundled) -> None:
    bot = await make_bot(networks=NETS, plugins=["tags"], config=tags_config(bundled, max_saved=2))
    await say(bot, "/save https://example.com/1")
    await say(bot, "/save https://example.com/2")
    assert await say(bot, "/save https://example.com/3") == ["Your list is full (2 links), Ana: /unsave some first."]


async def test_linked_accounts_share_one_list(make_bot, bundled) -> None:
    bot = await make_bot(networks=NETS, plugins=["link", "tags"], config=tags_config(bundled))
    await say(bot, "/save https://example.com/a #one", author="ana_tg")
    await say(bot, "/save https://example.com/b #two", author="ana_dc", network="discord")
    code = (await say(bot, "/link", author="ana_tg"))[-1].split("code is ")[1].split(".")[0]
    await say(bot, f"/link {code}", author="ana_dc", network="discord")
    assert (await say(bot, "/saved", author="ana_dc", network="discord"))[0].endswith(
        "(2):\n1. https://example.com/a #one\n2. https://example.com/b #two")
    assert await say(bot, "/unsave 2", author="ana_tg") == ["Removed number 2: https://example.com/b"]
    assert (await say(bot, "/saved", author="ana_dc", network="discord"))[0].endswith(
        "(1):\n1. https://example.com/a #one")


async def test_the_tag_cloud_and_the_most_saved_links_for_a_tag(make_bot, bundled) -> None:
    bot = await make_bot(networks=NETS, plugins=["tags"], config=tags_config(bundled))
    assert await say(bot, "/tags") == ["Nobody has tagged a saved link yet. Be the first: /save https://... #tag"]
    saves = [
        ("ana", "telegram", "https://inkwell.example/tour #booktour #events"),
        ("ben", "discord", "https://inkwell.example/tour/ #booktour"),
        ("cy", "telegram", "https://inkwell.example/tour #BookTour #maps"),
        ("cy", "telegram", "https://blog.example/maya #booktour"),
        ("dee", "discord", "https://maps.example/salt #maps"),
    ]
    for author, network, text in saves:
        await say(bot, f"/save {text}", author=author, network=network)
    cloud = await say(bot, "/tags", author="eve", network="discord")
    assert cloud == ["What our community tags most:\n#BOOKTOUR (4) · #maps (2) · (#events 1)"]
    assert await say(bot, "/tagged #booktour", author="eve") == [
        "Most saved with #booktour:\n1. https://inkwell.example/tour (saved by 3)\n2. https://blog.example/maya (saved by 1)"]
    assert await say(bot, "/tagged #nothing") == ["Nobody has saved a link with #nothing yet."]
    assert await say(bot, "/tagged") == ["Usage: /tagged #tag, e.g. /tagged #books"]
    assert await say(bot, "/tagged #a!b") == [
        "Usage: /tagged #tag, e.g. /tagged #books (#a!b may use only letters, digits, '-' and '_', starting with a letter or digit)"]
    assert await top_tags(StoreRecords(bot.bot.store, TAGS_NAMESPACE), 1) == [TagCount("booktour", 4)]


def test_the_tag_cloud_weights_by_rank() -> None:
    counts = [TagCount(f"t{i}", 20 - i) for i in range(10)]
    cloud = format_tag_cloud(counts).split(" · ")
    assert cloud[:2] == ["#T0 (20)", "#T1 (19)"]  # the top fifth shouts
    assert cloud[2:5] == ["#t2 (18)", "#t3 (17)", "#t4 (16)"]  # the next third as is
    assert cloud[5:] == ["(#t5 15)", "(#t6 14)", "(#t7 13)", "(#t8 12)", "(#t9 11)"]
    assert format_tag_cloud([]) == "No tags yet."


async def test_save_by_resource_name(make_bot, bundled, tmp_path: Path) -> None:
    resources = tmp_path / "resources.yaml"
    resources.write_text(  # the resources plugin's format: the tags plugin reads id, title and url
        "resources:\n"
        "  - id: guide\n    title: Reading guide\n    url: https://inkwell.example/guide.pdf\n"
        "    tags: [book club]\n    owner: ours\n"
        "  - id: tour\n    title: Tour dates\n    url: https://inkwell.example/tour\n"
    )
    bot = await make_bot(networks=NETS, plugins=["tags"], config=tags_config(bundled, resources_file=str(resources)))
    assert await say(bot, "/save reading GUIDE #bookclub") == [
        "Saved, Ana: Reading guide (https://inkwell.example/guide.pdf) #bookclub. It is number 1 in your /saved list."]
    assert (await say(bot, "/save tour"))[0].startswith("Saved, Ana: Tour dates (https://inkwell.example/tour).")
    assert await say(bot, "/save the map #x") == [
        ("Sorry Ana, I can't save that: that is neither a link (https://...) nor one of our resources "
        "(guide, tour).")]
    assert await say(bot, "/saved") == [
        ("Your saved links, Ana (2):\n1. Reading guide: https://inkwell.example/guide.pdf #bookclub\n"
        "2. Tour dates: https://inkwell.example/tour")]
    assert await say(bot, "/tagged bookclub") == [
        "Most saved with #bookclub:\n1. Reading guide: https://inkwell.example/guide.pdf (saved by 1)"]


async def test_a_broken_resources_file_stops_the_start_with_file_and_line(make_bot, bundled, tmp_path: Path) -> None:
    resources = tmp_path / "resources.yaml"
    resources.write_text("resources:\n  - id: guide\n    url: https://inkwell.example/guide\n"
                         "  - title: Shop\n    url: ftp://inkwell.example/shop\n")
    with pytest.raises(ConfigError) as err:
        await make_bot(plugins=["tags"], config=tags_config(bundled, resources_file=str(resources)))
    assert f"{resources}:5" in str(err.value) and "only http and https" in str(err.value)
    with pytest.raises(ConfigError) as err:
        await make_bot(plugins=["tags"], config=tags_config(bundled, resources_file=str(tmp_path / "nope.yaml")))
    assert "file not found" in str(err.value) and "brandbot.yaml:" in str(err.value)


async def test_admins_tag_followers_and_tags_filter_rules_and_lists(make_bot, bundled) -> None:
    rules = [{"name": "press", "kinds": ["direct"], "priority": 5, "when": {"tags": ["press"]},
              "reply": "Hello {{ name }}, our press kit: https://inkwell.example/press"},
             {"name": "hello", "kinds": ["direct"], "reply": "Hello {{ name }}"}]
    bot = await make_bot(networks=NETS, plugins=["tags"], rules=rules, config=tags_config(bundled))
    await bot.receive("direct", "hi", author="ana", network="telegram")
    await bot.receive("direct", "hi", author="ben", network="discord")
    assert bot.take_sent() == ["Hello Ana", "Hello Ben"]
    assert await say(bot, "/tag telegram:ana #press", author="ben", network="discord") == [
        "Sorry, /tag is only for the team."]
    assert await say(bot, "/tag telegram:@ana #Press #vip", author="boss", network="discord") == [
        "Tagged Ana (follower 1). Their tags: #press #vip"]
    ben = await bot.follower("ben", "discord")
    assert await say(bot, f"/tag {ben.id} #reviewer", author="boss", network="discord") == [
        f"Tagged Ben (follower {ben.id}). Their tags: #reviewer"]
    assert await say(bot, "/tag telegram:zed #press", author="boss") == [
        ("I know no follower telegram:zed. Use network:handle (e.g. telegram:ana) or a follower id "
        "(brandbot followers list shows them).")]
    assert await say(bot, "/tag telegram:ana #bad!tag", author="boss") == [
        "Nothing changed: #bad!tag may use only letters, digits, '-' and '_', starting with a letter or digit."]
    assert await say(bot, "/tag telegram:ana", author="boss") == [
        "Usage: /tag <network:handle or follower id> #tag ..., e.g. /tag telegram:ana #press"]
    await bot.receive("direct", "hi", author="ana", network="telegram")
    await bot.receive("direct", "hi", author="ben", network="discord")
    assert bot.take_sent() == ["Hello Ana, our press kit: https://inkwell.example/press", "Hello Ben"]
    press = await bot.bot.store.list_followers(FollowerQuery(tag="press"))  # what `followers list --tag` asks
    assert [f.name for f in press] == ["Ana"]
    assert await say(bot, "/untag telegram:ana #press", author="boss") == ["Untagged Ana (follower 1). Their tags: #vip"]
    assert await bot.bot.store.list_followers(FollowerQuery(tag="press")) == []
    await bot.receive("direct", "hi", author="ana", network="telegram")
    assert bot.take_sent() == ["Hello Ana"]


async def test_a_tagged_chat_tags_the_people_who_write_there(make_bot, bundled) -> None:
    bot = await make_bot(networks=NETS, plugins=["tags"], config=tags_config(bundled))
    group = {"conversation": "press-room", "private": False}
    assert await say(bot, "/tagchat #press", author="ana", network="discord", **group) == [
        "Sorry, /tagchat is only for the team."]
    assert await say(bot, "/tagchat #press #media", author="boss", network="discord", **group) == [
        "From now on everyone who writes in discord:press-room is tagged #press #media."]
    await bot.receive("message", "hello all", author="ana", network="discord", **group)
    await bot.receive("message", "hi", author="ben", network="discord", conversation="general", private=False)
    await bot.receive("message", "hi from telegram", author="cy", network="telegram", conversation="press-room",
                      private=False)
    await bot.receive("message", "team here", author="boss", network="discord", **group)
    assert (await bot.follower("ana", "discord")).tags == {"press", "media"}
    assert (await bot.follower("ben", "discord")).tags == frozenset()
    assert (await bot.follower("cy", "telegram")).tags == frozenset()  # another network's chat of that name
    assert (await bot.follower("boss", "discord")).tags == frozenset()  # the team is not tagged
    assert await say(bot, "/tagchat telegram:tg-press #press", author="boss") == [
        "From now on everyone who writes in telegram:tg-press is tagged #press."]
    assert await say(bot, "/tagchat", author="boss") == [
        "Tagged chats:\ndiscord:press-room #press #media\ntelegram:tg-press #press"]
    await bot.receive("mention", "@brand hi", author="cy", network="telegram", conversation="tg-press", private=False)
    assert (await bot.follower("cy", "telegram")).tags == {"press"}
    assert await say(bot, "/untagchat #media", author="boss", network="discord", **group) == [
        "discord:press-room: now tags #press. (People already tagged keep their tags; /untag removes them.)"]
    assert await say(bot, "/untagchat", author="boss", network="discord", **group) == [
        "discord:press-room: no longer tagged. (People already tagged keep their tags; /untag removes them.)"]
    await bot.receive("message", "new here", author="dee", network="discord", **group)
    assert (await bot.follower("dee", "discord")).tags == frozenset()
    assert await say(bot, "/untagchat", author="boss", network="discord", **group) == ["discord:press-room is not tagged."]
    assert await say(bot, "/tagchat #a #b #c #d #e #f", author="boss", network="discord", **group) == [
        "Nothing changed: at most 5 tags at a time (you gave 6)."]


async def test_forgetting_a_person_erases_their_saved_links(make_bot, bundled) -> None:
    bot = await make_bot(networks=NETS, plugins=["tags"], config=tags_config(bundled))
    await say(bot, "/save https://example.com/a #one")
    await say(bot, "/save https://example.com/b #two", author="ben", network="discord")
    ana = await bot.follower("ana")
    assert await bot.bot.store.forget_follower(ana.id, bot.clock.now())
    keys = [key for key, _ in await bot.bot.store.kv_items(TAGS_NAMESPACE)]
    assert len(keys) == 1 and ":ben:" in keys[0]
    assert await say(bot, "/tags", author="ben", network="discord") == ["What our community tags most:\n#TWO (1)"]
