"""`logad data fetch` against servers that break off, trickle, or send archives that would do harm
(issue 17, items 4 and 7). Every server runs on 127.0.0.1 in a thread and stops with the test."""

from __future__ import annotations

import hashlib
import http.server
import io
import tarfile
import threading
import time
import zipfile
from contextlib import contextmanager

import pytest

from logad.datasets import fetch as fetch_module
from logad.datasets.fetch import TruncatedTransfer, fetch
from logad.datasets.registry import DatasetInfo, RemoteFile, get_dataset
from logad.errors import InputError

PAYLOAD = b"081109 203615 148 INFO a: PacketResponder 1 for block blk_1 terminating\n" * 2000


@contextmanager
def serve(handler_body):
    """A one-route HTTP server; `handler_body(handler)` answers every GET."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            handler_body(self)

        def log_message(self, *args):  # quiet
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _info(filename: str, md5: str | None, archive: bool = False) -> DatasetInfo:
    base = get_dataset("hdfs")
    return DatasetInfo(base.name, base.description, base.kind, base.format,
                       (RemoteFile(f"http://unused/{filename}", filename, md5=md5, archive=archive),),
                       base.layout, base.session_regex, base.labels)


def _send(data: bytes, *, announce: int | None = None, honour_range: bool = True):
    def body(h):
        start = 0
        rng = h.headers.get("Range")
        if rng and honour_range:
            start = int(rng.split("=")[1].split("-")[0])
            h.send_response(206)
        else:
            h.send_response(200)
        chunk = data[start:]
        h.send_header("Content-Length", str(announce - start if announce else len(chunk)))
        h.end_headers()
        h.wfile.write(chunk)
        h.wfile.flush()
    return body


def test_a_transfer_that_breaks_off_is_kept_for_resuming_and_never_marked_ready(tmp_path):
    half = PAYLOAD[: len(PAYLOAD) // 2]
    dest = tmp_path / "d"
    with serve(_send(half, announce=len(PAYLOAD))) as url:  # announces all, sends half, closes
        with pytest.raises(TruncatedTransfer, match="run again to resume"):
            fetch(_info("HDFS.log", None), dest, base_url_override=url, allow_unverified=True)
    assert (dest / "HDFS.log.part").read_bytes() == half  # what was received is kept
    assert not (dest / "HDFS.log").exists()
    assert not list(dest.glob("*.verified")) and not list(dest.glob("*.unverified"))
    with serve(_send(PAYLOAD)) as url:  # the next run resumes from the half it has
        fetch(_info("HDFS.log", hashlib.md5(PAYLOAD).hexdigest()), dest, base_url_override=url)
    assert (dest / "HDFS.log").read_bytes() == PAYLOAD
    assert (dest / "HDFS.log.verified").exists()


def test_a_truncated_file_with_a_checksum_keeps_its_part(tmp_path):
    """The .part was deleted on the checksum mismatch of an incomplete file, defeating resumption."""
    dest = tmp_path / "d"
    with serve(_send(PAYLOAD[:5000], announce=len(PAYLOAD))) as url:
        with pytest.raises(TruncatedTransfer):
            fetch(_info("HDFS.log", hashlib.md5(PAYLOAD).hexdigest()), dest, base_url_override=url)
    assert (dest / "HDFS.log.part").stat().st_size == 5000


def test_an_unverified_file_is_not_marked_verified(tmp_path):
    dest = tmp_path / "d"
    with serve(_send(PAYLOAD)) as url:
        fetch(_info("HDFS.log", None), dest, base_url_override=url, allow_unverified=True)
    assert (dest / "HDFS.log.unverified").exists() and not (dest / "HDFS.log.verified").exists()
    sha, size = (dest / "HDFS.log.unverified").read_text().split()
    assert sha == hashlib.sha256(PAYLOAD).hexdigest() and int(size) == len(PAYLOAD)


def test_a_trickling_server_is_given_up_and_what_arrived_is_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(fetch_module, "RATE_WINDOW", 1.0)
    monkeypatch.setattr(fetch_module, "MIN_RATE", 1000.0)
    stop = threading.Event()

    def trickle(h):
        h.send_response(200)
        h.send_header("Content-Length", str(len(PAYLOAD)))
        h.end_headers()
        for b in PAYLOAD[:50]:
            if stop.is_set():
                return
            h.wfile.write(bytes([b]))
            h.wfile.flush()
            time.sleep(0.1)

    dest = tmp_path / "d"
    t0 = time.monotonic()
    with serve(trickle) as url:
        with pytest.raises(InputError, match="stalled"):
            fetch(_info("HDFS.log", None), dest, base_url_override=url, allow_unverified=True)
        stop.set()
    assert time.monotonic() - t0 < 10
    assert 0 < (dest / "HDFS.log.part").stat().st_size < 50


def test_a_zip_bomb_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    monkeypatch.setattr(fetch_module, "MAX_UNPACK_RATIO", 2)  # limit 2 MB for a small archive
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("HDFS.log", b"\0" * (5 << 20))
    data = buf.getvalue()
    assert len(data) < 50_000
    dest = tmp_path / "d"
    with serve(_send(data)) as url:
        with pytest.raises(InputError, match="would unpack to"):
            fetch(_info("HDFS_v1.zip", hashlib.md5(data).hexdigest(), archive=True), dest, base_url_override=url)
    assert not (dest / "HDFS.log").exists()


def test_a_tar_member_leaving_the_folder_is_refused_and_nothing_is_unpacked(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in (("HDFS.log", PAYLOAD), ("../evil.txt", b"x")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    data = buf.getvalue()
    dest = tmp_path / "d"
    with serve(_send(data)) as url:
        with pytest.raises(InputError, match="evil.txt"):
            fetch(_info("HDFS_v1.tar", hashlib.md5(data).hexdigest(), archive=True), dest, base_url_override=url)
    assert not (dest / "HDFS.log").exists()  # the member before the bad one was not unpacked either
    assert not (tmp_path / "evil.txt").exists()


def test_conflicting_duplicate_labels_are_refused(tmp_path):
    """Item 5: ten rows relabelling anomalous blocks as normal silently turned 43 anomalies into 33."""
    from logad.formats.labels import read_block_labels

    rows = ["BlockId,Label"] + [f"blk_{i},Anomaly" for i in range(43)] + [f"blk_{i},Normal" for i in range(10)]
    path = tmp_path / "anomaly_label.csv"
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(InputError, match="10 ids are listed again with a different label"):
        read_block_labels(path)
    path.write_text("BlockId,Label\nblk_1,Anomaly\nblk_1,Anomaly\nblk_2,Normal\n")  # identical repeats are fine
    assert read_block_labels(path) == {"blk_1": 1, "blk_2": 0}
