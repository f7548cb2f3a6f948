"""Simple templates render without Jinja, and exactly as Jinja renders them.

``{{ name }}``, ``{{ follower.points }}`` and ``{{ name | first_name }}`` outputs
between text are evaluated directly; everything else, and every error, goes through the
real Jinja template. These tests render generated templates both ways and compare.
"""

from __future__ import annotations

from typing import Any

import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brandbot.core.errors import TemplateError
from brandbot.core.templates import _DICT_ATTRIBUTES, ReplyTemplate, TemplateEngine, _SimpleTemplate
from tests.test_templates import context_for

BRAND = {"name": "Inkwell", "url": "https://inkwell.example"}

TEXTS = [
    "Hi ",
    "!",
    " ",
    "\n",
    "\r\n",
    "ü ❤ ",
    "{",
    "}",
    "%",
    "{% raw %}{{ x }}{% endraw %}",
    "{# c #}",
]
OUTPUTS = [
    "{{ name }}",
    "{{- name -}}",
    "{{ name | first_name }}",
    "{{ name | upper | first_name }}",
    "{{ name | length }}",
    "{{ name | e }}",
    "{{ name | ordinal }}",  # fails: not a number
    "{{ name.upper }}",
    "{{ name.__class__ }}",  # unsafe
    "{{ handle }}",
    "{{ follower }}",
    "{{ follower.points }}",
    "{{ follower.points | ordinal }}",
    "{{ follower.tags }}",
    "{{ follower.first_seen.year }}",
    "{{ follower.nope }}",
    "{{ follower.__dict__ }}",
    "{{ event.text }}",
    "{{ event.args }}",
    "{{ event.kind | title }}",
    "{{ brand.url }}",
    "{{ brand.nope }}",
    "{{ brand.items }}",
    "{{ brand.keys }}",
    "{{ now.year }}",
    "{{ rank }}",
    "{{ rank | ordinal }}",
    "{{ nobody }}",
    "{{ plural }}",
    "{{ range }}",
]
templates = st.lists(st.sampled_from(TEXTS) | st.sampled_from(OUTPUTS), min_size=1, max_size=6).map(
    "".join
) | st.lists(st.sampled_from(OUTPUTS), min_size=1, max_size=3).map(lambda p: " ".join(p) + "\n")

contexts = st.sampled_from(
    [
        context_for(),
        context_for(name="{{ config }}"),
        context_for(name=""),
        context_for(rank=3),
        context_for(rank="x"),
        context_for(follower={"points": 7, "tags": ["a"]}),  # a plugin's own "follower"
        context_for(brand=None),
    ]
)


def outcome(
    engine: TemplateEngine, template: ReplyTemplate, context: dict[str, Any]
) -> tuple[Any, ...]:
    try:
        return ("ok", engine.render(template, context))
    except TemplateError as exc:
        return ("error", str(exc), exc.where)


def jinja_only(engine: TemplateEngine, source: str) -> ReplyTemplate:
    return ReplyTemplate(source, "r.yaml:3", engine.environment.from_string(source))


@settings(max_examples=400, deadline=None)
@given(source=templates, context=contexts, lazy=st.booleans())
def test_simple_templates_render_exactly_like_jinja(
    source: str, context: dict[str, Any], lazy: bool
) -> None:
    engine = TemplateEngine(BRAND, lazy=lazy)
    try:
        fast = engine.compile(source, "r.yaml:3")
    except TemplateError:  # "{" pieces can make a syntax error: Jinja must agree
        with pytest.raises(jinja2.TemplateSyntaxError):
            engine.environment.from_string(source)
        return
    assert outcome(engine, fast, context) == outcome(engine, jinja_only(engine, source), context)


@pytest.mark.parametrize(
    "source",
    [
        "Hi {{ name }}! You have {{ follower.points }} points.",
        "{{ name | first_name }}, all about it: {{ brand.url }}/x\n",
        "Thanks {{ name }}! Your {{ follower.interactions | ordinal }} message, {{ follower.tier }}.",
        "{# just a comment #}",
    ],
)
def test_typical_replies_skip_jinja_even_when_lazy(source: str) -> None:
    engine = TemplateEngine(BRAND, lazy=True)
    template = engine.compile(source, "r.yaml:1")
    engine.check(template)
    assert isinstance(template.compiled, _SimpleTemplate)
    rendered = engine.render(template, context_for())
    assert rendered == engine.render(jinja_only(engine, source), context_for())
    assert template.compiled._jinja._compiled is None  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "source",
    [
        "{% if follower.points %}x{% endif %}",
        "{{ follower.tags | join(',') }}",
        "{{ name ~ handle }}",
        "{{ brand['url'] }}",
        "{{ plural(1, 'a') }}",
        "{{ 'x' }}",
    ],
)
def test_anything_else_is_left_to_jinja(source: str) -> None:
    engine = TemplateEngine(BRAND, lazy=True)
    assert not isinstance(engine.compile(source).compiled, _SimpleTemplate)


def test_a_failing_fast_render_falls_back_to_jinja_once() -> None:
    engine = TemplateEngine(BRAND, lazy=True)
    template = engine.compile("Hi {{ nobody }}", "r.yaml:8")
    with pytest.raises(TemplateError, match="unknown variable 'nobody'") as info:
        engine.render(template, context_for())
    assert info.value.where == "r.yaml:8"


@settings(max_examples=200, deadline=None)
@given(
    source=st.lists(st.sampled_from([*OUTPUTS, "Hi ", "\n"]), min_size=1, max_size=5).map("".join),
    extra=st.sampled_from([(), ("rank",), ("nobody", "rank")]),
)
def test_quick_checks_of_simple_templates_agree_with_the_full_checks(
    source: str, extra: tuple[str, ...]
) -> None:
    """A trailing no-op block makes a template not simple: the full checks run on it."""
    engine = TemplateEngine(BRAND, lazy=True)

    def check(src: str) -> str | None:
        try:
            engine.check(engine.compile(src, "r.yaml:3"), extra_names=extra)
        except TemplateError as exc:
            return f"{exc} @ {exc.where}"
        return None

    assert check(source) == check(source + " {% if false %}{% endif %}")


def test_dict_attribute_names_are_what_a_dict_instance_has() -> None:
    names = {*dir(dict), *dir(object), *dir(type), "url", "name", "mro", "__dict__", "fromkeys"}
    for name in names:
        assert hasattr({}, name) == (name in _DICT_ATTRIBUTES), name
