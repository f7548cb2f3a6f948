"""``brandbot posts``: what the calendar plans and what went out, read from the database.

Planned posts are the calendar's jobs in the scheduler's table (one per post, at its
next occurrence); with ``--all`` the tour's and giveaways' jobs are listed too (one
scheduler runs them all). What went out is the calendar's record per occurrence and
network: sent, deferred (with until when), refused or skipped, with the reason.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from brandbot.core.errors import ConfigError
from brandbot.core.postsfile import BrandPost
from brandbot.core.records import Job
from brandbot.networks.base import Network

log = logging.getLogger("brandbot")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", type=int, default=30, help="how many of the latest posts that went out (default 30)")
    parser.add_argument("--all", action="store_true", help="list every scheduled job (tour reminders, giveaway "
                                                           "closings), not only brand posts")
    parser.add_argument("--days", type=int, default=0, help="also list every occurrence in the next N days, from the "
                                                            "posts file (a preview of repeats)")


def summary_lines(config: Any, networks: Mapping[str, Network]) -> list[str]:
    """``brandbot check``: validate the posts file (raises with file:line); warnings are logged."""
    from brandbot.core.templates import TemplateEngine
    from brandbot.runtime.calendarcheck import check_posts

    posts, warnings = check_posts(config, networks, TemplateEngine(config.brand))
    for warning in warnings:
        log.warning("%s", warning)
    if config.posts_path is None:
        return []
    count = len(posts.posts)
    return [f"{count} brand post{'' if count == 1 else 's'} from {config.posts_path.name}"]


def _local(at: datetime, zone: str) -> str:
    local = at.astimezone(ZoneInfo(zone))
    return f"{local:%a %Y-%m-%d %H:%M} {local.tzname()}"


def planned_rows(jobs: list[Job], posts: Mapping[str, BrandPost], everything: bool) -> list[list[str]]:
    from brandbot.runtime.calendar import OWNER

    rows: list[list[str]] = []
    for job in sorted(jobs, key=lambda j: (j.due, j.name)):
        owner, _, rest = job.name.partition(":")
        if owner == OWNER:
            post = posts.get(rest.partition(":")[2])
            if post is None:
                rows.append([f"{job.due:%Y-%m-%d %H:%M} UTC", rest.partition(":")[2], "(not in the posts file now)", ""])
                continue
            targets = ", ".join(t.label for t in post.targets)
            what = f"opens a giveaway: {post.giveaway}" if post.giveaway else post.repeat.describe()
            rows.append([_local(job.due, post.zone), post.id, targets, what])
        elif everything:
            rows.append([f"{job.due:%Y-%m-%d %H:%M} UTC", job.name, f"plugin {job.owner}", "job"])
    return rows


def coming_rows(posts: Mapping[str, BrandPost], now: datetime, days: int) -> list[list[str]]:
    """Every occurrence in the next ``days`` days, from the file (posts on a tour stop need
    the running tour, so they are listed by their stop)."""
    found: list[tuple[datetime, list[str]]] = []
    for post in posts.values():
        targets = ", ".join(t.label for t in post.targets)
        if post.schedule is None:
            found.append((datetime.max.replace(tzinfo=UTC), ["(on its stop)", post.id, targets, post.describe_time()]))
            continue
        for at in post.schedule.between(now, now + timedelta(days=days), limit=500):
            found.append((at, [_local(at, post.zone), post.id, targets, post.repeat.describe()]))
    return [row for _, row in sorted(found, key=lambda item: (item[0], item[1][1]))]


def went_out_rows(records: list[tuple[str, str]], sent: Mapping[str, str], limit: int) -> list[list[str]]:
    rows: list[list[str]] = []
    for _key, raw in sorted(records, reverse=True)[:limit]:
        try:
            record = json.loads(raw)
            delivery = json.loads(sent[str(record["outbox"])]) if str(record.get("outbox")) in sent else {}
        except (ValueError, KeyError) as exc:
            log.warning("skipping an unreadable calendar record: %s", exc)
            continue
        status = {"send": "pending", "defer": "deferred", "refuse": "refused", "skip": "skipped",
                  "giveaway": "opened"}.get(record["action"], record["action"])
        if delivery:
            status = delivery["status"]
        reason = record.get("reason") or delivery.get("reason", "")
        rows.append([f"{datetime.fromisoformat(record['due']):%Y-%m-%d %H:%M} UTC", record["post"], record["target"],
                     status, reason[:90]])
    return rows


def run(args: argparse.Namespace) -> int:
    from brandbot.core.config import load_config
    from brandbot.core.postsfile import load_posts
    from brandbot.ops.cli import _table, _with_store
    from brandbot.runtime.calendar import RECORDS, SENT

    config = load_config(args.config)
    posts: dict[str, BrandPost] = {}
    if config.posts_path is not None:
        try:
            posts = {p.id: p for p in load_posts(config.posts_path, default_timezone=config.top.timezone,
                                                 expected_by=config.where("posts")).posts}
        except ConfigError as exc:
            print(f"warning: the posts file does not load, so posts are shown by id only: {exc}")
    else:
        print(f"no posts: file in {config.path.name}; the calendar is empty (see docs/posts.md)")

    async def work(store: Any) -> int:
        planned = planned_rows(await store.all_jobs(), posts, args.all)
        print("Planned (next occurrence of each post):" if not args.all else "Planned (every scheduled job):")
        print(_table(planned, ["when", "post", "where", "repeat"]) if planned else "  nothing planned")
        waiting = [p.id for p in posts.values() if p.event and not any(r[1] == p.id for r in planned)]
        if waiting:
            print(f"  waiting for their tour stop (the bot plans them when it starts): {', '.join(waiting)}")
        if args.days > 0:
            coming = coming_rows(posts, datetime.now(UTC), args.days)
            print()
            print(f"Coming up in the next {args.days} day{'' if args.days == 1 else 's'} (from the posts file):")
            print(_table(coming, ["when", "post", "where", "repeat"]) if coming else "  nothing")
        sent = dict(await store.kv_items(SENT))
        done = went_out_rows(await store.kv_items(RECORDS), sent, args.limit)
        print()
        print(f"Went out (latest {args.limit}):")
        print(_table(done, ["due", "post", "where", "status", "reason"]) if done else "  nothing yet")
        return 0

    return asyncio.run(_with_store(config, work))


__all__ = ["add_arguments", "planned_rows", "run", "summary_lines", "went_out_rows"]
