"""Sliding windows and the per-network rate gate."""

from hypothesis import given, settings
from hypothesis import strategies as st

from brandbot.networks.base import RateLimits
from brandbot.runtime.ratelimit import RateGate, SlidingWindow


def test_window_allows_count_then_waits_for_oldest_to_expire() -> None:
    w = SlidingWindow(3, 10.0)
    for t in (0.0, 1.0, 2.0):
        assert w.ready_at(t) == t
        w.record(t)
    assert w.ready_at(2.5) == 10.0
    assert w.ready_at(10.0) == 10.0


def test_gate_combines_conversation_group_and_overall_windows() -> None:
    gate = RateGate(RateLimits(per_conversation=((1, 1.0),), per_group=((20, 60.0),), overall=((30, 1.0),)))
    gate.record("g", False, 0.0)
    assert gate.ready_at("g", False, 0.0) == 1.0  # one per second per chat
    assert gate.ready_at("other", False, 0.0) == 0.0  # another chat may go now
    t = 1.0
    for _ in range(19):
        assert gate.ready_at("g", False, t) <= t
        gate.record("g", False, t)
        t += 1.0
    assert gate.ready_at("g", False, t) == 60.0  # 20 per minute per group


def test_private_windows_apply_only_to_private_conversations() -> None:
    gate = RateGate(RateLimits(private_overall=((1, 900.0),)))
    gate.record("dm:a", True, 0.0)
    assert gate.ready_at("dm:b", True, 1.0) == 900.0
    assert gate.ready_at("public", False, 1.0) == 1.0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=5, allow_nan=False), min_size=1, max_size=200))
def test_following_ready_at_never_exceeds_the_window(gaps: list[float]) -> None:
    w = SlidingWindow(5, 10.0)
    t = 0.0
    sent: list[float] = []
    for gap in gaps:
        t = w.ready_at(t + gap)
        w.record(t)
        sent.append(t)
    for i, start in enumerate(sent):
        in_window = [s for s in sent[i:] if s < start + 10.0]
        assert len(in_window) <= 5
