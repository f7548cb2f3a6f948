"""Reply templates: sandboxed, strict, and people's text is always data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brandbot.core.errors import TemplateError
from brandbot.core.events import Conversation, Event, Kind, Person
from brandbot.core.records import FollowerRecord
from brandbot.core.templates import (
    EVENT_FIELDS,
    FOLLOWER_FIELDS,
    ReplyTemplate,
    TemplateEngine,
    build_context,
    first_name,
    ordinal,
    plural,
    sample_context,
)

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


def make_event(name: str = "Ana Lima", text: str = "hello", **kwargs: object) -> Event:
    return Event(
        kind=kwargs.pop("kind", Kind.MENTION),  # type: ignore[arg-type]
        network="telegram",
        id="e1",
        author=Person("telegram", "u1", handle="ana", name=name),
        conversation=Conversation("telegram", "c1", title="Book club"),
        text=text,
        **kwargs,  # type: ignore[arg-type]
    )


def make_follower(**kwargs: object) -> FollowerRecord:
    values: dict[str, object] = {
        "id": 7,
        "name": "Ana Lima",
        "first_seen": NOW - timedelta(days=10, hours=1),
        "last_seen": NOW,
        "points": 42,
        "tier": "Gold",
        "tags": frozenset({"press", "beta"}),
    }
    values.update(kwargs)
    return FollowerRecord(**values)  # type: ignore[arg-type]


def context_for(name: str = "Ana Lima", **extra: object) -> dict[str, object]:
    return build_context(
        event=make_event(name),
        follower=make_follower(),
        first_contact=True,
        now=NOW,
        brand={"name": "Inkwell", "url": "https://inkwell.example"},
        extra=extra or None,
    )


@pytest.fixture
def engine() -> TemplateEngine:
    return TemplateEngine({"name": "Inkwell", "url": "https://inkwell.example"})


def test_renders_documented_variables(engine: TemplateEngine) -> None:
    t = engine.compile(
        "{{ name }} (@{{ handle }} on {{ network }}) has {{ follower.points }} points, "
        "{{ follower.days_known }} days, tags {{ follower.tags | join(',') }}, "
        "in {{ event.conversation }}; {{ brand.name }} {{ now.year }} {{ follower.first_contact }}",
        "rules.yaml:3",
    )
    assert engine.render(t, context_for()) == (
        "Ana Lima (@ana on telegram) has 42 points, 10 days, tags beta,press, "
        "in Book club; Inkwell 2026 True"
    )


def test_build_context_has_the_same_keys_as_the_sample() -> None:
    assert set(context_for()) == set(sample_context())
    sample = sample_context()
    assert set(vars(sample["follower"])) == set(FOLLOWER_FIELDS)
    assert set(vars(sample["event"])) == set(EVENT_FIELDS)


def test_extra_variables_are_added(engine: TemplateEngine) -> None:
    t = engine.compile("You are {{ rank | ordinal }}!")
    assert engine.render(t, context_for(rank=3)) == "You are 3rd!"


def test_plain_text_skips_jinja_but_renders_the_same(engine: TemplateEngine) -> None:
    t = engine.compile("Thanks!\n", "r.yaml:1")
    assert t.is_plain
    assert engine.render(t, {}) == "Thanks!"
    jinja = engine.compile("Thanks!{{ '' }}\n")
    assert engine.render(jinja, context_for()) == engine.render(t, {})


def test_reply_templates_compare_by_source_and_where(engine: TemplateEngine) -> None:
    assert engine.compile("Hi {{ name }}", "a:1") == engine.compile("Hi {{ name }}", "a:1")
    assert isinstance(engine.compile("x"), ReplyTemplate)


# -- errors with file:line ----------------------------------------------------------------------


def test_syntax_error_has_where_and_template_line(engine: TemplateEngine) -> None:
    with pytest.raises(TemplateError) as info:
        engine.compile("Hello\n{{ name }\n", "rules.yaml:10")
    assert info.value.where == "rules.yaml:11"
    assert "syntax error" in str(info.value)


def test_unknown_filter_suggests_the_right_one(engine: TemplateEngine) -> None:
    with pytest.raises(TemplateError, match="did you mean 'first_name'"):
        engine.compile("{{ name | frist_name }}", "rules.yaml:4")


def test_unknown_filter_in_a_branch_fails_at_check(engine: TemplateEngine) -> None:
    t = engine.compile(
        "{% if follower.points > 1000 %}{{ name | frist_name }}{% endif %}", "r.yaml:2"
    )
    with pytest.raises(TemplateError, match="first_name") as info:
        engine.check(t)
    assert info.value.where == "r.yaml:2"


def test_check_reports_unknown_variable_with_suggestion_and_known_list(
    engine: TemplateEngine,
) -> None:
    t = engine.compile("Hi\n{{ nmae }}!", "rules.yaml:20")
    with pytest.raises(TemplateError) as info:
        engine.check(t)
    err = info.value
    assert err.where == "rules.yaml:21"
    assert "unknown variable 'nmae'" in str(err) and "did you mean 'name'?" in str(err)
    assert "known variables: brand, event, follower, handle, name, network, now" in str(err)


def test_check_finds_unknown_variables_in_branches_not_taken(engine: TemplateEngine) -> None:
    t = engine.compile("{% if follower.points > 99999 %}{{ secret }}{% endif %}", "r.yaml:5")
    with pytest.raises(TemplateError, match="unknown variable 'secret'"):
        engine.check(t)


def test_check_finds_unknown_follower_attribute(engine: TemplateEngine) -> None:
    t = engine.compile("{% if false %}{{ follower.pionts }}{% endif %}", "r.yaml:5")
    with pytest.raises(TemplateError, match=r"did you mean 'follower\.points'"):
        engine.check(t)


def test_check_accepts_brand_keys_from_config_and_loop_variables(engine: TemplateEngine) -> None:
    engine.check(
        engine.compile("{{ brand.url }} {% for t in follower.tags %}{{ t }}{% endfor %}", "r:1")
    )
    with pytest.raises(TemplateError, match=r"brand\.nmae"):
        engine.check(engine.compile("{{ brand.nmae }}", "r:1"))


def test_check_allows_declared_plugin_variables(engine: TemplateEngine) -> None:
    t = engine.compile("{{ rank }}", "plugin:leaderboard")
    with pytest.raises(TemplateError):
        engine.check(t)
    engine.check(t, extra_names=["rank"])


def test_render_undefined_raises_template_error_with_where(engine: TemplateEngine) -> None:
    t = engine.compile("Hi {{ nobody }}", "rules.yaml:8")
    with pytest.raises(TemplateError) as info:
        engine.render(t, context_for())
    assert info.value.where == "rules.yaml:8"
    assert "unknown variable 'nobody'" in str(info.value)


def test_runtime_type_errors_become_template_errors(engine: TemplateEngine) -> None:
    t = engine.compile("{{ name | ordinal }}", "rules.yaml:9")
    with pytest.raises(TemplateError) as info:
        engine.render(t, context_for())
    assert info.value.where == "rules.yaml:9"


# -- sandbox: user text is data -------------------------------------------------------------


@pytest.mark.parametrize(
    "evil",
    [
        "{{ config }}",
        "{% for x in ().__class__.__mro__ %}{{ x }}{% endfor %}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{# comment #}",
        "{{ name }}",
    ],
)
def test_user_text_is_printed_as_is(engine: TemplateEngine, evil: str) -> None:
    t = engine.compile("Hi {{ name }}! You said: {{ event.text }}")
    context = build_context(
        event=make_event(name=evil, text=evil),
        follower=make_follower(name=evil),
        first_contact=False,
        now=NOW,
        brand={},
    )
    assert engine.render(t, context) == f"Hi {evil}! You said: {evil}"


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__ }}",
        "{{ follower.__dict__ }}",
        "{{ 'x' * 1000000 }}",
        "{{ 10 ** 10000 }}",
        "{{ '{0.__class__}'.format(name) }}",
    ],
)
def test_sandbox_blocks_unsafe_templates(engine: TemplateEngine, source: str) -> None:
    t = engine.compile(source, "rules.yaml:2")
    with pytest.raises(TemplateError) as info:
        engine.render(t, context_for())
    assert info.value.where == "rules.yaml:2"


def test_autoescape_is_off(engine: TemplateEngine) -> None:
    t = engine.compile("{{ name }}")
    assert engine.render(t, context_for(name="<b>Tom & Jerry</b>")) == "<b>Tom & Jerry</b>"


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1))  # an empty display name falls back to the handle
def test_any_name_renders_verbatim(text: str) -> None:
    engine = TemplateEngine()
    t = engine.compile("Hi {{ name }}!")
    assert engine.render(t, context_for(name=text)) == "Hi " + text + "!"


# -- filters and globals ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, "1st"),
        (2, "2nd"),
        (3, "3rd"),
        (4, "4th"),
        (11, "11th"),
        (12, "12th"),
        (13, "13th"),
        (21, "21st"),
        (22, "22nd"),
        (101, "101st"),
        (111, "111th"),
        (112, "112th"),
        (0, "0th"),
    ],
)
def test_ordinal(n: int, expected: str) -> None:
    assert ordinal(n) == expected


def test_first_name_and_plural() -> None:
    assert first_name("Ana  Lima") == "Ana"
    assert first_name("") == ""
    assert plural(1, "point", "points") == "point"
    assert plural(0, "point", "points") == "points"
    assert plural(2, "point") == "points"
    assert plural(2, "reply", "replies") == "replies"


def test_filters_and_globals_in_templates(engine: TemplateEngine) -> None:
    t = engine.compile(
        "{{ name | first_name }}, {{ follower.points }} {{ plural(follower.points, 'point', 'points') }}, "
        "your {{ follower.interactions | ordinal }} visit"
    )
    assert engine.render(t, context_for()) == "Ana, 42 points, your 0th visit"
    one = engine.compile("{{ plural(1, 'point', 'points') }}")
    assert engine.render(one, context_for()) == "point"


def test_compiling_the_same_source_twice_reuses_the_jinja_template(engine: TemplateEngine) -> None:
    a = engine.compile("Hi {{ name }}", "plugin:a")
    b = engine.compile("Hi {{ name }}", "plugin:b")
    assert a.compiled is b.compiled and a.where != b.where
    assert engine.render(b, context_for()) == "Hi Ana Lima"
