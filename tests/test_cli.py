"""The brandbot command line: check, giveaway verify, followers, reports."""

import json
from pathlib import Path

from brandbot.core.draw import commitment, draw, make_export
from brandbot.ops.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_check_passes_on_the_example_config(capsys) -> None:
    assert main(["-c", str(ROOT / "config" / "brandbot.yaml"), "check"]) == 0
    assert "everything is valid" in capsys.readouterr().out


def test_giveaway_verify_accepts_an_honest_draw_and_rejects_a_tampered_one(tmp_path: Path, capsys) -> None:
    entries = [f"e-{i:012x}" for i in range(40)]
    seed = "5eed" * 16
    winners = draw(seed, entries, 3)
    data = make_export(giveaway=7, prize="Signed copy", commitment=commitment(seed), seed=seed,
                       entries=entries, winners=winners)
    honest = tmp_path / "giveaway-7.json"
    honest.write_text(json.dumps(data))
    assert main(["giveaway", "verify", str(honest)]) == 0
    assert "draw verified" in capsys.readouterr().out
    data["winners"] = [entries[0] if entries[0] not in winners else entries[1], *winners[1:]]
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(data))
    assert main(["giveaway", "verify", str(tampered)]) == 1
    assert "NOT verified" in capsys.readouterr().out


def test_followers_and_reports_on_a_real_database(tmp_path: Path, capsys) -> None:
    import io
    import shutil

    shutil.copytree(ROOT / "config", tmp_path / "config")
    shutil.copytree(ROOT / "plugins", tmp_path / "plugins")
    cfg = str(tmp_path / "config" / "brandbot.yaml")
    import asyncio

    from brandbot.core.config import load_config
    from brandbot.networks.console import ConsoleConfig, ConsoleNetwork
    from brandbot.runtime.bot import Bot

    (tmp_path / "data").mkdir()
    console = ConsoleNetwork(ConsoleConfig(), stdin=io.StringIO("@ana: hi\n@ana: !repost tour-post\n@ben: hello\n"),
                             stdout=io.StringIO())
    asyncio.run(Bot(load_config(cfg), networks={"console": console}).run())
    capsys.readouterr()
    assert main(["-c", cfg, "followers", "list", "--sort", "name", "--ascending"]) == 0
    listing = capsys.readouterr().out
    assert listing.index("Ana") < listing.index("Ben") and "2 shown of 2 followers" in listing
    assert main(["-c", cfg, "followers", "show", "console:ana"]) == 0
    assert "1 reposts" in capsys.readouterr().out
    assert main(["-c", cfg, "report", "advocates", "--all"]) == 0
    assert "Ana" in capsys.readouterr().out
    out = tmp_path / "ana.json"
    assert main(["-c", cfg, "followers", "export", "console:ana", "-o", str(out)]) == 0
    assert json.loads(out.read_text())["follower"]["name"] == "Ana"
    assert main(["-c", cfg, "followers", "forget", "console:ana"]) == 0
    capsys.readouterr()
    assert main(["-c", cfg, "followers", "show", "console:ana"]) == 1
    assert "no follower" in capsys.readouterr().err
    assert main(["-c", cfg, "loyalty", "recompute"]) == 0
    assert "recomputed loyalty for 1 follower;" in capsys.readouterr().out


def test_offline_edits_are_refused_while_the_bot_runs(tmp_path: Path, capsys) -> None:
    import subprocess
    import sys

    (tmp_path / "brandbot.yaml").write_text(
        "brand: {name: T}\nstorage: {path: bot.sqlite3}\nnetworks: {console: {}}\nplugin_dirs: []\n")
    cfg = str(tmp_path / "brandbot.yaml")
    proc = subprocess.Popen([sys.executable, "-m", "brandbot.ops.cli", "-c", cfg, "run"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("/nothing\n@ana: hi\n")
        proc.stdin.flush()
        import time

        deadline = time.monotonic() + 20
        while not (tmp_path / "bot.sqlite3.lock").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        assert main(["-c", cfg, "loyalty", "recompute"]) == 1
        err = capsys.readouterr().err
        assert "is in use by brandbot run" in err and "stop the bot first" in err
    finally:
        proc.stdin.close()  # end of input: the bot stops by itself
        assert proc.wait(timeout=30) == 0
    assert main(["-c", cfg, "loyalty", "recompute"]) == 0
