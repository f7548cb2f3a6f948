"""Durations as people write them in YAML and commands: "30s", "5m", "1h30m", "2d", 90.

There is one parser so that a cooldown in a rules file, a timeout in brandbot.yaml and a
plugin setting all accept the same spellings and fail with the same message.
"""

from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import BeforeValidator

from brandbot.core.errors import DurationError

#: Seconds per unit. "ms" is listed first so that "250ms" is not read as 250 minutes + "s".
UNIT_SECONDS: dict[str, float] = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

ACCEPTED = "a duration like 30s, 10m, 2h or 1d (also 1h30m, 250ms, or a number of seconds)"

_NUMBER = r"\d+(?:\.\d+)?"
_UNIT = "|".join(UNIT_SECONDS)
_PART = re.compile(rf"({_NUMBER})\s*({_UNIT})")
_WHOLE = re.compile(rf"(?:{_NUMBER}\s*(?:{_UNIT})\s*)+|{_NUMBER}")


def parse_duration(value: object) -> float:
    """A number of seconds, or text such as "250ms", "90s", "10m", "1h 30m", "2d" -> seconds.

    Case and spaces do not matter; parts add up ("1h30m" is 5400). Raises DurationError
    (a ConfigError and a ValueError) for anything else, including negative durations.
    """
    if isinstance(value, bool):  # YAML's yes/no: never a duration, though bool is an int
        raise DurationError(f"expected {ACCEPTED}, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str(value).strip().lower()
        negative = text.startswith("-")
        body = text.removeprefix("-").strip() if negative else text
        if not _WHOLE.fullmatch(body):
            raise DurationError(f"expected {ACCEPTED}, got {value!r}")
        parts = _PART.findall(body)
        seconds = sum(float(n) * UNIT_SECONDS[u] for n, u in parts) if parts else float(body)
        if negative and seconds:
            seconds = -seconds
    if not math.isfinite(seconds):
        raise DurationError(f"expected {ACCEPTED}, got {value!r}")
    if seconds < 0:
        raise DurationError(f"a duration cannot be negative, got {value!r}")
    return seconds


#: A pydantic field type for a duration in seconds: ``timeout: Duration = 7200.0``.
Duration = Annotated[float, BeforeValidator(parse_duration)]

__all__ = ["ACCEPTED", "UNIT_SECONDS", "Duration", "parse_duration"]
