"""Getting the plugin's posts out within each platform's rules.

Three ways out, all through the policy:

- :func:`post_to_stop` shows a post to a stop's audience. When the post is about a
  question asked in that very conversation, it goes as a reply to the asker's message:
  on X that is the only way a bot may post there (the asker summoned it). Otherwise it
  is a proactive post in the stop's conversation, which X refuses (and says why).
- :func:`answer_origin` writes to a person where they wrote to us before (their DM,
  or the group where they asked), as if answering that message, so the policy sees
  that they wrote first. It never starts a private conversation.
- :func:`render_post` renders a post template with the post variables only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from brandbot import Decision, Follower, JobContext

from .records import Origin, network_label
from .tour import Stop, format_local, format_span

SOURCE = "plugin:events"


@dataclass(frozen=True)
class TooLong:
    """A text that will not fit: its length and the most the network takes, in its own units."""

    network: str
    length: int
    limit: int

    def sentence(self, what: str) -> str:
        return (f"{what} is too long for {network_label(self.network)} ({self.length} characters; "
                f"at most {self.limit}).")


def room_for(ctx: JobContext[Any], network: str, frame: str, part: str, cap: int | None = None) -> TooLong | None:
    """Whether ``part`` fits in ``frame`` (the whole post, with ``part`` in it) on ``network``.

    The limit reported is what ``part`` may take: the network's ``limits.max_text`` minus
    the rest of the post (attribution, names), or ``cap`` if that is smaller.
    """
    net = ctx.networks.get(network)
    limit = net.limits.max_text if net is not None else None
    length_of = net.length_of if net is not None else len
    overhead = length_of(frame) - length_of(part)
    room = (limit - overhead) if limit is not None else None
    if cap is not None:
        room = cap if room is None else min(room, cap)
    length = length_of(part)
    over_limit = room is not None and length > room
    rejected = net is not None and net.check_text(frame) is not None
    if over_limit or rejected:
        return TooLong(network, length, max(0, room if room is not None else length - 1))
    return None


def stop_view(stop: Stop) -> dict[str, str]:
    """What templates see as ``{{ stop.* }}``."""
    return {
        "id": stop.id, "title": stop.title, "host": stop.host, "kind": stop.kind.label, "url": stop.url,
        "network": network_label(stop.network), "when": format_local(stop),
        "when_utc": f"{stop.start.astimezone(UTC):%H:%M} UTC", "duration": format_span(stop.duration),
    }


def render_post(ctx: JobContext[Any], source: str, variables: Mapping[str, Any]) -> str:
    """A post for everyone (reminder, question, answer): the brand, the time and ``variables``,
    never the variables of the person whose event is being handled."""
    return JobContext.render(ctx, source, variables)


async def post_to_stop(ctx: JobContext[Any], stop: Stop, text: str, *, asked_at: Origin | None = None,
                       by_moderator: bool = True) -> Decision:
    """Show ``text`` to the stop's audience (see the module docstring for how).

    A post a moderator asked for is *essential*: a live Q&A cannot wait for the end of
    quiet hours or tomorrow's budget. Automatic posts (the opening) are not.
    """
    if asked_at is not None and asked_at.key == stop.key:
        asker = await ctx.people.on(asked_at.network, asked_at.author_id)
        if asker is not None:
            return await answer_origin(ctx, asked_at, asker, text, essential=by_moderator)
    return await ctx.send(stop.network, stop.conversation, text, essential=by_moderator)


async def answer_origin(ctx: JobContext[Any], origin: Origin, follower: Follower, text: str, *,
                        essential: bool = False) -> Decision:
    """Write to a person where they wrote to us, threaded under their message (never a cold DM)."""
    return await ctx.answer(origin.to_event(ctx.now), follower, "{{ text }}", variables={"text": text},
                            essential=essential)


def describe(decision: Decision) -> str:
    """A refusal or delay, said for a moderator."""
    if decision.verdict == "refuse":
        return f"not posted ({decision.reason}: {decision.detail})"
    if decision.verdict == "defer" and decision.until is not None:
        return f"waiting until {decision.until:%H:%M} UTC ({decision.reason})"
    return "posted"
