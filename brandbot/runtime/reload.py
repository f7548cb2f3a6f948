"""Generations: config, rules and plugins built and validated together, swapped in one step.

A reload builds a whole new :class:`Generation` first; only if every part of it is
valid does the bot switch to it, with no ``await`` in between, so no event sees half a
reload. A reload that fails keeps the running generation and logs the error with
file:line. Networks and storage are not reloaded (they need a restart).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from brandbot.clocks import Clock
from brandbot.core.config import BotConfig
from brandbot.core.plugin import LoadedPlugin
from brandbot.core.policy import Policy
from brandbot.core.rules import RuleState
from brandbot.core.templates import TemplateEngine
from brandbot.networks.base import Network
from brandbot.runtime.checks import load_reader, load_rule_book, run_plugin_checks
from brandbot.runtime.loader import configure, load_plugins
from brandbot.runtime.routing import Router, RuleResponders
from brandbot.store.base import Store

log = logging.getLogger("brandbot")


@dataclass(frozen=True)
class Generation:
    """Everything that a reload replaces at once."""

    number: int
    config: BotConfig
    templates: TemplateEngine
    policy: Policy
    plugins: tuple[LoadedPlugin, ...]
    rules: RuleResponders
    router: Router


def build_generation(number: int, config: BotConfig, networks: Mapping[str, Network], store: Store, *,
                     plugins: Sequence[LoadedPlugin] | None, rng: random.Random,
                     rule_state: RuleState | None = None, on_latency: Callable[[str, float], None] | None = None,
                     ) -> Generation:
    """Load and check everything a generation needs; raises ConfigError/PluginError."""
    templates = TemplateEngine(config.brand, lazy=True)
    loaded = list(plugins) if plugins is not None else load_plugins(
        config.plugins, config.plugin_dirs, config.doc, generation=number)
    run_plugin_checks(loaded, config)
    book = load_rule_book(config, templates, networks, measure=False)
    understanding = config.top.understanding
    rules = RuleResponders(book, store, rng=rng, state=rule_state, reader=load_reader(config),
                           promotions=understanding.promotions)
    handlers = [h for lp in loaded for h in lp.plugin.handlers]
    settings = {lp.plugin.name: lp.settings for lp in loaded}
    rule_kinds = {k for rule in book.rules for k in rule.kinds}
    router = Router(handlers, rules.candidates, timeout=config.top.runtime.handler_timeout, settings=settings,
                    rule_kinds=rule_kinds, on_latency=on_latency, rules=rules)
    return Generation(number, config, templates, Policy(config.top.policy), tuple(loaded), rules, router)


def reconfigure(plugins: Iterable[LoadedPlugin], config: BotConfig) -> list[LoadedPlugin]:
    """Plugins given in code (tests, embedding) with their settings from a new config."""
    return [configure(lp.plugin, config, lp.origin) for lp in plugins]


def watched_files(config: BotConfig) -> list[Path]:
    """The files whose change triggers a reload: config, rules, data files beside them, plugins."""
    files = {config.path, *config.rule_files}
    files.update(config.path.parent.glob("*.yaml"))
    files.update(config.path.parent.glob("*.yml"))
    for folder in config.plugin_dirs:
        if folder.is_dir():
            files.update(folder.glob("*.py"))
            files.update(folder.glob("*/*.py"))
    return sorted(files)


def stamp(files: Iterable[Path]) -> dict[Path, float]:
    stamps: dict[Path, float] = {}
    for f in files:
        try:
            stamps[f] = f.stat().st_mtime_ns
        except OSError:
            stamps[f] = -1
    return stamps


async def watch(clock: Clock, interval: float, config: Callable[[], BotConfig],
                reload: Callable[[], Awaitable[Any]], before: dict[Path, float]) -> None:
    """Reload whenever a watched file changes (polling: works on every file system).

    ``before`` is stamped by the caller before this task starts, so no change slips in.
    """
    while True:
        await clock.sleep(interval)
        now = stamp(watched_files(config()))
        if now != before:
            changed = sorted(str(f.name) for f in set(now) | set(before) if now.get(f) != before.get(f))
            log.info("configuration files changed (%s); reloading", ", ".join(changed))
            await reload()
            before = stamp(watched_files(config()))


__all__ = ["Generation", "build_generation", "reconfigure", "stamp", "watch", "watched_files"]
