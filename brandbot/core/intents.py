"""The intents file: each intent, its example phrases (per language) and its threshold.

::

    intents:
      shipping:
        threshold: 0.55            # optional; similarity a message needs to count
        examples:
          en: ["do you ship to Canada?", "how long does delivery take"]
          de: ["Liefert ihr nach Österreich?"]

A plain list under ``examples`` works too (no language). A rule then says
``match: {intent: shipping}``. Parsing and the checks that need no model are here (pure);
the model that compares messages with the examples is in ``brandbot.understanding``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from brandbot.core.errors import ConfigError
from brandbot.core.yamlfile import YamlDoc, load_yaml, validation_error

#: Fewer examples than this and an intent is reported by ``brandbot check``.
MIN_EXAMPLES = 5
#: The similarity a message needs when an intent gives no threshold.
DEFAULT_THRESHOLD = 0.5
_NAME = re.compile(r"^[\w.-]+$")


class _IntentModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    threshold: float = Field(DEFAULT_THRESHOLD, gt=0, lt=1)
    examples: list[str] | dict[str, list[str]]

    @field_validator("examples")
    @classmethod
    def _not_empty(cls, value: list[str] | dict[str, list[str]]) -> list[str] | dict[str, list[str]]:
        phrases = value if isinstance(value, list) else [p for group in value.values() for p in group]
        if not any(p.strip() for p in phrases):
            raise ValueError("an intent needs example phrases, e.g. examples: {en: [\"do you ship to Canada?\"]}")
        return value


class _FileModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    intents: dict[str, _IntentModel]


@dataclass(frozen=True)
class Intent:
    """One intent: its examples as (language, phrase) pairs ("" when no language is given)."""

    name: str
    threshold: float
    examples: tuple[tuple[str, str], ...]
    where: str = ""

    @property
    def languages(self) -> frozenset[str]:
        return frozenset(lang for lang, _ in self.examples if lang)


@dataclass(frozen=True)
class IntentSet:
    intents: tuple[Intent, ...]
    path: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.intents)

    def get(self, name: str) -> Intent | None:
        return next((i for i in self.intents if i.name == name), None)


def parse_intents(doc: YamlDoc) -> IntentSet:
    """The intents of a parsed YAML file; a mistake is a ConfigError with its file:line."""
    data: Any = doc.data if doc.data is not None else {}
    try:
        model = _FileModel.model_validate(data)
    except ValidationError as exc:
        raise validation_error(doc, exc, (), model=_FileModel, error_cls=ConfigError) from None
    intents: list[Intent] = []
    for name, spec in model.intents.items():
        where = doc.where(("intents", name))
        if not _NAME.match(name):
            raise ConfigError(f"intent name {name!r} may use letters, digits, '-', '_' and '.' only", where)
        groups = {"": spec.examples} if isinstance(spec.examples, list) else spec.examples
        examples = tuple(dict.fromkeys((lang.strip().lower(), phrase.strip())
                                       for lang, phrases in groups.items() for phrase in phrases if phrase.strip()))
        intents.append(Intent(name, spec.threshold, examples, where))
    return IntentSet(tuple(intents), str(doc.path))


def load_intents(path: Path) -> IntentSet:
    return parse_intents(load_yaml(path))


def too_few_examples(intents: IntentSet, minimum: int = MIN_EXAMPLES) -> list[str]:
    """One warning per intent with fewer than ``minimum`` examples (in some language it has)."""
    problems: list[str] = []
    for intent in intents.intents:
        if len(intent.examples) < minimum:
            problems.append(f"{intent.where}: intent {intent.name!r} has {len(intent.examples)} examples; "
                            f"give it at least {minimum} (5-30 phrasings people really use)")
    return problems


__all__ = ["DEFAULT_THRESHOLD", "MIN_EXAMPLES", "Intent", "IntentSet", "load_intents", "parse_intents",
           "too_few_examples"]
