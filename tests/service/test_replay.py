"""Replaying a file through the service gives exactly `logad detect`'s alarms on that file, for
every grouping (session, session with timeout, entity, count, time), over HTTP."""

from __future__ import annotations

import json

import pytest

from tests.service.conftest import all_alarms, as_tuples, detect_alarms, send_file


@pytest.mark.parametrize("grouping", ["session", "session_timeout", "entity", "count", "time"])
def test_replay_equals_detect(data, serve, tmp_path, grouping):
    model, logs = data["models"][grouping], data["logs"][grouping]
    expected = detect_alarms(model, [logs], tmp_path / "detect.csv")
    assert len(expected) >= 3, "the new logs must hold anomalies for this test to mean something"
    r, client = serve(model)
    n = send_file(client, logs, batch=137)  # batch boundaries fall anywhere in windows and sessions
    flushed = client.post("/v1/flush").json()
    assert flushed["flushed"] is True
    alarms = all_alarms(client, kind="sequence")
    assert as_tuples(alarms) == expected
    assert {a["stream"] for a in alarms} == {0} and flushed["stream"] == 0
    assert len({a["sequence_id"] for a in alarms}) == len(alarms)  # none twice
    status = client.get("/v1/status").json()
    assert status["counters"]["lines"] == n and status["journal"]["lines"] == n
    # every alarm shows its lines, their templates, and says which it blames
    a = alarms[0]
    assert a["lines"] and all(ln["text"] and ln["template"] for ln in a["lines"])
    assert a["score"] > a["threshold"] and a["detector"] == "knn"
    text = logs.read_text().split("\n")
    assert all(text[ln["offset"] - 1] == ln["text"] for ln in a["lines"])  # offsets are the file's line numbers
    assert a["explanation"] and a["blame"] == "explanation"


def test_replay_of_two_files_in_one_stream_and_ndjson_sources(data, serve, tmp_path):
    """Two files sent one after the other (NDJSON, each line naming its file) are one stream, as
    `logad detect a b` reads them; the alarms name their sources."""
    model = data["models"]["session"]
    a, b = data["hdfs_new"], data["dir"] / "second.log"
    from tests.service.conftest import hdfs_lines, write

    write(b, hdfs_lines(30, 9, anomalous=0.3, start=9000, t0=90000))
    expected = detect_alarms(model, [a, b], tmp_path / "detect.csv")
    r, client = serve(model)
    for path in (a, b):
        lines = path.read_text().split("\n")[:-1]
        for i in range(0, len(lines), 250):
            body = "\n".join(json.dumps({"line": ln, "source": str(path)}) for ln in lines[i:i + 250])
            resp = client.post("/v1/lines", content=body, headers={"content-type": "application/x-ndjson"})
            assert resp.status_code == 200, resp.text
    client.post("/v1/flush")
    alarms = all_alarms(client, kind="sequence")
    assert as_tuples(alarms) == expected
    only_b = all_alarms(client, kind="sequence", source=str(b))
    assert only_b and all(str(b) in x["sources"] for x in only_b)
    assert len(only_b) < len(alarms)


def test_new_template_alarm_once_per_template(data, serve):
    r, client = serve(data["models"]["session"])
    line = "081109 203615 148 INFO dfs.DataNode: totally new event {} for blk_77 happened"
    body = "\n".join(line.format(i) for i in range(5)) + "\n"
    assert client.post("/v1/lines", content=body, headers={"content-type": "text/plain"}).status_code == 200
    client.post("/v1/flush")
    new = all_alarms(client, kind="new_template")
    assert len(new) == 1  # five lines, one new template
    assert new[0]["lines"][0]["text"].endswith("event 0 for blk_77 happened") and new[0]["first_offset"] == 1
    metrics = client.get("/metrics").text
    assert 'logad_alarms_total{kind="new_template"} 1.0' in metrics
    assert "logad_lines_unmatched_total 5.0" in metrics


def test_paging_filters_and_feedback(data, serve):
    r, client = serve(data["models"]["session"])
    send_file(client, data["hdfs_new"])
    client.post("/v1/flush")
    everything = all_alarms(client)
    page = client.get("/v1/alarms", params={"limit": 2}).json()
    assert len(page["alarms"]) == 2 and page["next"] == str(page["alarms"][-1]["id"])
    nxt = client.get("/v1/alarms", params={"limit": 2, "after": page["next"]}).json()
    assert nxt["alarms"][0]["id"] > page["alarms"][-1]["id"]
    scores = sorted(a["score"] for a in everything if a["kind"] == "sequence")
    cut = scores[len(scores) // 2]
    high = all_alarms(client, min_score=cut)
    assert high and all(a["score"] >= cut for a in high) and len(high) < len(everything)
    late = max(a["end_time"] for a in everything)
    assert all(a["end_time"] >= late for a in all_alarms(client, since=late))
    assert client.get("/v1/alarms", params={"since": "not a time"}).status_code == 400
    aid = everything[0]["id"]
    fb = client.post(f"/v1/alarms/{aid}/feedback", json={"verdict": "false_positive", "note": "maintenance"})
    assert fb.status_code == 200 and fb.json()["feedback"]["verdict"] == "false_positive"
    assert client.get(f"/v1/alarms/{aid}").json()["feedback"]["note"] == "maintenance"
    assert client.post(f"/v1/alarms/{aid}/feedback", json={"verdict": "maybe"}).status_code == 422
    assert client.post("/v1/alarms/999999/feedback", json={"verdict": "tp"}).status_code == 404
    assert client.get("/v1/alarms/999999").status_code == 404
    assert client.get("/v1/status").json()["feedback"] == {"false_positive": 1}
    # a live view waits for the next alarm instead of polling fast
    last = everything[-1]["id"]
    import time

    t0 = time.monotonic()
    assert client.get("/v1/alarms", params={"after": last, "wait": 0.3}).json() == {"alarms": [], "next": None}
    assert time.monotonic() - t0 >= 0.25
    templates = client.get("/v1/templates").json()["templates"]
    assert templates and {"id", "text"} <= set(templates[0])


def test_replay_equals_detect_with_a_deep_detector(data, serve, tmp_path):
    """A deep model (deeplog) online: sequences scored a few at a time as they close give the
    scores `logad detect` gives them all at once."""
    from tests.conftest import needs_torch
    from tests.service.conftest import train

    needs_torch()
    model = train(data["hdfs_train"], "hdfs", tmp_path / "m_deeplog", "--session-timeout", "3", "--param", "epochs=2",
                  "--param", "hidden=16", "--param", "embed_dim=8", detector="deeplog", q=0.8)
    expected = detect_alarms(model, [data["hdfs_new"]], tmp_path / "detect.csv")
    assert expected
    r, client = serve(model)
    send_file(client, data["hdfs_new"], batch=97)
    client.post("/v1/flush")
    alarms = all_alarms(client, kind="sequence")
    assert as_tuples(alarms) == expected
    assert alarms[0]["detector"] == "deeplog" and alarms[0]["explanation"]
