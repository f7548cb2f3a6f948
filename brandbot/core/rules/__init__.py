"""YAML reply rules: the schema, the compiled rules, the matching index and rule state.

A rules file is a mapping with a ``rules:`` list (a bare list works too)::

    rules:
      - name: greet-newcomer
        kinds: [mention, direct]
        match: {any: [hello, hi, hey]}
        when: {first_contact: true}
        reply: ["Hi {{ name }}!", "Hello {{ name | first_name }}!"]
        cooldown: {person: 1h}

Every mistake (unknown key, bad kind, duplicate name, bad regex, duration, time window,
timezone, template) is reported at load time as a RuleError/ConfigError with file:line.

Matching semantics
------------------
Text is normalized once per event (``textnorm.normalize``: case-folded, accents and
invisible characters removed, whitespace collapsed) and split into word tokens; rule
keywords go through the same functions. A keyword of several words is a phrase: its
tokens must appear next to each other. A plain keyword also matches the hashtag or
mention of the same word ("booktour" matches "#BookTour"); a keyword written with '#'
or '@' matches only that. Keywords with characters tokens drop ("c++", "don't") must also
appear as written in the normalized text. ``regex`` is searched in the normalized text
with IGNORECASE (write it without accents). ``case_sensitive: true`` rules see the text
only cleaned (``textnorm.clean``), with case and accents kept.

All conditions given in ``match`` must hold: some ``any`` term, every ``all`` term,
the ``phrase``, the ``regex``, and none of the ``not`` terms.

The index
---------
``RuleBook.candidates`` must stay cheap with hundreds of rules, so rules are compiled
into an index, one per event kind (rules are bucketed by kind up front) and per text
form (folded, or cleaned for case-sensitive rules). Each rule is filed under *one
necessary condition* (its trigger); candidates are the rules whose trigger is present,
and only those are then verified in full against the event's text:

- keyword rules are filed under one token per ``any`` term (the longest token of each),
  else under the longest token of one ``all`` term, else of the ``phrase``. The event's
  tokens (with and without '#'/'@') are looked up in that dict: one lookup per token,
  independent of the number of rules;
- regex rules are filed under literals one of which every match must contain,
  extracted from the parsed pattern (``re._parser``): the longest run of plain
  characters outside optional parts and flag groups, or for an alternation whose every
  branch has such a run, those runs ("order|invoice"). Literals are bucketed by their
  first three characters, so only literals whose key occurs in the text are searched,
  and only regexes whose literal occurs are run. Each regex is tested on its own, so
  overlapping regexes all match (a single combined alternation could report only one);
- rules whose trigger cannot be extracted (a regex with no required literal, keywords
  made only of symbols) are always verified, and so are rules without ``match`` (or
  with only ``not``).

Rules whose ``match`` is only ``any`` of plain single words match exactly when their
trigger is found, so they skip verification.

Since a trigger is a necessary condition and verification is exact, the result equals
evaluating every rule naively; ``tests/test_rules.py`` checks this with hypothesis.
"""

from __future__ import annotations

import difflib
import random
import re
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from brandbot.core.durations import Duration, parse_duration
from brandbot.core.errors import RuleError
from brandbot.core.events import Event, Kind
from brandbot.core.lru import Lru
from brandbot.core.records import FollowerRecord
from brandbot.core.templates import ReplyTemplate, TemplateEngine
from brandbot.core.textnorm import clean, normalize, strip_prefix, words
from brandbot.core.yamlfile import YamlDoc, format_loc, load_yaml, validation_error

try:  # the regex parser is private; without it every regex is simply always tested
    from re import _constants as _sre  # type: ignore[attr-defined]
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - other Python versions
    _sre = _sre_parse = None  # type: ignore[assignment]

DEFAULT_KINDS = frozenset({Kind.MENTION, Kind.DIRECT, Kind.REPLY, Kind.QUOTE, Kind.COMMAND})

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

    @field_validator("any", "all", "not_")
    @classmethod
    def _nonempty_words(cls, value: list[str], info: ValidationInfo) -> list[str]:
        for word in value:
            if not normalize(word):
                raise ValueError(f"empty keyword {word!r} in {(info.field_name or '').rstrip('_')}")
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
    reply: str | list[str] | None = None
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


# -- compiled rules ------------------------------------------------------------------------


class _Text:
    """One text as the matcher sees it: the string, its tokens and the set of token keys.

    ``keys`` holds every token and, for "#tag"/"@name" tokens, also the bare word: one
    set lookup answers "does this keyword occur?". Token positions, needed only to check
    phrases, are built when first asked for.
    """

    __slots__ = ("_positions", "keys", "text", "tokens")

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokens = words(text)
        keys = set(tokens)
        if "#" in text or "@" in text:  # only then can a token carry a prefix
            keys.update([t[1:] for t in tokens if t[0] in "#@"])
        self.keys = keys
        self._positions: dict[str, list[int]] | None = None

    @property
    def positions(self) -> dict[str, list[int]]:
        """Where each key occurs, by token index (a "#tag" token counts for "tag" too)."""
        positions = self._positions
        if positions is None:
            positions = self._positions = {}
            for i, token in enumerate(self.tokens):
                positions.setdefault(token, []).append(i)
                if token[0] in "#@":
                    positions.setdefault(token[1:], []).append(i)
        return positions

    def has_sequence(self, tokens: tuple[str, ...]) -> bool:
        if len(tokens) == 1:
            return tokens[0] in self.keys
        starts = self.positions.get(tokens[0])
        if not starts:
            return False
        mine = self.tokens
        for i in starts:
            if i + len(tokens) > len(mine):
                break
            if all(
                kw == mine[i + j] or kw == strip_prefix(mine[i + j])
                for j, kw in enumerate(tokens)
                if j
            ):
                return True
        return False


@dataclass(frozen=True)
class Term:
    """A keyword or phrase, normalized: its word tokens and its text.

    ``needs_text`` is set when tokens alone would lose something the author wrote
    ("c++", "don't") or when there are no word tokens at all (an emoji): then the
    normalized keyword must also occur in the normalized text.
    """

    source: str
    tokens: tuple[str, ...]
    text: str
    needs_text: bool

    @classmethod
    def of(cls, keyword: str, case_sensitive: bool) -> Term:
        text = clean(keyword) if case_sensitive else normalize(keyword)
        tokens = tuple(words(text))
        needs_text = not tokens or "".join(tokens) != text.replace(" ", "")
        return cls(keyword, tokens, text, needs_text)

    def _matches(self, view: _Text) -> bool:
        if self.tokens and not view.has_sequence(self.tokens):
            return False
        return not self.needs_text or self.text in view.text

    @property
    def trigger(self) -> str | None:
        """The token to file this term under in the index (its longest), if it has tokens."""
        return max(self.tokens, key=len) if self.tokens else None


@dataclass(frozen=True)
class MatchSpec:
    """The compiled ``match:`` of a rule. ``matches(text)`` evaluates it on raw text."""

    any: tuple[Term, ...] = ()
    all: tuple[Term, ...] = ()
    phrase: Term | None = None
    regex: re.Pattern[str] | None = None
    not_: tuple[Term, ...] = ()
    case_sensitive: bool = False

    def prepare(self, text: str) -> str:
        """The form of the text this spec matches against (normalized or cleaned)."""
        return clean(text) if self.case_sensitive else normalize(text)

    def matches(self, text: str) -> bool:
        return self._matches(_Text(self.prepare(text)))

    def _matches(self, view: _Text) -> bool:
        if self.any and not any(t._matches(view) for t in self.any):
            return False
        if not all(t._matches(view) for t in self.all):
            return False
        if self.phrase is not None and not self.phrase._matches(view):
            return False
        if self.regex is not None and self.regex.search(view.text) is None:
            return False
        return not any(t._matches(view) for t in self.not_)


@dataclass(frozen=True)
class Conditions:
    """The ``when:`` of a rule: facts about the follower that must all hold."""

    first_contact: bool | None = None
    tiers: frozenset[str] = frozenset()  # casefolded
    points_at_least: int | None = None
    interactions_at_least: int | None = None
    days_known_at_least: int | None = None
    tags: frozenset[str] = frozenset()  # casefolded
    not_tags: frozenset[str] = frozenset()  # casefolded


@dataclass(frozen=True)
class Cooldown:
    """Seconds before the rule may fire again for the same person / conversation / anyone."""

    person: float | None = None
    conversation: float | None = None
    global_: float | None = None


@dataclass(frozen=True)
class ActiveWindow:
    """When a rule is active, in its timezone: a date range, hours of the day, weekdays.

    ``start`` is inclusive and ``end`` exclusive; a ``until`` date counts the whole day.
    ``hours`` are minutes since local midnight, wrapping past midnight if start > end.
    """

    timezone: str = "UTC"
    start: datetime | None = None
    end: datetime | None = None
    hours: tuple[int, int] | None = None
    days: frozenset[int] = frozenset()

    def contains(self, now: datetime) -> bool:
        local = now.astimezone(self.zone)
        if self.start is not None and local < self.start:
            return False
        if self.end is not None and local >= self.end:
            return False
        if self.days and local.weekday() not in self.days:
            return False
        if self.hours is not None:
            minute = local.hour * 60 + local.minute
            start, end = self.hours
            inside = start <= minute < end if start < end else (minute >= start or minute < end)
            if not inside:
                return False
        return True

    @property
    def zone(self) -> tzinfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class RuleActions:
    tag: frozenset[str] = frozenset()
    untag: frozenset[str] = frozenset()
    points: int = 0
    handoff: bool = False

    @property
    def any(self) -> bool:
        return bool(self.tag or self.untag or self.points or self.handoff)


@dataclass(frozen=True)
class Rule:
    """One compiled reply rule. ``where`` is the file:line of the rule in its YAML file."""

    name: str
    kinds: frozenset[Kind] = DEFAULT_KINDS
    networks: frozenset[str] = frozenset()  # empty = every network
    priority: int = 0
    enabled: bool = True
    match: MatchSpec | None = None
    when: Conditions = Conditions()
    variants: tuple[ReplyTemplate, ...] = ()
    cooldown: Cooldown = Cooldown()
    once_per_post: bool = False
    active: ActiveWindow | None = None
    actions: RuleActions = RuleActions()
    fallthrough: bool = False
    where: str = ""

    def fits(self, event: Event, now: datetime) -> bool:
        """Kind, network and time window; not the text (that is the index's job)."""
        return (
            self.enabled
            and event.kind in self.kinds
            and (not self.networks or event.network in self.networks)
            and (self.active is None or self.active.contains(now))
        )


def conditions_hold(
    rule: Rule, follower: FollowerRecord, first_contact: bool, now: datetime
) -> bool:
    """Do the rule's ``when:`` conditions hold for this follower at ``now``? (pure)"""
    when = rule.when
    if when.first_contact is not None and when.first_contact != first_contact:
        return False
    if when.tiers and follower.tier.casefold() not in when.tiers:
        return False
    if when.points_at_least is not None and follower.points < when.points_at_least:
        return False
    if (
        when.interactions_at_least is not None
        and follower.interactions < when.interactions_at_least
    ):
        return False
    days_known = max(0, (now - follower.first_seen).days)
    if when.days_known_at_least is not None and days_known < when.days_known_at_least:
        return False
    if when.tags or when.not_tags:
        tags = {t.casefold() for t in follower.tags}
        if not when.tags <= tags or when.not_tags & tags:
            return False
    return True


def once_key(rule: Rule, follower_id: int, refers_to_or_post_id: str | None) -> str:
    """The once-per-post key; the store's ``forget`` relies on the ":f<id>:" part."""
    return f"rule:{rule.name}:f{follower_id}:{refers_to_or_post_id or ''}"


# -- regexes -------------------------------------------------------------------------------


def _fold_char(ch: str) -> str:
    folded = normalize(ch) if not ch.isspace() else " "
    return re.escape(folded) if folded else ""


def _fold_pattern(pattern: str) -> str:
    """Fold the non-ASCII characters of a pattern like the text it will search.

    ASCII is left alone (IGNORECASE handles its case, and escapes like ``\\D`` must keep
    theirs); "é" becomes "e", "Ä" becomes "a", so the pattern meets the normalized text.
    """
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern) and not pattern[i + 1].isascii():
            out.append(_fold_char(pattern[i + 1]))  # "\é": the escape is not needed any more
            i += 2
            continue
        out.append(ch if ch.isascii() else _fold_char(ch))
        i += 1
    return "".join(out)


def compile_regex(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    """Compile a rule regex for the text form it searches; errors say what and where."""
    source = pattern if case_sensitive else _fold_pattern(pattern)
    flags = 0 if case_sensitive else re.IGNORECASE
    try:
        return re.compile(source, flags)
    except re.error as exc:
        where = f" at position {exc.pos}" if exc.pos is not None else ""
        pointer = (
            f"\n    {pattern}\n    {' ' * exc.pos}^"
            if exc.pos is not None and source == pattern
            else ""
        )
        raise ValueError(f"invalid regex {pattern!r}: {exc.msg}{where}{pointer}") from None


def required_literal(regex: re.Pattern[str], folded: bool) -> str | None:
    """The longest run of characters every match of ``regex`` must contain, if any.

    For folded (case-insensitive) patterns the literal is lower-cased ASCII only: the
    normalized text contains no character that IGNORECASE equates with an ASCII letter
    other than that letter, so ``literal in text`` is then a correct pre-test.
    """
    factors = _required_factors(regex, folded)
    if factors is None:
        return None
    best = max((f[0] for f in factors if len(f) == 1), key=len, default="")
    return best or None


def required_literals(regex: re.Pattern[str], folded: bool) -> tuple[str, ...] | None:
    """Literals of which every match of ``regex`` must contain at least one, if any.

    Like :func:`required_literal`, but an alternation counts too: every match of
    ``(?:order|invoice)\\s*\\d+`` contains "order" or "invoice". Of all such sets the one
    whose shortest literal is longest is chosen (then the smaller set): long literals
    rarely occur by chance, so the rule is rarely verified for nothing.
    """
    factors = _required_factors(regex, folded)
    if not factors:
        return None
    return max(factors, key=_selectivity)


def _selectivity(factor: tuple[str, ...]) -> tuple[int, int]:
    """How rarely a text contains one of ``factor`` by chance: its shortest literal, the
    longer the better, then how few literals there are."""
    return min(len(literal) for literal in factor), -len(factor)


def _required_factors(regex: re.Pattern[str], folded: bool) -> list[tuple[str, ...]] | None:
    """Every set of alternatives that each match must contain one of (lower-cased if folded)."""
    if _sre_parse is None:
        return None
    try:
        parsed = _sre_parse.parse(regex.pattern, regex.flags)
    except re.error:  # pragma: no cover - the pattern compiled, so it parses
        return None
    ignore_case = bool(parsed.state.flags & re.IGNORECASE)
    if ignore_case and not folded:
        return None  # "(?i)" in a case-sensitive rule: no exact literal to look for
    factors = _factors(list(parsed), ascii_only=folded)
    if folded:
        factors = [tuple(dict.fromkeys(x.lower() for x in f)) for f in factors]
    return factors


def _factors(items: list[tuple[Any, Any]], ascii_only: bool) -> list[tuple[str, ...]]:
    """The factors of a parsed sequence: runs of plain characters (one alternative each)
    outside optional parts and flag groups, and for alternations whose every branch has a
    factor, the union of one factor per branch."""
    found: list[tuple[str, ...]] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            found.append(("".join(current),))
            current.clear()

    for op, av in items:
        if op is _sre.LITERAL:
            ch = chr(av)
            if ascii_only and not ch.isascii():
                flush()
            else:
                current.append(ch)
            continue
        flush()
        if op is _sre.SUBPATTERN:
            _group, add_flags, del_flags, sub = av
            if not add_flags and not del_flags:
                found += _factors(list(sub), ascii_only)
        elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, getattr(_sre, "POSSESSIVE_REPEAT", None)):
            low, _high, sub = av
            if low >= 1:
                found += _factors(list(sub), ascii_only)
        elif op is getattr(_sre, "ATOMIC_GROUP", None):
            found += _factors(list(av), ascii_only)
        elif op is _sre.BRANCH:
            union = _branch_factor(av[1], ascii_only)
            if union:
                found.append(union)
        # anything else (classes, anchors, lookarounds) ends a run
    flush()
    return found


def _branch_factor(branches: list[Any], ascii_only: bool) -> tuple[str, ...] | None:
    """One alternative set covering every branch of an alternation, if each branch has one."""
    union: list[str] = []
    for branch in branches:
        factors = _factors(list(branch), ascii_only)
        if not factors:
            return None  # this branch can match without any known literal
        best: tuple[str, ...] = max(factors, key=_selectivity)
        union += best
    return tuple(dict.fromkeys(union))


# -- the index -----------------------------------------------------------------------------

#: Regex literals are found through their first characters, at most this many: long
#: enough that a key rarely occurs in a text by chance, short enough for any literal.
_KEY_SIZE = 3


@dataclass(frozen=True)
class _Literals:
    """Required regex literals of one side, found in a text without testing each one.

    ``keys`` maps each literal's first ``size`` characters to the lengths of the literals
    starting with them. Where a key occurs in the text, the text's substrings of those
    lengths are looked up in ``ordinals``: the work depends on the text, not on how many
    literals there are.
    """

    size: int
    keys: dict[str, tuple[int, ...]]
    ordinals: dict[str, tuple[int, ...]]  # literal -> rules that require it

    def find(self, text: str, found: set[int]) -> None:
        """Add the rules whose literal occurs in ``text`` to ``found``."""
        keys, size = self.keys, self.size
        if len(keys) <= len(text):
            for key, lengths in keys.items():
                if key in text:  # rarely: then find each occurrence
                    start = text.find(key)
                    while start >= 0:
                        self._add(text, start, lengths, found)
                        start = text.find(key, start + 1)
        else:  # a long index and a short text: look up each of the text's own substrings
            for start in range(len(text) - size + 1):
                here = keys.get(text[start : start + size])
                if here:
                    self._add(text, start, here, found)

    def _add(self, text: str, start: int, lengths: tuple[int, ...], found: set[int]) -> None:
        ordinals = self.ordinals
        for length in lengths:
            hit = ordinals.get(text[start : start + length])
            if hit:
                found.update(hit)


@dataclass(frozen=True)
class _Side:
    """The index of the rules of one kind that match one text form (folded or clean).

    ``candidates`` returns a superset of the rules whose text conditions hold; for the
    ordinals in ``exact`` the trigger found is the whole condition, so they need no
    verification.
    """

    prepare: Callable[[str], str]
    base: frozenset[int]  # no words needed, or nothing to index: verify every time
    by_word: dict[str, tuple[int, ...]]
    literals: tuple[_Literals, ...]  # one per key size
    exact: frozenset[int]

    def candidates(self, view: _Text) -> set[int]:
        found = set(self.base)
        by_word = self.by_word
        if by_word:
            for token in by_word.keys() & view.keys:  # iterates the smaller of the two
                found.update(by_word[token])
        for literals in self.literals:
            literals.find(view.text, found)
        return found


@dataclass
class _SideBuilder:
    """Collects the rules of one side, then freezes them into a :class:`_Side`."""

    prepare: Callable[[str], str]
    base: list[int] = field(default_factory=list)
    by_word: dict[str, list[int]] = field(default_factory=dict)
    literals: dict[str, list[int]] = field(default_factory=dict)
    exact: list[int] = field(default_factory=list)

    def add(self, ordinal: int, spec: MatchSpec | None) -> None:
        """File the rule under one necessary condition of its match (its trigger)."""
        if spec is None:
            self.base.append(ordinal)
            return
        if spec.any and all(t.trigger for t in spec.any):
            for trigger in {t.trigger for t in spec.any}:
                self.by_word.setdefault(trigger, []).append(ordinal)  # type: ignore[arg-type]
            if _trigger_is_exact(spec):
                self.exact.append(ordinal)
            return
        for terms in (spec.all, (spec.phrase,) if spec.phrase else ()):
            triggers = [t.trigger for t in terms if t.trigger]
            if triggers:
                self.by_word.setdefault(max(triggers, key=len), []).append(ordinal)
                return
        if spec.regex is not None:
            literals = required_literals(spec.regex, folded=not spec.case_sensitive)
            if literals:
                for literal in literals:
                    self.literals.setdefault(literal, []).append(ordinal)
                return
        self.base.append(ordinal)  # nothing to index (or only "not" terms): always verify

    def freeze(self) -> _Side | None:
        """The finished index, or None if no rule uses this side."""
        if not (self.base or self.by_word or self.literals):
            return None
        return _Side(
            prepare=self.prepare,
            base=frozenset(self.base),
            by_word={word: tuple(hits) for word, hits in self.by_word.items()},
            literals=self._freeze_literals(),
            exact=frozenset(self.exact),
        )

    def _freeze_literals(self) -> tuple[_Literals, ...]:
        """Literals grouped by key size (shorter literals are their own key)."""
        keys: dict[int, dict[str, set[int]]] = {}
        for literal in self.literals:
            size = min(len(literal), _KEY_SIZE)
            keys.setdefault(size, {}).setdefault(literal[:size], set()).add(len(literal))
        ordinals = {literal: tuple(hits) for literal, hits in self.literals.items()}
        return tuple(
            _Literals(size, {k: tuple(sorted(v)) for k, v in table.items()}, ordinals)
            for size, table in sorted(keys.items())
        )


def _trigger_is_exact(spec: MatchSpec) -> bool:
    """True if finding one ``any`` trigger token already means the whole match holds:
    only ``any`` terms, each a single token that needs nothing more than being present."""
    return not (spec.all or spec.phrase or spec.regex is not None or spec.not_) and all(
        len(t.tokens) == 1 and not t.needs_text for t in spec.any
    )


# -- the rule book -------------------------------------------------------------------------


class RuleBook:
    """All rules of all rule files, sorted by priority, with the matching index."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        self._by_name = {r.name: r for r in self.rules}
        builders: dict[Kind, tuple[_SideBuilder, _SideBuilder]] = {}
        for ordinal, rule in enumerate(self.rules):
            if not rule.enabled:
                continue
            for kind in rule.kinds:
                folded, cleaned = builders.setdefault(
                    kind, (_SideBuilder(normalize), _SideBuilder(clean))
                )
                side = cleaned if rule.match is not None and rule.match.case_sensitive else folded
                side.add(ordinal, rule.match)
        # Per kind, only the sides some rule uses: the folded one first, then the clean one.
        self._index: dict[Kind, tuple[_Side, ...]] = {}
        for kind, pair in builders.items():
            sides = tuple(side for side in (b.freeze() for b in pair) if side is not None)
            if sides:
                self._index[kind] = sides

    @classmethod
    def load(
        cls,
        paths: Sequence[Path],
        engine: TemplateEngine,
        *,
        default_timezone: str = "UTC",
        networks: Sequence[str] | None = None,
    ) -> RuleBook:
        """Load rule files in order. Raises RuleError/ConfigError with file:line on any problem.

        ``networks`` (the configured network names), when given, is used to reject rules
        that name a network that does not exist.
        """
        return cls.from_docs(
            [load_yaml(Path(p)) for p in paths],
            engine,
            default_timezone=default_timezone,
            networks=networks,
        )

    @classmethod
    def from_docs(
        cls,
        docs: Sequence[YamlDoc],
        engine: TemplateEngine,
        *,
        default_timezone: str = "UTC",
        networks: Sequence[str] | None = None,
    ) -> RuleBook:
        parse_timezone(default_timezone)
        compiled: list[Rule] = []
        first_seen: dict[str, str] = {}
        for doc in docs:
            for loc, item in _rule_items(doc):
                rule = _compile_rule(doc, loc, item, engine, default_timezone, networks)
                if rule.name in first_seen:
                    raise RuleError(
                        f"duplicate rule name {rule.name!r}: also defined at {first_seen[rule.name]}; "
                        "rule names must be unique across all rule files",
                        rule.where,
                    )
                first_seen[rule.name] = rule.where
                compiled.append(rule)
        order = sorted(range(len(compiled)), key=lambda i: (-compiled[i].priority, i))
        return cls([compiled[i] for i in order])

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def get(self, name: str) -> Rule | None:
        return self._by_name.get(name)

    def candidates(self, event: Event, now: datetime) -> list[Rule]:
        """Enabled rules whose kind, network, time window and text fit, by priority."""
        sides = self._index.get(event.kind)
        if sides is None:
            return []
        found: list[int] = []
        rules = self.rules
        for side in sides:
            view = _Text(side.prepare(event.text))
            hits = side.candidates(view)
            if not hits:
                continue
            exact = side.exact
            for ordinal in hits:
                rule = rules[ordinal]
                # Kind and enabled hold by construction of the index (see Rule.fits).
                if rule.networks and event.network not in rule.networks:
                    continue
                if rule.active is not None and not rule.active.contains(now):
                    continue
                if ordinal in exact or rule.match is None or rule.match._matches(view):
                    found.append(ordinal)
        if len(found) > 1:
            found.sort()
        return [rules[i] for i in found]


def _rule_items(doc: YamlDoc) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    data = doc.data
    if data is None:
        return
    if isinstance(data, dict):
        unknown = [k for k in data if k != "rules"]
        if unknown:
            key = unknown[0]
            close = difflib.get_close_matches(str(key), ["rules"], n=1)
            hint = (
                "; did you mean 'rules'?"
                if close
                else "; a rules file has one top-level key, rules:"
            )
            raise RuleError(f"unknown key {key!r} at the top level{hint}", doc.where((key,)))
        base: tuple[str, ...] = ("rules",)
        items = data.get("rules")
        if items is None:
            return
    else:
        items, base = data, ()
    if not isinstance(items, list):
        raise RuleError(
            "rules must be a list of rules, each starting with '- name: ...'", doc.where(base)
        )
    for i, item in enumerate(items):
        yield (*base, i), item


def _compile_rule(
    doc: YamlDoc,
    loc: tuple[str | int, ...],
    item: Any,
    engine: TemplateEngine,
    default_timezone: str,
    networks: Sequence[str] | None,
) -> Rule:
    where = doc.where(loc)
    if not isinstance(item, dict):
        raise RuleError(
            f"{format_loc(loc)} must be a mapping (name:, match:, reply:, ...), got {type(item).__name__}",
            where,
        )
    try:
        model = RuleModel.model_validate(item)
    except ValidationError as exc:
        raise validation_error(doc, exc, loc, model=RuleModel, error_cls=RuleError) from None

    rule_networks = frozenset(n.strip().lower() for n in model.networks)
    if networks is not None:
        known = {n.lower() for n in networks}
        for i, name in enumerate(model.networks):
            if name.strip().lower() not in known:
                close = difflib.get_close_matches(name, sorted(known), n=1)
                hint = (
                    f"; did you mean {close[0]!r}?"
                    if close
                    else f" (configured: {', '.join(sorted(known)) or 'none'})"
                )
                raise RuleError(
                    f"unknown network {name!r} in rule {model.name!r}{hint}",
                    doc.where((*loc, "networks", i)),
                )

    match = _compile_match(model.match) if model.match is not None else None

    variants: list[ReplyTemplate] = []
    sources = [model.reply] if isinstance(model.reply, str) else list(model.reply or [])
    if isinstance(model.reply, list) and not model.reply:
        raise RuleError(
            f"rule {model.name!r} has an empty reply list; add a reply or remove reply:",
            doc.where((*loc, "reply")),
        )
    for i, source in enumerate(sources):
        value_loc = (*loc, "reply") if isinstance(model.reply, str) else (*loc, "reply", i)
        if not source.strip():
            raise RuleError(f"rule {model.name!r} has an empty reply", doc.where(value_loc))
        template = engine.compile(source, doc.value_where(value_loc))
        engine.check(template)
        variants.append(template)

    actions = RuleActions(
        tag=frozenset(model.actions.tag),
        untag=frozenset(model.actions.untag),
        points=model.actions.points,
        handoff=model.actions.handoff,
    )
    if not variants and not actions.any:
        raise RuleError(f"rule {model.name!r} does nothing: give it a reply: or actions:", where)

    return Rule(
        name=model.name,
        kinds=frozenset(model.kinds) if model.kinds else DEFAULT_KINDS,
        networks=rule_networks,
        priority=model.priority,
        enabled=model.enabled,
        match=match,
        when=Conditions(
            first_contact=model.when.first_contact,
            tiers=frozenset(t.casefold() for t in model.when.tier),
            points_at_least=model.when.points_at_least,
            interactions_at_least=model.when.interactions_at_least,
            days_known_at_least=model.when.days_known_at_least,
            tags=frozenset(t.casefold() for t in model.when.tags),
            not_tags=frozenset(t.casefold() for t in model.when.not_tags),
        ),
        variants=tuple(variants),
        cooldown=Cooldown(
            person=model.cooldown.person or None,
            conversation=model.cooldown.conversation or None,
            global_=model.cooldown.global_ or None,
        ),
        once_per_post=model.once_per_post,
        active=_compile_active(model.active, default_timezone)
        if model.active is not None
        else None,
        actions=actions,
        fallthrough=model.fallthrough,
        where=where,
    )


def _compile_match(model: MatchModel) -> MatchSpec:
    cs = model.case_sensitive
    return MatchSpec(
        any=tuple(Term.of(w, cs) for w in model.any),
        all=tuple(Term.of(w, cs) for w in model.all),
        phrase=Term.of(model.phrase, cs) if model.phrase is not None else None,
        regex=compile_regex(model.regex, cs) if model.regex is not None else None,
        not_=tuple(Term.of(w, cs) for w in model.not_),
        case_sensitive=cs,
    )


def _compile_active(model: ActiveModel, default_timezone: str) -> ActiveWindow:
    tz_name = model.timezone or default_timezone
    zone = ZoneInfo(tz_name)

    def local(value: date | datetime, day_after: bool) -> datetime:
        if isinstance(value, datetime):
            return value if value.tzinfo is not None else value.replace(tzinfo=zone)
        day = value + timedelta(days=1) if day_after else value
        return datetime.combine(day, time(), tzinfo=zone)

    return ActiveWindow(
        timezone=tz_name,
        start=local(model.from_, False) if model.from_ is not None else None,
        end=local(model.until, True) if model.until is not None else None,
        hours=model.hours,
        days=model.days or frozenset(),
    )


# -- runtime state: cooldowns and variants -------------------------------------------------


def _remaining(seconds: float) -> str:
    """A short human duration for cooldown reasons: "45s", "58m", "2h 5m", "1d 3h"."""
    s = max(1, int(-(-seconds // 1)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{-(-s // 60)}m"
    if s < 86400:
        h, m = divmod(s // 60, 60)
        return f"{h}h {m}m" if m else f"{h}h"
    d, h = divmod(s // 3600, 24)
    return f"{d}d {h}h" if h else f"{d}d"


#: Last reply variants kept in memory, per (rule, follower). They are only a cache: the
#: store keeps them too and ``RuleResponders.pick_variant`` reloads a forgotten one.
VARIANT_MEMORY = 20_000
#: A cooldown table is swept of expired entries once it has doubled since the last sweep
#: (and has at least this many entries), which keeps sweeping O(1) per entry on average.
_SWEEP_MIN = 1024
#: Rule numbers below 2**_RULE_BITS share one int key with the follower id.
_RULE_BITS = 20


class _Cooldowns:
    """When the cooldowns of one rule and one kind (person, conversation or global) started.

    Exact: an entry is dropped only once its cooldown is over, so a reply can never come
    too soon. The table holds about the cooldowns started within the last cooldown
    period (at most twice that, between sweeps), however many people write in.
    """

    __slots__ = ("_starts", "_sweep_at")

    def __init__(self) -> None:
        self._starts: dict[Hashable, datetime] = {}
        self._sweep_at = _SWEEP_MIN

    def __len__(self) -> int:
        return len(self._starts)

    def left(self, key: Hashable, seconds: float, now: datetime) -> float:
        """Seconds of cooldown left for ``key`` (zero or less: none)."""
        last = self._starts.get(key)
        if last is None:
            return 0.0
        return seconds - max(0.0, (now - last).total_seconds())

    def start(self, key: Hashable, seconds: float, now: datetime) -> None:
        starts = self._starts
        starts[key] = now
        if len(starts) >= self._sweep_at:
            self._starts = {
                k: t for k, t in starts.items() if seconds - max(0.0, (now - t).total_seconds()) > 0
            }
            self._sweep_at = max(_SWEEP_MIN, 2 * len(self._starts))


class RuleState:
    """Cooldown times and last reply variants, in memory and bounded (pure: no clock).

    Cooldowns are kept per rule name (a state belongs to one rule book, so a name has one
    cooldown) and forgotten only once over. Last variants are a cache of what the store
    keeps: at most ``max_entries`` of them, the least recently set forgotten first, each
    under one int key.
    """

    def __init__(self, max_entries: int = VARIANT_MEMORY) -> None:
        self._person: dict[str, _Cooldowns] = {}
        self._conversation: dict[str, _Cooldowns] = {}
        self._global: dict[str, _Cooldowns] = {}
        self._variants: Lru[Hashable, int] = Lru(max_entries)
        self._rule_numbers: dict[str, int] = {}

    def cooldown_ok(
        self, rule: Rule, follower_id: int, conversation_key: Hashable, now: datetime
    ) -> str | None:
        """None if the rule may fire now, else why not (e.g. "cooldown: person 58m left")."""
        cooldown = rule.cooldown
        if not (cooldown.person or cooldown.conversation or cooldown.global_):
            return None
        checks = (
            ("person", cooldown.person, self._person, follower_id),
            ("conversation", cooldown.conversation, self._conversation, conversation_key),
            ("global", cooldown.global_, self._global, None),
        )
        for label, seconds, tables, key in checks:
            if not seconds:
                continue
            table = tables.get(rule.name)
            if table is None:
                continue
            left = table.left(key, seconds, now)
            if left > 0:
                return f"cooldown: {label} {_remaining(left)} left"
        return None

    def note_fired(
        self, rule: Rule, follower_id: int, conversation_key: Hashable, now: datetime
    ) -> None:
        """Start the rule's cooldowns from ``now``."""
        cooldown = rule.cooldown
        if cooldown.person:
            self._table(self._person, rule.name).start(follower_id, cooldown.person, now)
        if cooldown.conversation:
            table = self._table(self._conversation, rule.name)
            table.start(conversation_key, cooldown.conversation, now)
        if cooldown.global_:
            self._table(self._global, rule.name).start(None, cooldown.global_, now)

    @staticmethod
    def _table(tables: dict[str, _Cooldowns], name: str) -> _Cooldowns:
        table = tables.get(name)
        if table is None:
            table = tables[name] = _Cooldowns()
        return table

    def cooldown_entries(self) -> int:
        """How many cooldown start times are held (for tests and memory checks)."""
        return sum(
            len(t)
            for tables in (self._person, self._conversation, self._global)
            for t in tables.values()
        )

    def pick_variant(self, rule: Rule, follower_id: int, rng: random.Random) -> int:
        """A random variant index, never the one this follower got last time; remembered."""
        count = len(rule.variants)
        if count <= 1:
            return 0
        key = self._variant_key(rule.name, follower_id)
        last = self._variants.get(key, None)
        if last is None or not 0 <= last < count:
            index = rng.randrange(count)
        else:
            index = rng.randrange(count - 1)
            if index >= last:
                index += 1
        self._remember(key, index)
        return index

    def last_variant(self, rule_name: str, follower_id: int) -> int | None:
        return self._variants.get(self._variant_key(rule_name, follower_id), None)

    def remember_variant(self, rule_name: str, follower_id: int, index: int) -> None:
        self._remember(self._variant_key(rule_name, follower_id), index)

    def _remember(self, key: Hashable, index: int) -> None:
        self._variants.put(key, index)

    def _variant_key(self, rule_name: str, follower_id: int) -> Hashable:
        """One int for (rule, follower): the rule's number in the low bits, the id above.

        Far smaller than a tuple of a string and an int. Any int id works (the mapping
        ``id * 2**_RULE_BITS + number`` is one-to-one); a book with more than 2**20 rule
        names falls back to tuples for the rest.
        """
        numbers = self._rule_numbers
        number = numbers.get(rule_name)
        if number is None:
            number = numbers[rule_name] = len(numbers)
        if number >> _RULE_BITS or type(follower_id) is not int:
            return (rule_name, follower_id)
        return (follower_id << _RULE_BITS) | number


__all__ = [
    "DEFAULT_KINDS",
    "VARIANT_MEMORY",
    "ActiveWindow",
    "Conditions",
    "Cooldown",
    "MatchSpec",
    "Rule",
    "RuleActions",
    "RuleBook",
    "RuleState",
    "Term",
    "compile_regex",
    "conditions_hold",
    "once_key",
    "parse_days",
    "parse_duration",
    "parse_hours",
    "parse_timezone",
    "required_literal",
    "required_literals",
]
