"""Rule files -> compiled Rules: each item validated against the schema, then built.

Every mistake is a RuleError with the file and line of the rule, or of the value in it.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from brandbot.core.errors import RuleError
from brandbot.core.rules.match import MatchSpec, Term
from brandbot.core.rules.model import (
    DEFAULT_KINDS,
    ActiveWindow,
    Conditions,
    Cooldown,
    Rule,
    RuleActions,
)
from brandbot.core.rules.regex import compile_regex
from brandbot.core.rules.schema import ActiveModel, MatchModel, RuleModel, parse_timezone
from brandbot.core.templates import ReplyTemplate, TemplateEngine
from brandbot.core.wordforms import WordForms
from brandbot.core.yamlfile import YamlDoc, format_loc, validation_error


def compile_rules(
    docs: Sequence[YamlDoc],
    engine: TemplateEngine,
    *,
    default_timezone: str = "UTC",
    networks: Sequence[str] | None = None,
    tiers: Sequence[str] | None = None,
    forms: WordForms | None = None,
    intents: Collection[str] | None = None,
) -> list[Rule]:
    """The rules of ``docs``, in file order; rule names must be unique across them.

    ``networks`` and ``tiers`` (the configured names), when given, refuse a rule naming
    a network or loyalty tier that does not exist; ``intents`` likewise for intents
    (None: no intents file, so a rule naming an intent is refused). ``forms`` are the
    stemmers of the configured languages: keywords match their other word forms.
    """
    parse_timezone(default_timezone)
    compiled: list[Rule] = []
    first_seen: dict[str, str] = {}
    known = _Known(networks, tiers, intents)
    for doc in docs:
        for loc, item in _rule_items(doc):
            rule = _compile_rule(doc, loc, item, engine, default_timezone, known, forms)
            if rule.name in first_seen:
                raise RuleError(
                    f"duplicate rule name {rule.name!r}: also defined at {first_seen[rule.name]}; "
                    "rule names must be unique across all rule files",
                    rule.where,
                )
            first_seen[rule.name] = rule.where
            compiled.append(rule)
    return compiled


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


@dataclass(frozen=True)
class _Known:
    """The configured names a rule may refer to (None: not checked)."""

    networks: Sequence[str] | None
    tiers: Sequence[str] | None
    intents: Collection[str] | None


def _compile_rule(
    doc: YamlDoc,
    loc: tuple[str | int, ...],
    item: Any,
    engine: TemplateEngine,
    default_timezone: str,
    names: _Known,
    forms: WordForms | None,
) -> Rule:
    networks, tiers = names.networks, names.tiers
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

    if tiers is not None:
        known_tiers = {t.casefold() for t in tiers}
        for i, tier in enumerate(model.when.tier):
            if tier.casefold() not in known_tiers:
                close = difflib.get_close_matches(tier, list(tiers), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise RuleError(
                    f"unknown tier {tier!r} in rule {model.name!r}{hint} "
                    f"(configured tiers: {', '.join(tiers) or 'none'})",
                    doc.where((*loc, "when", "tier", i)),
                )

    match = None
    if model.match is not None:
        _check_intent(doc, loc, model.name, model.match.intent, names.intents)
        match = _compile_match(model.match, forms)

    by_language = _compile_replies(doc, (*loc, "reply"), model.name, model.reply, engine)
    variants = list(by_language[0][1]) if by_language else []

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
            sentiment=model.when.sentiment,
            languages=frozenset(code.strip().lower() for code in model.when.language),
        ),
        variants=tuple(variants),
        translations=tuple(by_language[1:]),
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


def _compile_replies(
    doc: YamlDoc, loc: tuple[str | int, ...], name: str,
    reply: str | list[str] | dict[str, str | list[str]] | None, engine: TemplateEngine,
) -> list[tuple[str, tuple[ReplyTemplate, ...]]]:
    """A rule's reply variants per language, the fallback first ("" when not per language).

    ``reply: {en: ..., de: [...]}`` gives variants per language; the fallback is the
    English one if given, else the first language listed.
    """
    if reply is None:
        return []
    if isinstance(reply, dict):
        if not reply:
            raise RuleError(f"rule {name!r} has an empty reply mapping; give replies per language, "
                            "e.g. reply: {en: Hello!, de: Hallo!}", doc.where(loc))
        order = sorted(reply, key=lambda code: code.strip().lower() != "en")  # stable: English first
        return [(code.strip().lower(), _templates(doc, (*loc, code), name, reply[code], engine))
                for code in order]
    return [("", _templates(doc, loc, name, reply, engine))]


def _templates(doc: YamlDoc, loc: tuple[str | int, ...], name: str, reply: str | list[str],
               engine: TemplateEngine) -> tuple[ReplyTemplate, ...]:
    sources = [reply] if isinstance(reply, str) else list(reply)
    if not sources:
        raise RuleError(f"rule {name!r} has an empty reply list; add a reply or remove reply:", doc.where(loc))
    templates: list[ReplyTemplate] = []
    for i, source in enumerate(sources):
        value_loc = loc if isinstance(reply, str) else (*loc, i)
        if not source.strip():
            raise RuleError(f"rule {name!r} has an empty reply", doc.where(value_loc))
        template = engine.compile(source, doc.value_where(value_loc))
        engine.check(template)
        templates.append(template)
    return tuple(templates)


def _check_intent(doc: YamlDoc, loc: tuple[str | int, ...], name: str, intent: str | None,
                  intents: Collection[str] | None) -> None:
    if intent is None or (intents is not None and intent in intents):
        return
    where = doc.where((*loc, "match", "intent"))
    if intents is None:
        raise RuleError(f"rule {name!r} matches intent {intent!r} but no intents file is configured; "
                        "add understanding: {intents: intents.yaml} to brandbot.yaml", where)
    close = difflib.get_close_matches(intent, sorted(intents), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f" (intents: {', '.join(sorted(intents)) or 'none'})"
    raise RuleError(f"unknown intent {intent!r} in rule {name!r}{hint}", where)


def _compile_match(model: MatchModel, forms: WordForms | None = None) -> MatchSpec:
    cs = model.case_sensitive
    stems = forms if model.word_forms and not cs else None
    return MatchSpec(
        any=tuple(Term.of(w, cs, stems) for w in model.any),
        all=tuple(Term.of(w, cs, stems) for w in model.all),
        phrase=Term.of(model.phrase, cs, stems) if model.phrase is not None else None,
        regex=compile_regex(model.regex, cs) if model.regex is not None else None,
        not_=tuple(Term.of(w, cs) for w in model.not_),
        case_sensitive=cs,
        intent=model.intent,
        forms=stems,
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


__all__ = ["compile_rules"]
