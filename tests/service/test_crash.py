"""`kill -9` during a replay, restart, finish: no acknowledged line lost, no alarm twice, the
alarms those of `logad detect` on the whole file. The server is a child process on 127.0.0.1;
every wait is bounded (a hang fails the test)."""

from __future__ import annotations

import random
import threading
import time

from tests.service.conftest import ServerProcess, all_alarms, as_tuples, detect_alarms


def _post(client, lines: list[bytes]):
    return client.post("/v1/lines", content=b"\n".join(lines) + b"\n", headers={"content-type": "text/plain"})


def test_kill9_during_replay_then_restart(data, tmp_path):
    model = data["models"]["session_timeout"]  # sessions close (and alarm) during the stream
    logs = data["hdfs_new"]
    expected = detect_alarms(model, [logs], tmp_path / "detect.csv")
    lines = logs.read_bytes().split(b"\n")[:-1]
    state, log = tmp_path / "state", tmp_path / "serve.log"
    rng = random.Random(7)
    acked_upto = 0  # the largest last_offset a 200 answer gave
    args = ("--checkpoint-seconds", "0.2")  # checkpoints between kills too
    kill_points = sorted(rng.sample(range(50, len(lines) - 50), 3))
    for round_, stop_at in enumerate(kill_points):
        srv = ServerProcess(model, state, *args, log=log)
        try:
            durable = srv.client.get("/healthz").json()["journal_offset"]
            assert durable >= acked_upto, f"round {round_}: acknowledged lines lost ({durable} < {acked_upto})"
            pos = durable
            killer = None
            while pos < len(lines):
                batch = lines[pos:pos + rng.randint(10, 60)]
                if pos >= stop_at:  # kill while this request is in flight
                    killer = threading.Timer(rng.uniform(0.0, 0.02), srv.kill9)
                    killer.start()
                try:
                    resp = _post(srv.client, batch)
                except Exception:  # noqa: BLE001 - the server died under the request
                    break
                if resp.status_code != 200:
                    break
                acked_upto = resp.json()["last_offset"]
                pos = acked_upto
                if killer is not None:
                    break
            if killer is not None:
                killer.join(timeout=10)
            else:
                srv.kill9()
        finally:
            if srv.proc.poll() is None:
                srv.kill9()
    srv = ServerProcess(model, state, *args, log=log)
    try:
        durable = srv.client.get("/healthz").json()["journal_offset"]
        assert durable >= acked_upto
        for pos in range(durable, len(lines), 200):
            assert _post(srv.client, lines[pos:pos + 200]).status_code == 200
        assert srv.client.post("/v1/flush").json()["flushed"] is True
        alarms = all_alarms(srv.client, kind="sequence")
        status = srv.client.get("/v1/status").json()
    finally:
        assert srv.close() == 0  # SIGTERM: a clean stop
    assert status["journal"]["lines"] == len(lines)  # every line exactly once
    assert as_tuples(alarms) == expected
    assert len({a["key"] for a in alarms}) == len(alarms)
    assert log.read_text().count("replayed") >= 4  # each start reported what it replayed


def test_restart_resumes_open_windows_from_the_checkpoint(data, tmp_path):
    """A clean stop checkpoints open sessions; the next start continues them (no journal replay
    needed), and the result still equals `logad detect`."""
    model, logs = data["models"]["session"], data["hdfs_new"]
    expected = detect_alarms(model, [logs], tmp_path / "detect.csv")
    lines = logs.read_bytes().split(b"\n")[:-1]
    half = len(lines) // 2
    state, log = tmp_path / "state", tmp_path / "serve.log"
    srv = ServerProcess(model, state, log=log)
    try:
        assert _post(srv.client, lines[:half]).status_code == 200
    finally:
        assert srv.close() == 0
    srv = ServerProcess(model, state, log=log)
    try:
        t0 = time.monotonic()
        status = srv.client.get("/v1/status").json()
        assert status["replayed_at_start"]["records"] == 0 and status["open_lines"] == half
        assert _post(srv.client, lines[half:]).status_code == 200
        srv.client.post("/v1/flush")
        assert as_tuples(all_alarms(srv.client, kind="sequence")) == expected
        assert time.monotonic() - t0 < 60
    finally:
        assert srv.close() == 0
