"""The schema of a rules file, as the community manager writes it, and its value parsers.

Pydantic models with ``extra="forbid"``, so a typo is an error with a suggestion; the
parsers (hours, days, timezones, word lists) explain what they expected.
"""

from __future__ import annotations

import difflib
import re
from datetime import date, datetime, time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from brandbot.core.durations import Duration
from brandbot.core.events import Kind
from brandbot.core.rules.regex import compile_regex
from brandbot.core.textnorm import normalize

_DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_DAY_ALIASES = {
    "monday": (0,),
    "tuesday": (1,),
    "wednesday": (2,),
    "thursday": (3,),
    "friday": (4,),
    "saturday": (5,),
    "sunday": (6,),
    "weekdays": (0, 1, 2, 3, 4),
    "weekend": (5, 6),
    **{k: (v,) for k, v in _DAYS.items()},
}
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_RULE_NAME = re.compile(r"^[\w.-]+$")


# -- value parsers (also used by pydantic validators) ----------------------------------------


def parse_hours(value: Any) -> tuple[int, int]:
    """ "09:00-18:00" -> (540, 1080) minutes; "22:00-06:00" wraps past midnight."""
    m = _HOURS.match(str(value))
    if not m:
        raise ValueError(f'expected hours like "09:00-18:00", got {value!r}')
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    for h, mi in ((h1, m1), (h2, m2)):
        if h > 24 or mi > 59 or (h == 24 and mi != 0):
            raise ValueError(f"{h:02d}:{mi:02d} is not a time of day (use 00:00 to 24:00)")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == end:
        raise ValueError(f'hours {value!r} is an empty window; use "00:00-24:00" for all day')
    return start, end


def parse_days(value: Any) -> frozenset[int]:
    """[mon, tue], "weekdays", [weekend] -> weekday numbers (Monday = 0)."""
    items = [value] if isinstance(value, str) else list(value or [])
    days: set[int] = set()
    for item in items:
        key = str(item).strip().lower()
        if key not in _DAY_ALIASES:
            close = difflib.get_close_matches(key, list(_DAY_ALIASES), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"unknown day {item!r}{hint} (use mon, tue, wed, thu, fri, sat, sun, weekdays, weekend)"
            )
        days.update(_DAY_ALIASES[key])
    return frozenset(days)


def parse_timezone(value: Any) -> str:
    """Check an IANA timezone name ("Europe/Berlin"), suggesting the closest on a typo."""
    name = str(value).strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        close = difflib.get_close_matches(name, sorted(available_timezones()), n=1)
        hint = (
            f"; did you mean {close[0]!r}?"
            if close
            else " (use an IANA name like Europe/Berlin or UTC)"
        )
        raise ValueError(f"unknown timezone {name!r}{hint}") from None
    return name


def _word_list(value: Any) -> Any:
    """Accept one word or a list; catch YAML's yes/no/on/off booleans with a clear hint."""
    if value is None:
        return []
    if isinstance(value, str | int | float | bool):
        value = [value]
    if not isinstance(value, list):
        return value  # let pydantic report the wrong type
    out = []
    for item in value:
        if isinstance(item, bool):
            raise ValueError(  # noqa: TRY004 - pydantic reports ValueError with its location
                f"YAML read a word as {str(item).lower()} (it does that for yes/no/on/off/true/false); "
                'put the word in quotes, e.g. "yes"'
            )
        out.append(str(item) if isinstance(item, int | float) else item)
    return out


Words = Annotated[list[str], BeforeValidator(_word_list)]


# -- the schema, as the community manager writes it -----------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=False)


class MatchModel(_Strict):
    case_sensitive: bool = False  # first: the regex validator reads it
    any: Words = Field(default_factory=list)
    all: Words = Field(default_factory=list)
    phrase: str | None = None
    regex: str | None = None
    not_: Words = Field(default_factory=list, alias="not")
    intent: str | None = None  # an intent of the intents file: matches by meaning
    word_forms: bool = True  # "ship" also matches "shipping", "shipped" (stems, per language)

    @field_validator("any", "all", "not_")
    @classmethod
    def _nonempty_words(cls, value: list[str], info: ValidationInfo) -> list[str]:
        key = (info.field_name or "").rstrip("_")
        if not value:  # given, but empty: a condition that can never (or always) hold
            raise ValueError(f"{key} is empty; list at least one keyword, or remove {key}:")
        for word in value:
            if not normalize(word):
                raise ValueError(f"empty keyword {word!r} in {key}")
        return value

    @field_validator("phrase")
    @classmethod
    def _nonempty_phrase(cls, value: str | None) -> str | None:
        if value is not None and not normalize(value):
            raise ValueError("the phrase is empty")
        return value

    @field_validator("regex")
    @classmethod
    def _valid_regex(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            compile_regex(value, bool(info.data.get("case_sensitive", False)))
        return value


class WhenModel(_Strict):
    first_contact: bool | None = None
    tier: Words = Field(default_factory=list)
    points_at_least: int | None = None
    interactions_at_least: int | None = None
    days_known_at_least: int | None = None
    tags: Words = Field(default_factory=list)
    not_tags: Words = Field(default_factory=list)
    sentiment: Literal["negative", "neutral", "positive"] | None = None  # of the message
    language: Words = Field(default_factory=list)  # the message's language is one of these


class CooldownModel(_Strict):
    person: Duration | None = None
    conversation: Duration | None = None
    global_: Duration | None = Field(None, alias="global")


class ActiveModel(_Strict):
    from_: date | datetime | None = Field(None, alias="from")
    until: date | datetime | None = None
    hours: Annotated[tuple[int, int], BeforeValidator(parse_hours)] | None = None
    days: Annotated[frozenset[int], BeforeValidator(parse_days)] | None = None
    timezone: Annotated[str, BeforeValidator(parse_timezone)] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ActiveModel:
        if (
            self.from_ is not None
            and self.until is not None
            and _naive(self.from_) > _naive(self.until)
        ):
            raise ValueError(f"active.from ({self.from_}) is after active.until ({self.until})")
        return self


class ActionsModel(_Strict):
    tag: Words = Field(default_factory=list)
    untag: Words = Field(default_factory=list)
    points: int = 0
    handoff: bool = False


class RuleModel(_Strict):
    name: str
    kinds: list[Kind] | None = None
    networks: Words = Field(default_factory=list)
    priority: int = 0
    enabled: bool = True
    match: MatchModel | None = None
    when: WhenModel = Field(default_factory=WhenModel)
    reply: str | list[str] | dict[str, str | list[str]] | None = None  # a dict: variants per language
    cooldown: CooldownModel = Field(default_factory=lambda: CooldownModel.model_validate({}))
    once_per_post: bool = False
    active: ActiveModel | None = None
    actions: ActionsModel = Field(default_factory=ActionsModel)
    fallthrough: bool = False

    @field_validator("name", mode="before")
    @classmethod
    def _valid_name(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(  # noqa: TRY004 - pydantic reports ValueError with its location
                f"YAML read the name as {str(value).lower()} (it does that for yes/no/on/off); put it in quotes"
            )
        if isinstance(value, int | float):
            value = str(value)
        if not isinstance(value, str):
            return value  # pydantic reports the wrong type
        value = value.strip()
        if not _RULE_NAME.match(value):
            raise ValueError(
                f"rule name {value!r} may use letters, digits, '-', '_' and '.' only (e.g. greet-newcomer)"
            )
        return value

    @field_validator("kinds", mode="before")
    @classmethod
    def _parse_kinds(cls, value: Any) -> Any:
        if value is None:
            return None
        items = _word_list(value)
        if items == []:
            raise ValueError(
                "kinds is empty; list the event kinds, or leave kinds out for the default"
            )
        return (
            [Kind.parse(k) if isinstance(k, str) else k for k in items]
            if isinstance(items, list)
            else items
        )

    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, data: Any) -> Any:
        """``when:`` with nothing under it is YAML null; treat it as an empty section."""
        if isinstance(data, dict):
            for key in ("when", "cooldown", "actions"):
                if key in data and data[key] is None:
                    data = {**data, key: {}}
        return data


def _naive(value: date | datetime) -> datetime:
    """For ordering checks only: the wall-clock reading, whatever the timezone."""
    return (
        value.replace(tzinfo=None)
        if isinstance(value, datetime)
        else datetime.combine(value, time())
    )


__all__ = [
    "ActionsModel",
    "ActiveModel",
    "CooldownModel",
    "MatchModel",
    "RuleModel",
    "WhenModel",
    "Words",
    "parse_days",
    "parse_hours",
    "parse_timezone",
]
