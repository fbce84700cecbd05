"""Shared pieces of the service tests: small logs in real formats, models trained on them, a server
on 127.0.0.1 and the comparison with `logad detect`."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("prometheus_client")
httpx = pytest.importorskip("httpx")

from logad.cli import main  # noqa: E402

HDFS_TEMPLATES = [
    "dfs.DataNode$DataXceiver: Receiving block {b} src: /10.0.{i}.1:5{i}010 dest: /10.0.{i}.2:50010",
    "dfs.FSNamesystem: BLOCK* NameSystem.allocateBlock: /user/root/part-{i}. {b}",
    "dfs.DataNode$PacketResponder: PacketResponder {k} for block {b} terminating",
    "dfs.DataNode$PacketResponder: Received block {b} of size 67108864 from /10.0.{i}.3",
    "dfs.FSNamesystem: BLOCK* NameSystem.addStoredBlock: blockMap updated: 10.0.{i}.4:50010 is added to {b} size 67108864",
]
HDFS_BAD = [
    "dfs.DataNode: writeBlock {b} received exception java.io.IOException: Connection reset by peer",
    "dfs.FSNamesystem: BLOCK* NameSystem.delete: {b} is added to invalidSet of 10.0.{i}.5:50010",
]


def hdfs_lines(n_blocks: int, seed: int, anomalous: float = 0.0, start: int = 0, t0: int = 0) -> list[str]:
    """HDFS-format lines of interleaved block sessions; a share of blocks gets an error line, or
    loses its last lines. Time moves on a second every few lines (HDFS's %y%m%d %H%M%S)."""
    rng = random.Random(seed)
    open_: list[list[str]] = []
    out: list[str] = []
    t = t0
    blocks = list(range(start, start + n_blocks))
    while blocks or open_:
        if blocks and (len(open_) < 8 or rng.random() < 0.3):
            b = f"blk_{'-' if rng.random() < 0.5 else ''}{1000 + blocks.pop(0) * 7919}"
            i = rng.randint(1, 9)
            body = [tpl.format(b=b, i=i, k=k % 3) for k, tpl in enumerate(HDFS_TEMPLATES * 2)]
            if rng.random() < anomalous:
                if rng.random() < 0.5:
                    body.insert(rng.randint(1, len(body) - 1), rng.choice(HDFS_BAD).format(b=b, i=i))
                else:
                    body = body[:3]
            open_.append(body)
        s = rng.choice(open_)
        line = s.pop(0)
        if not s:
            open_.remove(s)
        if rng.random() < 0.3:
            t += 1
        day, sec = divmod(t, 86400)
        hh, rest = divmod(sec, 3600)
        mm, ss = divmod(rest, 60)
        out.append(f"0811{9 + day:02d} {hh:02d}{mm:02d}{ss:02d} {100 + rng.randint(0, 50)} INFO {line}")
    return out


def bgl_lines(n: int, seed: int, anomalous: float = 0.0) -> list[str]:
    """BGL-format lines of a few nodes (entity = Node), labelled '-' (normal) or with an alert tag."""
    rng = random.Random(seed)
    normal = ["instruction cache parity error corrected", "generating core.{k}", "ciod: LOGIN chdir(/home/u{k}) failed",
              "total of {k} ddr error(s) detected and corrected"]
    bad = ["rts: kernel terminated for reason {k}", "data TLB error interrupt"]
    out = []
    t = 1117838570
    for j in range(n):
        node = f"R0{rng.randint(0, 3)}-M1-N{rng.randint(0, 1)}-C:J12-U11"
        t += rng.randint(0, 2)
        if rng.random() < anomalous:
            label, msg, level = "KERNDTLB", rng.choice(bad), "FATAL"
        else:
            label, msg, level = "-", rng.choice(normal), "INFO"
        out.append(f"{label} {t} 2005.06.03 {node} 2005-06-03-15.42.{j % 60:02d}.363779 {node} RAS KERNEL {level} "
                   + msg.format(k=rng.randint(1, 40)))
    return out


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def train(logs: Path, fmt: str, out: Path, *args: str, detector: str = "knn", q: float = 0.95) -> Path:
    assert main(["train", "--logs", str(logs), "--format", fmt, "--detector", detector, "--save", str(out),
                 "--threshold-policy", f"train-quantile:{q}", "--quiet", *args]) == 0
    return out


@pytest.fixture(scope="session")
def data(tmp_path_factory):
    """Training and new logs (HDFS and BGL formats) and knn models of every grouping."""
    d = tmp_path_factory.mktemp("service-data")
    hdfs_train = write(d / "hdfs_train.log", hdfs_lines(300, 1))
    hdfs_new = write(d / "hdfs_new.log", hdfs_lines(80, 2, anomalous=0.3, start=5000, t0=40000))
    bgl_train = write(d / "bgl_train.log", bgl_lines(1500, 3))
    bgl_new = write(d / "bgl_new.log", bgl_lines(800, 4, anomalous=0.03))
    models = {
        "session": train(hdfs_train, "hdfs", d / "m_session"),
        "session_timeout": train(hdfs_train, "hdfs", d / "m_session_timeout", "--session-timeout", "3"),
        "count": train(hdfs_train, "hdfs", d / "m_count", "--group", "count", "--window-size", "10",
                       "--window-step", "5", q=0.3),
        "time": train(hdfs_train, "hdfs", d / "m_time", "--group", "time", "--window-size", "8", "--window-step", "4",
                      q=0.3),
        "entity": train(bgl_train, "bgl", d / "m_entity", "--group", "entity", "--window-size", "25"),
    }
    return {"dir": d, "hdfs_train": hdfs_train, "hdfs_new": hdfs_new, "bgl_train": bgl_train, "bgl_new": bgl_new,
            "models": models, "logs": {"session": hdfs_new, "session_timeout": hdfs_new, "count": hdfs_new,
                                       "time": hdfs_new, "entity": bgl_new}}


def detect_alarms(model: Path, files: list[Path], out: Path) -> list[tuple]:
    """`logad detect`'s alarms, as comparable tuples. detect numbers lines within their own file;
    the service counts the lines of its stream, so the files' starts turn one into the other."""
    assert main(["detect", *map(str, files), "--model", str(model), "--out", str(out), "--quiet"]) == 0
    starts, at = {}, 0
    for f in files:
        starts[str(f)] = at
        at += len(Path(f).read_bytes().split(b"\n")) - 1
    rows = [r for r in csv.DictReader(out.open()) if r["alarm"] == "1"]
    return sorted((r["sequence_id"], r["score"], starts[r["file"].split("|")[0]] + int(r["first_line"]),
                   starts[r["file"].split("|")[-1]] + int(r["last_line"]), int(r["lines"]),
                   float(r["start_time"]) if r["start_time"] else None,
                   float(r["end_time"]) if r["end_time"] else None) for r in rows)


def as_tuples(alarms: list[dict]) -> list[tuple]:
    return sorted((a["sequence_id"], f"{a['score']:.6g}", a["first_offset"], a["last_offset"], a["n_lines"],
                   a["start_time"], a["end_time"]) for a in alarms if a["kind"] == "sequence")


def all_alarms(client, **params) -> list[dict]:
    out, after = [], 0
    while True:
        r = client.get("/v1/alarms", params={**params, "after": after, "limit": 500})
        assert r.status_code == 200, r.text
        j = r.json()
        out += j["alarms"]
        if j["next"] is None:
            return out
        after = j["next"]


def send_file(client, path: Path, batch: int = 300, source: str = "http") -> int:
    lines = path.read_bytes().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for i in range(0, len(lines), batch):
        r = client.post("/v1/lines", params={"source": source}, content=b"\n".join(lines[i:i + batch]) + b"\n",
                        headers={"content-type": "text/plain"})
        assert r.status_code == 200, r.text
    return len(lines)


def serve_with_token(serve, model: Path, lines_file: Path, folder: Path, token: str):
    """A service that asks for `token`, fed `lines_file` and flushed: (server, client, auth headers)."""
    token_file = folder / "token"
    token_file.write_text(token + "\n")
    r, client = serve(model, token_file=str(token_file))
    auth = {"authorization": f"Bearer {token}"}
    sent = client.post("/v1/lines", content=lines_file.read_bytes(), headers={**auth, "content-type": "text/plain"})
    assert sent.status_code == 200, sent.text
    client.post("/v1/flush", headers=auth)
    return r, client, auth


@pytest.fixture()
def serve(tmp_path):
    """Start services on 127.0.0.1 (any free port) in this process; all stopped at the end."""
    from logad.service import ServeConfig, start_in_thread

    running = []

    def start(model: Path, state: Path | None = None, **options):
        r = start_in_thread(ServeConfig(model=str(model), state_dir=str(state or tmp_path / "state"), host="127.0.0.1",
                                        port=0, **options))
        running.append(r)
        return r, httpx.Client(base_url=r.url, timeout=30)

    yield start
    for r in running:
        r.stop()


class ServerProcess:
    """`logad serve` in a child process on 127.0.0.1 (any free port), for kill -9. Every wait is
    bounded; `close()` kills what is left."""

    def __init__(self, model: Path, state: Path, *args: str, log: Path) -> None:
        import os
        import subprocess
        import sys

        import logad

        env = dict(os.environ, PYTHONPATH=str(Path(logad.__file__).resolve().parents[1]), OMP_NUM_THREADS="1")
        self.log = log
        self._start_at = log.stat().st_size if log.exists() else 0
        self._fh = open(log, "ab")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "import sys; from logad.cli import main; sys.exit(main(sys.argv[1:]))", "serve",
             "--model", str(model), "--state-dir", str(state), "--host", "127.0.0.1", "--port", "0", *args],
            stdout=self._fh, stderr=self._fh, stdin=subprocess.DEVNULL, env=env)
        self.url = self._wait_listening()
        self.client = httpx.Client(base_url=self.url, timeout=30)

    def _wait_listening(self, timeout: float = 90.0) -> str:
        import re
        import time

        deadline = time.monotonic() + timeout
        seen = self._start_at
        while time.monotonic() < deadline:
            text = self.log.read_text(errors="replace")
            found = re.findall(r"listening on (http://127\.0\.0\.1:\d+)", text[seen:])
            if found and self.proc.poll() is None:
                return found[-1]
            if self.proc.poll() is not None:
                raise AssertionError(f"logad serve exited with {self.proc.returncode}:\n{text[-3000:]}")
            time.sleep(0.05)
        self.proc.kill()
        raise AssertionError(f"logad serve did not start in {timeout} s:\n{self.log.read_text()[-3000:]}")

    def kill9(self) -> None:
        import signal

        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.client.close()

    def close(self) -> int:
        import subprocess

        self.client.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._fh.close()
        return self.proc.returncode
