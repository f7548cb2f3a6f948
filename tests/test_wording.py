"""Wording and small behaviours found trying the example (issue 15, low): one test per fix."""

from __future__ import annotations

import asyncio
import io
import logging
import shutil
from pathlib import Path

import pytest

from brandbot.core.config import load_config
from brandbot.networks.console import ConsoleConfig, ConsoleNetwork
from brandbot.ops.cli import main
from brandbot.runtime.bot import Bot

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> tuple[str, str, list[logging.LogRecord]]:
    """A first run of the example config on the console: (config path, bot output, log records)."""
    root = tmp_path_factory.mktemp("example")
    shutil.copytree(ROOT / "config", root / "config")
    shutil.copytree(ROOT / "plugins", root / "plugins")
    (root / "data").mkdir()
    cfg = str(root / "config" / "brandbot.yaml")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(logging.DEBUG)
    logger = logging.getLogger("brandbot")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        out = io.StringIO()
        console = ConsoleNetwork(ConsoleConfig(), stdin=io.StringIO("hi\nhi again\n/points\n@ana: hi\n"), stdout=out)
        asyncio.run(Bot(load_config(cfg), networks={"console": console}).run())
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return cfg, out.getvalue(), records


def test_points_answer_does_not_repeat_you_and_counts_one_point(example) -> None:
    _, output, _ = example
    line = next(line for line in output.splitlines() if "a 1-day streak" in line)
    assert "You, you" not in line
    assert line.startswith("[bot -> you] You have 2 points (Reader)")


@pytest.mark.parametrize(("days", "interactions", "points", "expected"), [
    (0, 2, 1, "That's 2 messages since we met today. You have 1 point (Reader tier)."),
    (1, 1, 2, "That's 1 message since we met 1 day ago. You have 2 points (Reader tier)."),
])
def test_welcome_back_says_today_on_the_first_day(example, days, interactions, points, expected) -> None:
    from types import SimpleNamespace

    import yaml

    from brandbot import TemplateEngine, sample_context

    cfg, _, _ = example
    rules = yaml.safe_load((Path(cfg).parent / "rules.yaml").read_text())
    source = next(r for r in rules["rules"] if r["name"] == "greet-returning")["reply"][0]
    brand = load_config(cfg).brand
    engine = TemplateEngine(brand)
    follower = SimpleNamespace(interactions=interactions, days_known=days, points=points, tier="Reader")
    text = engine.render(engine.compile(source, "rules.yaml"), {**sample_context(brand), "name": "Ana",
                                                                 "follower": follower})
    assert text.endswith(expected)


def test_first_run_of_the_example_warns_nothing_about_tour_stops(example) -> None:
    _, _, records = example
    tour = [r for r in records if "stop" in r.getMessage() and "not enabled" in r.getMessage()]
    assert [r for r in tour if r.levelno >= logging.WARNING] == []
    assert len(tour) == 1 and "5 tour stops" in tour[0].getMessage()  # one line says it


def test_a_tour_stop_on_an_unknown_network_is_still_a_warning(tmp_path: Path, caplog) -> None:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    shutil.copytree(ROOT / "plugins", tmp_path / "plugins")
    tour = tmp_path / "config" / "tour.yaml"
    tour.write_text(tour.read_text().replace("network: x", "network: mastodn", 1))
    caplog.set_level(logging.INFO)
    main(["-c", str(tmp_path / "config" / "brandbot.yaml"), "check"])
    assert any("mastodn" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


def test_one_giveaway_entry_is_an_entry() -> None:
    from plugins.giveaway.commands import _entries

    assert (_entries(1), _entries(0), _entries(2)) == ("1 entry", "0 entries", "2 entries")


async def test_admins_get_no_milestone_thanks(make_bot, bundled) -> None:
    config = {**bundled, "admins": {"telegram": ["boss"]}, "plugins": {"loyalty": {}},
              "loyalty": {"milestones": {"interactions": [2], "streak": [], "reposts": [], "tier_change": False}}}
    bot = await make_bot(networks=("telegram",), plugins=["loyalty"], config=config)
    for who in ("boss", "ana"):
        await bot.receive("direct", "hello", author=who, network="telegram")
        await bot.receive("direct", "hello again", author=who, network="telegram")
    sent = bot.take_sent()
    assert sent == ["Thank you for your 2nd interaction, Ana! 2 points so far."]


def _followers(tmp_path: Path) -> str:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    shutil.copytree(ROOT / "plugins", tmp_path / "plugins")
    (tmp_path / "data").mkdir()
    cfg = str(tmp_path / "config" / "brandbot.yaml")
    console = ConsoleNetwork(ConsoleConfig(), stdin=io.StringIO("@ana: hi\n@ben: hi\n"), stdout=io.StringIO())
    asyncio.run(Bot(load_config(cfg), networks={"console": console}).run())
    return cfg


def test_followers_tag_removes_with_a_leading_dash_and_strips_hash(tmp_path: Path, capsys) -> None:
    cfg = _followers(tmp_path)
    assert main(["-c", cfg, "followers", "tag", "console:ana", "#press", "old"]) == 0
    assert capsys.readouterr().out.strip().endswith("tags: old, press")
    assert main(["followers", "tag", "console:ana", "-old", "-c", cfg]) == 0  # no "--" needed
    assert capsys.readouterr().out.strip().endswith("tags: press")


def test_loyalty_recompute_shows_progress_on_stderr(tmp_path: Path, capsys) -> None:
    cfg = _followers(tmp_path)
    capsys.readouterr()
    assert main(["-c", cfg, "loyalty", "recompute"]) == 0
    captured = capsys.readouterr()
    assert "loyalty recompute: 2" in captured.err and "followers" in captured.err
    assert "recomputed loyalty for 2 followers" in captured.out
