"""The gate every outgoing action passes before the outbox: may this be sent, now?

The policy is pure: the caller gathers the facts (is the person opted out, did we
already answer this post, how much did we spend today, what time is it) into a
:class:`SendRequest`, and :meth:`Policy.decide` returns a :class:`Decision` with a
reason a human can read. Keeping the facts and the decision apart makes every rule
testable in isolation and every refusal explainable in the history.

Order of checks (the first that applies decides):

0. the network is read-only (blogs: the bot never posts there)    -> REFUSE READ_ONLY
1. the person is unreachable on this network (blocked us, left)  -> REFUSE UNREACHABLE
2. the text is empty (a template rendered to nothing)              -> REFUSE EMPTY
   the text can never be sent here (``Network.check_text``)       -> REFUSE TOO_LONG
3. the person opted out (unless ``essential``)                     -> REFUSE OPTED_OUT
4. a human took over the conversation (unless an ``essential``
   reply to the person's own request: "stop", /forgetme)          -> REFUSE HANDED_OFF
5. the network requires summons and the person did not summon us  -> REFUSE NOT_SUMMONED
6. a private message the person never started                      -> REFUSE UNSOLICITED_DM
7. the once-per-(rule, person, post) key is already used           -> REFUSE ALREADY_ANSWERED
8. the person is flooding (unless ``essential``)                   -> REFUSE FLOOD
9. the person's replies this hour / today on this network reached
   their budget (unless ``essential``)                            -> REFUSE PERSON_BUDGET
10. the person's share of the daily cost budget is spent
   (unless ``essential``)                                         -> REFUSE PERSON_COST_BUDGET
11. quiet hours (unless ``essential``)       -> DEFER until they end, or REFUSE per mode
12. daily cost budget (unless ``essential``) -> DEFER until the next UTC midnight
13. hourly rate budget (unless ``essential``) -> DEFER until the next UTC hour
14. otherwise                                                      -> ALLOW

Hard facts (who may be contacted at all, and what the platform allows) come before
soft limits (time of day, money, rate), so a refusal always names the most permanent
reason: an opted-out person who is also handed off is refused as OPTED_OUT. The
per-person limits refuse rather than defer (a flood of replies must not wait for the
morning and leave all at once), so they come before the brand-wide deferrals.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from brandbot.core.durations import Duration
from brandbot.core.events import SUMMONING_KINDS, Kind
from brandbot.core.fastinit import fast_init


class Verdict(enum.StrEnum):
    ALLOW = "allow"
    REFUSE = "refuse"
    DEFER = "defer"


class Reason(enum.StrEnum):
    OK = "ok"
    OPTED_OUT = "opted_out"
    UNREACHABLE = "unreachable"
    NOT_SUMMONED = "not_summoned"
    ALREADY_ANSWERED = "already_answered"
    QUIET_HOURS = "quiet_hours"
    HANDED_OFF = "handed_off"
    RATE_BUDGET = "rate_budget"
    COST_BUDGET = "cost_budget"
    UNSOLICITED_DM = "unsolicited_dm"
    TOO_LONG = "too_long"
    EMPTY = "empty"
    FLOOD = "flood"
    PERSON_BUDGET = "person_budget"
    PERSON_COST_BUDGET = "person_cost_budget"
    READ_ONLY = "read_only"


@fast_init
@dataclass(frozen=True, slots=True)
class Decision:
    """What the policy decided, why (for people reading the history), and until when."""

    verdict: Verdict
    reason: Reason
    detail: str
    until: datetime | None = None  # set for DEFER: when it is worth asking again

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.ALLOW


ALLOWED = Decision(Verdict.ALLOW, Reason.OK, "allowed")


def summons_rule(network: str) -> str:
    """The platform rule, as a sentence, for networks that require summons."""
    return (
        f"{network} allows automated replies only to people who mentioned or quoted the account"
    )


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"policy needs timezone-aware times; got naive {now.isoformat()}")


# --------------------------------------------------------------------------- config


def _parse_clock(value: object) -> object:
    """Accept "HH:MM" (and "HH:MM:SS"); say exactly what is wrong otherwise."""
    if isinstance(value, str):
        try:
            return time.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"expected a time like '22:00' (24-hour HH:MM), got {value!r}"
            ) from None
    return value


class QuietHours(BaseModel):
    """Hours, in the brand's own time zone, when automated messages wait (or are dropped).

    ``start`` may be later than ``end`` ("22:00" to "07:00"): the period then wraps past
    midnight. ``networks`` limits quiet hours to those networks; empty means all.
    """

    model_config = ConfigDict(extra="forbid")

    start: time = time(22, 0)
    end: time = time(7, 0)
    timezone: str = "UTC"
    mode: Literal["defer", "refuse"] = "defer"
    networks: list[str] = Field(default_factory=list)

    _parse_times = field_validator("start", "end", mode="before")(_parse_clock)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        value = value.strip()
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as 'Europe/Paris', "
                f"'America/New_York' or 'UTC'"
            ) from None
        return value

    @field_validator("networks")
    @classmethod
    def _lower_networks(cls, value: list[str]) -> list[str]:
        return [name.strip().lower() for name in value]

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError(
                f"quiet hours start and end are both {self.start:%H:%M}; "
                f"give two different times (remove quiet_hours to have none)"
            )
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def applies_to(self, network: str) -> bool:
        return not self.networks or network.lower() in self.networks

    def contains(self, now: datetime) -> bool:
        """Whether ``now`` (aware, any zone) falls within quiet hours, in the brand's zone."""
        _require_aware(now)
        local = now.astimezone(self.zone).time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def ends_after(self, now: datetime) -> datetime:
        """The first end of quiet hours strictly after ``now``, in UTC.

        Computed on local wall-clock dates, so DST days work: an end time that falls in
        a spring-forward gap resolves to just after the gap, and in a fall-back overlap
        the earliest occurrence after ``now`` wins.
        """
        _require_aware(now)
        zone = self.zone
        today = now.astimezone(zone).date()
        now_utc = now.astimezone(UTC)
        ends = [
            instant
            for offset in (-1, 0, 1, 2)
            for instant in _instants(today + timedelta(days=offset), self.end, zone)
            if instant > now_utc
        ]
        return min(ends)


def _instants(day: date, wall: time, zone: ZoneInfo) -> list[datetime]:
    """The UTC instants at which the local clock shows ``wall`` on ``day``.

    Usually one; two in a fall-back overlap; in a spring-forward gap the wall time never
    shows, and the end of the gap stands in for it.
    """
    found: set[datetime] = set()
    tried: list[datetime] = []
    for fold in (0, 1):
        local = datetime.combine(day, wall, tzinfo=zone).replace(fold=fold)
        instant = local.astimezone(UTC)
        tried.append(instant)
        if instant.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None, fold=0):
            found.add(instant)
    return sorted(found) if found else [max(tried)]


class NetworkBudget(BaseModel):
    """One network's per-person reply budget; a key left out takes the general value."""

    model_config = ConfigDict(extra="forbid")

    replies_per_hour: int | None = Field(default=None, ge=1)
    replies_per_day: int | None = Field(default=None, ge=1)


#: Built-in per-network budgets: they only tighten the general ones, and what
#: ``per_person.networks`` says replaces them. X bills every post and frowns on accounts
#: that answer one person again and again.
NETWORK_BUDGETS: dict[str, NetworkBudget] = {
    "x": NetworkBudget(replies_per_hour=20, replies_per_day=60),
}


class PerPerson(BaseModel):
    """How much of the bot one person may have: replies per UTC hour and day (counted
    per network) and a share of the daily cost budget. ``null`` turns a limit off.

    The share never refuses a person's first paid reply of the day (a share smaller
    than one post would otherwise silence everyone); the brand-wide budget still does.
    """

    model_config = ConfigDict(extra="forbid")

    replies_per_hour: int | None = Field(default=60, ge=1)
    replies_per_day: int | None = Field(default=300, ge=1)
    networks: dict[str, NetworkBudget] = Field(default_factory=dict)
    cost_share: float | None = Field(default=0.2, gt=0, le=1)  # of daily_cost_budget

    @field_validator("networks")
    @classmethod
    def _lower_networks(cls, value: dict[str, NetworkBudget]) -> dict[str, NetworkBudget]:
        return {name.strip().lower(): budget for name, budget in value.items()}

    def budget(self, network: str) -> tuple[int | None, int | None]:
        """(replies per hour, replies per day) for one person on ``network``.

        A built-in network budget only tightens the general one; what ``networks:``
        says for the network replaces both, key by key (``null``: no limit).
        """
        network = network.lower()
        limits = {"replies_per_hour": self.replies_per_hour, "replies_per_day": self.replies_per_day}
        built_in = NETWORK_BUDGETS.get(network)
        if built_in is not None:
            for key, value in limits.items():
                cap = getattr(built_in, key)
                limits[key] = cap if value is None else min(value, cap)
        configured = self.networks.get(network)
        if configured is not None:
            limits.update({key: getattr(configured, key) for key in configured.model_fields_set})
        return limits["replies_per_hour"], limits["replies_per_day"]


class Flood(BaseModel):
    """A person who sends more than ``messages`` within ``seconds`` is flooding: the bot
    stops answering them for ``mute`` (longer while they go on) and tells the staff once."""

    model_config = ConfigDict(extra="forbid")

    messages: int = Field(default=20, ge=2)
    seconds: Duration = Field(default=60.0, gt=0)
    mute: Duration = Field(default=1800.0, gt=0)


class PolicyConfig(BaseModel):
    """Sending limits. The brand-wide ones are off unless configured; the per-person
    ones (``per_person``, ``flood``) are on with the defaults above (``null``: off)."""

    model_config = ConfigDict(extra="forbid")

    quiet_hours: QuietHours | None = None
    daily_cost_budget: float | None = Field(default=None, ge=0)  # money per UTC day
    rate_budget_per_hour: int | None = Field(default=None, ge=1)  # automated replies/hour
    per_person: PerPerson | None = Field(default_factory=PerPerson)
    flood: Flood | None = Field(default_factory=Flood)


# --------------------------------------------------------------------------- request


@fast_init
@dataclass(frozen=True, slots=True)
class SendRequest:
    """Every fact the policy needs about one outgoing message, gathered by the caller.

    ``event_kind`` is None for scheduled/proactive messages with no triggering event.
    ``person_wrote_first`` matters for private messages: the person has written to us
    in that DM before. ``essential`` marks confirmations the person asked for ("You are
    unsubscribed"): they bypass opted-out, quiet hours and budgets, and, when they answer
    an event (the person's own request), a hand-off; never unreachable, empty, too-long,
    summons or once-only rules. An essential *proactive* message (no event) still waits
    for the end of a hand-off: the team is talking there.

    ``to_person``: the message is for one known person (a reply, a reminder), not for
    everyone (a post, a staff notice); only then, and not for the brand's own admins
    (``person_is_admin``), do the per-person limits apply. The
    ``person_*`` facts and ``flooding`` are about that person, counted on this network
    (replies this UTC hour and day) or across networks (money spent on them today).
    """

    network: str
    requires_summons: bool
    event_kind: str | None
    addressed: bool
    private: bool
    person_wrote_first: bool
    opted_out: bool
    unreachable: bool
    once_key_used: bool
    handed_off: bool
    now: datetime
    cost: float = 0.0
    cost_spent_today: float = 0.0
    sent_last_hour: int = 0
    text_problem: str | None = None
    text_empty: bool = False
    essential: bool = False
    to_person: bool = False
    person_is_admin: bool = False
    flooding: bool = False
    person_replies_this_hour: int = 0
    person_replies_today: int = 0
    person_cost_today: float = 0.0
    #: The network only reads (blogs): nothing is ever sent there, whatever the message.
    read_only: bool = False
    #: The brand's own scheduled post (the calendar): not a reply to anyone, so the summons
    #: rule (about automated replies) does not apply, and its time was chosen by a person
    #: (quiet hours do not move it); budgets and the network's limits still do.
    brand_post: bool = False

    @property
    def summoned(self) -> bool:
        """Did the person call on us? Proactive messages count only in a DM they started."""
        if self.event_kind is None:
            return self.private and self.person_wrote_first
        return self.addressed


# --------------------------------------------------------------------------- gate


def _refuse(reason: Reason, detail: str) -> Decision:
    return Decision(Verdict.REFUSE, reason, detail)


def _next_utc_midnight(now: datetime) -> datetime:
    day: date = now.astimezone(UTC).date() + timedelta(days=1)
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


def _next_utc_hour(now: datetime) -> datetime:
    utc = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return utc + timedelta(hours=1)


class Policy:
    """Decides whether one outgoing message may be sent now. See the module docstring."""

    def __init__(self, config: PolicyConfig) -> None:
        self.config = config

    def decide(self, req: SendRequest) -> Decision:
        _require_aware(req.now)
        return self._who(req) or self._person(req) or self._when(req) or ALLOWED

    def _who(self, req: SendRequest) -> Decision | None:
        """The hard rules: may this person be sent this, at all?"""
        if req.read_only:
            return _refuse(Reason.READ_ONLY, f"{req.network} is read-only: the bot never posts or comments there")
        if req.unreachable:
            return _refuse(
                Reason.UNREACHABLE,
                f"the person cannot be reached on {req.network} (blocked the bot or left)",
            )
        if req.text_empty:
            return _refuse(
                Reason.EMPTY,
                "the reply is empty (its template rendered to nothing); nothing was sent",
            )
        if req.text_problem:
            return _refuse(Reason.TOO_LONG, req.text_problem)
        if req.opted_out and not req.essential:
            return _refuse(Reason.OPTED_OUT, "the person opted out of automated messages")
        if req.handed_off and not (req.essential and req.event_kind is not None):
            return _refuse(
                Reason.HANDED_OFF, "a person from the team has taken over this conversation"
            )
        if req.requires_summons and not req.summoned and not req.brand_post:
            what = (
                f"this was a {req.event_kind}"
                if req.event_kind is not None
                else "this was a proactive message with no triggering event"
            )
            if req.event_kind is not None and req.event_kind in SUMMONING_KINDS:
                what = f"this {req.event_kind} did not address the account"
            return _refuse(Reason.NOT_SUMMONED, f"{summons_rule(req.network)}; {what}")
        if req.private and not req.person_wrote_first:
            return _refuse(
                Reason.UNSOLICITED_DM,
                "private messages go only to people who wrote to us there first",
            )
        if req.once_key_used:
            return _refuse(
                Reason.ALREADY_ANSWERED, "this rule already answered this person on this post"
            )
        return None

    def _person(self, req: SendRequest) -> Decision | None:
        """One person's share of the bot: flooding, replies per hour and day, money."""
        if req.essential or not req.to_person or req.person_is_admin:
            return None
        flood = self.config.flood
        if req.flooding and flood is not None:
            return _refuse(
                Reason.FLOOD,
                f"the person sent more than {flood.messages} messages within {flood.seconds:g} s; "
                f"the bot does not answer them for a while (policy.flood)",
            )
        limits = self.config.per_person
        if limits is None:
            return None
        per_hour, per_day = limits.budget(req.network)
        if per_hour is not None and req.person_replies_this_hour >= per_hour:
            return _refuse(
                Reason.PERSON_BUDGET,
                f"the person already had {per_hour} replies on {req.network} this hour "
                f"(policy.per_person.replies_per_hour)",
            )
        if per_day is not None and req.person_replies_today >= per_day:
            return _refuse(
                Reason.PERSON_BUDGET,
                f"the person already had {per_day} replies on {req.network} today (UTC) "
                f"(policy.per_person.replies_per_day)",
            )
        budget = self.config.daily_cost_budget
        if budget is not None and limits.cost_share is not None and req.cost > 0:
            share = budget * limits.cost_share
            if req.person_cost_today > 0 and req.person_cost_today + req.cost > share:
                return _refuse(
                    Reason.PERSON_COST_BUDGET,
                    f"the person's share of the daily cost budget is spent "
                    f"({req.person_cost_today:.2f} of {share:.2f} spent on them today, this costs "
                    f"{req.cost:.2f}; policy.per_person.cost_share)",
                )
        return None

    def _when(self, req: SendRequest) -> Decision | None:
        """The soft limits: may it be sent now? Essential messages skip them."""
        if req.essential:
            return None
        quiet = None if req.brand_post else self.config.quiet_hours
        if quiet is not None and quiet.applies_to(req.network) and quiet.contains(req.now):
            span = f"quiet hours ({quiet.start:%H:%M}-{quiet.end:%H:%M} {quiet.timezone})"
            if quiet.mode == "refuse":
                return _refuse(Reason.QUIET_HOURS, f"{span}: automated messages are dropped")
            until = quiet.ends_after(req.now)
            return Decision(Verdict.DEFER, Reason.QUIET_HOURS, f"{span}: waiting", until)
        budget = self.config.daily_cost_budget
        if budget is not None and req.cost > 0 and req.cost_spent_today + req.cost > budget:
            if req.cost > budget:
                return _refuse(
                    Reason.COST_BUDGET,
                    f"this message costs {req.cost:.2f}, more than the whole daily budget "
                    f"of {budget:.2f}",
                )
            return Decision(
                Verdict.DEFER,
                Reason.COST_BUDGET,
                f"daily cost budget reached ({req.cost_spent_today:.2f} of {budget:.2f} spent, "
                f"this costs {req.cost:.2f}); waiting for the next UTC day",
                _next_utc_midnight(req.now),
            )
        rate = self.config.rate_budget_per_hour
        if rate is not None and req.sent_last_hour >= rate:
            return Decision(
                Verdict.DEFER,
                Reason.RATE_BUDGET,
                f"hourly budget of {rate} automated replies reached; waiting for the next hour",
                _next_utc_hour(req.now),
            )
        return None


# --------------------------------------------------------------------------- static check


def promotion_refused(source: str, promotions: Collection[str], last_mood: Callable[[], str | None]) -> str | None:
    """Why a promotion (giveaway invitation, milestone cheer) must not go to this person, or None.

    ``source`` is the responder ("plugin:loyalty.thank_milestone" counts as
    "plugin:loyalty"); ``last_mood`` gives the mood of the person's last message, asked
    only for a promotion (reading a mood costs). Cheering someone who just complained
    reads as not listening, so the promotion is left out.
    """
    if not promotions or (source not in promotions and source.partition(".")[0] not in promotions):
        return None
    return "no promotions after a negative message" if last_mood() == "negative" else None


def check_rule_against_network(
    kinds: Iterable[str], network: str, requires_summons: bool
) -> str | None:
    """Why a rule answering ``kinds`` must not run on ``network``, or None if it may.

    For ``brandbot check``: on a network that requires summons, answering a kind in
    which the person did not address the account (repost, follow, join, reaction,
    message) would be refused every time, so the rule is a configuration mistake.
    ``milestone`` is allowed: a milestone can follow a mention, and the policy still
    checks each reply.
    """
    if not requires_summons:
        return None
    offending: list[str] = []
    for name in kinds:
        kind = Kind.parse(name)
        if kind not in SUMMONING_KINDS and kind is not Kind.MILESTONE and kind not in offending:
            offending.append(kind.value)
    if not offending:
        return None
    names = ", ".join(repr(k) for k in offending)
    return (
        f"rule answers {names} on {network}, but {summons_rule(network)}; "
        f"remove {names} from kinds or restrict networks"
    )
