"""Plugins: a module-level ``Plugin`` object whose decorators register handlers.

A plugin is a plain module (``plugins/welcome.py``) or package that defines one
``plugin = Plugin("welcome")``. No metaclasses and no import-time side effects beyond
building that object, so loading a plugin twice (hot reload) is harmless.

Handler roles:

- ``@plugin.on(...)`` / ``@plugin.command(...)``: *responders*. In priority order, each
  responder whose filters match runs until one *handles* the event: it replied or called
  ``ctx.stop()``. One that just returns lets the next one try.
- ``@plugin.watch(...)``: *watchers*. Every matching watcher runs; they never reply
  (scoring, tagging, analytics).
- ``@plugin.every("1h")``: periodic work; ``@plugin.job("name")``: persisted one-off
  jobs scheduled with ``ctx.schedule(...)`` that survive restarts.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic

from pydantic import BaseModel, ConfigDict
from typing_extensions import TypeVar

from brandbot.core.config import parse_duration
from brandbot.core.errors import PluginError, RuleError
from brandbot.core.events import Event, Kind
from brandbot.core.matching import MatchSpec, compile_match

#: A handler takes the runtime's Context (``brandbot.Context``); typed loosely here so the
#: core does not depend on the runtime that implements it.
Handler = Callable[[Any], Awaitable[Any]]
JobHandler = Callable[[Any], Awaitable[Any]]
EventFilter = Callable[[Event], bool]


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
    match: MatchSpec | None = None  # the same match language as a YAML rule's ``match:``

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
        if self.match is not None and not self.match.matches(event.text):
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


#: A plugin's settings model; ``Plugin("x", config=XSettings)`` is a ``Plugin[XSettings]``
#: and its handlers take ``Context[XSettings]``, so ``ctx.config`` is typed.
Settings = TypeVar("Settings", bound=BaseModel, default=BaseModel)


@dataclass
class Plugin(Generic[Settings]):
    """A named bundle of handlers, with an optional pydantic config model.

    ``config`` is validated from the plugin's section of brandbot.yaml at start-up;
    handlers read it as ``ctx.config``.
    """

    name: str
    config: type[Settings] = NoConfig  # type: ignore[assignment]  # the default model takes no settings
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
        match: Mapping[str, Any] | None = None,
        fallthrough: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Register a responder for these event kinds (all kinds if none given).

        ``match`` takes what a YAML rule's ``match:`` takes (``any``, ``all``, ``phrase``,
        ``regex``, ``not``, ``case_sensitive``), with the same meaning.
        """
        return self._register(Role.RESPOND, kinds, priority, networks, when, match=match, fallthrough=fallthrough)

    def watch(
        self, *kinds: str | Kind, networks: Iterable[str] = (), when: EventFilter | None = None,
        match: Mapping[str, Any] | None = None,
    ) -> Callable[[Handler], Handler]:
        """Register a watcher: runs for every matching event, may not reply."""
        return self._register(Role.WATCH, kinds, 0, networks, when, match=match)

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
        match: Mapping[str, Any] | None = None,
    ) -> Callable[[Handler], Handler]:
        try:
            parsed = _kinds(kinds)
            spec = compile_match(match) if match is not None else None
        except (ValueError, RuleError) as exc:
            raise PluginError(f"{self.name}: {exc}") from None

        def deco(func: Handler) -> Handler:
            self.handlers.append(
                HandlerSpec(
                    plugin=self.name, name=func.__name__, func=func, role=role, kinds=parsed,
                    networks=frozenset(networks), priority=priority, when=when, command=command,
                    admin_only=admin, fallthrough=fallthrough, match=spec,
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
