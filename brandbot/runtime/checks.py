"""Checks that need several parts at once: rules against each network's platform rules.

Run when the bot starts *and* by ``brandbot check``, so a rule that would break X's
automation rules (answering reposts) or can never fit a platform's length limit stops
the bot before it runs, with the rule's file:line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from brandbot.core.errors import ConfigError
from brandbot.core.intents import IntentSet, load_intents
from brandbot.core.policy import check_rule_against_network
from brandbot.core.reading import Reader
from brandbot.core.rules import RuleBook
from brandbot.core.templates import TemplateEngine, sample_context
from brandbot.networks.base import Network


def check_rules_against_networks(
    book: RuleBook, networks: Mapping[str, Network], engine: TemplateEngine, brand: Mapping[str, Any],
    *, measure: bool = True,
) -> None:
    """Raise ConfigError (with the rule's file:line) for the first rule a network cannot carry.

    ``measure`` also renders every reply against a sample follower and asks each network
    whether it could send it (X's 280 characters). ``brandbot check`` measures; the bot's
    start-up does not (it would compile every template), and refuses a reply that does
    not fit at send time, with the reason recorded.
    """
    sample = sample_context(dict(brand))
    for rule in book.rules:
        for name, network in networks.items():
            if rule.networks and name not in rule.networks:
                continue
            if network.read_only:  # blogs: nothing is sent there; a reply to their events never goes out
                answered = sorted({k.value for k in rule.kinds} & {"review", "post"})
                if answered and rule.variants:
                    raise ConfigError(
                        f"rule {rule.name!r} replies to {', '.join(answered)} events, which come from {name}, "
                        f"where the bot never posts: drop its reply (keep actions: tag, points), or let the "
                        f"reviewcopy plugin thank the writer where they are known", rule.where)
                continue
            problem = check_rule_against_network([k.value for k in rule.kinds], name, network.requires_summons)
            if problem:
                raise ConfigError(f"rule {rule.name!r}: {problem}", rule.where)
            every = (*rule.variants, *(v for _, variants in rule.translations for v in variants))
            for variant in every if measure else ():
                text = engine.render(variant, sample)
                too_long = network.check_text(text)
                if too_long:
                    raise ConfigError(
                        f"rule {rule.name!r} cannot be sent on {name}: {too_long} (measured with a sample follower)",
                        variant.where or rule.where,
                    )


def load_rule_book(
    config: Any, engine: TemplateEngine, networks: Mapping[str, Network], *, measure: bool
) -> RuleBook:
    """Load the configured rule files and check them against the networks' platform rules.

    One place for the bot's start, its reloads and ``brandbot check``.
    """
    from brandbot.networks.registry import known_networks

    intents = load_intent_set(config)
    understanding = config.top.understanding
    book = RuleBook.load(list(config.rule_files), engine, default_timezone=config.top.timezone,
                         networks=known_networks(config),
                         tiers=[tier.name for tier in config.top.loyalty.tiers],
                         languages=understanding.languages,
                         intents=intents.names if intents is not None else None)
    check_rules_against_networks(book, networks, engine, config.brand, measure=measure)
    return book


def load_intent_set(config: Any) -> IntentSet | None:
    """The configured intents file, parsed (file:line errors), or None when there is none."""
    path = config.top.understanding.intents
    return load_intents((config.path.parent / path).resolve()) if path else None


def load_reader(config: Any) -> Reader:
    """What reads messages for this configuration: language, sentiment, intents (embeds the
    intents' examples: once per start and reload)."""
    from brandbot.understanding import build_reader

    return build_reader(config.top.understanding, config.path.parent)


def run_plugin_checks(plugins: Iterable[Any], config: Any) -> None:
    """Each plugin's ``@plugin.check`` on its settings (data files, templates)."""
    for loaded in plugins:
        for plugin_check in loaded.plugin.checks:
            plugin_check(loaded.settings, config)
