"""``brandbot check`` for the calendar: every post renders and fits every network it goes to.

Run by ``brandbot check`` (and nowhere on the hot path): each post's text is rendered
with sample values (the brand, a time, a sample tour stop for posts on a stop) and
measured by each target network the way the network counts (X: links 23, emoji 2).
Errors name the posts file and line, the post, the network and what to change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from brandbot.core.errors import ConfigError
from brandbot.core.postsfile import BrandPost, PostsFile, load_posts, sample_variables
from brandbot.core.templates import TemplateEngine, sample_context
from brandbot.core.yamlfile import combined_error
from brandbot.networks.base import Network


def check_posts(config: Any, networks: Mapping[str, Network], engine: TemplateEngine) -> tuple[PostsFile, list[str]]:
    """Validate ``posts:`` against the running configuration; returns (posts, warnings).

    Raises one ConfigError listing every problem (file:line each). A target on a network
    that is configured but switched off is a warning: nothing goes there until it is on.
    """
    path = config.posts_path
    if path is None:
        return PostsFile(()), []
    posts = load_posts(path, default_timezone=config.top.timezone, expected_by=config.where("posts"))
    configured = set(config.top.networks)
    plugins = {p.name for p in config.plugins if p.enabled}
    problems: list[tuple[str, str]] = []
    warnings: list[str] = []
    for post in posts.posts:
        problems += _post_problems(post, config, networks, engine, configured, plugins, warnings)
    if problems:
        raise combined_error(problems)
    return posts, warnings


def _post_problems(post: BrandPost, config: Any, networks: Mapping[str, Network], engine: TemplateEngine,
                   configured: set[str], plugins: set[str], warnings: list[str]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if post.giveaway and "giveaway" not in plugins:
        problems.append((post.where, (f"post {post.id!r} opens a giveaway, but the giveaway plugin is not enabled: "
                                     f"add 'giveaway: {{}}' under plugins: in {config.path.name}")))
    if post.event and "events" not in plugins:
        problems.append((post.where, (f"post {post.id!r} is on tour stop {post.event!r}, but the events plugin is "
                                     f"not enabled: add it under plugins: in {config.path.name}")))
    text = ""
    if post.text:
        try:
            template = engine.compile(post.text, post.where)
            text = engine.render(template, {"brand": config.brand, "now": sample_context(config.brand)["now"],
                                            **sample_variables(post)})
        except ConfigError as exc:
            return [*problems, (exc.where or post.where, f"post {post.id!r}: {exc}")]
        if not text.strip():
            problems.append((post.where, f"post {post.id!r}: the text renders to nothing; write what to post"))
    for target in post.targets:
        network = networks.get(target.network)
        if network is None:
            if target.network in configured:
                warnings.append(f"{post.where}: post {post.id!r} goes to {target.network}, which is switched off "
                                f"(enabled: false); nothing is posted there until it is enabled")
            else:
                known = ", ".join(sorted(configured)) or "none"
                problems.append((post.where, (f"post {post.id!r}: network {target.network!r} is not in "
                                             f"{config.path.name} (configured: {known}); add it or fix the name")))
            continue
        too_long = network.check_text(text) if text else None
        if too_long:
            problems.append((post.where, (f"post {post.id!r} cannot be posted on {target.network}: {too_long} "
                                         f"(measured {network.length_of(text)} with sample values); shorten the text "
                                         f"or post a shorter one there as a separate post")))
    return problems


__all__ = ["check_posts"]
