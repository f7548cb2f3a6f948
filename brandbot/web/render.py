"""HTML from the package's Jinja2 templates, autoescaped: people's names are text, never markup.

Only the SVG the chart functions build (which escape every label themselves) is marked
safe; everything else a template prints is escaped by Jinja2.
"""

from __future__ import annotations

from datetime import datetime
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup


def _when(value: str | datetime) -> str:
    """A stored time as ``2026-12-07 14:05`` (UTC)."""
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    try:
        return f"{datetime.fromisoformat(value):%Y-%m-%d %H:%M}"
    except ValueError:
        return value


def environment() -> Environment:
    env = Environment(loader=PackageLoader("brandbot.web", "templates"), autoescape=select_autoescape(["html"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = _when
    return env


def svg(text: str) -> Markup:
    """A chart built by :mod:`brandbot.web.charts` (labels escaped there)."""
    return Markup(text)  # charts escape every label they draw


def stylesheet() -> str:
    """The CSS, for the static report (inlined there: one file, no server)."""
    return resources.files("brandbot.web").joinpath("static/style.css").read_text(encoding="utf-8")


def render(env: Environment, template: str, **context: Any) -> str:
    return env.get_template(template).render(**context)


__all__ = ["environment", "render", "stylesheet", "svg"]
