"""fast_init: the replaced __init__ builds the same records as the dataclass's own."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brandbot.core.fastinit import FastInitError, fast_init
from brandbot.core.records import FollowerRecord


@fast_init
@dataclass(frozen=True, slots=True)
class _Sample:
    a: int
    b: str = "b"
    c: list[int] = field(default_factory=list)
    d: int = field(default=4, kw_only=True)


@dataclass(frozen=True, slots=True)
class _Plain:
    a: int
    b: str = "b"
    c: list[int] = field(default_factory=list)
    d: int = field(default=4, kw_only=True)


def test_defaults_factories_and_keyword_only_fields_behave_as_generated() -> None:
    assert _Sample(1) == _Sample(1, "b", [], d=4)
    assert _Sample(1).c is not _Sample(1).c  # a fresh list each time
    assert (_Sample(2, "x", [3], d=5).a, _Sample(2, "x", [3], d=5).d) == (2, 5)
    with pytest.raises(TypeError):
        _Sample(1, "b", [], 5)  # type: ignore[call-arg]  # d is keyword-only
    with pytest.raises(TypeError):
        _Sample()  # type: ignore[call-arg]


def test_the_record_stays_frozen_hashable_and_replaceable() -> None:
    sample = _Sample(1, "x", d=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        sample.a = 3  # type: ignore[misc]
    assert dataclasses.replace(sample, a=9) == _Sample(9, "x", d=2)
    assert hash(_Sample(1, "x", (), d=2)) == hash(_Sample(1, "x", (), d=2))  # type: ignore[arg-type]


@given(st.integers(), st.text(), st.lists(st.integers()), st.integers())
def test_same_fields_as_the_dataclass_init(a: int, b: str, c: list[int], d: int) -> None:
    fast, plain = _Sample(a, b, c, d=d), _Plain(a, b, c, d=d)
    assert dataclasses.astuple(fast) == dataclasses.astuple(plain)


def test_hot_records_use_it_and_build_equal_values() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    record = FollowerRecord(id=1, name="Ann", first_seen=now, last_seen=now, points=3)
    assert FollowerRecord.__init__.__qualname__ == "FollowerRecord.__init__"
    assert record == FollowerRecord(1, "Ann", now, now, points=3)
    assert record.tags == frozenset() and record.tier == ""


def test_refuses_classes_it_cannot_reproduce() -> None:
    with pytest.raises(FastInitError, match="slots=True"):
        @fast_init
        @dataclass(frozen=True)
        class _NoSlots:
            a: int

    with pytest.raises(FastInitError, match="frozen"):
        @fast_init
        @dataclass(slots=True)
        class _Mutable:
            a: int

    with pytest.raises(FastInitError, match="__post_init__"):
        @fast_init
        @dataclass(frozen=True, slots=True)
        class _Checked:
            a: int

            def __post_init__(self) -> None:
                pass

    with pytest.raises(FastInitError, match="outside __init__"):
        @fast_init
        @dataclass(frozen=True, slots=True)
        class _Hidden:
            a: int
            b: int = field(default=0, init=False)
