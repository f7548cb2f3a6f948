"""Shared fixtures for brandbot's own tests (the public ones live in brandbot.testing)."""

from pathlib import Path

import pytest

# Real servers started by the tests that ask for them (tests/servers/).
from tests.servers.postgres import pg_url, postgres_server  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
BUNDLED_PLUGINS = str(ROOT / "plugins")


@pytest.fixture
def bundled() -> dict:
    """Config that makes the bundled plugins in plugins/ loadable by name."""
    return {"plugin_dirs": [BUNDLED_PLUGINS]}
