"""The staff web UI in a real headless Chromium (the system's), driven by Playwright.

One browser and one seeded bot for the module; each test logs in in a fresh browser
context. Screenshots go to ``test-artifacts/`` (gitignored). The browser talks only to
127.0.0.1 and is started with Chromium's own background traffic switched off.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from brandbot.web.inbox import open_handoffs
from tests.support.webseed import EVIL, PASSWORDS, Served, next_hour, say, serve

playwright_api = pytest.importorskip("playwright.async_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
WAIT_MS = 60_000  # generous: the machine is shared; nothing here measures time

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs the system Chromium (.ci/run installs it)"),
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    s = await serve(tmp_path_factory.mktemp("web-browser"))
    yield s
    await s.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[object]:
    async with playwright_api.async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        await chromium.close()


async def logged_in(browser, served: Served, name: str = "ana", **context):  # type: ignore[no-untyped-def]
    ctx = await browser.new_context(**context)
    page = await ctx.new_page()
    page.set_default_timeout(WAIT_MS)
    await page.goto(f"{served.url}/inbox")
    assert page.url.startswith(f"{served.url}/login?next=/inbox")  # not logged in yet: sent to the login form
    await page.fill("input[name=name]", name)
    await page.fill("input[name=password]", PASSWORDS[name])
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{served.url}/inbox")
    return ctx, page


def shot_path(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name


async def test_overview_draws_the_seeded_figures_as_charts(served: Served, browser) -> None:  # type: ignore[no-untyped-def]
    ctx, page = await logged_in(browser, served, viewport={"width": 1280, "height": 1000})
    await page.goto(f"{served.url}/?from=2026-12-01&to=2026-12-05")  # the seeded days (tests add to today)
    assert await page.inner_text("#events-total") == "50"
    assert await page.inner_text("#replies-total") == "44"
    assert await page.inner_text("#p95") == "66.0 min"
    assert await page.inner_text("#handoffs-open") == str(len(await open_handoffs(served.harness.bot)))
    lines = page.locator("#chart-events polyline.series")
    assert sorted([await lines.nth(i).get_attribute("data-series") for i in range(await lines.count())]) == [
        "telegram", "x"]
    box = await lines.first.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 10  # drawn, across the chart
    assert await page.locator("#chart-refusals rect.bar").count() == 1  # already_answered (a repeated share)
    await page.goto(f"{served.url}/?from=2026-12-01&to=2026-12-06")
    assert await page.locator("#chart-refusals rect.bar").count() >= 3  # opted out, handed off, ...
    await page.screenshot(path=str(shot_path("overview.png")), full_page=True)
    await ctx.close()

    phone, page = await logged_in(browser, served, viewport={"width": 390, "height": 844}, is_mobile=True)
    await page.goto(f"{served.url}/")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing wider than the phone: no sideways scrolling
    chart = await page.locator("#chart-events svg").bounding_box()
    assert chart is not None and chart["width"] <= 390
    await page.screenshot(path=str(shot_path("overview-phone.png")), full_page=True)
    await phone.close()


async def test_a_new_handoff_appears_without_reload_and_is_answered_from_the_page(served: Served,
                                                                                   browser) -> None:  # type: ignore[no-untyped-def]
    ctx, page = await logged_in(browser, served)
    await page.evaluate("window.sameDocument = true")
    assert await page.locator('[data-target="telegram:dm:yan"]').count() == 0
    await next_hour(served.harness)
    await say(served.harness, "telegram", "direct", "yan", "where is my parcel?")
    await say(served.harness, "telegram", "direct", "yan", "human please")
    card = page.locator('[data-target="telegram:dm:yan"]')
    await card.wait_for()  # pushed by server-sent events
    assert await page.evaluate("window.sameDocument") is True  # the page was not reloaded
    assert "where is my parcel?" in await card.inner_text()
    await page.screenshot(path=str(shot_path("inbox.png")), full_page=True)

    telegram = served.harness.networks["telegram"]
    before = len(telegram.sent)
    await card.locator("textarea[name=text]").fill("Hi Yan, Ana here: your parcel left this morning.")
    await card.locator("form.answer button").click()
    await page.wait_for_url("**/inbox?done=sent")
    await served.harness.bot.drain()
    answered = [r for r in telegram.sent[before:] if r.conversation.id == "dm:yan"]
    assert [r.text for r in answered] == ["Hi Yan, Ana here: your parcel left this morning."]
    assert answered[0].source == "staff:ana"
    await ctx.close()


async def test_a_name_made_of_html_is_shown_as_text(served: Served, browser) -> None:  # type: ignore[no-untyped-def]
    ctx, page = await logged_in(browser, served)
    dialogs: list[str] = []
    page.on("dialog", lambda d: dialogs.append(d.message))
    await page.goto(f"{served.url}/people?q=mal")
    link = page.locator("#people a").first
    assert await link.inner_text() == EVIL
    await link.click()
    assert await page.inner_text("#person-name") == f"{EVIL} follower " + page.url.rsplit("/", 1)[1]
    assert await page.locator("img[src=x]").count() == 0 and dialogs == []
    await ctx.close()
