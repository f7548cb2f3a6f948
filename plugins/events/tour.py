"""The tour: stops with a local start time, a place on a network, a host and a kind.

Stops come from a YAML file that a community manager edits (validated with file:line
errors before the bot starts) or from the admin command ``/tour add``. Both go through
the same :class:`StopSpec`, so a stop typed in a chat is checked exactly like one in
the file. Pure: no I/O except reading the file.
"""

from __future__ import annotations

import difflib
import enum
import re
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from brandbot import (
    CommandArgsError,
    ConfigError,
    YamlDoc,
    combined_error,
    load_yaml,
    parse_args,
    parse_duration,
    validation_error,
)


class StopKind(enum.StrEnum):
    INTERVIEW = "interview"
    QA = "qa"
    REVIEW = "review"
    GIVEAWAY = "giveaway"

    @property
    def label(self) -> str:
        return {"interview": "interview", "qa": "Q&A", "review": "review", "giveaway": "giveaway"}[self.value]


class StopInputError(ValueError):
    """A stop typed in ``/tour add`` that cannot be used; the message says what to fix."""


# --------------------------------------------------------------------------- spec

_STOP_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def _zone_problem(name: str) -> str:
    close = difflib.get_close_matches(name, sorted(available_timezones()), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else "; use an IANA name such as 'Europe/Stockholm' or 'America/New_York'"
    return f"unknown time zone {name!r}{hint}"


class StopSpec(BaseModel):
    """One stop as written in tour.yaml or in ``/tour add key=value ...``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str
    title: str = Field(min_length=1, max_length=200)
    start: datetime
    timezone: str
    network: str = Field(min_length=1)
    conversation: str = Field(min_length=1)
    host: str = Field(min_length=1, max_length=100)
    kind: Literal["interview", "qa", "review", "giveaway"]
    url: str | None = None
    duration: float | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _STOP_ID.match(value):
            slug = re.sub(r"[^a-z0-9_-]+", "-", value.lower()).strip("-_")[:40] or "qa-live"
            raise ValueError(f"a stop id is 1-40 lower-case letters, digits, '-' or '_' (got {value!r}; try {slug!r})")
        return value

    @field_validator("conversation", mode="before")
    @classmethod
    def _conversation_text(cls, value: Any) -> Any:
        # Telegram chat ids are numbers (-1001234567890): YAML reads them as int.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("network", mode="after")
    @classmethod
    def _network_lower(cls, value: str) -> str:
        return value.lower()

    @field_validator("start", mode="before")
    @classmethod
    def _start(cls, value: Any) -> Any:
        if isinstance(value, datetime):
            if value.tzinfo is not None:
                raise ValueError("write the local time without an offset (e.g. 2026-03-03 18:00); the zone comes from 'timezone'")
            return value
        if isinstance(value, date):
            raise ValueError(f"start needs a time as well as the date, e.g. '{value.isoformat()} 18:00'")  # noqa: TRY004
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.strip())
            except ValueError:
                raise ValueError(f"expected a local date and time like '2026-03-03 18:00', got {value!r}") from None
            if parsed.tzinfo is not None:
                raise ValueError("write the local time without an offset (e.g. 2026-03-03 18:00); the zone comes from 'timezone'")
            return parsed
        raise ValueError(f"expected a local date and time like '2026-03-03 18:00', got {value!r}")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(_zone_problem(value)) from None
        return value

    @field_validator("duration", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        if value is None:
            return None
        seconds = parse_duration(value)
        if not 60 <= seconds <= 7 * 86400:
            raise ValueError("duration must be between 1 minute and 7 days (e.g. 45m, 1h, 2h)")
        return seconds

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError(f"url must start with https:// (got {value!r})")
        return value or None

    @model_validator(mode="after")
    def _exists_locally(self) -> StopSpec:
        """A wall time in a spring-forward gap never shows on local clocks: say so."""
        zone = ZoneInfo(self.timezone)
        local = self.start.replace(tzinfo=zone)
        back = local.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
        if back != self.start:
            raise ValueError(
                f"{self.start:%Y-%m-%d %H:%M} does not exist in {self.timezone} (the clocks jump forward then); "
                "pick another time"
            )
        return self


# --------------------------------------------------------------------------- stop


@dataclass(frozen=True)
class Stop:
    """One stop of the tour, ready to use: ``start`` is timezone-aware."""

    id: str
    title: str
    start: datetime
    zone: str
    network: str
    conversation: str
    host: str
    kind: StopKind
    duration: float
    url: str = ""
    origin: str = "file"  # "file" (tour.yaml) or "admin" (/tour add)
    where: str = field(default="", compare=False)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.duration)

    @property
    def key(self) -> tuple[str, str]:
        """The conversation the stop happens in, as ``Conversation.key``."""
        return (self.network, self.conversation)

    def live(self, now: datetime) -> bool:
        return self.start <= now < self.end

    def local_start(self) -> datetime:
        return self.start.astimezone(ZoneInfo(self.zone))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["start"] = self.start.isoformat()
        data["kind"] = self.kind.value
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Stop:
        values = dict(data)
        values["start"] = datetime.fromisoformat(values["start"])
        values["kind"] = StopKind(values["kind"])
        return cls(**values)

    @classmethod
    def from_spec(cls, spec: StopSpec, default_duration: float, *, origin: str, where: str = "") -> Stop:
        zone = ZoneInfo(spec.timezone)
        return cls(
            id=spec.id, title=spec.title, start=spec.start.replace(tzinfo=zone), zone=spec.timezone,
            network=spec.network, conversation=spec.conversation, host=spec.host, kind=StopKind(spec.kind),
            duration=spec.duration or default_duration, url=spec.url or "", origin=origin, where=where,
        )


# --------------------------------------------------------------------------- the file


@dataclass(frozen=True)
class TourFile:
    """A validated tour file: its stops in date order, and warnings that do not stop the bot."""

    title: str
    stops: tuple[Stop, ...]
    warnings: tuple[str, ...] = ()


_TOP_KEYS = ("title", "stops")


def parse_tour(doc: YamlDoc, *, default_duration: float, networks: Collection[str] | None = None) -> TourFile:
    """Validate a loaded tour file; raise one ConfigError listing every broken entry with file:line.

    ``networks`` are the enabled network names: a stop elsewhere is a warning, not an
    error (a network can be switched on later without editing the tour).
    """
    data = doc.data
    if data is None:
        return TourFile("", ())
    if not isinstance(data, dict):
        raise ConfigError("a tour file is a mapping with 'stops:' (a list of stops) and an optional 'title:'", doc.where(()))
    problems: list[tuple[str, str] | ConfigError] = []
    for key in data:
        if key not in _TOP_KEYS:
            close = difflib.get_close_matches(str(key), _TOP_KEYS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f" (allowed: {', '.join(_TOP_KEYS)})"
            problems.append((doc.where((key,)), f"unknown key {key!r}{hint}"))
    title = data.get("title") or ""
    if not isinstance(title, str):
        problems.append((doc.where(("title",)), "title must be text"))
        title = ""
    raw_stops = data.get("stops")
    if raw_stops is None:
        raw_stops = []
    if not isinstance(raw_stops, list):
        problems.append((doc.where(("stops",)), "stops must be a list of stops (each item starts with '- id: ...')"))
        raw_stops = []
    stops: list[Stop] = []
    warnings: list[str] = []
    first_seen: dict[str, int] = {}
    for index, raw in enumerate(raw_stops):
        loc = ("stops", index)
        if not isinstance(raw, dict):
            problems.append((doc.where(loc), f"stops[{index}] must be a mapping (id:, title:, start:, ...), got {raw!r}"))
            continue
        try:
            spec = StopSpec.model_validate(raw)
        except ValidationError as exc:
            error = validation_error(doc, exc, loc, model=StopSpec)
            problems.append(error)
            continue
        if spec.id in first_seen:
            line = doc.line_of(("stops", first_seen[spec.id], "id"))
            problems.append((doc.where((*loc, "id")), f"duplicate stop id {spec.id!r} (first used at line {line}); stop ids must be unique"))
            continue
        first_seen[spec.id] = index
        stop = Stop.from_spec(spec, default_duration, origin="file", where=doc.where(loc))
        if networks is not None and stop.network not in networks:
            warnings.append(
                f"{doc.where((*loc, 'network'))}: stop {stop.id!r} is on network {stop.network!r}, which is not enabled "
                f"(enabled: {', '.join(sorted(networks)) or 'none'}); nothing is posted there until it is"
            )
        stops.append(stop)
    if problems:
        raise combined_error(problems)
    return TourFile(title, tuple(sorted(stops, key=lambda s: (s.start, s.id))), tuple(warnings))


def load_tour(path: Path, *, default_duration: float, networks: Collection[str] | None = None,
              expected_by: str = "") -> TourFile:
    """Read and validate a tour file (see :func:`parse_tour`)."""
    return parse_tour(load_yaml(path, expected_by=expected_by), default_duration=default_duration, networks=networks)


# --------------------------------------------------------------------------- /tour add

#: How ``/tour add`` is written; shown when a stop typed in a chat is incomplete.
ADD_USAGE = (
    '/tour add id=qa-live kind=qa start="2026-03-05 19:00" timezone=Europe/Berlin network=discord '
    'conversation=123456 host=Maya title="Live Q&A" [url=https://...] [duration=1h]'
)
_ALIASES = {"tz": "timezone", "zone": "timezone", "channel": "conversation", "chat": "conversation", "name": "title"}


def parse_stop_args(text: str, default_duration: float) -> Stop:
    """``key=value`` words (values with spaces in quotes) -> a Stop, or StopInputError saying what to fix."""
    try:
        spec = parse_args(StopSpec, text, aliases=_ALIASES, usage=f"Example: {ADD_USAGE}")
    except CommandArgsError as exc:
        raise StopInputError(str(exc)) from None
    return Stop.from_spec(spec, default_duration, origin="admin", where="added with /tour add")


# --------------------------------------------------------------------------- telling time


def format_local(stop: Stop) -> str:
    """'Tue 3 Mar, 18:00 CET': the stop's start on the host's own clock."""
    local = stop.local_start()
    return f"{local:%a} {local.day} {local:%b}, {local:%H:%M} {local.tzname() or stop.zone}"


def format_span(seconds: float) -> str:
    """24 hours, 1 hour, 45 minutes, 3 days: how far away something is, in words."""
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours, rest = divmod(minutes, 60)
    if hours >= 72:
        return f"{round(minutes / 1440)} days"
    text = f"{hours} hour{'s' if hours != 1 else ''}"
    return text + (f" {rest} minute{'s' if rest != 1 else ''}" if rest else "")
