"""Which class implements which network name, and building one from its YAML section.

Adapters are imported lazily, so running on the console never imports discord.py.
A third-party adapter is named in the YAML with ``adapter: package.module:ClassName``.
"""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import BaseModel, ValidationError

from brandbot.clocks import Clock
from brandbot.core.errors import ConfigError
from brandbot.networks.base import Network

BUILTIN: dict[str, str] = {
    "console": "brandbot.networks.console:ConsoleNetwork",
    "memory": "brandbot.networks.memory:MemoryNetwork",
    "telegram": "brandbot.networks.telegram:TelegramNetwork",
    "discord": "brandbot.networks.discord:DiscordNetwork",
    "x": "brandbot.networks.x:XNetwork",
    "feed": "brandbot.networks.feed:FeedNetwork",
    "mastodon": "brandbot.networks.mastodon:MastodonNetwork",
    "bluesky": "brandbot.networks.bluesky:BlueskyNetwork",
    "blogs": "brandbot.networks.blogs:BlogsNetwork",  # RSS/Atom feeds; configured under feeds:
}


def network_class(name: str, adapter: str | None = None, where: str = "") -> type[Network]:
    target = adapter or BUILTIN.get(name)
    if target is None:
        known = ", ".join(sorted(BUILTIN))
        raise ConfigError(
            f"unknown network {name!r}; built-in networks are {known}, or give 'adapter: module:Class'", where
        )
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
        cls = getattr(module, class_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"network {name!r}: cannot load adapter {target!r}: {exc}", where) from None
    if not (isinstance(cls, type) and issubclass(cls, Network)):
        raise ConfigError(f"network {name!r}: {target!r} is not a brandbot Network class", where)
    return cls


def build_network(name: str, settings: dict[str, Any], *, doc: Any = None, loc: tuple[str | int, ...] = (),
                  where: str = "", clock: Clock | None = None, **hooks: Any) -> Network:
    """Validate the section against the adapter's Config model and construct it (no I/O)."""
    settings = dict(settings)
    adapter = settings.pop("adapter", None)
    cls = network_class(name, adapter, where)
    config_model: type[BaseModel] | None = getattr(cls, "Config", None)
    try:
        config = config_model.model_validate(settings) if config_model is not None else None
    except ValidationError as exc:
        if doc is not None:
            from brandbot.core.yamlfile import validation_error

            raise validation_error(doc, exc, loc, model=config_model) from None
        raise ConfigError(f"network {name!r}: {exc}", where) from None
    return cls(config, clock=clock, **hooks) if config is not None else cls(clock=clock, **hooks)  # type: ignore[call-arg]


def known_networks(config: Any) -> list[str]:
    """Names a rule may mention: the built-in networks and every one in the config."""
    return sorted(set(BUILTIN) | set(config.top.networks))
