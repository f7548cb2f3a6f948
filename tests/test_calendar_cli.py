"""``brandbot check`` on posts.yaml (errors name the file, the line, the post and the fix) and
``brandbot posts`` (what is planned, what went out) read from a real database file."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from brandbot.ops.cli import main
from brandbot.testing import MakeBot

X_KEYS = dict.fromkeys(("bearer_token", "consumer_key", "consumer_secret", "access_token", "access_token_secret"), "not-a-real-key")


def write(folder: Path, posts: str, **extra: Any) -> Path:
    (folder / "posts.yaml").write_text(posts)
    data: dict[str, Any] = {"brand": {"name": "Inkwell Press", "url": "https://inkwell.test"},
                            "storage": {"path": str(folder / "bot.sqlite3")},
                            "networks": {"console": {}, "x": X_KEYS, "telegram": {"enabled": False, "token": "t"}},
                            "plugin_dirs": [], "posts": "posts.yaml", **extra}
    path = folder / "brandbot.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def check(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["-c", str(config), "check"])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_check_accepts_good_posts_and_warns_about_a_switched_off_network(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    config = write(tmp_path, """\
posts:
  - id: hello
    at: 2027-03-14 12:00
    timezone: Europe/Stockholm
    repeat: weekdays
    networks: [console:room, x, "telegram:-100123"]
    text: "Hello from {{ brand.name }}: {{ brand.url }}"
""")
    code, out, err = check(config, capsys)
    assert code == 0, err
    assert "ok  1 brand post from posts.yaml" in out
    assert "posts.yaml:2: post 'hello' goes to telegram, which is switched off" in caplog.text


def test_check_names_the_file_line_post_network_and_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write(tmp_path, """\
posts:
  - id: fine
    at: 2027-03-14 12:00
    networks: [console:room]
    text: ok
  - id: essay
    at: 2027-03-14 12:00
    networks: [console:room, x]
    text: "{{ brand.name }} {{ 'is great ' * 40 }}"
  - id: typo
    at: 2027-03-14 12:00
    networks: ["mastodn:room"]
    text: hi
  - id: broken
    at: 2027-03-14 12:00
    networks: [console:room]
    text: "Hello {{ brand.name "
""")
    code, _, err = check(config, capsys)
    assert code == 2
    posts = tmp_path / "posts.yaml"
    assert f"{posts}:6" in err and "post 'essay' cannot be posted on x" in err and "shorten the text" in err
    assert f"{posts}:10" in err and "network 'mastodn' is not in brandbot.yaml" in err
    assert "post 'broken'" in err and "template" in err.lower()
    assert "'fine'" not in err


def test_check_wants_the_plugins_a_post_needs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write(tmp_path, """\
posts:
  - id: spring
    at: 2027-03-20 10:00
    giveaway: prize=Book enter=#spring
    networks: [console:room]
""")
    code, _, err = check(config, capsys)
    assert code == 2 and "the giveaway plugin is not enabled: add 'giveaway: {}' under plugins:" in err


def test_check_reports_a_bad_time_with_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write(tmp_path, "posts:\n  - id: a\n    at: 2027-02-30 10:00\n    networks: [x]\n    text: hi\n")
    code, _, err = check(config, capsys)
    assert code == 2 and f"{tmp_path / 'posts.yaml'}:3" in err and "2027-03-14 12:00" in err


async def test_posts_lists_what_is_planned_and_what_went_out(
        make_bot: MakeBot, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "bot"
    folder.mkdir()
    config = write(folder, """\
timezone: Europe/Stockholm
posts:
  - id: noon
    at: 2027-03-14 12:00
    repeat: daily
    networks: [console:room, x]
    text: "Noon news from {{ brand.name }}"
  - id: evening
    at: 2027-03-14 20:00
    networks: [console:room]
    text: "Good evening"
""", policy={"daily_cost_budget": 0.001})
    bot = await make_bot(config=config, networks=("console", "x"), start=datetime(2027, 3, 14, 8, 0, tzinfo=UTC),
                         store_path=folder / "bot.sqlite3")
    await bot.advance(3 * 3600)
    assert bot.sent_to("console") == ["Noon news from Inkwell Press"]
    await bot.close()
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["-c", str(config), "posts"]) == 0  # the CLI runs its own loop
    out = capsys.readouterr().out
    planned, went = out.split("Went out")
    assert re.search(r"Mon 2027-03-15 12:00 CET\s+noon\s+console:room, x\s+daily", planned)
    assert re.search(r"Sun 2027-03-14 20:00 CET\s+evening\s+console:room\s+once", planned)
    assert re.search(r"2027-03-14 11:00 UTC\s+noon\s+console:room\s+sent", went)
    assert re.search(r"2027-03-14 11:00 UTC\s+noon\s+x\s+refused\s+cost_budget: this message costs", went)


def test_posts_previews_the_coming_days_from_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
    config = write(tmp_path, f"""\
timezone: UTC
posts:
  - id: daily-hello
    at: {tomorrow} 12:00
    repeat: daily
    networks: [console:room]
    text: hello
  - id: far-away
    at: {tomorrow + timedelta(days=30)} 12:00
    networks: [console:room]
    text: later
""")
    assert main(["-c", str(config), "posts", "--days", "3"]) == 0
    out = capsys.readouterr().out
    coming = out.split("Coming up in the next 3 days")[1].split("Went out")[0]
    assert f"{tomorrow:%Y-%m-%d} 12:00 UTC  daily-hello" in coming
    assert 2 <= coming.count("daily-hello") <= 3 and "far-away" not in coming
