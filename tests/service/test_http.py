"""The HTTP face under bad input, without the token, and when its queue is full: a clear 4xx,
counted in /metrics, and the server keeps serving."""

from __future__ import annotations

import json
import os
import re

import pytest

from logad.cli import main
from tests.service.conftest import all_alarms, send_file

GOOD = "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_1 terminating"


def _metric(text: str, name: str, **labels) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:]+)(\{[^}]*\})? (\S+)$", line)
        if m and m.group(1) == name:
            got = ",".join(sorted((m.group(2) or "{}").strip("{}").split(","))) if m.group(2) else ""
            if got == want:
                return float(m.group(3))
    return 0.0


def test_bad_input_gets_a_clear_4xx_is_counted_and_never_crashes(data, serve):
    r, client = serve(data["models"]["session"])
    text = {"content-type": "text/plain"}
    cases = [
        ("malformed", 400, dict(content=b'{"line": "a"}\n{not json\n', headers={"content-type": "application/x-ndjson"})),
        ("malformed", 400, dict(content=b'{"text": "no line field"}\n', headers={"content-type": "application/x-ndjson"})),
        ("malformed", 400, dict(content=b'["a list"]\n', headers={"content-type": "application/x-ndjson"})),
        ("not_in_format", 422, dict(content=b"20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579\n", headers=text)),
        ("empty", 400, dict(content=b"", headers=text)),
        ("empty", 400, dict(content=b"\n\n  \n", headers=text)),
        ("binary", 400, dict(content=os.urandom(4096).replace(b"\n", b"") + b"\x00" * 100, headers=text)),
        ("too_large", 413, dict(content=b"x" * (10 * 1024 * 1024), headers=text)),
        ("content_type", 415, dict(content=GOOD.encode(), headers={"content-type": "application/pdf"})),
    ]
    for reason, status, kw in cases:
        resp = client.post("/v1/lines", **kw)
        assert resp.status_code == status, (reason, resp.text)
        body = resp.json()
        assert body["reason"] == reason and body["error"]  # a sentence saying what was wrong
    # a 10 MB line sent in chunks (no Content-Length) is refused as well
    chunks = (b"y" * (1024 * 1024) for _ in range(10))
    assert client.post("/v1/lines", content=chunks, headers=text).status_code == 413
    # one line of another format among good ones: nothing accepted, the line named
    resp = client.post("/v1/lines", content=f"{GOOD}\nnot a log line at all\n{GOOD}\n", headers=text)
    assert resp.status_code == 422 and resp.json()["lines"] == [2]
    # ... unless the sender asks to skip such lines
    resp = client.post("/v1/lines", params={"on_error": "skip"}, content=f"{GOOD}\nnot a log line\n{GOOD}\n",
                       headers=text)
    assert resp.status_code == 200 and resp.json()["skipped"] == {"not_in_format": 1}
    assert resp.json()["first_offset"] == 1 and resp.json()["last_offset"] == 3  # the skipped line keeps its offset
    metrics = client.get("/metrics").text
    for reason, n in (("malformed", 3), ("not_in_format", 2), ("empty", 2), ("binary", 1), ("too_large", 2),
                      ("content_type", 1)):
        assert _metric(metrics, "logad_requests_rejected_total", reason=reason) == n, reason
    assert _metric(metrics, "logad_lines_rejected_total", reason="not_in_format") == 2
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.post("/v1/lines", content=GOOD + "\n", headers=text).status_code == 200
    assert client.post("/v1/flush").json()["flushed"] is True
    metrics = client.get("/metrics").text
    assert _metric(metrics, "logad_lines_received_total") == 4
    assert _metric(metrics, "logad_lines_skipped_total", reason="not_in_format") == 1


def test_invalid_utf8_long_lines_and_crlf_are_read_as_detect_reads_them(data, serve, tmp_path):
    from tests.service.conftest import as_tuples, detect_alarms

    model = data["models"]["session"]
    lines = data["hdfs_new"].read_bytes().split(b"\n")[:-1]
    lines[3] = lines[3] + b" \xff\xfe broken bytes"
    lines[5] = lines[5] + b" " + b"z" * 70_000  # longer than logad detect reads: cut, the same way
    lines[7] = lines[7] + b"\r"
    path = tmp_path / "odd.log"
    path.write_bytes(b"\n".join(lines) + b"\n")
    expected = detect_alarms(model, [path], tmp_path / "d.csv")
    r, client = serve(model)
    resp = client.post("/v1/lines", content=path.read_bytes(), headers={"content-type": "text/plain"})
    assert resp.status_code == 200 and resp.json()["invalid_utf8_lines"] == 1 and resp.json()["truncated_lines"] == 1
    client.post("/v1/flush")
    assert as_tuples(all_alarms(client, kind="sequence")) == expected


def test_token_required(data, serve, tmp_path):
    token = tmp_path / "token"
    token.write_text("s3cret-token-of-some-length\n")
    r, client = serve(data["models"]["session"], token_file=str(token))
    assert client.get("/healthz").status_code == 200  # liveness probes need no token
    for method, path in (("get", "/v1/alarms"), ("get", "/metrics"), ("post", "/v1/lines"), ("post", "/v1/flush")):
        resp = getattr(client, method)(path)
        assert resp.status_code == 401 and resp.headers["www-authenticate"].startswith("Bearer")
    wrong = client.get("/v1/alarms", headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401
    ok = client.post("/v1/lines", content=GOOD + "\n",
                     headers={"authorization": "Bearer s3cret-token-of-some-length", "content-type": "text/plain"})
    assert ok.status_code == 200
    assert "logad_requests_rejected_total" in client.get(
        "/metrics", headers={"authorization": "Bearer s3cret-token-of-some-length"}).text


def test_other_addresses_need_a_token(data, tmp_path, capsys):
    rc = main(["serve", "--model", str(data["models"]["session"]), "--state-dir", str(tmp_path / "s"),
               "--host", "0.0.0.0", "--port", "0"])
    assert rc == 2
    assert "--token-file" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()  # refused before anything was made


def test_backpressure_429_with_retry_after(data, serve):
    r, client = serve(data["models"]["session"], max_queue_lines=500)
    r.service.processing.clear()  # the processor waits: accepted lines pile up
    lines = data["hdfs_new"].read_text().split("\n")[:-1]
    body = ("\n".join(lines[:400]) + "\n").encode()
    assert client.post("/v1/lines", content=body, headers={"content-type": "text/plain"}).status_code == 200
    resp = client.post("/v1/lines", content=body, headers={"content-type": "text/plain"})
    assert resp.status_code == 429 and int(resp.headers["retry-after"]) >= 1
    assert resp.json()["reason"] == "queue_full"
    assert client.get("/healthz").json()["queue_lines"] == 400
    assert "logad_queue_depth 400.0" in client.get("/metrics").text
    r.service.processing.set()
    for _ in range(200):
        if client.get("/healthz").json()["queue_lines"] == 0:
            break
        import time

        time.sleep(0.02)
    assert client.post("/v1/lines", content=body, headers={"content-type": "text/plain"}).status_code == 200


def test_state_of_another_model_is_refused(data, tmp_path):
    from logad.errors import InputError
    from logad.service import ServeConfig, start_in_thread

    state = tmp_path / "state"
    r = start_in_thread(ServeConfig(model=str(data["models"]["session"]), state_dir=str(state), port=0))
    r.stop()
    with pytest.raises(InputError, match="another model"):
        start_in_thread(ServeConfig(model=str(data["models"]["count"]), state_dir=str(state), port=0))
    # the same model resumes it; a second server on a state in use is refused
    r = start_in_thread(ServeConfig(model=str(data["models"]["session"]), state_dir=str(state), port=0))
    try:
        with pytest.raises(InputError, match="in use"):
            start_in_thread(ServeConfig(model=str(data["models"]["session"]), state_dir=str(state), port=0))
    finally:
        r.stop()


def test_config_file_same_options_unknown_keys_refused(data, tmp_path, capsys):
    cfg = tmp_path / "serve.toml"
    cfg.write_text(f'model = "{data["models"]["session"]}"\nstate_dir = "{tmp_path / "s"}"\nmax_queue_lines = 10\n'
                   'host = "0.0.0.0"\n')
    assert main(["serve", "--config", str(cfg)]) == 2
    assert "--token-file" in capsys.readouterr().err  # the file's options were read
    cfg.write_text(f'model = "{data["models"]["session"]}"\nstate_dir = "{tmp_path / "s"}"\nmax_queue_line = 10\n')
    assert main(["serve", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'max_queue_line'" in err and "max_queue_lines" in err


def test_flush_summary_and_status(data, serve):
    r, client = serve(data["models"]["session"])
    n = send_file(client, data["hdfs_new"])
    f = client.post("/v1/flush").json()
    assert f["stream"] == 0 and f["sequences_closed"] == 80 and f["offset"] == n
    s = client.get("/v1/status").json()
    assert s["stream"] == 1 and s["processed"]["offset"] == n and s["queue"]["lines"] == 0
    assert s["counters"]["alarms_sequence"] == f["alarms"] == len(all_alarms(client, kind="sequence"))
    assert json.loads(client.get("/healthz").text)["processed_offset"] == n
