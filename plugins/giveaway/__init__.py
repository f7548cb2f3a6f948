"""giveaway: fair, auditable giveaways on every network.

An admin opens a giveaway with ``/giveaway open prize="Signed copy" enter=#saltorchard
closes=2h winners=2``. The bot picks a secret seed and publishes its SHA-256 (the
*commitment*) where the giveaway was opened. People enter by posting the hashtag or a
phrase, by sending ``/enter``, or by reacting to a given post: one entry per person
across all their linked networks. At closing time (a persisted job, so a restart does
not lose it) the bot draws the winners with that seed (``brandbot.core.draw``), publishes
them with the seed, so anyone can check the draw, and asks each winner to claim the
prize with ``/claim`` in a private message (bots may not DM people first). An admin can
redraw a prize nobody claimed; the redraw extends the same verifiable draw.

Data (namespace ``plugin:giveaway``; rows about a person carry their follower id and a
``:f<id>:`` key segment, so ``brandbot followers forget`` erases them):

- ``next_id``: the last giveaway number used
- ``index``: open giveaways' entry matchers, and the recently closed ones
- ``giveaway:<000007>``: one giveaway (the seed stays secret until it closes)
- ``draw:<7>``: the anonymous entry list the draw ran on
- ``entry:<7>:<identity hash>:f<follower>:``: one person's entry
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

from jinja2 import meta
from pydantic import BaseModel, ConfigDict, Field, field_validator

from brandbot import Context, JobContext, Kind, Plugin
from brandbot.core import draw as drawing
from brandbot.core.config import parse_duration
from brandbot.core.errors import ConfigError
from brandbot.core.events import Conversation
from brandbot.core.policy import Decision, Reason, Verdict
from brandbot.core.records import FollowerRecord
from brandbot.core.templates import TemplateEngine
from brandbot.core.textnorm import normalize, words

# --------------------------------------------------------------------------- settings


class Messages(BaseModel):
    """What the bot says. Templates: ``{{ name }}``, ``{{ brand.name }}`` and the variables
    listed in docs/plugins/giveaway.md; what people typed is always data, never template."""

    model_config = ConfigDict(extra="forbid")

    # To the person, in answer to what they did (the usual reply variables work).
    entered: str = (
        "You're in the {{ prize }} giveaway, {{ name }}! Your entry id is {{ entry }}; "
        "winners are drawn {{ draw_time }}."
    )
    already_entered: str = (
        "You're already in the {{ prize }} giveaway, {{ name }}: one entry per person."
    )
    closed: str = "Sorry {{ name }}, the {{ prize }} giveaway has closed."
    not_eligible: str = "Sorry {{ name }}, you can't enter the {{ prize }} giveaway: {{ reason }}."
    reason_staff: str = "the team can't enter its own giveaways"
    reason_new: str = "it is for people who have known us for at least {{ min_days }} days"
    reason_interactions: str = (
        "it is for people who have talked with us at least {{ min_interactions }} times before"
    )
    reason_previous_winner: str = "previous winners sit this one out, to give others a chance"
    reason_excluded: str = "this account can't take part"
    claimed: str = (
        "Confirmed, {{ name }}: you've claimed {{ prize }} (giveaway #{{ id }}). "
        "Someone from {{ brand.name }} will write to you here to arrange it."
    )
    already_claimed: str = (
        "You've already claimed {{ prize }}, {{ name }}; the team will be in touch."
    )
    forfeited: str = "Sorry {{ name }}, the claim period for {{ prize }} ended and the prize went to someone else."
    nothing_to_claim: str = (
        "You have no prize waiting, {{ name }}. Winners are announced when a giveaway closes."
    )
    claim_in_private: str = (
        "To claim, {{ name }}, send me /claim{% if id %} {{ id }}{% endif %} in a private message, "
        "so we can arrange delivery privately."
    )

    # Announcements (no person to answer: brand, now and the listed variables only).
    opened: str = (
        "🎁 Giveaway #{{ id }}: {{ prize }}! {{ how }} {{ winners }} {{ plural(winners, 'winner') }}, "
        "drawn {{ draw_time }}. Fair draw: the SHA-256 of our secret seed is {{ commitment }}; "
        "the seed comes out with the winners so anyone can check."
    )
    # Used where the network refuses the full text as too long (X: 280 characters).
    opened_short: str = (
        "🎁 Giveaway #{{ id }}: {{ prize }}! {{ how }} Seed SHA-256: {{ commitment }}"
    )
    results: str = (
        "🎉 Giveaway #{{ id }} ({{ prize }}) is closed: {{ entries }} {{ plural(entries, 'entry', 'entries') }}. "
        "Congratulations {{ winners }}! Please send me a private message with /claim {{ id }} "
        "within {{ claim_within }} to claim your prize. Check the draw: seed {{ seed }} "
        "(SHA-256 {{ commitment }}), entry list fingerprint {{ fingerprint }}."
    )
    results_short: str = "🎉 Giveaway #{{ id }} winners: {{ winners }}! DM me /claim {{ id }} to claim. Seed: {{ seed }}"
    no_entries: str = (
        "Giveaway #{{ id }} ({{ prize }}) closed with no eligible entries. Seed: {{ seed }}."
    )
    winner_note: str = (
        "Congratulations {{ winner }}, you won {{ prize }} in giveaway #{{ id }}! "
        "Send me a private message with /claim {{ id }} to claim it."
    )
    redrawn: str = (
        "🎁 Giveaway #{{ id }} ({{ prize }}): a prize was not claimed, so we drew again with the same seed. "
        "Congratulations {{ winner }}! Please send me a private message with /claim {{ id }} within {{ claim_within }}."
    )


#: Variables of each message beyond the usual reply variables (person messages) or
#: ``brand``/``now`` (announcements); ``brandbot check`` refuses unknown ones.
_OPENED = frozenset(
    {"id", "prize", "how", "winners", "draw_time", "commitment", "hashtag", "phrase", "post"}
)
_RESULTS = frozenset(
    {"id", "prize", "entries", "winners", "claim_within", "seed", "commitment", "fingerprint"}
)
MESSAGE_VARIABLES: dict[str, frozenset[str]] = {
    "entered": frozenset({"id", "prize", "entry", "draw_time"}),
    "already_entered": frozenset({"id", "prize", "entry"}),
    "closed": frozenset({"id", "prize"}),
    "not_eligible": frozenset({"id", "prize", "reason"}),
    "reason_staff": frozenset(),
    "reason_new": frozenset({"min_days"}),
    "reason_interactions": frozenset({"min_interactions"}),
    "reason_previous_winner": frozenset(),
    "reason_excluded": frozenset(),
    "claimed": frozenset({"id", "prize", "entry"}),
    "already_claimed": frozenset({"id", "prize"}),
    "forfeited": frozenset({"id", "prize"}),
    "nothing_to_claim": frozenset(),
    "claim_in_private": frozenset({"id"}),
    "opened": _OPENED,
    "opened_short": _OPENED,
    "results": _RESULTS,
    "results_short": _RESULTS,
    "no_entries": frozenset({"id", "prize", "seed", "commitment"}),
    "winner_note": frozenset({"id", "prize", "winner"}),
    "redrawn": frozenset({"id", "prize", "winner", "claim_within"}),
}
ANNOUNCEMENTS = frozenset(
    {"opened", "opened_short", "results", "results_short", "no_entries", "winner_note", "redrawn"}
)


class GiveawaySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_days: int = Field(
        0, ge=0, description="Default: days a person must have known the brand to enter"
    )
    min_interactions: int = Field(0, ge=0, description="Default: interactions before entering")
    exclude_admins: bool = Field(True, description="Admins (the `admins:` list) never win")
    exclude_tags: list[str] = Field(
        default_factory=lambda: ["staff"], description="People with these tags never win"
    )
    exclude_previous_winners: bool = Field(
        True, description="Default: winners of earlier giveaways can't enter"
    )
    winner_tag: str = Field(
        "giveaway-winner", min_length=1, description="Tag given to every winner drawn"
    )
    claim_within: str = Field(
        "7d", description="Claim period named in the results; staff are reminded after it"
    )
    entry_points: int = Field(0, ge=0, description="Loyalty points for entering (0: none)")
    confirm_entries: bool = Field(True, description="Answer each entry with the entry id")
    confirm_reactions: bool = Field(
        False, description="Also answer entries made by reacting (noisy in groups)"
    )
    max_winners: int = Field(100, ge=1)
    export_dir: str = Field(
        "giveaways",
        description="Folder (relative to brandbot.yaml) for giveaway-<id>.json; '' for none",
    )
    messages: Messages = Field(default_factory=Messages)

    @field_validator("claim_within")
    @classmethod
    def _is_duration(cls, value: str) -> str:
        if parse_duration(value) <= 0:
            raise ValueError("claim_within must be a positive duration like 7d or 48h")
        return value

    @field_validator("exclude_tags")
    @classmethod
    def _lower_tags(cls, value: list[str]) -> list[str]:
        return [t.strip().lower() for t in value if t.strip()]


plugin = Plugin("giveaway", config=GiveawaySettings, description="fair, auditable giveaways")

TEXT_KINDS = (Kind.MENTION, Kind.REPLY, Kind.QUOTE, Kind.DIRECT, Kind.MESSAGE)
RECENTLY_CLOSED = 10  # closed giveaways still recognised, to answer late entries "closed"
LATE_WINDOW = timedelta(days=7)
USAGE = (
    'Usage: /giveaway open prize="Signed copy" enter=#saltorchard closes=2h winners=2\n'
    '  entry: enter=#hashtag | phrase="words" | enter=/enter | post=<post id> (reactions)\n'
    "  optional: min_days=7 min_interactions=3 previous_winners=allow channel=network:chat "
    "networks=telegram,discord\n"
    "Then: /giveaway list | /giveaway close [id] | /giveaway redraw <id> <entry id or name> | "
    "/giveaway export <id>"
)


def _settings(ctx: JobContext) -> GiveawaySettings:
    return ctx.config  # type: ignore[return-value]


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Giveaway:
    """One giveaway, as stored. ``seed`` and ``secret`` are never shown while it is open;
    ``secret`` (which makes entry ids anonymous) is never shown at all."""

    id: int
    prize: str
    winners: int
    hashtag: str = ""  # normalized, with '#'
    phrase: str = ""  # normalized
    command: bool = False
    post: str = ""
    networks: tuple[str, ...] = ()
    min_days: int = 0
    min_interactions: int = 0
    previous_winners: Literal["exclude", "allow"] = "exclude"
    network: str = ""  # where announcements go
    conversation: str = ""
    private: bool = False
    opened_at: str = ""
    closes_at: str = ""
    commitment: str = ""
    seed: str = ""
    secret: str = ""
    status: Literal["open", "closed"] = "open"
    closed_at: str = ""
    drawn_at: str = ""
    announced: bool = False
    entries: int = 0  # eligible entries the draw ran on
    excluded: int = 0
    drawn: tuple[str, ...] = ()  # every entry drawn, in order (winners_count = len)
    forfeited: tuple[str, ...] = ()
    claimed: tuple[str, ...] = ()

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> Giveaway:
        fields = {f.name for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in fields
        }
        return cls(**values)

    def dump(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def key(self) -> str:
        return f"giveaway:{self.id:06d}"

    @property
    def closes(self) -> datetime | None:
        return datetime.fromisoformat(self.closes_at) if self.closes_at else None

    @property
    def pending(self) -> list[str]:
        """Winners drawn who have neither claimed nor forfeited."""
        return [e for e in self.drawn if e not in self.forfeited and e not in self.claimed]

    @property
    def matcher(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "hashtag": self.hashtag,
            "phrase": self.phrase,
            "command": self.command,
            "post": self.post,
            "networks": list(self.networks),
            "closed_at": self.closed_at,
        }

    def how(self) -> str:
        ways = []
        if self.hashtag:
            ways.append(f"post {self.hashtag}")
        if self.phrase:
            ways.append(f'write "{self.phrase}"')
        if self.command:
            ways.append("send /enter")
        if self.post:
            ways.append(f"react to post {self.post}")
        where = f" on {', '.join(self.networks)}" if self.networks else ""
        return f"To enter, {' or '.join(ways)}{where}."


@dataclass(frozen=True)
class Entry:
    """One person's entry, as stored under ``entry:<id>:<identity hash>:f<follower>:``."""

    entry: str
    follower_id: int
    network: str
    user_id: str
    conversation: str
    private: bool
    post_id: str
    at: str
    told: bool = False  # "already entered" said once; later repeats get no answer

    @classmethod
    def load(cls, key: str, data: Mapping[str, Any]) -> Entry:
        follower_id = int(key.rstrip(":").rsplit(":f", 1)[1])
        return cls(follower_id=follower_id, **{k: v for k, v in data.items() if k != "follower_id"})

    def dump(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        del data["follower_id"]
        return data


def identity_hash(network: str, user_id: str) -> str:
    """A short fixed-length key for one network identity (user ids may contain ':')."""
    return hashlib.sha256(f"{network}\n{user_id}".encode()).hexdigest()[:16]


def entry_key(giveaway_id: int, network: str, user_id: str, follower_id: int) -> str:
    return f"entry:{giveaway_id}:{identity_hash(network, user_id)}:f{follower_id}:"


async def load_giveaway(ctx: JobContext, giveaway_id: int) -> Giveaway | None:
    data = await ctx.data.get(f"giveaway:{giveaway_id:06d}")
    return Giveaway.load(data) if data else None


def save_giveaway(ctx: JobContext, giveaway: Giveaway) -> None:
    ctx.data.set(giveaway.key, giveaway.dump())


async def all_giveaways(ctx: JobContext) -> list[Giveaway]:
    return [Giveaway.load(v) for _, v in await ctx.data.items("giveaway:")]


async def load_index(ctx: JobContext) -> dict[str, list[dict[str, Any]]]:
    return await ctx.data.get("index", {"open": [], "closed": []})


async def update_index(ctx: JobContext, giveaway: Giveaway) -> None:
    index = await load_index(ctx)
    index["open"] = [m for m in index["open"] if m["id"] != giveaway.id]
    index["closed"] = [m for m in index["closed"] if m["id"] != giveaway.id]
    if giveaway.status == "open":
        index["open"].append(giveaway.matcher)
    else:
        index["closed"] = [giveaway.matcher, *index["closed"]][:RECENTLY_CLOSED]
    ctx.data.set("index", index)


async def entries_of(ctx: JobContext, giveaway_id: int) -> list[Entry]:
    return [Entry.load(k, v) for k, v in await ctx.data.items(f"entry:{giveaway_id}:")]


async def entry_of_person(
    ctx: JobContext, giveaway_id: int, follower_id: int
) -> tuple[str, Entry] | None:
    """This person's entry, whichever of their linked identities made it."""
    for identity in await ctx.bot.store.identities(follower_id):
        found = await ctx.data.items(
            f"entry:{giveaway_id}:{identity_hash(identity.network, identity.user_id)}:"
        )
        if found:
            key, value = found[0]
            return key, Entry.load(key, value)
    return None


# --------------------------------------------------------------------------- rendering


def render_announcement(ctx: JobContext, source: str, variables: Mapping[str, Any]) -> str:
    """Render a message that answers nobody: brand, now and the given variables.

    ``JobContext.render`` even when ``ctx`` is an event's Context, whose own ``render``
    would add the variables of the person who sent the command.
    """
    return JobContext.render(ctx, source, variables)


def stamp(iso: str) -> str:
    """ "2026-01-01T12:00:00+00:00" -> "2026-01-01 12:00 UTC"."""
    return f"{datetime.fromisoformat(iso):%Y-%m-%d %H:%M} UTC"


def when_text(moment: datetime | None) -> str:
    return f"at {moment:%Y-%m-%d %H:%M} UTC" if moment else "when the team closes it"


async def post(
    ctx: JobContext,
    network: str,
    conversation: str,
    private: bool,
    text: str,
    short: str | None = None,
) -> tuple[Decision, str]:
    """Post in a conversation: as the reply when the admin's command came from there.

    Where the network refuses ``text`` as too long (X), ``short`` is tried instead.
    Returns the decision and the text it was about.
    """
    for attempt in (text, short):
        if attempt is None:
            break
        if isinstance(ctx, Context) and ctx.event.conversation.key == (network, conversation):
            decision = await ctx.reply("{{ text }}", variables={"text": attempt}, essential=True)
        else:
            conv = Conversation(network, conversation, private=private)
            decision = await ctx.send(network, conv, attempt)
        if decision.reason is not Reason.TOO_LONG:
            return decision, attempt
    return decision, text


def refused(decision: Decision) -> str | None:
    return (
        None if decision.verdict is not Verdict.REFUSE else f"{decision.reason}: {decision.detail}"
    )


def in_staff_room(ctx: JobContext) -> bool:
    staff = ctx.bot.config.top.staff
    return isinstance(ctx, Context) and ctx.event.conversation.key == (
        staff.network,
        staff.conversation,
    )


async def admin_says(ctx: Context, text: str, *, staff_has_it: bool = False) -> None:
    """Answer an admin; an answer too long for the network (X) goes to the staff channel."""
    decision = await ctx.reply("{{ text }}", variables={"text": text}, essential=True)
    if decision.reason is Reason.TOO_LONG:
        if not staff_has_it:
            await ctx.send_staff(text)
        await ctx.reply(
            "That answer is too long for {{ network }}; I sent it to the staff channel.",
            essential=True,
        )


async def tell_staff(ctx: JobContext, text: str) -> None:
    if in_staff_room(ctx):
        return  # the admin is in the staff room and gets the answer there
    await ctx.send_staff(text)


# --------------------------------------------------------------------------- /giveaway open


_KEY = re.compile(r"([A-Za-z][A-Za-z_-]*)=")
_SMART_QUOTES = str.maketrans(
    {"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "‘": "'", "’": "'"}
)
_ALIASES = {
    "prize": "prize",
    "enter": "enter",
    "entry": "enter",
    "hashtag": "hashtag",
    "tag": "hashtag",
    "phrase": "phrase",
    "post": "post",
    "closes": "closes",
    "close": "closes",
    "closes_in": "closes",
    "ends": "closes",
    "until": "closes",
    "winners": "winners",
    "prizes": "winners",
    "min_days": "min_days",
    "min_interactions": "min_interactions",
    "previous_winners": "previous_winners",
    "channel": "channel",
    "networks": "networks",
    "network": "networks",
}
_UNITS = {
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "week": 604800,
    "weeks": 604800,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")


def split_options(text: str) -> tuple[dict[str, str], list[str]]:
    """``prize="Signed copy" enter=#x`` -> ({"prize": "Signed copy", "enter": "#x"}, problems).

    Forgiving: quotes are optional (``prize=Signed copy enter=#x`` works; words after a
    value belong to it), curly quotes count as quotes, words before the first option
    are the prize, ``-`` and ``_`` are the same in names, and known aliases work.
    """
    text = text.translate(_SMART_QUOTES)
    options: dict[str, str] = {}
    problems: list[str] = []
    key, i = "prize", 0
    parts: list[str] = []
    leading: list[str] = []  # "prize" if the text starts with bare words (the prize)

    def flush() -> None:
        value = " ".join(p for p in parts if p).strip()
        if key in options and key == "prize" and "prize" in leading:
            problems.append(
                "the words before the first option are taken as the prize, and prize= is given too"
            )
        elif key in options:
            problems.append(f"{key}= is given twice")
        elif value or key != "prize":
            options[key] = value
            if not leading:
                leading.append(key)

    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        m = _KEY.match(text, i)
        if m and (i == 0 or text[i - 1].isspace()):
            flush()
            raw = m.group(1).lower().replace("-", "_")
            key, parts, i = _ALIASES.get(raw, raw), [], m.end()
            if raw not in _ALIASES:
                problems.append(
                    f"unknown option {raw}= (known: {', '.join(sorted(set(_ALIASES.values())))})"
                )
            continue
        if text[i] in "\"'":
            end = text.find(text[i], i + 1)
            if end == -1:
                problems.append(f"a quote in {key}= is never closed")
                end = len(text)
            parts.append(text[i + 1 : end])
            i = end + 1
            continue
        end = i
        while end < len(text) and not text[end].isspace():
            end += 1
        parts.append(text[i:end])
        i = end
    flush()
    return {k: v for k, v in options.items() if k in _ALIASES.values()}, problems


def parse_closing(value: str, now: datetime) -> datetime:
    """ "2h", "1d 12h", "in 90 minutes", "2026-05-01 18:00" (UTC unless an offset is given), "18:00"."""
    text = value.strip().lower().removeprefix("in ").strip()
    parts = _DURATION_PART.findall(text)
    if parts and _DURATION_PART.sub("", text).strip(" ,and") == "":
        seconds = 0.0
        for number, unit in parts:
            if unit not in _UNITS:
                raise ValueError(f"closes={value}: unknown time unit {unit!r} (use m, h, d or w)")
            seconds += float(number) * _UNITS[unit]
        return now + timedelta(seconds=seconds)
    try:
        seconds = parse_duration(text)
    except ValueError:
        pass
    else:
        if seconds == 0:
            return now
        raise ValueError(f"closes={value}: say the unit, for example {text}m or {text}h")
    try:
        clock = time.fromisoformat(text)
    except ValueError:
        pass
    else:
        moment = datetime.combine(now.date(), clock, tzinfo=UTC)
        return moment if moment > now else moment + timedelta(days=1)
    try:
        moment = datetime.fromisoformat(value.strip().upper().replace("UTC", "").strip())
    except ValueError:
        raise ValueError(
            f"closes={value} is neither a duration (2h, 90m, 3d) nor a date and time "
            f"(2026-05-01 18:00, in UTC)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _whole(
    value: str, name: str, problems: list[str], minimum: int, maximum: int | None = None
) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        problems.append(f"{name}= must be a whole number, got {value!r}")
        return minimum
    if number < minimum or (maximum is not None and number > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        problems.append(f"{name}= must be {bound}, got {number}")
    return number


def build_giveaway(
    ctx: Context, options: Mapping[str, str], giveaway_id: int, open_now: Sequence[Giveaway]
) -> tuple[Giveaway | None, list[str]]:
    """Turn parsed options into a Giveaway, or say everything that is wrong with them."""
    settings = _settings(ctx)
    problems: list[str] = []
    prize = options.get("prize", "").strip()
    if not prize:
        problems.append('say what the prize is: prize="Signed copy"')
    elif len(prize) > 200:
        problems.append(f"the prize name is {len(prize)} characters long; keep it under 200")

    hashtag = phrase = post_id = ""
    command = False
    enter = options.get("enter", "").strip()
    if "hashtag" in options:
        enter = enter or options["hashtag"].strip()
        if not enter.startswith("#"):
            enter = "#" + enter
    if enter:
        lowered = enter.lower()
        if lowered in ("/enter", "enter", "command", "/command"):
            command = True
        elif lowered in ("react", "reaction", "reactions"):
            if "post" not in options:
                problems.append("enter=reaction needs the post: post=<post id>")
        elif enter.startswith("#"):
            tokens = words(normalize(enter))
            if len(tokens) != 1 or not tokens[0].startswith("#") or len(tokens[0]) < 2:
                problems.append(
                    f"enter={enter} is not a hashtag; use letters, digits or _ after '#'"
                )
            else:
                hashtag = tokens[0]
        else:
            phrase = " ".join(words(normalize(enter)))
    if "phrase" in options:
        phrase = " ".join(words(normalize(options["phrase"])))
        if not phrase:
            problems.append("phrase= needs words to look for")
    if "post" in options:
        post_id = options["post"].strip()
        if not post_id or " " in post_id:
            problems.append("post= needs the id of one post")
    if not (hashtag or phrase or command or post_id) and not any("enter" in p for p in problems):
        problems.append(
            'say how people enter: enter=#hashtag, phrase="...", enter=/enter or post=<post id>'
        )

    winners = _whole(options.get("winners", "1"), "winners", problems, 1, settings.max_winners)
    min_days = _whole(options.get("min_days", str(settings.min_days)), "min_days", problems, 0)
    min_interactions = _whole(
        options.get("min_interactions", str(settings.min_interactions)),
        "min_interactions",
        problems,
        0,
    )

    closes_at = ""
    if options.get("closes", "").strip():
        try:
            closes = parse_closing(options["closes"], ctx.now)
        except ValueError as exc:
            problems.append(str(exc))
        else:
            if closes <= ctx.now:
                problems.append(
                    f"closes={options['closes']} is not in the future "
                    f"(it is {ctx.now:%Y-%m-%d %H:%M} UTC now)"
                )
            closes_at = closes.isoformat()

    previous = options.get(
        "previous_winners", "exclude" if settings.exclude_previous_winners else "allow"
    )
    previous = previous.strip().lower()
    if previous in ("yes", "true", "allow", "allowed", "ok", "welcome"):
        previous = "allow"
    elif previous in ("no", "false", "exclude", "excluded"):
        previous = "exclude"
    else:
        problems.append(f"previous_winners= must be allow or exclude, got {previous!r}")

    running = set(ctx.bot.networks)
    networks = tuple(n.strip().lower() for n in options.get("networks", "").split(",") if n.strip())
    for name in networks:
        if name not in running:
            problems.append(
                f"networks=: {name!r} is not running (running: {', '.join(sorted(running))})"
            )

    network, conversation, private = (
        ctx.event.network,
        ctx.event.conversation.id,
        ctx.event.conversation.private,
    )
    if options.get("channel", "").strip():
        network, sep, conversation = options["channel"].strip().partition(":")
        network, private = network.lower(), False
        if not sep or not conversation:
            problems.append(
                f"channel= must be network:conversation (e.g. telegram:-100123), got {options['channel']!r}"
            )
        elif network not in running:
            problems.append(
                f"channel=: network {network!r} is not running (running: {', '.join(sorted(running))})"
            )
    elif private:
        problems.append(
            "this is a private chat: add channel=network:chat (e.g. channel=telegram:-100123) "
            "so everyone sees the commitment and the winners"
        )

    for other in open_now:
        if hashtag and other.hashtag == hashtag:
            problems.append(
                f"giveaway #{other.id} is already open with {hashtag}; close it or pick another hashtag"
            )
        if phrase and other.phrase == phrase:
            problems.append(f"giveaway #{other.id} is already open with the phrase {phrase!r}")
        if post_id and other.post == post_id:
            problems.append(f"giveaway #{other.id} is already open on post {post_id}")

    if problems:
        return None, problems
    seed = drawing.new_seed()
    return Giveaway(
        id=giveaway_id,
        prize=prize,
        winners=winners,
        hashtag=hashtag,
        phrase=phrase,
        command=command,
        post=post_id,
        networks=networks,
        min_days=min_days,
        min_interactions=min_interactions,
        previous_winners=previous,  # type: ignore[arg-type]
        network=network,
        conversation=conversation,
        private=private,
        opened_at=ctx.now.isoformat(),
        closes_at=closes_at,
        commitment=drawing.commitment(seed),
        seed=seed,
        secret=secrets.token_hex(16),
    ), []


async def open_giveaway(ctx: Context) -> None:
    match = re.match(r"\s*\S+\s+\S+(.*)$", ctx.event.text, re.DOTALL)
    options, problems = split_options(match.group(1) if match else "")
    open_now = [g for g in await all_giveaways(ctx) if g.status == "open"]
    giveaway_id = int(await ctx.data.get("next_id", 0)) + 1
    giveaway, more = build_giveaway(ctx, options, giveaway_id, open_now)
    problems += more
    if problems or giveaway is None:
        listed = "\n".join(f"- {p}" for p in problems)
        await admin_says(ctx, f"Can't open the giveaway:\n{listed}\n{USAGE}")
        return
    ctx.data.set("next_id", giveaway_id)
    save_giveaway(ctx, giveaway)
    await update_index(ctx, giveaway)
    if giveaway.closes:
        ctx.schedule("close", giveaway.closes, {"id": giveaway.id}, key=str(giveaway.id))
    variables = {
        "id": giveaway.id,
        "prize": giveaway.prize,
        "how": giveaway.how(),
        "winners": giveaway.winners,
        "draw_time": when_text(giveaway.closes),
        "commitment": giveaway.commitment,
        "hashtag": giveaway.hashtag,
        "phrase": giveaway.phrase,
        "post": giveaway.post,
    }
    text = render_announcement(ctx, _settings(ctx).messages.opened, variables)
    short = render_announcement(ctx, _settings(ctx).messages.opened_short, variables)
    decision, _ = await post(
        ctx, giveaway.network, giveaway.conversation, giveaway.private, text, short
    )
    where = f"{giveaway.network}:{giveaway.conversation}"
    problem = refused(decision)
    if problem:
        await admin_says(
            ctx,
            f"Opened giveaway #{giveaway.id}, but the announcement in {where} was refused "
            f"({problem}). Its text is in the staff channel: post it yourself.",
        )
    elif not ctx.replied:
        await admin_says(
            ctx, f"Opened giveaway #{giveaway.id} ({giveaway.prize}); announced in {where}."
        )
    staff_text = (
        f"Giveaway #{giveaway.id} opened: {giveaway.prize}, {giveaway.winners} winner(s), "
        f"closes {when_text(giveaway.closes)}. "
        + (
            f"Announcement refused in {where}; post it yourself:\n{text}"
            if problem
            else f"Announced in {where}. "
        )
        + f"Commitment (SHA-256 of the secret seed): {giveaway.commitment}"
    )
    if problem:
        await ctx.send_staff(staff_text)
    else:
        await tell_staff(ctx, staff_text)


# --------------------------------------------------------------------------- entering


def _matches_text(matcher: Mapping[str, Any], event_words: list[str]) -> bool:
    if matcher["hashtag"] and matcher["hashtag"] in event_words:
        return True
    phrase = matcher["phrase"].split() if matcher["phrase"] else []
    if phrase:
        n = len(phrase)
        return any(event_words[i : i + n] == phrase for i in range(len(event_words) - n + 1))
    return False


def _on_network(matcher: Mapping[str, Any], network: str) -> bool:
    return not matcher["networks"] or network in matcher["networks"]


async def ineligibility(
    ctx: JobContext, giveaway: Giveaway, follower: FollowerRecord, *, at_entry: bool
) -> str | None:
    """Which rule keeps this person out (a Messages field name), or None if they may win.

    At entry every rule applies; at the draw only those that can change in between:
    opting out, staff tags, becoming admin, having won another giveaway meanwhile.
    """
    settings = _settings(ctx)
    if follower.opted_out:
        return "opted_out"
    if settings.exclude_admins and ctx.bot.config.top.admins:
        for identity in await ctx.bot.store.identities(follower.id):
            if ctx.bot.config.is_admin(identity.network, identity.user_id, identity.handle):
                return "reason_staff"
    if follower.tags & set(settings.exclude_tags):
        return "reason_staff" if "staff" in follower.tags else "reason_excluded"
    if giveaway.previous_winners == "exclude" and settings.winner_tag.lower() in follower.tags:
        return "reason_previous_winner"
    if at_entry:
        if follower.days_known(ctx.now) < giveaway.min_days:
            return "reason_new"
        if follower.interactions - 1 < giveaway.min_interactions:  # this entry is already counted
            return "reason_interactions"
    return None


async def enter(ctx: Context, giveaway: Giveaway) -> str | None:
    """Enter the person; returns what to say (rendered), or None for silence."""
    messages = _settings(ctx).messages
    variables: dict[str, Any] = {"id": giveaway.id, "prize": giveaway.prize}
    if giveaway.status != "open":
        return ctx.render(messages.closed, variables)
    existing = await entry_of_person(ctx, giveaway.id, ctx.follower.id)
    if existing is not None:
        key, entry = existing
        if entry.told:
            ctx.note("skip", f"already in giveaway #{giveaway.id}; said so once")
            return None
        ctx.data.set(key, dataclasses.replace(entry, told=True).dump(), follower_id=ctx.follower.id)
        return ctx.render(messages.already_entered, {**variables, "entry": entry.entry})
    why = await ineligibility(ctx, giveaway, ctx.follower, at_entry=True)
    if why == "opted_out":
        ctx.note("skip", f"opted out: not entered in giveaway #{giveaway.id}")
        return None
    if why is not None:
        reason = ctx.render(
            getattr(messages, why),
            {"min_days": giveaway.min_days, "min_interactions": giveaway.min_interactions},
        )
        ctx.note("skip", f"not eligible for giveaway #{giveaway.id}: {why}")
        return ctx.render(messages.not_eligible, {**variables, "reason": reason})
    event = ctx.event
    entry = Entry(
        entry=drawing.entry_id(giveaway.secret, giveaway.id, f"{event.network}:{event.author.id}"),
        follower_id=ctx.follower.id,
        network=event.network,
        user_id=event.author.id,
        conversation=event.conversation.id,
        private=event.conversation.private,
        post_id=event.post_id or "",
        at=ctx.now.isoformat(),
    )
    ctx.data.set(
        entry_key(giveaway.id, event.network, event.author.id, ctx.follower.id),
        entry.dump(),
        follower_id=ctx.follower.id,
    )
    ctx.note("action", f"entered giveaway #{giveaway.id} as {entry.entry}")
    if _settings(ctx).entry_points:
        await ctx.add_points(_settings(ctx).entry_points, f"plugin:giveaway entry #{giveaway.id}")
    return ctx.render(
        messages.entered,
        {**variables, "entry": entry.entry, "draw_time": when_text(giveaway.closes)},
    )


async def answer(
    ctx: Context, texts: Iterable[str | None], *, once_key: str | None = None, asked: bool = False
) -> None:
    """Say what entering produced, in one reply; ``asked`` (a command) always gets an answer."""
    said = [t for t in texts if t]
    if not said:
        return
    if not asked and not _settings(ctx).confirm_entries:
        ctx.note("skip", "confirm_entries is off")
        return
    await ctx.reply("{{ text }}", variables={"text": "\n".join(said)}, once_key=once_key)


@plugin.on(*TEXT_KINDS, priority=200)
async def enter_by_text(ctx: Context) -> None:
    """Entries by hashtag or phrase in a mention, reply, quote, message or DM."""
    index = await load_index(ctx)
    event_words = words(normalize(ctx.event.text))
    if not event_words:
        ctx.fall_through()
        return
    hits = [
        m
        for m in index["open"]
        if _on_network(m, ctx.event.network) and _matches_text(m, event_words)
    ]
    if hits:
        texts = []
        for matcher in hits:
            giveaway = await load_giveaway(ctx, matcher["id"])
            if giveaway is not None:
                texts.append(await enter(ctx, giveaway))
        await answer(ctx, texts)
        return
    late = [
        m
        for m in index["closed"]
        if _on_network(m, ctx.event.network)
        and _matches_text(m, event_words)
        and m["closed_at"]
        and datetime.fromisoformat(m["closed_at"]) + LATE_WINDOW > ctx.now
    ]
    if late:
        giveaway = await load_giveaway(ctx, late[0]["id"])
        if giveaway is not None:
            text = ctx.render(
                _settings(ctx).messages.closed, {"id": giveaway.id, "prize": giveaway.prize}
            )
            await answer(ctx, [text], once_key=f"giveaway:{giveaway.id}:late:f{ctx.follower.id}:")
            return
    ctx.fall_through()


@plugin.on(Kind.REACTION, priority=200)
async def enter_by_reaction(ctx: Context) -> None:
    """Entries by reacting to the giveaway's post; silent unless confirm_reactions is on."""
    index = await load_index(ctx)
    post_id = ctx.event.refers_to
    hits = [
        m
        for m in index["open"]
        if post_id and m["post"] == post_id and _on_network(m, ctx.event.network)
    ]
    for matcher in hits:
        giveaway = await load_giveaway(ctx, matcher["id"])
        if giveaway is not None:
            text = await enter(ctx, giveaway)
            if text and _settings(ctx).confirm_reactions:
                await answer(ctx, [text])
    if not ctx.replied:
        ctx.fall_through()  # a reaction rule may still say thanks


@plugin.command("enter", description="Enter the giveaway that is open (/enter <id> if several are)")
async def enter_command(ctx: Context) -> None:
    messages = _settings(ctx).messages
    index = await load_index(ctx)
    candidates = [m for m in index["open"] if m["command"] and _on_network(m, ctx.event.network)]
    if ctx.event.args:
        wanted = ctx.event.args[0].lstrip("#")
        if not wanted.isdigit():
            await ctx.reply(
                "Send /enter, or /enter followed by the giveaway number (like /enter 7)."
            )
            return
        giveaway = await load_giveaway(ctx, int(wanted))
        if giveaway is None:
            await ctx.reply("There's no giveaway #{{ id }}, {{ name }}.", variables={"id": wanted})
            return
        if giveaway.status == "closed":
            await ctx.reply(messages.closed, variables={"id": giveaway.id, "prize": giveaway.prize})
            return
        if not giveaway.command:
            await ctx.reply(
                "Giveaway #{{ id }} isn't entered with /enter. {{ how }}",
                variables={"id": giveaway.id, "how": giveaway.how()},
            )
            return
        if not _on_network(giveaway.matcher, ctx.event.network):
            await ctx.reply(
                "Giveaway #{{ id }} is open on {{ where }} only.",
                variables={"id": giveaway.id, "where": ", ".join(giveaway.networks)},
            )
            return
        await answer(ctx, [await enter(ctx, giveaway)], asked=True)
        return
    if len(candidates) > 1:
        choices = "; ".join(f"/enter {m['id']}" for m in candidates)
        await ctx.reply(
            "Several giveaways are open, {{ name }}: {{ choices }}.", variables={"choices": choices}
        )
        return
    if not candidates:
        recent = [m for m in index["closed"] if m["command"]]
        if (
            recent
            and recent[0]["closed_at"]
            and datetime.fromisoformat(recent[0]["closed_at"]) + LATE_WINDOW > ctx.now
        ):
            giveaway = await load_giveaway(ctx, recent[0]["id"])
            if giveaway is not None:
                await ctx.reply(
                    messages.closed, variables={"id": giveaway.id, "prize": giveaway.prize}
                )
                return
        await ctx.reply("There's no giveaway to /enter right now, {{ name }}.")
        return
    giveaway = await load_giveaway(ctx, candidates[0]["id"])
    if giveaway is not None:
        await answer(ctx, [await enter(ctx, giveaway)], asked=True)


# --------------------------------------------------------------------------- closing and the draw


@dataclass(frozen=True)
class Candidate:
    entry: Entry
    follower: FollowerRecord


async def eligible_entries(ctx: JobContext, giveaway: Giveaway) -> tuple[dict[str, Candidate], int]:
    """Entries the draw runs on, one per person (linked accounts count once), and how many were left out."""
    by_person: dict[int, Candidate] = {}
    # Earliest entry first (follower ids, given in order of first contact, break ties), so the
    # entry that stands for a person who entered from two accounts before linking them is stable.
    for entry in sorted(
        await entries_of(ctx, giveaway.id), key=lambda e: (e.at, e.follower_id, e.entry)
    ):
        follower = await holder(ctx, entry)
        if follower is None or follower.id in by_person:
            continue
        by_person[follower.id] = Candidate(entry, follower)
    eligible: dict[str, Candidate] = {}
    for candidate in by_person.values():
        why = await ineligibility(ctx, giveaway, candidate.follower, at_entry=False)
        if why is None:
            eligible[candidate.entry.entry] = candidate
        else:
            ctx.log.info(
                "giveaway #%d: entry %s left out of the draw (%s)",
                giveaway.id,
                candidate.entry.entry,
                why,
            )
    return eligible, len(by_person) - len(eligible)


def export_path(ctx: JobContext, giveaway_id: int) -> Path | None:
    folder = _settings(ctx).export_dir
    if not folder or ctx.bot.dry_run:  # simulate writes nothing outside its memory
        return None
    return ctx.bot.config.path.parent / folder / f"giveaway-{giveaway_id}.json"


async def export_data(ctx: JobContext, giveaway: Giveaway) -> dict[str, Any]:
    entries = await ctx.data.get(f"draw:{giveaway.id}", [])
    return drawing.make_export(
        giveaway=giveaway.id,
        prize=giveaway.prize,
        commitment=giveaway.commitment,
        seed=giveaway.seed,
        entries=entries,
        winners=giveaway.drawn,
        forfeited=giveaway.forfeited,
        opened=giveaway.opened_at,
        closed=giveaway.closed_at,
    )


async def write_export(ctx: JobContext, giveaway: Giveaway) -> Path | None:
    """Write giveaway-<id>.json next to the config, for publishing and ``brandbot giveaway verify``."""
    path = export_path(ctx, giveaway.id)
    if path is None:
        return None
    data = await export_data(ctx, giveaway)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".json.partial")
        partial.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        partial.replace(path)
    except OSError as exc:
        ctx.log.error("giveaway #%d: could not write %s: %s", giveaway.id, path, exc)
        return None
    return path


async def notify_winner(
    ctx: JobContext, giveaway: Giveaway, candidate: Candidate, announced_in: tuple[str, str]
) -> None:
    """A note where the winner entered, when that is not where the results were posted.

    In a private chat only because the person wrote there first (entering by DM); the
    policy refuses any other DM, as the platforms do.
    """
    entry = candidate.entry
    if (entry.network, entry.conversation) == announced_in:
        return
    text = render_announcement(
        ctx,
        _settings(ctx).messages.winner_note,
        {"id": giveaway.id, "prize": giveaway.prize, "winner": candidate.follower.name},
    )
    where = Conversation(entry.network, entry.conversation, private=entry.private)
    decision = await ctx.send(entry.network, where, text, follower_id=candidate.follower.id)
    if refused(decision):
        ctx.log.info(
            "giveaway #%d: winner note on %s refused: %s",
            giveaway.id,
            entry.network,
            refused(decision),
        )


def names(people: Sequence[str]) -> str:
    return people[0] if len(people) == 1 else ", ".join(people[:-1]) + " and " + people[-1]


async def holder(ctx: JobContext, entry: Entry) -> FollowerRecord | None:
    """The follower an entry belongs to now (they may have linked accounts since)."""
    follower = await ctx.bot.store.get_follower(entry.follower_id)
    if follower is None:  # merged into another follower: whoever holds the identity now
        follower = await ctx.bot.store.find_follower(entry.network, entry.user_id)
    return follower


async def close_giveaway(ctx: JobContext, giveaway: Giveaway) -> str:
    """Close, draw, publish winners and seed, tell staff. Returns a summary for the admin.

    Three steps, each saved before the next starts, so a crash or timeout in between is
    resumed where it stopped (at the next start, or by ``/giveaway close``) and never
    announces two different draws: closed (no new entries) -> drawn -> announced.
    """
    if giveaway.status == "open":
        giveaway = dataclasses.replace(giveaway, status="closed", closed_at=ctx.now.isoformat())
        save_giveaway(ctx, giveaway)  # first: entries arriving from now on are told "closed"
        await update_index(ctx, giveaway)
        ctx.cancel(f"giveaway:close:{giveaway.id}")
    if not giveaway.drawn_at:
        giveaway = await run_draw(ctx, giveaway)
    return await announce_results(ctx, giveaway)


async def run_draw(ctx: JobContext, giveaway: Giveaway) -> Giveaway:
    """Draw on the eligible entries and save the result (and the list it ran on)."""
    eligible, excluded = await eligible_entries(ctx, giveaway)
    entries = sorted(eligible)
    drawn = drawing.draw(giveaway.seed, entries, giveaway.winners)
    ctx.data.set(f"draw:{giveaway.id}", entries)
    giveaway = dataclasses.replace(
        giveaway,
        entries=len(entries),
        excluded=excluded,
        drawn=tuple(drawn),
        drawn_at=ctx.now.isoformat(),
    )
    save_giveaway(ctx, giveaway)
    for entry_id in drawn:
        await ctx.bot.tag_follower(eligible[entry_id].follower.id, add=[_settings(ctx).winner_tag])
    return giveaway


async def announce_results(ctx: JobContext, giveaway: Giveaway) -> str:
    settings = _settings(ctx)
    entries: list[str] = await ctx.data.get(f"draw:{giveaway.id}", [])
    rows = {e.entry: e for e in await entries_of(ctx, giveaway.id)}
    winners: list[Candidate] = []
    for entry_id in giveaway.drawn:
        row = rows.get(entry_id)
        follower = await holder(ctx, row) if row else None
        if row is not None and follower is not None:  # else forgotten since the draw
            winners.append(Candidate(row, follower))
    path = await write_export(ctx, giveaway)
    variables = {
        "id": giveaway.id,
        "prize": giveaway.prize,
        "seed": giveaway.seed,
        "commitment": giveaway.commitment,
        "entries": len(entries),
        "winners": names([c.follower.name for c in winners]) if winners else "",
        "claim_within": settings.claim_within,
        "fingerprint": drawing.entries_digest(entries),
    }
    template = settings.messages.results if winners else settings.messages.no_entries
    text = render_announcement(ctx, template, variables)
    short = (
        render_announcement(ctx, settings.messages.results_short, variables) if winners else None
    )
    decision, _ = await post(
        ctx, giveaway.network, giveaway.conversation, giveaway.private, text, short
    )
    for candidate in winners:
        await notify_winner(ctx, giveaway, candidate, (giveaway.network, giveaway.conversation))
    if winners:
        ctx.schedule(
            "claim_deadline",
            ctx.now + timedelta(seconds=parse_duration(settings.claim_within)),
            {"id": giveaway.id},
            key=str(giveaway.id),
        )
    save_giveaway(ctx, dataclasses.replace(giveaway, announced=True))
    listed = (
        ", ".join(f"{c.follower.name} ({c.entry.entry}, {c.entry.network})" for c in winners)
        or "nobody"
    )
    left_out = (
        f", {giveaway.excluded} left out (opted out, staff or previous winners)"
        if giveaway.excluded
        else ""
    )
    summary = (
        f"Giveaway #{giveaway.id} ({giveaway.prize}) closed: {len(entries)} eligible entries"
        f"{left_out}. Winners: {listed}. Seed {giveaway.seed}."
        + (f" Entry list: {path}." if path else "")
    )
    problem = refused(decision)
    if problem:
        summary += (
            f" The results could not be posted in {giveaway.network}:{giveaway.conversation} "
            f"({problem}); post them yourself:\n{text}"
        )
    await tell_staff(ctx, summary)
    return summary


@plugin.job("close")
async def close_job(ctx: JobContext) -> None:
    giveaway = await load_giveaway(ctx, int(ctx.payload["id"]))
    if giveaway is None or giveaway.announced:
        ctx.log.info(
            "giveaway close job for #%s: nothing to do (unknown or closed already)",
            ctx.payload.get("id"),
        )
        return
    await close_giveaway(ctx, giveaway)


@plugin.on_start
async def resume_interrupted_draws(ctx: JobContext) -> None:
    """A draw cut short by a crash or a stop is finished at the next start."""
    for giveaway in await all_giveaways(ctx):
        if giveaway.status == "closed" and not giveaway.announced:
            ctx.log.warning("giveaway #%d: finishing a draw interrupted by a restart", giveaway.id)
            await close_giveaway(ctx, giveaway)


@plugin.job("claim_deadline")
async def claim_deadline(ctx: JobContext) -> None:
    """Remind the staff of prizes nobody claimed, with the command that redraws them."""
    giveaway = await load_giveaway(ctx, int(ctx.payload["id"]))
    if giveaway is None or not giveaway.pending:
        return
    entries = {e.entry: e for e in await entries_of(ctx, giveaway.id)}
    lines = []
    for entry_id in giveaway.pending:
        entry = entries.get(entry_id)
        follower = await holder(ctx, entry) if entry else None
        who = follower.name if follower else "(forgotten person)"
        lines.append(f"{who} ({entry_id}): /giveaway redraw {giveaway.id} {entry_id}")
    await ctx.send_staff(
        f"Giveaway #{giveaway.id} ({giveaway.prize}): not claimed after "
        f"{_settings(ctx).claim_within}:\n" + "\n".join(lines)
    )


# --------------------------------------------------------------------------- admin commands


async def pick_giveaway(
    ctx: Context, arg: str | None, *, status: str | None = None
) -> Giveaway | None:
    """The giveaway an admin meant: by number, or the only one in ``status``; says why not."""
    if arg is None:
        found = [g for g in await all_giveaways(ctx) if status is None or g.status == status]
        if len(found) == 1:
            return found[0]
        if not found:
            await admin_says(ctx, f"There is no {status or ''} giveaway.".replace("  ", " "))
        else:
            await admin_says(
                ctx,
                "Several giveaways are " + (status or "there") + ": say which, e.g. "
                f"/giveaway {ctx.event.args[0].lower()} {found[-1].id}",
            )
        return None
    number = arg.lstrip("#")
    giveaway = await load_giveaway(ctx, int(number)) if number.isdigit() else None
    if giveaway is None:
        await admin_says(ctx, f"There's no giveaway {arg}. /giveaway list shows them.")
    return giveaway


async def close_command(ctx: Context, arg: str | None) -> None:
    giveaway = await pick_giveaway(ctx, arg, status="open" if arg is None else None)
    if giveaway is None:
        return
    if giveaway.announced:
        await admin_says(
            ctx,
            f"Giveaway #{giveaway.id} is already closed (since {stamp(giveaway.closed_at)}); "
            f"winners were drawn then. /giveaway export {giveaway.id} shows the draw.",
        )
        return
    summary = await close_giveaway(ctx, giveaway)
    if not ctx.replied:
        await admin_says(ctx, summary, staff_has_it=not in_staff_room(ctx))


async def list_command(ctx: Context) -> None:
    giveaways = (await all_giveaways(ctx))[-10:]
    if not giveaways:
        await admin_says(ctx, "No giveaways yet. " + USAGE.splitlines()[0])
        return
    lines = []
    for g in reversed(giveaways):
        if g.status == "open":
            count = len({e.follower_id for e in await entries_of(ctx, g.id)})
            lines.append(
                f"#{g.id} {g.prize}: open, {count} entries, closes {when_text(g.closes)}. {g.how()}"
            )
        else:
            lines.append(
                f"#{g.id} {g.prize}: closed {stamp(g.closed_at)}, {g.entries} entries, "
                f"{len(g.claimed)} claimed, {len(g.pending)} waiting, {len(g.forfeited)} redrawn"
            )
    await admin_says(ctx, "\n".join(lines))


async def redraw_command(ctx: Context, args: Sequence[str]) -> None:
    if len(args) < 2:
        await admin_says(ctx, "Usage: /giveaway redraw <id> <entry id or winner's name>")
        return
    giveaway = await pick_giveaway(ctx, args[0])
    if giveaway is None:
        return
    if giveaway.status != "closed":
        await admin_says(ctx, f"Giveaway #{giveaway.id} is still open; nothing was drawn yet.")
        return
    target = " ".join(args[1:]).strip()
    entries = {e.entry: e for e in await entries_of(ctx, giveaway.id)}
    wanted = None
    for entry_id in giveaway.drawn:
        entry = entries.get(entry_id)
        follower = await holder(ctx, entry) if entry else None
        if entry_id == target.lower() or (
            follower and normalize(follower.name) == normalize(target)
        ):
            wanted = entry_id
            if entry_id in giveaway.pending:
                break
    if wanted is None:
        await admin_says(
            ctx,
            f"{target} is not a winner of giveaway #{giveaway.id}. Winners: "
            + ", ".join(giveaway.pending or ["none waiting"]),
        )
        return
    if wanted in giveaway.claimed:
        await admin_says(ctx, f"{wanted} already claimed the prize; there is nothing to redraw.")
        return
    if wanted in giveaway.forfeited:
        await admin_says(ctx, f"{wanted} was already redrawn.")
        return
    await redraw(ctx, giveaway, wanted)


async def redraw(ctx: Context, giveaway: Giveaway, forfeiting: str) -> None:
    """Mark one winner as forfeited and draw the next from the same seed and entry list."""
    settings = _settings(ctx)
    entries: list[str] = await ctx.data.get(f"draw:{giveaway.id}", [])
    by_entry = {e.entry: e for e in await entries_of(ctx, giveaway.id)}
    forfeited = [*giveaway.forfeited, forfeiting]
    drawn = list(giveaway.drawn)
    winner: tuple[str, FollowerRecord] | None = None
    skipped: list[str] = []
    while len(drawn) < len(entries):
        candidate = drawing.draw(giveaway.seed, entries, len(drawn) + 1)[-1]
        drawn.append(candidate)
        entry = by_entry.get(candidate)
        follower = await holder(ctx, entry) if entry else None
        if (
            follower is None
            or await ineligibility(ctx, giveaway, follower, at_entry=False) is not None
        ):
            forfeited.append(candidate)  # forgotten, opted out, or won elsewhere since the draw
            skipped.append(candidate)
            continue
        winner = (candidate, follower)
        break
    giveaway = dataclasses.replace(giveaway, drawn=tuple(drawn), forfeited=tuple(forfeited))
    save_giveaway(ctx, giveaway)
    path = await write_export(ctx, giveaway)
    skipped_note = f" Skipped {', '.join(skipped)} (no longer eligible)." if skipped else ""
    if winner is None:
        await admin_says(
            ctx,
            f"{forfeiting} forfeited, but no eligible entry is left to draw: "
            f"the prize of giveaway #{giveaway.id} stays unclaimed.{skipped_note}",
        )
        return
    entry_id, follower = winner
    await ctx.bot.tag_follower(follower.id, add=[settings.winner_tag])
    text = render_announcement(
        ctx,
        settings.messages.redrawn,
        {
            "id": giveaway.id,
            "prize": giveaway.prize,
            "winner": follower.name,
            "claim_within": settings.claim_within,
        },
    )
    decision, _ = await post(ctx, giveaway.network, giveaway.conversation, giveaway.private, text)
    entry = by_entry[entry_id]
    await notify_winner(
        ctx, giveaway, Candidate(entry, follower), (giveaway.network, giveaway.conversation)
    )
    ctx.schedule(
        "claim_deadline",
        ctx.now + timedelta(seconds=parse_duration(settings.claim_within)),
        {"id": giveaway.id},
        key=str(giveaway.id),
    )
    problem = refused(decision)
    summary = (
        f"Redrew giveaway #{giveaway.id}: {forfeiting} forfeited; draw number {len(drawn)} "
        f"is {follower.name} ({entry_id}, {entry.network}).{skipped_note}"
        + (
            f" The announcement was refused ({problem}); post it yourself:\n{text}"
            if problem
            else ""
        )
        + (f" Entry list updated: {path}." if path else "")
    )
    if ctx.replied:  # the announcement was the answer: the details go to the staff
        await tell_staff(ctx, summary)
    else:
        await admin_says(ctx, summary)


async def export_command(ctx: Context, arg: str | None) -> None:
    giveaway = await pick_giveaway(ctx, arg, status="closed" if arg is None else None)
    if giveaway is None:
        return
    if giveaway.status != "closed":
        await admin_says(
            ctx,
            f"Giveaway #{giveaway.id} is still open: the entry list is published when it closes "
            f"(the seed must stay secret until then). Commitment: {giveaway.commitment}",
        )
        return
    path = await write_export(ctx, giveaway)
    data = await export_data(ctx, giveaway)
    check = drawing.verify_export(data)
    await admin_says(
        ctx,
        (
            f"Giveaway #{giveaway.id} ({giveaway.prize}): {data['entries_count']} entries, fingerprint "
            f"{data['entries_sha256']}; seed {giveaway.seed}; commitment {giveaway.commitment}; draw order "
            f"{', '.join(giveaway.drawn) or 'none'}"
            + (f"; forfeited {', '.join(giveaway.forfeited)}" if giveaway.forfeited else "")
            + f". Self-check: {'ok' if check.ok else '; '.join(check.reasons)}."
            + (f" File: {path} (check it with: brandbot giveaway verify {path})" if path else "")
        ),
    )


@plugin.command(
    "giveaway", admin=True, description="Run giveaways: open, close, list, redraw, export"
)
async def giveaway_command(ctx: Context) -> None:
    args = ctx.event.args
    sub = args[0].lower() if args else ""
    if sub == "open":
        await open_giveaway(ctx)
    elif sub == "close":
        await close_command(ctx, args[1] if len(args) > 1 else None)
    elif sub == "list":
        await list_command(ctx)
    elif sub == "redraw":
        await redraw_command(ctx, args[1:])
    elif sub == "export":
        await export_command(ctx, args[1] if len(args) > 1 else None)
    else:
        problem = f"Unknown /giveaway command {sub!r}.\n" if sub else ""
        await admin_says(ctx, problem + USAGE)


# --------------------------------------------------------------------------- claiming


@plugin.command("claim", description="Claim a giveaway prize you won (in a private message)")
async def claim(ctx: Context) -> None:
    messages = _settings(ctx).messages
    wanted = ctx.event.args[0].lstrip("#") if ctx.event.args else None
    if not ctx.event.conversation.private:
        await ctx.reply(messages.claim_in_private, variables={"id": wanted or ""}, essential=True)
        return
    giveaways = [
        g
        for g in await all_giveaways(ctx)
        if g.status == "closed" and g.drawn and (wanted is None or str(g.id) == wanted)
    ]
    said: list[str] = []
    notices: list[str] = []
    for giveaway in giveaways:
        found = await entry_of_person(ctx, giveaway.id, ctx.follower.id)
        if found is None or found[1].entry not in giveaway.drawn:
            continue
        entry_id = found[1].entry
        variables = {"id": giveaway.id, "prize": giveaway.prize, "entry": entry_id}
        if entry_id in giveaway.claimed:
            said.append(ctx.render(messages.already_claimed, variables))
        elif entry_id in giveaway.forfeited:
            said.append(ctx.render(messages.forfeited, variables))
        else:
            save_giveaway(ctx, dataclasses.replace(giveaway, claimed=(*giveaway.claimed, entry_id)))
            said.append(ctx.render(messages.claimed, variables))
            notices.append(
                f"Giveaway #{giveaway.id} ({giveaway.prize}): {ctx.follower.name} claimed the prize "
                f"(entry {entry_id}). Reach them in the private chat {ctx.event.network}:{ctx.event.conversation.id}."
            )
    if not said:
        said.append(ctx.render(messages.nothing_to_claim, {}))
    await ctx.reply("{{ text }}", variables={"text": "\n".join(said)}, essential=True)
    for notice in notices:
        await ctx.send_staff(notice)


# --------------------------------------------------------------------------- checks


def _declared(engine: TemplateEngine, source: str) -> set[str]:
    return set(meta.find_undeclared_variables(engine.environment.parse(source)))


@plugin.check
def check_messages(settings: GiveawaySettings, bot_config: Any) -> None:
    """Every message compiles and uses only variables it will have: caught before the bot starts."""
    engine = TemplateEngine(bot_config.brand)
    section = next((s for s in bot_config.plugins if s.name == "giveaway"), None)
    base = tuple(section.loc) if section is not None else ("plugins", "giveaway")
    for field, extra in MESSAGE_VARIABLES.items():
        source = getattr(settings.messages, field)
        where = bot_config.where(*base, "messages", field)
        template = engine.compile(source, where)
        if field in ANNOUNCEMENTS:
            available = {"brand", "now", *extra}
            unknown = sorted(
                _declared(engine, source) - available - set(engine.environment.globals)
            )
            if unknown:
                raise ConfigError(
                    f"giveaway messages.{field} uses {', '.join(unknown)}, which announcements don't have "
                    f"(they answer nobody in particular); available: {', '.join(sorted(available))}",
                    where,
                )
        engine.check(template, where, extra_names=extra)
    try:
        parse_duration(settings.claim_within)
    except ValueError as exc:
        raise ConfigError(
            f"giveaway claim_within: {exc}", bot_config.where(*base, "claim_within")
        ) from None
