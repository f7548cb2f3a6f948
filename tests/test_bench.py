"""Smoke tests of the benchmarks: they run end to end at tiny sizes and report sane fields.

Nothing here asserts a timing; only that the workload is what it claims to be and that
every figure the reports promise is present and consistent.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import random
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest

from brandbot.core.events import Kind
from brandbot.core.rules import RuleBook
from brandbot.core.templates import TemplateEngine
from brandbot.ops.bench import (
    BRAND,
    TARGETS,
    BenchOptions,
    EventStream,
    add_arguments,
    options_from_args,
    plan_rules,
    render_table,
    run_bench,
    write_rules,
)

ROOT = Path(__file__).resolve().parent.parent


def _benchmark_script(name: str) -> ModuleType:
    """A script of benchmarks/ (not a package) loaded as a module."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _history_module() -> ModuleType:
    return _benchmark_script("history")


def test_generated_rules_load_and_each_one_matches_its_own_trigger_text(tmp_path: Path) -> None:
    plans = plan_rules(40, seed=3)
    book = RuleBook.load([write_rules(tmp_path / "rules.yaml", plans)], TemplateEngine(BRAND))
    assert len(book) == 40
    assert {p.shape for p in plans} == {"any", "any-not", "all", "phrase", "regex", "regex-alt"}
    stream = EventStream(plans, followers=5, seed=3)
    rng = random.Random(0)
    now = datetime.now(UTC)
    for plan in plans:
        event = next(iter(stream.events(1)))
        kind = Kind(plan.kinds[0]) if plan.kinds else Kind.MENTION
        text = " ".join(["so", *plan.trigger(rng), "today"])
        found = {r.name for r in book.candidates(replace(event, kind=kind, text=text), now)}
        assert plan.name in found, (plan.name, text)


def test_rule_i_is_the_same_whatever_the_rule_count() -> None:
    assert plan_rules(10, seed=5) == plan_rules(100, seed=5)[:10]


def test_event_stream_is_deterministic_and_brings_every_follower() -> None:
    plans = plan_rules(20, seed=1)
    first = [(e.id, e.kind, e.author.id, e.text) for e in EventStream(plans, 50, 1).events(300)]
    second = [(e.id, e.kind, e.author.id, e.text) for e in EventStream(plans, 50, 1).events(300)]
    assert first == second
    assert len({author for _, _, author, _ in first}) == 50
    assert len({kind for _, kind, _, _ in first}) >= 6
    assert all(text == "" for _, kind, _, text in first if kind in (Kind.REPOST, Kind.FOLLOW))


async def test_quick_session_reports_every_figure() -> None:
    options = BenchOptions.quick(rules=20, followers=60, events=400, paced_events=200, probe_every=40,
                                 compare_rules=(2, 20), startup_rules=20, progress=False)
    summary = await run_bench(options, log=io.StringIO())
    json.dumps(summary)  # the --json file must be writable

    main = summary["max_rate"]
    assert main["events"] == 400 and main["bot_stats"]["events"] == 400
    assert main["bot_stats"]["duplicates"] == 0
    assert main["events_per_s"] > 0
    assert 0 < main["loop_cpu_us_per_event"] <= main["cpu_us_per_event"]  # the loop is part of the process
    assert 0 < main["replies_sent"] < 400
    assert 2 <= main["answered_pct"] <= 80
    assert main["watchers"]["kinds"] == 400  # every watcher saw what it was meant to
    assert main["watchers"]["newcomers"] == 60
    commit = main["commit"]
    assert commit["sampled"] == 10 and commit["seen"] == 10
    assert commit["handled_to_commit_ms"]["p50"] <= commit["handled_to_commit_ms"]["p99"]

    paced = summary["paced"]
    assert paced["events"] == 200
    latency = paced["send_latency_ms"]
    assert 0 < latency["count"] <= 200
    assert 0 <= latency["p50"] <= latency["p99"] <= latency["max"]
    assert paced["handle_latency_ms"]["count"] == 200

    scaling = summary["rules_scaling"]
    assert scaling["low_rules"] == 2 and scaling["high_rules"] == 20 and scaling["ratio"] > 0
    startup = summary["startup"]
    assert startup["rules"] == 20 and startup["empty_db_s"] > 0 and startup["populated_db_s"] > 0
    assert [t["name"] for t in summary["targets"]] == [t.name for t in TARGETS]
    assert {t["result"] for t in summary["targets"]} <= {"pass", "MISS", "n/a"}
    table = render_table(summary)
    assert "events/s at max rate" in table and "start-up, empty database" in table


async def test_soak_samples_rss_through_the_run() -> None:
    options = BenchOptions.quick(rules=10, followers=50, soak=True, soak_events=400, soak_samples=4,
                                 progress=False)
    summary = await run_bench(options, log=io.StringIO())
    soak = summary["soak"]
    assert soak["events"] == 400 and soak["bot_stats"]["events"] == 400
    assert [n for n, _ in soak["rss_samples"]] == [100, 200, 300, 400]
    assert soak["final_rss_mb"] > 0 and soak["warm_rss_mb"] > 0
    assert "max_rate" not in summary


def test_command_line_options() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    options = options_from_args(parser.parse_args(["--quick", "--rules", "5", "--compare-rules", "3,30",
                                                   "--no-progress"]))
    assert options.rules == 5 and options.compare_rules == (3, 30)
    assert options.events == BenchOptions.quick().events and not options.progress
    with pytest.raises(SystemExit):
        options_from_args(parser.parse_args(["--events", "0"]))


def test_history_build_matches_its_figures(tmp_path: Path) -> None:
    history = _history_module()
    db = tmp_path / "history.sqlite3"
    summary = history.run(db, followers=40, interactions=600, lookups_n=30, seed=2, skip_build=False,
                          progress=False)
    build = summary["build"]
    assert build["followers"] == 40 and build["interactions"] == 600 and build["identities"] == 42
    conn = sqlite3.connect(db)
    incoming = conn.execute("SELECT COUNT(*) FROM interactions WHERE direction = 'in'").fetchone()[0]
    counted, points = conn.execute("SELECT SUM(interactions), SUM(points) FROM followers").fetchone()
    in_points = conn.execute("SELECT SUM(points) FROM interactions").fetchone()[0]
    conn.close()
    assert counted == incoming and points == in_points  # follower rows agree with the history
    assert summary["size"]["bytes_per_interaction"] > 0
    for label in ("cold", "warm"):
        p = summary["lookups"][label]["profile_ms"]
        assert p["count"] == 30 and p["p50"] <= p["p99"] <= p["max"]
    assert summary["target"]["result"] in ("pass", "MISS")
    assert "bytes per interaction" in history.render(summary)


def test_stages_attribute_each_loop_sample_to_its_innermost_stage(tmp_path: Path) -> None:
    stages = _benchmark_script("stages")
    loop = "thread (0x1);<module> (r.py:1);Runner.run (asyncio/runners.py:118)"
    raw = tmp_path / "raw.txt"
    raw.write_text("\n".join([
        (f"{loop};Lanes._work (lanes.py:93);Intake.handle_uncommitted (intake.py:167);"
        "RuleBook.hits (rules/index.py:311) 5"),
        f"{loop};Lanes._work (lanes.py:93);Intake.handle_uncommitted (intake.py:167) 3",
        (f"{loop};Transactions._run (transaction.py:130);WriteBehind.flush (writer.py:9);"
        "_write_batch (batch.py:88) 4"),
        f"{loop};start_bot (bench.py:760);RuleBook.hits (rules/index.py:311) 7",  # start-up: left out
        "thread (0x2);_worker (thread.py:83) 9",  # another thread: left out
        f"{loop} 1",
    ]) + "\n")
    counts, total = stages.attribute(raw)
    assert total == 13
    assert counts == {"rule matching": 5, "handling, other": 3, "commit SQL": 4, stages.LOOP: 1}
