"""`python run.py` on Bluesky, as a user runs it: the handle, the PDS URL and an app password set.

The second test kills the bot with SIGKILL while it answers a burst of mentions and starts it
again: every mention is answered, none twice (the cursor waits for the store, and a resend
names the same record key, which the PDS refuses as a duplicate).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from tests.fake_bluesky import APP_PASSWORD, HANDLE, LIST_NOTIFICATIONS, FakeBluesky
from tests.support.runproject import kill, make_project, output, start, stop

SECTION = ("    enabled: false             # set true, name the account and export BLUESKY_APP_PASSWORD\n"
           "    handle: inkwell.bsky.social\n")


def project_for(tmp_path: Path, fake: FakeBluesky) -> Path:
    return make_project(tmp_path / "proj", SECTION,
                        f"    enabled: true\n    handle: {HANDLE}\n    api_base_url: {fake.url}\n    poll_interval: 2\n")


async def test_python_run_py_answers_a_bluesky_mention_through_the_pds(tmp_path: Path) -> None:
    fake = await FakeBluesky().start()
    try:
        project = project_for(tmp_path, fake)
        proc = start(project, {"BLUESKY_APP_PASSWORD": APP_PASSWORD})
        try:
            await fake.wait_until(lambda: bool(fake.calls_to(LIST_NOTIFICATIONS)), timeout=60)
            ana = fake.add_account("ana", "Ana")
            mention = fake.push_mention(ana, "hello, when is the tour?")
            await fake.wait_until(lambda: bool(fake.posted), timeout=60)
        finally:
            code = await stop(proc)
    finally:
        await fake.stop()
    logs = output(project)
    assert code == 0, logs
    [reply] = fake.posted
    assert reply["reply"]["parent"]["uri"] == mention and reply["reply"]["root"]["uri"] == mention
    assert "tour" in reply["text"].lower()
    assert APP_PASSWORD not in logs


async def test_a_sigkill_while_answering_loses_no_mention_and_answers_none_twice(tmp_path: Path) -> None:
    fake = await FakeBluesky().start()
    try:
        project = project_for(tmp_path, fake)
        env = {"BLUESKY_APP_PASSWORD": APP_PASSWORD}
        proc = start(project, env)
        await fake.wait_until(lambda: bool(fake.calls_to(LIST_NOTIFICATIONS)), timeout=60)
        mentions = [fake.push_mention(fake.add_account(f"reader{i}"), "when is the tour?") for i in range(24)]
        await fake.wait_until(lambda: len(fake.posted) >= 3, timeout=60)
        await kill(proc)  # mid-burst: some answered, some in flight, some not fetched yet

        proc = start(project, env)
        try:
            await fake.wait_until(lambda: {p["reply"]["parent"]["uri"] for p in fake.posted} >= set(mentions),
                                  timeout=120)
        finally:
            code = await stop(proc)
    finally:
        await fake.stop()
    assert code == 0, output(project)
    per_mention = Counter((p["reply"]["parent"]["uri"], p["text"]) for p in fake.posted)
    assert {uri for uri, _ in per_mention} == set(mentions)  # nothing lost
    assert max(per_mention.values()) == 1  # nothing answered twice
