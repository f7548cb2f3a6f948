"""One match language: a YAML rule's ``match:`` and a plugin handler's ``match=`` are the same.

A community manager writes ``match: {any: [ship, delivery], not: [refund]}`` in a rule;
a plugin author writes ``@plugin.on("mention", match={"any": ["ship", "delivery"],
"not": ["refund"]})``. Both are validated by the same model and compiled to the same
:class:`MatchSpec`, so keywords, phrases, regexes and normalization behave identically.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from brandbot.core.errors import RuleError
from brandbot.core.rules.compile import _compile_match
from brandbot.core.rules.match import MatchSpec
from brandbot.core.rules.schema import MatchModel
from brandbot.core.wordforms import WordForms


def compile_match(spec: Mapping[str, Any], *, where: str = "") -> MatchSpec:
    """Validate and compile a ``match`` mapping; RuleError says which key is wrong and why."""
    try:
        model = MatchModel.model_validate(dict(spec))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())) or 'match'}: "
            f"{str(e.get('msg', 'invalid')).removeprefix('Value error, ')}"
            for e in exc.errors(include_url=False))
        raise RuleError(f"match: {problems} (keys: any, all, phrase, regex, not, case_sensitive, word_forms)",
                        where) from None
    if model.intent is not None:
        raise RuleError("match: intent is for YAML rules; a plugin handler reads ctx.reading.intent_name "
                        f"(e.g. if ctx.reading.intent_name != {model.intent!r}: return)", where)
    # English word forms ("ship" also matches "shipping"), as rules have by default;
    # ``word_forms: false`` keeps a filter exact.
    return _compile_match(model, WordForms(("en",)) if model.word_forms and not model.case_sensitive else None)


__all__ = ["MatchSpec", "compile_match"]
