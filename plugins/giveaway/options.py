"""What ``/giveaway open`` takes: forgiving words in, checked :class:`OpenOptions` out.

Admins type on phones, so the words are read generously: quotes are optional
(``prize=Signed copy enter=#x``: words after a value belong to it), curly quotes count,
and words before the first option are the prize. :func:`option_words` turns that into
plain ``key='value'`` words; ``brandbot.parse_args`` does the rest: names without
regard to case or ``-``/``_``, aliases, unknown or repeated options, and the values
through OpenOptions' checks, every problem listed at once. What needs the running bot
(its clock, networks, settings and the other open giveaways) is checked when the
giveaway is built (``opening.py``).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    InstanceOf,
    field_validator,
    model_validator,
)

from brandbot import CURLY_QUOTES, CommandArgsError, normalize, parse_args, words

from .closing import Closing, read_closing

USAGE = (
    'Usage: /giveaway open prize="Signed copy" enter=#saltorchard closes=2h winners=2\n'
    '  entry: enter=#hashtag | phrase="words" | enter=/enter | post=<post id> (reactions)\n'
    "  optional: min_days=7 min_interactions=3 previous_winners=allow channel=network:chat "
    "networks=telegram,discord\n"
    "Then: /giveaway list | /giveaway close [id] | /giveaway redraw <id> <entry id or name> | "
    "/giveaway export <id>"
)

#: Other names people type for the options (``-`` and ``_``, upper and lower case are the same).
ALIASES = {
    "entry": "enter",
    "tag": "hashtag",
    "close": "closes",
    "closes_in": "closes",
    "ends": "closes",
    "until": "closes",
    "prizes": "winners",
    "network": "networks",
}

_KEY = re.compile(r"([A-Za-z][A-Za-z_-]*)=")
_COMMAND_WORDS = frozenset({"/enter", "enter", "command", "/command"})
_REACTION_WORDS = frozenset({"react", "reaction", "reactions"})
_ALLOW_WORDS = frozenset({"yes", "true", "allow", "allowed", "ok", "welcome"})
_EXCLUDE_WORDS = frozenset({"no", "false", "exclude", "excluded"})


def option_words(text: str) -> str:
    """``Signed copy enter=#x closes=in 2h`` -> ``prize='Signed copy' enter=#x closes='in 2h'``.

    A word that starts with ``name=`` starts an option; every other word belongs to the
    option before it (the prize, before the first). A quote opens only at the start of a
    word, so "Maya's book" needs none. Raises CommandArgsError for a quote never closed.
    """
    text = text.translate(CURLY_QUOTES)
    options: list[tuple[str, list[str]]] = [("prize", [])]
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        key = _KEY.match(text, i)
        if key and (i == 0 or text[i - 1].isspace()):
            options.append((key.group(1), []))
            i = key.end()
            continue
        name, parts = options[-1]
        if text[i] in "\"'":
            end = text.find(text[i], i + 1)
            if end == -1:
                raise CommandArgsError([f"a quote in {name}= is never closed"], USAGE)
            parts.append(text[i + 1 : end])
            i = end + 1
            continue
        end = i
        while end < len(text) and not text[end].isspace():
            end += 1
        parts.append(text[i:end])
        i = end
    if not options[0][1]:
        options.pop(0)  # no words before the first option: no prize from them
    return " ".join(
        f"{name}={shlex.quote(' '.join(p for p in parts if p).strip())}" for name, parts in options
    )


def _whole(minimum: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        try:
            number = int(str(value).strip())
        except ValueError:
            raise ValueError(f"must be a whole number, got {value!r}") from None
        if number < minimum:
            raise ValueError(f"must be at least {minimum}, got {number}")
        return number

    return check


def _hashtag(value: str) -> str:
    tokens = words(normalize(value))
    if len(tokens) != 1 or not tokens[0].startswith("#") or len(tokens[0]) < 2:
        raise ValueError(f"{value} is not a hashtag; use letters, digits or _ after '#'")
    return tokens[0]


def _phrase(value: str) -> str:
    return " ".join(words(normalize(value)))


def _channel(value: Any) -> tuple[str, str]:
    network, sep, conversation = str(value).strip().partition(":")
    if not sep or not network or not conversation:
        raise ValueError(f"must be network:conversation (e.g. telegram:-100123), got {value!r}")
    return network.lower(), conversation


def _previous_winners(value: Any) -> str:
    word = str(value).strip().lower()
    if word in _ALLOW_WORDS:
        return "allow"
    if word in _EXCLUDE_WORDS:
        return "exclude"
    raise ValueError(f"must be allow or exclude, got {word!r}")


@dataclass(frozen=True)
class EntryMethod:
    """How people enter: any of a hashtag, a phrase, /enter, or reacting to a post."""

    hashtag: str = ""
    phrase: str = ""
    command: bool = False
    post: str = ""


class OpenOptions(BaseModel):
    """The options of ``/giveaway open``, checked as far as they can be without the bot.

    ``None`` means "not given": the plugin's settings give the default.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    prize: str = Field("", validate_default=True)
    enter: str = ""  # "#hashtag", "/enter", "reaction" or a phrase, normalized
    hashtag: str = ""
    phrase: str = ""
    post: str = ""
    winners: Annotated[int, BeforeValidator(_whole(1))] = 1
    min_days: Annotated[int, BeforeValidator(_whole(0))] | None = None
    min_interactions: Annotated[int, BeforeValidator(_whole(0))] | None = None
    closes: Annotated[InstanceOf[Closing], BeforeValidator(read_closing)] | None = None
    previous_winners: (
        Annotated[Literal["allow", "exclude"], BeforeValidator(_previous_winners)] | None
    ) = None
    networks: tuple[str, ...] = ()
    channel: Annotated[tuple[str, str], BeforeValidator(_channel)] | None = None

    @field_validator("prize")
    @classmethod
    def _prize(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError('say what the prize is, e.g. prize="Signed copy"')
        if len(value) > 200:
            raise ValueError(f"the prize name is {len(value)} characters long; keep it under 200")
        return value

    @field_validator("enter")
    @classmethod
    def _enter(cls, value: str) -> str:
        value = value.strip()
        if value.lower() in _COMMAND_WORDS:
            return "/enter"
        if value.lower() in _REACTION_WORDS:
            return "reaction"
        return _hashtag(value) if value.startswith("#") else _phrase(value)

    @field_validator("hashtag")
    @classmethod
    def _tag(cls, value: str) -> str:
        value = value.strip()
        return _hashtag(value if value.startswith("#") else "#" + value)

    @field_validator("phrase")
    @classmethod
    def _words(cls, value: str) -> str:
        phrase = _phrase(value)
        if not phrase:
            raise ValueError("needs words to look for")
        return phrase

    @field_validator("post")
    @classmethod
    def _post(cls, value: str) -> str:
        value = value.strip()
        if not value or any(c.isspace() for c in value):
            raise ValueError("needs the id of one post")
        return value

    @field_validator("networks", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> tuple[str, ...]:
        return tuple(n.strip().lower() for n in str(value).split(",") if n.strip())

    @model_validator(mode="after")
    def _some_way_in(self) -> OpenOptions:
        if self.enter == "reaction" and not self.post:
            raise ValueError("enter=reaction needs the post: post=<post id>")
        method = self.entry_method
        if not (method.hashtag or method.phrase or method.command or method.post):
            raise ValueError(
                'say how people enter: enter=#hashtag, phrase="...", enter=/enter or post=<post id>'
            )
        return self

    @property
    def entry_method(self) -> EntryMethod:
        """``enter=`` decides; ``hashtag=`` counts without it; ``phrase=`` wins over a typed phrase."""
        enter = self.enter
        hashtag = enter if enter.startswith("#") else ("" if enter else self.hashtag)
        typed_phrase = "" if enter.startswith("#") or enter in ("/enter", "reaction") else enter
        return EntryMethod(
            hashtag=hashtag,
            phrase=self.phrase or typed_phrase,
            command=enter == "/enter",
            post=self.post,
        )


def read_options(text: str) -> OpenOptions:
    """The options typed after ``/giveaway open``; CommandArgsError lists every problem."""
    return parse_args(OpenOptions, option_words(text), aliases=ALIASES, usage=USAGE)
