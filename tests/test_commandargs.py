"""Typed key=value command arguments: what is read, and one error that lists every problem."""

from __future__ import annotations

import shlex
from datetime import datetime
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from brandbot.core.commandargs import CURLY_QUOTES, parse_args
from brandbot.core.errors import BrandbotError, CommandArgsError

USAGE = 'Example: /meet add id=m1 kind=qa start="2026-03-05 19:00" title="Live Q&A" [seats=10]'
ALIASES = {"name": "title", "when": "start"}
CURLY_QUOTES_TEXT = "\u201c\u201d\u201e\u00ab\u00bb\u2018\u2019"


class Meeting(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    title: str = Field(min_length=1)
    start: datetime
    kind: Literal["qa", "talk"]
    seats: int = Field(10, ge=1)
    max_questions: int = 3

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not value.isalnum():
            raise ValueError(f"an id is letters and digits only (got {value!r})")
        return value

    @model_validator(mode="after")
    def _small_talks(self) -> Meeting:
        if self.kind == "talk" and self.seats > 50:
            raise ValueError("a talk has at most 50 seats")
        return self


def problem(text: str) -> str:
    with pytest.raises(CommandArgsError) as info:
        parse_args(Meeting, text, aliases=ALIASES, usage=USAGE)
    return str(info.value)


def test_reads_typed_values_with_quotes_and_aliases() -> None:
    text = 'id=m1 kind=qa when="2026-03-05 19:00" name=\u201cLive Q&A\u201d seats=12'
    meeting = parse_args(Meeting, text, aliases=ALIASES)
    assert meeting == Meeting(
        id="m1", kind="qa", start=datetime(2026, 3, 5, 19), title="Live Q&A", seats=12
    )


def test_keys_ignore_case_and_dashes() -> None:
    meeting = parse_args(Meeting, 'ID=m1 Kind=qa start="2026-03-05 19:00" title=T max-questions=5')
    assert meeting.max_questions == 5


def test_every_missing_value_is_listed_then_the_usage() -> None:
    assert problem("id=m1") == f"title is missing; start is missing; kind is missing. {USAGE}"


def test_every_bad_value_is_listed_in_field_order() -> None:
    assert problem('id=m-1 kind=chat start="2026-03-33 19:00" title=T seats=0') == (
        "id: an id is letters and digits only (got 'm-1'); "
        "start: Input should be a valid datetime or date, day value is outside expected range; "
        "kind: Input should be 'qa' or 'talk'; "
        "seats: Input should be greater than or equal to 1. " + USAGE
    )


def test_a_check_of_the_whole_command_has_no_field_name() -> None:
    text = 'id=m1 kind=talk start="2026-03-05 19:00" title=T seats=60'
    assert problem(text) == f"a talk has at most 50 seats. {USAGE}"


def test_an_unclosed_quote_is_the_one_problem() -> None:
    assert problem('id=m1 title="Live Q&A') == f"a quote is not closed. {USAGE}"
    assert problem("id=m1 title=\u201cLive Q&A") == f"a quote is not closed. {USAGE}"


def test_word_problems_are_all_listed_before_any_value_is_checked() -> None:
    """A stray word usually shifts the values around it: its fix comes first, alone."""
    text = "hello id=m1 ID=m2 name=A title=B colour=red titel=C start=2026-03-05 19:00"
    assert problem(text) == (
        "'hello' is not key=value; id is given twice; title is given twice; "
        "unknown option colour= (known: id, title, start, kind, seats, max_questions); "
        "unknown option titel=; did you mean title=? "
        "(known: id, title, start, kind, seats, max_questions); "
        "'19:00' is not key=value. " + USAGE
    )


def test_the_error_keeps_problems_and_usage_apart() -> None:
    with pytest.raises(CommandArgsError) as info:
        parse_args(Meeting, "id=m1 =x", usage=USAGE)
    assert info.value.problems == ("'=x' is not key=value",)
    assert info.value.usage == USAGE
    assert isinstance(info.value, BrandbotError)


def test_without_usage_the_message_is_the_problems() -> None:
    with pytest.raises(CommandArgsError) as info:
        parse_args(Meeting, "id=m1")
    assert str(info.value) == "title is missing; start is missing; kind is missing."


def test_an_alias_to_no_field_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="'tz' points to 'timezone', which is not a field"):
        parse_args(Meeting, "id=m1", aliases={"tz": "timezone"})


def test_a_model_that_allows_extra_keys_takes_them() -> None:
    class Open(BaseModel):
        model_config = ConfigDict(extra="allow")
        prize: str

    parsed = parse_args(Open, "prize=Mug Colour=red")
    assert parsed.prize == "Mug" and parsed.model_extra == {"colour": "red"}


def test_field_aliases_of_the_model_are_the_names_people_type() -> None:
    class Window(BaseModel):
        from_: str = Field(alias="from")

    assert parse_args(Window, "from=09:00").from_ == "09:00"


def test_curly_quotes_map_to_straight_ones() -> None:
    assert CURLY_QUOTES_TEXT.translate(CURLY_QUOTES) == "\"\"\"\"\"''"


_VALUES = st.text(
    st.characters(exclude_categories=("Cs", "Cc"), exclude_characters=CURLY_QUOTES_TEXT),
    max_size=20,
)


class Note(BaseModel):
    title: str = ""
    body: str = ""
    tag: str = ""


@given(st.dictionaries(st.sampled_from(["title", "body", "tag"]), _VALUES))
def test_quoted_values_round_trip(values: dict[str, str]) -> None:
    text = " ".join(f"{key}={shlex.quote(value)}" for key, value in values.items())
    assert parse_args(Note, text).model_dump(exclude_unset=True) == values
