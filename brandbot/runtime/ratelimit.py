"""Sliding-window rate limits, pure: times are passed in, nothing sleeps here."""

from __future__ import annotations

from collections import OrderedDict, deque

from brandbot.networks.base import RateLimits, Window


class SlidingWindow:
    """At most ``count`` events in any ``seconds``-long interval."""

    __slots__ = ("_times", "count", "seconds")

    def __init__(self, count: int, seconds: float) -> None:
        if count < 1 or seconds <= 0:
            raise ValueError("a rate window needs count >= 1 and seconds > 0")
        self.count = count
        self.seconds = seconds
        self._times: deque[float] = deque()

    def _trim(self, now: float) -> None:
        edge = now - self.seconds
        times = self._times
        while times and times[0] <= edge:
            times.popleft()

    def ready_at(self, now: float) -> float:
        """The earliest time (>= now) at which one more event fits."""
        self._trim(now)
        if len(self._times) < self.count:
            return now
        return self._times[len(self._times) - self.count] + self.seconds

    def record(self, now: float) -> None:
        self._trim(now)
        self._times.append(now)

    def idle(self, now: float) -> bool:
        self._trim(now)
        return not self._times


class RateGate:
    """All the windows of one network, keyed by conversation where per-conversation.

    Per-conversation windows are kept in a bounded LRU so that a bot talking to a
    million people does not keep a million deques: windows that have emptied (nothing
    sent within their period) are dropped first, and a network without per-conversation
    limits keeps nothing per conversation.
    """

    def __init__(self, limits: RateLimits, max_keys: int = 10_000) -> None:
        self.limits = limits
        self._overall = [SlidingWindow(*w) for w in limits.overall]
        self._private = [SlidingWindow(*w) for w in limits.private_overall]
        self._per_key: OrderedDict[tuple[str, bool], list[SlidingWindow]] = OrderedDict()
        self._max_keys = max_keys

    def _windows_for(self, conversation: str, private: bool, now: float) -> list[SlidingWindow]:
        key = (conversation, private)
        windows = self._per_key.get(key)
        if windows is None:
            spec: tuple[Window, ...] = tuple(self.limits.per_conversation) + (
                () if private else tuple(self.limits.per_group)
            )
            if not spec:
                return []
            windows = [SlidingWindow(*w) for w in spec]
            self._per_key[key] = windows
            self._evict(now)
        else:
            self._per_key.move_to_end(key)
        return windows

    def _evict(self, now: float) -> None:
        """Drop the least recently used windows that have emptied; over the cap, drop anyway."""
        per_key = self._per_key
        for _ in range(2):  # amortised: each insert retires up to two idle keys
            if len(per_key) <= 1:
                break
            oldest = next(iter(per_key.values()))
            if not all(w.idle(now) for w in oldest):
                break
            per_key.popitem(last=False)
        while len(per_key) > self._max_keys:
            per_key.popitem(last=False)

    def ready_at(self, conversation: str, private: bool, now: float) -> float:
        """When a message to this conversation may go out (== now if it may go now)."""
        at = now
        for w in self._overall:
            at = max(at, w.ready_at(now))
        if private:
            for w in self._private:
                at = max(at, w.ready_at(now))
        for w in self._windows_for(conversation, private, now):
            at = max(at, w.ready_at(now))
        return at

    def record(self, conversation: str, private: bool, now: float) -> None:
        for w in self._overall:
            w.record(now)
        if private:
            for w in self._private:
                w.record(now)
        for w in self._windows_for(conversation, private, now):
            w.record(now)
