"""Plugins: a module-level ``Plugin`` object whose decorators register handlers.

A plugin is a plain module (``plugins/welcome.py``) or package that defines one
``plugin = Plugin("welcome")``. No metaclasses and no import-time side effects beyond
building that object, so loading a plugin twice (hot reload) is harmless.

Handler roles:

- ``@plugin.on(...)`` / ``@plugin.command(...)``: *responders*. In priority order, the
  first responder whose filters match an event runs and the routing stops there, unless
  it calls ``ctx.fall_through()`` (or was declared ``fallthrough=True``).
- ``@plugin.watch(...)``: *watchers*. Every matching watcher runs; they never reply
  (scoring, tagging, analytics).
- ``@plugin.every("1h")``: periodic work; ``@plugin.job("name")``: persisted one-off
  jobs scheduled with ``ctx.schedule(...)`` that survive restarts.
"""

from __future__ import annotations

import enum
import importlib
import importlib.util
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from brandbot.config import parse_duration
from brandbot.errors import ConfigError, PluginError
from brandbot.events import Event, Kind

if TYPE_CHECKING:
    from brandbot.context import Context, JobContext

Handler = Callable[["Context"], Awaitable[Any]]
JobHandler = Callable[["JobContext"], Awaitable[Any]]
EventFilter = Callable[[Event], bool]

ENTRY_POINT_GROUP = "brandbot.plugins"


class Role(enum.StrEnum):
    RESPOND = "respond"
    WATCH = "watch"


class NoConfig(BaseModel):
    """The config model of a plugin that takes no settings: any key is an error."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True, slots=True)
class HandlerSpec:
    """One registered handler and the filters that decide whether it sees an event."""

    plugin: str
    name: str
    func: Handler
    role: Role
    kinds: frozenset[Kind]
    networks: frozenset[str] = frozenset()
    priority: int = 0
    when: EventFilter | None = None
    command: str | None = None
    admin_only: bool = False
    fallthrough: bool = False
    description: str = ""

    @property
    def source(self) -> str:
        return f"plugin:{self.plugin}.{self.name}"

    def accepts(self, event: Event) -> bool:
        """The static filters: kind, network, command name, custom predicate."""
        if event.kind not in self.kinds:
            return False
        if self.networks and event.network not in self.networks:
            return False
        if self.command is not None and event.command != self.command:
            return False
        return self.when is None or bool(self.when(event))


@dataclass(frozen=True, slots=True)
class PeriodicSpec:
    plugin: str
    name: str
    func: JobHandler
    interval: float


@dataclass(frozen=True, slots=True)
class JobSpec:
    plugin: str
    name: str
    func: JobHandler


def _kinds(kinds: Iterable[str | Kind]) -> frozenset[Kind]:
    parsed = frozenset(k if isinstance(k, Kind) else Kind.parse(k) for k in kinds)
    # "All kinds" means all that networks produce; milestones are asked for by name.
    return parsed or frozenset(Kind) - {Kind.MILESTONE}


@dataclass
class Plugin:
    """A named bundle of handlers, with an optional pydantic config model.

    ``config`` is validated from the plugin's section of brandbot.yaml at start-up;
    handlers read it as ``ctx.config``.
    """

    name: str
    config: type[BaseModel] = NoConfig
    description: str = ""
    handlers: list[HandlerSpec] = field(default_factory=list)
    periodic: list[PeriodicSpec] = field(default_factory=list)
    jobs: list[JobSpec] = field(default_factory=list)
    startup: list[JobHandler] = field(default_factory=list)
    checks: list[Callable[[Any, Any], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("_", "").replace("-", "").isalnum():
            raise PluginError(f"plugin name {self.name!r} must be letters, digits, '-' or '_'")

    # -- decorators ---------------------------------------------------------------------
    def on(
        self,
        *kinds: str | Kind,
        priority: int = 0,
        networks: Iterable[str] = (),
        when: EventFilter | None = None,
        fallthrough: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Register a responder for these event kinds (all kinds if none given)."""
        return self._register(Role.RESPOND, kinds, priority, networks, when, fallthrough=fallthrough)

    def watch(
        self, *kinds: str | Kind, networks: Iterable[str] = (), when: EventFilter | None = None
    ) -> Callable[[Handler], Handler]:
        """Register a watcher: runs for every matching event, may not reply."""
        return self._register(Role.WATCH, kinds, 0, networks, when)

    def command(
        self,
        name: str,
        *,
        description: str = "",
        admin: bool = False,
        priority: int = 100,
        networks: Iterable[str] = (),
    ) -> Callable[[Handler], Handler]:
        """Register a responder for ``/name``; ``admin=True`` refuses everybody else."""
        cmd = name.lstrip("/").lower()
        if not cmd.replace("_", "").isalnum():
            raise PluginError(f"{self.name}: command name {name!r} must be letters, digits or '_'")
        return self._register(
            Role.RESPOND, (Kind.COMMAND,), priority, networks, None,
            command=cmd, admin=admin, description=description,
        )

    def every(self, interval: str | float, *, name: str | None = None) -> Callable[[JobHandler], JobHandler]:
        """Run the decorated coroutine every ``interval`` ("30s", "1h", or seconds)."""
        seconds = parse_duration(interval)
        if seconds <= 0:
            raise PluginError(f"{self.name}: every() needs a positive interval")

        def deco(func: JobHandler) -> JobHandler:
            self.periodic.append(PeriodicSpec(self.name, name or func.__name__, func, seconds))
            return func

        return deco

    def job(self, name: str) -> Callable[[JobHandler], JobHandler]:
        """Handle persisted jobs scheduled with ``ctx.schedule(name, at, payload)``."""

        def deco(func: JobHandler) -> JobHandler:
            if any(j.name == name for j in self.jobs):
                raise PluginError(f"{self.name}: job {name!r} registered twice")
            self.jobs.append(JobSpec(self.name, name, func))
            return func

        return deco

    def check(self, func: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
        """Register ``func(settings, bot_config)`` to run at start-up and in ``brandbot check``.

        It raises ``ConfigError`` (with file:line where it can) for settings that validate
        as types but cannot work, e.g. a resource file with a broken entry.
        """
        self.checks.append(func)
        return func

    def on_start(self, func: JobHandler) -> JobHandler:
        """Run once when the bot has started (networks connected, store open)."""
        self.startup.append(func)
        return func

    def _register(
        self,
        role: Role,
        kinds: Iterable[str | Kind],
        priority: int,
        networks: Iterable[str],
        when: EventFilter | None,
        *,
        command: str | None = None,
        admin: bool = False,
        fallthrough: bool = False,
        description: str = "",
    ) -> Callable[[Handler], Handler]:
        try:
            parsed = _kinds(kinds)
        except ValueError as exc:
            raise PluginError(f"{self.name}: {exc}") from None

        def deco(func: Handler) -> Handler:
            self.handlers.append(
                HandlerSpec(
                    plugin=self.name, name=func.__name__, func=func, role=role, kinds=parsed,
                    networks=frozenset(networks), priority=priority, when=when, command=command,
                    admin_only=admin, fallthrough=fallthrough,
                    description=description or (func.__doc__ or "").strip().split("\n")[0],
                )
            )
            return func

        return deco


@dataclass(frozen=True)
class LoadedPlugin:
    """A plugin with its validated configuration."""

    plugin: Plugin
    settings: BaseModel
    origin: str


def _ensure_parents(name: str) -> None:
    """Register empty parent packages so a plugin package's ``from . import x`` works."""
    parts = name.split(".")[:-1]
    for i in range(1, len(parts) + 1):
        parent = ".".join(parts[:i])
        if parent not in sys.modules:
            module = ModuleType(parent)
            module.__path__ = []  # a namespace-like package: its children are registered by hand
            sys.modules[parent] = module


def _load_module_from(path: Path, unique: str) -> ModuleType:
    """Import a plugin file or package directory under a private module name.

    A private name (``brandbot_plugins.<name>``) keeps plugins out of the way of installed
    packages and lets a reload import a fresh copy without touching the old one.
    """
    target = path / "__init__.py" if path.is_dir() else path
    spec = importlib.util.spec_from_file_location(
        unique, target, submodule_search_locations=[str(path)] if path.is_dir() else None
    )
    if spec is None or spec.loader is None:
        raise PluginError(f"cannot import plugin from {path}")
    module = importlib.util.module_from_spec(spec)
    _ensure_parents(unique)
    sys.modules[unique] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(unique, None)
        raise PluginError(f"plugin {path} failed to import: {type(exc).__name__}: {exc}") from exc
    return module


def _plugin_of(module: ModuleType, origin: str) -> Plugin:
    found = [v for v in vars(module).values() if isinstance(v, Plugin)]
    if len(found) != 1:
        raise PluginError(f"{origin} must define exactly one Plugin object (found {len(found)})")
    return found[0]


def discover(plugin_dirs: Iterable[Path], generation: int = 0) -> dict[str, tuple[Callable[[], Plugin], str]]:
    """Find plugins by name in the plugin folders and the ``brandbot.plugins`` entry points.

    Returns name -> (loader, origin). Nothing is imported until a loader is called, so a
    broken plugin that is not enabled cannot stop the bot.
    """
    found: dict[str, tuple[Callable[[], Plugin], str]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        def load_ep(ep: Any = ep) -> Plugin:
            obj = ep.load()
            if isinstance(obj, ModuleType):
                return _plugin_of(obj, f"entry point {ep.name}")
            if not isinstance(obj, Plugin):
                raise PluginError(f"entry point {ep.name} must point to a Plugin or a module with one")
            return obj

        found[ep.name] = (load_ep, f"entry point {ep.value}")
    for folder in plugin_dirs:
        if not folder.is_dir():
            continue
        for item in sorted(folder.iterdir()):
            if item.name.startswith(("_", ".")):
                continue
            if item.suffix == ".py" or (item.is_dir() and (item / "__init__.py").exists()):
                name = item.stem if item.suffix == ".py" else item.name
                unique = f"brandbot_plugins.g{generation}.{name}"

                def load_file(item: Path = item, unique: str = unique) -> Plugin:
                    return _plugin_of(_load_module_from(item, unique), str(item))

                found[name] = (load_file, str(item))  # a local folder overrides an entry point
    return found


def validate_settings(plugin: Plugin, settings: Mapping[str, Any], doc: Any, loc: tuple[str | int, ...]) -> BaseModel:
    """Validate a plugin's YAML section against its config model, with file:line errors."""
    from brandbot.yamlfile import validation_error

    try:
        return plugin.config.model_validate(dict(settings))
    except ValidationError as exc:
        raise validation_error(doc, exc, loc, model=plugin.config) from None


def configure(plugin: Plugin, config: Any, origin: str) -> LoadedPlugin:
    """A plugin object given in code (tests, embedding) with its settings from ``config``."""
    section = next((s for s in config.plugins if s.name == plugin.name), None)
    values = section.settings if section is not None else {}
    return LoadedPlugin(plugin, validate_settings(plugin, values, config.doc, ("plugins", plugin.name)), origin)


def load_plugins(
    sections: Iterable[Any], plugin_dirs: Iterable[Path], doc: Any, generation: int = 0
) -> list[LoadedPlugin]:
    """Import and configure every enabled plugin section. All or nothing: any error raises."""
    available = discover(plugin_dirs, generation)
    loaded: list[LoadedPlugin] = []
    for section in sections:
        if not section.enabled:
            continue
        if section.name not in available:
            names = ", ".join(sorted(available)) or "none found"
            raise ConfigError(
                f"plugin {section.name!r} not found in the plugin folders or installed entry points "
                f"(available: {names})",
                section.where,
            )
        loader, origin = available[section.name]
        try:
            plugin = loader()
        except PluginError as exc:
            raise ConfigError(str(exc), section.where) from None
        if plugin.name != section.name:
            raise ConfigError(
                f"{origin} defines Plugin({plugin.name!r}) but is enabled as {section.name!r}; the names must match",
                section.where,
            )
        settings = validate_settings(plugin, section.settings, doc, section.loc)
        loaded.append(LoadedPlugin(plugin, settings, origin))
    return loaded
