"""The ``brandbot`` command: run, check, simulate, followers, loyalty.

Every command takes ``-c/--config`` (default ``config/brandbot.yaml``). Errors in the
configuration print one clear message with file:line and exit with status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import UTC
from pathlib import Path
from typing import Any, TypeVar

from brandbot.core.errors import BrandbotError, ConfigError

DEFAULT_CONFIG = "config/brandbot.yaml"
EXIT_CONFIG = 2

_T = TypeVar("_T")


def _setup_logging(level: str = "INFO", json_format: bool = False, config: Any = None) -> Any:
    from brandbot.runtime.logs import configure

    if config is None:
        return configure(level, json_format)
    return configure(level, json_format, secrets=config.secrets(), log_text=config.top.logging.log_text)


def _load(args: argparse.Namespace) -> Any:
    from brandbot.core.config import load_config

    return load_config(args.config)


# -- run ----------------------------------------------------------------------------------
def tune_runtime() -> None:
    """Process-wide settings for a long-running bot (not set when brandbot is a library).

    A shorter GIL switch interval lets the threads beside the event loop (WAL
    checkpoints, aiosqlite's maintenance work) get the GIL back promptly while the loop
    is busy; freezing the start-up heap keeps it out of full collections. glibc's
    malloc keeps big blocks off the heap (see :func:`tune_malloc`).

    The collector's pause is its young generations' size, and they are large here: a
    record replaced in a cache frees an old object for each new one, so the allocation
    count that triggers a collection barely grows while the young survivors (cached
    records living a few seconds) pile up. At (2000, 20, 100) a first-generation
    collection held 4,000-18,000 objects (up to 7.6 ms) and a second 30,000 (up to 46
    ms) at 2,200 events/s; at (300, 10, 1000) the same work is cut into pauses of at
    most 1.2 and 3.9 ms, for the same collector CPU in all (60,000 events,
    ``benchmarks/stalls.py``). Full collections come about as rarely as before.
    """
    import gc

    sys.setswitchinterval(0.0005)
    gc.set_threshold(300, 10, 1_000)
    gc.freeze()
    tune_malloc()


#: glibc ``mallopt`` parameters (malloc.h) and the size they are fixed at.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _BIG_BLOCK = -1, -3, 128 * 1024


def tune_malloc() -> None:
    """Blocks of 128 KiB and more come from mmap and go back to the OS when freed (glibc).

    By default glibc raises that threshold each time such a block is freed (up to 32
    MiB); after that, commit batches and grown dict tables are carved from the heap,
    which fragments and never shrinks. Fixed thresholds kept the soak's RSS 4-8 MB lower
    after 300,000 events (interleaved runs, same throughput). Does nothing elsewhere.
    """
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl has it too; there it is a no-op)
        return
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt(_M_MMAP_THRESHOLD, _BIG_BLOCK)
    mallopt(_M_TRIM_THRESHOLD, _BIG_BLOCK)


def run_loop(main: Coroutine[Any, Any, _T]) -> _T:
    """Run ``main`` on uvloop's event loop when it is installed (``pip install "brandbot[fast]"``).

    uvloop runs the same asyncio code about 5% faster here (measured in ``brandbot bench``);
    ``BRANDBOT_LOOP=asyncio`` keeps the standard loop (to rule the loop out when debugging).
    """
    if os.environ.get("BRANDBOT_LOOP", "auto") != "asyncio":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.run(main)
    return asyncio.run(main)



def make_private_folder(folder: Path) -> None:
    """Create ``folder`` and any missing parents as 0700 (owner only), whatever the umask.

    ``mkdir -p`` would give the parents the umask's mode (often world-readable); folders
    that already exist keep theirs.
    """
    missing: list[Path] = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for new in reversed(missing):
        new.mkdir(mode=0o700, exist_ok=True)
        new.chmod(0o700)  # mkdir's mode is filtered by the umask


def cmd_run(args: argparse.Namespace) -> int:
    from brandbot.runtime.bot import Bot

    config = _load(args)
    redactor = _setup_logging(args.log_level or config.top.logging.level, config.top.logging.json_format, config)
    if config.storage_path != ":memory:":
        make_private_folder(Path(config.storage_path).parent)

    tune_runtime()

    async def main() -> int:
        bot = Bot(config)
        bot.redactor = redactor
        if config.top.http.enabled and config.top.http.accounts:
            from brandbot.web import install

            install(bot)  # the staff web UI beside /healthz and /metrics (docs/web.md)
        return await bot.run()

    from brandbot.runtime.runlock import RunLock

    with RunLock(config.storage_path, "run"):
        return run_loop(main())


def cmd_role(args: argparse.Namespace) -> int:
    """``brandbot gateway`` / ``brandbot worker``: one role of a scaled-out deployment (docs/scaling.md)."""
    from brandbot.scale.roles import build_role, storage_url

    config = _load(args)
    storage_url(config)  # a shared database is required: say so before anything starts
    redactor = _setup_logging(args.log_level or config.top.logging.level, config.top.logging.json_format, config)
    tune_runtime()

    async def main() -> int:
        bot = build_role(args.command, config)
        bot.redactor = redactor
        return await bot.run()

    return run_loop(main())


# -- check --------------------------------------------------------------------------------
def check_config(config: Any) -> list[str]:
    """Everything ``brandbot check`` verifies beyond loading; returns a summary. Raises on errors."""
    from brandbot.core.templates import TemplateEngine
    from brandbot.networks.registry import build_network
    from brandbot.runtime.checks import load_rule_book, run_plugin_checks
    from brandbot.runtime.loader import load_plugins

    plugins = load_plugins(config.plugins, config.plugin_dirs, config.doc)
    networks = {s.name: build_network(s.name, dict(s.settings), doc=config.doc, loc=s.loc, where=s.where)
                for s in config.networks}
    book = load_rule_book(config, TemplateEngine(config.brand), networks, measure=True)
    run_plugin_checks(plugins, config)
    from brandbot.ops.posts import summary_lines

    posts = summary_lines(config, networks)  # the calendar: each post fits each network it goes to
    from brandbot.ops.understanding_check import understanding_lines

    return [
        f"config {config.path}",
        f"{len(book)} rules from {len(config.rule_files)} file(s)",
        f"{len(plugins)} plugins: {', '.join(p.plugin.name for p in plugins) or '-'}",
        f"networks: {', '.join(networks)}",
        *posts,
        *understanding_lines(config, book),
    ]


def cmd_check(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s", stream=sys.stderr)
    config = _load(args)
    for line in check_config(config):
        print(f"ok  {line}")
    print("brandbot check: everything is valid")
    return 0


# -- simulate -----------------------------------------------------------------------------
def cmd_simulate(args: argparse.Namespace) -> int:
    from brandbot.ops.simulate import read_events, simulate

    config = _load(args)
    _setup_logging("WARNING")
    if args.events == "-":
        lines = sys.stdin.read().splitlines()
        source = "stdin"
    else:
        lines, source = read_events(args.events)
    asyncio.run(simulate(config, lines, sys.stdout, source))
    return 0


# -- intents ------------------------------------------------------------------------------
def cmd_intents(args: argparse.Namespace) -> int:
    from brandbot.ops.understanding_check import evaluate

    config = _load(args)
    _setup_logging("WARNING")
    print("\n".join(evaluate(config, Path(args.file), show_misses=args.misses)))
    return 0


# -- followers ----------------------------------------------------------------------------
async def _with_store(config: Any, work: Callable[[Any], Awaitable[_T]]) -> _T:
    from brandbot.store import store_for

    store = store_for(config.storage_path, config.top.storage)
    await store.open()
    try:
        return await work(store)
    finally:
        await store.close()


async def _find(store: Any, ref: str) -> Any:
    from brandbot.store.base import find_person

    follower = await find_person(store, ref)
    if follower is None:
        raise BrandbotError(f"no follower {ref!r}")
    return follower


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)] if rows else [len(h) for h in header]

    def line(r: Sequence[object]) -> str:
        return "  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def cmd_followers(args: argparse.Namespace) -> int:
    from datetime import datetime, timedelta

    from brandbot.core.records import FollowerQuery

    config = _load(args)

    async def work(store: Any) -> int:
        if args.action == "list":
            since = datetime.now(UTC) - timedelta(days=args.seen_days) if args.seen_days else None
            query = FollowerQuery(tier=args.tier, network=args.network,
                                  tag=args.tag.lstrip("#").lower() if args.tag else None, seen_since=since,
                                  order_by=args.sort, descending=not args.ascending, limit=args.limit)
            followers = await store.list_followers(query)
            rows = [[str(f.id), f.name, str(f.points), f.tier, str(f.interactions), str(f.reposts),
                     f.last_seen.strftime("%Y-%m-%d %H:%M"), ",".join(sorted(f.tags))] for f in followers]
            print(_table(rows, ["id", "name", "points", "tier", "interactions", "reposts", "last seen", "tags"]))
            total = await store.count_followers()
            print(f"\n{len(followers)} shown of {total} followers")
            costs = await store.kv_items("core.cost")
            if costs:
                print("sending cost estimate per day: " + ", ".join(f"{d} ${float(v):.2f}" for d, v in costs[-7:]))
            return 0
        follower = await _find(store, args.who)
        if args.action == "show":
            now = datetime.now(UTC)
            idents = await store.identities(follower.id)
            print(f"{follower.name} (follower {follower.id})")
            print(f"  identities : {', '.join(f'{i.network}:{i.handle or i.user_id}' for i in idents)}")
            print(f"  first seen : {follower.first_seen:%Y-%m-%d} ({follower.days_known(now)} days known), last seen {follower.last_seen:%Y-%m-%d %H:%M}")
            days = "day" if follower.streak == 1 else "days"
            print(f"  points     : {follower.points} ({follower.tier}), streak {follower.streak} {days}")
            print(f"  counts     : {follower.interactions} interactions, {follower.mentions} mentions, {follower.replies} replies, {follower.reposts} reposts, {follower.quotes} quotes")
            print(f"  tags       : {', '.join(sorted(follower.tags)) or '-'}   opted out: {follower.opted_out}   unreachable on: {', '.join(sorted(follower.unreachable)) or '-'}")
            print("  history (newest first):")
            for it in await store.recent_interactions(follower.id, args.limit):
                arrow = "<-" if it.direction == "in" else "->"
                extra = f" [{it.source}]" if it.source else ""
                pts = f" +{it.points}pt" if it.points else ""
                text = " ".join(it.text.split())[:80]
                print(f"    {it.time:%Y-%m-%d %H:%M} {arrow} {it.network}/{it.kind}{pts}{extra} {text}")
            return 0
        if args.action == "export":
            from brandbot.ops.export import export_json

            data = await store.export_follower(follower.id)
            text = export_json(data)
            if args.output:
                Path(args.output).write_text(text, encoding="utf-8")
                print(f"wrote everything held on follower {follower.id} to {args.output}")
            else:
                print(text)
            return 0
        if args.action == "forget":
            from brandbot.runtime.runlock import RunLock

            with RunLock(config.storage_path, "forget"):
                ok = await store.forget_follower(follower.id, datetime.now(UTC))
            print(f"forgot follower {follower.id}" if ok else f"no follower {follower.id}")
            return 0 if ok else 1
        if args.action == "tag":
            import dataclasses

            from brandbot.runtime.runlock import RunLock

            tags = set(follower.tags)
            for t in args.tags:
                name = t.lstrip("+-").lstrip("#").strip().lower()  # "#press" is the tag "press"
                if not name:
                    raise BrandbotError(f"empty tag {t!r}: give a name, e.g. press, +press or -press")
                (tags.discard(name) if t.startswith("-") else tags.add(name))
            with RunLock(config.storage_path, "tag change"):
                store.put_follower(dataclasses.replace(follower, tags=frozenset(tags)))
                await store.flush()
            print(f"follower {follower.id} tags: {', '.join(sorted(tags)) or '-'}")
            return 0
        raise BrandbotError(f"unknown action {args.action}")

    return asyncio.run(_with_store(config, work))


def cmd_migrate(args: argparse.Namespace) -> int:
    """Copy the SQLite database (storage.path) into PostgreSQL, then compare the counts."""
    from brandbot.ops.migrate import copy_database, format_counts
    from brandbot.runtime.runlock import RunLock

    config = _load(args)
    if config.storage_path == ":memory:":
        raise BrandbotError("storage.path is ':memory:': there is no database to migrate")
    if not args.to.startswith(("postgresql://", "postgres://")):
        raise BrandbotError(f"--to must be a postgresql://user:password@host:port/database URL, not {args.to!r}")
    brand = args.brand or config.top.storage.brand_id
    with RunLock(config.storage_path, "migration"):
        counts = asyncio.run(copy_database(Path(config.storage_path), args.to, brand))
    print(format_counts(counts))
    print(f"copied; to use it, set storage.url to this database in {config.path} and restart")
    return 0


def cmd_loyalty(args: argparse.Namespace) -> int:

    from brandbot.core import loyalty
    from brandbot.core.records import FollowerQuery

    config = _load(args)

    from brandbot.runtime.runlock import RunLock

    async def work(store: Any) -> int:
        with RunLock(config.storage_path, "loyalty recompute"):
            return await recompute(store)

    async def recompute(store: Any) -> int:
        changed = 0
        offset = 0
        total = await store.count_followers() if hasattr(store, "count_followers") else None
        while True:
            batch = await store.list_followers(FollowerQuery(order_by="name", descending=False, limit=500, offset=offset))
            if not batch:
                break
            for f in batch:
                fresh = loyalty.rescore(f, await store.all_interactions(f.id), config.top.loyalty)
                if fresh != f:
                    changed += 1
                    store.put_follower(fresh)
            offset += len(batch)
            print(f"\rloyalty recompute: {offset}{f'/{total}' if total else ''} followers, {changed} changed",
                  end="", file=sys.stderr, flush=True)
        if offset:
            print(file=sys.stderr)
        await store.flush()
        print(f"recomputed loyalty for {offset} {'follower' if offset == 1 else 'followers'}; {changed} changed")
        return 0

    return asyncio.run(_with_store(config, work))


def cmd_report(args: argparse.Namespace) -> int:
    from datetime import datetime, timedelta

    from brandbot.ops.storeviews import StorePeople, StoreRecords
    from brandbot.runtime import reports

    config = _load(args)
    if args.html:
        return _html_report(config, args)
    if args.what is None:
        raise BrandbotError("say which report: brandbot report advocates, brandbot report shares, "
                            "or brandbot report --html FILE")

    async def work(store: Any) -> int:
        since = None if args.all else datetime.now(UTC) - timedelta(days=args.days)
        if args.what == "reviews":
            from brandbot.runtime import reviewcopies

            records = StoreRecords(store, reviewcopies.NAMESPACE)
            print(reviewcopies.format_review_report(await reviewcopies.review_report(records)))
            return 0
        shares = StoreRecords(store, reports.AMPLIFY_NAMESPACE)
        if args.what == "advocates":
            rows = await reports.top_advocates(shares, StorePeople(store), since, args.network, args.limit)
            period = "all time" if since is None else f"the last {args.days} days"
            print(f"Top advocates, {period}{' on ' + args.network if args.network else ''}:")
            print(reports.format_advocates(rows))
        else:
            print(reports.format_share_totals(await reports.share_totals(shares, since)))
        return 0

    return asyncio.run(_with_store(config, work))


def _html_report(config: Any, args: argparse.Namespace) -> int:
    """The staff UI's Overview and Advocates pages as one static HTML file."""
    from datetime import datetime, timedelta

    from brandbot.ops.storeviews import StorePeople
    from brandbot.web.numbers import RangeError, day_range
    from brandbot.web.report import html_report, write_report

    if config.storage_path == ":memory:":
        raise BrandbotError("storage.path is ':memory:': there is no database to report on")
    now = datetime.now(UTC)
    first = args.since or (now.date() - timedelta(days=max(1, args.days) - 1)).isoformat()
    try:
        days = day_range(now.date(), first, args.until)
    except RangeError as exc:
        raise BrandbotError(f"report --html: {exc}") from None

    async def work(store: Any) -> str:
        return await html_report(config, StorePeople(store), days, now)

    html = asyncio.run(_with_store(config, work))
    write_report(Path(args.html), html)
    print(f"wrote the overview and advocates for {days.first} to {days.last} to {args.html}")
    return 0


def cmd_hash_password(args: argparse.Namespace) -> int:
    """Print the argon2 hash of a password for ``http.accounts`` (typed twice, or one line on stdin)."""
    import getpass

    from brandbot.web.accounts import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("password for the staff web UI: ")
        if getpass.getpass("again: ") != password:
            raise BrandbotError("the two passwords differ; nothing was printed")
    else:
        password = sys.stdin.readline().rstrip("\n")
    try:
        print(hash_password(password))
    except ValueError as exc:
        raise BrandbotError(str(exc)) from None
    return 0


def cmd_giveaway(args: argparse.Namespace) -> int:
    from brandbot.core.draw import verify_export

    path = Path(args.file)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BrandbotError(f"no such file: {path}") from None
    except json.JSONDecodeError as exc:
        raise BrandbotError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    result = verify_export(data)
    for reason in result.reasons:
        print(reason)
    print("draw verified: the winners follow from the published seed and entry list" if result.ok
          else "draw NOT verified")
    return 0 if result.ok else 1


# -- entry point --------------------------------------------------------------------------
def _accept_config_after_subcommands(parser: argparse.ArgumentParser) -> None:
    """``-c FILE`` after any subcommand too: ``brandbot check -c FILE`` = ``brandbot -c FILE check``.

    Its default there is SUPPRESS: a subcommand sets ``config`` only when ``-c`` is given
    after it (and then it wins); otherwise the value before the subcommand (or the default) stays.
    """
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subparser in action.choices.values():
                subparser.add_argument("-c", "--config", default=argparse.SUPPRESS,
                                       help="brandbot.yaml to use (also accepted before the subcommand)")
                _accept_config_after_subcommands(subparser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="brandbot", description="A brand's conversational engagement bot.")
    parser.add_argument("-c", "--config", default=DEFAULT_CONFIG,
                        help=f"brandbot.yaml to use (default {DEFAULT_CONFIG}); also accepted after the subcommand")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run the bot until Ctrl-C / SIGTERM (or end of console input)")
    p.add_argument("--log-level", default=None)
    p.set_defaults(func=cmd_run)

    for role, text in (("gateway", "scale-out: hold the network connections, stream events to Redis, send replies"),
                       ("worker", "scale-out: handle streamed events and commit them to PostgreSQL (run N of them)")):
        p = sub.add_parser(role, help=text)
        p.add_argument("--log-level", default=None)
        p.set_defaults(func=cmd_role)

    p = sub.add_parser("check", help="validate config, rules, templates and plugins")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("simulate", help="JSON-lines events in, JSON-lines decisions out; sends nothing")
    p.add_argument("events", nargs="?", default="-", help="file of JSON lines (default: stdin)")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("intents", help="how well messages are understood (intents, answers)")
    isub = p.add_subparsers(dest="action", required=True)
    pe = isub.add_parser("eval", help="score a labelled JSON-lines file: confusion table, precision and recall")
    pe.add_argument("file", help='JSON lines: {"text": ..., "expect": "rule:shipping", "intent": "shipping", "lang": "en"}')
    pe.add_argument("--misses", action="store_true", help="also list every message answered otherwise than labelled")
    p.set_defaults(func=cmd_intents)

    p = sub.add_parser("followers", help="list, show, export, forget or tag followers")
    fsub = p.add_subparsers(dest="action", required=True)
    pl = fsub.add_parser("list")
    pl.add_argument("--tier")
    pl.add_argument("--network")
    pl.add_argument("--tag")
    pl.add_argument("--seen-days", type=int, default=0, help="only those seen in the last N days")
    pl.add_argument("--sort", default="points", choices=["points", "last_seen", "first_seen", "interactions", "name"])
    pl.add_argument("--ascending", action="store_true")
    pl.add_argument("--limit", type=int, default=50)
    for action in ("show", "export", "forget"):
        pa = fsub.add_parser(action)
        pa.add_argument("who", help="follower id, or network:handle")
        if action == "show":
            pa.add_argument("--limit", type=int, default=20)
        if action == "export":
            pa.add_argument("-o", "--output")
    pt = fsub.add_parser("tag")
    pt.add_argument("who")
    pt.add_argument("tags", nargs="+", help="tags to add (press, +press or #press); prefix with - to remove (-old)")
    p.set_defaults(func=cmd_followers)

    p = sub.add_parser("report", help="word-of-mouth reports: advocates, shares; --html FILE for the staff pages")
    p.add_argument("what", nargs="?", choices=["advocates", "shares", "reviews"])
    p.add_argument("--html", metavar="FILE", help="write the Overview and Advocates pages as one static HTML file")
    p.add_argument("--since", metavar="YYYY-MM-DD", help="with --html: first day (default: --days back)")
    p.add_argument("--until", metavar="YYYY-MM-DD", help="with --html: last day (default: today)")
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--all", action="store_true", help="all time instead of --days")
    p.add_argument("--network")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("hash-password", help="print the argon2 hash of a staff web UI password (http.accounts)")
    p.set_defaults(func=cmd_hash_password)

    from brandbot.ops import posts

    p = sub.add_parser("posts", help="the calendar: brand posts planned and what went out (from the database)")
    posts.add_arguments(p)
    p.set_defaults(func=posts.run)

    p = sub.add_parser("giveaway", help="giveaway tools")
    gsub = p.add_subparsers(dest="action", required=True)
    pv = gsub.add_parser("verify", help="recompute a draw from its exported entry list and seed")
    pv.add_argument("file", help="giveaways/giveaway-<id>.json")
    p.set_defaults(func=cmd_giveaway)

    from brandbot.ops import bench

    p = sub.add_parser("bench", help="the standard performance workload (events/s, latency, RSS)")
    bench.add_arguments(p)
    p.set_defaults(func=bench.run_from_args)

    p = sub.add_parser("migrate", help="copy the SQLite database into PostgreSQL (progress, then a count check)")
    p.add_argument("--to", required=True, metavar="URL", help="postgresql://user:password@host:port/database")
    p.add_argument("--brand", default="", help="brand id of the rows in PostgreSQL (default: storage.brand_id)")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("loyalty", help="loyalty maintenance")
    lsub = p.add_subparsers(dest="action", required=True)
    lsub.add_parser("recompute", help="recompute points and tiers from history after a config change")
    p.set_defaults(func=cmd_loyalty)
    _accept_config_after_subcommands(parser)
    return parser


def _tag_removals(argv: Sequence[str]) -> list[str]:
    """``followers tag WHO -old``: ``-old`` is a tag to remove, not an option.

    argparse would need ``followers tag WHO -- -old``; the tags are moved after a ``--``
    here (``-c FILE`` and ``-h`` among them stay options).
    """
    argv = list(argv)
    for i in range(len(argv) - 1):
        if argv[i] == "followers" and argv[i + 1] == "tag":
            head, rest = argv[: i + 2], argv[i + 2:]
            if "--" in rest:
                return argv
            options: list[str] = []
            words: list[str] = []
            items = iter(rest)
            for word in items:
                if word in ("-c", "--config"):
                    options += [word, next(items, "")]
                elif word.startswith("--config=") or word in ("-h", "--help"):
                    options.append(word)
                else:
                    words.append(word)
            return [*head, *options, "--", *words] if any(w.startswith("-") for w in words) else argv
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_tag_removals(sys.argv[1:] if argv is None else argv))
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"brandbot: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except BrandbotError as exc:
        print(f"brandbot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
