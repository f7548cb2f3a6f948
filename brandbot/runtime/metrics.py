"""Metrics the bot records as it works, rendered for Prometheus by the health server.

Each :class:`Metrics` owns a private ``CollectorRegistry``: no process-wide state, so a
test (or a process) can hold several bots without their numbers mixing.

The bot calls these methods on its hot path (tens of thousands of events a second), so
the per-event counters are plain numbers in dicts, turned into Prometheus families only
when ``/metrics`` is scraped.

Label values are bounded by configuration: networks are the enabled ones, kinds and
reasons are enums, handler names are the loaded plugins' handlers and the rules. A
guard still folds anything past :data:`MAX_SERIES` label sets of one metric into
``"_other"``, so a plugin inventing names per event cannot exhaust the scraper.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from brandbot.networks.base import NetworkState

#: Network states in which a network is serving normally.
UP_STATES = frozenset({NetworkState.READY, NetworkState.RESUMED})

#: Most label sets one metric keeps before folding new ones into ``"_other"``.
MAX_SERIES = 1000
OTHER = "_other"

#: Handler run times: most handlers take milliseconds; the default timeout is 10 s.
HANDLER_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Store commits: one transaction per batch, normally well under 50 ms.
FLUSH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

NetworkStates = Mapping[str, tuple[NetworkState, str]]

class _Counts(Collector):
    """A labelled counter kept as plain numbers in a dict and built at scrape time.

    Events, decisions and sends are counted on the hot path; a prometheus_client
    ``inc`` on a cached child (a lock and a value object) cost several times a dict add.
    """

    __slots__ = ("_help", "_labels", "_limit", "_name", "values")

    def __init__(self, name: str, help_text: str, labels: list[str], limit: int) -> None:
        self._name = name
        self._help = help_text
        self._labels = labels
        self._limit = limit
        self.values: dict[tuple[str, ...], float] = {}

    def inc(self, key: tuple[str, ...], amount: float = 1) -> None:
        values = self.values
        if key in values:
            values[key] += amount
        elif len(values) < self._limit:
            values[key] = amount
        else:
            other = (OTHER,) * len(key)
            values[other] = values.get(other, 0) + amount

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self._name, self._help, labels=self._labels)
        for key, value in sorted(self.values.items()):
            family.add_metric(list(key), value)
        yield family


class _NetworkUp(Collector):
    """``brandbot_network_up{network}``: 1 while a network is READY or RESUMED, read at scrape time."""

    def __init__(self) -> None:
        self.states: Callable[[], NetworkStates] = dict

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "brandbot_network_up", "1 while the network is ready or resumed, else 0", labels=["network"]
        )
        for name, (state, _detail) in sorted(self.states().items()):
            family.add_metric([name], 1.0 if state in UP_STATES else 0.0)
        yield family


class _HandlerTimes(Collector):
    """``brandbot_handler_seconds{handler}``, counted in plain ints and built at scrape time.

    Every watcher of every event reports its run time, so a prometheus_client
    ``observe`` (a lock and several attribute writes, about 3-5 us) per call cost more
    than the handlers themselves; a bucket index and two adds cost a fraction of that.
    """

    def __init__(self, buckets: tuple[float, ...], limit: int) -> None:
        self._bounds = buckets
        self._limit = limit
        self._series: dict[str, list[float]] = {}  # handler -> [count per bucket..., +Inf, sum]

    def observe(self, handler: str, seconds: float) -> None:
        series = self._series.get(handler)
        if series is None:
            if len(self._series) >= self._limit:
                handler = OTHER
                series = self._series.get(handler)
            if series is None:
                series = self._series[handler] = [0.0] * (len(self._bounds) + 2)
        series[bisect_left(self._bounds, seconds)] += 1
        series[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily("brandbot_handler_seconds",
                                       "Run time of each plugin handler or rule, by handler name",
                                       labels=["handler"])
        for handler, series in sorted(self._series.items()):
            cumulative, buckets = 0.0, []
            for bound, count in zip((*self._bounds, float("inf")), series[:-1], strict=True):
                cumulative += count
                buckets.append((_bound_text(bound), cumulative))
            family.add_metric([handler], buckets, series[-1])
        yield family


def _bound_text(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


class _WithoutCreated:
    """The registry's samples minus the ``*_created`` timestamps prometheus_client adds.

    They double the series count of every counter and histogram and nobody here uses
    them; turning them off in prometheus_client is a process-wide switch, hence a filter.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        for family in self._registry.collect():
            if family.type in ("counter", "histogram", "summary"):
                family.samples = [s for s in family.samples if not s.name.endswith("_created")]
            yield family


class Metrics:
    """What the bot did, counted: events in, reply decisions, sends, latencies, waits."""

    def __init__(self, *, process: bool = True, max_series: int = MAX_SERIES) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._events = _Counts("brandbot_events", "Events received, by network and kind",
                               ["network", "kind"], max_series)
        self._replies = _Counts(
            "brandbot_replies",
            "Reply decisions by the policy: action is send, defer or refuse; reason says why",
            ["network", "action", "reason"], max_series)
        self._sends = _Counts("brandbot_sends", "Delivery attempts that ended, by outcome (sent or failed)",
                              ["network", "outcome"], max_series)
        self._handler = _HandlerTimes(HANDLER_BUCKETS, max_series)
        self._waits = _Counts("brandbot_rate_limit_waits",
                              "Times a network told us to wait (HTTP 429 and the like)", ["network"], max_series)
        self._wait_seconds = _Counts("brandbot_rate_limit_wait_seconds", "Seconds networks told us to wait, summed",
                                     ["network"], max_series)
        for counted in (self._events, self._replies, self._sends, self._handler, self._waits, self._wait_seconds):
            r.register(counted)
        self._flush = Histogram(
            "brandbot_store_flush_seconds", "Time to commit one batch of buffered store writes",
            buckets=FLUSH_BUCKETS, registry=r)
        self._flush_rows = Counter(
            "brandbot_store_flushed_rows", "Buffered writes committed to the store", registry=r)
        self._depth = Gauge("brandbot_outbox_depth", "Replies queued or being sent", registry=r)
        self._depth.set_function(lambda: 0)
        self._network_up = _NetworkUp()
        r.register(self._network_up)
        if process:
            ProcessCollector(registry=r)  # memory, CPU, open files: what a months-long run leaks
        self._exposed = _WithoutCreated(r)
        #: (time.monotonic(), rows) of the last store commit, for /healthz.
        self.last_flush: tuple[float, int] | None = None

    # -- the calls the bot, router and outbox make ------------------------------------
    def event_in(self, network: str, kind: str) -> None:
        self._events.inc((network, kind))

    def decision(self, network: str, action: str, reason: str) -> None:
        """One policy decision: action is send, defer or refuse; reason a policy Reason value."""
        self._replies.inc((network, action, reason))

    def send_result(self, network: str, outcome: str) -> None:
        """A delivery that ended: outcome is sent or failed (retries are not counted)."""
        self._sends.inc((network, outcome))

    def handler_latency(self, source: str, seconds: float) -> None:
        self._handler.observe(source, seconds)

    def rate_limit_wait(self, network: str, seconds: float | None) -> None:
        self._waits.inc((network,))
        if seconds is not None and seconds > 0:
            self._wait_seconds.inc((network,), seconds)

    def store_flush(self, seconds: float, rows: int) -> None:
        self._flush.observe(seconds)
        if rows > 0:
            self._flush_rows.inc(rows)
        self.last_flush = (time.monotonic(), rows)

    # -- live values read at scrape time ----------------------------------------------
    def set_outbox_depth(self, fn: Callable[[], int]) -> None:
        self._depth.set_function(lambda: float(fn()))

    def set_network_states(self, fn: Callable[[], NetworkStates]) -> None:
        """Where ``brandbot_network_up`` reads states: name -> (state, detail), like ``Bot.health``."""
        self._network_up.states = fn

    def seconds_since_flush(self) -> float | None:
        """Seconds since the store last committed a batch, or None before the first."""
        if self.last_flush is None:
            return None
        return max(0.0, time.monotonic() - self.last_flush[0])

    # -- output -----------------------------------------------------------------------
    def render(self) -> bytes:
        """Every series in the Prometheus text format (version 0.0.4)."""
        return generate_latest(self._exposed)
