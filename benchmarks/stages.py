"""Where the event loop's time goes, by stage of the message path, from a sampling profile.

Runs one max-rate run of the standard workload (as ``brandbot bench`` does) under
py-spy (a sampling profiler: it does not slow the code the way cProfile does) and
attributes each sample of the event loop's thread to the innermost stage it is in, so
nested stages do not count twice (the SQL of a commit is "commit SQL", not also
"commit"). Prints each stage's share and its microseconds per event.

    pip install py-spy        # not a dependency of brandbot: a tool for this script
    python benchmarks/stages.py --events 60000 --followers 30000

Sampling needs ptrace; in a container run it as root (or with CAP_SYS_PTRACE).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

#: (stage, pattern of a frame "function (file:line)"), innermost match wins.
STAGES: list[tuple[str, str]] = [
    ("event generator (the bench's network)", r"EventStream\."),
    ("lanes and submit", r"Lanes\.|Intake\.submit|Bot\.submit"),
    ("dedupe and finding the person", r"\.is_processed |\.resolve "),
    ("loyalty scoring", r"loyalty\.py"),
    ("rule matching", r"RuleBook\.hits|RuleResponders\.candidates"),
    ("watchers (10 plugins)", r"Router\._watch"),
    ("rule actions and replies (policy, render, outbox row)", r"RuleResponder\.respond|Context\.reply"),
    ("routing, other", r"Router\.dispatch"),
    ("effects into the store's buffers", r"Transactions\.add|Intake\._finish"),
    ("handling, other", r"Intake\.handle_uncommitted"),
    ("commit SQL", r"_begin_and_write|_begin_and_salvage|(?<![\w.])_commit \([^)]*sqlite/batch\.py|_write_batch|_salvage_batch|bulk\.py"),
    ("commit, other", r"Transactions\._run|WriteBehind\.|ensure_committed"),
    ("outbox: sending and marking sent", r"Outbox\.|Bot\._on_sent"),
    ("metrics", r"metrics\.py"),
    ("GC pacer", r"gcpacer\.py"),
]

#: Frames of start-up and shutdown, not of handling events.
OUTSIDE_THE_RUN = r"start_bot|Bot\.stop|plan_rules|Session\.cleanup|_find_and_load"
#: Samples in the run but in no stage: the event loop itself (uvloop's C code shows as Runner.run).
LOOP = "event loop and tasks"

RUNNER = """
import asyncio, sys, time
from brandbot.ops import bench as b
from brandbot.ops.cli import run_loop, tune_runtime

async def main() -> None:
    events, followers = int(sys.argv[1]), int(sys.argv[2])
    options = b.BenchOptions(events=events, followers=followers, progress=False, probe_every=0)
    session = b.Session(options, sys.stderr)
    try:
        plans = b.plan_rules(options.rules, options.seed)
        bench = await b.start_bot(session.folder("stages"), plans)
        await asyncio.sleep(0.5)  # the key filters fill in the background
        print("START", time.time(), flush=True)
        result = await b.drive(bench, session.stream(plans), events, label="stages", progress=False)
        print("END", time.time(), result["events_per_s"], flush=True)
        await bench.bot.stop()
    finally:
        session.cleanup()

tune_runtime()
run_loop(main())
"""


def attribute(raw: Path) -> tuple[Counter[str], int]:
    """Samples per stage of the event loop's thread during the run (py-spy raw output,
    one stack per line); a collection shows as the stage whose allocation started it."""
    by_thread: dict[str, Counter[str]] = {}
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        thread, frames = frames[0], frames[1:]
        if not any("Runner.run" in f for f in frames):
            continue  # not the event loop's thread (SQLite's, the key-filter filler's), or imports
        if any(re.search(OUTSIDE_THE_RUN, f) for f in frames):
            continue
        stage = LOOP
        for frame in reversed(frames):
            found = next((name for name, pattern in STAGES if re.search(pattern, frame)), None)
            if found is not None:
                stage = found
                break
        by_thread.setdefault(thread, Counter())[stage] += int(count)
    busiest = max(by_thread.values(), key=lambda c: sum(c.values()), default=Counter())
    return busiest, sum(busiest.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--followers", type=int, default=30_000)
    parser.add_argument("--rate", type=int, default=200, help="samples per second (default 200)")
    parser.add_argument("--json", type=Path, help="also write the shares here")
    args = parser.parse_args()
    spy = shutil.which("py-spy")
    if spy is None:
        print("py-spy is not installed: pip install py-spy", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="brandbot-stages-") as tmp:
        raw = Path(tmp) / "raw.txt"
        runner = Path(tmp) / "runner.py"
        runner.write_text(RUNNER)
        proc = subprocess.run([spy, "record", "--threads", "-r", str(args.rate), "-f", "raw", "-o", str(raw), "--",
                               sys.executable, str(runner), str(args.events), str(args.followers)],
                              check=False, capture_output=True, text=True)
        if proc.returncode != 0 or not raw.exists():
            print(proc.stderr.strip() or "py-spy failed", file=sys.stderr)
            return proc.returncode or 1
        marks = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if line.startswith(("START ", "END ")))
        counts, total = attribute(raw)
    start, end = float(marks["START"]), float(marks["END"].split()[0])
    rate = int(marks["END"].split()[1])
    # The samples cover start-up too; per-event figures use the run's share of the wall time.
    loop_us = 1e6 / rate
    print(f"{args.events:,} events, {args.followers:,} followers: {rate:,} events/s "
          f"({loop_us:.0f} us of the loop's time per event); {total} samples of the loop's thread in the run")
    rows = []
    for stage, samples in sorted(counts.items(), key=lambda kv: -kv[1]):
        share = samples / total
        rows.append({"stage": stage, "share": round(share, 4), "us_per_event": round(share * loop_us, 1)})
        print(f"  {100 * share:5.1f}%  {share * loop_us:6.1f} us  {stage}")
    if args.json:
        args.json.write_text(json.dumps({"events_per_s": rate, "run_s": round(end - start, 3), "stages": rows},
                                        indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
