"""Sources besides HTTP (followed files, stdin) and sinks (webhook, Alertmanager)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.service.conftest import all_alarms, as_tuples, detect_alarms, hdfs_lines


def _until(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _journal_lines(service) -> list[str]:
    return [ln for rec in service.journal.records(0) for ln in rec.lines]


def test_tail_follows_rotation_and_truncation_and_resumes(data, tmp_path):
    from logad.service import ServeConfig, start_in_thread

    lines = hdfs_lines(60, 5, start=3000)
    parts = [lines[:100], lines[100:200], lines[200:260], lines[260:300], lines[300:340]]
    log = tmp_path / "app.log"
    log.write_text("\n".join(parts[0]) + "\n")
    cfg = ServeConfig(model=str(data["models"]["session"]), state_dir=str(tmp_path / "state"), port=0,
                      tail=(str(log),), tail_poll=0.02)
    r = start_in_thread(cfg)
    try:
        j = r.service.journal
        _until(lambda: j.next_offset - 1 == 100, what="the first lines")
        with open(log, "a") as fh:  # appended, the last line unfinished for a while
            fh.write("\n".join(parts[1]) + "\n" + "081109 2036")
        _until(lambda: j.next_offset - 1 == 200, what="appended lines")
        time.sleep(0.1)
        assert j.next_offset - 1 == 200  # a line without its newline waits
        with open(log, "a") as fh:
            fh.write("15 148 INFO dfs.DataNode: the rest of the line blk_1\n")
        _until(lambda: j.next_offset - 1 == 201, what="the completed line")
        os.rename(log, tmp_path / "app.log.1")  # rotation
        log.write_text("\n".join(parts[2]) + "\n")
        _until(lambda: j.next_offset - 1 == 261, what="the new file")
        log.write_text("\n".join(parts[3][:5]) + "\n")  # truncated in place (copytruncate) and rewritten
        _until(lambda: j.next_offset - 1 == 266, what="the truncated file")
    finally:
        r.stop()
    with open(log, "a") as fh:  # written while the service was down
        fh.write("\n".join(parts[4]) + "\n")
    r = start_in_thread(cfg)
    try:
        _until(lambda: r.service.journal.next_offset - 1 == 266 + 40, what="lines written while stopped")
        time.sleep(0.2)
        got = _journal_lines(r.service)
    finally:
        r.stop()
    completed = "081109 203615 148 INFO dfs.DataNode: the rest of the line blk_1"
    assert got == parts[0] + parts[1] + [completed] + parts[2] + parts[3][:5] + parts[4]  # each once, in order


def test_stdin_replay_then_exit(data, tmp_path):
    import logad
    from logad.service.store import Store

    model, logs = data["models"]["session"], data["hdfs_new"]
    expected = detect_alarms(model, [logs], tmp_path / "d.csv")
    env = dict(os.environ, PYTHONPATH=str(Path(logad.__file__).resolve().parents[1]), OMP_NUM_THREADS="1")
    with open(logs, "rb") as stdin:
        proc = subprocess.run(
            [sys.executable, "-c", "import sys; from logad.cli import main; sys.exit(main(sys.argv[1:]))", "serve",
             "--model", str(model), "--state-dir", str(tmp_path / "state"), "--port", "0", "--stdin"],
            stdin=stdin, capture_output=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert b"end of input" in proc.stderr
    store = Store(tmp_path / "state" / "state.db")
    alarms, _ = store.alarms(kind="sequence", limit=1000)
    store.close()
    assert as_tuples(alarms) == expected


class _Receiver:
    """An HTTP server on 127.0.0.1 that records what it is sent; the first `fail` requests get 500."""

    def __init__(self, fail: int = 0) -> None:
        self.got: list[tuple[str, dict, object]] = []
        self.fail = fail
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if outer.fail > 0:
                    outer.fail -= 1
                    self.send_response(500)
                else:
                    outer.got.append((self.path, dict(self.headers), json.loads(body)))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_webhook_and_alertmanager_with_retries_and_no_duplicates(data, tmp_path):
    from logad.service import ServeConfig, start_in_thread
    from tests.service.conftest import httpx, send_file

    hook, am, amw = _Receiver(fail=3), _Receiver(), _Receiver()
    cfg = ServeConfig(model=str(data["models"]["session"]), state_dir=str(tmp_path / "state"), port=0,
                      webhook=(hook.url + "/hook",), alertmanager=(am.url,), alertmanager_webhook=(amw.url + "/am",),
                      sink_retry_seconds=0.05)
    try:
        r = start_in_thread(cfg)
        try:
            client = httpx.Client(base_url=r.url, timeout=30)
            send_file(client, data["hdfs_new"])
            client.post("/v1/flush")
            n = len(all_alarms(client))
            _until(lambda: len(hook.got) == len(am.got) == len(amw.got) == n, what="every alarm at every sink")
            # (a receiver records a request before it answers: wait for the service to read the answer)
            _until(lambda: client.get("/v1/status").json()["sinks"] == {"delivered": 3 * n}, what="deliveries marked")
            metrics = client.get("/metrics").text
            assert 'logad_sink_deliveries_total{outcome="retried",sink="webhook"} 3.0' in metrics
        finally:
            r.stop()
        r = start_in_thread(cfg)  # a restart sends nothing again
        time.sleep(0.5)
        r.stop()
        assert len(hook.got) == n and len(am.got) == n
        keys = [h["Idempotency-Key"] for _, h, _ in hook.got]
        assert len(set(keys)) == n
        path, headers, body = hook.got[0]
        assert path == "/hook" and body["alarm"]["key"] == headers["Idempotency-Key"] and body["alarm"]["lines"]
        path, headers, alerts = next(g for g in am.got if g[2][0]["labels"]["alertname"] == "LogAnomaly")
        assert path == "/api/v2/alerts" and isinstance(alerts, list)
        alert = alerts[0]
        assert alert["labels"]["detector"] == "knn" and alert["labels"]["sequence_id"].startswith("blk_")
        assert alert["annotations"]["summary"] and alert["startsAt"].endswith("Z")
        path, _, payload = amw.got[0]
        assert path == "/am" and payload["version"] == "4" and payload["status"] == "firing"
        assert payload["alerts"][0]["fingerprint"] and payload["commonLabels"]["alertname"].startswith("Log")
    finally:
        for r_ in (hook, am, amw):
            r_.close()
