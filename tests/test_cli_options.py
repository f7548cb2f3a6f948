"""``-c FILE`` works before and after the subcommand, for ``brandbot`` and ``python run.py``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from brandbot.ops.cli import main

ROOT = Path(__file__).resolve().parents[1]
GOOD = "brand: {name: Good Brand}\nstorage: {path: ':memory:'}\nnetworks:\n  console: {prompt: false}\n"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "brandbot.yaml"
    path.write_text(GOOD)
    return path


@pytest.mark.parametrize(
    "argv",
    [
        ["-c", "{cfg}", "check"],
        ["check", "-c", "{cfg}"],
        ["check", "--config", "{cfg}"],
        ["--config={cfg}", "check"],
        ["check", "--config={cfg}"],
    ],
)
def test_config_option_before_or_after_the_subcommand(argv: list[str], config: Path, capsys) -> None:
    assert main([a.replace("{cfg}", str(config)) for a in argv]) == 0
    assert "everything is valid" in capsys.readouterr().out


def test_config_option_after_a_nested_subcommand(config: Path, tmp_path: Path, capsys) -> None:
    """``followers list -c FILE`` reads that file's database (an empty one in memory here)."""
    assert main(["followers", "list", "-c", str(config)]) == 0
    assert "0 shown of 0 followers" in capsys.readouterr().out


def test_the_option_after_the_subcommand_wins(config: Path, tmp_path: Path, capsys) -> None:
    missing = tmp_path / "missing.yaml"
    assert main(["-c", str(missing), "check", "-c", str(config)]) == 0
    assert main(["-c", str(config), "check", "-c", str(missing)]) == 2
    assert "missing.yaml" in capsys.readouterr().err


def test_run_py_takes_another_config(config: Path) -> None:
    """``python run.py -c FILE`` is what most people try first: it runs that file."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "-c", str(config)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, env=env, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert str(ROOT / "config") not in result.stderr  # the bundled example was not the one run
