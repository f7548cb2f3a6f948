"""Building a gateway or a worker from brandbot.yaml: the store, Redis, the networks.

Both roles need a database every process can reach (``storage.url: postgresql://...``):
SQLite is one process's file. The CLI (``brandbot gateway``, ``brandbot worker``) and
the end-to-end tests build the roles here, so they run the same code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from brandbot.clocks import Clock, SystemClock
from brandbot.core.config import BotConfig
from brandbot.core.errors import ConfigError
from brandbot.networks.base import Network
from brandbot.networks.registry import build_network
from brandbot.runtime.bot import Bot
from brandbot.scale.connection import connect
from brandbot.scale.gateway import Gateway
from brandbot.scale.streams import Keys
from brandbot.scale.worker import Worker
from brandbot.store.base import Store

Role = Literal["gateway", "worker"]


def storage_url(config: BotConfig) -> str:
    """The shared database's URL (``storage.url``), or a ConfigError saying what to set."""
    url = str(getattr(config.top.storage, "url", "") or "")
    if not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError("brandbot gateway and brandbot worker share one database: set storage.url to "
                          "postgresql://user:password@host/db (SQLite is one process's file; keep "
                          "`brandbot run` for one process)", config.doc.where(("storage",)))
    return url


def open_store(config: BotConfig) -> Store:
    """The PostgreSQL store named by ``storage.url`` (not opened yet)."""
    storage_url(config)
    from brandbot.store import store_for

    return store_for(config.storage_path, config.top.storage)


def build_networks(config: BotConfig, clock: Clock, hooks: Mapping[str, Mapping[str, Any]] | None = None
                   ) -> dict[str, Network]:
    """Every enabled network, constructed but not started (``hooks``: extra constructor
    arguments per network, e.g. the tests' loopback connector for Discord)."""
    hooks = hooks or {}
    return {s.name: build_network(s.name, dict(s.settings), doc=config.doc, loc=s.loc, where=s.where, clock=clock,
                                  **dict(hooks.get(s.name, {}))) for s in config.networks}


def build_role(role: Role, config: BotConfig, *, store: Store | None = None,
               hooks: Mapping[str, Mapping[str, Any]] | None = None, **kwargs: Any) -> Bot:
    """A Gateway or a Worker for ``config`` (``store``: given, or from ``storage.url``)."""
    store = store if store is not None else open_store(config)  # first: it says what to fix in the config
    settings = config.top.redis
    clock: Clock = kwargs.pop("clock", None) or SystemClock()
    keys = Keys(config.top.storage.brand_id, settings.partitions)
    networks = build_networks(config, clock, hooks)
    redis = connect(settings.url)
    if role == "gateway":
        return Gateway(config, store=store, networks=networks, redis=redis, keys=keys,
                       rate_margin=settings.rate_margin, lease=settings.lease, clock=clock, **kwargs)
    return Worker(config, store=store, networks=networks, redis=redis, keys=keys, lease=settings.lease,
                  batch=settings.batch, clock=clock, **kwargs)


__all__ = ["Role", "build_networks", "build_role", "open_store", "storage_url"]
