"""Metrics the bot records as it works; rendered for Prometheus by the health server.

(Placeholder implementation that only counts; replaced by the observability work.)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable


class Metrics:
    def __init__(self) -> None:
        self.counts: Counter[tuple[str, ...]] = Counter()
        self._depth: Callable[[], int] = lambda: 0

    def event_in(self, network: str, kind: str) -> None:
        self.counts[("event", network, kind)] += 1

    def decision(self, network: str, action: str, reason: str) -> None:
        self.counts[("decision", network, action, reason)] += 1

    def send_result(self, network: str, outcome: str) -> None:
        self.counts[("send", network, outcome)] += 1

    def handler_latency(self, source: str, seconds: float) -> None:
        self.counts[("handled", source)] += 1

    def rate_limit_wait(self, network: str, seconds: float) -> None:
        self.counts[("rate_limited", network)] += 1

    def store_flush(self, seconds: float, rows: int) -> None:
        self.counts[("flush",)] += 1

    def set_outbox_depth(self, fn: Callable[[], int]) -> None:
        self._depth = fn
