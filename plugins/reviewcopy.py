"""reviewcopy: from a reader asking for a review copy to the thanks for their review.

1. A person asks for a review copy (the ``review-copy`` rule answers them). This plugin
   notes where they asked (network, conversation, their message), so the bot can later
   speak to them there: a blog is not a chat, the bot never comments on one.
2. The staff send the copy and say so: ``/reviewcopy sent <person> [blog]`` (the blog as
   a host or a link: ``saltandpages.example``).
3. After ``follow_up_after`` (21 days) without a review, one polite reminder goes to the
   conversation where they asked (a persisted job: it survives restarts).
4. When a review from that blog appears (a ``review`` event of the blogs network), the
   person is thanked where they asked, tagged ``reviewer``, given ``points``, and the
   staff are told, with the number of days it took. A review nobody is waiting for is
   told to the staff too (``tell_staff``), so a tour host's review is never missed.

``/reviewcopy report`` (admins) and ``brandbot report reviews`` show requests, copies
sent, reviews found and days to review. The records are defined in
``brandbot.reviewcopies``.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator

from brandbot import (
    BotConfig,
    Context,
    JobContext,
    Kind,
    Plugin,
    TemplateEngine,
    Verdict,
    normalize,
    parse_duration,
    reviewcopies,
    sample_context,
    words,
)

log = logging.getLogger("brandbot.plugin.reviewcopy")

FOLLOW_UP_JOB = "follow-up"
REVIEW_PRIORITY = 50


class ReviewCopySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_words: list[str] = Field(
        default_factory=lambda: ["review copy", "review", "reviewer", "arc", "galley", "rezension",
                                 "rezensionsexemplar", "reseña", "chronique", "service de presse"],
        description="A message with one of these asks for a review copy (keep in step with the review-copy rule)")
    not_words: list[str] = Field(default_factory=lambda: ["reviewed", "rezensiert"],
                                 description="... unless it has one of these")
    follow_up_after: float = Field(21 * 86400.0, gt=0, description="Seconds (or 21d) after sending before one reminder")
    follow_up: str = ("Hi {{ name }}! I hope you're enjoying {{ brand.book }}. No rush at all: if you write about "
                      "it, we'd love to read your review. Thank you for reading!")
    thanks: str = ("Thank you for your review of {{ brand.book }} on {{ blog }}, {{ name }}! "
                   "We've added {{ points }} points to your account as a thank-you.")
    points: int = Field(25, ge=0, description="Points a reviewer gets for a review of their copy")
    tag: str = Field("reviewer", description="Tag given to people whose review appeared")
    tell_staff: bool = Field(True, description="Tell the staff about reviews nobody was waiting for, too")

    _duration = field_validator("follow_up_after", mode="before")(parse_duration)


plugin = Plugin("reviewcopy", config=ReviewCopySettings,
                description="review copies: requests, follow-ups, thanks for the reviews on blogs")
Ctx = Context[ReviewCopySettings]
Job = JobContext[ReviewCopySettings]


#: What the thanks template gets besides the usual variables, with values of their real types.
THANKS_SAMPLES = {"blog": "Salt & Pages", "link": "https://saltandpages.example/review", "points": 25}


@plugin.check
def check_templates(settings: ReviewCopySettings, bot_config: BotConfig) -> None:
    """A broken thanks or reminder template fails at start (file:line), not at the first review."""
    engine = TemplateEngine(bot_config.brand)
    for key, source, extra in (("thanks", settings.thanks, THANKS_SAMPLES), ("follow_up", settings.follow_up, {})):
        where = bot_config.where("plugins", "reviewcopy", key)
        template = engine.compile(source, where)
        engine.check(template, where, extra_names=tuple(extra))
        engine.render(template, {**sample_context(bot_config.brand), **extra})


# --------------------------------------------------------------------------- 1. the request


def asks_for_copy(text: str, settings: ReviewCopySettings) -> bool:
    """Whole-word, any case or accent: "Could I get an ARC?" asks; "I reviewed it" does not."""
    said = f" {' '.join(words(normalize(text)))} "
    def has(phrase: str) -> bool:
        return f" {' '.join(words(normalize(phrase)))} " in said
    return any(has(w) for w in settings.request_words) and not any(has(w) for w in settings.not_words)


@plugin.watch(Kind.DIRECT, Kind.MENTION, Kind.REPLY, Kind.QUOTE)
async def note_request(ctx: Ctx) -> None:
    """Remember where the person asked last: thanks and the reminder go there."""
    if not asks_for_copy(ctx.event.text, ctx.config):
        return
    request = reviewcopies.Request.of(ctx.event, ctx.follower.id, ctx.follower.name)
    ctx.data.set(request.key, request.to_json(), follower_id=ctx.follower.id)


async def latest_request(ctx: Ctx | Job, follower_id: int) -> reviewcopies.Request | None:
    """Where the person last asked, over all their linked accounts."""
    found = [r for r in await reviewcopies.load_requests(ctx.data) if r.follower_id == follower_id]
    return max(found, key=lambda r: r.time) if found else None


# --------------------------------------------------------------------------- 2. the copy is sent


@plugin.command("reviewcopy", description="Review copies: /reviewcopy sent <person> [blog] | report", admin=True)
async def reviewcopy(ctx: Ctx) -> None:
    args = ctx.event.args
    if args and args[0].lower() == "report":
        report = reviewcopies.format_review_report(await reviewcopies.review_report(ctx.data))
        await ctx.reply("{{ report }}", variables={"report": report}, essential=True)
        return
    if len(args) not in (2, 3) or args[0].lower() != "sent":
        await ctx.reply("Usage: /reviewcopy sent <person> [blog], e.g. /reviewcopy sent @bea saltandpages.example; "
                        "or /reviewcopy report", essential=True)
        return
    person = await ctx.people.find(args[1].lstrip("@"), ctx.event.network)
    if person is None:
        await ctx.reply("I don't know {{ who }}: give their id, network:handle, or a handle on this network.",
                        variables={"who": args[1]}, essential=True)
        return
    blog = reviewcopies.blog_of(args[2]) if len(args) == 3 else ""
    request = await latest_request(ctx, person.id)
    copy = reviewcopies.Copy(person.id, person.name, blog, ctx.now, request.time if request else None)
    ctx.data.set(copy.key, copy.to_json(), follower_id=person.id)
    due = ctx.now + timedelta(seconds=ctx.config.follow_up_after)
    ctx.schedule(FOLLOW_UP_JOB, due, {"follower_id": person.id}, key=f"f{person.id}")
    where = f"on {request.network}" if request else "nowhere yet: they never asked the bot, so thank them by hand"
    await ctx.reply(
        "Noted: review copy sent to {{ who }} (blog: {{ blog }}). If no review appears, I'll remind them on "
        "{{ due }}. I'll thank them {{ where }} when it does.",
        variables={"who": person.name, "blog": blog or "not given; matched by their name",
                   "due": due.date().isoformat(), "where": where},
        essential=True,
    )


# --------------------------------------------------------------------------- 3. the reminder


@plugin.job(FOLLOW_UP_JOB)
async def follow_up(ctx: Job) -> None:
    """One polite reminder, where they asked, if their review has not appeared."""
    follower_id = int(ctx.payload["follower_id"])
    raw = await ctx.data.get(reviewcopies.copy_key(follower_id))
    person = await ctx.people.get(follower_id)
    if not isinstance(raw, dict) or person is None:
        return  # forgotten, or the copy record is gone
    copy = reviewcopies.Copy.from_json(raw)
    if copy.reviewed is not None or copy.followed_up is not None:
        return
    request = await latest_request(ctx, follower_id)
    if request is None:
        await ctx.send_staff(f"No review yet from {copy.name} (copy sent {copy.sent.date().isoformat()}); "
                             "they never wrote to the bot, so please remind them by hand.")
    else:
        decision = await ctx.answer(request.event(), person, ctx.config.follow_up)
        if decision.verdict is Verdict.REFUSE:
            log.info("reviewcopy: reminder to follower %d refused (%s)", follower_id, decision.reason)
    followed = reviewcopies.Copy.from_json({**copy.to_json(), "followed_up": ctx.now.isoformat()})
    ctx.data.set(followed.key, followed.to_json(), follower_id=follower_id)


# --------------------------------------------------------------------------- 4. the review


@plugin.on(Kind.REVIEW, priority=REVIEW_PRIORITY)
async def review_found(ctx: Ctx) -> None:
    """Record the review, thank the reviewer whose copy it is, tell the staff; never reply on the blog."""
    event = ctx.event
    blog, author = event.extra("blog"), event.extra("author")
    link, title = event.extra("link") or (event.post_id or ""), event.extra("title")
    site = event.extra("site") == "yes"
    matched = [c for c in await reviewcopies.load_copies(ctx.data)
               if c.matches(blog, author, site=site, published=event.time)]
    # Tied to the reviewer when known (forgetting them erases it), else to the blog.
    owner = matched[0].follower_id if matched else ctx.follower.id
    record = reviewcopies.Review(event.id, owner, blog, author, title, link, event.extra("rating"), event.time,
                                 matched[0].follower_id if matched else 0)
    ctx.data.set(record.key, record.to_json(), follower_id=owner)
    for copy in matched:
        await _thank(ctx, copy, link, title)
    if not matched and ctx.config.tell_staff:
        rating = f" ({event.extra('rating')})" if event.extra("rating") else ""
        await ctx.send_staff(f"New review on {event.extra('blog_title') or blog} by {author or 'an unnamed writer'}: "
                             f"\"{title}\"{rating} {link}")
    # No ctx.stop(): nothing was said on the blog, so rules may still act on the review (tag, points).


async def _thank(ctx: Ctx, copy: reviewcopies.Copy, link: str, title: str) -> None:
    settings = ctx.config
    if not await ctx.once(f"reviewcopy:thanks:{ctx.event.id}:f{copy.follower_id}:"):
        return
    done = copy.reviewed_at(max(copy.sent, min(ctx.event.time, ctx.now)), link, title)  # when it was published
    ctx.data.set(done.key, done.to_json(), follower_id=copy.follower_id)
    await ctx.people.tag(copy.follower_id, add=[settings.tag])
    person = await ctx.people.add_points(copy.follower_id, settings.points, f"review on {ctx.event.extra('blog')}")
    ctx.cancel(f"{plugin.name}:{FOLLOW_UP_JOB}:f{copy.follower_id}")
    request = await latest_request(ctx, copy.follower_id)
    thanked = "not thanked: they never wrote to the bot; please thank them by hand"
    if request is not None:
        decision = await ctx.answer(request.event(), person, settings.thanks,
                                    variables={"blog": ctx.event.extra("blog_title") or copy.blog,
                                               "link": link, "points": settings.points})
        thanked = (f"thanked on {request.network}" if decision.verdict is not Verdict.REFUSE
                   else f"not thanked ({decision.reason}: {decision.detail}); please thank them by hand")
    days = done.days_to_review or 0
    after = f"{days} day{'s' if days != 1 else ''} after the copy was sent" if days else "the day the copy was sent"
    await ctx.send_staff(
        f"Review from {person.name} on {copy.blog or ctx.event.extra('blog')}: \"{title}\" {link} "
        f"({after}). Tagged {settings.tag}, +{settings.points} points, {thanked}."
    )
