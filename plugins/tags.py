"""tags: social bookmarking for followers, and tags on followers and conversations for the team.

For everybody:

- ``/save <link or resource name> #tag ...`` keeps a link in the person's own list
  (http/https only; limits on length and number of tags). Linked accounts share one
  list: a link saved on Telegram shows in ``/saved`` on Discord.
- ``/saved [from]`` lists them, numbered; ``/unsave <number>`` removes one.
- ``/tags`` shows what the community tags most, as a text tag cloud;
  ``/tagged #tag`` the links most people saved with that tag.

For admins:

- ``/tag <network:handle | follower id> #tag ...`` and ``/untag ...`` tag people; tags
  then filter them in ``brandbot followers list --tag`` and in rule conditions
  (``when: {tags: [press]}``).
- ``/tagchat [network:conversation] #tag ...`` tags a conversation (this one by
  default): from then on everyone who writes there gets its tags (admins excepted),
  so "people from the press chat" become a list. ``/untagchat [...] [#tag ...]`` stops
  it; ``/tagchat`` alone lists the tagged conversations.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from brandbot import ConfigError, Context, Plugin, load_yaml, normalize, reports

CHAT_PREFIX = "chat:"


class TagsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_tags: int = Field(5, ge=1, le=20)  # per saved link, and per /tag command
    max_tag_length: int = Field(32, ge=2, le=64)
    max_url_length: int = Field(500, ge=30, le=2000)
    max_saved: int = Field(200, ge=1, le=10_000)  # links per person
    page_size: int = Field(20, ge=1, le=100)  # links per /saved reply (fewer where the network needs)
    cloud_size: int = Field(15, ge=1, le=100)  # tags in the /tags cloud
    tagged_size: int = Field(10, ge=1, le=50)  # links in /tagged
    resources_file: str | None = None  # YAML with "resources: [{name, url}, ...]", for /save by name
    tag_admins_in_chats: bool = False  # whether /tagchat tags also tag the team's own accounts


plugin = Plugin("tags", config=TagsSettings, description="saved links, tag cloud, tags on people and chats")
TagsContext = Context[TagsSettings]


# --------------------------------------------------------------------------- validation


def url_problem(url: str, max_length: int) -> str | None:
    """Why ``url`` cannot be saved, in words a follower understands; None if it can."""
    if len(url) > max_length:
        return f"that link is longer than {max_length} characters"
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return "a link cannot contain spaces or control characters"
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        return "that does not look like a web address"
    scheme = parts.scheme.lower()
    if not scheme or "://" not in url:
        return "a link must start with https:// (or http://)"
    if scheme not in ("http", "https"):
        return f"only http and https links can be saved, not {scheme}:"
    if "@" in parts.netloc:
        return "links with a user name or password in them are not saved"
    host = parts.hostname or ""
    labels = host.split(".")
    if len(labels) < 2 or not all(labels) or not port_ok:
        return "that does not look like a web address (the site name is missing or incomplete)"
    return None


def parse_tags(words: Sequence[str], settings: TagsSettings) -> tuple[list[str], str | None]:
    """Tags from words like "#BookTour" (the '#' optional): lower case, de-duplicated, checked."""
    tags: list[str] = []
    for word in words:
        tag = word.lstrip("#").lower()
        problem = reports.tag_problem(tag, settings.max_tag_length)
        if problem:
            return [], problem
        if tag not in tags:
            tags.append(tag)
    if len(tags) > settings.max_tags:
        return [], f"at most {settings.max_tags} tags at a time (you gave {len(tags)})"
    return tags, None


def resources_path(settings: TagsSettings, config_dir: Path) -> Path | None:
    """The resources file named in the settings, relative to brandbot.yaml's folder."""
    return None if not settings.resources_file else config_dir / settings.resources_file


NAME_KEYS = ("id", "title", "name")


@dataclass(frozen=True, slots=True)
class Resource:
    """A link of the brand's that people may save by name."""

    title: str  # shown with the link
    short: str  # what to type: the id if it has one
    url: str


def load_resources(path: Path, settings: TagsSettings, expected_by: str = "") -> dict[str, Resource]:
    """normalized name -> Resource from a resources file; ConfigError with file:line if broken.

    The file is the resources plugin's (config/resources.yaml): a ``resources:`` list
    whose entries have a ``url`` and an ``id``, ``title`` or ``name``; a person may
    save an entry by any of those. Other keys are the resources plugin's business.
    """
    doc = load_yaml(path, expected_by=expected_by)
    entries = doc.data.get("resources") if isinstance(doc.data, dict) else None
    if not isinstance(entries, list):
        raise ConfigError("expected a 'resources:' list of entries with a title and a url", doc.where())
    found: dict[str, Resource] = {}
    for i, entry in enumerate(entries):
        fields: dict[str, Any] = entry if isinstance(entry, dict) else {}
        names = {k: v.strip() for k in NAME_KEYS if isinstance(v := fields.get(k), str) and v.strip()}
        if not names:
            raise ConfigError("each resource needs an id or a title", doc.where(("resources", i)))
        shown = names.get("title") or names.get("name") or names["id"]
        url = fields.get("url")
        if not isinstance(url, str):
            raise ConfigError(f"resource {shown!r} needs a url (text)", doc.where(("resources", i)))
        problem = url_problem(url, settings.max_url_length)
        if problem:
            raise ConfigError(f"resource {shown!r}: {problem}", doc.where(("resources", i, "url")))
        for name in names.values():
            key = normalize(name)
            if key in found and found[key].url != url:
                raise ConfigError(f"two resources are called {name!r}; names must differ", doc.where(("resources", i)))
            found[key] = Resource(shown, names.get("id") or shown, url)
    return found


@plugin.check
def check_resources(settings: TagsSettings, bot_config: Any) -> None:
    path = resources_path(settings, Path(bot_config.path).parent)
    if path is not None:
        load_resources(path, settings, bot_config.where("plugins", "tags", "resources_file"))


# --------------------------------------------------------------------------- saved links


async def saved_links(ctx: TagsContext, follower_id: int) -> list[reports.SavedLink]:
    """The person's saved links over all their linked accounts, oldest first."""
    links: list[reports.SavedLink] = []
    for identity in await ctx.people.identities(follower_id):
        prefix = reports.identity_prefix(reports.LINK_PREFIX, identity.network, identity.user_id)
        links += await reports.load_links(ctx.data, prefix)
    return sorted(links, key=lambda link: (link.saved, link.url))


def _tag_words(tags: Sequence[str]) -> str:
    return " ".join(f"#{t}" for t in tags)


async def _target(ctx: TagsContext, words: list[str]) -> tuple[str, str] | str:
    """(url, resource name or "") for what the person wants to save, or what is wrong with it."""
    settings = ctx.config
    if any("://" in w for w in words) and len(words) > 1:
        return "send one link, then its #tags, e.g. /save https://example.com/page #books"
    text = " ".join(words)
    if "://" in text or text.lower().startswith("www.") or len(words) == 1 and "." in text and "/" in text:
        problem = url_problem(text, settings.max_url_length)
        return problem or (text, "")
    path = resources_path(settings, ctx.files.config_dir)
    try:
        resources = load_resources(path, settings) if path is not None else {}
    except ConfigError as exc:  # edited while the bot runs; the start-up check passed
        ctx.log.error("tags: cannot read the resources file: %s", exc)
        return "our list of resources cannot be read just now; send the link itself (https://...)"
    found = resources.get(normalize(text))
    if found is not None:
        return found.url, found.title
    if resources:
        names = list(dict.fromkeys(r.short for r in resources.values()))
        listed = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        return f"that is neither a link (https://...) nor one of our resources ({listed})"
    return "that is not a link: send a full address starting with https://"


@plugin.command("save", description="Save a link with #tags: /save https://... #tag")
async def save(ctx: TagsContext) -> None:
    settings = ctx.config
    words = [w for w in ctx.event.args if not w.startswith("#")]
    if not words:
        await ctx.reply("Usage: /save <link or resource name> #tag #tag, e.g. /save https://example.com/page #books")
        return
    tags, problem = parse_tags([w for w in ctx.event.args if w.startswith("#")], settings)
    target = problem or await _target(ctx, words)
    if isinstance(target, str):
        await ctx.reply("Sorry {{ name }}, I can't save that: {{ problem }}.", variables={"problem": target})
        return
    url, title = target
    mine = await saved_links(ctx, ctx.follower.id)
    page = reports.canonical_url(url)
    same = next((i for i, link in enumerate(mine) if reports.canonical_url(link.url) == page), None)
    if same is not None:
        old = mine[same]
        merged = list(dict.fromkeys([*old.tags, *tags]))
        if len(merged) > settings.max_tags:
            await ctx.reply("Sorry {{ name }}, a link can have at most {{ n }} tags; it has {{ tags }} already.",
                            variables={"n": settings.max_tags, "tags": _tag_words(old.tags)})
            return
        ctx.data.set(old.key, dataclasses.replace(old, tags=tuple(merged)).to_json(),
                     follower_id=ctx.follower.id)
        await ctx.reply("Already in your list as number {{ n }}, {{ name }}; its tags are now: {{ tags }}",
                        variables={"n": same + 1, "tags": _tag_words(merged) or "none"})
        return
    if len(mine) >= settings.max_saved:
        await ctx.reply("Your list is full ({{ n }} links), {{ name }}: /unsave some first.",
                        variables={"n": len(mine)})
        return
    link = reports.SavedLink(follower_id=ctx.follower.id, network=ctx.event.network, user_id=ctx.event.author.id,
                             url=url, title=title, tags=tuple(tags), saved=ctx.now)
    ctx.data.set(link.key, link.to_json(), follower_id=ctx.follower.id)
    await ctx.reply("Saved, {{ name }}: {{ what }}{{ tags }}. It is number {{ n }} in your /saved list.",
                    variables={"what": f"{title} ({url})" if title else url,
                               "tags": f" {_tag_words(tags)}" if tags else "", "n": len(mine) + 1})


def _line(n: int, link: reports.SavedLink) -> str:
    what = f"{link.title}: {link.url}" if link.title else link.url
    return f"{n}. {what}" + (f" {_tag_words(link.tags)}" if link.tags else "")


def fitting(ctx: TagsContext, template: str, build: Callable[[int], dict[str, Any]], count: int) -> dict[str, Any]:
    """The variables ``build(n)`` for the largest ``n <= count`` whose reply the network takes
    in one message (X refuses posts over 280 characters rather than splitting them)."""
    network = ctx.networks.get(ctx.event.network)
    for n in range(count, 1, -1):
        variables = build(n)
        if network is None or network.check_text(ctx.render(template, variables)) is None:
            return variables
    return build(min(count, 1))


SAVED_TEMPLATE = "Your saved links, {{ name }} ({{ total }}):\n{{ lines }}{{ more }}"


@plugin.command("saved", description="Your saved links: /saved [from number]")
async def saved(ctx: TagsContext) -> None:
    settings = ctx.config
    mine = await saved_links(ctx, ctx.follower.id)
    if not mine:
        await ctx.reply("You have no saved links yet, {{ name }}. Try /save https://example.com/page #tag")
        return
    arg = ctx.event.args[0].lstrip("#") if ctx.event.args else "1"
    if not arg.isdigit() or not 1 <= int(arg) <= len(mine):
        await ctx.reply("You have {{ total }} saved {{ plural(total, 'link') }}: /saved 1{{ ' to /saved ' ~ total "
                        "if total > 1 else '' }} shows them from that number on.", variables={"total": len(mine)})
        return
    first = int(arg)
    page = mine[first - 1:first - 1 + settings.page_size]

    def build(n: int) -> dict[str, Any]:
        after = first + n  # the number of the next link not shown
        return {"total": len(mine), "lines": "\n".join(_line(first + i, link) for i, link in enumerate(page[:n])),
                "more": f"\n(/saved {after} for more)" if after <= len(mine) else ""}

    await ctx.reply(SAVED_TEMPLATE, variables=fitting(ctx, SAVED_TEMPLATE, build, len(page)))


@plugin.command("unsave", description="Remove a saved link: /unsave <number>")
async def unsave(ctx: TagsContext) -> None:
    mine = await saved_links(ctx, ctx.follower.id)
    arg = ctx.event.args[0].lstrip("#") if len(ctx.event.args) == 1 else ""
    if not arg.isdigit():
        await ctx.reply("Usage: /unsave <number>, the number shown by /saved.")
        return
    n = int(arg)
    if not 1 <= n <= len(mine):
        await ctx.reply("You have no saved link number {{ n }}, {{ name }}; /saved lists your {{ total }}.",
                        variables={"n": n, "total": len(mine)})
        return
    link = mine[n - 1]
    ctx.data.delete(link.key)
    await ctx.reply("Removed number {{ n }}: {{ url }}", variables={"n": n, "url": link.url})


CLOUD_TEMPLATE = "What our community tags most:\n{{ cloud }}"


@plugin.command("tags", description="What our community tags most")
async def tag_cloud(ctx: TagsContext) -> None:
    settings = ctx.config
    counts = await reports.top_tags(ctx.data, settings.cloud_size)
    if not counts:
        await ctx.reply("Nobody has tagged a saved link yet. Be the first: /save https://... #tag")
        return
    variables = fitting(ctx, CLOUD_TEMPLATE, lambda n: {"cloud": reports.format_tag_cloud(counts[:n])}, len(counts))
    await ctx.reply(CLOUD_TEMPLATE, variables=variables)


TAGGED_TEMPLATE = "Most saved with #{{ tag }}:\n{{ lines }}"


@plugin.command("tagged", description="The links saved most with a tag: /tagged #tag")
async def tagged(ctx: TagsContext) -> None:
    settings = ctx.config
    tags, problem = parse_tags(ctx.event.args, settings)
    if problem or len(tags) != 1:
        await ctx.reply("Usage: /tagged #tag, e.g. /tagged #books{{ why }}",
                        variables={"why": f" ({problem})" if problem else ""})
        return
    rows = await reports.tagged_links(ctx.data, ctx.people, tags[0], settings.tagged_size)
    if not rows:
        await ctx.reply("Nobody has saved a link with #{{ tag }} yet.", variables={"tag": tags[0]})
        return
    lines = [f"{i}. {(r.title + ': ') if r.title else ''}{r.url} (saved by {r.people})" for i, r in enumerate(rows, 1)]
    variables = fitting(ctx, TAGGED_TEMPLATE, lambda n: {"tag": tags[0], "lines": "\n".join(lines[:n])}, len(lines))
    await ctx.reply(TAGGED_TEMPLATE, variables=variables)


# --------------------------------------------------------------------------- tags on people (admins)


async def _tag_people(ctx: TagsContext, *, add: bool) -> None:
    settings = ctx.config
    command = "tag" if add else "untag"
    if len(ctx.event.args) < 2:
        await ctx.reply("Usage: /{{ command }} <network:handle or follower id> #tag ..., e.g. /{{ command }} "
                        "telegram:ana #press", variables={"command": command}, essential=True)
        return
    target, *words = ctx.event.args
    tags, problem = parse_tags(words, settings)
    if problem:
        await ctx.reply("Nothing changed: {{ problem }}.", variables={"problem": problem}, essential=True)
        return
    person = await ctx.people.find(target, ctx.event.network)
    if person is None:
        await ctx.reply("I know no follower {{ target }}. Use network:handle (e.g. telegram:ana) or a follower id "
                        "(brandbot followers list shows them).", variables={"target": target}, essential=True)
        return
    updated = await ctx.people.tag(person.id, add=tags if add else (), remove=() if add else tags)
    if updated.id == ctx.follower.id:
        ctx.follower = updated
    await ctx.reply("{{ done }} {{ who }} (follower {{ id }}). Their tags: {{ tags }}",
                    variables={"done": "Tagged" if add else "Untagged", "who": person.name, "id": person.id,
                               "tags": _tag_words(sorted(updated.tags)) or "none"}, essential=True)


@plugin.command("tag", description="Tag a follower: /tag <network:handle|id> #tag ...", admin=True)
async def tag_person(ctx: TagsContext) -> None:
    await _tag_people(ctx, add=True)


@plugin.command("untag", description="Remove tags from a follower: /untag <network:handle|id> #tag ...", admin=True)
async def untag_person(ctx: TagsContext) -> None:
    await _tag_people(ctx, add=False)


# --------------------------------------------------------------------------- tags on conversations


def chat_key(network: str, conversation: str) -> str:
    return f"{CHAT_PREFIX}{reports.key_part(network)}:{reports.key_part(conversation)}"


def _chat_target(ctx: TagsContext) -> tuple[str, str, list[str]]:
    """(network, conversation, remaining words): the first word names a chat if it is network:id."""
    args = list(ctx.event.args)
    if args and not args[0].startswith("#") and ":" in args[0]:
        network, _, conversation = args.pop(0).partition(":")
        return network.lower(), conversation, args
    return ctx.event.network, ctx.event.conversation.id, args


@plugin.command("tagchat", description="Tag everyone who writes in a chat: /tagchat [network:chat] #tag ...",
                admin=True)
async def tag_chat(ctx: TagsContext) -> None:
    settings = ctx.config
    network, conversation, words = _chat_target(ctx)
    if not words:
        chats = await ctx.data.items(CHAT_PREFIX)
        lines = "\n".join(f"{v['network']}:{v['conversation']} {_tag_words(v['tags'])}" for _, v in chats)
        await ctx.reply("Tagged chats:\n{{ lines }}" if chats else
                        "No chat is tagged. /tagchat #tag tags this one; /tagchat network:chat #tag another.",
                        variables={"lines": lines}, essential=True)
        return
    tags, problem = parse_tags(words, settings)
    if problem:
        await ctx.reply("Nothing changed: {{ problem }}.", variables={"problem": problem}, essential=True)
        return
    key = chat_key(network, conversation)
    current = await ctx.data.get(key) or {"network": network, "conversation": conversation, "tags": []}
    merged = list(dict.fromkeys([*current["tags"], *tags]))
    if len(merged) > settings.max_tags:
        await ctx.reply("A chat can have at most {{ n }} tags; {{ chat }} has {{ tags }} already.",
                        variables={"n": settings.max_tags, "chat": f"{network}:{conversation}",
                                   "tags": _tag_words(current["tags"])}, essential=True)
        return
    ctx.data.set(key, {**current, "tags": merged, "since": current.get("since", ctx.now.isoformat())})
    await ctx.reply("From now on everyone who writes in {{ chat }} is tagged {{ tags }}.",
                    variables={"chat": f"{network}:{conversation}", "tags": _tag_words(merged)}, essential=True)


@plugin.command("untagchat", description="Stop tagging a chat's people: /untagchat [network:chat] [#tag ...]",
                admin=True)
async def untag_chat(ctx: TagsContext) -> None:
    settings = ctx.config
    network, conversation, words = _chat_target(ctx)
    tags, problem = parse_tags(words, settings)
    if problem:
        await ctx.reply("Nothing changed: {{ problem }}.", variables={"problem": problem}, essential=True)
        return
    key, chat = chat_key(network, conversation), f"{network}:{conversation}"
    current = await ctx.data.get(key)
    if current is None:
        await ctx.reply("{{ chat }} is not tagged.", variables={"chat": chat}, essential=True)
        return
    left = [t for t in current["tags"] if tags and t not in tags]
    if left:
        ctx.data.set(key, {**current, "tags": left})
    else:
        ctx.data.delete(key)
    await ctx.reply("{{ chat }}: {{ state }}. (People already tagged keep their tags; /untag removes them.)",
                    variables={"chat": chat, "state": f"now tags {_tag_words(left)}" if left else "no longer tagged"},
                    essential=True)


@plugin.watch()
async def tag_chat_members(ctx: TagsContext) -> None:
    """Everyone who writes in a tagged chat gets its tags (the team's accounts only if configured)."""
    settings = ctx.config
    chat = await ctx.data.get(chat_key(ctx.event.network, ctx.event.conversation.id))
    if not chat or (ctx.is_admin and not settings.tag_admins_in_chats):
        return
    missing = [t for t in chat["tags"] if t not in ctx.follower.tags]
    if missing:
        await ctx.tag(*missing)
        ctx.note("action", f"tagged {_tag_words(missing)} (writes in a tagged chat)")
