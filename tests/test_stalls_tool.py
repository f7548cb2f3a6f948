"""benchmarks/stalls.py: each loop stall gets the cause the recorded spans and samples
point to, and a tiny paced run reports every figure (no timings are asserted)."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import sys
from pathlib import Path
from types import CodeType, ModuleType

ROOT = Path(__file__).resolve().parent.parent


def _stalls() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_stalls", ROOT / "benchmarks" / "stalls.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def _code(path: str, name: str) -> CodeType:
    """The code object of a function ``name`` as if defined in the file ``path``."""
    module = compile(f"def {name}():\n    pass\n", path, "exec")
    return next(c for c in module.co_consts if isinstance(c, CodeType))


def test_a_stall_is_blamed_on_what_covers_it_else_on_the_thread_not_running_else_on_samples() -> None:
    s = _stalls()
    gc_span = s.Span("gc gen1", 1.000, 1.009, True, "collected 0")
    commit = s.Span("commit", 2.000, 2.008, True, "300 writes")
    thread_commit = s.Span("commit", 3.000, 3.010, False, "3000 writes bulk")
    spans = [gc_span, commit, thread_commit]
    write = _code("/src/brandbot/store/sqlite/batch.py", "_write_batch")
    runner = _code("/usr/lib/python3.11/asyncio/runners.py", "run")
    samples = [(4.002, (write, runner)), (4.004, (write, runner)), (4.006, (runner,))]

    def cause(start: float, end: float, cpu: float) -> str:
        stall = s.Stall(start, end, cpu, end - start + 0.001)
        return str(s.cause_of(stall, spans, samples)[0])

    assert cause(1.000, 1.010, 0.010) == "gc gen1"
    assert cause(2.001, 2.009, 0.009) == "commit on the loop's thread"
    # A commit on the writer thread does not stand still the loop: the CPU share decides.
    assert cause(3.001, 3.009, 0.001) == "loop thread not running (CPU or GIL elsewhere)"
    assert cause(4.000, 4.008, 0.008) == "brandbot/store/sqlite/batch.py:_write_batch"
    assert cause(5.000, 5.008, 0.008) == "unattributed (running, no sample)"


def test_slow_replies_are_counted_by_the_stall_that_held_them_back() -> None:
    s = _stalls()
    stall = s.Stall(1.002, 1.012, 0.010, 0.011, cause="gc gen1")
    submitted = {"a": 1.000, "b": 1.000, "c": 2.000}
    sent = {"a": 1.013, "b": 1.001, "c": 2.009}  # a: held by the stall; b: fast; c: no stall
    causes = s.slow_replies(submitted, sent, [stall], [], 0.005)
    assert causes == {"stall: gc gen1": 1, "no stall: waiting for its commit": 1}


async def test_a_tiny_paced_run_reports_stalls_commits_collections_and_slow_replies() -> None:
    s = _stalls()
    args = argparse.Namespace(rate=2000.0, events=400, followers=100, rules=10, seed=1, probe_every=50,
                              threshold_ms=2.0, slow_ms=5.0, top=3,
                              max_wait_ms=None)
    original_run = asyncio.events.Handle._run
    summary = await s.run(args)
    assert asyncio.events.Handle._run is original_run  # the callback timer is taken out again
    assert summary["events"] == 400 and summary["event_loop"] == "asyncio"
    commits = summary["commits"]
    assert commits["on_loop"] + commits["on_thread"] >= 1
    slow = summary["slow_replies"]
    assert 0 < slow["of_replies"] <= 400 and sum(slow["by_cause"].values()) == slow["count"]
    assert {"cpu_over_2ms_per_10k", "causes_over_2ms", "longest"} <= set(summary["callbacks"])
    assert len(summary["longest"]) <= 3
    assert "replies sent more than 5 ms" in s.render(summary)
