"""Broken configurations stop ``brandbot check`` and ``brandbot run`` with one clear message.

Each folder in ``tests/bad_configs/`` holds one mistake a community manager or operator
makes (typo, wrong type, bad regex, missing secret ...). ``check`` runs in-process through
``brandbot.ops.cli.main``; ``run`` runs as a real subprocess with stdin closed. Both must exit
with status 2 before any network starts, printing one message that names the file and
line to fix and what is wrong.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from brandbot.ops import cli

ROOT = Path(__file__).resolve().parents[1]
CASES_DIR = Path(__file__).parent / "bad_configs"


@dataclass(frozen=True)
class Case:
    folder: str
    file: str  # the file the message must name ...
    line: int  # ... and the line in it
    says: str  # a fragment of the explanation


CASES = [
    Case("bad_yaml_syntax", "brandbot.yaml", 6, "YAML syntax error"),
    Case("unknown_top_key", "brandbot.yaml", 6, "did you mean 'rules'"),
    Case("unknown_rule_key", "rules.yaml", 10, "did you mean 'reply'"),
    Case("wrong_type", "brandbot.yaml", 6, "runtime.max_concurrency"),
    Case("missing_env_var", "brandbot.yaml", 7, "BRANDBOT_TEST_UNSET_TELEGRAM_TOKEN is not set"),
    Case("bad_regex", "rules.yaml", 4, "invalid regex"),
    Case("unknown_template_variable", "rules.yaml", 7, "unknown variable 'nmae'; did you mean 'name'"),
    Case("reposts_on_x", "rules.yaml", 7, "answers 'repost' on x"),
    Case("duplicate_rule_name", "rules.yaml", 12, "duplicate rule name 'hello'"),
    Case("bad_duration", "rules.yaml", 5, "expected a duration"),
    Case("bad_timezone", "brandbot.yaml", 9, "unknown time zone 'Europe/Atlantis'"),
    Case("unknown_plugin", "brandbot.yaml", 8, "plugin 'loyality' not found"),
    Case("plugin_setting_typo", "brandbot.yaml", 9, "did you mean 'thank_milestones'"),
    Case("missing_rules_file", "brandbot.yaml", 7, "rules file 'campaigns.yaml' not found"),
    Case("network_setting_typo", "brandbot.yaml", 6, "did you mean 'default_author'"),
    Case("feed_missing_input", "brandbot.yaml", 5, "input file"),
    Case("admin_handle", "brandbot.yaml", 7, "'@maya_staff' is not a telegram user id"),
]


def brandbot(config: Path, command: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRANDBOT_TEST_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return subprocess.run(
        [sys.executable, "-m", "brandbot.ops.cli", "-c", str(config), command],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, env=env, cwd=ROOT, check=False,
    )


@pytest.fixture(scope="module")
def runs() -> dict[str, subprocess.CompletedProcess[str]]:
    """``brandbot run`` on every case, in parallel, once (each is a fresh interpreter)."""
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        results = pool.map(lambda case: brandbot(CASES_DIR / case.folder / "brandbot.yaml", "run"), CASES)
        return {case.folder: result for case, result in zip(CASES, results)}


def assert_one_clear_message(case: Case, code: int, out: str, err: str) -> None:
    assert code == 2, f"exit {code}\nstdout: {out}\nstderr: {err}"
    assert err.startswith("brandbot: configuration error: "), err
    assert err.count("configuration error") == 1 and "Traceback" not in err, err
    assert re.search(rf"(^|/|\s){re.escape(case.file)}:{case.line}:", err), f"expected {case.file}:{case.line} in: {err}"
    assert case.says in err, err
    # nothing started: no network came up, no reply went out, no log of a running bot
    assert out == "" and "started" not in err and "[bot ->" not in err


def test_every_case_folder_is_listed() -> None:
    assert sorted(p.name for p in CASES_DIR.iterdir() if p.is_dir()) == sorted(c.folder for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.folder for c in CASES])
def test_check_stops_with_one_message_naming_file_and_line(
    case: Case, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BRANDBOT_TEST_UNSET_TELEGRAM_TOKEN", raising=False)
    monkeypatch.chdir(ROOT)
    code = cli.main(["-c", str(CASES_DIR / case.folder / "brandbot.yaml"), "check"])
    captured = capsys.readouterr()
    assert_one_clear_message(case, code, captured.out, captured.err)


@pytest.mark.parametrize("case", CASES, ids=[c.folder for c in CASES])
def test_run_stops_before_starting_anything(runs: dict[str, subprocess.CompletedProcess[str]], case: Case) -> None:
    result = runs[case.folder]
    assert_one_clear_message(case, result.returncode, result.stdout, result.stderr)


def test_a_good_config_passes_check_for_contrast(tmp_path: Path) -> None:
    config = tmp_path / "brandbot.yaml"
    config.write_text("brand: {name: Good Brand}\nstorage: {path: ':memory:'}\nnetworks:\n  console: {prompt: false}\n")
    result = brandbot(config, "check")
    assert result.returncode == 0 and "everything is valid" in result.stdout, result.stderr


def test_a_plugin_setting_typo_is_explained_after_the_plugin_was_reloaded() -> None:
    """Hot reload (and ``check`` after ``run`` in one process) imports a plugin again, so
    two config classes of the same name exist; the did-you-mean must not get lost."""
    from brandbot.core.config import load_config
    from brandbot.core.errors import ConfigError
    from brandbot.runtime.loader import load_plugins

    good = load_config(CASES_DIR / "unknown_plugin" / "brandbot.yaml")
    load_plugins([s for s in good.plugins if s.name == "loyalty"], good.plugin_dirs, good.doc, generation=1)
    bad = load_config(CASES_DIR / "plugin_setting_typo" / "brandbot.yaml")
    with pytest.raises(ConfigError) as caught:
        load_plugins(bad.plugins, bad.plugin_dirs, bad.doc, generation=2)
    assert "did you mean 'thank_milestones'" in str(caught.value)
