"""resources: honest links, only when someone asks for them.

When a person asks the bot for help ("where can I learn to self-publish?", "any tips
for finding an editor", or explicitly ``/resources <words>`` / ``/find <words>``), the
plugin searches the brand's resource library (``resources.yaml``) with BM25F over
title, tags and description (``brandbot.ranking``) and answers with the best one to
three links above a minimum score. Weak matches are never shown: a question with no
good answer falls through to the next responder (the YAML fallback rule).

Honesty rules, enforced here and in the data check:

- every link says whether it is ours or a third party's, and affiliate or sponsored
  links say so (the item template must show ``{{ note }}``, and the labels cannot be
  empty);
- links go only to people who asked: addressed messages (DM, mention, reply) that read
  as a request, or the explicit commands; never to group chatter, never proactively;
- the answer fits the network: on X, where a link post counts against the cost budget
  and a post is at most 280 weighted characters, fewer links are sent when three do
  not fit (the policy then applies the cost budget like for any reply).

The responder sits at priority 0: below the FAQ rules (shipping, tour, review copies)
and above the fallback rule (-100), so specific answers still win.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from jinja2 import meta
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StringConstraints

from brandbot import (
    ConfigError,
    Context,
    Event,
    Kind,
    Plugin,
    TemplateEngine,
    TemplateError,
    YamlDoc,
    format_loc,
    load_yaml,
    normalize,
    ranking,
    words,
)

log = logging.getLogger("brandbot.plugin.resources")

FIELDS = ("id", "title", "url", "tags", "description", "owner", "disclosure")
OWNERS = ("ours", "third_party")
DISCLOSURES = ("none", "affiliate", "sponsored")
#: How many problems of a broken resource file one error lists before summarising.
MAX_PROBLEMS = 10
#: The score the best match must reach. BM25 scores are not percentages: in a library of
#: a few dozen entries, one rare word in a title scores about 1.5 to 2.5, one common word
#: in a description about 0.5. 1.5 asks for a telling word in a title or tags, or several
#: in a description: "are you open on sundays?" does not get the writers' circle that is
#: "open" to beginners.
DEFAULT_MIN_SCORE = 1.5
#: Further matches must reach this share of the best one's score, so a strong answer is
#: not padded with weak ones.
DEFAULT_MIN_RELATIVE = 0.5

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


# -- settings -------------------------------------------------------------------------------


Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class Labels(BaseModel):
    """The words shown in brackets after each link. Disclosures may be translated, not emptied."""

    model_config = ConfigDict(extra="forbid")
    ours: Label = "ours"
    third_party: Label = "third party"
    affiliate: Label = "affiliate link"
    sponsored: Label = "sponsored"


class ResourcesSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file: str = Field("resources.yaml", min_length=1, description="relative to brandbot.yaml")
    max_results: int = Field(3, ge=1, le=3)
    min_score: float = Field(DEFAULT_MIN_SCORE, ge=0, description="the best match must score this much")
    min_relative: float = Field(DEFAULT_MIN_RELATIVE, ge=0, le=1, description="others: this share of the best")
    answer: str = "{{ name }}, {{ 'this may help' if count == 1 else 'these may help' }}:\n{{ links }}"
    item: str = "{{ title }} ({{ note }}): {{ url }}"
    no_match: str = (
        "Sorry {{ name }}, I have no link about that yet. Try other words, or ask the {{ brand.name }} team."
    )
    usage: str = "Tell me what you're looking for, {{ name }}, e.g. /{{ event.command }} self-publishing"
    labels: Labels = Field(default_factory=Labels)

    _cache: LibraryCache = PrivateAttr(default_factory=lambda: LibraryCache())  # noqa: PLW0108 - defined below

    def path(self, config_dir: Path) -> Path:
        """The resource file: relative names are read beside brandbot.yaml."""
        return config_dir / self.file

    @property
    def cache(self) -> LibraryCache:
        return self._cache


#: Variables each template may use besides the usual ones (name, brand, follower, event).
ANSWER_VARIABLES = ("links", "count", "query")
ITEM_VARIABLES = ("title", "url", "description", "tags", "owner", "disclosure", "note", "ours")


# -- the library ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Resource:
    """One link in the library, as validated from resources.yaml."""

    id: str
    title: str
    url: str
    tags: tuple[str, ...]
    description: str
    owner: str  # ours | third_party
    disclosure: str  # none | affiliate | sponsored
    where: str = ""  # "resources.yaml:12", for logs

    def as_doc(self) -> ranking.Doc:
        return ranking.Doc(self.id, {"title": self.title, "tags": " ".join(self.tags), "description": self.description})


@dataclass(frozen=True, slots=True)
class Match:
    resource: Resource
    score: float


@dataclass(frozen=True)
class Library:
    """The resources of one file and their search index."""

    resources: Mapping[str, Resource]
    index: ranking.Index

    @classmethod
    def of(cls, resources: Sequence[Resource]) -> Library:
        return cls({r.id: r for r in resources}, ranking.Index.build([r.as_doc() for r in resources]))

    def search(self, query: str, limit: int, min_score: float = 0.0, min_relative: float = 0.0) -> list[Match]:
        """The best ``limit`` matches if the best reaches ``min_score``; others within ``min_relative`` of it."""
        hits = self.index.search(query, limit)
        if not hits or hits[0].score < min_score:
            return []
        floor = hits[0].score * min_relative
        return [Match(self.resources[h.id], h.score) for h in hits if h.score >= floor]


class _Problems:
    """Everything wrong with a resource file, reported together as one ConfigError."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, where: str, message: str) -> None:
        self.items.append((where, message))

    def raise_any(self) -> None:
        if not self.items:
            return
        (where, first), rest = self.items[0], self.items[1:]
        lines = [first, *(f"  {w}: {m}" for w, m in rest[: MAX_PROBLEMS - 1])]
        if len(rest) >= MAX_PROBLEMS:
            lines.append(f"  ... and {len(rest) - MAX_PROBLEMS + 1} more problem(s)")
        raise ConfigError("\n".join(lines), where)


def load_library(path: Path, expected_by: str = "") -> Library:
    """Read and check a resource file; any problem raises ConfigError with file:line."""
    return Library.of(parse_resources(load_yaml(path, expected_by=expected_by)))


def parse_resources(doc: YamlDoc) -> list[Resource]:
    """Validate a parsed resource file. Lists every problem found, each with its line."""
    problems = _Problems()
    data = doc.data
    if data is None:
        problems.add(str(doc.path), "the file is empty; it needs a 'resources:' list (see docs/plugins/resources.md)")
        problems.raise_any()
    if not isinstance(data, Mapping):
        problems.add(doc.where(()), f"expected 'resources:' followed by a list at the top, got {_kind(data)}")
        problems.raise_any()
    for key in data:
        if key != "resources":
            problems.add(doc.where((key,)), f"unknown key {key!r} at the top{_did_you_mean(key, ('resources',))}")
    entries = data.get("resources")
    if "resources" not in data:
        problems.add(doc.where(()), "missing 'resources:' (the list of links)")
    elif not isinstance(entries, list) or not entries:
        problems.add(doc.where(("resources",)), "'resources' must be a list with at least one resource, "
                                                 "each starting with '- id: ...'")
    problems.raise_any()
    indexed = [(i, r) for i, raw in enumerate(entries) if (r := _resource(doc, i, raw, problems)) is not None]
    _check_unique(doc, indexed, problems)
    problems.raise_any()
    return [r for _, r in indexed]


def _resource(doc: YamlDoc, i: int, raw: Any, problems: _Problems) -> Resource | None:
    loc: tuple[str | int, ...] = ("resources", i)
    label = format_loc(loc)
    if not isinstance(raw, Mapping):
        problems.add(doc.where(loc), f"{label} must be a mapping with the keys {', '.join(FIELDS)}; got {_kind(raw)}")
        return None
    if isinstance(raw.get("id"), str | int) and not isinstance(raw.get("id"), bool):
        label += f" ({raw['id']})"
    before = len(problems.items)
    for key in raw:
        if key not in FIELDS:
            problems.add(doc.where((*loc, key)), f"unknown key {key!r} in {label}{_did_you_mean(key, FIELDS)}")
    missing = [k for k in FIELDS if k not in raw]
    if missing:
        problems.add(doc.where(loc), f"{label} is missing {', '.join(map(repr, missing))}; "
                                     f"every resource needs all of: {', '.join(FIELDS)}")
    values: dict[str, Any] = {}
    for key in ("id", "title", "description", "url"):
        if key in raw:
            values[key] = _text(doc, (*loc, key), raw[key], label, problems)
    if values.get("id") and not _ID.fullmatch(values["id"]):
        problems.add(doc.where((*loc, "id")), f"id {values['id']!r} of {label} may only use letters, digits, "
                                              "'-', '_' and '.' (no spaces)")
    if values.get("url"):
        _check_url(doc, (*loc, "url"), values["url"], label, problems)
    if "tags" in raw:
        values["tags"] = _tags(doc, (*loc, "tags"), raw["tags"], label, problems)
    for key, allowed, meaning in (("owner", OWNERS, "'ours' (we made it) or 'third_party'"),
                                  ("disclosure", DISCLOSURES, "'none', 'affiliate' or 'sponsored'")):
        if key in raw:
            value = raw[key]
            if value not in allowed:
                shown = "empty" if value is None or value == "" else repr(value)
                problems.add(doc.where((*loc, key)), f"{key} of {label} is {shown}; use {meaning}"
                                                     f"{_did_you_mean(value, allowed)}")
            values[key] = value
    if len(problems.items) > before:
        return None
    return Resource(where=doc.where(loc), **values)


def _text(doc: YamlDoc, loc: tuple[str | int, ...], value: Any, label: str, problems: _Problems) -> str | None:
    key = loc[-1]
    if isinstance(value, bool) or not isinstance(value, str | int):
        if value is None:
            problems.add(doc.where(loc), f"{key} of {label} is empty; write it after '{key}:'")
        else:
            problems.add(doc.where(loc), f"{key} of {label} must be text, got {_kind(value)}")
        return None
    text = str(value).strip()
    if not text:
        problems.add(doc.where(loc), f"{key} of {label} is empty; write it after '{key}:'")
        return None
    return text


def _check_url(doc: YamlDoc, loc: tuple[str | int, ...], url: str, label: str, problems: _Problems) -> None:
    where = doc.where(loc)
    if any(ch.isspace() for ch in url):
        problems.add(where, f"url {url!r} of {label} contains spaces; "
                            "write it as one piece, e.g. https://example.org/page")
        return
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        problems.add(where, f"url {url!r} of {label} is not a valid address ({exc})")
        return
    if parts.scheme.lower() not in ("http", "https"):
        problems.add(where, f"url {url!r} of {label} must start with https:// (or http://)")
    elif not parts.hostname:
        problems.add(where, f"url {url!r} of {label} has no host name; write it like https://example.org/page")


def _tags(doc: YamlDoc, loc: tuple[str | int, ...], value: Any, label: str, problems: _Problems) -> tuple[str, ...]:
    if not isinstance(value, list):
        problems.add(doc.where(loc),
                     f"tags of {label} must be a list, like [self-publishing, ebooks]; got {_kind(value)}")
        return ()
    tags: list[str] = []
    for j, tag in enumerate(value):
        if isinstance(tag, bool) or not isinstance(tag, str | int) or not str(tag).strip():
            problems.add(doc.where((*loc, j)), f"tag {j + 1} of {label} must be a word or phrase, got {_kind(tag)}")
        else:
            tags.append(str(tag).strip())
    if not value:
        problems.add(doc.where(loc), f"tags of {label} is empty; add the words people use when they ask for it")
    return tuple(tags)


def _check_unique(doc: YamlDoc, indexed: Sequence[tuple[int, Resource]], problems: _Problems) -> None:
    """Ids and urls appear once; a repeat names both places."""
    ids: dict[str, int] = {}
    urls: dict[str, tuple[int, Resource]] = {}
    for index, r in indexed:
        first_id = ids.setdefault(r.id, index)
        if first_id != index:
            problems.add(doc.where(("resources", index, "id")),
                         f"duplicate id {r.id!r}: also used at {doc.where(('resources', first_id, 'id'))}; "
                         "ids must be unique")
        first_index, first = urls.setdefault(_same_url(r.url), (index, r))
        if first_index != index:
            here = doc.where(("resources", index, "url"))
            there = doc.where(("resources", first_index, "url"))
            problems.add(here, f"duplicate url {r.url}: used by {first.id!r} at {there} and by {r.id!r} at {here}; "
                               "list each link once")


def _same_url(url: str) -> str:
    """Scheme and host are case-insensitive, a trailing '/' changes nothing."""
    parts = urlsplit(url)
    rest = url[len(parts.scheme) + 3 + len(parts.netloc):]
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{rest}".rstrip("/")


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _did_you_mean(value: Any, allowed: Sequence[str]) -> str:
    if not isinstance(value, str):
        return ""
    close = difflib.get_close_matches(value.lower(), list(allowed), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


class LibraryCache:
    """The library last read from disk; read again when the file changes.

    So a community manager's edit goes live without a restart. A broken edit is
    reported once and the last good version stays in use.
    """

    def __init__(self) -> None:
        self._signature: tuple[int, int] | None = None
        self._checked = False
        self.library: Library | None = None

    def current(self, path: Path, expected_by: str = "") -> tuple[Library | None, ConfigError | None]:
        """The library to use now, and the error of a new version that could not be used."""
        try:
            stat = path.stat()
            signature: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            signature = None
        if self._checked and signature == self._signature:
            return self.library, None
        self._checked, self._signature = True, signature
        try:
            self.library = load_library(path, expected_by)
        except ConfigError as exc:
            return self.library, exc
        return self.library, None


# -- is this a request? -----------------------------------------------------------------------

#: Phrases that make a message a request even without a question mark (whole words,
#: after normalisation: case and accents do not matter).
REQUEST_PHRASES = (
    "how do i", "how can i", "how should i", "how to", "where can i", "where do i",
    "where should i", "where to", "any tips", "tips for", "tips on", "any advice",
    "advice on", "advice for", "looking for", "recommend", "recommendation",
    "recommendations", "suggest", "suggestion", "suggestions", "point me", "help me",
    "i need", "need help", "want to learn", "learn how", "is there a", "are there any",
    "do you know", "do you have",
)


def asks_for_help(text: str) -> bool:
    """Does this message read as a request? A '?' anywhere, or one of REQUEST_PHRASES."""
    normalized = normalize(text)
    if "?" in normalized:
        return True
    padded = f" {' '.join(words(normalized))} "
    return any(f" {phrase} " in padded for phrase in REQUEST_PHRASES)


def _addressed_request(event: Event) -> bool:
    return event.addressed and asks_for_help(event.text)


def _without_mentions(text: str) -> str:
    """The question without "@account" words: they address the bot, they are not the topic."""
    return " ".join(word for word in text.split() if not word.startswith("@"))


def _without_brand_words(query: str, brand_name: str) -> str:
    """The query without the words of the brand's name: people say "Inkwell" to address
    us, which should not favour every resource with "Inkwell" in its title."""
    brand_terms = set(ranking.analyze(brand_name))
    return " ".join(w for w in words(normalize(query)) if not brand_terms.intersection(ranking.analyze(w)))


# -- the plugin -------------------------------------------------------------------------------

plugin = Plugin("resources", config=ResourcesSettings, description="honest links when someone asks for help")
ResourcesContext = Context[ResourcesSettings]


@plugin.check
def check_resources(settings: ResourcesSettings, bot_config: Any) -> None:
    """The resource file must load cleanly, and the templates must keep links honest."""
    load_library(settings.path(Path(bot_config.path).parent), expected_by=bot_config.where(*_loc("file")))
    engine = TemplateEngine(bot_config.brand)
    for key, extra, required in (("answer", ANSWER_VARIABLES, "links"), ("item", ITEM_VARIABLES, "note"),
                                 ("no_match", ("query",), None), ("usage", (), None)):
        source = getattr(settings, key)
        where = bot_config.doc.value_where(_loc(key))
        template = engine.compile(source, where)
        engine.check(template, where, extra_names=extra)
        if required and required not in meta.find_undeclared_variables(engine.environment.parse(source)):
            why = ("so that people see which links are ours, affiliate or sponsored" if required == "note"
                   else "or the answer would contain no links")
            raise TemplateError(f"the {key} template must show {{{{ {required} }}}}, {why}", where)


def _loc(key: str) -> tuple[str, str, str]:
    """Where a setting of this plugin is in brandbot.yaml (for file:line in errors)."""
    return ("plugins", plugin.name, key)


@plugin.on(Kind.DIRECT, Kind.MENTION, Kind.REPLY, priority=0, when=_addressed_request)
async def answer_question(ctx: ResourcesContext) -> None:
    """Answer a request for help with links; with nothing good, the next responder (the fallback) answers."""
    await _answer(ctx, _without_mentions(ctx.event.text))


@plugin.command("resources", description="Links that may help, e.g. /resources self-publishing")
async def resources_command(ctx: ResourcesContext) -> None:
    await _command(ctx)


@plugin.command("find", description="Find a helpful link, e.g. /find writing group")
async def find_command(ctx: ResourcesContext) -> None:
    await _command(ctx)


async def _command(ctx: ResourcesContext) -> None:
    settings = ctx.config
    query = " ".join(ctx.event.args).strip()
    if not query:
        await ctx.reply(settings.usage)
    elif not await _answer(ctx, query):
        await ctx.reply(settings.no_match, variables={"query": query})


async def _library(ctx: ResourcesContext) -> Library | None:
    settings = ctx.config
    library, error = settings.cache.current(settings.path(ctx.files.config_dir), ctx.files.where(*_loc("file")))
    if error is not None:
        kept = ("still using the previous version" if library is not None
                else "no links can be suggested until it is fixed")
        log.error("resource file cannot be used (%s): %s", kept, error)
        await ctx.send_staff(f"The resource links file has a problem ({kept}):\n{error}")
    return library


async def _answer(ctx: ResourcesContext, query: str) -> bool:
    """Reply with the best matches that fit the network; False when there is nothing good."""
    settings = ctx.config
    library = await _library(ctx)
    if library is None:
        ctx.note("skip", "no resource library loaded")
        return False
    query = _without_brand_words(query, ctx.brand.get("name", ""))
    found = library.search(query, settings.max_results, settings.min_score, settings.min_relative)
    if not found:
        best = library.search(query, 1)
        ctx.note("skip", f"no resource scored {settings.min_score:g} or more"
                 + (f" (best: {best[0].resource.id} {best[0].score:.2f})" if best else " (no word matched)"))
        return False
    network = ctx.networks.get(ctx.event.network)
    problem = None
    for count in range(len(found), 0, -1):
        text = _render(ctx, settings, found[:count], query)
        problem = network.check_text(text) if network is not None else None
        if problem is None:
            shown = ", ".join(f"{m.resource.id} {m.score:.2f}" for m in found[:count])
            dropped = f"; {len(found) - count} dropped to fit {ctx.event.network}" if count < len(found) else ""
            ctx.note("action", f"resources: {shown}{dropped}")
            await ctx.reply("{{ answer }}", variables={"answer": text})
            return True
    log.warning("resource %s does not fit %s even alone: %s", found[0].resource.id, ctx.event.network, problem)
    ctx.note("skip", f"even one link does not fit {ctx.event.network}: {problem}")
    return False


def _render(ctx: ResourcesContext, settings: ResourcesSettings, matches: Sequence[Match], query: str) -> str:
    links = "\n".join(ctx.render(settings.item, _item_variables(m.resource, settings.labels)) for m in matches)
    return ctx.render(settings.answer, {"links": links, "count": len(matches), "query": query})


def _item_variables(resource: Resource, labels: Labels) -> dict[str, Any]:
    note = [labels.ours if resource.owner == "ours" else labels.third_party]
    if resource.disclosure == "affiliate":
        note.append(labels.affiliate)
    elif resource.disclosure == "sponsored":
        note.append(labels.sponsored)
    return {
        "title": resource.title, "url": resource.url, "description": resource.description,
        "tags": list(resource.tags), "owner": resource.owner, "disclosure": resource.disclosure,
        "note": ", ".join(note), "ours": resource.owner == "ours",
    }
