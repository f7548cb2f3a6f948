"""The tour-day replay (examples/tour_day.jsonl with config/brandbot.yaml) includes the
calendar's scheduled posts from config/posts.yaml, at their time, through the gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from brandbot.ops.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_the_tour_day_replay_includes_the_scheduled_posts(capsys: pytest.CaptureFixture[str]) -> None:
    config, replay = ROOT / "config" / "brandbot.yaml", ROOT / "examples" / "tour_day.jsonl"
    assert main(["-c", str(config), "simulate", str(replay)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    calendar = [r for r in rows if r.get("source", "").startswith("calendar:")]
    # 30 minutes before the launch Q&A (10:00 in Stockholm): the post hangs on the tour stop
    soon = next(r for r in calendar if r["source"] == "calendar:launch-qa-soon")
    assert soon["time"] == "2027-03-14T08:30:00+00:00" and soon["to"] == "console:salt-ink"
    assert soon["text"].startswith("In 30 minutes: Launch-day Q&A")
    # 12:00 in Stockholm, on the console and as a public post on X (no summons needed for the brand's own post)
    day = [r for r in calendar if r["source"] == "calendar:tour-day"]
    assert {(r["to"], r["action"], r["time"]) for r in day} == {
        ("console:salt-ink", "send", "2027-03-14T11:00:00+00:00"), ("x:timeline", "send", "2027-03-14T11:00:00+00:00")}
    # each once: the replay's jobs run in time order and the scheduler never posts twice
    assert [r["source"] for r in calendar if r["source"] in ("calendar:launch-qa-soon", "calendar:tour-day")] == [
        "calendar:launch-qa-soon", "calendar:tour-day", "calendar:tour-day"]
