"""The reports in a real browser: headless Chromium (Debian's, driven by Playwright through
`executable_path`; no browser download). Every page opens with no console error and no request
leaving it, every figure rendered with data, a click on an alarm opens its lines; screenshots are
saved in the test's temporary folder. Skipped where no browser can be had."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from logad.report import build_report
from tests.browser import chromium_context


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium_context(tmp_path_factory, "chromium-profile", viewport={"width": 1200, "height": 900}) as ctx:
        yield ctx


def open_page(browser, path: Path):
    page = browser.new_page()
    problems: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on("request", lambda r: requests.append(r.url))
    t0 = time.perf_counter()
    page.goto(path.resolve().as_uri(), wait_until="load")
    seconds = time.perf_counter() - t0
    assert page.evaluate("document.documentElement.dataset.ready") == "1"  # the page's script ran to its end
    return page, problems, requests, seconds


def figures_of(page) -> list[dict]:
    return page.evaluate("""Array.from(document.querySelectorAll('svg.fig')).map(s => {
        const r = s.getBoundingClientRect();
        return {kind: s.dataset.figure, marks: +s.dataset.marks, drawn: s.querySelectorAll('.mark').length,
                w: r.width, h: r.height};
    })""")


def check(browser, path: Path, tmp_path: Path, expect: set[str]):
    page, problems, requests, seconds = open_page(browser, path)
    figs = figures_of(page)
    kinds = {f["kind"] for f in figs}
    assert expect <= kinds, f"missing figures {expect - kinds} in {path.name}"
    for f in figs:
        if f["kind"] in expect:
            assert f["marks"] > 0 and f["drawn"] > 0 and f["w"] > 50 and f["h"] > 10, f
    assert problems == [], problems
    assert all(u.startswith("file:") for u in requests), requests
    page.screenshot(path=str(tmp_path / f"{path.stem}.png"), full_page=True)
    assert (tmp_path / f"{path.stem}.png").stat().st_size > 10_000
    return page, seconds


def test_evaluate_report_renders(browser, runs, tmp_path):
    page, _ = check(browser, runs["evaluate_html"], tmp_path, {"histogram", "roc", "pr"})
    # a folded mistake opens on click and shows its lines
    summary = page.locator("details.item summary").nth(1)
    summary.click()
    assert page.locator("details.item").nth(1).evaluate("d => d.open") is True
    assert page.locator("details.item").nth(1).locator("table.lines tbody tr").count() > 0
    page.close()


def test_detect_report_renders_and_an_alarm_opens_from_the_timeline(browser, runs, tmp_path):
    page, seconds = check(browser, runs["detect_html"], tmp_path, {"timeline", "heatmap", "sparkline"})
    assert seconds < 3
    link = page.locator('svg[data-figure="timeline"] a[href="#alarm-0"]')  # the highest score, drawn on top
    target = link.get_attribute("href")[1:]
    if target == "alarm-0":  # the first is open from the start; close it to see the click open it
        page.evaluate("document.getElementById('alarm-0').open = false")
    link.click()
    assert page.evaluate(f"document.getElementById('{target}').open") is True
    assert page.locator(f"#{target} table.lines tbody tr").count() > 0
    # sorting the alarm table by score puts the highest first
    page.locator("#alarm-table th", has_text="score").click()
    page.locator("#alarm-table th", has_text="score").click()
    scores = page.locator("#alarm-table tbody tr td:nth-child(3)").evaluate_all("tds => tds.map(t => +t.dataset.v)")
    assert scores == sorted(scores, reverse=True)
    page.close()


def test_parse_tune_and_transfer_reports_render(browser, runs, tmp_path):
    for src, expect in ((runs["parse_csv"], {"discovery", "heatmap"}), (runs["tune_dir"], {"scatter", "learning"}),
                        (runs["oracle_json"], {"bars", "training"})):
        kind, html = build_report(src)
        out = tmp_path / f"{kind}.html"
        out.write_text(html)
        page, _ = check(browser, out, tmp_path, expect)
        if kind == "transfer":
            assert page.locator(".banner.oracle").count() >= 1
        page.close()


def test_printing_opens_every_folded_section(browser, runs, tmp_path):
    page, _, _, _ = open_page(browser, runs["evaluate_html"])
    page.emulate_media(media="print")
    page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    assert page.evaluate("Array.from(document.querySelectorAll('details')).every(d => d.open)")
    pdf = page.pdf(path=str(tmp_path / "evaluate.pdf"))
    assert len(pdf) > 10_000
    page.close()
