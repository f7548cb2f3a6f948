"""YAML loading with line numbers, and pydantic errors turned into file:line messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from brandbot.core.errors import ConfigError, RuleError
from brandbot.core.yamlfile import YamlDoc, format_loc, load_yaml, load_yaml_text, validation_error

RULES = """\
# a comment
rules:
  - name: first
    match:
      any: [hi, hello]
      regex: "x"
  - name: second
    reply:
      - one
      - |
        two
        lines
settings:
  nested:
    deep: 1
"""


def doc_of(text: str, name: str = "rules.yaml") -> YamlDoc:
    return load_yaml_text(text, Path(name))


def test_lines_of_keys_and_nested_list_items() -> None:
    doc = doc_of(RULES)
    assert doc.data["rules"][1]["reply"][1] == "two\nlines\n"
    assert doc.lines[("rules",)] == 2
    assert doc.lines[("rules", 0)] == 3
    assert doc.lines[("rules", 0, "name")] == 3
    assert doc.lines[("rules", 0, "match", "any")] == 5
    assert doc.lines[("rules", 0, "match", "any", 1)] == 5
    assert doc.lines[("rules", 0, "match", "regex")] == 6
    assert doc.lines[("rules", 1, "reply", 0)] == 9
    assert doc.lines[("rules", 1, "reply", 1)] == 10
    assert doc.lines[("settings", "nested", "deep")] == 15


def test_where_uses_deepest_known_prefix() -> None:
    doc = doc_of(RULES)
    assert doc.where(("rules", 0, "match", "regex")) == "rules.yaml:6"
    assert doc.where(("rules", 0, "match", "not", 3)) == "rules.yaml:4"
    assert doc.where(("rules", 9)) == "rules.yaml:2"
    assert doc.where(("nothing", "here")) == "rules.yaml"
    assert doc.where(()) == "rules.yaml"


def test_value_where_points_inside_block_scalars() -> None:
    doc = doc_of(RULES)
    assert doc.value_where(("rules", 1, "reply", 0)) == "rules.yaml:9"
    assert doc.value_where(("rules", 1, "reply", 1)) == "rules.yaml:11"  # the line after "|"


def test_merge_keys_point_at_the_explicit_override() -> None:
    doc = doc_of("base: &b\n  x: 1\n  y: 2\nother:\n  <<: *b\n  y: 3\n")
    assert doc.data["other"] == {"x": 1, "y": 3}
    assert doc.lines[("other", "y")] == 6
    assert doc.lines[("other", "x")] == 2


def test_empty_file_is_none() -> None:
    doc = doc_of("# only a comment\n")
    assert doc.data is None and doc.where(("a",)) == "rules.yaml"


def test_safe_loader_refuses_python_tags() -> None:
    with pytest.raises(ConfigError) as info:
        doc_of("a: !!python/object/apply:os.system ['echo hi']\n")
    assert info.value.where == "rules.yaml:1"
    assert "tag" in str(info.value)


def test_syntax_error_has_file_line_and_plain_words() -> None:
    with pytest.raises(ConfigError) as info:
        doc_of("rules:\n  - name: a\n    reply: [one, two\n  - name: b\n")
    err = info.value
    assert err.where.startswith("rules.yaml:")
    assert "YAML syntax error" in str(err)
    assert "hint:" in str(err) and "']'" in str(err)


def test_tab_indentation_gets_a_hint() -> None:
    with pytest.raises(ConfigError) as info:
        doc_of("a:\n\tb: 1\n")
    assert info.value.where == "rules.yaml:2"
    assert "tabs" in str(info.value)


def test_unquoted_colon_gets_a_hint() -> None:
    with pytest.raises(ConfigError) as info:
        doc_of("reply: Note: this fails\n")
    assert info.value.where == "rules.yaml:1"
    assert "quotes" in str(info.value)


def test_duplicate_keys_are_an_error() -> None:
    with pytest.raises(ConfigError) as info:
        doc_of("a: 1\nb:\n  c: 1\n  c: 2\n")
    assert info.value.where == "rules.yaml:4"
    assert "duplicate key 'c'" in str(info.value) and "line 3" in str(info.value)


def test_missing_file_says_which_and_where_from(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_yaml(missing, expected_by="brandbot.yaml:7")
    assert info.value.where == "brandbot.yaml:7"
    assert str(missing) in str(info.value)


def test_load_yaml_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("a:\n  - 1\n  - 2\n", encoding="utf-8")
    doc = load_yaml(path)
    assert doc.data == {"a": [1, 2]} and doc.where(("a", 1)) == f"{path}:3"


def test_non_utf8_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("a: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="UTF-8"):
        load_yaml(path)


# -- validation errors ------------------------------------------------------------------------


class Match(BaseModel):
    model_config = ConfigDict(extra="forbid")
    any: list[str] = []
    regex: str | None = None


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    priority: int = 0
    match: Match | None = None
    reply: str | list[str] | None = None


class RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: list[Rule]


def error_for(text: str, model: type[BaseModel] = RuleFile, **kwargs: object) -> ConfigError:
    doc = doc_of(text)
    with pytest.raises(ValidationError) as info:
        model.model_validate(doc.data)
    return validation_error(doc, info.value, **kwargs)  # type: ignore[arg-type]


def test_unknown_key_did_you_mean() -> None:
    err = error_for("rules:\n  - name: a\n  - name: b\n  - name: c\n  - name: d\n    priorty: 3\n")
    assert err.where == "rules.yaml:6"
    assert "unknown key 'priorty' in rules[3]; did you mean 'priority'?" in str(err)


def test_unknown_nested_key_did_you_mean() -> None:
    err = error_for("rules:\n  - name: a\n    match:\n      regexp: x\n")
    assert err.where == "rules.yaml:4"
    assert "unknown key 'regexp' in rules[0].match; did you mean 'regex'?" in str(err)


def test_unknown_key_without_close_match_lists_allowed() -> None:
    err = error_for("rules:\n  - name: a\n    zzz: 1\n")
    assert "allowed keys: name, priority, match, reply" in str(err)


def test_model_found_by_title_when_not_given() -> None:
    err = error_for("rules:\n  - name: a\n    priorty: 1\n")
    assert "did you mean 'priority'" in str(err)


def test_prefix_places_a_subsection() -> None:
    doc = doc_of("plugins:\n  welcome:\n    greting: hi\n")
    with pytest.raises(ValidationError) as info:
        Match.model_validate(doc.data["plugins"]["welcome"])
    err = validation_error(
        doc, info.value, ("plugins", "welcome"), model=Match, error_cls=RuleError
    )
    assert isinstance(err, RuleError)
    assert err.where == "rules.yaml:3"
    assert "unknown key 'greting' in plugins.welcome" in str(err)


def test_missing_key_points_at_its_parent() -> None:
    err = error_for("rules:\n  - priority: 1\n")
    assert err.where == "rules.yaml:2"
    assert "missing required key 'name' in rules[0]" in str(err)


def test_wrong_type_names_the_path_and_the_value() -> None:
    err = error_for("rules:\n  - name: a\n    priority: high\n")
    assert err.where == "rules.yaml:3"
    assert "rules[0].priority" in str(err) and "'high'" in str(err)


def test_union_branches_are_merged_into_one_message() -> None:
    err = error_for("rules:\n  - name: a\n    reply: 5\n")
    assert str(err) == (
        "rules.yaml:3: rules[0].reply: Input should be a valid string or a valid list (got 5)"
    )


def test_union_branch_that_got_deeper_explains_the_problem() -> None:
    err = error_for("rules:\n  - name: a\n    reply:\n      - ok\n      - [nested]\n")
    assert str(err) == "rules.yaml:5: rules[0].reply[1]: Input should be a valid string"


def test_several_errors_each_with_their_own_line() -> None:
    text = "rules:\n" + "".join(f"  - name: r{i}\n    priority: x{i}\n" for i in range(7))
    err = error_for(text)
    lines = str(err).splitlines()
    assert lines[0].startswith("rules.yaml:3: rules[0].priority")
    assert lines[1].startswith("  rules.yaml:5: rules[1].priority")
    assert len(lines) == 6 and "2 more" in lines[-1]


def test_format_loc() -> None:
    assert format_loc(("rules", 3, "match", "any", 0)) == "rules[3].match.any[0]"
    assert format_loc(()) == "the top level"
