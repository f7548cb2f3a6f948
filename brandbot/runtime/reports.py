"""Reports on what the bundled campaign plugins record: advocates (amplify), saved links and tags (tags).

The plugins write their records into plugin data (namespaces ``plugin:amplify`` and
``plugin:tags``); this module defines those record shapes, so the writer (the plugin)
and the readers (admin commands, ``brandbot report ...``) share one definition.

The readers take two small protocols, not a store: :class:`Records` (a plugin's data,
``ctx.data`` in a handler) and :class:`PeopleLookup` (``ctx.people``). So a plugin
reports through its own capabilities, and the CLI passes thin views of the store.

Records are keyed by the network identity that acted (``network:user_id``) and carry
the follower id: after two accounts are linked the identities move to one follower, so
grouping by ``people.on(network, user_id)`` always counts a person once, while the
``:f<id>:`` key segment and the follower id let ``forget`` erase them.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

from brandbot.core.records import FollowerRecord

log = logging.getLogger("brandbot.runtime.reports")

AMPLIFY_NAMESPACE = "plugin:amplify"
TAGS_NAMESPACE = "plugin:tags"
SHARE_PREFIX = "share:"
LINK_PREFIX = "link:"


class Records(Protocol):
    """A plugin's data, read by key prefix: ``ctx.data`` in a handler; values are decoded JSON."""

    async def items(self, prefix: str = "") -> list[tuple[str, Any]]: ...


class PeopleLookup(Protocol):
    """Who a follower is now: ``ctx.people`` in a handler."""

    async def get(self, follower_id: int) -> FollowerRecord | None: ...

    async def on(self, network: str, user_id_or_handle: str) -> FollowerRecord | None: ...


def key_part(text: str) -> str:
    """Make ``text`` safe as one ``:``-separated segment of a plugin data key."""
    return text.replace("%", "%25").replace(":", "%3A")


def identity_prefix(prefix: str, network: str, user_id: str) -> str:
    """The key prefix of every record one network identity made (``share:x:123:``)."""
    return f"{prefix}{key_part(network)}:{key_part(user_id)}:"


# --------------------------------------------------------------------------- amplify


@dataclass(frozen=True, slots=True)
class ShareRecord:
    """One person sharing one brand post on one network (a repost, retweet, forward or quote)."""

    follower_id: int
    network: str
    user_id: str
    name: str
    post: str
    kind: str  # "repost" or "quote"
    time: datetime

    @property
    def day(self) -> str:
        return self.time.date().isoformat()

    @property
    def key(self) -> str:
        return share_key(self.network, self.user_id, self.post, self.follower_id)

    def to_json(self) -> dict[str, Any]:
        return {"follower_id": self.follower_id, "network": self.network, "user_id": self.user_id,
                "name": self.name, "post": self.post, "kind": self.kind, "time": self.time.isoformat()}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> ShareRecord:
        return cls(follower_id=int(value["follower_id"]), network=str(value["network"]),
                   user_id=str(value["user_id"]), name=str(value.get("name", "")), post=str(value["post"]),
                   kind=str(value.get("kind", "repost")), time=datetime.fromisoformat(value["time"]))


def share_post_prefix(network: str, user_id: str, post: str) -> str:
    """Prefix of the record of this identity sharing this post (whatever follower id it had)."""
    return f"{identity_prefix(SHARE_PREFIX, network, user_id)}{key_part(post)}:"


def share_key(network: str, user_id: str, post: str, follower_id: int) -> str:
    """``share:<network>:<user>:<post>:f<id>:`` - one record per identity and post."""
    return f"{share_post_prefix(network, user_id, post)}f{follower_id}:"


Record = TypeVar("Record")


def _decode(rows: Iterable[tuple[str, Any]], parse: Callable[[Mapping[str, Any]], Record], what: str) -> list[Record]:
    """The records that parse; a damaged one is logged and skipped, never fatal to a report."""
    records = []
    for key, value in rows:
        try:
            records.append(parse(value))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("skipping unreadable %s record %r: %s", what, key, exc)
    return records


async def load_shares(shares: Records, since: datetime | None = None, network: str | None = None) -> list[ShareRecord]:
    """Every share recorded in ``shares`` (amplify's data), optionally from ``since`` on and on one network."""
    prefix = SHARE_PREFIX if network is None else f"{SHARE_PREFIX}{key_part(network)}:"
    found = _decode(await shares.items(prefix), ShareRecord.from_json, "share")
    return [s for s in found if since is None or s.time >= since]


class _People:
    """Who is behind an identity now (linked accounts are one follower), asked once per report."""

    def __init__(self, people: PeopleLookup) -> None:
        self._people = people
        self._seen: dict[tuple[str, str, int], FollowerRecord | None] = {}

    async def of(self, network: str, user_id: str, follower_id: int) -> FollowerRecord | None:
        key = (network, user_id, follower_id)
        if key not in self._seen:
            found = await self._people.on(network, user_id)
            self._seen[key] = found if found is not None else await self._people.get(follower_id)
        return self._seen[key]


@dataclass(frozen=True, slots=True)
class AdvocateRow:
    """One advocate: how many brand posts they shared (on ``network``, or on these networks)."""

    follower_id: int
    name: str
    network: str  # the network asked for; without one, the networks they shared on ("telegram, x")
    shares: int


async def top_advocates(shares: Records, people: PeopleLookup, since: datetime | None, network: str | None,
                        limit: int) -> list[AdvocateRow]:
    """The people who shared the brand's posts most, most first (ties by name).

    With ``network`` only shares there count; without, a person's shares on every
    network (and every linked account) are added up. ``since`` None means all time.
    """
    if limit <= 0:
        return []
    who = _People(people)
    counts: Counter[int] = Counter()
    names: dict[int, str] = {}
    networks: defaultdict[int, set[str]] = defaultdict(set)
    for share in await load_shares(shares, since, network):
        follower = await who.of(share.network, share.user_id, share.follower_id)
        fid = follower.id if follower is not None else share.follower_id
        names[fid] = follower.name if follower is not None and follower.name else (names.get(fid) or share.name)
        counts[fid] += 1
        networks[fid].add(share.network)
    rows = [AdvocateRow(fid, names[fid], network or ", ".join(sorted(networks[fid])), n) for fid, n in counts.items()]
    rows.sort(key=lambda r: (-r.shares, r.name.casefold(), r.follower_id))
    return rows[:limit]


@dataclass(frozen=True, slots=True)
class ShareTotals:
    """Shares counted per network, per post and per UTC day (each sorted, biggest first or by day)."""

    total: int
    by_network: tuple[tuple[str, int], ...]
    by_post: tuple[tuple[str, int], ...]
    by_day: tuple[tuple[str, int], ...]


async def share_totals(records: Records, since: datetime | None = None) -> ShareTotals:
    shares = await load_shares(records, since)

    def ranked(counter: Counter[str]) -> tuple[tuple[str, int], ...]:
        return tuple(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))

    return ShareTotals(
        total=len(shares),
        by_network=ranked(Counter(s.network for s in shares)),
        by_post=ranked(Counter(s.post for s in shares)),
        by_day=tuple(sorted(Counter(s.day for s in shares).items())),
    )


def text_table(header: Sequence[str], rows: Sequence[Sequence[object]], *, right: Iterable[int] = ()) -> str:
    """A plain monospace table; columns in ``right`` are right-aligned (numbers)."""
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    right = set(right)

    def line(row: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    return "\n".join([line(cells[0]), line(["-" * w for w in widths]), *(line(r) for r in cells[1:])])


def format_advocates(rows: Sequence[AdvocateRow]) -> str:
    """The advocates as a readable table: rank, name, follower id, network(s), shares."""
    if not rows:
        return "No shares recorded."
    return text_table(
        ["#", "name", "id", "network", "shares"],
        [[i, r.name, r.follower_id, r.network, r.shares] for i, r in enumerate(rows, 1)],
        right=(0, 2, 4),
    )


def format_share_totals(totals: ShareTotals, *, top_posts: int = 5, days: int = 7) -> str:
    """Totals per network, the most shared posts and the last ``days`` days with shares."""
    if totals.total == 0:
        return "No shares recorded."
    lines = [f"{totals.total} share{'s' if totals.total != 1 else ''} in all."]
    lines.append("Per network: " + ", ".join(f"{name} {n}" for name, n in totals.by_network))
    lines.append("Most shared posts: " + ", ".join(f"{post} ({n})" for post, n in totals.by_post[:top_posts]))
    lines.append("Per day: " + ", ".join(f"{day} {n}" for day, n in totals.by_day[-days:]))
    return "\n".join(lines)


# --------------------------------------------------------------------------- tags


@dataclass(frozen=True, slots=True)
class SavedLink:
    """A link one person saved (with ``/save``), with their tags."""

    follower_id: int
    network: str
    user_id: str
    url: str
    title: str  # the resource name when saved by name, else ""
    tags: tuple[str, ...]
    saved: datetime

    @property
    def key(self) -> str:
        """The key it is stored under, derived from its own fields (so it survives merges)."""
        return link_key(self.network, self.user_id, self.follower_id, self.url)

    def to_json(self) -> dict[str, Any]:
        return {"follower_id": self.follower_id, "network": self.network, "user_id": self.user_id, "url": self.url,
                "title": self.title, "tags": list(self.tags), "saved": self.saved.isoformat()}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> SavedLink:
        return cls(follower_id=int(value["follower_id"]), network=str(value["network"]),
                   user_id=str(value["user_id"]), url=str(value["url"]), title=str(value.get("title", "")),
                   tags=tuple(str(t) for t in value.get("tags", ())), saved=datetime.fromisoformat(value["saved"]))


def canonical_url(url: str) -> str:
    """The form two saves of the same page share: lower-case scheme and host, no fragment,
    no trailing slash (``https://A.example/tour/#top`` is ``https://a.example/tour``)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), parts.query, ""))


def link_key(network: str, user_id: str, follower_id: int, url: str) -> str:
    """``link:<network>:<user>:f<id>:<hash of the url>`` - one record per identity and page."""
    digest = hashlib.sha256(canonical_url(url).encode()).hexdigest()[:16]
    return f"{identity_prefix(LINK_PREFIX, network, user_id)}f{follower_id}:{digest}"


async def load_links(links: Records, prefix: str = LINK_PREFIX) -> list[SavedLink]:
    """The saved links in ``links`` (the tags plugin's data) whose keys start with ``prefix``."""
    return _decode(await links.items(prefix), SavedLink.from_json, "saved link")


@dataclass(frozen=True, slots=True)
class TagCount:
    tag: str
    count: int


async def top_tags(links: Records, limit: int) -> list[TagCount]:
    """The tags on the community's saved links, most used first (ties alphabetical)."""
    counts = Counter(tag for link in await load_links(links) for tag in set(link.tags))
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: max(0, limit)]
    return [TagCount(tag, n) for tag, n in ranked]


def format_tag_cloud(tags: Sequence[TagCount]) -> str:
    """A text tag cloud: most used first; the top fifth in capitals, the next third as is,
    the rest in lower case brackets, so the weight shows on every network (no markup).

    ``#BOOKTOUR (12) · #fantasy (7) · (#maps 1)``
    """
    if not tags:
        return "No tags yet."
    heavy = max(1, round(len(tags) / 5))
    middle = heavy + max(1, round(len(tags) / 3))
    words = []
    for rank, t in enumerate(tags):
        if rank < heavy:
            words.append(f"#{t.tag.upper()} ({t.count})")
        elif rank < middle:
            words.append(f"#{t.tag} ({t.count})")
        else:
            words.append(f"(#{t.tag} {t.count})")
    return " · ".join(words)


@dataclass(frozen=True, slots=True)
class LinkCount:
    """A page and how many people saved it with a tag."""

    url: str
    title: str
    people: int


async def tagged_links(links: Records, people: PeopleLookup, tag: str, limit: int) -> list[LinkCount]:
    """The pages most people saved with ``tag``, most first; a person counts once per page.

    A page saved as ``https://a.example/x`` and ``https://A.example/x/`` is one page,
    shown as most people wrote it, with a resource name if anybody saved it by name.
    """
    who = _People(people)
    savers: defaultdict[str, set[int]] = defaultdict(set)
    spellings: defaultdict[str, Counter[str]] = defaultdict(Counter)
    titles: dict[str, str] = {}
    for link in await load_links(links):
        if tag not in link.tags:
            continue
        page = canonical_url(link.url)
        follower = await who.of(link.network, link.user_id, link.follower_id)
        savers[page].add(follower.id if follower is not None else link.follower_id)
        spellings[page][link.url] += 1
        if link.title:
            titles.setdefault(page, link.title)
    rows = [
        LinkCount(min(spellings[p].items(), key=lambda kv: (-kv[1], kv[0]))[0], titles.get(p, ""), len(ids))
        for p, ids in savers.items()
    ]
    rows.sort(key=lambda r: (-r.people, r.url))
    return rows[: max(0, limit)]


_TAG = re.compile(r"^[^\W_][\w-]*$")


def tag_problem(tag: str, max_length: int) -> str | None:
    """Why ``tag`` (without its '#') cannot be a tag, or None: letters, digits, '-' and '_'."""
    if not tag:
        return "a tag needs at least one letter after the '#'"
    if len(tag) > max_length:
        return f"#{tag[:max_length]}… is longer than {max_length} characters"
    if not _TAG.match(tag):
        return f"#{tag} may use only letters, digits, '-' and '_', starting with a letter or digit"
    return None
