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

The package, by concern: ``schema`` (the YAML model and its value parsers), ``regex``
(rule regexes and the literals they require), ``match`` (compiled keywords, phrases and
regexes, evaluated on a text view), ``model`` (the compiled Rule and its parts),
``compile`` (rule files -> Rules), ``index`` (RuleBook: the matching index) and ``state``
(cooldowns and reply variants).
"""

from __future__ import annotations

from brandbot.core.durations import parse_duration
from brandbot.core.rules.index import RuleBook
from brandbot.core.rules.match import MatchSpec, Term
from brandbot.core.rules.model import (
    DEFAULT_KINDS,
    ActiveWindow,
    Conditions,
    Cooldown,
    Rule,
    RuleActions,
    conditions_hold,
    once_key,
)
from brandbot.core.rules.regex import compile_regex, required_literal, required_literals
from brandbot.core.rules.schema import parse_days, parse_hours, parse_timezone
from brandbot.core.rules.state import VARIANT_MEMORY, RuleState

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
