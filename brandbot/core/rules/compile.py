"""Rule files -> compiled Rules: each item validated against the schema, then built.

Every mistake is a RuleError with the file and line of the rule, or of the value in it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
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
from brandbot.core.yamlfile import YamlDoc, format_loc, validation_error


def compile_rules(
    docs: Sequence[YamlDoc],
    engine: TemplateEngine,
    *,
    default_timezone: str = "UTC",
    networks: Sequence[str] | None = None,
    tiers: Sequence[str] | None = None,
) -> list[Rule]:
    """The rules of ``docs``, in file order; rule names must be unique across them.

    ``networks`` and ``tiers`` (the configured names), when given, refuse a rule naming
    a network or loyalty tier that does not exist.
    """
    parse_timezone(default_timezone)
    compiled: list[Rule] = []
    first_seen: dict[str, str] = {}
    for doc in docs:
        for loc, item in _rule_items(doc):
            rule = _compile_rule(doc, loc, item, engine, default_timezone, networks, tiers)
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


def _compile_rule(
    doc: YamlDoc,
    loc: tuple[str | int, ...],
    item: Any,
    engine: TemplateEngine,
    default_timezone: str,
    networks: Sequence[str] | None,
    tiers: Sequence[str] | None = None,
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


__all__ = ["compile_rules"]
