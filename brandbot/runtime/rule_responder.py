"""YAML rules as responders: the glue that puts rules on the Router's single dispatch path.

The RuleBook finds the rules whose kind, network, time window and text match (one
pass over the text). Each becomes a RuleResponder that checks the follower conditions,
cooldowns and once-keys, runs the rule's actions and sends one of its reply variants.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from brandbot.runtime.context import Context
from brandbot.core.events import Event
from brandbot.core.rules import Rule, RuleBook, RuleState, conditions_hold, once_key

if TYPE_CHECKING:
    from brandbot.runtime.bot import Bot

VARIANT_NAMESPACE = "rules.variant"


class RuleResponders:
    """Owns the rule book and the rules' runtime state (cooldowns, last variants)."""

    def __init__(self, book: RuleBook, bot: "Bot", *, rng: random.Random | None = None) -> None:
        self.book = book
        self.state = RuleState()
        self._bot = bot
        self._rng = rng or random.Random()
        self._responders = {r.name: RuleResponder(r, self) for r in book.rules}

    def candidates(self, event: Event, now: datetime) -> list["RuleResponder"]:
        return [self._responders[r.name] for r in self.book.candidates(event, now)]

    async def pick_variant(self, rule: Rule, follower_id: int) -> int:
        """A variant index, never the one this person got last time (restored after restarts)."""
        if len(rule.variants) <= 1:
            return 0
        key = f"{rule.name}:f{follower_id}:"
        if self.state.last_variant(rule.name, follower_id) is None:  # new, or forgotten
            saved = await self._bot.store.kv_get(VARIANT_NAMESPACE, key)
            if saved is not None:
                self.state.remember_variant(rule.name, follower_id, int(saved))
        index = self.state.pick_variant(rule, follower_id, self._rng)
        self._bot.store.kv_set(VARIANT_NAMESPACE, key, str(index), follower_id)
        return index


@dataclass(frozen=True, slots=True)
class RuleResponder:
    rule: Rule
    owner: RuleResponders

    @property
    def priority(self) -> int:
        return self.rule.priority

    @property
    def source(self) -> str:
        return f"rule:{self.rule.name}"

    async def respond(self, ctx: Context) -> bool:
        rule, event, now = self.rule, ctx.event, ctx.now
        if not conditions_hold(rule, ctx.follower, ctx.first_contact, now):
            return False
        conversation = event.conversation.key
        waiting = self.owner.state.cooldown_ok(rule, ctx.follower.id, conversation, now)
        if waiting is not None:
            ctx.note("skip", waiting)
            return False
        once = None
        if rule.once_per_post:
            once = once_key(rule, ctx.follower.id, event.refers_to or event.post_id or event.id)
        actions = rule.actions
        if actions.tag or actions.untag:
            if actions.tag:
                await ctx.tag(*sorted(actions.tag))
            if actions.untag:
                await ctx.untag(*sorted(actions.untag))
            ctx.note("action", "tags +" + ",".join(sorted(actions.tag)) + " -" + ",".join(sorted(actions.untag)))
        if actions.points:
            await ctx.add_points(actions.points, self.source)
            ctx.note("action", f"points {actions.points:+d}")
        if rule.variants:
            index = await self.owner.pick_variant(rule, ctx.follower.id)
            await ctx.reply(rule.variants[index], once_key=once)
        if actions.handoff:
            await ctx.handoff(self.source)
        self.owner.state.note_fired(rule, ctx.follower.id, conversation, now)
        if rule.fallthrough:
            ctx.fall_through()
        return not rule.fallthrough
