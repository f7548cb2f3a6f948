"""brandbot simulate: a missing file, unknown networks, cost budgets and X's posting limits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from brandbot.ops.cli import main

CONFIG = """\
brand: {name: Sim Brand}
storage: {path: ":memory:"}
networks:
  console: {}
  x: {enabled: false}
policy:
  daily_cost_budget: %s
  per_person: null
  flood: null
rules: [rules.yaml]
"""
RULES = "rules:\n  - {name: hi, kinds: [mention], networks: [x, console], reply: 'Hello {{ name }}!'}\n"


def setup(tmp_path: Path, budget: str, events: list[dict]) -> tuple[Path, Path]:
    (tmp_path / "brandbot.yaml").write_text(CONFIG % budget)
    (tmp_path / "rules.yaml").write_text(RULES)
    feed = tmp_path / "events.jsonl"
    feed.write_text("".join(json.dumps(e) + "\n" for e in events))
    return tmp_path / "brandbot.yaml", feed


def mentions(count: int, network: str = "x", seconds_apart: float = 1.0) -> list[dict]:
    return [
        {"id": f"m{i}", "kind": "mention", "network": network, "author": f"p{i}", "text": "@brand hi",
         "time": f"2026-05-04T10:{int(i * seconds_apart) // 60:02d}:{int(i * seconds_apart) % 60:02d}Z"}
        for i in range(count)
    ]


def run(config: Path, feed: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict], str]:
    code = main(["-c", str(config), "simulate", str(feed)])
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()] if code == 0 else []
    return code, rows, captured.err


def test_a_missing_events_file_is_one_clear_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, _feed = setup(tmp_path, "null", [])
    code = main(["-c", str(config), "simulate", str(tmp_path / "missing.jsonl")])
    err = capsys.readouterr().err
    assert code != 0 and "missing.jsonl" in err and "Traceback" not in err
    assert err.startswith("brandbot: ") and err.count("\n") == 1, err


def test_an_unknown_network_is_refused_with_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = [*mentions(1, "console"), {"kind": "mention", "network": "twiter", "author": "ana", "text": "hi"}]
    config, feed = setup(tmp_path, "null", events)
    code, _rows, err = run(config, feed, capsys)
    assert code == 2 and f"{feed}:2" in err and "unknown network 'twiter'" in err and "'x'" in err, err


def test_the_daily_cost_budget_defers_replies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, feed = setup(tmp_path, "0.05", mentions(6))  # X bills 0.015 a post: 3 posts fit
    code, rows, err = run(config, feed, capsys)
    assert code == 0, err
    actions = [r["action"] for r in rows if r.get("event")]
    assert actions[:3] == ["send"] * 3 and actions[3:] == ["defer"] * 3, rows
    assert all("cost_budget" in r["reason"] for r in rows if r["action"] == "defer")


def test_x_posting_limits_delay_replies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, feed = setup(tmp_path, "null", mentions(105, seconds_apart=0.5))
    code, rows, err = run(config, feed, capsys)
    assert code == 0, err
    assert [r["action"] for r in rows if r.get("event")].count("send") == 105
    waits = [r for r in rows if r["action"] == "wait"]
    assert len(waits) == 5, waits
    assert "100 posts per 15 minutes" in waits[0]["reason"] and "10:15:00" in waits[0]["reason"]
