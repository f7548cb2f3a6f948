"""resources: honest links when someone asks, on every network, within X's length and cost rules."""

from __future__ import annotations

import importlib.util
import random
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from brandbot.clocks import ManualClock
from brandbot.core.config import load_config
from brandbot.core.errors import ConfigError
from brandbot.networks import xtext
from brandbot.ops.simulate import SimulatedNetwork
from brandbot.runtime.bot import Bot
from brandbot.runtime.loader import load_plugins
from brandbot.store.sqlite import SqliteStore
from brandbot.testing import BotHarness, write_config

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "config" / "resources.yaml"
NETS = ("telegram", "discord")
START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
BRAND = {"name": "Inkwell Press", "url": "https://inkwell.example", "author": "Maya Lindqvist",
         "book": "The Salt Orchard", "shop": "https://inkwell.example/shop", "tour": "https://inkwell.example/tour"}
FALLBACK = {"name": "fallback", "kinds": ["direct", "mention"], "priority": -100,
            "reply": "I'm not sure I understood, {{ name }}."}

SELF_PUBLISHING = (
    "Ana, these may help:\n"
    "Inkwell's guide to self-publishing (ours): https://inkwell.example/guides/self-publishing\n"
    "Indie Author Bootcamp (online course) (third party, sponsored): https://bootcamp.example.com/indie-author\n"
    "Find your national ISBN agency (third party): https://www.isbn-international.org/agencies"
)


def _load_plugin_module() -> ModuleType:
    """The plugin file itself, for its pure parts (the library loader, the request detector)."""
    name = "resources_plugin_under_test"
    spec = importlib.util.spec_from_file_location(name, ROOT / "plugins" / "resources.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


resources = _load_plugin_module()


def bot_config(bundled: dict, **settings: Any) -> dict:
    return {**bundled, "brand": BRAND, "plugins": {"resources": {"file": str(LIBRARY), **settings}}}


# -- answers --------------------------------------------------------------------------------


@pytest.mark.parametrize(("network", "kind"), [("telegram", "direct"), ("discord", "mention")])
async def test_self_publishing_question_gets_ours_and_third_party_links_with_disclosures(
    make_bot, bundled, network: str, kind: str
) -> None:
    bot = await make_bot(networks=NETS, plugins=["resources"], config=bot_config(bundled))
    await bot.receive(kind, "@InkwellPress where can I learn to self-publish?", network=network)
    assert bot.sent_to(network) == [SELF_PUBLISHING]


async def test_writing_groups_tour_and_bookshop_questions_get_the_right_links(make_bot, bundled) -> None:
    bot = await make_bot(networks=NETS, plugins=["resources"], config=bot_config(bundled))
    await bot.receive("direct", "Any writing groups near me?", author="ben", network="telegram")
    assert bot.take_sent() == [
        ("Ben, these may help:\n"
        "Local writing groups directory (third party): https://writinggroups.example.com/directory\n"
        "Open Door Writers' Circle (third party): https://opendoor-writers.example.org")
    ]
    await bot.receive("reply", "when is Maya's next tour date?", author="cy", network="discord")
    assert bot.take_sent() == [
        "Cy, this may help:\nMaya Lindqvist's virtual book tour (ours): https://inkwell.example/tour"
    ]
    await bot.receive("mention", "where can I buy the book", author="di", network="discord")
    assert bot.take_sent() == [
        ("Di, this may help:\nThe Salt Orchard at Bookshop.org (third party, affiliate link): "
        "https://bookshop.org/a/00000/9781234567897")
    ]


async def test_request_phrases_without_a_question_mark_count_as_asking(make_bot, bundled) -> None:
    bot = await make_bot(networks=NETS, plugins=["resources"], config=bot_config(bundled))
    await bot.receive("direct", "any tips for finding a good editor", network="telegram")
    assert bot.take_sent() == [
        "Ana, this may help:\nFreelance editors and proofreaders (third party): https://editors.example.org/directory"
    ]


def test_request_detector() -> None:
    asks = resources.asks_for_help
    for text in ("where can I learn to self-publish?", "Any tips for marketing", "HOW DO I get an ISBN",
                 "I'm looking for a writing group", "can you recommend an editor", "ça marche ?"):
        assert asks(text), text
    for text in ("I love The Salt Orchard!", "great interview today", "thanks, see you", "", "the tour was great"):
        assert not asks(text), text


async def test_unrelated_chat_and_statements_fall_through_to_the_fallback_rule(make_bot, bundled) -> None:
    bot = await make_bot(networks=NETS, plugins=["resources"], rules=[FALLBACK], config=bot_config(bundled))
    for text in ("how are you?", "are you open on sundays?", "I love The Salt Orchard", "how's it going at Inkwell Press?"):
        await bot.receive("direct", text, network="telegram")
        assert bot.take_sent() == ["I'm not sure I understood, Ana."], text
    skips = [n.detail for n in bot.notes if n.source == "plugin:resources.answer_question" and n.action == "skip"]
    assert skips[0] == "no resource scored 1.5 or more (no word matched)"
    assert skips[1].startswith("no resource scored 1.5 or more (best: open-door-writers 1.0")


async def test_links_go_only_to_people_who_asked_never_to_group_chatter(make_bot, bundled) -> None:
    bot = await make_bot(networks=NETS, plugins=["resources"], rules=[FALLBACK], config=bot_config(bundled))
    await bot.receive("message", "where can I learn to self-publish?", network="discord", conversation="general")
    await bot.receive("join", network="telegram", conversation="group")
    await bot.receive("follow", network="discord")
    assert bot.sent == []


async def test_explicit_commands_answer_explain_and_admit_when_nothing_fits(make_bot, bundled) -> None:
    bot = await make_bot(networks=NETS, plugins=["resources"], rules=[FALLBACK], config=bot_config(bundled))
    await bot.receive("command", "/find writing group beginners", network="discord")
    assert bot.take_sent() == [
        ("Ana, these may help:\n"
        "Open Door Writers' Circle (third party): https://opendoor-writers.example.org\n"
        "Local writing groups directory (third party): https://writinggroups.example.com/directory")
    ]
    await bot.receive("command", "/resources ISBN", network="telegram")
    assert bot.take_sent() == [
        "Ana, this may help:\nFind your national ISBN agency (third party): https://www.isbn-international.org/agencies"
    ]
    await bot.receive("command", "/resources", network="telegram")
    assert bot.take_sent() == ["Tell me what you're looking for, Ana, e.g. /resources self-publishing"]
    await bot.receive("command", "/find {{ brand }} quantum physics", network="discord")
    assert bot.take_sent() == [
        "Sorry Ana, I have no link about that yet. Try other words, or ask the Inkwell Press team."
    ]
    assert {c.name for c in bot.bot.commands()} >= {"resources", "find"}


async def test_settings_change_templates_labels_and_how_many_links(make_bot, bundled) -> None:
    settings = {"max_results": 1, "item": "{{ title }} [{{ note }}] {{ url }}",
                "answer": "{{ links }}", "labels": {"third_party": "not ours", "sponsored": "paid listing"}}
    bot = await make_bot(networks=NETS, plugins=["resources"], config=bot_config(bundled, **settings))
    await bot.receive("command", "/find self-publishing course", network="telegram")
    assert bot.take_sent() == [
        "Indie Author Bootcamp (online course) [not ours, paid listing] https://bootcamp.example.com/indie-author"
    ]


async def test_faq_rules_outrank_resources_and_the_fallback_comes_last(make_bot, bundled) -> None:
    rules = (ROOT / "config" / "rules.yaml").read_text()
    understanding = {"languages": ["en", "de", "es", "fr"], "intents": str(ROOT / "config" / "intents.yaml")}
    bot = await make_bot(networks=NETS, plugins=["resources"], rules=rules,
                         config={**bot_config(bundled), "understanding": understanding})
    await bot.receive("direct", "hello", network="telegram")  # first contact: the newcomer greeting
    bot.take_sent()
    await bot.receive("direct", "how do I track my delivery?", network="telegram")
    assert bot.take_sent()[0].startswith("Orders ship within 2 working days")
    await bot.receive("direct", "any writing groups near me?", network="telegram")
    assert "Open Door Writers' Circle (third party)" in bot.take_sent()[0]
    await bot.receive("direct", "what is the meaning of life?", network="telegram")
    assert bot.take_sent()[0].startswith("I'm not sure I understood, Ana.")


# -- X: 280 weighted characters, and link posts cost more -------------------------------------

MakeSimBot = Callable[..., Awaitable[BotHarness]]


@pytest.fixture
async def make_sim_bot(tmp_path: Path) -> AsyncIterator[MakeSimBot]:
    """Like ``make_bot``, but on stand-ins that copy X's text and cost rules (SimulatedNetwork).

    The harness's in-memory ``x`` copies X's summons rule only: its ``cost_of`` is 0 and
    it accepts any length, so it cannot show what this plugin does about them.
    """
    made: list[BotHarness] = []

    async def factory(config: dict, rules: Any = None, networks: tuple[str, ...] = ("telegram", "x")) -> BotHarness:
        folder = tmp_path / f"bot{len(made)}"
        folder.mkdir()
        cfg = load_config(write_config(folder, config, rules))
        clock = ManualClock(START)
        nets = {name: SimulatedNetwork(name) for name in networks}
        bot = Bot(cfg, store=SqliteStore(":memory:"), networks=nets, clock=clock,
                  plugins=load_plugins(cfg.plugins, cfg.plugin_dirs, cfg.doc), rng=random.Random(7))
        await bot.start()
        harness = BotHarness(bot, nets, clock)
        made.append(harness)
        return harness

    yield factory
    for harness in made:
        await harness.close()


def test_the_harness_x_stand_in_has_no_cost_so_the_simulated_network_is_needed() -> None:
    from brandbot.networks.memory import MemoryConfig, MemoryNetwork

    assert MemoryNetwork(MemoryConfig(requires_summons=True), name="x").cost_of("https://example.org") == 0
    assert SimulatedNetwork("x").cost_of("see https://example.org") > SimulatedNetwork("x").cost_of("no link") > 0


async def test_on_x_fewer_links_are_sent_so_that_the_reply_fits_280(make_sim_bot, bundled) -> None:
    bot = await make_sim_bot(bot_config(bundled))
    long_name = "Alexandrina Bartholomew-Featherstonehaugh III"
    for network in ("telegram", "x"):
        await bot.receive("mention", "@InkwellPress where can I learn to self-publish?", author="alex",
                          name=long_name, network=network)
    [on_telegram], [on_x] = bot.sent_to("telegram"), bot.sent_to("x")
    assert len(xtext.links(on_telegram)) == 3 and not xtext.fits(on_telegram)
    assert on_x == (
        f"{long_name}, these may help:\n"
        "Inkwell's guide to self-publishing (ours): https://inkwell.example/guides/self-publishing\n"
        "Indie Author Bootcamp (online course) (third party, sponsored): https://bootcamp.example.com/indie-author"
    )
    assert xtext.fits(on_x)
    assert any(n.detail.endswith("1 dropped to fit x") for n in bot.notes)


async def test_on_x_a_resource_too_long_even_alone_is_not_sent(make_sim_bot, bundled, tmp_path: Path) -> None:
    library = tmp_path / "long.yaml"
    library.write_text(RESOURCE.format(id="epic", title="Self-publishing " + "very " * 60 + "long title",
                                       url="https://example.org/epic"))
    bot = await make_sim_bot({**bot_config(bundled), "plugins": {"resources": {"file": str(library), "min_score": 0.1}}},
                             rules=[FALLBACK])
    await bot.receive("mention", "@inkwell how do I self-publish?", network="x")
    assert bot.sent_to("x") == ["I'm not sure I understood, Ana."]
    assert any(n.action == "skip" and "does not fit x" in n.detail for n in bot.notes)
    await bot.receive("mention", "@inkwell how do I self-publish?", network="telegram")
    assert "long title (ours): https://example.org/epic" in bot.sent_to("telegram")[0]


async def test_on_x_a_link_reply_waits_when_the_daily_cost_budget_is_spent(make_sim_bot, bundled) -> None:
    thanks = {"name": "thanks", "kinds": ["mention"], "match": {"any": ["thanks"]}, "reply": "You're welcome, {{ name }}!"}
    config = {**bot_config(bundled), "policy": {"daily_cost_budget": 0.25}}
    bot = await make_sim_bot(config, rules=[thanks])
    x = bot.networks["x"]
    # on X every mention starts its own thread (conversation)
    await bot.receive("mention", "@inkwell when is Maya's next tour date?", author="ana", network="x",
                      conversation="thread-1")
    assert bot.take_sent() == ["Ana, this may help:\nMaya Lindqvist's virtual book tour (ours): https://inkwell.example/tour"]
    assert bot.bot.sending.costs.today(bot.clock.now()) == pytest.approx(x.cost_of(bot.sent[0])) == pytest.approx(0.20)
    # a second link post would cost 0.20 more than the 0.05 left today: it waits for tomorrow
    await bot.receive("mention", "@inkwell any writing groups near me?", author="ben", network="x",
                      conversation="thread-2")
    assert bot.take_sent() == []
    deferred = [n for n in bot.handled[-1].notes if n.action == "defer"]
    assert len(deferred) == 1 and deferred[0].detail.startswith("cost_budget: daily cost budget reached")
    assert "Local writing groups directory" in deferred[0].text
    # a plain reply costs 0.015, still within today's budget
    await bot.receive("mention", "@inkwell thanks!", author="cy", network="x", conversation="thread-3")
    assert bot.take_sent() == ["You're welcome, Cy!"]
    # the same question on Telegram costs nothing and is answered at once
    await bot.receive("direct", "any writing groups near me?", author="ben", network="telegram")
    assert len(bot.take_sent()) == 1
    await bot.advance(24 * 3600)  # next UTC day: the waiting link reply goes out
    [sent] = bot.take_sent()
    assert sent.startswith("Ben, these may help:\nLocal writing groups directory (third party)")


async def test_on_x_a_link_reply_costing_more_than_the_whole_budget_is_refused(make_sim_bot, bundled) -> None:
    bot = await make_sim_bot({**bot_config(bundled), "policy": {"daily_cost_budget": 0.10}})
    await bot.receive("mention", "@inkwell when is Maya's next tour date?", network="x")
    assert bot.sent == []
    assert bot.refusals()[-1].startswith("cost_budget: this message costs 0.20, more than the whole daily budget")


# -- the resource file ------------------------------------------------------------------------

RESOURCE = """resources:
  - id: {id}
    title: "{title}"
    url: {url}
    tags: [self-publishing]
    description: A guide.
    owner: ours
    disclosure: none
"""

GOOD = """resources:
  - id: guide
    title: Guide
    url: https://example.org/guide
    tags: [self-publishing, ebooks]
    description: How to self-publish.
    owner: ours
    disclosure: none
"""


def problem(tmp_path: Path, text: str) -> ConfigError:
    path = tmp_path / "resources.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        resources.load_library(path)
    return caught.value


@pytest.mark.parametrize(
    ("edit", "line", "message"),
    [
        (("    description: How to self-publish.\n", ""), 2,
         ("resources[0] (guide) is missing 'description'; every resource needs all of: id, title, url, tags, "
         "description, owner, disclosure")),
        (("title: Guide", 'title: "  "'), 3, "title of resources[0] (guide) is empty; write it after 'title:'"),
        (("title: Guide", "title:"), 3, "title of resources[0] (guide) is empty"),
        (("title: Guide", "title: [a, b]"), 3, "title of resources[0] (guide) must be text, got a list"),
        (("    owner: ours\n", "    owner: ours\n    link: https://example.org\n"), 8,
         "unknown key 'link' in resources[0] (guide)"),
        (("    description:", "    descripton:"), 6,
         "unknown key 'descripton' in resources[0] (guide); did you mean 'description'?"),
        (("https://example.org/guide", "ftp://example.org/guide"), 4,
         "url 'ftp://example.org/guide' of resources[0] (guide) must start with https:// (or http://)"),
        (("https://example.org/guide", "example.org/guide"), 4, "must start with https:// (or http://)"),
        (("https://example.org/guide", "https:///guide"), 4, "has no host name"),
        (("https://example.org/guide", "https://example.org/my guide"), 4, "contains spaces"),
        (("https://example.org/guide", "https://example.org:99999/"), 4, "is not a valid address"),
        (("owner: ours", "owner: us"), 7,
         "owner of resources[0] (guide) is 'us'; use 'ours' (we made it) or 'third_party'"),
        (("owner: ours", "owner: third-party"), 7, "did you mean 'third_party'?"),
        (("disclosure: none", "disclosure: paid"), 8,
         "disclosure of resources[0] (guide) is 'paid'; use 'none', 'affiliate' or 'sponsored'"),
        (("disclosure: none", "disclosure:"), 8, "disclosure of resources[0] (guide) is empty"),
        (("tags: [self-publishing, ebooks]", "tags: self-publishing, ebooks"), 5,
         "tags of resources[0] (guide) must be a list, like [self-publishing, ebooks]"),
        (("tags: [self-publishing, ebooks]", "tags: []"), 5, "tags of resources[0] (guide) is empty"),
        (("tags: [self-publishing, ebooks]", "tags: [self-publishing, '']"), 5, "tag 2 of resources[0] (guide)"),
        (("id: guide", "id: my guide"), 2, "id 'my guide' of resources[0] (my guide) may only use letters"),
        (("resources:", "resource:"), 1, "unknown key 'resource' at the top; did you mean 'resources'?"),
    ],
)
def test_each_broken_entry_is_reported_at_its_line(tmp_path: Path, edit: tuple[str, str], line: int, message: str) -> None:
    old, new = edit
    assert old in GOOD
    error = problem(tmp_path, GOOD.replace(old, new, 1))
    assert error.where == f"{tmp_path / 'resources.yaml'}:{line}"
    assert message in str(error)


def test_duplicate_urls_and_ids_name_both_locations(tmp_path: Path) -> None:
    second = GOOD.split("\n", 1)[1].replace("id: guide", "id: other").replace("https://example.org/guide",
                                                                              "HTTPS://Example.org/guide/")
    path = tmp_path / "resources.yaml"
    error = problem(tmp_path, GOOD + second)
    assert error.where == f"{path}:11"
    assert (f"duplicate url HTTPS://Example.org/guide/: used by 'guide' at {path}:4 and by 'other' at {path}:11; "
            "list each link once") in str(error)
    error = problem(tmp_path, GOOD + GOOD.split("\n", 1)[1].replace("/guide", "/other"))
    assert error.where == f"{path}:9"
    assert f"duplicate id 'guide': also used at {path}:2; ids must be unique" in str(error)


def test_every_problem_of_a_file_is_listed_with_its_line(tmp_path: Path) -> None:
    text = GOOD.replace("owner: ours", "owner: us") + GOOD.split("\n", 1)[1].replace("id: guide", "id: b").replace(
        "https://example.org/guide", "mailto:me@example.org")
    path = tmp_path / "resources.yaml"
    message = str(problem(tmp_path, text))
    assert message.startswith(f"{path}:7: owner of resources[0] (guide) is 'us'")
    assert f"\n  {path}:11: url 'mailto:me@example.org' of resources[1] (b) must start with https://" in message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty; it needs a 'resources:' list"),
        ("- id: a\n", "expected 'resources:' followed by a list at the top, got a list"),
        ("resources: []\n", "'resources' must be a list with at least one resource"),
        ("resources:\n  - just a string\n", "resources[0] must be a mapping with the keys id, title, url"),
        ("other: 1\n", "unknown key 'other' at the top"),
    ],
)
def test_file_shape_errors(tmp_path: Path, text: str, message: str) -> None:
    assert message in str(problem(tmp_path, text))


def test_the_example_library_is_valid_and_mixes_ours_third_party_and_disclosures() -> None:
    library = resources.load_library(LIBRARY)
    entries = list(library.resources.values())
    assert 12 <= len(entries) <= 20
    assert {r.owner for r in entries} == {"ours", "third_party"}
    assert {r.disclosure for r in entries} == {"none", "affiliate", "sponsored"}


async def test_a_broken_file_stops_the_bot_at_start_with_file_and_line(make_bot, bundled, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("owner: ours", "owner: mine"))
    with pytest.raises(ConfigError, match=rf"{bad}:7: owner of resources\[0\] \(guide\) is 'mine'"):
        await make_bot(plugins=["resources"], config={**bundled, "plugins": {"resources": {"file": str(bad)}}})
    with pytest.raises(ConfigError, match=r"brandbot\.yaml:\d+: file not found: .*missing\.yaml"):
        await make_bot(plugins=["resources"], config={**bundled, "plugins": {"resources": {"file": "missing.yaml"}}})


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"item": "{{ title }}: {{ url }}"}, "the item template must show {{ note }}, so that people see which links"),
        ({"answer": "Look at our site, {{ name }}"}, "the answer template must show {{ links }}"),
        ({"answer": "{{ linkz }}"}, "linkz"),
        ({"labels": {"affiliate": ""}}, "labels.affiliate"),
        ({"labels": {"sponsored": "   "}}, "labels.sponsored"),
        ({"max_results": 4}, "max_results"),
        ({"min_scor": 1}, "unknown key 'min_scor'"),
    ],
)
async def test_settings_that_would_hide_disclosures_or_links_are_refused(make_bot, bundled, settings: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=r"brandbot\.yaml:\d+") as caught:
        await make_bot(plugins=["resources"], config=bot_config(bundled, **settings))
    assert message in str(caught.value)


async def test_an_edit_goes_live_and_a_broken_edit_keeps_the_last_good_file(make_bot, bundled, tmp_path: Path) -> None:
    path = tmp_path / "live.yaml"
    path.write_text(GOOD)
    config = {**bundled, "staff": {"network": "telegram", "conversation": "staff-room"},
              "plugins": {"resources": {"file": str(path), "min_score": 0.1}}}  # one resource: low scores
    bot = await make_bot(networks=NETS, plugins=["resources"], config=config)
    await bot.receive("command", "/find self-publishing", network="discord")
    assert bot.take_sent() == ["Ana, this may help:\nGuide (ours): https://example.org/guide"]
    path.write_text(GOOD.replace("title: Guide", "title: Our new guide   "))
    await bot.receive("command", "/find self-publishing", network="discord")
    assert bot.take_sent() == ["Ana, this may help:\nOur new guide (ours): https://example.org/guide"]
    path.write_text(GOOD.replace("owner: ours", "owner: nobody"))
    await bot.receive("command", "/find self-publishing", network="discord")
    sent = bot.take_sent()
    assert sent[-1] == "Ana, this may help:\nOur new guide (ours): https://example.org/guide"
    assert sent[0].startswith("The resource links file has a problem (still using the previous version):\n"
                              f"{path}:7: owner of resources[0] (guide) is 'nobody'")
    await bot.receive("command", "/find self-publishing", network="discord")  # reported once, not every time
    assert bot.take_sent() == ["Ana, this may help:\nOur new guide (ours): https://example.org/guide"]
