"""Typed ``key=value`` command arguments: ``/tour add id=qa-live title="Live Q&A" tz=UTC``.

A plugin declares what a command takes as a pydantic model and calls :func:`parse_args`
on the words typed after the command. It gets the validated model, or one
:class:`CommandArgsError` that lists every problem and then the usage, ready to send
back to the person who typed it. The idea is discord.py's FlagConverter; the code is
ours, pure, and knows nothing of networks.

The words are read in two steps, and the second runs only if the first found nothing
wrong: first the words themselves (each ``key=value``, a known key, given once), then
the values (the model's validation). A word out of place usually shifts the values
around it (``start=2026-03-05 19:00`` without quotes), so complaints about the values
would only add noise to the one thing to fix.
"""

from __future__ import annotations

import difflib
import shlex
from collections.abc import Mapping
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from brandbot.core.errors import CommandArgsError
from brandbot.core.yamlfile import format_loc

Model = TypeVar("Model", bound=BaseModel)

#: Typographic quotes, as phones and chat apps type them, read as the straight ones.
CURLY_QUOTES = str.maketrans(
    {
        "\u201c": '"',  # “
        "\u201d": '"',  # ”
        "\u201e": '"',  # „
        "\u00ab": '"',  # «
        "\u00bb": '"',  # »
        "\u2018": "'",  # ‘
        "\u2019": "'",  # ’
    }
)


def parse_args(
    model: type[Model],
    text: str,
    *,
    aliases: Mapping[str, str] | None = None,
    usage: str = "",
) -> Model:
    """``key=value`` words (values with spaces in quotes) -> a validated ``model``.

    Keys are read without regard to case, with "-" the same as "_". ``aliases`` maps
    other names people type to the model's own (``{"tz": "timezone"}``). ``usage`` is
    shown after the problems, as written ("Example: /tour add id=..."). Raises
    CommandArgsError naming every problem; ValueError if an alias names no field.
    """
    names = _input_names(model, aliases or {})
    values = _read_words(text, names, usage, open_keys=model.model_config.get("extra") == "allow")
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise CommandArgsError(_value_problems(exc), usage) from None


def _key(typed: str) -> str:
    return typed.strip().lower().replace("-", "_")


def _input_names(model: type[BaseModel], aliases: Mapping[str, str]) -> dict[str, str]:
    """What people may type (normalized) -> the name the model validates, in field order."""
    names: dict[str, str] = {}
    for name, info in model.model_fields.items():
        given = info.validation_alias if isinstance(info.validation_alias, str) else info.alias
        names[_key(given or name)] = given or name
    fields = dict(names)
    for alias, target in aliases.items():
        if _key(target) not in fields:
            raise ValueError(
                f"alias {alias!r} points to {target!r}, which is not a field of "
                f"{model.__name__} (fields: {', '.join(fields.values())})"
            )
        names.setdefault(_key(alias), fields[_key(target)])
    return names


def _read_words(
    text: str, names: Mapping[str, str], usage: str, *, open_keys: bool
) -> dict[str, str]:
    """The first step: every word is key=value with a known key, given once."""
    try:
        words = shlex.split(text.translate(CURLY_QUOTES))
    except ValueError:  # shlex's "No closing quotation"
        raise CommandArgsError(["a quote is not closed"], usage) from None
    values: dict[str, str] = {}
    problems: list[str] = []
    for word in words:
        typed, sep, value = word.partition("=")
        key = _key(typed)
        if not sep or not key:
            problems.append(f"{word!r} is not key=value")
            continue
        name = names.get(key, key if open_keys else None)
        if name is None:
            problems.append(_unknown(typed.strip(), names))
        elif name in values:
            problems.append(f"{name} is given twice")
        else:
            values[name] = value
    if problems:
        raise CommandArgsError(problems, usage)
    return values


def _unknown(typed: str, names: Mapping[str, str]) -> str:
    known = list(dict.fromkeys(names.values()))
    close = difflib.get_close_matches(_key(typed), list(names), n=1, cutoff=0.6)
    hint = f"; did you mean {names[close[0]]}=?" if close else ""
    return f"unknown option {typed}={hint} (known: {', '.join(known)})"


def _value_problems(exc: ValidationError) -> list[str]:
    """The second step's problems, one per pydantic error, worded for a chat."""
    problems: list[str] = []
    for detail in exc.errors(include_url=False):
        loc = detail.get("loc", ())
        kind = detail.get("type")
        message = str(detail.get("msg", "invalid")).removeprefix("Value error, ")
        if kind == "missing":
            problems.append(f"{format_loc(loc)} is missing")
        elif not loc:  # a check of the whole model (e.g. two values that do not fit)
            problems.append(message)
        else:
            problems.append(f"{format_loc(loc)}: {message}")
    return problems


__all__ = ["CURLY_QUOTES", "CommandArgsError", "parse_args"]
