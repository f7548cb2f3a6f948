"""The web UI's pure parts (charts, figures, form parsing) and its settings and commands."""

from __future__ import annotations

import io
import sys
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brandbot.core.config import HttpConfig, WebAccount, load_config
from brandbot.core.errors import ConfigError
from brandbot.ops.cli import main
from brandbot.testing import write_config
from brandbot.web.accounts import LoginThrottle, check_login
from brandbot.web.charts import bar_chart, line_chart
from brandbot.web.guard import safe_next
from brandbot.web.numbers import RangeError, day_range, per_day, percentile
from brandbot.web.people import ActionError, parse_points, parse_tags
from tests.support.webseed import SECRET, accounts

EVIL = '<script>alert(1)</script>"&'


def test_chart_labels_are_escaped() -> None:
    line = line_chart("Events", ["2026-12-01", "2026-12-02"], {EVIL: [1, 2]})
    bars = bar_chart("Refusals", [(EVIL, 3.0)], marker=(EVIL, 5.0))
    for svg in (line, bars):
        assert "<script>" not in svg and "&lt;script&gt;" in svg and '"&' not in svg.replace('="', "")


def test_a_line_chart_has_a_point_per_day_and_series_per_network() -> None:
    days = [f"2026-12-0{d}" for d in range(1, 8)]
    svg = line_chart("Events", days, {"telegram": [1, 2, 3, 4, 5, 6, 7], "x": [0] * 7})
    polylines = svg.split("<polyline")[1:]
    assert [p.split('data-series="')[1].split('"')[0] for p in polylines] == ["telegram", "x"]
    points = polylines[0].split('points="')[1].split('"')[0].split()
    assert len(points) == 7
    ys = [float(p.split(",")[1]) for p in points]
    assert ys == sorted(ys, reverse=True)  # rising values are drawn higher (smaller y)
    assert "Nothing recorded" in line_chart("Events", days, {"x": [0] * 7})


def test_small_amounts_get_a_small_axis() -> None:
    svg = line_chart("Cost", ["a", "b"], {"cost": [0.01, 0.03]})
    assert ">0.05<" in svg and ">1<" not in svg


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=200),
       st.floats(min_value=0.01, max_value=1.0))
def test_a_percentile_is_one_of_the_values_and_grows_with_q(values: list[float], q: float) -> None:
    p = percentile(values, q)
    assert p in values
    assert p <= (percentile(values, min(1.0, q + 0.1)) or 0)
    assert sum(v <= p for v in values) >= q * len(values) - 1e-9


def test_percentiles_of_nothing_and_of_known_values() -> None:
    assert percentile([], 0.5) is None
    assert percentile(list(range(1, 101)), 0.5) == 50 and percentile(list(range(1, 101)), 0.95) == 95


def test_day_ranges() -> None:
    today = date(2026, 12, 7)
    default = day_range(today, None, None)
    assert (default.first, default.last, len(default.days)) == (date(2026, 11, 24), today, 14)
    assert (default.start, default.end) == ("2026-11-24", "2026-12-08")
    for first, last, problem in (("2026-12-09", "2026-12-01", "swap"), ("2020-01-01", None, "at most"),
                                 ("12/01/2026", None, "YYYY-MM-DD")):
        with pytest.raises(RangeError, match=problem):
            day_range(today, first, last)


def test_per_day_fills_the_days_without_events_with_zero() -> None:
    days = ["2026-12-01", "2026-12-02", "2026-12-03"]
    assert per_day([("2026-12-03", "x", 2), ("2026-12-01", "telegram", 5), ("2026-11-30", "x", 9)], days) == {
        "telegram": [5, 0, 0], "x": [0, 0, 2]}


def test_tag_and_points_forms() -> None:
    assert parse_tags("vip, #Press -old +new") == (["vip", "press", "new"], ["old"])
    assert parse_points(" -20 ", "  took  back ") == (-20, "took back")
    for tags in ("", "   ", "bad!", "#" + "x" * 40):
        with pytest.raises(ActionError):
            parse_tags(tags)
    for amount, reason in (("0", "x"), ("1000001", "x"), ("1.5", "x"), ("5", "")):
        with pytest.raises(ActionError):
            parse_points(amount, reason)


def test_the_login_throttle_counts_failures_per_name_within_the_window() -> None:
    throttle = LoginThrottle(limit=3, window=60.0)
    for t in (0.0, 10.0, 20.0):
        assert throttle.wait("kim", t) == 0
        throttle.failed("kim", t)
    assert throttle.wait("kim", 30.0) == 30.0  # until the first failure leaves the window
    assert throttle.wait("ana", 30.0) == 0
    assert throttle.wait("kim", 60.0) == 0  # one failure aged out: one more try
    throttle.succeeded("kim")
    assert throttle.wait("kim", 61.0) == 0


def test_report_needs_a_kind_or_html(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = write_config(tmp_path, None, None)
    assert main(["-c", str(path), "report"]) == 1
    assert "say which report: brandbot report advocates" in capsys.readouterr().err
    assert main(["-c", str(path), "report", "--html", str(tmp_path / "r.html")]) == 1  # ':memory:' storage
    assert "no database to report on" in capsys.readouterr().err


def test_after_login_only_paths_of_this_site() -> None:
    assert safe_next("/people?q=a") == "/people?q=a"
    for target in (None, "", "//evil.example", "https://evil.example", "/\\evil.example", "people"):
        assert safe_next(target) == "/"


def test_hash_password_prints_an_argon2_hash(monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]

    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse battery\n"))
    assert main(["hash-password"]) == 0
    hashed = capsys.readouterr().out.strip()
    assert hashed.startswith("$argon2id$") and "correct horse" not in hashed
    account = {"ana": WebAccount(password=hashed)}
    assert check_login(account, "ana", "correct horse battery") is not None
    assert check_login(account, "ana", "correct horse battery!") is None
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert main(["hash-password"]) == 1
    assert "at least 10 characters" in capsys.readouterr().err


@pytest.mark.parametrize(("http", "message"), [
    ({"accounts": {"ana": {"password": "hunter2hunter2"}}, "secret": SECRET}, "never the password itself"),
    ({"accounts": {"ana": {"password": "$argon2id$v=19$x", "role": "admin"}}, "secret": SECRET}, "'staff' or 'viewer'"),
    ({"accounts": {"ana": {"password": "$argon2id$v=19$x"}}, "secret": "short"}, "at least 32 characters"),
])
def test_bad_web_settings_are_config_errors(tmp_path: Path, http: dict, message: str) -> None:

    path = write_config(tmp_path, {"http": http}, None)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_the_seeded_accounts_load() -> None:

    assert set(HttpConfig(accounts=accounts(), secret=SECRET).accounts) == {"ana", "bo", "kim", "vic"}  # type: ignore[arg-type]


