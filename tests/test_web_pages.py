"""The staff web UI's pages and actions over HTTP on 127.0.0.1, on a seeded database;
the static report and the commands that go with the UI."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio

from brandbot.ops.cli import main
from brandbot.runtime import reviewcopies
from brandbot.web.advocates import EVENTS_NAMESPACE, GIVEAWAY_NAMESPACE
from brandbot.web.inbox import open_handoffs
from tests.support.webseed import Served, client, login, next_hour, say, serve

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    s = await serve(tmp_path_factory.mktemp("web-pages"))
    yield s
    await s.close()


async def page(http, served: Served, path: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    async with http.get(served.url + path, allow_redirects=False) as r:
        return r.status, await r.text()


async def post(http, served: Served, token: str, path: str, **data: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    async with http.post(served.url + path, data={**data, "csrf": token}, allow_redirects=False) as r:
        return r.status, r.headers.get("Location", ""), await r.text()


async def test_the_overview_counts_what_the_seeded_bot_did(served: Served) -> None:
    async with client() as http:
        await login(http, served.url, "vic")
        # The five seeded days (other tests add to the sixth, today).
        status, html = await page(http, served, "/?from=2026-12-01&to=2026-12-05")
        assert status == 200
        assert 'id="events-total">50<' in html and 'id="replies-total">44<' in html
        assert 'id="p50">0.0 s<' in html and 'id="p95">66.0 min<' in html  # an hour late over the budget
        assert 'id="opted-out">1<' in html
        assert f'id="handoffs-open">{len(await open_handoffs(served.harness.bot))}<' in html
        assert 'data-series="telegram"' in html and 'data-series="x"' in html
        status, html = await page(http, served, "/?from=2026-12-06&to=2026-12-06")
        for reason in ("opted_out", "handed_off"):
            assert f">{reason}<" in html
        status, html = await page(http, served, "/?from=2026-12-02&to=2026-12-02")
        # One day: 3 mentions, a DM, a mention on X, a follow and 3 reposts.
        assert 'id="events-total">9<' in html
        status, html = await page(http, served, "/?from=2026-12-09&to=2026-12-01")
        assert status == 400 and "swap the dates" in html
        status, html = await page(http, served, "/?from=yesterday")
        assert status == 400 and "YYYY-MM-DD" in html


async def test_people_are_found_by_name_handle_or_tag(served: Served) -> None:
    async with client() as http:
        token = await login(http, served.url, "ana")
        cy = await served.harness.bot.people.find("x:cy")
        assert cy is not None
        assert (await post(http, served, token, f"/people/{cy.id}/tag", tags="#Superfan"))[0] == 303
        await served.harness.bot.store.flush()  # search reads committed rows (at most commit_delay behind)
        for query in ("Cy", "cy", "u-cy", "%23superfan", "superf"):
            _, html = await page(http, served, f"/people?q={query}")
            assert f'href="/people/{cy.id}"' in html, query
        _, html = await page(http, served, "/people?q=%25")  # a LIKE wildcard is searched as a character
        assert "Nobody found" in html
        _, html = await page(http, served, "/people?q=%23fan")  # '#': tags only, and nobody is tagged fan
        assert "Nobody found" in html


async def test_a_persons_page_and_the_actions_on_it(served: Served) -> None:
    bot = served.harness.bot
    await next_hour(served.harness)
    await say(served.harness, "telegram", "mention", "gil", "hi @brand, love the books")  # today: the
    fan = await bot.people.find("telegram:gil")  # overview's seeded days stay as they were
    assert fan is not None
    async with client() as http:
        token = await login(http, served.url, "ana")
        status, html = await page(http, served, f"/people/{fan.id}")
        assert status == 200 and "telegram: gil" in html and "love the books" in html and "Hi Gil" in html

        status, _, html = await post(http, served, token, f"/people/{fan.id}/tag", tags="bad tag!")
        assert status == 400 and "may use only letters" in html
        status, _, html = await post(http, served, token, f"/people/{fan.id}/points", points="ten", reason="x")
        assert status == 400 and "whole number" in html
        status, _, html = await post(http, served, token, f"/people/{fan.id}/points", points="10", reason="  ")
        assert status == 400 and "say why" in html

        status, where, _ = await post(http, served, token, f"/people/{fan.id}/points", points="500",
                                      reason="spoke at our meetup")
        assert (status, where) == (303, f"/people/{fan.id}?done=points")
        after = await bot.people.get(fan.id)
        assert after is not None and after.points == fan.points + 500 and after.tier != fan.tier
        _, html = await page(http, served, where)
        assert "Points saved" in html and "staff: spoke at our meetup" in html and f">{after.points}<" in html

        async with http.post(f"{served.url}/people/{fan.id}/export", data={"csrf": token}) as r:
            assert r.headers["Content-Disposition"] == f'attachment; filename="follower-{fan.id}.json"'
            exported = json.loads(await r.text())
        assert exported["follower"]["id"] == fan.id
        assert [i["handle"] for i in exported["identities"]] == ["gil"]
        assert any(row["text"] == "hi @brand, love the books" for row in exported["interactions"])

        status, _, html = await post(http, served, token, f"/people/{fan.id}/forget", confirm="yes")
        assert status == 400 and f"type the follower number {fan.id}" in html
        assert await bot.people.get(fan.id) is not None
        status, where, _ = await post(http, served, token, f"/people/{fan.id}/forget", confirm=str(fan.id))
        assert status == 303
        assert await bot.people.get(fan.id) is None
        status, html = await page(http, served, where)
        assert status == 404 and "The person was forgotten" in html
        assert (await page(http, served, "/people/999999"))[0] == 404


async def test_answering_assigning_and_releasing_a_handoff(served: Served) -> None:
    h = served.harness
    await next_hour(h)
    await say(h, "telegram", "direct", "liz", "my invoice is wrong")
    asked = await say(h, "telegram", "direct", "liz", "talk to a human")
    await say(h, "telegram", "direct", "max", "a real person please")
    await h.bot.store.flush()
    target = "telegram:dm:liz"
    async with client() as http:
        token = await login(http, served.url, "bo")
        _, html = await page(http, served, "/inbox")
        assert html.index(f'data-target="{target}"') < html.index('data-target="telegram:dm:max"')  # oldest first
        assert "my invoice is wrong" in html

        status, _, html = await post(http, served, token, "/inbox/answer", target=target, text="   ")
        assert status == 400 and "write an answer first" in html
        status, _, html = await post(http, served, token, "/inbox/answer", target="telegram:dm:nobody", text="hi")
        assert status == 400 and "no longer handed off" in html
        for who in ("mallory", "vic"):  # not a login; a viewer, who could not act on it
            status, _, html = await post(http, served, token, "/inbox/assign", target=target, to=who)
            assert status == 400 and "pick a colleague" in html

        sent_before = len(h.networks["telegram"].sent)
        assert (await post(http, served, token, "/inbox/answer", target=target, text="Bo here: fixed it."))[1] == \
            "/inbox?done=sent"
        await h.bot.drain()
        assert [(r.conversation.id, r.text) for r in h.networks["telegram"].sent[sent_before:]] == [
            ("dm:liz", "Bo here: fixed it.")]
        assert h.networks["telegram"].sent[-1].in_reply_to == asked.post_id  # threaded under her last message
        assert (await post(http, served, token, "/inbox/assign", target=target, to="ana"))[1] == "/inbox?done=assigned"
        await h.bot.store.flush()
        _, html = await page(http, served, "/inbox")
        card = html[html.index(f'data-target="{target}"'):]
        assert "assigned to <strong>ana</strong>" in card[:card.index("</article>")]
        assert "Bo here: fixed it." in card[:card.index("</article>")]

        # The bot stays quiet while handed off, and answers again once released.
        await say(h, "telegram", "direct", "liz", "thanks")
        assert not [r for r in h.networks["telegram"].sent[sent_before + 1:] if r.conversation.id == "dm:liz"]
        assert (await post(http, served, token, "/inbox/release", target=target))[1] == "/inbox?done=released"
        await next_hour(h)
        await say(h, "telegram", "direct", "liz", "hello again")
        assert [r.text for r in h.networks["telegram"].sent[sent_before + 1:] if r.conversation.id == "dm:liz"] == [
            "Hi Liz, thanks for writing!"]
        status, _, html = await post(http, served, token, "/inbox/release", target=target)
        assert status == 400 and "no longer handed off" in html


async def test_a_staff_answer_still_meets_the_policy(served: Served) -> None:
    """An opted-out person who asks for a human gets the team's answer only if the policy allows it:
    the answer is essential (the person asked), but an unreachable person is refused."""
    h = served.harness
    await say(h, "telegram", "direct", "ned", "human")
    ned = await h.bot.people.find("telegram:ned")
    assert ned is not None
    await h.bot.people.mark_unreachable("telegram", "u-ned")  # blocked the bot meanwhile
    await h.bot.store.flush()
    async with client() as http:
        token = await login(http, served.url, "ana")
        status, where, _ = await post(http, served, token, "/inbox/answer", target="telegram:dm:ned", text="Hi Ned")
        assert (status, where) == (303, "/inbox?refused=unreachable")
        _, html = await page(http, served, where)
        assert "The policy refused the answer (unreachable)" in html


async def test_the_live_inbox_stream_announces_a_new_handoff(served: Served) -> None:
    async with client() as http:
        await login(http, served.url, "vic")
        async with http.get(served.url + "/inbox/stream") as r:
            assert r.headers["Content-Type"] == "text/event-stream"
            first = await r.content.readuntil(b"\n\n")
            assert first.startswith(b"event: handoffs\ndata: ")
            await say(served.harness, "telegram", "direct", "oli", "speak to someone")
            second = await asyncio.wait_for(r.content.readuntil(b"\n\n"), 60)  # a bound, not a measurement
            while second.startswith(b":"):
                second = await asyncio.wait_for(r.content.readuntil(b"\n\n"), 60)
            assert second.startswith(b"event: handoffs\ndata: ") and int(second.split(b": ")[-1]) == \
                int(first.split(b": ")[-1]) + 1
        _, html = await page(http, served, "/inbox/list")
        assert 'data-target="telegram:dm:oli"' in html and "<html" not in html  # the list alone


async def test_advocates_show_sharers_tiers_giveaways_the_qa_queue_and_the_calendar(served: Served) -> None:
    from plugins.events.records import Origin, Question, Status, question_key
    from plugins.giveaway.records import Entry, Giveaway, entry_key

    store = served.harness.bot.store
    giveaway = Giveaway(id=3, prize="Signed <b>book</b>", winners=2, hashtag="#win", status="closed",
                        drawn_at="2026-12-05T10:00:00+00:00", entries=3, drawn=("a", "b", "c"), forfeited=("c",),
                        claimed=("a",))
    store.kv_set(GIVEAWAY_NAMESPACE, giveaway.key, json.dumps(giveaway.dump()))
    for n in range(4):
        entry = Entry(f"e{n}", 100 + n, "telegram", f"u{n}", "public", False, f"p{n}", "2026-12-04T10:00:00+00:00")
        store.kv_set(GIVEAWAY_NAMESPACE, entry_key(3, "telegram", f"u{n}", 100 + n), json.dumps(entry.dump()))
    origin = Origin("telegram", "public", False, "u-cy", "cy", "Cy", "e1", "p1", "mention", True)
    for number, status, text in ((1, Status.ANSWERED, "Old one?"), (2, Status.PENDING, "Where do ideas come from?"),
                                 (3, Status.APPROVED, "Next book?")):
        q = Question("launch", number, 4, text, origin, datetime(2026, 12, 6, tzinfo=UTC), status=status)
        store.kv_set(EVENTS_NAMESPACE, question_key("launch", number, 4), json.dumps(q.to_json()))
    cy = await served.harness.bot.people.find("x:cy")
    assert cy is not None
    review = reviewcopies.Review("blogs:e9", 999, "books.example", "Cy", "A fine book", "https://books.example/r",
                                 "5/5", datetime(2026, 12, 5, tzinfo=UTC), reviewer=cy.id)
    store.kv_set(reviewcopies.NAMESPACE, review.key, json.dumps(review.to_json()))
    store.kv_set(EVENTS_NAMESPACE, "qa:open", json.dumps({"stop": "launch", "since": "2026-12-06T09:00:00+00:00"}))
    store.kv_set(EVENTS_NAMESPACE, "tour:file", json.dumps([{"id": "launch", "title": "Launch Q&A",
                                                             "start": "2026-12-20T18:00:00+00:00", "kind": "qa",
                                                             "network": "telegram"}]))
    await store.flush()
    async with client() as http:
        await login(http, served.url, "vic")
        status, html = await page(http, served, "/advocates")
    assert status == 200
    sharers = html[html.index('id="sharers"'):html.index("</table>", html.index('id="sharers"'))]
    assert sharers.index(">Cy<") < sharers.index(">Dee<")  # 5 reposts and a review before 1 quote
    row = sharers[sharers.index(">Cy<"):].split("</tr>")[0]
    assert row.endswith('<td class="num">5</td><td class="num">0</td><td class="num">1</td><td class="num">6</td>')
    assert 'id="giveaway-3"' in html and "Signed &lt;b&gt;book&lt;/b&gt;" in html
    funnel = html[html.index('id="giveaway-3"'):]
    for label, value in (("entries", 4), ("eligible", 3), ("winners", 2), ("claimed", 1)):
        assert f">{label}<title>{label}</title></text>" in funnel and f'class="value">{value}</text>' in funnel
    assert "brandbot giveaway verify giveaways/giveaway-3.json" in html
    queue = html[html.index('id="questions"'):html.index("</ol>", html.index('id="questions"'))]
    assert "Where do ideas come from?" in queue and "Next book?" in queue and "Old one?" not in queue
    assert "Launch Q&amp;A (qa on telegram)" in html


async def test_report_html_writes_one_offline_file(served: Served, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    config = served.harness.bot.config.path
    out = tmp_path / "report" / "brandbot.html"
    code = await asyncio.to_thread(main, ["-c", str(config), "report", "--html", str(out), "--since", "2026-12-01",
                                          "--until", "2026-12-06"])
    assert code == 0 and "wrote the overview and advocates" in capsys.readouterr().out
    html = out.read_text(encoding="utf-8")
    async with client() as http:
        await login(http, served.url, "vic")
        _, live = await page(http, served, "/?from=2026-12-01&to=2026-12-06")
    for figure in ("events-total", "replies-total", "p95", "opted-out"):  # the same figures as the live page
        marker = f'id="{figure}">'
        assert live[live.index(marker):].split("<")[0] == html[html.index(marker):].split("<")[0]
    assert 'data-series="telegram"' in html and 'id="sharers"' in html and 'id="calendar"' in html
    assert "<style>" in html and "<link" not in html and "<script" not in html and "http://" not in html
    assert "/people/" not in html  # no links into the live UI
    assert await asyncio.to_thread(main, ["-c", str(config), "report", "--html", str(out), "--since", "soon"]) == 1
    assert "YYYY-MM-DD" in capsys.readouterr().err


async def test_brandbot_run_serves_the_ui_beside_healthz(tmp_path: Path) -> None:
    """What ``brandbot run`` does with ``http.accounts``: the UI mounted into the bot's own server."""
    from brandbot.core.config import load_config
    from brandbot.networks.memory import MemoryNetwork
    from brandbot.runtime.bot import Bot
    from brandbot.testing import write_config
    from brandbot.web import install
    from tests.support.webseed import SECRET, accounts

    path = write_config(tmp_path, {"http": {"enabled": True, "port": 0, "secret": SECRET, "accounts": accounts()}},
                        None)
    bot = Bot(load_config(path), networks={"memory": MemoryNetwork()})
    install(bot)
    await bot.start()
    try:
        url = f"http://127.0.0.1:{bot.health_server.port}"
        async with client() as http:
            async with http.get(url + "/healthz") as r:
                assert r.status == 200
            async with http.get(url + "/metrics") as r:
                assert r.status == 401
            async with http.get(url + "/", allow_redirects=False) as r:
                assert r.status == 303
            await login(http, url, "ana")
            async with http.get(url + "/") as r:  # storage ':memory:': no file to chart, said plainly
                assert r.status == 503 and "storage.path is ':memory:'" in await r.text()
            async with http.get(url + "/inbox") as r:
                assert r.status == 200 and "No conversation is handed off." in await r.text()
    finally:
        await bot.stop()
