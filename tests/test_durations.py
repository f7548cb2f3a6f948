"""One duration parser for rules, brandbot.yaml and plugins: what it accepts and refuses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from brandbot.core import config, rules
from brandbot.core.durations import Duration, parse_duration
from brandbot.core.errors import ConfigError, DurationError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (90, 90.0),
        (1.5, 1.5),
        (0, 0.0),
        ("90", 90.0),  # a bare number is seconds (brandbot.yaml accepted it)
        ("0.5", 0.5),
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("2d", 172800.0),
        ("250ms", 0.25),  # brandbot.yaml accepted milliseconds
        ("1h30m", 5400.0),  # rules accepted parts that add up
        ("1h 30m", 5400.0),
        (" 90 s ", 90.0),
        ("1.5h", 5400.0),
        ("1H30M", 5400.0),  # rules accepted any case
    ],
)
def test_accepted(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["soon", "5 minutes", "", "1h30", "h", "1.h", "30 s m", True, False, float("nan")]
)
def test_refused_with_what_is_accepted(text: object) -> None:
    with pytest.raises(DurationError) as info:
        parse_duration(text)
    message = str(info.value)
    assert message.startswith(
        "expected a duration like 30s, 10m, 2h or 1d (also 1h30m, 250ms, or a number of seconds)"
    )
    assert message.endswith(f", got {text!r}")


@pytest.mark.parametrize("value", [-1, -0.5, "-3", "-5m"])
def test_negative_durations_are_refused(value: object) -> None:
    with pytest.raises(DurationError, match="cannot be negative"):
        parse_duration(value)


def test_the_error_is_a_config_error_and_a_value_error() -> None:
    """ConfigError for callers of the core, ValueError for pydantic validators."""
    assert issubclass(DurationError, ConfigError) and issubclass(DurationError, ValueError)


def test_the_old_names_are_the_one_parser() -> None:
    assert config.parse_duration is parse_duration
    assert rules.parse_duration is parse_duration


def test_a_pydantic_field_reports_the_message_at_the_field() -> None:
    class Settings(BaseModel):
        timeout: Duration = 60.0

    assert Settings.model_validate({"timeout": "2h"}).timeout == 7200.0
    with pytest.raises(ValidationError) as info:
        Settings.model_validate({"timeout": "later"})
    (error,) = info.value.errors()
    assert error["loc"] == ("timeout",) and "expected a duration" in error["msg"]


@given(
    st.integers(0, 400),
    st.integers(0, 59),
    st.integers(0, 59),
    st.sampled_from(["", " "]),
)
def test_hours_minutes_seconds_round_trip(h: int, m: int, s: int, gap: str) -> None:
    assert parse_duration(f"{h}h{gap}{m}m{gap}{s}s") == h * 3600 + m * 60 + s


@given(st.integers(0, 10**9))
def test_a_number_of_seconds_round_trips_as_days_hours_minutes_seconds(total: int) -> None:
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")]
    text = "".join(f"{n}{unit}" for n, unit in parts if n) or "0s"
    assert parse_duration(text) == total
    assert parse_duration(str(total)) == total


@given(st.floats(0, 1e9, allow_nan=False, allow_infinity=False))
def test_numbers_are_seconds(value: float) -> None:
    assert parse_duration(value) == value
