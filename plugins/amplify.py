"""amplify: reposts, retweets, forwards and quotes of the brand's posts, as word of mouth.

- Every share of a brand post (an event of kind ``repost`` or ``quote`` whose
  ``refers_to`` names the post) is recorded once per account and post, with the time,
  so shares can be counted per person, post, network and day (``brandbot.reports``).
- Each person is thanked once per post, by name, with how long we have known them and
  how often they have shared. Where the platform forbids automated replies to people
  who did not address the account (X retweets), no reply is attempted: the person goes
  into a daily digest posted to the staff channel, so somebody can thank them by hand.
- ``/advocates [days|all]`` and ``/shares [days|all]`` (admins) report the top sharers
  and the share totals.

The thanks responder runs at priority 40 (THANKS_PRIORITY): above YAML rules at their
default priority 0 (so a ``thanks-for-repost`` rule becomes the fallback when thanks are
off for a network), below opt-out (1000) and hand-off (900). A rule with a higher
priority answers instead.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from brandbot import (
    Context,
    JobContext,
    Kind,
    People,
    Plugin,
    PluginData,
    TemplateEngine,
    TemplateError,
    Verdict,
    reports,
    sample_context,
)

log = logging.getLogger("brandbot.plugin.amplify")

THANKS_PRIORITY = 40
DIGEST_JOB = "digest"
DIGEST_PREFIX = "digest:"
POSTED_PREFIX = "posted:"
POSTED_KEEP_DAYS = 60
#: Variables the thanks template gets on top of the usual ones (name, follower, brand, ...).
THANKS_SAMPLES: Mapping[str, Any] = {"shares": 2, "days_known": 30, "post": "12345", "first_share": False}

DEFAULT_THANKS = (
    "Thank you for sharing, {{ name }}! "
    "{% if first_share %}Your first share of our news"
    "{% else %}That's {{ shares }} shares{% endif %}"
    "{% if days_known > 0 %} in the {{ days_known }} {{ plural(days_known, 'day') }} we've known you{% endif %}. "
    "Word of mouth is how {{ brand.name }} grows."
)


class AmplifySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    thank: bool = True
    thank_networks: list[str] = Field(default_factory=list)  # empty: every network
    thanks: str = DEFAULT_THANKS
    digest: bool = True
    digest_hour: int = Field(17, ge=0, le=23)  # UTC hour the staff digest is posted
    digest_max_people: int = Field(50, ge=1, le=1000)
    advocates_days: int = Field(30, ge=1, le=3650)
    advocates_limit: int = Field(10, ge=1, le=100)

    @field_validator("thank_networks")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [name.strip().lower() for name in value]

    def thanks_on(self, network: str) -> bool:
        return self.thank and (not self.thank_networks or network.lower() in self.thank_networks)


plugin = Plugin("amplify", config=AmplifySettings, description="thanks and counts shares of the brand's posts")
AmplifyContext = Context[AmplifySettings]
AmplifyJob = JobContext[AmplifySettings]


@plugin.check
def check_thanks_template(settings: AmplifySettings, bot_config: Any) -> None:
    """A broken thanks template fails at start-up (file:line), not at the first repost."""
    check_template(bot_config, settings.thanks, bot_config.where("plugins", "amplify", "thanks"), THANKS_SAMPLES)


def check_template(bot_config: Any, source: str, where: str, samples: Mapping[str, Any]) -> None:
    """``TemplateEngine.check`` with plugin variables of their real types.

    ``check`` renders extra variables as the text "sample", so ``{% if shares > 1 %}``
    would fail there; such a render failure is retried with typed samples, and only a
    failure with those counts. Static problems (unknown names, filters) fail at once.
    """
    engine = TemplateEngine(bot_config.brand)
    template = engine.compile(source, where)
    try:
        engine.check(template, where, extra_names=tuple(samples))
    except TemplateError as exc:
        if "template failed:" not in str(exc):
            raise
    engine.render(template, {**sample_context(bot_config.brand), **samples})


# --------------------------------------------------------------------------- recording


@plugin.watch(Kind.REPOST, Kind.QUOTE)
async def record_share(ctx: AmplifyContext) -> None:
    """Count the share once per account and post (an undo/redo retweet is not a new share)."""
    event, post = ctx.event, ctx.event.refers_to
    if not post:
        return
    if await ctx.data.items(reports.share_post_prefix(event.network, event.author.id, post)):
        ctx.note("skip", f"share of {post} already counted")
        return
    record = reports.ShareRecord(
        follower_id=ctx.follower.id, network=event.network, user_id=event.author.id,
        name=event.author.display, post=post, kind=event.kind.value, time=ctx.now,
    )
    ctx.data.set(record.key, record.to_json(), follower_id=ctx.follower.id)


async def shares_of(people: People, data: PluginData, follower_id: int) -> int:
    """How many shares a person made, over all their linked accounts."""
    total = 0
    for identity in await people.identities(follower_id):
        total += len(await data.items(reports.identity_prefix(reports.SHARE_PREFIX, identity.network, identity.user_id)))
    return total


def thanks_key(post: str, follower_id: int) -> str:
    """Once-key: one thanks per person and post, whichever network or account they shared from."""
    return f"amplify:{reports.key_part(post)}:f{follower_id}:"


# --------------------------------------------------------------------------- thanking


@plugin.on(Kind.REPOST, Kind.QUOTE, priority=THANKS_PRIORITY)
async def thank(ctx: AmplifyContext) -> None:
    """Thank the person once per post, or list them for the staff where the platform forbids it.

    Either way the share is dealt with (``ctx.stop()``): a second share of the same post
    is refused its thanks by the once-key, and no other responder thanks it instead.
    """
    settings = ctx.config
    event, post = ctx.event, ctx.event.refers_to
    if not post or not settings.thanks_on(event.network):
        return
    network = ctx.networks.get(event.network)
    if network is not None and network.requires_summons and not event.addressed:
        await _add_to_digest(ctx, post)
    else:
        shares = await shares_of(ctx.people, ctx.data, ctx.follower.id)
        await ctx.reply(
            settings.thanks,
            variables={"shares": shares, "days_known": ctx.days_known, "post": post, "first_share": shares <= 1},
            once_key=thanks_key(post, ctx.follower.id),
        )
    ctx.stop()


@dataclass(frozen=True, slots=True)
class DigestEntry:
    """A share the platform does not let the bot answer: for the staff to thank by hand."""

    follower_id: int
    network: str
    handle: str
    name: str
    post: str
    time: datetime

    def to_json(self) -> dict[str, Any]:
        return {"follower_id": self.follower_id, "network": self.network, "handle": self.handle,
                "name": self.name, "post": self.post, "time": self.time.isoformat()}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> DigestEntry:
        return cls(int(value["follower_id"]), str(value["network"]), str(value.get("handle", "")),
                   str(value.get("name", "")), str(value["post"]), datetime.fromisoformat(value["time"]))


async def _add_to_digest(ctx: AmplifyContext, post: str) -> None:
    event = ctx.event
    if not ctx.config.digest:
        ctx.note("skip", f"{event.network} does not allow automated replies to this {event.kind}; digest is off")
        return
    if ctx.follower.opted_out:
        ctx.note("skip", f"{ctx.follower.name} opted out: not listed for a thanks")
        return
    if not await ctx.once(thanks_key(post, ctx.follower.id)):  # listed for a thanks by hand: the one thanks
        ctx.note("skip", f"{ctx.follower.name} was already thanked (or listed) for {post}")
        return
    entry = DigestEntry(ctx.follower.id, event.network, event.author.handle, event.author.display, post, ctx.now)
    digest_key = f"{reports.identity_prefix(DIGEST_PREFIX, event.network, event.author.id)}{reports.key_part(post)}:f{ctx.follower.id}:"
    ctx.data.set(digest_key, entry.to_json(), follower_id=ctx.follower.id)
    ctx.note("action", f"{event.network} does not allow automated replies to this {event.kind}: "
                       f"added to the staff digest")


# --------------------------------------------------------------------------- the daily digest


def next_digest_at(now: datetime, hour: int) -> datetime:
    """The first digest time (``hour``:00 UTC) strictly after ``now``."""
    utc = now.astimezone(UTC)
    today = datetime.combine(utc.date(), time(hour), tzinfo=UTC)
    return today if utc < today else today + timedelta(days=1)


def _schedule_digest(ctx: AmplifyJob, at: datetime) -> None:
    day = at.date().isoformat()
    ctx.schedule(DIGEST_JOB, at, {"day": day}, key=day)  # same name per day: scheduling twice is harmless


@plugin.on_start
async def plan_digest(ctx: AmplifyJob) -> None:
    settings = ctx.config
    if not settings.digest:
        return
    staff = ctx.staff
    network = ctx.networks.get(staff.network)
    if network is None or network.requires_summons:
        log.warning("amplify: the staff channel %s:%s cannot receive the daily digest (%s); "
                    "set staff.network to a network where the bot may post", staff.network, staff.conversation,
                    "network not running" if network is None else "network allows replies only when summoned")
    _schedule_digest(ctx, next_digest_at(ctx.now, settings.digest_hour))


async def _claim(data: PluginData, key: str, value: Any) -> bool:
    """Set ``key`` unless it is set; False if it was.

    Two job runners can overlap, so the value is read twice: a runner that set it while
    this one waited on the first read shows up in the second, which is answered from
    memory (the first read cached the key) without giving way to another task.
    """
    if await data.get(key) is not None or await data.get(key) is not None:
        return False
    data.set(key, value)
    return True


@plugin.job(DIGEST_JOB)
async def post_digest(ctx: AmplifyJob) -> None:
    """Post the people to thank by hand, at most once per UTC day, then plan tomorrow's."""
    settings = ctx.config
    if not settings.digest:
        return
    now = ctx.now
    _schedule_digest(ctx, next_digest_at(now, settings.digest_hour))
    await _prune_posted(ctx.data, now)
    waiting = await ctx.data.items(DIGEST_PREFIX)
    if not waiting:
        return
    day = now.astimezone(UTC).date().isoformat()
    marker = f"{POSTED_PREFIX}{day}"
    if not await _claim(ctx.data, marker, {"time": now.isoformat(), "people": len(waiting)}):
        log.info("amplify: today's digest was already posted; %d entries wait for tomorrow", len(waiting))
        return
    entries = [DigestEntry.from_json(value) for _, value in waiting]
    text = await digest_text(ctx, entries, settings.digest_max_people)
    decision = await ctx.send_staff(text)
    if decision.verdict is Verdict.REFUSE:
        ctx.data.delete(marker)  # not posted: the entries wait for the next digest
        log.warning("amplify: the staff digest was refused (%s: %s)", decision.reason, decision.detail)
        return
    for key, _ in waiting:
        ctx.data.delete(key)


async def _prune_posted(data: PluginData, now: datetime) -> None:
    oldest = (now - timedelta(days=POSTED_KEEP_DAYS)).date().isoformat()
    for key, _ in await data.items(POSTED_PREFIX):
        if key[len(POSTED_PREFIX):] < oldest:
            data.delete(key)


async def digest_text(ctx: AmplifyJob, entries: Sequence[DigestEntry], max_people: int) -> str:
    """One line per person: who, where, which posts, how often they shared, how long known."""
    by_person: dict[tuple[int, str], list[DigestEntry]] = {}
    for entry in sorted(entries, key=lambda e: e.time):
        by_person.setdefault((entry.follower_id, entry.network), []).append(entry)
    now = ctx.now
    lines = []
    for (follower_id, network), shared in list(by_person.items())[:max_people]:
        follower = await ctx.people.get(follower_id)
        first = shared[0]
        who = f"{follower.name if follower else first.name} (@{first.handle} on {network})" if first.handle \
            else f"{follower.name if follower else first.name} (on {network})"
        posts = ", ".join(dict.fromkeys(e.post for e in shared))
        total = await shares_of(ctx.people, ctx.data, follower_id)
        known = f", known {follower.days_known(now)} days" if follower else ""
        lines.append(f"- {who}: shared {posts} ({total} share{'s' if total != 1 else ''} in all{known})")
    more = len(by_person) - max_people
    if more > 0:
        lines.append(f"... and {more} more")
    return (f"Shares to thank by hand ({len(by_person)} "
            f"{'person' if len(by_person) == 1 else 'people'}; the platform does not allow automated replies "
            "to them):\n" + "\n".join(lines))


# --------------------------------------------------------------------------- admin reports


def _since(ctx: AmplifyContext, default_days: int) -> tuple[datetime | None, str] | None:
    """``[days|all]`` from the command; None when the argument is not understood."""
    if not ctx.event.args:
        return ctx.now - timedelta(days=default_days), f"the last {default_days} days"
    word = ctx.event.args[0].lower()
    if word == "all":
        return None, "all time"
    if word.isdigit() and 1 <= int(word) <= 3650:
        days = int(word)
        return ctx.now - timedelta(days=days), f"the last {days} day{'s' if days != 1 else ''}"
    return None


@plugin.command("advocates", description="Top sharers of our posts, per network: /advocates [days|all]", admin=True)
async def advocates(ctx: AmplifyContext) -> None:
    settings = ctx.config
    period = _since(ctx, settings.advocates_days)
    if period is None:
        await ctx.reply("Usage: /advocates [days|all], e.g. /advocates 7 (days from 1 to 3650)", essential=True)
        return
    since, label = period
    totals = await reports.share_totals(ctx.data, since)
    sections = [f"Top advocates, {label}:", "All networks:\n" + await _advocates_table(ctx, since, None)]
    for network, _ in sorted(totals.by_network):
        sections.append(f"{network}:\n" + await _advocates_table(ctx, since, network))
    await ctx.reply("{{ report }}", variables={"report": "\n\n".join(sections)}, essential=True)


async def _advocates_table(ctx: AmplifyContext, since: datetime | None, network: str | None) -> str:
    rows = await reports.top_advocates(ctx.data, ctx.people, since, network, ctx.config.advocates_limit)
    return reports.format_advocates(rows)


@plugin.command("shares", description="Shares of our posts per network, post and day: /shares [days|all]", admin=True)
async def shares(ctx: AmplifyContext) -> None:
    settings = ctx.config
    period = _since(ctx, settings.advocates_days)
    if period is None:
        await ctx.reply("Usage: /shares [days|all], e.g. /shares 7 (days from 1 to 3650)", essential=True)
        return
    since, label = period
    report = reports.format_share_totals(await reports.share_totals(ctx.data, since))
    await ctx.reply("Shares, {{ label }}:\n{{ report }}", variables={"label": label, "report": report}, essential=True)
