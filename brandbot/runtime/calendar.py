"""The calendar at run time: each brand post is a persisted job in the one scheduler.

At start (and after a reload) every post of ``posts:`` gets one job, ``calendar:post:<id>``,
due at its pending occurrence (:func:`brandbot.core.calendar.pending_occurrence`). When
the job runs, the post goes through the policy gate into the outbox, once per target,
with a once-key per occurrence and target committed in the same unit as the outbox row:
a restart, a reload or an overlapping pass finds the key used and posts nothing twice.
Then the job is put again at the next occurrence.

A post that hangs on a tour stop (``event:``) waits for the events plugin to say when
the stop is (:meth:`Calendar.anchor`); a post that opens a giveaway hands its moment to
the giveaway plugin's ``open`` job. What went out is kept per occurrence and target in
``core.calendar`` (and whether the network took it in ``core.calendar.sent``), which
``brandbot posts`` lists.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from brandbot.clocks import Clock
from brandbot.core.calendar import (
    Lateness,
    Schedule,
    following_occurrence,
    late_verdict,
    occurrence_key,
    pending_occurrence,
)
from brandbot.core.config import BotConfig
from brandbot.core.effects import DataWrite, Effects
from brandbot.core.errors import ConfigError
from brandbot.core.events import Conversation, Reply
from brandbot.core.policy import Verdict
from brandbot.core.postsfile import BrandPost, PostsFile, Target, load_posts
from brandbot.core.records import OutboxEntry, OutboxStatus
from brandbot.core.templates import TemplateEngine
from brandbot.runtime.scheduler import Scheduler
from brandbot.runtime.sending import Sending
from brandbot.runtime.transaction import Transactions
from brandbot.store.base import Store

log = logging.getLogger("brandbot.calendar")

OWNER = "calendar"  # job names: calendar:post:<post id>
JOB = "post"
RECORDS = "core.calendar"  # "<UTC due>|<post>|<target>" -> what the gate decided
SENT = "core.calendar.sent"  # outbox id -> when the network took it (or why it failed)
SOURCE_PREFIX = "calendar:"


@dataclass(frozen=True, slots=True)
class Anchor:
    """A moment a post can hang on (a tour stop's start), with what its template may show."""

    start: datetime
    variables: Mapping[str, Any]


def job_name(post_id: str) -> str:
    return f"{OWNER}:{JOB}:{post_id}"


def record_key(due: datetime, post_id: str, target: Target) -> str:
    """Records sort by time: ``2027-03-14T11:00:00Z|tour-day|console:salt-ink``."""
    return f"{due.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}|{post_id}|{target.label}"


class Calendar:
    """Brand posts from ``posts:`` (and anchors from plugins), scheduled in the Scheduler."""

    def __init__(self, *, store: Store, clock: Clock, sending: Sending, scheduler: Scheduler,
                 transactions: Transactions, config: Callable[[], BotConfig],
                 templates: Callable[[], TemplateEngine]) -> None:
        self._store = store
        self._clock = clock
        self._sending = sending
        self._scheduler = scheduler
        self._transactions = transactions
        self._config = config
        self._templates = templates
        self._posts: dict[str, BrandPost] = {}
        self._anchors: dict[str, Anchor] = {}  # "event:<stop id>" -> its start
        scheduler.register(OWNER, self.run)

    # -- what is planned -----------------------------------------------------------------
    @property
    def posts(self) -> tuple[BrandPost, ...]:
        return tuple(self._posts.values())

    def load(self) -> PostsFile:
        """Read ``posts:`` (ConfigError with file:line when it is wrong; empty when unset)."""
        config = self._config()
        path = config.posts_path
        if path is None:
            return PostsFile(())
        return load_posts(path, default_timezone=config.top.timezone, expected_by=config.where("posts"))

    async def sync(self, *, strict: bool = False) -> None:
        """Read the posts file again and put each post's job at its pending occurrence.

        Jobs of posts no longer in the file are removed. At start (``strict``) a broken
        file stops the bot with its file:line; on a reload it keeps the posts already
        loaded (a typo must not drop the calendar) and says why.
        """
        try:
            posts = self.load().posts
        except ConfigError as exc:
            if strict:
                raise
            log.error("posts file not loaded; the calendar keeps its previous posts: %s", exc)
            return
        self._posts = {post.id: post for post in posts}
        now = self._clock.now()
        missed: set[str] = set()
        for job in await self._store.all_jobs():
            owner, _, rest = job.name.partition(":")
            if owner != OWNER:
                continue
            if rest.partition(":")[2] not in self._posts:
                self._store.delete_job(job.name)
            elif job.due <= now:
                missed.add(job.name)  # due while the bot was down: its run applies the late rule
        for post in posts:
            if job_name(post.id) not in missed:
                self._plan(post)
        if posts:
            log.info("calendar: %d brand post%s planned", len(posts), "" if len(posts) == 1 else "s")

    def anchor(self, kind: str, ident: str, start: datetime, variables: Mapping[str, Any]) -> None:
        """Say when a tour stop (``kind`` "event") starts: posts with ``event: <ident>`` follow it."""
        self._anchors[f"{kind}:{ident}"] = Anchor(start, dict(variables))
        for post in self._posts.values():
            if post.event == ident and kind == "event":
                self._plan(post)

    def schedule_of(self, post: BrandPost) -> Schedule | None:
        if post.schedule is not None:
            return post.schedule
        anchor = self._anchors.get(f"event:{post.event}")
        return None if anchor is None else post.on_event(anchor.start)

    def _plan(self, post: BrandPost) -> None:
        """Put (or move) the post's job at its pending occurrence; no job when it has no more."""
        schedule = self.schedule_of(post)
        if schedule is None:
            log.warning("calendar: post %r (%s) is on tour stop %r, which is not in the tour; it is not posted until "
                        "that stop exists (tour file or /tour add)", post.id, post.where, post.event)
            return
        self._put(post, pending_occurrence(schedule, self._clock.now(), post.late))

    def _put(self, post: BrandPost, due: datetime | None) -> None:
        if due is None:
            self._store.delete_job(job_name(post.id))
        else:
            self._scheduler.schedule(OWNER, JOB, due, {"post": post.id, "due": due.isoformat()}, key=post.id)

    # -- when a post is due ----------------------------------------------------------------
    async def run(self, payload: Mapping[str, Any]) -> None:
        """The job of one occurrence: post it (or skip it, if late), then plan the next one.

        After downtime the job's occurrence may be long gone: it is skipped (and says so),
        and the latest missed occurrence the late rule still allows is posted in its place.
        """
        post = self._posts.get(str(payload.get("post", "")))
        if post is None:
            log.info("calendar: post %r is no longer in the posts file; skipped", payload.get("post"))
            return
        due: datetime | None = datetime.fromisoformat(str(payload["due"]))
        while due is not None:
            now = self._clock.now()
            schedule = self.schedule_of(post)
            if schedule is None or schedule.latest_at_or_before(due) != due:
                log.info("calendar: post %r moved since %s was planned; planning it again", post.id, due.isoformat())
                self._plan(post)
                return
            verdict = late_verdict(due, now, post.late)
            if verdict is Lateness.EARLY:
                self._put(post, due)  # a pass ran early: put it back
                return
            if verdict is Lateness.TOO_LATE:
                await self._skip(post, due, now)
            else:
                await self._publish(post, due, late=verdict is Lateness.LATE_POST)
            following = following_occurrence(schedule, due, now, post.late)
            if following is None or following > now:
                self._put(post, following)
                return
            due = following  # a later occurrence is due already (downtime): handle it now

    async def _skip(self, post: BrandPost, due: datetime, now: datetime) -> None:
        if await self._store.once_used(occurrence_key(post.id, due)):
            return
        reason = f"late: due {due:%Y-%m-%d %H:%M} UTC, the bot ran it at {now:%Y-%m-%d %H:%M} UTC ({post.late.describe()})"
        log.warning("calendar: post %r skipped; %s", post.id, reason)
        effects = Effects(once_keys=[(occurrence_key(post.id, due), now)])
        for target in post.targets:
            self._record(effects, post, due, target, "skip", reason, "", 0)
        self._transactions.add(effects)

    async def _publish(self, post: BrandPost, due: datetime, *, late: bool) -> None:
        if post.giveaway:
            await self._open_giveaway(post, due)
            return
        anchor = self._anchors.get(f"event:{post.event}") if post.event else None
        templates = self._templates()
        template = templates.compile(post.text, post.where)
        text = templates.render(template, {"brand": self._config().brand, "now": self._clock.now(),
                                           **(anchor.variables if anchor else {})})
        for target in post.targets:
            once = f"{occurrence_key(post.id, due)}:{target.label}"
            if await self._store.once_used(once):
                continue  # went out before a restart: never twice
            effects = Effects()
            reply = Reply(network=target.network, conversation=Conversation(target.network, target.conversation),
                          text=text, source=f"{SOURCE_PREFIX}{post.id}")
            decision = await self._sending.outbound(reply, event=None, follower=None, effects=effects, once_key=once,
                                                    brand_post=True)
            if decision.verdict is Verdict.REFUSE:
                effects.once_keys.append((once, self._clock.now()))  # refused is decided: not tried again
            action = {Verdict.ALLOW: "send", Verdict.DEFER: "defer", Verdict.REFUSE: "refuse"}[decision.verdict]
            detail = "" if decision.allowed else f"{decision.reason}: {decision.detail}"
            if self._too_late_when_deferred(post, due, decision.until, effects):
                action = "refuse"
                detail += (f"; it could leave only at {decision.until:%Y-%m-%d %H:%M} UTC, later than the post's "
                           f"late rule allows ({post.late.describe()})")
                effects.outbox[-1] = replace(effects.outbox[-1], status=OutboxStatus.REFUSED, reason=detail)
            if late:
                detail = f"late (due {due:%H:%M} UTC){'; ' + detail if detail else ''}"
            outbox_id = effects.outbox[-1].id if effects.outbox else 0
            self._record(effects, post, due, target, action, detail, text, outbox_id)
            self._transactions.add(effects)
            if not decision.allowed:
                log.warning("calendar: post %r on %s %s", post.id, target.label, detail)

    @staticmethod
    def _too_late_when_deferred(post: BrandPost, due: datetime, until: datetime | None, effects: Effects) -> bool:
        """A budget deferral that would post it later than its late rule allows: refuse instead
        (a morning post that waits for tomorrow's budget is worse than none)."""
        if until is None or not effects.outbox or effects.outbox[-1].status is not OutboxStatus.PENDING:
            return False
        return late_verdict(due, until, post.late) is Lateness.TOO_LATE

    async def _open_giveaway(self, post: BrandPost, due: datetime) -> None:
        """The giveaway plugin opens it (its checks, its seed, its announcement)."""
        key = occurrence_key(post.id, due)
        if await self._store.once_used(key):
            return
        target = post.targets[0]
        effects = Effects(once_keys=[(key, self._clock.now())])
        self._record(effects, post, due, target, "giveaway", f"opens: {post.giveaway}", "", 0)
        self._transactions.add(effects)
        await self._transactions.committed()  # at most once: the key is durable before it opens
        payload = {"options": post.giveaway, "channel": f"{target.network}:{target.conversation}",
                   "post": post.id, "due": due.isoformat()}
        if not await self._scheduler.run_job_now("giveaway", "open", payload):
            log.error("calendar: post %r opens a giveaway, but the giveaway plugin is not enabled", post.id)

    def _record(self, effects: Effects, post: BrandPost, due: datetime, target: Target, action: str, detail: str,
                text: str, outbox_id: int) -> None:
        value = {"post": post.id, "due": due.isoformat(), "target": target.label, "action": action,
                 "reason": detail, "text": text, "outbox": outbox_id, "at": self._clock.now().isoformat()}
        effects.data.append(DataWrite(RECORDS, record_key(due, post.id, target), json.dumps(value, ensure_ascii=False)))

    # -- after the network took it ---------------------------------------------------------
    def on_sent(self, entry: OutboxEntry) -> None:
        if entry.source.startswith(SOURCE_PREFIX):
            value = {"status": "sent", "at": self._clock.now().isoformat(), "post_ids": list(entry.post_ids)}
            self._store.kv_set(SENT, str(entry.id), json.dumps(value))

    def on_failed(self, entry: OutboxEntry, exc: BaseException) -> None:
        if entry.source.startswith(SOURCE_PREFIX):
            value = {"status": "failed", "at": self._clock.now().isoformat(), "reason": str(exc)[:300]}
            self._store.kv_set(SENT, str(entry.id), json.dumps(value))


__all__ = ["OWNER", "RECORDS", "SENT", "Anchor", "Calendar", "job_name", "record_key"]
