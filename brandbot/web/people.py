"""The People pages: search, one person's page, and the staff's actions on them.

Every change goes through the bot's People capability (``bot.people``), the same path
admin commands use, so a person whose event is being handled right now is changed in
the record in flight. Each action is written to the audit log.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from aiohttp import web

from brandbot.runtime.reports import tag_problem
from brandbot.web.guard import current_user, redirect

if TYPE_CHECKING:
    from brandbot.web.app import WebUI

MAX_TAG = 32
MAX_POINTS = 100_000
MAX_REASON = 200

#: What the person page says after an action (fixed texts: nothing from the request is echoed).
DONE = {
    "tagged": "Tags saved.",
    "points": "Points saved; the tier follows.",
    "forgot": "The person was forgotten: every row naming them is gone.",
}


class ActionError(ValueError):
    """A staff action with bad input; the message is shown on the page."""


def parse_tags(text: str) -> tuple[list[str], list[str]]:
    """``vip, #press -old`` -> (add, remove); each tag checked like the tags plugin checks them."""
    add: list[str] = []
    remove: list[str] = []
    for word in text.replace(",", " ").split():
        target = remove if word.startswith("-") else add
        tag = word.lstrip("+-").lstrip("#").strip().lower()
        problem = tag_problem(tag, MAX_TAG)
        if problem:
            raise ActionError(problem)
        target.append(tag)
    if not add and not remove:
        raise ActionError("write tags to add (vip #press) or to remove (-old)")
    return add, remove


def parse_points(amount: str, reason: str) -> tuple[int, str]:
    try:
        points = int(amount.strip())
    except ValueError:
        raise ActionError(f"points must be a whole number such as 50 or -20, not {amount[:20]!r}") from None
    if points == 0 or abs(points) > MAX_POINTS:
        raise ActionError(f"give between 1 and {MAX_POINTS} points (negative to take some away)")
    reason = " ".join(reason.split())
    if not reason:
        raise ActionError("say why (the reason is kept in the person's history)")
    return points, reason[:MAX_REASON]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, frozenset | set):
        return sorted(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def export_text(export: Any) -> str:
    """The GDPR export as JSON (the shape ``brandbot followers export`` writes)."""
    return json.dumps(dataclasses.asdict(export), default=_plain, ensure_ascii=False, indent=2)


def _follower_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not raw.isdigit():
        raise web.HTTPNotFound(text="no such follower")
    return int(raw)


async def search(ui: WebUI, request: web.Request) -> web.StreamResponse:
    text = request.query.get("q", "")[:100]
    found = await ui.queries.search(text)
    return ui.page(request, "people.html", "People", q=text, found=found)


async def person(ui: WebUI, request: web.Request, error: str = "", status: int = 200) -> web.StreamResponse:
    fid = _follower_id(request)
    follower = await ui.bot.people.get(fid)
    if follower is None:
        return ui.page(request, "gone.html", "People", status=404, fid=fid,
                       done=DONE.get(request.query.get("done", ""), ""))
    identities = await ui.bot.people.identities(fid)
    history = await ui.bot.people.history(fid, 50)
    return ui.page(request, "person.html", follower.name or f"Follower {fid}", status=status, f=follower,
                   identities=identities, history=history, next_tier=ui.bot.people.next_tier(follower.points),
                   done=DONE.get(request.query.get("done", ""), ""), error=error)


async def tag(ui: WebUI, request: web.Request) -> web.StreamResponse:
    fid = _follower_id(request)
    form = await request.post()
    try:
        add, remove = parse_tags(str(form.get("tags", "")))
    except ActionError as exc:
        return await person(ui, request, str(exc), 400)
    if await ui.bot.people.get(fid) is None:
        raise web.HTTPNotFound(text="no such follower")
    await ui.bot.people.tag(fid, add=add, remove=remove)
    detail = " ".join([*(f"+{t}" for t in add), *(f"-{t}" for t in remove)])
    ui.audit.record(_name(request), "tag", f"follower {fid}", detail)
    return redirect(f"/people/{fid}?done=tagged")


async def points(ui: WebUI, request: web.Request) -> web.StreamResponse:
    fid = _follower_id(request)
    form = await request.post()
    try:
        amount, reason = parse_points(str(form.get("points", "")), str(form.get("reason", "")))
    except ActionError as exc:
        return await person(ui, request, str(exc), 400)
    if await ui.bot.people.get(fid) is None:
        raise web.HTTPNotFound(text="no such follower")
    await ui.bot.people.add_points(fid, amount, f"staff: {reason}")
    ui.audit.record(_name(request), "points", f"follower {fid}", f"{amount:+d} ({reason})")
    return redirect(f"/people/{fid}?done=points")


async def export(ui: WebUI, request: web.Request) -> web.StreamResponse:
    fid = _follower_id(request)
    data = await ui.bot.people.export(fid)
    if data is None:
        raise web.HTTPNotFound(text="no such follower")
    ui.audit.record(_name(request), "export", f"follower {fid}")
    return web.Response(text=export_text(data), content_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="follower-{fid}.json"'})


async def confirm_forget(ui: WebUI, request: web.Request) -> web.StreamResponse:
    fid = _follower_id(request)
    follower = await ui.bot.people.get(fid)
    if follower is None:
        raise web.HTTPNotFound(text="no such follower")
    return ui.page(request, "forget.html", "Forget", f=follower, error="")


async def forget(ui: WebUI, request: web.Request) -> web.StreamResponse:
    fid = _follower_id(request)
    form = await request.post()
    follower = await ui.bot.people.get(fid)
    if follower is None:
        raise web.HTTPNotFound(text="no such follower")
    if str(form.get("confirm", "")).strip() != str(fid):
        return ui.page(request, "forget.html", "Forget", status=400, f=follower,
                       error=f"type the follower number {fid} to confirm")
    user = _name(request)
    await ui.bot.people.forget(fid, by=f"web:{user}")
    ui.audit.record(user, "forget", f"follower {fid}")
    return redirect(f"/people/{fid}?done=forgot")


def _name(request: web.Request) -> str:
    user = current_user(request)
    return user.name if user is not None else "?"


__all__ = ["ActionError", "confirm_forget", "export", "export_text", "forget", "parse_points", "parse_tags",
           "person", "points", "search", "tag"]
