"""The Advocates and campaigns page: who spreads the word, tiers, giveaways, the Q&A, what is planned.

It reads what the bundled plugins record (``plugin:amplify``, ``plugin:giveaway``,
``plugin:events``) as plain JSON, without importing the plugins (they sit above the
framework); a plugin that is not used simply leaves its section empty.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from brandbot.runtime import reviewcopies
from brandbot.runtime.reports import AMPLIFY_NAMESPACE, PeopleLookup, load_shares
from brandbot.web import charts
from brandbot.web.queries import Queries
from brandbot.web.render import svg

GIVEAWAY_NAMESPACE = "plugin:giveaway"
EVENTS_NAMESPACE = "plugin:events"
OPEN_QUESTIONS = ("pending", "approved", "posted")
CALENDAR_POST = "calendar:post:"  # the runtime calendar's job per brand post
TOP_SHARERS = 20


class NamespaceRecords:
    """One plugin's data read like ``ctx.data.items`` (what the report functions take)."""

    def __init__(self, queries: Queries, namespace: str) -> None:
        self._queries = queries
        self._namespace = namespace

    async def items(self, prefix: str = "") -> list[tuple[str, Any]]:
        return await self._queries.data(self._namespace, prefix)


@dataclass(frozen=True, slots=True)
class Sharer:
    follower_id: int
    name: str
    networks: str
    reposts: int
    quotes: int
    reviews: int = 0  # blog reviews matched to them through a review copy (reviewcopy plugin)

    @property
    def total(self) -> int:
        return self.reposts + self.quotes + self.reviews


@dataclass(frozen=True, slots=True)
class GiveawayFunnel:
    id: int
    prize: str
    status: str
    entries: int  # every entry recorded
    eligible: int  # entries the draw ran on (0 before the draw)
    winners: int  # drawn and not forfeited
    claimed: int
    drawn_at: str

    @property
    def verify(self) -> str:
        """The command that recomputes the draw from its published export."""
        return f"brandbot giveaway verify giveaways/giveaway-{self.id}.json" if self.drawn_at else ""


@dataclass(frozen=True, slots=True)
class QuestionRow:
    number: int
    text: str
    status: str
    asker: int
    votes: int  # askers merged into it, itself included


@dataclass(frozen=True, slots=True)
class PlannedItem:
    when: str
    what: str
    kind: str  # post | stop | job


@dataclass(frozen=True, slots=True)
class Advocates:
    sharers: tuple[Sharer, ...]
    tiers: tuple[tuple[str, int], ...]
    giveaways: tuple[GiveawayFunnel, ...]
    qa_stop: str
    questions: tuple[QuestionRow, ...]
    planned: tuple[PlannedItem, ...]


async def top_sharers(queries: Queries, people: PeopleLookup, limit: int = TOP_SHARERS) -> list[Sharer]:
    """Who spread the word most (reposts, quotes, reviews), a person counted across linked accounts."""
    kinds: defaultdict[int, Counter[str]] = defaultdict(Counter)
    names: dict[int, str] = {}
    nets: defaultdict[int, set[str]] = defaultdict(set)
    for share in await load_shares(NamespaceRecords(queries, AMPLIFY_NAMESPACE)):
        follower = await people.on(share.network, share.user_id) or await people.get(share.follower_id)
        fid = follower.id if follower is not None else share.follower_id
        names[fid] = follower.name if follower is not None and follower.name else names.get(fid, share.name)
        kinds[fid]["quote" if share.kind == "quote" else "repost"] += 1
        nets[fid].add(share.network)
    for review in await reviewcopies.load_reviews(NamespaceRecords(queries, reviewcopies.NAMESPACE)):
        reviewer = await people.get(review.reviewer) if review.reviewer else None
        if reviewer is not None:
            kinds[reviewer.id]["review"] += 1
            names.setdefault(reviewer.id, reviewer.name)
            nets[reviewer.id].add("blogs")
    rows = [Sharer(fid, names[fid], ", ".join(sorted(nets[fid])), c["repost"], c["quote"], c["review"])
            for fid, c in kinds.items()]
    rows.sort(key=lambda r: (-r.total, r.name.casefold(), r.follower_id))
    return rows[:limit]


async def giveaways(queries: Queries) -> list[GiveawayFunnel]:
    entries = Counter(key.split(":")[1] for key, _ in await queries.data(GIVEAWAY_NAMESPACE, "entry:"))
    found = []
    for _, g in await queries.data(GIVEAWAY_NAMESPACE, "giveaway:"):
        if not isinstance(g, dict) or "id" not in g:
            continue
        drawn, forfeited = list(g.get("drawn", ())), set(g.get("forfeited", ()))
        found.append(GiveawayFunnel(
            id=int(g["id"]), prize=str(g.get("prize", "")), status=str(g.get("status", "")),
            entries=entries.get(str(g["id"]), 0), eligible=int(g.get("entries", 0)),
            winners=len([e for e in drawn if e not in forfeited]), claimed=len(g.get("claimed", ())),
            drawn_at=str(g.get("drawn_at", ""))))
    return sorted(found, key=lambda f: -f.id)


async def qa_queue(queries: Queries) -> tuple[str, list[QuestionRow]]:
    """The open Q&A's stop and its questions still in the moderators' hands, in order."""
    open_qa = dict(await queries.data(EVENTS_NAMESPACE, "qa:open")).get("qa:open")
    if not isinstance(open_qa, dict) or not open_qa.get("stop"):
        return "", []
    stop = str(open_qa["stop"])
    rows = []
    for _, q in await queries.data(EVENTS_NAMESPACE, f"q:{stop}:"):
        if isinstance(q, dict) and q.get("status") in OPEN_QUESTIONS:
            rows.append(QuestionRow(int(q.get("number", 0)), str(q.get("text", "")), str(q["status"]),
                                    int(q.get("follower_id", 0)), 1 + len(q.get("merged", ()))))
    return stop, sorted(rows, key=lambda r: r.number)


async def planned(queries: Queries, now: datetime) -> list[PlannedItem]:
    """The posts calendar: brand posts to come (posts.yaml), tour stops, and other scheduled jobs
    (reminders, giveaway closings, digests), soonest first."""
    items = []
    for key in ("tour:file", "tour:added"):
        for _, stops in await queries.data(EVENTS_NAMESPACE, key):
            for stop in stops if isinstance(stops, list) else []:
                if isinstance(stop, dict) and str(stop.get("start", "")) >= now.isoformat()[:10]:
                    what = f"{stop.get('title') or stop.get('id')} ({stop.get('kind', 'stop')} on {stop.get('network', '?')})"
                    items.append(PlannedItem(str(stop.get("start", "")), what, "stop"))
    for due, owner, name in await queries.jobs(now.isoformat()):
        if name.startswith(CALENDAR_POST):  # a brand post of posts.yaml (the calendar)
            items.append(PlannedItem(str(due), name[len(CALENDAR_POST):], "post"))
        else:
            items.append(PlannedItem(str(due), f"{owner}: {name}", "job"))
    return sorted(items, key=lambda i: i.when)


async def advocates_data(queries: Queries, people: PeopleLookup, now: datetime) -> Advocates:
    stop, questions = await qa_queue(queries)
    return Advocates(
        sharers=tuple(await top_sharers(queries, people)),
        tiers=tuple(await queries.tiers()),
        giveaways=tuple(await giveaways(queries)),
        qa_stop=stop,
        questions=tuple(questions),
        planned=tuple((await planned(queries, now))[:50]),
    )


def sharers_chart(data: Advocates) -> str:
    return charts.bar_chart("Top sharers (reposts, quotes, reviews)", [(s.name, float(s.total)) for s in data.sharers[:10]])


def tiers_chart(data: Advocates) -> str:
    return charts.bar_chart("Followers per tier", [(t, float(n)) for t, n in data.tiers])


def funnel_chart(g: GiveawayFunnel) -> str:
    return charts.bar_chart(f"Giveaway {g.id}: {g.prize}", [("entries", float(g.entries)),
                                                            ("eligible", float(g.eligible)),
                                                            ("winners", float(g.winners)),
                                                            ("claimed", float(g.claimed))])


def advocates_context(data: Advocates, *, live: bool) -> dict[str, Any]:
    """What ``advocates_body.html`` needs; ``live`` links names to their person pages."""
    return {"a": data, "live": live, "sharers_chart": svg(sharers_chart(data)), "tiers_chart": svg(tiers_chart(data)),
            "funnels": [(g, svg(funnel_chart(g))) for g in data.giveaways]}


__all__ = [
    "Advocates",
    "GiveawayFunnel",
    "NamespaceRecords",
    "PlannedItem",
    "QuestionRow",
    "Sharer",
    "advocates_context",
    "advocates_data",
    "funnel_chart",
    "giveaways",
    "planned",
    "qa_queue",
    "sharers_chart",
    "tiers_chart",
    "top_sharers",
]
