"""The live dashboard in a real browser: headless Chromium (Debian's, through Playwright's
`executable_path`; no browser download) against a service on 127.0.0.1. The page opens with no
console error and no request leaving the service's origin, every figure is drawn with data, an
alarm sent while the page is open appears in the feed, a click opens it (its blamed lines marked),
a feedback button stores the verdict (read back through the API). With a bearer token the page
shows nothing and asks the service nothing until the token is given. Screenshots are saved in the
test's temporary folder. Every wait is bounded (Playwright's timeouts, the HTTP client's), so a
hang fails the test; skipped where no browser can be had."""

from __future__ import annotations

import pytest

from tests.browser import chromium_context

from .conftest import hdfs_lines, send_file, serve_with_token

TOKEN = "browser-token-of-some-length"
WAIT_MS = 20_000


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium_context(tmp_path_factory, "chromium-profile-dashboard", viewport={"width": 1400, "height": 1000},
                          timeout=60_000) as ctx:
        ctx.set_default_timeout(WAIT_MS)
        ctx.set_default_navigation_timeout(WAIT_MS)
        yield ctx


def watch(page):
    problems: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on("request", lambda r: requests.append(r.url))
    return problems, requests


def figures_of(page) -> list[dict]:
    return page.evaluate("""Array.from(document.querySelectorAll('svg.fig')).map(s => {
        const r = s.getBoundingClientRect();
        return {kind: s.dataset.figure, marks: +s.dataset.marks, drawn: s.querySelectorAll('.mark').length,
                w: r.width, h: r.height};
    })""")


def test_dashboard_live_feed_alarm_and_feedback(browser, data, serve, tmp_path):
    r, client = serve(data["models"]["session"])
    send_file(client, data["hdfs_new"], batch=150)
    assert client.post("/v1/flush").json()["flushed"] is True
    page = browser.new_page()
    problems, requests = watch(page)
    page.goto(r.url + "/", wait_until="load")
    page.wait_for_selector('#dash[data-live="1"]')
    page.wait_for_selector('svg[data-figure="rate"]')  # the rate needs two samples, a second apart
    figs = figures_of(page)
    kinds = {f["kind"] for f in figs}
    assert {"timeline", "heatmap", "rate", "queue", "sparkline"} <= kinds, kinds
    for f in figs:
        assert f["marks"] > 0 and f["drawn"] > 0 and f["w"] > 50 and f["h"] > 10, f
    before = page.locator("li.alarm-row").count()
    assert before > 0
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

    # lines sent while the page is open: their alarms appear in the feed without a reload
    more = tmp_path / "more.log"
    more.write_text("\n".join(hdfs_lines(40, 7, anomalous=0.5, start=9000, t0=90000)) + "\n")
    send_file(client, more, batch=100)
    client.post("/v1/flush")
    n_alarms = len(client.get("/v1/alarms", params={"limit": 1000}).json()["alarms"])
    assert n_alarms > before
    page.wait_for_selector(f"#feed li.alarm-row:nth-child({n_alarms})")
    assert page.locator("li.alarm-row").count() == n_alarms

    # an alarm of a sequence opens to its lines, the blamed ones marked, and its explanation
    row = page.locator("li.alarm-row:not(.new-tpl)").first
    aid = int(row.get_attribute("data-id"))
    row.click()
    page.wait_for_selector(f'#detail .alarm-detail[data-id="{aid}"]')
    assert page.locator("#detail table.lines tbody tr").count() > 0
    assert page.locator("#detail table.lines tr.blamed").count() > 0
    assert page.locator("#detail h3", has_text="Why").count() == 1
    page.locator("#detail button.fb.fp").click()
    page.wait_for_selector('#detail .verdict[data-verdict="false_positive"]')
    assert "false positive" in page.locator("#detail .verdict").inner_text()
    assert client.get(f"/v1/alarms/{aid}").json()["feedback"]["verdict"] == "false_positive"
    page.wait_for_selector(f'li.alarm-row[data-id="{aid}"] .verdict-tag.false_positive')
    # a red dot of the timeline opens its alarm too
    dot = page.locator('svg[data-figure="timeline"] a[href^="#alarm-"]').last  # drawn last: on top
    target = int(dot.get_attribute("href").split("-")[1])
    dot.click()
    page.wait_for_selector(f'#detail .alarm-detail[data-id="{target}"]')
    page.screenshot(path=str(tmp_path / "dashboard-alarm.png"), full_page=True)
    assert (tmp_path / "dashboard.png").stat().st_size > 20_000

    origin = r.url
    assert problems == [], problems
    assert requests and all(u.startswith(origin + "/") or u.startswith("data:") for u in requests), requests
    assert any("/v1/alarms?after=" in u and "wait=" in u for u in requests)  # the feed long-polls
    page.close()


def test_dashboard_with_a_token_asks_for_it_and_keeps_it_in_the_tab(browser, data, serve, tmp_path):
    r, client, auth = serve_with_token(serve, data["models"]["session"], data["hdfs_new"], tmp_path, TOKEN)
    page = browser.new_page()
    problems, requests = watch(page)
    page.goto(r.url + "/", wait_until="load")
    page.wait_for_selector("#login:not([hidden])")
    assert page.locator("#panels").is_hidden() and page.locator("svg.fig").count() == 0
    assert requests == [r.url + "/"]  # nothing asked of the service before the token
    page.fill("#token-input", "a-wrong-token-of-some-length")
    page.click("#token-submit")
    page.wait_for_selector("#login:not([hidden])")
    page.locator("#login-msg", has_text="refused").wait_for()
    page.fill("#token-input", TOKEN)
    page.click("#token-submit")
    page.wait_for_selector('#dash[data-live="1"]')
    page.wait_for_selector("li.alarm-row")
    assert page.locator("svg.fig").count() > 0
    assert page.evaluate("sessionStorage.getItem('logad-serve-token')") == TOKEN
    page.reload(wait_until="load")  # the tab keeps it: no second prompt
    page.wait_for_selector('#dash[data-live="1"]')
    assert page.locator("#login").is_hidden()
    page.screenshot(path=str(tmp_path / "dashboard-token.png"), full_page=True)
    # only the wrong token's refusals were errors
    assert all("401" in p for p in problems), problems
    page.close()
