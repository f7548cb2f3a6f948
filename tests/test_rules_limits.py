"""Rules and templates cannot freeze the process, and empty or impossible rules are refused.

Rule regexes run on a linear-time engine (RE2): a catastrophic pattern answers at once,
and syntax RE2 cannot run (backreferences, lookaround) is refused at load with file:line.
Template rendering is bounded (loop iterations and calls, output length) both when
``brandbot check`` renders a template and when the bot does.
"""

from __future__ import annotations

import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from brandbot.core.errors import RuleError, TemplateError
from brandbot.core.events import Conversation, Event, Kind, Person
from brandbot.core.rules import RuleBook
from brandbot.core.templates import TemplateEngine, sample_context
from brandbot.core.yamlfile import load_yaml_text
from brandbot.ops import cli

NESTED_LOOP = "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}"


def load(text: str, **kwargs: Any) -> RuleBook:
    doc = load_yaml_text(textwrap.dedent(text), Path("rules.yaml"))
    return RuleBook.from_docs([doc], TemplateEngine(), **kwargs)


def mention(text: str) -> Event:
    return Event(
        kind=Kind.MENTION,
        network="telegram",
        id="e1",
        author=Person("telegram", "u1", "ana", "Ana"),
        conversation=Conversation("telegram", "c1"),
        text=text,
    )


def write_config(folder: Path, rules: str) -> Path:
    """A console-only brandbot.yaml with ``rules`` as its rules.yaml; returns its path."""
    (folder / "brandbot.yaml").write_text(
        "brand: {name: Limits Brand}\nstorage: {path: ':memory:'}\n"
        "networks:\n  console: {prompt: false}\nrules: [rules.yaml]\n"
    )
    (folder / "rules.yaml").write_text(rules)
    return folder / "brandbot.yaml"


def finishes_within(seconds: float, work: Callable[[], Any]) -> Any:
    """Run ``work`` in a thread; fail (instead of hanging the suite) if it takes too long."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


# -- regexes ---------------------------------------------------------------------------------


def test_catastrophic_regex_answers_fast() -> None:
    book = load("- name: r\n  match: {regex: '(a+)+$'}\n  reply: ok\n")
    started = time.perf_counter()
    found = book.candidates(mention("a" * 27 + "!"), mention("").time)
    assert found == []
    assert time.perf_counter() - started < 0.5
    assert [r.name for r in book.candidates(mention("aaaa"), mention("").time)] == ["r"]


@pytest.mark.parametrize(
    ("pattern", "named"),
    [
        (r"(a)\1", "backreference"),
        (r"(?P<x>a)(?P=x)", "backreference"),
        ("order(?= now)", "lookahead"),
        ("(?!spam)order", "lookahead"),
        ("(?<=my )order", "lookbehind"),
        ("(?<!no )order", "lookbehind"),
    ],
)
def test_regex_syntax_re2_cannot_run_is_refused_with_file_and_line(pattern: str, named: str) -> None:
    with pytest.raises(RuleError) as info:
        load(f"- name: a\n  reply: x\n  match:\n    regex: '{pattern}'\n")
    assert info.value.where == "rules.yaml:4"
    assert named in str(info.value) and "docs/rules.md" in str(info.value)


def test_regex_prefilter_still_files_regexes_under_their_literal() -> None:
    book = load("- name: r\n  match: {regex: 'order\\s*#?\\d+'}\n  reply: ok\n")
    assert [r.name for r in book.candidates(mention("ORDER #123"), mention("").time)] == ["r"]
    assert book.candidates(mention("no number here"), mention("").time) == []


def test_re2_syntax_python_lacks_is_accepted_and_always_verified() -> None:
    book = load(
        "- name: euros\n  match: {regex: '[[:digit:]]+ euros'}\n  reply: ok\n"
        "- name: letters\n  match: {regex: '^\\pL+$'}\n  reply: ok\n"
    )
    assert [r.name for r in book.candidates(mention("12 EUROS"), mention("").time)] == ["euros"]
    assert [r.name for r in book.candidates(mention("hello"), mention("").time)] == ["letters"]


# -- templates --------------------------------------------------------------------------------


def test_check_refuses_an_endless_loop_template_quickly() -> None:
    engine = TemplateEngine()
    template = engine.compile(NESTED_LOOP, "rules.yaml:7")
    with pytest.raises(TemplateError) as info:
        finishes_within(5, lambda: engine.check(template))
    assert info.value.where == "rules.yaml:7" and "loop" in str(info.value)


def test_the_bot_refuses_an_endless_loop_template_at_run_time() -> None:
    engine = TemplateEngine(lazy=True)
    template = engine.compile(NESTED_LOOP, "plugin:x")
    engine.check(template)  # static checks only: nothing to refuse yet
    with pytest.raises(TemplateError) as info:
        finishes_within(5, lambda: engine.render(template, sample_context()))
    assert "loop" in str(info.value)


def test_endless_recursion_through_macros_is_bounded() -> None:
    engine = TemplateEngine()
    source = (
        "{% macro m(n) %}{% if n %}{{ m(n - 1) }}{{ m(n - 1) }}{% endif %}{% endmacro %}{{ m(40) }}"
    )
    with pytest.raises(TemplateError):
        finishes_within(5, lambda: engine.check(engine.compile(source, "r:1")))


def test_endless_recursive_loop_is_bounded() -> None:
    engine = TemplateEngine()
    source = "{% for x in [1, 1] recursive %}{{ loop([1, 1]) }}{% endfor %}"
    with pytest.raises(TemplateError):
        finishes_within(5, lambda: engine.check(engine.compile(source, "r:1")))


@pytest.mark.parametrize(
    "source",
    [
        "{% for i in range(1000) %}{{ 'x' * 1000 }}{% endfor %}",
        "{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
        "{{ 'x' | center(1000000000) }}",
        "{{ '%1000000000s' | format('x') }}",
        "{{ '%1000000000s' % 'x' }}",
        "{{ '{:>1000000000}'.format('x') }}",
        "{{ ('x' * 10000).center(1000000000) }}",
        "{{ ('x' * 10000).replace('x', 'y' * 10000) }}",
        "{{ range(10) | batch(1000000000, 'x') | list }}",
        "{{ lipsum(1000000000) }}",
    ],
)
def test_template_output_is_bounded(source: str) -> None:
    engine = TemplateEngine()
    with pytest.raises(TemplateError) as info:
        finishes_within(5, lambda: engine.check(engine.compile(source, "r:1")))
    assert "too long" in str(info.value) or "too large" in str(info.value)


def test_ordinary_loops_still_render() -> None:
    engine = TemplateEngine()
    template = engine.compile(
        "{% for t in follower.tags %}#{{ t }} {% endfor %}{% for i in range(3) %}{{ i }}{% endfor %}",
        "r:1",
    )
    engine.check(template)
    assert engine.render(template, sample_context()) == "#newsletter 012"


def test_brandbot_check_stops_on_an_endless_loop_template(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(
        tmp_path, f"rules:\n  - name: loop\n    match: {{any: [hi]}}\n    reply: \"{NESTED_LOOP}\"\n"
    )
    code = finishes_within(10, lambda: cli.main(["-c", str(config), "check"]))
    err = capsys.readouterr().err
    assert code == 2 and "rules.yaml:4" in err and "loop" in err, err


# -- empty and impossible conditions (item: regex "", any [], unknown tier) ------------------------


@pytest.mark.parametrize(
    ("snippet", "line", "says"),
    [
        ("match: {regex: ''}", 3, "empty regex"),
        ("match:\n    regex: ''", 4, "empty regex"),
        ("match: {any: []}", 3, "any is empty"),
        ("match: {all: []}", 3, "all is empty"),
        ("match: {not: []}", 3, "not is empty"),
    ],
)
def test_empty_match_conditions_are_refused(snippet: str, line: int, says: str) -> None:
    with pytest.raises(RuleError) as info:
        load(f"- name: a\n  reply: x\n  {snippet}\n")
    assert info.value.where == f"rules.yaml:{line}", info.value
    assert says in str(info.value)


def test_an_unknown_tier_is_refused_listing_the_configured_tiers() -> None:
    text = "- name: a\n  reply: x\n  when:\n    tier: [Gold, Platinum]\n"
    with pytest.raises(RuleError) as info:
        load(text, tiers=["Reader", "Regular", "Silver", "Gold"])
    assert info.value.where == "rules.yaml:4"
    assert "'Platinum'" in str(info.value)
    assert "Reader, Regular, Silver, Gold" in str(info.value)
    assert len(load(text.replace("Platinum", "silver"), tiers=["Silver", "Gold"])) == 1


def test_brandbot_check_refuses_an_unknown_tier(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, "rules:\n  - name: vip\n    reply: hi\n    when: {tier: [Platinum]}\n")
    code = cli.main(["-c", str(config), "check"])
    err = capsys.readouterr().err
    assert code == 2 and "rules.yaml:4" in err and "Platinum" in err and "Gold" in err, err
