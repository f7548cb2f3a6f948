"""`python run.py` on Mastodon, as a user runs it: the instance URL and a token set, nothing else.

The second test kills the bot with SIGKILL while it answers a burst of mentions and starts it
again: every mention is answered, none twice (the cursor waits for the store, and a resend
carries the same Idempotency-Key, which the server answers with the status posted before).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from tests.fake_mastodon import TOKEN, FakeMastodon
from tests.support.runproject import kill, make_project, output, start, stop

SECTION = ("    enabled: false             # set true, name the instance and export MASTODON_ACCESS_TOKEN\n"
           "    api_base_url: https://mastodon.social\n")


def project_for(tmp_path: Path, fake: FakeMastodon) -> Path:
    return make_project(tmp_path / "proj", SECTION,
                        f"    enabled: true\n    api_base_url: {fake.url}\n    poll_interval: 2\n")


async def test_python_run_py_answers_a_mastodon_mention_through_the_instance_api(tmp_path: Path) -> None:
    fake = await FakeMastodon().start()
    try:
        project = project_for(tmp_path, fake)
        proc = start(project, {"MASTODON_ACCESS_TOKEN": TOKEN})
        try:
            await fake.wait_until(lambda: bool(fake.calls_to("notifications")), timeout=60)
            ana = fake.add_account("ana_reads", "Ana")
            mention = fake.push_mention(ana, "hello, when is the tour?", visibility="direct")
            await fake.wait_until(lambda: bool(fake.posted), timeout=60)
        finally:
            code = await stop(proc)
    finally:
        await fake.stop()
    logs = output(project)
    assert code == 0, logs
    [reply] = fake.posted
    assert reply["in_reply_to_id"] == mention and reply["visibility"] == "direct"
    assert reply["text"].startswith("@ana_reads ") and "tour" in reply["text"].lower()
    assert TOKEN not in logs


async def test_a_sigkill_while_answering_loses_no_mention_and_answers_none_twice(tmp_path: Path) -> None:
    fake = await FakeMastodon().start()
    try:
        project = project_for(tmp_path, fake)
        env = {"MASTODON_ACCESS_TOKEN": TOKEN}
        proc = start(project, env)
        await fake.wait_until(lambda: bool(fake.calls_to("notifications")), timeout=60)
        mentions = [fake.push_mention(fake.add_account(f"reader{i}"), "when is the tour?") for i in range(24)]
        await fake.wait_until(lambda: len(fake.posted) >= 3, timeout=60)
        await kill(proc)  # mid-burst: some answered, some in flight, some not fetched yet

        proc = start(project, env)
        try:
            await fake.wait_until(lambda: {p["in_reply_to_id"] for p in fake.posted} >= set(mentions), timeout=120)
        finally:
            code = await stop(proc)
    finally:
        await fake.stop()
    assert code == 0, output(project)
    per_mention = Counter((p["in_reply_to_id"], p["text"]) for p in fake.posted)
    assert {m for m, _ in per_mention} == set(mentions)  # nothing lost
    assert max(per_mention.values()) == 1  # nothing answered twice
    keys = [p["idempotency_key"] for p in fake.posted]
    assert len(set(keys)) == len(keys) and all(keys)
