"""The events plugin's settings (``plugins: events:`` in brandbot.yaml) and its message templates.

Every message people read is a template the community manager may reword. Posts that
do not answer the person reading them (reminders, questions and answers posted to a
stop, the recap) are rendered with the variables listed in :data:`POST_VARIABLES`;
the acknowledgement of a question is a reply, so it also has the usual ``{{ name }}``,
``{{ follower.* }}`` variables.
"""

from __future__ import annotations

from typing import Any

from jinja2 import meta
from pydantic import BaseModel, ConfigDict, Field, field_validator

from brandbot import TemplateEngine, TemplateError, parse_duration, sample_context


class EventsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tour_file: str | None = Field(None, description="YAML file of tour stops, relative to brandbot.yaml")
    reminders: list[float] = Field(default_factory=lambda: [86400.0, 3600.0],
                                   description="When subscribers are reminded before each stop (24h, 1h, 15m, ...)")
    default_duration: float = Field(3600.0, description="Length of a stop that gives none")
    ask_points: int = Field(5, ge=0, le=1000, description="Loyalty points for asking a question")
    points_questions_per_stop: int = Field(3, ge=0, description="Questions per person and stop that earn points")
    max_pending_per_person: int = Field(3, ge=1, description="Questions one person may have waiting at once")
    max_question_length: int = Field(500, ge=20, description="Longest question in characters (networks may allow fewer)")

    reminder: str = (
        'Hi {{ name }}, a reminder: "{{ stop.title }}" ({{ stop.kind }} with {{ stop.host }}) starts in {{ starts_in }} '
        "({{ stop.when }}){% if stop.url %}: {{ stop.url }}{% else %} on {{ stop.network }}{% endif %}. "
        "Send /unsubscribe to stop tour reminders."
    )
    reminder_public: str = (
        'A reminder for {{ names }}: "{{ stop.title }}" ({{ stop.kind }} with {{ stop.host }}) starts in {{ starts_in }} '
        "({{ stop.when }}){% if stop.url %}: {{ stop.url }}{% else %} on {{ stop.network }}{% endif %}."
    )
    open_post: str | None = (
        "The {{ stop.kind }} with {{ stop.host }} is open! Ask your question with /ask followed by your question, "
        "or mention me here."
    )
    question_post: str = "Question from {{ askers }}: {{ question }}"
    answer_post: str = "{{ host }} answers {{ askers }}: {{ answer }}"
    ask_ack: str = "Thanks {{ name }}, your question is in the queue."

    @field_validator("reminders", mode="before")
    @classmethod
    def _reminders(cls, value: Any) -> Any:
        if not isinstance(value, list):
            raise ValueError("reminders is a list of durations before each stop, e.g. [24h, 1h]")  # noqa: TRY004 (pydantic reports ValueError)
        seconds = [parse_duration(v) for v in value]
        if any(s < 60 for s in seconds):
            raise ValueError("each reminder must be at least 1m before the stop")
        if len(set(seconds)) != len(seconds):
            raise ValueError("the same reminder time is listed twice")
        return sorted(seconds, reverse=True)

    @field_validator("default_duration", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        seconds = parse_duration(value)
        if seconds < 60:
            raise ValueError("default_duration must be at least 1m")
        return seconds


SAMPLE_STOP: dict[str, str] = {
    "id": "qa-live", "title": "Live Q&A", "host": "Maya", "kind": "Q&A", "url": "", "network": "Discord",
    "when": "Thu 5 Mar, 19:00 CET", "when_utc": "18:00 UTC", "duration": "1 hour",
}

#: Variables of each template, with sample values for checking them before the bot starts.
POST_VARIABLES: dict[str, dict[str, Any]] = {
    "reminder": {"name": "Ana", "stop": SAMPLE_STOP, "starts_in": "1 hour"},
    "reminder_public": {"names": "Ana and Ben", "stop": SAMPLE_STOP, "starts_in": "1 hour"},
    "open_post": {"stop": SAMPLE_STOP},
    "question_post": {"askers": "Ana (Telegram)", "question": "Is there a sequel?", "number": 3, "stop": SAMPLE_STOP},
    "answer_post": {"host": "Maya", "askers": "Ana", "answer": "Yes!", "question": "Is there a sequel?",
                    "number": 3, "stop": SAMPLE_STOP},
}
REPLY_VARIABLES: dict[str, dict[str, Any]] = {
    "ask_ack": {"stop": SAMPLE_STOP, "number": 3, "points": 5},
}


def post_context(brand: dict[str, Any], now: Any, variables: dict[str, Any]) -> dict[str, Any]:
    """What a post template sees: the brand, the time, and its own variables."""
    return {"brand": brand, "now": now, **variables}


def check_templates(settings: EventsSettings, engine: TemplateEngine, where_of: Any) -> None:
    """Render every template once with sample values; a mistake raises TemplateError at its line."""
    brand = dict(engine.brand)
    for name, variables in POST_VARIABLES.items():
        source = getattr(settings, name)
        if source is None:
            continue
        where = where_of(name)
        template = engine.compile(source, where)
        engine.render(template, post_context(brand, sample_context(brand)["now"], variables))
    for name, variables in REPLY_VARIABLES.items():
        where = where_of(name)
        template = engine.compile(getattr(settings, name), where)
        engine.render(template, {**sample_context(brand), **variables})
    for name, needed in (("question_post", "question"), ("answer_post", "answer")):
        used = meta.find_undeclared_variables(engine.environment.parse(getattr(settings, name)))
        if needed not in used:
            raise TemplateError(f"{name} must show the {needed}: add {{{{ {needed} }}}}", where_of(name))
