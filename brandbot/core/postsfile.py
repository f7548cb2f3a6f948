"""posts.yaml: the brand's own posts, validated with file:line errors before the bot starts.

A community manager writes each post once: its text (a template), where it goes, when
(local time and zone), how it repeats, and what happens when the bot was down at that
time. A post may hang on a tour stop (``event:``, its time then follows the stop) or
open a giveaway at its time (``giveaway:``). Pure: no I/O except reading the file.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from brandbot.core.calendar import (
    LateMode,
    LateRule,
    Repeat,
    RepeatError,
    Schedule,
    exists_locally,
    parse_repeat,
)
from brandbot.core.durations import parse_duration
from brandbot.core.errors import ConfigError
from brandbot.core.yamlfile import YamlDoc, combined_error, load_yaml, message_of, validation_error

_POST_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,59}$")
#: Networks where a post needs no conversation: a bare ``x`` is a new public post.
TIMELINE_NETWORKS = frozenset({"x", "mastodon", "bluesky"})
TIMELINE = "timeline"

#: What a post linked to a tour stop sees as ``{{ stop.* }}`` when ``brandbot check`` renders it.
SAMPLE_STOP: dict[str, str] = {
    "id": "qa-live", "title": "Live Q&A", "host": "Maya", "kind": "Q&A", "url": "https://example.org/qa",
    "network": "Discord", "when": "Thu 5 Mar, 19:00 CET", "when_utc": "18:00 UTC", "duration": "1 hour",
}


def zone_problem(name: str) -> str:
    close = difflib.get_close_matches(name, sorted(available_timezones()), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else "; use an IANA name such as 'Europe/Stockholm'"
    return f"unknown time zone {name!r}{hint}"


def known_zone(value: str | None) -> str | None:
    """An IANA zone name as given, or ValueError suggesting the name that was probably meant."""
    if value is not None:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(zone_problem(value)) from None
    return value


def _local_time(value: Any) -> Any:
    """'2027-03-14 12:00' (or a YAML datetime) -> naive local datetime; say what to write otherwise."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            raise ValueError("write the local time without an offset (e.g. 2027-03-14 12:00); the zone comes "
                             "from 'timezone'")
        return value
    if isinstance(value, date):
        raise ValueError(f"'at' needs a time as well as the date, e.g. '{value.isoformat()} 12:00'")  # noqa: TRY004
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"expected a local date and time like '2027-03-14 12:00', got {value!r}") from None
        return _local_time(parsed)
    raise ValueError(f"expected a local date and time like '2027-03-14 12:00', got {value!r}")


@dataclass(frozen=True, slots=True)
class Target:
    """Where one copy of a post goes."""

    network: str
    conversation: str

    @property
    def label(self) -> str:
        return self.network if self.conversation == TIMELINE else f"{self.network}:{self.conversation}"


def parse_target(value: str) -> Target:
    """'telegram:-100123' -> Target; a bare 'x' is the network's public timeline."""
    network, sep, conversation = str(value).strip().partition(":")
    network = network.strip().lower()
    if not network:
        raise ValueError(f"a target is network:conversation, e.g. telegram:-1001234567890 (got {value!r})")
    if not sep or not conversation.strip():
        if network in TIMELINE_NETWORKS:
            return Target(network, TIMELINE)
        raise ValueError(f"{network} needs a conversation: write {network}:<chat or channel id> (got {value!r})")
    return Target(network, conversation.strip())


class PostSpec(BaseModel):
    """One post as written in posts.yaml."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str
    text: str | None = Field(None, description="The post, a template ({{ brand.name }}, {{ now }}, {{ stop.* }})")
    networks: list[str] = Field(min_length=1, description="Targets: network:conversation, or a bare x")
    at: datetime | None = None
    timezone: str | None = None
    repeat: str | None = None
    until: date | None = None
    late: Literal["post", "skip"] | None = None
    grace: float | None = None
    event: str | None = Field(None, description="A tour stop id: the post's time follows the stop")
    before: float | None = None
    after: float | None = None
    giveaway: str | None = Field(None, description="Options of /giveaway open: the giveaway opens at the post's time")

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _POST_ID.match(value):
            slug = re.sub(r"[^a-z0-9_-]+", "-", value.lower()).strip("-_")[:60] or "morning-post"
            raise ValueError(f"a post id is 1-60 lower-case letters, digits, '-' or '_' (got {value!r}; try {slug!r})")
        return value

    @field_validator("networks", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            # Telegram chat ids are numbers: "telegram:-100123" stays text, but be kind to ints anyway.
            return [str(v) for v in value]
        return value

    @field_validator("networks")
    @classmethod
    def _targets(cls, value: list[str]) -> list[str]:
        labels = [parse_target(v).label for v in value]
        twice = sorted({label for label in labels if labels.count(label) > 1})
        if twice:
            raise ValueError(f"{', '.join(twice)} listed twice")
        return value

    _at = field_validator("at", mode="before")(classmethod(lambda cls, v: None if v is None else _local_time(v)))

    _zone = field_validator("timezone")(classmethod(lambda cls, v: known_zone(v)))

    @field_validator("grace", "before", "after", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return None if value is None else parse_duration(value)

    @field_validator("repeat", mode="before")
    @classmethod
    def _repeat_text(cls, value: Any) -> Any:
        return None if value is None or value is False else str(value)

    @model_validator(mode="after")
    def _consistent(self) -> PostSpec:
        if self.event is None and self.at is None:
            raise ValueError("give the post a time: 'at: 2027-03-14 12:00' (with 'timezone:'), or 'event: <stop id>' "
                             "with 'before:' or 'after:'")
        if self.event is not None and self.at is not None:
            raise ValueError("give either 'at:' or 'event:' (the stop's start, moved by 'before:'/'after:'), not both")
        if self.event is None and (self.before is not None or self.after is not None):
            raise ValueError("'before:' and 'after:' move a post from its tour stop's start: add 'event: <stop id>'")
        if self.before is not None and self.after is not None:
            raise ValueError("give 'before:' or 'after:', not both")
        if self.event is not None and self.repeat not in (None, "none", "once"):
            raise ValueError("a post on a tour stop happens once: remove 'repeat:' or use 'at:'")
        if self.giveaway is not None:
            if self.text:
                raise ValueError("a giveaway post is announced with the giveaway plugin's messages.opened: "
                                 "remove 'text:'")
            if len(self.networks) != 1:
                raise ValueError("a giveaway opens in one place: give one network:conversation in 'networks:'")
            if self.repeat not in (None, "none", "once"):
                raise ValueError("a giveaway post opens one giveaway: remove 'repeat:'")
        elif not self.text:
            raise ValueError("the post needs 'text:' (a template, e.g. \"Good morning from {{ brand.name }}!\")")
        if self.until is not None and self.at is not None and self.until < self.at.date():
            raise ValueError(f"'until: {self.until}' is before the first post ({self.at:%Y-%m-%d})")
        return self


@dataclass(frozen=True)
class BrandPost:
    """One post of the calendar, ready to schedule."""

    id: str
    text: str
    targets: tuple[Target, ...]
    late: LateRule
    zone: str
    schedule: Schedule | None = None  # None: on a tour stop, known once the stop is
    event: str = ""
    offset: timedelta = timedelta(0)  # from the stop's start (negative: before)
    giveaway: str = ""
    where: str = field(default="", compare=False)

    @property
    def repeat(self) -> Repeat:
        return self.schedule.repeat if self.schedule is not None else Repeat()

    def on_event(self, start: datetime) -> Schedule:
        """The schedule of a post on a tour stop that starts at ``start`` (aware)."""
        local = (start + self.offset).astimezone(ZoneInfo(self.zone)).replace(tzinfo=None)
        return Schedule(local, self.zone)

    def describe_time(self) -> str:
        if self.schedule is None:
            sign = "before" if self.offset < timedelta(0) else "after"
            span = abs(self.offset)
            return f"{span} {sign} the start of stop {self.event!r}" if span else f"at the start of stop {self.event!r}"
        return f"{self.schedule.start:%Y-%m-%d %H:%M} {self.zone}, {self.repeat.describe()}"


@dataclass(frozen=True)
class PostsFile:
    posts: tuple[BrandPost, ...]
    path: str = ""


@dataclass(frozen=True)
class Defaults:
    """What a post leaves out: the file's top-level ``timezone:``, ``late:``, ``grace:``."""

    timezone: str = "UTC"
    late: LateMode = LateMode.POST
    grace: float = 3600.0


class FileDefaults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: str | None = None
    late: Literal["post", "skip"] = "post"
    grace: float = 3600.0
    posts: list[Any] | None = None

    _grace = field_validator("grace", mode="before")(classmethod(lambda cls, v: parse_duration(v)))

    _zone = field_validator("timezone")(classmethod(lambda cls, v: known_zone(v)))


def _post_of(spec: PostSpec, defaults: Defaults, where: str) -> BrandPost:
    zone = spec.timezone or defaults.timezone
    late = LateRule(LateMode(spec.late) if spec.late else defaults.late,
                    timedelta(seconds=spec.grace if spec.grace is not None else defaults.grace))
    targets = tuple(parse_target(v) for v in spec.networks)
    common: dict[str, Any] = {"id": spec.id, "text": spec.text or "", "targets": targets, "late": late, "zone": zone,
                              "giveaway": spec.giveaway or "", "where": where}
    if spec.at is None:
        offset = timedelta(seconds=-(spec.before or 0.0) if spec.before is not None else (spec.after or 0.0))
        return BrandPost(**common, event=spec.event or "", offset=offset)
    if not exists_locally(spec.at, ZoneInfo(zone)):
        raise ValueError(f"{spec.at:%Y-%m-%d %H:%M} does not exist in {zone} (the clocks jump forward then); "
                         "pick another time")
    repeat = parse_repeat(spec.repeat, spec.at.date())
    return BrandPost(**common, schedule=Schedule(spec.at, zone, repeat, spec.until))


def parse_posts(doc: YamlDoc, *, default_timezone: str = "UTC") -> PostsFile:
    """Validate a loaded posts file; one ConfigError lists every broken post with file:line."""
    data = doc.data
    if data is None:
        return PostsFile((), str(doc.path))
    if isinstance(data, list):
        data = {"posts": data}
    if not isinstance(data, dict):
        raise ConfigError("a posts file is a mapping with 'posts:' (a list of posts) and optional 'timezone:', "
                          "'late:' and 'grace:' defaults", doc.where(()))
    try:
        top = FileDefaults.model_validate(data)
    except ValidationError as exc:
        raise validation_error(doc, exc, (), model=FileDefaults) from None
    defaults = Defaults(top.timezone or default_timezone, LateMode(top.late), top.grace)
    problems: list[tuple[str, str]] = []
    posts: list[BrandPost] = []
    first_seen: dict[str, int] = {}
    for index, raw in enumerate(top.posts or []):
        loc = ("posts", index)
        if not isinstance(raw, dict):
            problems.append((doc.where(loc), f"posts[{index}] must be a mapping (id:, text:, networks:, at:, ...)"))
            continue
        try:
            spec = PostSpec.model_validate(raw)
            post = _post_of(spec, defaults, doc.where(loc))
        except ValidationError as exc:
            error = validation_error(doc, exc, loc, model=PostSpec)
            problems.append((error.where, f"post {raw.get('id', index)!r}: {message_of(error)}"))
            continue
        except (ValueError, RepeatError) as exc:
            key = "repeat" if isinstance(exc, RepeatError) else "at"
            problems.append((doc.where((*loc, key)), f"post {raw.get('id')!r}: {exc}"))
            continue
        if post.id in first_seen:
            line = doc.line_of(("posts", first_seen[post.id], "id"))
            problems.append((doc.where((*loc, "id")),
                             f"duplicate post id {post.id!r} (first used at line {line}); post ids must be unique"))
            continue
        first_seen[post.id] = index
        posts.append(post)
    if problems:
        raise combined_error(problems)
    return PostsFile(tuple(posts), str(doc.path))


def load_posts(path: Any, *, default_timezone: str = "UTC", expected_by: str = "") -> PostsFile:
    """Read and validate a posts file (see :func:`parse_posts`)."""
    return parse_posts(load_yaml(path, expected_by=expected_by), default_timezone=default_timezone)


def sample_variables(post: BrandPost) -> Mapping[str, Any]:
    """The variables a post's template sees, with sample values (for ``brandbot check``)."""
    return {"stop": SAMPLE_STOP} if post.event else {}


__all__ = ["SAMPLE_STOP", "TIMELINE", "TIMELINE_NETWORKS", "BrandPost", "PostSpec", "PostsFile", "Target",
           "load_posts", "parse_posts", "parse_target", "sample_variables", "zone_problem"]
