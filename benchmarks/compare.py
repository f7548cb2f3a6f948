"""Before/after: run ``brandbot bench`` on two checkouts, interleaved, and print medians.

The machines are noisy (a shared 2-core VM), so one run of each says little: this runs
the two checkouts in turns (A, B, A, B, ...) with the same bench options and reports the
median of each figure, with the spread, side by side.

    git worktree add ../before <commit>
    python benchmarks/compare.py --before ../before --after . --runs 3 -- --events 60000 --followers 30000

Everything after ``--`` goes to ``brandbot bench``. Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

FIGURES: list[tuple[str, str, str]] = [
    ("events/s at max rate", "max_rate.events_per_s", "{:,.0f}"),
    ("CPU per event at max rate, loop's thread (us)", "max_rate.loop_cpu_us_per_event", "{:.0f}"),
    ("CPU per event at max rate, process (us)", "max_rate.cpu_us_per_event", "{:.0f}"),
    ("arrival -> commit p99 at max rate (ms)", "max_rate.commit.arrival_to_commit_ms.p99", "{:.1f}"),
    ("handled -> commit p99 at max rate (ms)", "max_rate.commit.handled_to_commit_ms.p99", "{:.1f}"),
    ("paced: events/s", "paced.events_per_s", "{:,.0f}"),
    ("paced: event -> send p50 (ms)", "paced.send_latency_ms.p50", "{:.2f}"),
    ("paced: event -> send p99 (ms)", "paced.send_latency_ms.p99", "{:.2f}"),
    ("paced: arrival -> commit p99 (ms)", "paced.commit.arrival_to_commit_ms.p99", "{:.1f}"),
    ("many/few rules throughput ratio", "rules_scaling.ratio", "{:.3f}"),
    ("start-up, empty database (s)", "startup.empty_db_s", "{:.3f}"),
    ("start-up, populated database (s)", "startup.populated_db_s", "{:.3f}"),
    ("peak RSS after the max-rate run (MB)", "peak_rss_mb_after_max_rate", "{:.1f}"),
]


def _cli_module(checkout: Path) -> str:
    """The CLI's module in that checkout (v1 had a flat package, v2 has brandbot/ops)."""
    return "brandbot.ops.cli" if (checkout / "brandbot" / "ops" / "cli.py").exists() else "brandbot.cli"


def run_once(checkout: Path, bench_args: list[str], out: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", _cli_module(checkout), "bench", "--no-progress", "--json", str(out), *bench_args]
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    subprocess.run(cmd, cwd=checkout, env=env, check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


def dig(data: dict[str, Any], key: str) -> float | None:
    value: Any = data
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return float(value) if isinstance(value, (int, float)) else None


def describe(values: list[float], fmt: str) -> str:
    if not values:
        return "-"
    median = fmt.format(statistics.median(values))
    spread = f" ({fmt.format(min(values))}..{fmt.format(max(values))})" if len(values) > 1 else ""
    return median + spread


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="checkout of the old code")
    parser.add_argument("--after", type=Path, required=True, help="checkout of the new code")
    parser.add_argument("--runs", type=int, default=3, help="runs of each (default 3)")
    parser.add_argument("--json", type=Path, help="write every run's summary here")
    parser.add_argument("bench_args", nargs="*", help="options for brandbot bench (after --)")
    args = parser.parse_args(argv)
    results: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory(prefix="brandbot-compare-") as tmp:
        for i in range(args.runs):
            for label in ("before", "after"):
                checkout = (args.before if label == "before" else args.after).resolve()
                print(f"run {i + 1}/{args.runs}: {label} ({checkout})", file=sys.stderr, flush=True)
                results[label].append(run_once(checkout, args.bench_args, Path(tmp) / f"{label}{i}.json"))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    width = max(len(name) for name, _, _ in FIGURES)
    print(f"{'figure':<{width}}  {'before (median, min..max)':<32}  after (median, min..max)")
    for name, key, fmt in FIGURES:
        before = [v for r in results["before"] if (v := dig(r, key)) is not None]
        after = [v for r in results["after"] if (v := dig(r, key)) is not None]
        print(f"{name:<{width}}  {describe(before, fmt):<32}  {describe(after, fmt)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
