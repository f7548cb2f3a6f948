"""Shared fixtures for brandbot's own tests (the public ones live in brandbot.testing)."""

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from brandbot.runtime.logs import LIBRARY_LOGGERS

# Real servers started by the tests that ask for them (tests/servers/).
from tests.servers.postgres import pg_url, postgres_server  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
BUNDLED_PLUGINS = str(ROOT / "plugins")

# Property tests check what the code does, not how fast the machine is: on a busy
# 2-core machine hypothesis's wall-clock checks (the "too slow" health check on data
# generation, the 200 ms deadline per example) failed passing tests now and then. Tests
# that set their own suppress_health_check list too_slow there too.
settings.register_profile("brandbot", suppress_health_check=[HealthCheck.too_slow], deadline=None)
settings.load_profile("brandbot")


@pytest.fixture
def bundled() -> dict:
    """Config that makes the bundled plugins in plugins/ loadable by name."""
    return {"plugin_dirs": [BUNDLED_PLUGINS]}


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """Put logging back after every test: a test that runs a CLI command calls
    ``configure()``, which sets the network libraries' loggers to WARNING and replaces
    the root handlers, and a later test reading its captured log lines (caplog) would
    then see none of the libraries' lines, depending on the order the tests ran in."""
    root = logging.getLogger()
    names = (*LIBRARY_LOGGERS, "brandbot")
    saved = root.handlers[:], root.level, {name: logging.getLogger(name).level for name in names}
    yield
    root.handlers[:], level, levels = saved
    root.setLevel(level)
    for name, lib_level in levels.items():
        logging.getLogger(name).setLevel(lib_level)
    logging.captureWarnings(False)
