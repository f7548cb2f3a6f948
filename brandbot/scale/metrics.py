"""The scale-out roles' own numbers on ``/metrics``, read at scrape time.

Beside the bot's usual series (events, decisions, sends, store commits), a gateway tells
how many appended events are not yet committed and how many it had to append again, a
worker how many entries it handled, acknowledged and claimed from a dead worker, and how
many partitions it holds. docs/scaling.md ("What to monitor") says what to alert on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

Numbers = Callable[[], Mapping[str, float]]


class RoleCollector(Collector):
    """Counters and gauges of one role, each read from a mapping when scraped."""

    def __init__(self, role: str, counters: Numbers, gauges: Numbers, help_texts: Mapping[str, str]) -> None:
        self._role = role
        self._counters = counters
        self._gauges = gauges
        self._help = help_texts

    def collect(self) -> Iterator[Metric]:
        prefix = f"brandbot_{self._role}_"
        for name, value in sorted(self._counters().items()):
            family = CounterMetricFamily(prefix + name, self._help.get(name, name))
            family.add_metric([], value)
            yield family
        for name, value in sorted(self._gauges().items()):
            gauge = GaugeMetricFamily(prefix + name, self._help.get(name, name))
            gauge.add_metric([], value)
            yield gauge


GATEWAY_HELP = {
    "published": "Events appended to the streams",
    "confirmed": "Appended events the store confirmed committed",
    "replayed": "Events appended again: lost by Redis, or a worker failed them",
    "given_up": "Events given up after repeated replays (see the workers' logs)",
    "outstanding": "Appended events not yet confirmed committed (cursors wait for them)",
    "duplicate_sends_suppressed": "Replies that reached the outbox twice and were sent once",
    "rate_wait_seconds": "Seconds sends waited for the shared rate limits",
}

WORKER_HELP = {
    "handled": "Stream entries handed to the intake",
    "acked": "Stream entries acknowledged after their commit",
    "claimed": "Entries claimed from a reader that stopped (XAUTOCLAIM)",
    "batches": "Batches read, handled, committed and acknowledged",
    "replies": "Committed replies announced to the gateway",
    "partitions_held": "Partitions this worker reads now",
    "live_workers": "Workers with a recent heartbeat, as this worker last saw",
}


__all__ = ["GATEWAY_HELP", "WORKER_HELP", "RoleCollector"]
