"""The staff web UI's door: login, sessions, CSRF, the read-only role, escaping, the audit log.

Over real HTTP on 127.0.0.1 against a bot with a seeded database (tests/support/webseed.py).
"""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from yarl import URL

from brandbot.web.sessions import COOKIE
from tests.support.webseed import (
    EVIL,
    PASSWORDS,
    Served,
    client,
    csrf_in,
    login,
    next_hour,
    say,
    serve,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

PAGES = ["/", "/?from=2026-12-01", "/people", "/people?q=fan", "/people/1", "/people/1/forget", "/inbox",
         "/inbox/list", "/inbox/stream", "/advocates", "/audit"]
ACTIONS = ["/people/1/tag", "/people/1/points", "/people/1/export", "/people/1/forget", "/inbox/answer",
           "/inbox/assign", "/inbox/release"]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    s = await serve(tmp_path_factory.mktemp("web-security"))
    yield s
    await s.close()


async def test_every_page_and_action_without_login_goes_to_the_login_form(served: Served) -> None:
    async with client() as http:
        for path in PAGES:
            async with http.get(served.url + path, allow_redirects=False) as r:
                assert r.status == 303, path
                assert r.headers["Location"].startswith("/login?next=/"), path
        for path in ACTIONS:
            async with http.post(served.url + path, data={"tags": "vip"}, allow_redirects=False) as r:
                assert r.status == 303, path
                assert r.headers["Location"].startswith("/login"), path
    follower = await served.harness.bot.people.get(1)
    assert follower is not None and "vip" not in follower.tags


async def test_healthz_is_open_and_metrics_want_a_login_or_basic_auth(served: Served) -> None:
    async with client() as http:
        async with http.get(served.url + "/healthz") as r:
            assert r.status in (200, 503) and (await r.json())["status"]
        async with http.get(served.url + "/metrics") as r:
            assert r.status == 401 and r.headers["WWW-Authenticate"].startswith("Basic")
        wrong = base64.b64encode(b"ana:not-her-password").decode()
        async with http.get(served.url + "/metrics", headers={"Authorization": f"Basic {wrong}"}) as r:
            assert r.status == 401
        right = base64.b64encode(f"vic:{PASSWORDS['vic']}".encode()).decode()
        async with http.get(served.url + "/metrics", headers={"Authorization": f"Basic {right}"}) as r:
            assert r.status == 200 and "brandbot_" in await r.text()
        await login(http, served.url, "vic")
        async with http.get(served.url + "/metrics") as r:
            assert r.status == 200


async def test_a_wrong_password_or_unknown_name_is_refused_alike(served: Served) -> None:
    async with client() as http:
        async with http.get(served.url + "/login") as r:
            token = csrf_in(await r.text())
        for name, password in (("ana", "wrong-password!"), ("nobody", PASSWORDS["ana"])):
            async with http.post(served.url + "/login", data={"csrf": token, "name": name, "password": password},
                                 allow_redirects=False) as r:
                assert r.status == 401
                assert "Wrong name or password." in await r.text()
        async with http.get(served.url + "/", allow_redirects=False) as r:
            assert r.status == 303


async def test_guessing_a_password_locks_the_name_for_a_while(served: Served) -> None:
    limit = served.ui.throttle.limit
    async with client() as http:
        async with http.get(served.url + "/login") as r:
            token = csrf_in(await r.text())

        async def attempt(password: str) -> int:
            async with http.post(served.url + "/login", data={"csrf": token, "name": "kim", "password": password},
                                 allow_redirects=False) as r:
                return r.status

        assert [await attempt(f"guess-{i}") for i in range(limit)] == [401] * limit
        assert await attempt(PASSWORDS["kim"]) == 429  # the right password, too late
        right = base64.b64encode(f"kim:{PASSWORDS['kim']}".encode()).decode()
        async with http.get(served.url + "/metrics", headers={"Authorization": f"Basic {right}"}) as r:
            assert r.status == 401  # basic auth shares the lock
        async with http.get(served.url + "/", allow_redirects=False) as r:
            assert r.status == 303
    async with client() as http:
        await login(http, served.url, "ana")  # other names are not affected


async def test_the_login_form_itself_needs_its_csrf_token(served: Served) -> None:
    async with client() as http:
        async with http.post(served.url + "/login", data={"name": "ana", "password": PASSWORDS["ana"]},
                             allow_redirects=False) as r:
            assert r.status == 403
        async with http.get(served.url + "/", allow_redirects=False) as r:
            assert r.status == 303  # not logged in


async def test_actions_without_the_sessions_csrf_token_are_refused(served: Served) -> None:
    async with client() as http, client() as other:
        token = await login(http, served.url, "ana")
        foreign = await login(other, served.url, "bo")  # a valid token, of another session
        assert token != foreign
        for data in ({"tags": "csrf1"}, {"tags": "csrf1", "csrf": ""}, {"tags": "csrf1", "csrf": foreign},
                     {"tags": "csrf1", "csrf": token[:-1] + ("0" if token[-1] != "0" else "1")}):
            async with http.post(served.url + "/people/2/tag", data=data, allow_redirects=False) as r:
                assert r.status == 403
        follower = await served.harness.bot.people.get(2)
        assert follower is not None and "csrf1" not in follower.tags
        async with http.post(served.url + "/people/2/tag", data={"tags": "csrf1", "csrf": token},
                             allow_redirects=False) as r:
            assert r.status == 303
        follower = await served.harness.bot.people.get(2)
        assert follower is not None and "csrf1" in follower.tags


async def test_a_viewer_sees_the_pages_but_cannot_act(served: Served) -> None:
    await say(served.harness, "telegram", "direct", "vera", "a real person please")
    await served.harness.bot.store.flush()
    async with client() as http:
        token = await login(http, served.url, "vic")
        for path in PAGES:
            if path == "/inbox/stream":
                continue
            async with http.get(served.url + path, allow_redirects=False) as r:
                assert r.status == 200, path
        async with http.get(served.url + "/inbox") as r:
            html = await r.text()
        assert "telegram:dm:vera" in html and "/inbox/answer" not in html  # the list, without the forms
        async with http.get(served.url + "/people/1") as r:
            assert "/people/1/tag" not in await r.text()
        forms = {"/people/1/tag": {"tags": "viewer"}, "/people/1/points": {"points": "5", "reason": "x"},
                 "/people/1/export": {}, "/people/1/forget": {"confirm": "1"},
                 "/inbox/answer": {"target": "telegram:dm:vera", "text": "hi"},
                 "/inbox/assign": {"target": "telegram:dm:vera", "to": "vic"},
                 "/inbox/release": {"target": "telegram:dm:vera"}}
        for path, data in forms.items():
            async with http.post(served.url + path, data={**data, "csrf": token}, allow_redirects=False) as r:
                assert r.status == 403, path
                assert "read-only" in await r.text()
    follower = await served.harness.bot.people.get(1)
    assert follower is not None and "viewer" not in follower.tags
    assert any(h.target == "telegram:dm:vera" for h in await _handoffs(served))
    assert not [line for line in await served.ui.audit.latest() if line.user == "vic" and line.action != "login"]


async def _handoffs(served: Served):  # type: ignore[no-untyped-def]
    from brandbot.web.inbox import open_handoffs

    return await open_handoffs(served.harness.bot)


async def test_names_made_of_html_are_text_on_every_page(served: Served) -> None:
    mal = await served.harness.bot.people.find("telegram:mal")
    assert mal is not None and mal.name == EVIL
    await say(served.harness, "telegram", "direct", "mal", f"human {EVIL}")  # in the inbox too, words and all
    await served.harness.bot.store.flush()
    async with client() as http:
        await login(http, served.url, "ana")
        for path in ("/people?q=mal", f"/people/{mal.id}", f"/people/{mal.id}/forget", "/inbox", "/inbox/list"):
            async with http.get(served.url + path) as r:
                html = await r.text()
            assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in html, path
            assert "<script>alert" not in html and "<img src=x" not in html, path
            assert not re.search(r"<script(?! src=\"/static/)", html), path
            assert "script-src 'self'" in r.headers["Content-Security-Policy"]


async def test_a_forged_or_logged_out_cookie_opens_nothing(served: Served) -> None:
    async with client() as http:
        await login(http, served.url, "ana")
        cookie = http.cookie_jar.filter_cookies(URL(served.url))[COOKIE].value
        async with http.get(served.url + "/people") as r:
            token = csrf_in(await r.text())
        async with http.post(served.url + "/logout", data={"csrf": token}, allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/login"
    for value in (cookie, cookie[:-2] + "xx", served.ui.codec.dump(served.ui.codec.fresh("ana"))[:-4] + "abcd"):
        async with client() as http:
            http.cookie_jar.update_cookies({COOKIE: value})
            async with http.get(served.url + "/people", allow_redirects=False) as r:
                assert r.status == 303, value  # revoked at logout, or tampered with


async def test_login_only_returns_to_this_site(served: Served) -> None:
    async with client() as http:
        async with http.get(served.url + "/login?next=//evil.example/x") as r:
            html = await r.text()
        token = csrf_in(html)
        assert 'name="next" value="/"' in html
        async with http.post(served.url + "/login", data={"csrf": token, "name": "ana", "password": PASSWORDS["ana"],
                                                           "next": "https://evil.example/"},
                             allow_redirects=False) as r:
            assert r.headers["Location"] == "/"


async def test_the_audit_log_records_every_staff_action(served: Served) -> None:
    bot = served.harness.bot
    fan = await bot.people.find("telegram:fan1")
    gone = await bot.people.find("telegram:follower3")
    assert fan is not None and gone is not None

    async def by_bo() -> list[tuple[str, str, str]]:
        """Bo's lines, oldest first."""
        return [(line.action, line.target, line.detail) for line in await served.ui.audit.latest()
                if line.user == "bo"][::-1]

    await next_hour(served.harness)
    await say(served.harness, "telegram", "direct", "walt", "human")
    earlier = len(await by_bo())
    async with client() as http:
        token = await login(http, served.url, "bo")

        async def post(path: str, **data: str) -> int:
            async with http.post(served.url + path, data={**data, "csrf": token}, allow_redirects=False) as r:
                await r.read()
                return r.status

        assert await post(f"/people/{fan.id}/tag", tags="press -nothing") == 303
        assert await post(f"/people/{fan.id}/points", points="25", reason="helped at the launch") == 303
        assert await post(f"/people/{fan.id}/export") == 200
        assert await post(f"/people/{gone.id}/forget", confirm="999") == 400  # wrong number: nothing happens
        assert await post(f"/people/{gone.id}/forget", confirm=str(gone.id)) == 303
        assert await post("/inbox/assign", target="telegram:dm:walt", to="ana") == 303
        assert await post("/inbox/answer", target="telegram:dm:walt", text="Hello Walt, Bo here.") == 303
        assert await post("/inbox/release", target="telegram:dm:walt") == 303
        async with http.post(served.url + "/logout", data={"csrf": token}, allow_redirects=False) as r:
            assert r.status == 303
    assert (await by_bo())[earlier:] == [
        ("login", "web UI", "127.0.0.1"),
        ("tag", f"follower {fan.id}", "+press -nothing"),
        ("points", f"follower {fan.id}", "+25 (helped at the launch)"),
        ("export", f"follower {fan.id}", ""),
        ("forget", f"follower {gone.id}", ""),
        ("assign", "telegram:dm:walt", "to ana"),
        ("answer", "telegram:dm:walt", "allow: ok"),
        ("release", "telegram:dm:walt", ""),
        ("logout", "web UI", ""),
    ]
    assert await bot.people.get(gone.id) is None
    async with client() as http:
        await login(http, served.url, "vic")
        async with http.get(served.url + "/audit") as r:
            html = await r.text()
        assert "helped at the launch" in html and "telegram:dm:walt" in html
