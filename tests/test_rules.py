"""YAML reply rules: loading errors, matching semantics, the index, conditions and state."""

from __future__ import annotations

import itertools
import random
import re
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from brandbot.core.errors import ConfigError, RuleError, TemplateError
from brandbot.core.events import Conversation, Event, Kind, Person
from brandbot.core.records import FollowerRecord
from brandbot.core.rules import (
    VARIANT_MEMORY,
    Rule,
    RuleBook,
    RuleState,
    compile_regex,
    conditions_hold,
    once_key,
    parse_duration,
    required_literal,
    required_literals,
)
from brandbot.core.rules import state as rules_state
from brandbot.core.templates import TemplateEngine
from brandbot.core.textnorm import clean, normalize, words
from brandbot.core.yamlfile import load_yaml_text

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)  # a Wednesday


def load(text: str, name: str = "rules.yaml", **kwargs: Any) -> RuleBook:
    doc = load_yaml_text(textwrap.dedent(text), Path(name))
    return RuleBook.from_docs([doc], TemplateEngine(), **kwargs)


def event(
    text: str = "", kind: Kind = Kind.MENTION, network: str = "telegram", **kwargs: Any
) -> Event:
    return Event(
        kind=kind,
        network=network,
        id=kwargs.pop("id", "e1"),
        author=Person(network, "u1", "ana", "Ana"),
        conversation=Conversation(network, "c1"),
        text=text,
        **kwargs,
    )


def names(book: RuleBook, text: str, now: datetime = NOW, **kwargs: Any) -> list[str]:
    return [r.name for r in book.candidates(event(text, **kwargs), now)]


def follower(**kwargs: Any) -> FollowerRecord:
    values: dict[str, Any] = {
        "id": 7,
        "name": "Ana",
        "first_seen": NOW - timedelta(days=10),
        "last_seen": NOW,
    }
    values.update(kwargs)
    return FollowerRecord(**values)


def one_rule(match: str, **extra: str) -> RuleBook:
    lines = ["- name: r", f"  match: {match}", "  reply: ok"] + [
        f"  {k}: {v}" for k, v in extra.items()
    ]
    return load("\n".join(lines) + "\n")


# -- text normalization (brandbot.core.textnorm) -------------------------------------------------------


def test_normalize() -> None:
    assert normalize("  Ça   VA\u200b?\n CAFÉ ") == "ca va? cafe"
    assert normalize("Straße İstanbul ﬁne Ｈｅｌｌｏ") == "strasse istanbul fine hello"
    assert normalize("don’t — “quote”") == 'don\'t - "quote"'
    assert clean("  Ça\u200b  VA ") == "Ça VA"
    assert clean("Cafe\u0301") == "Café"  # composed, accent kept


def test_words() -> None:
    assert words(normalize("Hi @Brand! #BookTour, x_y 42nd... don't")) == [
        "hi",
        "@brand",
        "#booktour",
        "x_y",
        "42nd",
        "don",
        "t",
    ]
    assert words(normalize("कुछ नहीं")) == ["कुछ", "नहीं"]  # vowel signs stay inside their words
    assert words("❤ !!") == []


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_normalization_is_idempotent(text: str) -> None:
    assert normalize(normalize(text)) == normalize(text)
    assert clean(clean(text)) == clean(text)
    assert words(normalize(" ".join(words(normalize(text))))) == words(normalize(text))


# -- loading ------------------------------------------------------------------------------------


def test_loads_a_full_rule() -> None:
    book = load(
        """\
        rules:
          - name: greet-newcomer
            kinds: [mention, direct]
            networks: [telegram, discord]
            priority: 50
            match:
              any: [hello, hi, hey]
              not: [spam]
            when:
              first_contact: true
              tier: [Gold, Silver]
              points_at_least: 100
              tags: [press]
              not_tags: [blocked]
            reply:
              - "Hi {{ name }}!"
              - "Hello {{ name | first_name }}!"
            cooldown: {person: 1h, conversation: 10m, global: 5s}
            once_per_post: true
            active: {from: 2026-01-01, until: 2026-12-24, hours: "09:00-18:00", days: [mon, tue, wed], timezone: Europe/Berlin}
            actions: {tag: [greeted], points: 5}
            fallthrough: true
        """
    )
    (rule,) = book.rules
    assert rule.name == "greet-newcomer" and rule.where == "rules.yaml:2"
    assert rule.kinds == {Kind.MENTION, Kind.DIRECT}
    assert rule.networks == {"telegram", "discord"}
    assert rule.priority == 50 and rule.once_per_post and rule.fallthrough
    assert [v.where for v in rule.variants] == ["rules.yaml:16", "rules.yaml:17"]
    assert (rule.cooldown.person, rule.cooldown.conversation, rule.cooldown.global_) == (
        3600,
        600,
        5,
    )
    assert rule.actions.tag == {"greeted"} and rule.actions.points == 5
    assert rule.when.tiers == {"gold", "silver"} and rule.when.points_at_least == 100
    assert rule.active is not None and rule.active.timezone == "Europe/Berlin"
    assert book.get("greet-newcomer") is rule and book.get("nope") is None and len(book) == 1


def test_bare_list_and_empty_files() -> None:
    assert len(load("- {name: a, reply: x}\n- {name: b, reply: y}\n")) == 2
    assert len(load("# nothing yet\n")) == 0
    assert len(load("rules:\n")) == 0


def test_defaults() -> None:
    (rule,) = load("- {name: a, reply: x}\n").rules
    assert rule.kinds == {Kind.MENTION, Kind.DIRECT, Kind.REPLY, Kind.QUOTE, Kind.COMMAND}
    assert rule.networks == frozenset() and rule.priority == 0 and rule.enabled
    assert rule.match is None and rule.active is None and not rule.fallthrough


def test_unknown_key_did_you_mean_with_line() -> None:
    with pytest.raises(RuleError) as info:
        load("rules:\n  - name: a\n    reply: x\n  - name: b\n    priorty: 3\n    reply: y\n")
    assert info.value.where == "rules.yaml:5"
    assert "unknown key 'priorty' in rules[1]; did you mean 'priority'?" in str(info.value)


def test_unknown_nested_key_did_you_mean() -> None:
    with pytest.raises(RuleError) as info:
        load("- name: a\n  reply: x\n  match:\n    regexp: 'x'\n")
    assert info.value.where == "rules.yaml:4" and "did you mean 'regex'?" in str(info.value)


def test_unknown_top_level_key() -> None:
    with pytest.raises(RuleError, match="did you mean 'rules'") as info:
        load("rule:\n  - {name: a, reply: x}\n")
    assert info.value.where == "rules.yaml:1"


def test_bad_kind_lists_the_valid_ones() -> None:
    with pytest.raises(RuleError) as info:
        load("- name: a\n  reply: x\n  kinds: [mention, mentoin]\n")
    assert info.value.where == "rules.yaml:3"
    assert "unknown event kind 'mentoin'" in str(info.value) and "direct" in str(info.value)


def test_duplicate_names_mention_both_locations() -> None:
    engine = TemplateEngine()
    first = load_yaml_text("rules:\n  - {name: hello, reply: a}\n", Path("a.yaml"))
    second = load_yaml_text(
        "rules:\n  - {name: other, reply: b}\n  - {name: hello, reply: c}\n", Path("b.yaml")
    )
    with pytest.raises(RuleError) as info:
        RuleBook.from_docs([first, second], engine)
    assert info.value.where == "b.yaml:3"
    assert "a.yaml:2" in str(info.value) and "'hello'" in str(info.value)


def test_bad_regex_has_line_and_position() -> None:
    with pytest.raises(RuleError) as info:
        load("- name: a\n  reply: x\n  match:\n    regex: 'order(\\d+'\n")
    assert info.value.where == "rules.yaml:4"
    assert "missing ), unterminated subpattern at position 5" in str(info.value)


@pytest.mark.parametrize(
    ("snippet", "needle", "line"),
    [
        ("cooldown: {person: 5 minutes}", "duration", 3),
        ("cooldown:\n    conversation: -3", "negative", 4),
        ("active: {hours: '9-18'}", "09:00-18:00", 3),
        ("active: {hours: '09:00-09:00'}", "empty window", 3),
        ("active: {hours: '25:00-26:00'}", "not a time of day", 3),
        ("active: {timezone: Europe/Berln}", "did you mean 'Europe/Berlin'", 3),
        ("active: {days: [mon, tues]}", "unknown day 'tues'", 3),
        ("active: {from: 2026-12-24, until: 2026-12-01}", "is after", 3),
        ("name2: x", "unknown key 'name2'", 3),
        ("match: {any: [yes]}", "quotes", 3),
        ("match: {any: ['  ']}", "empty keyword", 3),
        ("priority: high", "valid integer", 3),
        ("kinds: []", "kinds is empty", 3),
    ],
)
def test_bad_values_have_file_line(snippet: str, needle: str, line: int) -> None:
    with pytest.raises(RuleError) as info:
        load(f"- name: a\n  reply: x\n  {snippet}\n")
    assert needle in str(info.value)
    assert info.value.where == f"rules.yaml:{line}"


def test_bad_rule_name() -> None:
    with pytest.raises(RuleError, match="letters, digits"):
        load("- name: 'a:b'\n  reply: x\n")
    with pytest.raises(RuleError, match="quotes") as info:
        load("- name: off\n  reply: x\n")  # YAML 1.1 reads "off" as false
    assert info.value.where == "rules.yaml:1"


def test_rule_that_does_nothing_is_an_error() -> None:
    with pytest.raises(RuleError, match="does nothing"):
        load("- name: a\n  match: {any: [hi]}\n")
    assert len(load("- name: a\n  actions: {tag: [vip]}\n")) == 1  # actions alone are fine


def test_unknown_template_variable_fails_at_load_with_line() -> None:
    with pytest.raises(TemplateError) as info:
        load("- name: a\n  reply:\n    - 'Hi {{ name }}'\n    - 'Hi {{ nmae }}'\n")
    assert info.value.where == "rules.yaml:4"
    assert "did you mean 'name'" in str(info.value)


def test_template_syntax_error_in_block_scalar_points_at_its_line() -> None:
    with pytest.raises(TemplateError) as info:
        load("- name: a\n  reply: |\n    Hello\n    {{ name }\n")
    assert info.value.where == "rules.yaml:4"


def test_unknown_network_when_networks_are_known() -> None:
    with pytest.raises(RuleError, match="did you mean 'telegram'") as info:
        load(
            "- name: a\n  reply: x\n  networks:\n    - discord\n    - telegarm\n",
            networks=["telegram", "discord"],
        )
    assert info.value.where == "rules.yaml:5"


def test_load_reads_files_in_order(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("- {name: a, reply: x}\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("- {name: b, reply: x}\n", encoding="utf-8")
    book = RuleBook.load([tmp_path / "a.yaml", tmp_path / "b.yaml"], TemplateEngine())
    assert [r.name for r in book.rules] == ["a", "b"]
    with pytest.raises(ConfigError, match="not found"):
        RuleBook.load([tmp_path / "missing.yaml"], TemplateEngine())


def test_yaml_syntax_error_in_rules_file(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("- name: a\n  reply: [x\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        RuleBook.load([path], TemplateEngine())
    assert info.value.where.startswith(f"{path}:")


# -- matching -----------------------------------------------------------------------------------


def test_any_matches_whole_words_only() -> None:
    book = one_rule("{any: [hi, hello]}")
    assert names(book, "Hi there") == ["r"]
    assert names(book, "oh, HELLO!") == ["r"]
    assert names(book, "this is it") == []
    assert names(book, "history") == []


def test_all_needs_every_word_in_any_order() -> None:
    book = one_rule("{all: [review, copy]}")
    assert names(book, "Can I get a copy for review?") == ["r"]
    assert names(book, "review please") == []


def test_phrase_respects_word_boundaries() -> None:
    book = one_rule("{phrase: 'where is my order', word_forms: false}")
    assert names(book, "Hey, WHERE is my order??") == ["r"]
    assert names(book, "where is my orders") == []
    assert names(book, "nowhere is my order") == []
    assert names(book, "where is order") == []


def test_accents_and_case_are_ignored() -> None:
    book = one_rule("{any: [cafe, 'crème brûlée']}")
    assert names(book, "CAFÉ?") == ["r"]
    assert names(book, "Cafe\u0301 au lait") == ["r"]  # decomposed accent
    assert names(book, "creme BRULEE") == ["r"]
    assert names(book, "caf\u200be") == ["r"]  # zero-width space inside the word


def test_keyword_accents_match_plain_text() -> None:
    assert names(one_rule("{any: [café]}"), "cafe") == ["r"]


def test_not_excludes() -> None:
    book = one_rule("{any: [hi], not: [spam, 'buy now']}")
    assert names(book, "hi") == ["r"]
    assert names(book, "hi spam") == []
    assert names(book, "hi, BUY now") == []
    assert names(book, "hi buy later") == ["r"]


def test_only_not_matches_everything_else() -> None:
    book = one_rule("{not: [spam]}")
    assert names(book, "anything") == ["r"]
    assert names(book, "") == ["r"]
    assert names(book, "Spam!") == []


def test_hashtags_and_mentions() -> None:
    plain = one_rule("{any: [booktour]}")
    assert names(plain, "#BookTour 2026") == ["r"]
    assert names(plain, "booktour") == ["r"]
    tagged = one_rule("{any: ['#booktour']}")
    assert names(tagged, "#BookTour") == ["r"]
    assert names(tagged, "booktour") == []
    assert names(one_rule("{any: ['@inkwell']}"), "hey @Inkwell!") == ["r"]


def test_keywords_with_punctuation_and_symbols() -> None:
    cpp = one_rule("{any: ['c++']}")
    assert names(cpp, "I love C++") == ["r"]
    assert names(cpp, "I love C") == []
    heart = one_rule("{any: ['❤']}")
    assert names(heart, "so much ❤ for you") == ["r"]
    assert names(heart, "so much") == []
    dont = one_rule('{any: ["don\'t"]}')
    assert names(dont, "I don’t know") == ["r"]  # typographic apostrophe


def test_regex_on_normalized_text() -> None:
    book = one_rule(r"""{regex: 'order\s*#?\d+'}""")
    assert names(book, "Where is ORDER #123?") == ["r"]
    assert names(book, "order   42") == ["r"]
    assert names(book, "order soon") == []


def test_regex_with_accents_and_uppercase_in_the_pattern() -> None:
    book = one_rule("{regex: 'Caf[ée] (noir|crème)'}")
    assert names(book, "un CAFÉ CRÈME svp") == ["r"]


def test_overlapping_regexes_all_match() -> None:
    book = load(
        """\
        - {name: a, reply: x, match: {regex: 'abc'}}
        - {name: b, reply: x, match: {regex: 'bcd'}}
        - {name: c, reply: x, match: {regex: 'b'}}
        - {name: d, reply: x, match: {regex: '\\w+'}}
        - {name: e, reply: x, match: {regex: 'zzz'}}
        """
    )
    assert names(book, "abcd") == ["a", "b", "c", "d"]


def test_case_sensitive_rules() -> None:
    book = load(
        """\
        - {name: exact, reply: x, match: {any: [NASA], case_sensitive: true}}
        - {name: accent, reply: x, match: {any: [café], case_sensitive: true}}
        - {name: rx, reply: x, match: {regex: 'ID-\\d+', case_sensitive: true}}
        """
    )
    assert names(book, "NASA launch") == ["exact"]
    assert names(book, "nasa launch") == []
    assert names(book, "Un café") == ["accent"]
    assert names(book, "Un cafe") == []
    assert names(book, "ID-77") == ["rx"]
    assert names(book, "id-77") == []


def test_combined_conditions_all_hold() -> None:
    book = one_rule(
        "{any: [order, package], all: [late], phrase: 'not arrived', regex: '\\d+', not: [thanks]}"
    )
    assert names(book, "Package 12 is late and has not arrived") == ["r"]
    assert names(book, "Package 12 is late and has not arrived, thanks") == []
    assert names(book, "Package is late and has not arrived") == []


def test_priority_order_then_file_order() -> None:
    book = load(
        """\
        - {name: low, reply: x, priority: -5}
        - {name: first, reply: x}
        - {name: high, reply: x, priority: 10, match: {any: [hi]}}
        - {name: second, reply: x}
        """
    )
    assert [r.name for r in book.rules] == ["high", "first", "second", "low"]
    assert names(book, "hi") == ["high", "first", "second", "low"]
    assert names(book, "yo") == ["first", "second", "low"]


def test_kinds_networks_and_enabled_filter() -> None:
    book = load(
        """\
        - {name: dm, reply: x, kinds: [direct]}
        - {name: tg, reply: x, networks: [telegram]}
        - {name: disabled, reply: x, enabled: false}
        - {name: follows, reply: x, kinds: follow}
        """
    )
    assert names(book, "hi", kind=Kind.DIRECT) == ["dm", "tg"]
    assert names(book, "hi", kind=Kind.MENTION, network="discord") == []
    assert names(book, "", kind=Kind.FOLLOW) == ["follows"]
    assert names(book, "", kind=Kind.REPOST) == []
    assert book.get("disabled") is not None


# -- active windows -----------------------------------------------------------------------------


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_active_hours_in_a_timezone() -> None:
    book = one_rule("{any: [hi]}", active="{hours: '09:00-18:00', timezone: Europe/Berlin}")
    assert names(book, "hi", now=at("2026-07-01T07:30:00+00:00")) == ["r"]  # 09:30 CEST
    assert names(book, "hi", now=at("2026-01-14T07:30:00+00:00")) == []  # 08:30 CET
    assert names(book, "hi", now=at("2026-01-14T16:59:00+00:00")) == ["r"]  # 17:59 CET
    assert names(book, "hi", now=at("2026-01-14T17:00:00+00:00")) == []  # 18:00 CET


def test_active_hours_wrap_past_midnight() -> None:
    book = one_rule("{any: [hi]}", active="{hours: '22:00-06:00'}")
    assert names(book, "hi", now=at("2026-01-14T23:00:00+00:00")) == ["r"]
    assert names(book, "hi", now=at("2026-01-14T05:59:00+00:00")) == ["r"]
    assert names(book, "hi", now=at("2026-01-14T12:00:00+00:00")) == []


def test_active_dates_are_inclusive_local_days() -> None:
    book = one_rule(
        "{any: [hi]}", active="{from: 2026-12-01, until: 2026-12-24, timezone: Europe/Berlin}"
    )
    assert names(book, "hi", now=at("2026-11-30T22:59:00+00:00")) == []  # 23:59 on Nov 30 in Berlin
    assert names(book, "hi", now=at("2026-11-30T23:00:00+00:00")) == ["r"]  # midnight Dec 1
    assert names(book, "hi", now=at("2026-12-24T22:59:00+00:00")) == ["r"]
    assert names(book, "hi", now=at("2026-12-24T23:00:00+00:00")) == []


def test_active_datetime_until_is_exclusive_and_days_filter() -> None:
    book = one_rule(
        "{any: [hi]}", active="{until: '2026-03-04T12:00', days: [wed, weekend], timezone: UTC}"
    )
    assert names(book, "hi", now=at("2026-03-04T11:59:00+00:00")) == ["r"]
    assert names(book, "hi", now=at("2026-03-04T12:00:00+00:00")) == []
    weekend = one_rule("{any: [hi]}", active="{days: weekend}")
    assert names(weekend, "hi", now=at("2026-03-07T10:00:00+00:00")) == ["r"]  # Saturday
    assert names(weekend, "hi", now=at("2026-03-04T10:00:00+00:00")) == []  # Wednesday


def test_default_timezone_is_used_when_rule_has_none() -> None:
    book = load(
        "- {name: r, reply: x, active: {hours: '09:00-10:00'}}\n",
        default_timezone="America/New_York",
    )
    assert names(book, "hi", now=at("2026-01-14T14:30:00+00:00")) == ["r"]  # 09:30 in New York


# -- conditions ---------------------------------------------------------------------------------


def rule_with_when(when: str) -> Rule:
    (rule,) = load(f"- name: r\n  reply: x\n  when: {when}\n").rules
    return rule


def test_conditions() -> None:
    newcomer = rule_with_when("{first_contact: true}")
    assert conditions_hold(newcomer, follower(), True, NOW)
    assert not conditions_hold(newcomer, follower(), False, NOW)
    returning = rule_with_when("{first_contact: false}")
    assert conditions_hold(returning, follower(), False, NOW)
    tiers = rule_with_when("{tier: [Gold, Silver]}")
    assert conditions_hold(tiers, follower(tier="gold"), False, NOW)
    assert not conditions_hold(tiers, follower(tier="Bronze"), False, NOW)
    assert not conditions_hold(tiers, follower(tier=""), False, NOW)
    counts = rule_with_when(
        "{points_at_least: 100, interactions_at_least: 3, days_known_at_least: 7}"
    )
    assert conditions_hold(counts, follower(points=100, interactions=3), False, NOW)
    assert not conditions_hold(counts, follower(points=99, interactions=3), False, NOW)
    assert not conditions_hold(counts, follower(points=100, interactions=2), False, NOW)
    assert not conditions_hold(
        counts, follower(points=100, interactions=3, first_seen=NOW - timedelta(days=6)), False, NOW
    )
    tags = rule_with_when("{tags: [press, vip], not_tags: [blocked]}")
    assert conditions_hold(tags, follower(tags=frozenset({"press", "VIP", "x"})), False, NOW)
    assert not conditions_hold(tags, follower(tags=frozenset({"press"})), False, NOW)
    assert not conditions_hold(
        tags, follower(tags=frozenset({"press", "vip", "blocked"})), False, NOW
    )
    assert conditions_hold(rule_with_when("{}"), follower(), True, NOW)


# -- rule state ---------------------------------------------------------------------------------


def test_cooldowns() -> None:
    (rule,) = load(
        "- {name: r, reply: x, cooldown: {person: 1h, conversation: 10m, global: 5s}}\n"
    ).rules
    state = RuleState()
    conv = ("telegram", "c1")
    assert state.cooldown_ok(rule, 7, conv, NOW) is None
    state.note_fired(rule, 7, conv, NOW)
    assert (
        state.cooldown_ok(rule, 7, conv, NOW + timedelta(seconds=120))
        == "cooldown: person 58m left"
    )
    assert (
        state.cooldown_ok(rule, 8, conv, NOW + timedelta(seconds=2))
        == "cooldown: conversation 10m left"
    )
    assert (
        state.cooldown_ok(rule, 8, ("telegram", "c2"), NOW + timedelta(seconds=2))
        == "cooldown: global 3s left"
    )
    assert state.cooldown_ok(rule, 8, ("telegram", "c2"), NOW + timedelta(seconds=6)) is None
    assert state.cooldown_ok(rule, 8, conv, NOW + timedelta(minutes=10)) is None
    assert (
        state.cooldown_ok(rule, 7, conv, NOW + timedelta(minutes=59, seconds=59))
        == "cooldown: person 1s left"
    )
    assert state.cooldown_ok(rule, 7, conv, NOW + timedelta(hours=1)) is None


def test_rules_without_cooldown_are_always_ok() -> None:
    (rule,) = load("- {name: r, reply: x}\n").rules
    state = RuleState()
    state.note_fired(rule, 1, "c", NOW)
    assert state.cooldown_ok(rule, 1, "c", NOW) is None


def test_variant_memory_is_bounded_least_recent_first() -> None:
    (rule,) = load("- {name: r, reply: [a, b]}\n").rules
    state = RuleState(max_entries=10)
    rng = random.Random(1)
    for fid in range(100):
        state.pick_variant(rule, fid, rng)
    assert state.last_variant("r", 0) is None and state.last_variant("r", 99) is not None
    assert [fid for fid in range(100) if state.last_variant("r", fid) is not None] == list(
        range(90, 100)
    )
    state.remember_variant("r", 90, 1)  # setting again makes it the most recent
    state.pick_variant(rule, 100, rng)
    assert state.last_variant("r", 90) == 1 and state.last_variant("r", 91) is None


def test_default_variant_memory_is_small() -> None:
    assert VARIANT_MEMORY <= 20_000
    state = RuleState()
    for fid in range(VARIANT_MEMORY + 5):
        state.remember_variant("r", fid, 1)
    assert state.last_variant("r", 4) is None and state.last_variant("r", 5) == 1


def test_a_rule_state_remembers_the_variants_of_1024_people() -> None:
    state = RuleState()
    for fid in range(1_025):
        state.remember_variant("r", fid, 1)
    assert state.last_variant("r", 0) is None  # the store has it: read back when needed
    assert state.last_variant("r", 1) == 1


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "greet-newcomer", "r.1", ""]),
            st.integers(-(2**70), 2**70) | st.integers(-3, 3),
            st.integers(0, 5),
        ),
        max_size=40,
    )
)
def test_variant_keys_never_collide(entries: list[tuple[str, int, int]]) -> None:
    state = RuleState()
    expected: dict[tuple[str, int], int] = {}
    for name, fid, index in entries:
        state.remember_variant(name, fid, index)
        expected[(name, fid)] = index
    for (name, fid), index in expected.items():
        assert state.last_variant(name, fid) == index
    assert state.last_variant("never", 1) is None


def test_variant_keys_beyond_the_rule_number_bits_still_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(rules_state, "_RULE_BITS", 1)  # rule numbers 0 and 1 fit, 2+ do not
    state = RuleState()
    for name in ("a", "b", "c", "d"):
        state.remember_variant(name, 7, ord(name))
    assert [state.last_variant(n, 7) for n in "abcd"] == [97, 98, 99, 100]


def test_cooldowns_are_never_forgotten_before_they_are_over() -> None:
    (rule,) = load("- {name: r, reply: [a, b], cooldown: {person: 1d, conversation: 1h}}\n").rules
    state = RuleState(max_entries=10)
    for fid in range(5000):
        state.note_fired(rule, fid, ("telegram", f"c{fid}"), NOW + timedelta(seconds=fid))
    later = NOW + timedelta(seconds=5000)
    assert all(
        state.cooldown_ok(rule, fid, ("telegram", "other"), later) is not None
        for fid in range(5000)
    )
    assert state.cooldown_ok(rule, 0, ("telegram", "c0"), later) == "cooldown: person 22h 36m left"
    assert state.cooldown_ok(rule, 5000, ("telegram", "c4000"), later) == (
        "cooldown: conversation 44m left"
    )
    assert state.cooldown_ok(rule, 5000, ("telegram", "c0"), later) is None  # over after 1h


def test_expired_cooldowns_are_swept() -> None:
    (rule,) = load("- {name: r, reply: x, cooldown: {person: 1m}}\n").rules
    state = RuleState()
    for minute in range(30):  # 2,000 new people a minute: about 2,000 cooldowns are live
        at = NOW + timedelta(minutes=minute)
        for i in range(2000):
            fid = minute * 2000 + i
            assert state.cooldown_ok(rule, fid, "c", at) is None
            state.note_fired(rule, fid, "c", at)
            assert state.cooldown_ok(rule, fid, "c", at) == "cooldown: person 1m left"
        assert state.cooldown_entries() <= 2 * 2 * 2000 + 1
    # every cooldown of the last minute is still there
    last = NOW + timedelta(minutes=29, seconds=59)
    assert all(state.cooldown_ok(rule, 29 * 2000 + i, "c", last) is not None for i in range(2000))
    assert state.cooldown_ok(rule, 0, "c", last) is None


def test_pick_variant_single_and_restore() -> None:
    (single,) = load("- {name: one, reply: only}\n").rules
    state = RuleState()
    assert state.pick_variant(single, 1, random.Random(0)) == 0
    (multi,) = load("- {name: two, reply: [a, b]}\n").rules
    state.remember_variant("two", 1, 0)
    assert [state.pick_variant(multi, 1, random.Random(i)) for i in range(5)] == [1, 0, 1, 0, 1]


@settings(max_examples=100, deadline=None)
@given(
    count=st.integers(2, 5),
    seed=st.integers(0, 2**32),
    picks=st.integers(2, 40),
    restored=st.none() | st.integers(0, 9),
)
def test_variants_never_repeat_consecutively(
    count: int, seed: int, picks: int, restored: int | None
) -> None:
    rule = Rule(name="v", variants=tuple(TemplateEngine().compile(str(i)) for i in range(count)))
    state = RuleState()
    if restored is not None:
        state.remember_variant("v", 1, restored)  # may be out of range after a rules edit
    rng = random.Random(seed)
    seen = [state.pick_variant(rule, 1, rng) for _ in range(picks)]
    assert all(0 <= i < count for i in seen)
    assert all(a != b for a, b in itertools.pairwise(seen))
    if restored is not None and restored < count:
        assert seen[0] != restored


def test_once_key_format() -> None:
    (rule,) = load("- {name: thanks, reply: x}\n").rules
    assert once_key(rule, 12, "post-9") == "rule:thanks:f12:post-9"


def test_parse_duration() -> None:
    assert parse_duration("30s") == 30 and parse_duration("10m") == 600
    assert parse_duration("1h30m") == 5400 and parse_duration("2d") == 172800
    assert parse_duration(45) == 45
    with pytest.raises(ValueError):
        parse_duration("soon")


# -- the index: literal extraction and equivalence with a naive matcher ---------------------------


@pytest.mark.parametrize(
    ("pattern", "literal"),
    [
        (r"order\s*#?\d+", "order"),
        (r"(ab)+cd", "ab"),
        (r"x(?:hello)y", "xhelloy"),
        (r"x(hello)y", "hello"),
        (r"a|b", None),
        (r"\d{3}", None),
        (r"(?i)Abc", "abc"),
        (r"colou?r", "colo"),
        (r"(abc)?d", "d"),
        (r"[^x]yz", "yz"),
        (r"(?:xyz)*w", "w"),
        (r"Café", "cafe"),
        (r"Ça(?i:va)", "ca"),
    ],
)
def test_required_literal(pattern: str, literal: str | None) -> None:
    assert required_literal(compile_regex(pattern, case_sensitive=False), folded=True) == literal


def test_required_literal_case_sensitive() -> None:
    assert required_literal(compile_regex("ID-(\\d+)", True), folded=False) == "ID-"
    assert required_literal(compile_regex("(?i)ID", True), folded=False) is None


def term_matches(keyword: str, text: str, fold: bool) -> bool:
    """Naive reference: slide the keyword's tokens over the text's tokens."""
    prep = normalize if fold else clean
    kw, tx = prep(keyword), prep(text)
    ktoks, ttoks = words(kw), words(tx)
    if not ktoks:
        return kw in tx

    def same(k: str, t: str) -> bool:
        return k == t or (t[:1] in "#@" and k == t[1:])

    found = any(
        all(same(ktoks[j], ttoks[i + j]) for j in range(len(ktoks)))
        for i in range(len(ttoks) - len(ktoks) + 1)
    )
    if "".join(ktoks) != kw.replace(" ", ""):
        found = found and kw in tx
    return found


def reference(specs: list[dict[str, Any]], text: str, kind: Kind, network: str) -> list[str]:
    """Evaluate every rule naively, then order by priority and file position."""
    hits = []
    for position, spec in enumerate(specs):
        if kind.value not in spec["kinds"] or (
            spec.get("networks") and network not in spec["networks"]
        ):
            continue
        if not spec.get("enabled", True):
            continue
        m = spec.get("match")
        if m is not None:
            fold = not m.get("case_sensitive", False)
            if m.get("any") and not any(term_matches(k, text, fold) for k in m["any"]):
                continue
            if not all(term_matches(k, text, fold) for k in m.get("all", [])):
                continue
            if "phrase" in m and not term_matches(m["phrase"], text, fold):
                continue
            if "regex" in m:
                prepared = normalize(text) if fold else clean(text)
                flags = re.IGNORECASE if fold else 0
                if not re.search(m["regex"], prepared, flags):
                    continue
            if any(term_matches(k, text, fold) for k in m.get("not", [])):
                continue
        hits.append((-spec.get("priority", 0), position, spec["name"]))
    return [name for _p, _i, name in sorted(hits)]


VOCAB = [
    "hi",
    "hello",
    "cafe",
    "café",
    "order",
    "tour",
    "#tour",
    "@brand",
    "new york",
    "c++",
    "don't",
    "spam",
    "a",
    "ab",
    "❤",
    "x1",
]
REGEXES = [
    r"order\s*#?\d+",
    r"h(i|ello)",
    r"(ab)+c",
    "tour",
    r"x?y",
    r"\d{2}",
    r"(?:new|old) york",
    "caf[eé]",
    "^hi",
    "ou",
    "o",
    r"\bab\b",
    "York",
    "ID-[0-9]",
    r"(?:tour|order)s?",
    r"(hi|hello),? (cafe|york)",
    "x(?:ab|abc)y?",
    r"(?:c\+\+|don't)",
]
TEXT_PIECES = [
    *VOCAB,
    "HI",
    "Hello",
    "CAFÉ",
    "Café",
    "ORDER #12",
    "order 7",
    "#Tour",
    "TOUR",
    "New  York",
    "C++",
    "don’t",
    "abc",
    "ababc",
    "x",
    "y",
    "ID-4",
    "id-5",
    "this",
    "history",
    "sp am",
    "x12",
]
JOINERS = [" ", ", ", "! ", "#", "", "\u200b", "\n"]


@st.composite
def rule_specs(draw: st.DrawFn) -> list[dict[str, Any]]:
    specs = []
    for i in range(draw(st.integers(1, 12))):
        spec: dict[str, Any] = {
            "name": f"r{i}",
            "reply": "ok",
            "kinds": draw(
                st.lists(
                    st.sampled_from(["mention", "direct", "reply"]),
                    min_size=1,
                    max_size=3,
                    unique=True,
                )
            ),
            "priority": draw(st.integers(-2, 2)),
        }
        if draw(st.booleans()):
            spec["networks"] = draw(
                st.lists(
                    st.sampled_from(["telegram", "discord"]), min_size=1, max_size=2, unique=True
                )
            )
        if draw(st.integers(0, 9)) == 0:
            spec["enabled"] = False
        shape = draw(st.integers(0, 5))
        if shape == 1:
            spec["match"] = {"regex": draw(st.sampled_from(REGEXES))}  # filed under its literal
            if draw(st.integers(0, 3)) == 0:
                spec["match"]["case_sensitive"] = True
        elif shape > 1:
            m: dict[str, Any] = {}
            words_ = st.lists(st.sampled_from(VOCAB), min_size=1, max_size=3, unique=True)
            if draw(st.booleans()):
                m["any"] = draw(words_)
            if draw(st.integers(0, 3)) == 0:
                m["all"] = draw(words_)
            if draw(st.integers(0, 4)) == 0:
                m["phrase"] = draw(
                    st.sampled_from(["new york", "hi cafe", "order 12", "ab ab", "don't"])
                )
            if draw(st.integers(0, 3)) == 0:
                m["regex"] = draw(st.sampled_from(REGEXES))
            if draw(st.integers(0, 3)) == 0:
                m["not"] = draw(words_)
            if draw(st.integers(0, 5)) == 0:
                m["case_sensitive"] = True
            spec["match"] = m
        specs.append(spec)
    return specs


texts = st.lists(st.tuples(st.sampled_from(TEXT_PIECES), st.sampled_from(JOINERS)), max_size=8).map(
    lambda parts: "".join(p + j for p, j in parts)
)


@settings(max_examples=300, deadline=None)
@given(
    specs=rule_specs(),
    messages=st.lists(texts, min_size=1, max_size=5),
    kind=st.sampled_from([Kind.MENTION, Kind.DIRECT, Kind.REPLY, Kind.FOLLOW]),
    network=st.sampled_from(["telegram", "discord"]),
)
def test_index_equals_naive_matching(
    specs: list[dict[str, Any]], messages: list[str], kind: Kind, network: str
) -> None:
    doc = load_yaml_text(yaml.safe_dump({"rules": specs}, allow_unicode=True), Path("gen.yaml"))
    book = RuleBook.from_docs([doc], TemplateEngine())
    for text in messages:
        got = [r.name for r in book.candidates(event(text, kind=kind, network=network), NOW)]
        assert got == reference(specs, text, kind, network), text


PREFILTER_PATTERNS = [
    *REGEXES,
    r"\w+",
    "ab|cd",
    "(?i)ID",
    "x{2,}",
    r"a(?:b)",
    "(abc)?d",
    "Tou?r",
    "DON'T",
    "[^a]b",
    "x(?i:ABC)",
]


@pytest.mark.parametrize("cs", [False, True])
@pytest.mark.parametrize("pattern", PREFILTER_PATTERNS)
def test_regex_prefilter_never_hides_a_match(pattern: str, cs: bool) -> None:
    """Exhaustively over pieces and pairs of pieces: a match implies its literal is present."""
    regex = compile_regex(pattern, case_sensitive=cs)
    literal = required_literal(regex, folded=not cs)
    alternatives = required_literals(regex, folded=not cs)
    if literal is not None:
        assert alternatives is not None and min(map(len, alternatives)) >= len(literal)
    if alternatives is None:
        return
    samples = TEXT_PIECES + [a + j + b for a in TEXT_PIECES for b in TEXT_PIECES for j in (" ", "")]
    for text in samples:
        prepared = clean(text) if cs else normalize(text)
        if regex.search(prepared):
            assert literal is None or literal in prepared, (text, literal)
            assert any(a in prepared for a in alternatives), (text, alternatives)


@pytest.mark.parametrize(
    ("pattern", "literals"),
    [
        (r"(?:order|invoice)\s*\d+", ("order", "invoice")),
        (r"(?:new|old) york", (" york",)),  # the longer of the two
        (r"(ab|cd)x", ("ab", "cd")),
        (r"abc|\d", None),  # one branch needs no literal
        (r"(?i:ab|cd)", None),
        (r"(?:Café|thé)\d", ("cafe", "the")),
        (r"(?:ab|AB)c", ("ab",)),
        (r"h(i|ello)", ("h",)),  # as long as "i", and one literal is cheaper than two
        (r"(?:a(?:bc|de)|fgh)", ("bc", "de", "fgh")),  # runs do not continue into a group
    ],
)
def test_required_literals_of_alternations(pattern: str, literals: tuple[str, ...] | None) -> None:
    regex = compile_regex(pattern, case_sensitive=False)
    assert required_literals(regex, folded=True) == literals


def test_literal_index_with_many_regexes_equals_naive_matching() -> None:
    """Many literals (more keys than a short text has characters) and shared prefixes."""
    words_ = ["order", "orders", "ordinal", "tour", "tourist", "cafe", "cab", "x", "ab", "abc"]
    specs: list[dict[str, Any]] = [
        {"name": f"r{i}", "reply": "ok", "kinds": ["mention"], "match": {"regex": pattern}}
        for i, pattern in enumerate(
            [re.escape(w) for w in words_]
            + [rf"{a}\s*{b}" for a in words_[:4] for b in (r"#?\d+", "now")]
            + [rf"(?:{a}|{b})!" for a, b in itertools.combinations(words_[:6], 2)]
        )
    ]
    doc = load_yaml_text(yaml.safe_dump({"rules": specs}), Path("many.yaml"))
    book = RuleBook.from_docs([doc], TemplateEngine())
    texts_ = ["", "x", "ab", "order", "ORDERS 12", "tourist now", "cab! cafe!", "an ordinal #4"]
    texts_ += [f"{a} {b}" for a in TEXT_PIECES[:12] for b in words_]
    for text in texts_:
        got = [r.name for r in book.candidates(event(text, kind=Kind.MENTION), NOW)]
        assert got == reference(specs, text, Kind.MENTION, "telegram"), text


def test_the_ascii_fast_path_of_normalize_equals_the_full_path() -> None:
    """normalize() skips Unicode work for ASCII text; it must give the same answer."""
    import string

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from brandbot.core import textnorm

    @settings(max_examples=300, deadline=None)
    @given(st.text(alphabet=string.printable, max_size=60))
    def same(text: str) -> None:
        full = textnorm._collapse(unicodedata_full(text))
        assert textnorm.normalize(text) == full

    def unicodedata_full(text: str) -> str:
        import unicodedata

        t = unicodedata.normalize("NFKD", text.translate(textnorm._INVISIBLE)).casefold()
        t = unicodedata.normalize("NFKD", t)
        t = "".join(ch for ch in t if not unicodedata.combining(ch))
        return (
            unicodedata.normalize("NFC", t)
            .translate(textnorm._TYPOGRAPHIC)
            .translate(textnorm._FOLD_EXTRA)
        )

    same()
