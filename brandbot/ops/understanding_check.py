"""What ``brandbot check`` says about understanding, and ``brandbot intents eval``.

``brandbot check`` lists, per keyword rule, the other word forms its keywords also match
(from the rules' own replies and the intents' examples: the words the brand uses), the
intents with too few examples, and examples that sit as close to another intent as to
their own (overlapping intents).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from brandbot.core.intents import IntentSet, too_few_examples
from brandbot.core.rules import RuleBook
from brandbot.core.rules.match import Term
from brandbot.core.textnorm import normalize, words
from brandbot.ops.intents_eval import answer_report, answers, intent_report, read_labelled
from brandbot.runtime.checks import load_intent_set, load_reader
from brandbot.understanding import TextReader


def _vocabulary(book: RuleBook, intents: IntentSet | None, extra: Iterable[str] = ()) -> set[str]:
    texts = [*extra]
    for rule in book.rules:
        texts += [t.source for t in (*rule.variants, *(v for _, vs in rule.translations for v in vs))]
    if intents is not None:
        texts += [phrase for intent in intents.intents for _, phrase in intent.examples]
    return {w for text in texts for w in words(normalize(text)) if w[0] not in "#@" and not w.isdigit()}


def also_matches(book: RuleBook, vocabulary: set[str]) -> list[str]:
    """One line per rule whose keywords also match other forms of the words in ``vocabulary``."""
    lines: list[str] = []
    forms = book.forms
    if forms is None:
        return lines
    for rule in book.rules:
        match = rule.match
        if match is None or match.forms is None:
            continue
        extra: list[str] = []
        terms: tuple[Term, ...] = (*match.any, *match.all, *((match.phrase,) if match.phrase else ()))
        for term in terms:
            if len(term.forms) != 1:
                continue
            keys = {k for k in term.forms[0] if ":" in k}
            others = [w for w in forms.also_matches(keys, vocabulary) if w != term.tokens[0]]
            if others:
                extra.append(f"{term.source} (+{', '.join(others[:6])})")
        if extra:
            lines.append(f"word forms: rule {rule.name!r} also matches " + "; ".join(extra))
    return lines


def understanding_lines(config: Any, book: RuleBook, reader: TextReader | None = None) -> list[str]:
    """The ``brandbot check`` lines about word forms, intents and their examples."""
    settings = config.top.understanding
    word_forms = "on" if book.forms is not None else "off"
    lines = [f"understanding: languages {', '.join(settings.languages) or '-'} (word forms {word_forms})"]
    intents = load_intent_set(config)
    from brandbot.understanding.intents import packaged_vocabulary

    lines += also_matches(book, _vocabulary(book, intents, packaged_vocabulary()))
    if intents is None:
        return lines
    lines.append(f"intents: {len(intents.intents)} from {settings.intents}: "
                 + ", ".join(f"{i.name} ({len(i.examples)})" for i in intents.intents))
    lines += [f"WARNING {problem}" for problem in too_few_examples(intents)]
    loaded = reader or load_reader(config)
    if isinstance(loaded, TextReader) and loaded.model is not None:
        lines += [f"WARNING overlap: {problem}" for problem in loaded.model.overlaps()]
    return lines


def evaluate(config: Any, path: Path, *, show_misses: bool = False) -> list[str]:
    """``brandbot intents eval``: the answers measure, then the intents measure."""
    rows = read_labelled(path)
    got = asyncio.run(answers(config, rows))
    lines = answer_report(rows, got, lambda r: r.intent == "complaint")
    reader = load_reader(config)
    if isinstance(reader, TextReader) and reader.intents is not None and reader.model is not None:
        model = reader.model
        found = [hit.name if (hit := model.classify(r.text)) is not None else None for r in rows]
        lines += ["", *intent_report(rows, found, reader.intents.names)]
    if show_misses:
        lines += ["", "misses (expected, answered by, text):"]
        lines += [f"  {r.expect:<22} {g:<22} {r.text}" for r, g in zip(rows, got, strict=True) if g != r.expect]
    return lines


__all__ = ["also_matches", "evaluate", "understanding_lines"]
