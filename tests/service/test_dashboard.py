"""The dashboard's pages and the endpoints behind them, without a browser (test_dashboard_browser.py
opens it in one): what they show equals what was processed, nothing leaks without the token, and
the summaries survive a restart."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from logad.service.rollup import Rollup

from .conftest import all_alarms, send_file, serve_with_token

TOKEN = "dashboard-token-of-some-length"


def expected_counts(model_dir, path):
    """Lines per template id of a file, as the service's parser reads them."""
    from logad.model import TrainedModel
    from logad.service.lines import LineParser

    lp = LineParser(TrainedModel.load(model_dir))
    lines = path.read_text().split("\n")[:-1]
    s = lp.split(lines)
    lp.events(s, 1, ["x"] * len(lines))
    return Counter(s.template_ids), s


def wait_for_rates(client, headers=None, timeout=10.0):
    """Until the rate history holds a rate (two samples, a second apart)."""
    import time

    deadline = time.monotonic() + timeout
    while not client.get("/v1/rates", headers=headers).json()["time"]:
        assert time.monotonic() < deadline, "no rate sample"
        time.sleep(0.2)


def test_timeline_and_templates_count_what_was_processed(data, serve):
    model, log = data["models"]["session"], data["hdfs_new"]
    r, client = serve(model)
    send_file(client, log, batch=97)
    assert client.post("/v1/flush").json()["flushed"] is True
    want, split = expected_counts(model, log)
    tv = client.get("/v1/templates").json()
    got = {t["id"]: t["lines"] for t in tv["templates"] if t["lines"]}
    if tv["unmatched"]["lines"]:
        got[0] = tv["unmatched"]["lines"]
    assert got == dict(want)
    assert tv["lines"] == split.records
    busiest = max((t for t in tv["templates"]), key=lambda t: t["lines"])
    assert busiest["examples"] and busiest["first_time"] <= busiest["last_time"]
    assert any(p["top"] for p in busiest["parameters"])  # values were sampled
    tl = client.get("/v1/timeline", params={"buckets": 20, "top": 100}).json()
    assert len(tl["edges"]) - 1 == len(tl["lines"]) <= 20
    assert sum(tl["lines"]) == sum(1 for t in split.timestamp if t is not None)
    per = {t["id"]: sum(t["counts"]) for t in tl["templates"]}
    assert per == dict(want)  # every line has a time here
    assert sum(tl["sequences"]) == r.service.engine.counters["sequences"]
    alarms = all_alarms(client)
    assert sum(tl["alarms"]) == len(alarms) and len(tl["alarm_points"]) == len(alarms)
    seq = [a for a in alarms if a["kind"] == "sequence"]
    best = max(s for s in tl["max_scores"] if s is not None)
    assert seq and best == pytest.approx(max(a["score"] for a in seq))
    assert client.get("/v1/timeline", params={"buckets": "x"}).status_code == 400
    rates = client.get("/v1/rates", params={"seconds": 60}).json()
    assert set(rates) >= {"time", "received_per_s", "processed_per_s", "queue_lines"}

    # the summaries are checkpointed with the engine: a restart shows the same
    state = r.service.state_dir
    r.stop()
    r2, client2 = serve(model, state)
    assert client2.get("/v1/templates").json()["templates"] == tv["templates"]
    assert client2.get("/v1/timeline", params={"buckets": 20, "top": 100}).json()["templates"] == tl["templates"]


def test_dashboard_page_holds_every_panel_and_asks_for_nothing_outside(data, serve):
    r, client = serve(data["models"]["session"])
    send_file(client, data["hdfs_new"], batch=200)
    client.post("/v1/flush")
    wait_for_rates(client)
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    assert "connect-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-eval" not in csp
    html = page.text
    assert html.count(f'nonce="{nonce}"') == 2 and "<script>" not in html  # both scripts carry the nonce
    for kind in ("timeline", "heatmap", "rate", "queue", "sparkline"):
        assert f'data-figure="{kind}"' in html, kind
    assert 'class="alarm-row' in html and 'id="template-table"' in html
    assert not re.search(r'(src|href|action)="(https?:)?//', html)  # nothing from another host
    assert client.get("/").headers["content-security-policy"] != csp  # a fresh nonce every time
    a = all_alarms(client)[0]
    one = client.get(f"/dashboard/alarms/{a['id']}")
    assert one.status_code == 200 and 'class="feedback"' in one.text and 'table class="lines"' in one.text
    assert client.get("/dashboard/alarms/999999").status_code == 404
    assert client.get("/dashboard/part/nope").status_code == 404
    for part in ("status", "time", "templates", "feed"):
        assert client.get(f"/dashboard/part/{part}").status_code == 200


def test_with_a_token_the_dashboard_shows_nothing_without_it(data, serve, tmp_path):
    r, client, auth = serve_with_token(serve, data["models"]["session"], data["hdfs_new"], tmp_path, TOKEN)
    alarm = client.get("/v1/alarms", headers=auth).json()["alarms"][0]
    page = client.get("/")  # a browser cannot send a header when it opens a page: the shell only
    assert page.status_code == 200 and 'id="login"' in page.text
    shell = page.text
    assert "blk_" not in shell and "<svg" not in shell and 'class="alarm-row' not in shell
    assert "Receiving block" not in shell and "m_session" not in shell and "knn" not in shell
    for path in ("/dashboard/part/status", "/dashboard/part/time", "/dashboard/part/templates", "/dashboard/part/feed",
                 f"/dashboard/alarms/{alarm['id']}", "/v1/templates", "/v1/timeline", "/v1/rates", "/v1/alarms"):
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers={"authorization": "Bearer wrong-token-of-some-length"}).status_code == 401
        assert client.get(path, headers=auth).status_code == 200, path
    assert client.post(f"/v1/alarms/{alarm['id']}/feedback", json={"verdict": "fp"}).status_code == 401
    assert client.get("/dashboard/part/templates", headers=auth).text.count("tpl-") > 3


def test_no_dashboard(data, serve):
    r, client = serve(data["models"]["session"], dashboard=False)
    assert client.get("/").status_code == 404
    assert client.get("/v1/timeline").status_code == 200


def test_rollup_merges_buckets_and_round_trips():
    r = Rollup(width=1.0)
    ids = [1, 2, 1, 3, 0]
    for k in range(3000):  # more seconds than buckets: the width doubles until they fit
        r.add_block(ids, [float(k)] * 4 + [None], ["a 1", "b 2", "a 3", "c", "zz"],
                    lambda c, t: tuple(c.split()[1:]))
    assert r.width == 2.0 and len(r.cells) <= 2048
    assert r.totals == Counter({1: 6000, 2: 3000, 3: 3000, 0: 3000}) and r.untimed == 3000
    assert sum(sum(c.values()) for c in r.cells.values()) == 12000
    assert r.first[1] == 0.0 and r.last[1] == 2999.0 and r.examples[1] == ["a 1"]
    assert r.parameter_summary(1)[0]["top"] == [("1", 3000)]
    r.add_scores([0.5, 10.0, None], [1.0, 7.0, 99.0])
    tl = r.timeline(10)
    assert len(tl["edges"]) == len(tl["lines"]) + 1 <= 11 and sum(tl["lines"]) == 12000
    assert max(s for s in tl["max_scores"] if s is not None) == 7.0 and sum(tl["sequences"]) == 2
    back = Rollup.from_dict(r.to_dict())
    assert back.to_dict() == r.to_dict() and back.timeline(10) == tl
