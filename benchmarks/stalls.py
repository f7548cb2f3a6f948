"""Event-loop stalls at a paced rate: every stall over a threshold, with what caused it.

The latency tail at half the maximum rate (p99 event-to-send) is set by moments when the
event loop stands still for several milliseconds: every reply due then waits. Latency
percentiles on a shared 2-core machine are noisy; the number of stalls and their causes
are much less so. This runs the standard workload (``brandbot bench``'s bot, rules,
watchers and events) at a fixed rate and records, for every stall:

- its length: a ticker task sleeping 1 ms records how late it wakes (as the bench's
  loop-lag figure), and how much CPU the loop's thread used meanwhile (``thread_time``):
  a stall with little CPU is the thread not running (the GIL or the CPU elsewhere);
- what the loop's thread was doing: a SIGALRM every 0.5 ms samples its stack while the
  ticker is overdue (the handler runs on the loop's thread between two bytecodes: a long
  C call shows as the Python frame that made it);
- garbage collections (``gc.callbacks``; no stack can be sampled during one: the
  collector holds the GIL), and store commits and WAL checkpoints, timed by wrappers
  around the store's ``commit_batch``, ``write_rows``, ``finish_commit`` and ``_checkpoint_file``.

Each stall gets one cause: a collection or a commit covering most of it, else "not
running" when the thread had little CPU (the machine's other work), else the innermost
brandbot function most samples saw. Prints stalls per 10,000 events by cause, and the paced latency figures.

    python benchmarks/stalls.py --rate 2200 --events 30000 --followers 30000
    python benchmarks/stalls.py --json stalls.json --top 20    # also list the longest stalls
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import gc
import json
import logging
import os
import signal
import statistics
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import CodeType, FrameType
from typing import Any

#: A collection or commit covering at least this share of a stall is its cause.
COVER = 0.4
#: A stall in which the loop's thread had less CPU than this share of the wall time was
#: the thread not running (waiting for the GIL or for a CPU).
NOT_RUNNING = 0.5


@dataclass
class Stall:
    """The loop stood still from ``start`` to ``end`` (perf_counter seconds): a late
    ticker (wall time), or one callback that ran that long (``what`` names it)."""

    start: float
    end: float
    cpu: float  # the loop thread's CPU seconds from ``start - lead`` to ``end``
    window: float  # the wall seconds the CPU figure is over
    what: str = ""  # the callback (a task's coroutine), for per-callback stalls
    cause: str = ""
    detail: str = ""

    @property
    def ms(self) -> float:
        return (self.end - self.start) * 1000

    @property
    def cpu_ms(self) -> float:
        return self.cpu * 1000


@dataclass
class Span:
    """Something timed on some thread: a collection, a commit, a checkpoint."""

    kind: str
    start: float
    end: float
    on_loop: bool
    info: str = ""
    cpu: float = 0.0  # CPU seconds of the thread it ran on


@dataclass
class Recorder:
    """The ticker, the sampler, the timed callbacks and spans; ``attribute`` gives every
    stall a cause."""

    threshold: float = 0.002
    tick: float = 0.001
    sample_every: float = 0.0005
    stalls: list[Stall] = field(default_factory=list)
    callbacks: list[Stall] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    samples: list[tuple[float, tuple[CodeType, ...]]] = field(default_factory=list)
    loop_thread: int = 0
    _gc_started: float = 0.0
    _gc_cpu: float = 0.0

    # --- the loop's side ------------------------------------------------------------------

    async def ticker(self) -> None:
        while True:
            before, cpu_before = time.perf_counter(), time.thread_time()
            await asyncio.sleep(self.tick)
            after, cpu_after = time.perf_counter(), time.thread_time()
            if after - before - self.tick > self.threshold:
                self.stalls.append(Stall(before + self.tick, after, cpu_after - cpu_before, after - before))

    def timed_callbacks(self) -> Callable[[], None]:
        """Time every callback of a pure-Python asyncio loop (``Handle._run``); keep those
        that used more than ``threshold`` of the thread's CPU. Returns the undo."""
        original = asyncio.events.Handle._run
        keep, threshold = self.callbacks, self.threshold

        def run(handle: asyncio.Handle) -> None:
            start, cpu = time.perf_counter(), time.thread_time()
            original(handle)
            used = time.thread_time() - cpu
            if used > threshold:
                end = time.perf_counter()
                keep.append(Stall(start, end, used, end - start, what=describe(handle)))

        asyncio.events.Handle._run = run  # type: ignore[method-assign,assignment]

        def undo() -> None:
            asyncio.events.Handle._run = original  # type: ignore[method-assign]

        return undo

    # --- the sampler ----------------------------------------------------------------------

    def on_alarm(self, signum: int, frame: FrameType | None) -> None:
        """SIGALRM, every ``sample_every`` of wall time: the handler runs on the loop's
        (main) thread between two bytecodes, so ``frame`` is where that thread is."""
        codes = []
        while frame is not None:
            codes.append(frame.f_code)
            frame = frame.f_back
        self.samples.append((time.perf_counter(), tuple(codes)))

    # --- collections, commits, checkpoints --------------------------------------------------

    def on_gc(self, phase: str, info: dict[str, int]) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        if phase == "start":
            self._gc_started, self._gc_cpu = now, cpu
        else:
            on_loop = threading.get_ident() == self.loop_thread
            self.spans.append(Span(f"gc gen{info['generation']}", self._gc_started, now, on_loop,
                                   f"collected {info.get('collected', 0)}", cpu - self._gc_cpu))

    def timed(self, kind: str, function: Callable[..., Any], info: Callable[..., str]) -> Callable[..., Any]:
        """``function`` wrapped so that each call is recorded as a span of ``kind``."""

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start, cpu = time.perf_counter(), time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                on_loop = threading.get_ident() == self.loop_thread
                self.spans.append(Span(kind, start, time.perf_counter(), on_loop, info(*args),
                                       time.thread_time() - cpu))

        return wrapper

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Ticker, sampler, timers and wrappers, for the duration of the block."""
        from brandbot.store.sqlite import writer

        self.loop_thread = threading.get_ident()
        # What each wrapper records; a function this checkout does not have (older code,
        # for before/after runs) is left out.
        wrappers: dict[str, tuple[str, Callable[..., str]]] = {
            "commit_batch": ("commit", lambda db, batch, bulk, finish: f"{batch.writes} writes"
                             f"{' bulk' if bulk else ''}{' +checkpoint' if finish else ''}"),
            # A batch's rows on the loop's thread, its COMMIT here or on the writer thread.
            "write_rows": ("commit", lambda db, batch: f"{batch.writes} writes, rows"),
            "finish_commit": ("COMMIT", lambda db, finish: f"COMMIT{' +checkpoint' if finish else ''}"),
            "_checkpoint_file": ("checkpoint", lambda path: ""),
        }
        saved = {name: getattr(writer, name) for name in wrappers if hasattr(writer, name)}
        for name, function in saved.items():
            kind, info = wrappers[name]
            setattr(writer, name, self.timed(kind, function, info))
        settled = writer.WriteBehind._settled

        def timed_settled(store: Any, *args: Any) -> None:  # the loop takes a durable batch back
            now = time.perf_counter()
            self.spans.append(Span("settled", now, now, True))
            settled(store, *args)

        writer.WriteBehind._settled = timed_settled  # type: ignore[method-assign,assignment]
        gc.callbacks.append(self.on_gc)
        loop = asyncio.get_running_loop()
        undo = self.timed_callbacks() if isinstance(loop, asyncio.BaseEventLoop) else None
        ticker = loop.create_task(self.ticker(), name="stall-ticker")
        previous = signal.signal(signal.SIGALRM, self.on_alarm)
        signal.siginterrupt(signal.SIGALRM, False)  # system calls go on, not EINTR
        signal.setitimer(signal.ITIMER_REAL, self.sample_every, self.sample_every)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            ticker.cancel()
            if undo is not None:
                undo()
            gc.callbacks.remove(self.on_gc)
            for name, function in saved.items():
                setattr(writer, name, function)
            writer.WriteBehind._settled = settled  # type: ignore[method-assign]

    # --- attribution ----------------------------------------------------------------------

    def attribute(self) -> None:
        """Give every stall its cause (see the module's docstring)."""
        self.spans.sort(key=lambda s: s.start)
        self.samples.sort(key=lambda s: s[0])
        for stall in (*self.stalls, *self.callbacks):
            stall.cause, stall.detail = cause_of(stall, self.spans, self.samples)


def describe(handle: asyncio.Handle) -> str:
    """What a callback runs: a task's coroutine, or the function."""
    callback = getattr(handle, "_callback", None)
    owner = getattr(callback, "__self__", None)
    if isinstance(owner, asyncio.Task):
        coro = owner.get_coro()
        return f"task {getattr(coro, '__qualname__', owner.get_name())}"
    return f"callback {getattr(callback, '__qualname__', repr(callback))}"


def frame_name(code: CodeType) -> str:
    path = code.co_filename
    marker = f"brandbot{os.sep}"
    short = "brandbot/" + path.rsplit(marker, 1)[1].replace(os.sep, "/") if marker in path else os.path.basename(path)
    return f"{short}:{code.co_qualname}"


def innermost_own(stack: tuple[CodeType, ...]) -> str:
    """The innermost brandbot frame of a stack, else the innermost frame (this script's
    signal handler is not counted: it is the sampler)."""
    names = [frame_name(code) for code in stack if code.co_name != "on_alarm"]
    for name in names:
        if name.startswith("brandbot/"):
            return name
    return names[0] if names else "?"


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def cause_of(stall: Stall, spans: list[Span],
             samples: list[tuple[float, tuple[CodeType, ...]]]) -> tuple[str, str]:
    """One cause for ``stall``: see the module's docstring for the order."""
    length = stall.end - stall.start
    covering: dict[str, float] = defaultdict(float)
    infos: dict[str, str] = {}
    for span in spans:
        if span.start > stall.end:
            break
        if not span.on_loop and not span.kind.startswith("gc"):
            continue
        covered = _overlap(stall.start, stall.end, span.start, span.end)
        if covered:
            covering[span.kind] += covered
            infos[span.kind] = span.info
    if covering:
        kind, covered = max(covering.items(), key=lambda kv: kv[1])
        if covered >= COVER * length:
            label = f"{kind} on the loop's thread" if kind in ("commit", "checkpoint") else kind
            return label, f"{covered * 1000:.1f} of {length * 1000:.1f} ms, {infos[kind]}"
    share = stall.cpu / stall.window if stall.window else 0.0
    if share < NOT_RUNNING:
        others = [s.kind for s in spans if not s.on_loop and _overlap(stall.start, stall.end, s.start, s.end)]
        beside = f"; beside it: {', '.join(sorted(set(others)))}" if others else ""
        return "loop thread not running (CPU or GIL elsewhere)", f"CPU {share:.0%} of the window{beside}"
    first = bisect.bisect_left(samples, stall.start, key=lambda s: s[0])
    last = bisect.bisect_right(samples, stall.end, key=lambda s: s[0])
    seen = Counter(innermost_own(stack) for _, stack in samples[first:last])
    if seen:
        top = ", ".join(f"{where} {count}" for where, count in seen.most_common(3))
        if stall.what:
            return stall.what, f"samples: {top} (of {sum(seen.values())})"
        if len(seen) > 3 and seen.most_common(1)[0][1] < sum(seen.values()) / 2:
            return "many events' ordinary work", f"samples: {top} (of {sum(seen.values())})"
        return seen.most_common(1)[0][0], f"samples: {top} (of {sum(seen.values())}), CPU {share:.0%}"
    return stall.what or "unattributed (running, no sample)", f"CPU {share:.0%} of the window"


def by_cause(stalls: list[Stall], events: int, over_ms: float, *, cpu: bool = False) -> list[dict[str, Any]]:
    """Per cause: stalls over ``over_ms`` (of wall time, or of CPU) per 10,000 events."""
    groups: dict[str, list[float]] = defaultdict(list)
    for stall in stalls:
        ms = stall.cpu_ms if cpu else stall.ms
        if ms > over_ms:
            groups[stall.cause].append(ms)
    rows = [{"cause": cause, "per_10k": round(len(ms) * 10_000 / max(1, events), 2), "count": len(ms),
             "total_ms": round(sum(ms), 1), "max_ms": round(max(ms), 1)}
            for cause, ms in groups.items()]
    return sorted(rows, key=lambda r: (-r["total_ms"], r["cause"]))


def per_10k(stalls: list[Stall], events: int, over_ms: float, *, cpu: bool = False) -> float:
    return round(sum((s.cpu_ms if cpu else s.ms) > over_ms for s in stalls) * 10_000 / max(1, events), 2)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from brandbot.ops import bench as b

    logging.getLogger("brandbot").setLevel(logging.WARNING)
    options = b.BenchOptions(rules=args.rules, followers=args.followers, events=args.events,
                             seed=args.seed, probe_every=args.probe_every, progress=False)
    session = b.Session(options, sys.stderr)
    recorder = Recorder(threshold=args.threshold_ms / 1000)
    loop_kind = type(asyncio.get_running_loop()).__module__.split(".")[0]
    try:
        plans = b.plan_rules(options.rules, options.seed)
        bench = await b.start_bot(session.folder("stalls"), plans)
        submitted = watch_submits(bench.bot)
        if args.max_wait_ms is not None:  # how long a reply may wait for more events to join its commit
            bench.bot.transactions._max_wait = args.max_wait_ms / 1000
        try:
            with recorder.installed():
                result = await b.drive(bench, session.stream(plans, prefix="p"), args.events, label="stalls",
                                       progress=False, rate=args.rate, probe_every=options.probe_every,
                                       record_all=True)
        finally:
            await bench.bot.stop()
    finally:
        session.cleanup()
    recorder.attribute()
    events = args.events
    slow = slow_replies(submitted, bench.network.sent_at, recorder.stalls, recorder.spans, args.slow_ms / 1000)
    stalls, callbacks = recorder.stalls, recorder.callbacks
    commits = [s for s in recorder.spans if s.kind == "commit"]
    loop_commits = [c.cpu * 1000 for c in commits if c.on_loop]
    sizes = [float(c.info.split()[0]) for c in commits]
    thread_parts = [s for s in recorder.spans if not s.on_loop and s.kind in ("commit", "COMMIT")]
    gcs = [s for s in recorder.spans if s.kind.startswith("gc")]
    summary: dict[str, Any] = {
        "rate": args.rate, "events": events, "followers": args.followers, "rules": args.rules,
        "event_loop": loop_kind, "load_average_at_end": round(os.getloadavg()[0], 2),
        "events_per_s": result["events_per_s"],
        "send_latency_ms": result.get("send_latency_ms"),
        "arrival_to_commit_ms": result.get("commit", {}).get("arrival_to_commit_ms"),
        "loop_lag_ms": result["loop_lag_ms"],
        "stalls_over_2ms_per_10k": per_10k(stalls, events, 2),
        "stalls_over_5ms_per_10k": per_10k(stalls, events, 5),
        # The loop's own work: stalls in which its thread ran at least half of the time.
        "busy_stalls_over_5ms_per_10k": per_10k(
            [s for s in stalls if s.cpu >= NOT_RUNNING * s.window], events, 5),
        "stalled_ms_total": round(sum(s.ms for s in stalls), 1),
        "causes_over_2ms": by_cause(stalls, events, 2.0),
        "causes_over_5ms": by_cause(stalls, events, 5.0),
        "commits": {
            "on_loop": len(loop_commits), "on_thread": len(commits) - len(loop_commits),
            "loop_ms_p50": round(statistics.median(loop_commits or [0]), 3),
            "loop_ms_p99": round(percentile(loop_commits, 99), 2),
            "loop_ms_max": round(max(loop_commits, default=0), 2),
            "finishing_checkpoint_ms": [  # wall ms of commits that also finished a WAL checkpoint
                round((c.end - c.start) * 1000, 1) for c in (*commits, *thread_parts)
                if c.info.endswith("+checkpoint")],
            "finishing_on_loop": sum(c.on_loop for c in commits if c.info.endswith("+checkpoint")),
            # The writer thread's part (a small batch's COMMIT, or a large batch), wall ms,
            # and how long the loop took to take each durable batch back after it.
            "thread_ms_p50_p99_max": _spread([(c.end - c.start) * 1000 for c in thread_parts]),
            "handoff_ms_p50_p99_max": _spread(handoffs(recorder.spans)),
            "writes_p50_p90_p99_max": [round(percentile(sizes, p)) for p in (50, 90, 99, 100)],
            "loop_commits_over_2ms_by_writes": dict(sorted(Counter(
                f"{min(int(c.info.split()[0]) // 100 * 100, 500)}+" for c in commits
                if c.on_loop and c.cpu > 0.002).items())),
        },
        "gc": {kind: {"count": len(v), "total_ms": round(sum(v), 1), "max_ms": round(max(v), 2),
                      "over_2ms": sum(ms > 2 for ms in v), "over_5ms": sum(ms > 5 for ms in v)}
               for kind, v in _group_ms(gcs).items()},
        "longest": [_row(s) for s in sorted(stalls, key=lambda s: -s.ms)[: args.top]],
        "slow_replies": {"over_ms": args.slow_ms, "count": sum(slow.values()),
                         "of_replies": len(bench.network.sent_at), "by_cause": dict(slow.most_common())},
    }
    if loop_kind == "asyncio":  # callbacks are timed only on the pure-Python loop
        summary["callbacks"] = {
            "cpu_over_2ms_per_10k": per_10k(callbacks, events, 2, cpu=True),
            "cpu_over_5ms_per_10k": per_10k(callbacks, events, 5, cpu=True),
            "causes_over_2ms": by_cause(callbacks, events, 2.0, cpu=True),
            "causes_over_5ms": by_cause(callbacks, events, 5.0, cpu=True),
            "longest": [_row(s) for s in sorted(callbacks, key=lambda s: -s.cpu)[: args.top]],
        }
    return summary


def watch_submits(bot: Any) -> dict[str, float]:
    """When each event was submitted (``bot.submit`` wrapped on the instance)."""
    submitted: dict[str, float] = {}
    submit = bot.submit

    async def timed_submit(event: Any) -> Any:
        submitted[event.id] = time.perf_counter()
        return await submit(event)

    bot.submit = timed_submit
    return submitted


def slow_replies(submitted: dict[str, float], sent_at: dict[str, float], stalls: list[Stall],
                 spans: list[Span], over: float) -> Counter[str]:
    """Replies sent more than ``over`` after their event, by cause: the loop stall that
    overlapped the wait most (2 ms or more of it), else a commit or collection on the
    loop's thread, else waiting for the commit (gathering events for it, or the writer
    thread)."""
    ordered = sorted(stalls, key=lambda s: s.start)
    starts = [s.start for s in ordered]
    causes: Counter[str] = Counter()
    for event_id, sent in sent_at.items():
        start = submitted.get(event_id)
        if start is None or sent - start <= over:
            continue
        best, best_overlap = None, 0.0
        i = max(0, bisect.bisect_left(starts, start) - 1)
        while i < len(ordered) and ordered[i].start < sent:
            covered = _overlap(start, sent, ordered[i].start, ordered[i].end)
            if covered > best_overlap:
                best, best_overlap = ordered[i], covered
            i += 1
        if best is not None and best_overlap >= 0.002:
            causes[f"stall: {best.cause}"] += 1
            continue
        loop_spans = [sp for sp in spans if sp.on_loop and _overlap(start, sent, sp.start, sp.end) >= 0.001]
        if loop_spans:
            causes[f"{max(loop_spans, key=lambda sp: sp.end - sp.start).kind} on the loop's thread"] += 1
        else:
            causes["no stall: waiting for its commit"] += 1
    return causes


def handoffs(spans: list[Span]) -> list[float]:
    """Per batch settled on the loop after a part on the writer thread: ms from the end
    of that part until the loop settled the batch (the thread's GIL and wake-up wait)."""
    ordered = sorted(spans, key=lambda s: s.end)
    out, last_end = [], None
    for span in ordered:
        if span.kind == "settled":
            if last_end is not None:
                out.append((span.end - last_end) * 1000)
            last_end = None
        elif not span.on_loop and span.kind in ("commit", "COMMIT"):
            last_end = span.end
    return out


def _spread(values: list[float]) -> list[float]:
    return [round(percentile(values, p), 2) for p in (50, 99, 100)]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(len(ordered) * pct / 100)))] if ordered else 0.0


def _row(stall: Stall) -> dict[str, Any]:
    return {"ms": round(stall.ms, 2), "cpu_ms": round(stall.cpu_ms, 2), "cause": stall.cause,
            "detail": stall.detail}


def _group_ms(spans: list[Span]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = defaultdict(list)
    for span in spans:
        out[span.kind].append(span.cpu * 1000)
    return dict(sorted(out.items()))


def _causes(title: str, rows: list[dict[str, Any]]) -> list[str]:
    lines = [f"{title} (per 10k events, count, total ms, max ms):"]
    lines += [f"  {r['per_10k']:6.2f} {r['count']:5d} {r['total_ms']:8.1f} {r['max_ms']:6.1f}  {r['cause']}"
              for r in rows]
    return lines


def _longest(title: str, rows: list[dict[str, Any]]) -> list[str]:
    lines = [title] if rows else []
    lines += [f"  {r['ms']:6.1f} ms (CPU {r['cpu_ms']:.1f})  {r['cause']}  ({r['detail']})" for r in rows]
    return lines


def render(summary: dict[str, Any]) -> str:
    send, arrive = summary["send_latency_ms"] or {}, summary["arrival_to_commit_ms"] or {}
    commits = summary["commits"]
    lines = [
        (f"{summary['events']:,} events at {summary['rate']:,.0f}/s ({summary['events_per_s']:,}/s achieved), "
        f"{summary['followers']:,} followers, {summary['rules']} rules, {summary['event_loop']} loop, "
        f"load average {summary['load_average_at_end']}"),
        (f"event -> send p50 {send.get('p50', 0):.2f} ms, p99 {send.get('p99', 0):.2f} ms, "
        f"max {send.get('max', 0):.1f} ms; arrival -> commit p99 {arrive.get('p99', 0):.1f} ms"),
        (f"loop stalls per 10,000 events: > 2 ms {summary['stalls_over_2ms_per_10k']}, "
        f"> 5 ms {summary['stalls_over_5ms_per_10k']} ({summary['busy_stalls_over_5ms_per_10k']} with the "
        f"loop's thread running); stalled {summary['stalled_ms_total']:.0f} ms in all"),
        (f"commits (CPU): {commits['on_loop']} on the loop's thread (p50 {commits['loop_ms_p50']} ms, "
        f"p99 {commits['loop_ms_p99']} ms, max {commits['loop_ms_max']} ms), {commits['on_thread']} on the writer thread; "
        f"writes p50/p90/p99/max {commits['writes_p50_p90_p99_max']}; loop commits over 2 ms of CPU by writes: "
        f"{commits['loop_commits_over_2ms_by_writes']}; finishing a WAL checkpoint: "
        f"{commits['finishing_checkpoint_ms']} ms ({commits['finishing_on_loop']} on the loop's thread); "
        f"writer thread's part p50/p99/max {commits['thread_ms_p50_p99_max']} ms, then taken back by "
        f"the loop after {commits['handoff_ms_p50_p99_max']} ms"),
        "collections (CPU): " + ", ".join(f"{k} {v['count']} (over 2 ms {v['over_2ms']}, over 5 ms {v['over_5ms']}, "
                                          f"max {v['max_ms']} ms)" for k, v in summary["gc"].items()),
    ]
    callbacks = summary.get("callbacks")
    if callbacks:
        lines.append(f"callbacks using > 2 ms of CPU per 10,000 events: {callbacks['cpu_over_2ms_per_10k']}, "
                     f"> 5 ms: {callbacks['cpu_over_5ms_per_10k']}")
        lines += _causes("causes of callbacks over 2 ms of CPU", callbacks["causes_over_2ms"])
        lines += _longest("longest callbacks:", callbacks["longest"])
    slow = summary["slow_replies"]
    lines.append(f"replies sent more than {slow['over_ms']:g} ms after their event: {slow['count']} of "
                 f"{slow['of_replies']}, by cause:")
    lines += [f"  {count:6d}  {cause}" for cause, count in slow["by_cause"].items()]
    lines += _causes("causes of loop stalls > 2 ms", summary["causes_over_2ms"])
    lines += _causes("causes of loop stalls > 5 ms", summary["causes_over_5ms"])
    lines += _longest("longest loop stalls:", summary["longest"])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=2200.0, help="events per second (default 2,200: "
                        "about half the maximum rate on the 2-core machine)")
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--followers", type=int, default=30_000)
    parser.add_argument("--rules", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--probe-every", type=int, default=1000, help="watch every n-th event's commit")
    parser.add_argument("--threshold-ms", type=float, default=2.0, help="record stalls longer than this")
    parser.add_argument("--slow-ms", type=float, default=5.0, help="replies slower than this are "
                        "counted by cause (default 5, the target's p99)")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="asyncio",
                        help="asyncio (default) also times every callback's CPU; uvloop is what "
                        "`brandbot run` uses when installed")
    parser.add_argument("--gc-threshold", help="gc.set_threshold after the bot's tuning, e.g. 700,10,10 "
                        "(to try collector settings)")
    parser.add_argument("--thread-min-writes", type=int, help="commit batches of this many writes or "
                        "more on the store's writer thread (to try settings; see store/sqlite/writer.py)")
    parser.add_argument("--max-wait-ms", type=float, help="the transactions' max_wait for this run "
                        "(to try settings; see runtime/transaction.py)")
    parser.add_argument("--switch-interval-ms", type=float, help="sys.setswitchinterval after the bot's "
                        "tuning (to try settings)")
    parser.add_argument("--top", type=int, default=10, help="list the longest stalls (default 10)")
    parser.add_argument("--json", help="also write the summary here")
    args = parser.parse_args(argv)
    from brandbot.ops.cli import run_loop, tune_runtime

    os.environ["BRANDBOT_LOOP"] = "asyncio" if args.loop == "asyncio" else "auto"
    tune_runtime()  # as `brandbot run` and `brandbot bench` run the bot
    if args.thread_min_writes:
        from brandbot.store.sqlite import writer

        writer._THREAD_MIN_WRITES = args.thread_min_writes
    if args.switch_interval_ms:
        sys.setswitchinterval(args.switch_interval_ms / 1000)
    if args.gc_threshold:
        gc.set_threshold(*(int(n) for n in args.gc_threshold.split(",")))
    summary = run_loop(run(args))
    print(render(summary))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(summary, out, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
