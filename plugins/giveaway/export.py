"""The public record of a draw: ``giveaway-<id>.json``, to publish and to check with
``brandbot giveaway verify``.

It is written to the state folder next to the database (``export_dir``), never beside
brandbot.yaml: the config folder is read-only under the shipped systemd unit. In
``brandbot simulate`` (files not writable) nothing is written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from brandbot import draw as seeded

from .records import Giveaway
from .settings import JobCtx
from .state import State


def export_path(ctx: JobCtx, giveaway_id: int) -> Path | None:
    """Where the giveaway's record goes, or None when exports are off or nothing may be written."""
    folder = ctx.config.export_dir
    if not folder or not ctx.files.writable:
        return None
    return ctx.files.state_dir / folder / f"giveaway-{giveaway_id}.json"


def shown_name(ctx: JobCtx, path: Path) -> str:
    """The record's name for a message: its place in the state folder ("giveaways/giveaway-3.json").

    Answers to ``/giveaway export`` may be public; the server's folders are nobody's business.
    """
    try:
        return path.relative_to(ctx.files.state_dir).as_posix()
    except ValueError:
        return path.name


async def export_data(ctx: JobCtx, giveaway: Giveaway) -> dict[str, Any]:
    return seeded.make_export(
        giveaway=giveaway.id,
        prize=giveaway.prize,
        commitment=giveaway.commitment,
        seed=giveaway.seed,
        entries=await State.of(ctx).draw_list(giveaway.id),
        winners=giveaway.drawn,
        forfeited=giveaway.forfeited,
        opened=giveaway.opened_at,
        closed=giveaway.closed_at,
    )


async def write_export(ctx: JobCtx, giveaway: Giveaway) -> Path | None:
    """Write the record (whole or not at all); its path, or None if none was written."""
    path, _ = await try_write_export(ctx, giveaway)
    return path


async def try_write_export(ctx: JobCtx, giveaway: Giveaway) -> tuple[Path | None, str]:
    """Write the record; (its path or None, and what went wrong and how to fix it, or "").

    A failure is logged with the full path; the problem text names the file only by its
    place in the state folder (it may be shown in a public answer).
    """
    path = export_path(ctx, giveaway.id)
    if path is None:
        return None, ""
    data = await export_data(ctx, giveaway)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".json.partial")
        partial.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        partial.replace(path)
    except OSError as exc:
        ctx.log.error("giveaway #%d: could not write %s: %s", giveaway.id, path, exc)
        return None, export_problem(ctx, giveaway.id, path, exc)
    return path, ""


def export_problem(ctx: JobCtx, giveaway_id: int, path: Path, exc: OSError) -> str:
    """What the staff and the admin are told when the record could not be written."""
    reason = exc.strerror or type(exc).__name__
    return (
        f"EXPORT FAILED: the entry list {shown_name(ctx, path)} could not be written in the bot's state "
        f"folder ({reason}), so nobody can check this draw with brandbot giveaway verify yet. "
        f"Make the state folder (next to the database) writable by the bot, then run "
        f"/giveaway export {giveaway_id} to write it again; the draw itself is saved."
    )
