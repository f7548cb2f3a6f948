"""Logs: JSON lines that parse, and no secret or follower text slipping through."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from brandbot.runtime.logs import (
    LIBRARY_LOGGERS,
    MASK,
    Redactor,
    build_handler,
    configure,
    text_for_log,
)

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"
X_SECRET = "xsecret-Zq9/+Kp=L\\w"  # characters that URL- and JSON-encoding change
DISCORD_TOKEN = "MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs"


class Capture:
    """A logger whose records go through a real handler into a string."""

    def __init__(self, *, json_format: bool, secrets: tuple[str, ...] = ()) -> None:
        self.stream = io.StringIO()
        self.handler = build_handler(self.stream, json_format=json_format, secrets=secrets)
        self.log = logging.getLogger(f"brandbot.test.{id(self)}")
        self.log.handlers[:] = [self.handler]
        self.log.propagate = False
        self.log.setLevel(logging.DEBUG)

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.text.splitlines()]


@pytest.fixture
def json_log() -> Capture:
    return Capture(json_format=True, secrets=(TOKEN, X_SECRET))


@pytest.fixture
def text_log() -> Capture:
    return Capture(json_format=False, secrets=(TOKEN, X_SECRET))


@pytest.fixture
def root_logging() -> Iterator[None]:
    """Put the root logger and the library loggers back after a test calls configure()."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    libraries = {name: logging.getLogger(name).level for name in (*LIBRARY_LOGGERS, "brandbot")}
    logging.getLogger("brandbot").setLevel(logging.NOTSET)  # other tests (bench) may have set it
    yield
    root.handlers[:], level = saved
    root.setLevel(level)
    for name, lib_level in libraries.items():
        logging.getLogger(name).setLevel(lib_level)
    logging.captureWarnings(False)


# -- JSON lines -----------------------------------------------------------------------------

def test_json_lines_parse_and_carry_the_extra_fields(json_log: Capture) -> None:
    json_log.log.info("reply sent to %s", "follower 7", extra={"network": "telegram", "event_id": "u42", "attempt": 2})
    json_log.log.warning("second line")
    first, second = json_log.lines()
    assert first["message"] == "reply sent to follower 7"
    assert first["level"] == "info"
    assert first["logger"] == json_log.log.name
    assert first["time"].endswith("+00:00")
    assert (first["network"], first["event_id"], first["attempt"]) == ("telegram", "u42", 2)
    assert second["message"] == "second line" and "network" not in second


def test_json_lines_include_the_exception(json_log: Capture) -> None:
    try:
        raise ValueError("bad value")
    except ValueError:
        json_log.log.exception("handler failed")
    (line,) = json_log.lines()
    assert line["level"] == "error"
    assert "Traceback" in line["error"] and "ValueError: bad value" in line["error"]


def test_text_lines_end_with_the_extra_fields(text_log: Capture) -> None:
    text_log.log.info("event handled", extra={"network": "x", "note": "two words"})
    assert text_log.text.rstrip().endswith('event handled network=x note="two words"')


# -- secrets --------------------------------------------------------------------------------

@pytest.mark.parametrize("capture", ["json_log", "text_log"])
def test_known_secrets_never_appear_in_message_args_extras_or_exceptions(capture: str, request) -> None:
    log: Capture = request.getfixturevalue(capture)
    log.log.info(f"token in the message {TOKEN}")  # noqa: G004 - a secret in the message itself
    log.log.info("token in an argument %s and %r", TOKEN, {"secret": X_SECRET})
    log.log.info("token in an extra field", extra={"url": f"https://api.example/{X_SECRET}"})
    try:
        raise RuntimeError(f"HTTP 401 for https://api.telegram.org/bot{TOKEN}/getUpdates")
    except RuntimeError:
        log.log.exception("polling failed")
    log.log.info("stack", stack_info=True, extra={"auth": {"key": X_SECRET}})
    text = log.text
    assert TOKEN not in text and X_SECRET not in text
    assert text.count(MASK) >= 6
    assert "polling failed" in text and "RuntimeError: HTTP 401" in text


def test_secrets_are_masked_in_their_url_and_json_encoded_forms(json_log: Capture) -> None:
    from urllib.parse import quote

    json_log.log.info("GET /oauth?k=%s", quote(X_SECRET, safe=""))
    json_log.log.info("body %s", json.dumps({"k": X_SECRET}))
    assert "Zq9" not in json_log.text


def test_credential_shapes_are_masked_without_being_configured(json_log: Capture) -> None:
    unconfigured = Capture(json_format=True)
    other_telegram = "987654321:ZZHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw9"
    unconfigured.log.info("https://api.telegram.org/bot%s/sendMessage", other_telegram)
    unconfigured.log.info("headers %s", {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig"})
    unconfigured.log.info("Authorization: Bot %s", DISCORD_TOKEN)
    unconfigured.log.info("callback https://brand.test/cb?access_token=abc123def&state=1")
    messages = [line["message"] for line in unconfigured.lines()]
    assert messages == [
        f"https://api.telegram.org/bot{MASK}/sendMessage",
        f"headers {{'Authorization': '{MASK}'}}",
        f"Authorization: {MASK}",
        f"callback https://brand.test/cb?access_token={MASK}&state=1",
    ]


def test_ordinary_words_survive_redaction() -> None:
    redact = Redactor(["s3cr3t-token-value"])
    line = "the bot restarted; Basic settings loaded for 12 followers at 10:30:00"
    assert redact(line) == line


def test_too_short_secrets_are_skipped_and_reported(root_logging: None) -> None:
    stream = io.StringIO()
    redactor = configure("INFO", json_format=True, secrets=["ab", "long-enough-secret"], stream=stream)
    assert redactor.too_short == 1
    assert redactor("ab long-enough-secret") == f"ab {MASK}"
    (warning,) = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert "shorter than" in warning["message"] and "ab" not in warning["message"].split()


def test_a_record_with_mismatched_arguments_is_still_logged(json_log: Capture) -> None:
    json_log.log.info("two placeholders %s %s", TOKEN)  # noqa: PLE1206 - the point of the test
    (line,) = json_log.lines()
    assert "two placeholders" in line["message"] and TOKEN not in line["message"]


# -- configure(): the process-wide set-up ---------------------------------------------------

def test_configure_routes_everything_through_one_redacting_handler(root_logging: None) -> None:
    stream = io.StringIO()
    configure("DEBUG", json_format=True, secrets=[TOKEN], stream=stream)
    logging.getLogger("brandbot.network.telegram").debug("connecting with %s", TOKEN)
    logging.getLogger("some.library").warning("retrying %s", f"bot{TOKEN}")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["logger"] for line in lines] == ["brandbot.network.telegram", "some.library"]
    assert TOKEN not in stream.getvalue()


def test_library_debug_output_stays_off_unless_log_text(root_logging: None) -> None:
    configure("DEBUG", stream=io.StringIO())
    assert logging.getLogger("telegram").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("brandbot").getEffectiveLevel() == logging.DEBUG
    configure("DEBUG", log_text=True, stream=io.StringIO())
    assert logging.getLogger("telegram").getEffectiveLevel() == logging.DEBUG


# -- follower text ----------------------------------------------------------------------------

def test_follower_text_is_reduced_to_its_length_unless_enabled() -> None:
    message = "my order #123 never arrived, call me on 555-0100"
    assert text_for_log(message, False) == f"<{len(message)} chars>"
    assert text_for_log(message, True) == message
    assert text_for_log("x" * 600, True, limit=10) == "x" * 10 + "... (+590 chars)"
    assert text_for_log("", False) == "<0 chars>"
