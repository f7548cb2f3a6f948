"""Charts as SVG text, drawn on the server: no chart library, no CDN, works offline.

Each function takes plain numbers and returns one ``<svg>`` element that scales to the
width of its box (``viewBox`` + CSS ``width: 100%``), so a phone shows the same chart
smaller. Every label is escaped: a network or reason name cannot inject markup.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

# Colour-blind-safe palette (Okabe-Ito), assigned to series in name order.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")

WIDTH = 640
_PAD_LEFT, _PAD_RIGHT, _PAD_TOP, _PAD_BOTTOM = 44, 12, 14, 40


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _nice_max(value: float) -> float:
    """A round top for the y axis (1, 2, 5 × 10^n) at or above ``value``."""
    if value <= 0:
        return 1.0
    step = 10.0 ** math.floor(math.log10(value))
    for factor in (1, 2, 5, 10):
        if value <= factor * step * (1 + 1e-9):
            return factor * step
    return 10 * step


def _num(value: float) -> str:
    """Short numbers for labels: 12, 2.5, 0.05."""
    text = f"{value:.2f}" if abs(value) < 1 else f"{value:.1f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def empty_chart(title: str, message: str = "Nothing recorded in this range.") -> str:
    return (f'<svg class="chart" viewBox="0 0 {WIDTH} 60" role="img" aria-label="{escape(title)}">'
            f"<title>{escape(title)}</title>"
            f'<text x="{WIDTH / 2}" y="34" text-anchor="middle" class="muted">{escape(message)}</text></svg>')


def line_chart(title: str, days: Sequence[str], series: Mapping[str, Sequence[float]], height: int = 220) -> str:
    """One line per series over the days (events per network per day), with a legend."""
    if not days or not series or not any(any(v) for v in series.values()):
        return empty_chart(title)
    top = _nice_max(max(max(v) for v in series.values()))
    plot_w = WIDTH - _PAD_LEFT - _PAD_RIGHT
    plot_h = height - _PAD_TOP - _PAD_BOTTOM
    step = plot_w / max(1, len(days) - 1)

    def xy(i: int, v: float) -> str:
        return f"{_num(_PAD_LEFT + i * step)},{_num(_PAD_TOP + plot_h - v / top * plot_h)}"

    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">',
             f"<title>{escape(title)}</title>"]
    for frac in (0, 0.5, 1):  # grid lines with their values
        y = _num(_PAD_TOP + plot_h - frac * plot_h)
        parts.append(f'<line x1="{_PAD_LEFT}" x2="{WIDTH - _PAD_RIGHT}" y1="{y}" y2="{y}" class="grid"/>')
        parts.append(f'<text x="{_PAD_LEFT - 6}" y="{y}" text-anchor="end" dominant-baseline="middle" '
                     f'class="axis">{_num(top * frac)}</text>')
    base = _PAD_TOP + plot_h + 16
    parts.append(f'<text x="{_PAD_LEFT}" y="{base}" class="axis">{escape(days[0])}</text>')
    if len(days) > 1:
        parts.append(f'<text x="{WIDTH - _PAD_RIGHT}" y="{base}" text-anchor="end" class="axis">'
                     f"{escape(days[-1])}</text>")
    for i, (name, values) in enumerate(series.items()):
        points = " ".join(xy(d, v) for d, v in enumerate(values))
        parts.append(f'<polyline class="series" data-series="{escape(name)}" fill="none" stroke="{colour(i)}" '
                     f'stroke-width="2.5" points="{points}"><title>{escape(name)}: {_num(sum(values))}</title></polyline>')
        if len(values) == 1:
            parts.append(f'<circle cx="{xy(0, values[0]).split(",")[0]}" cy="{xy(0, values[0]).split(",")[1]}" '
                         f'r="4" fill="{colour(i)}"/>')
    legend_y = height - 8
    x = float(_PAD_LEFT)
    for i, (name, values) in enumerate(series.items()):
        label = f"{name} ({_num(sum(values))})"
        parts.append(f'<rect x="{_num(x)}" y="{legend_y - 9}" width="10" height="10" fill="{colour(i)}"/>')
        parts.append(f'<text x="{_num(x + 14)}" y="{legend_y}" class="legend">{escape(label)}</text>')
        x += 30 + 8.5 * len(label)
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(title: str, items: Sequence[tuple[str, float]], *, unit: str = "",
              marker: tuple[str, float] | None = None) -> str:
    """Horizontal bars, one per (label, value), largest scale first; ``marker`` draws a
    labelled line across (a budget)."""
    if not items and marker is None:
        return empty_chart(title)
    row = 28
    label_w = 170
    height = _PAD_TOP + row * max(1, len(items)) + (24 if marker else 8)
    top = _nice_max(max([v for _, v in items] + ([marker[1]] if marker else [])))
    plot_w = WIDTH - label_w - 70
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">',
             f"<title>{escape(title)}</title>"]
    for i, (label, value) in enumerate(items):
        y = _PAD_TOP + i * row
        w = max(0.0, value / top * plot_w)
        shown = label if len(label) <= 24 else label[:23] + "…"
        parts.append(f'<text x="{label_w - 8}" y="{y + 13}" text-anchor="end" class="label">{escape(shown)}'
                     f"<title>{escape(label)}</title></text>")
        parts.append(f'<rect class="bar" x="{label_w}" y="{y + 2}" width="{_num(w)}" height="{row - 10}" '
                     f'fill="{colour(i if len(items) > 1 else 0)}"/>')
        parts.append(f'<text x="{_num(label_w + w + 6)}" y="{y + 13}" class="value">'
                     f"{escape(_num(value) + unit)}</text>")
    if marker is not None:
        x = _num(label_w + marker[1] / top * plot_w)
        bottom = _PAD_TOP + row * max(1, len(items))
        parts.append(f'<line x1="{x}" x2="{x}" y1="{_PAD_TOP - 4}" y2="{bottom}" class="marker"/>')
        parts.append(f'<text x="{x}" y="{bottom + 16}" text-anchor="middle" class="axis">'
                     f"{escape(marker[0])} {escape(_num(marker[1]) + unit)}</text>")
    parts.append("</svg>")
    return "".join(parts)


__all__ = ["PALETTE", "bar_chart", "colour", "empty_chart", "line_chart"]
