"""Finding and importing plugins: plugin folders and the ``brandbot.plugins`` entry points.

I/O lives here (importlib, the file system); what a plugin *is* lives in
:mod:`brandbot.core.plugin`.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import BaseModel, ValidationError

from brandbot.core.errors import ConfigError, PluginError
from brandbot.core.plugin import LoadedPlugin, Plugin

ENTRY_POINT_GROUP = "brandbot.plugins"


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
    from brandbot.core.yamlfile import validation_error

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
