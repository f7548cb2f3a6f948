"""The giveaway's settings (``plugins: giveaway:`` in brandbot.yaml) and every text it says.

Every message is a template the community manager may reword. ``brandbot check`` (and
start-up) renders each one and refuses a variable the message will not have, with the
file and line, so a typo is found before a winner is announced with a blank name.
"""

from __future__ import annotations

from typing import TypeAlias

from jinja2 import meta
from pydantic import BaseModel, ConfigDict, Field, field_validator

from brandbot import BotConfig, ConfigError, Context, JobContext, TemplateEngine, parse_duration


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
        description="Folder for giveaway-<id>.json, relative to the state folder next to the "
        "database (an absolute path works too); '' for none",
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

    @property
    def claim_seconds(self) -> float:
        return parse_duration(self.claim_within)


#: What the giveaway's handlers receive: ``ctx.config`` is a GiveawaySettings.
Ctx: TypeAlias = Context[GiveawaySettings]
JobCtx: TypeAlias = JobContext[GiveawaySettings]


def _declared(engine: TemplateEngine, source: str) -> set[str]:
    return set(meta.find_undeclared_variables(engine.environment.parse(source)))


def check_messages(settings: GiveawaySettings, bot_config: BotConfig) -> None:
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
