import hashlib
import http.server
import io
import threading
import zipfile
from functools import partial

import pytest

from logad.datasets.fetch import fetch
from logad.datasets.local import check_layout, labels_for, load_session_dataset, raw_log_path
from logad.datasets.registry import DatasetInfo, RemoteFile, get_dataset, list_datasets
from logad.errors import ChecksumError, InputError, UnknownNameError
from tests.conftest import shared_data


def test_registry_lists_the_public_datasets():
    names = set(list_datasets())
    assert {"hdfs", "bgl", "thunderbird", "spirit", "liberty", "hadoop", "openstack", "hdfs-sessions",
            "openstack-sessions"} <= names
    assert len([n for n in names if n.startswith("loghub-2k-")]) == 16
    for name in names:
        info = get_dataset(name)
        assert all(f.url.startswith("http") for f in info.files)
        assert info.files or info.kind == "text-windows" or info.generic  # local-only: no public source known
    assert get_dataset("hdfs").files[0].md5
    # the corrected OpenStack sessions are pinned (the copies match the AIT repository byte for byte)
    assert all(f.sha256 for f in get_dataset("openstack-sessions").files)
    assert get_dataset("hdfs-sessions").templates == "HDFS_templates.csv"


def test_fetch_refuses_a_dataset_without_public_source(tmp_path):
    from logad.datasets.fetch import fetch

    with pytest.raises(InputError, match="no public download"):
        fetch("bgl-text-windows", tmp_path)


def test_session_dataset_template_texts(tmp_path):
    from logad.datasets.local import templates_for

    info = get_dataset("openstack-sessions")
    assert templates_for(info, tmp_path) == {}  # absent: semantic methods say so, detection still works
    (tmp_path / "OpenStack_templates.csv").write_text("first <*>\nsecond <*> x\n", encoding="utf-8")
    assert templates_for(info, tmp_path) == {1: "first <*>", 2: "second <*> x"}
    real = templates_for(get_dataset("hdfs-sessions"), shared_data("hdfs_sessions"))
    assert len(real) == 33 and "BlockInfo not found" in real[20]


def test_unknown_dataset():
    with pytest.raises(UnknownNameError, match="did you mean"):
        get_dataset("hdsf")


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; honours `Range: bytes=N-` unless the server says not to."""

    support_range = True

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        path = self.translate_path(self.path)
        try:
            data = open(path, "rb").read()
        except OSError:
            self.send_error(404)
            return
        rng = self.headers.get("Range")
        if rng and self.support_range:
            start = int(rng.split("=")[1].rstrip("-"))
            if start >= len(data):
                self.send_error(416)
                return
            body = data[start:]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            body = data
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(params=[True, False], ids=["range", "no-range"])
def server(tmp_path, request):
    root = tmp_path / "served"
    root.mkdir()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("HDFS.log", "081109 203615 148 INFO a: PacketResponder 1 for block blk_1 terminating\n" * 500)
        zf.writestr("preprocessed/anomaly_label.csv", "BlockId,Label\nblk_1,Normal\n")
    payload = buf.getvalue()
    (root / "HDFS_v1.zip").write_bytes(payload)
    handler = type("H", (_Handler,), {"support_range": request.param})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", payload
    httpd.shutdown()


def _info(md5: str | None) -> DatasetInfo:
    base = get_dataset("hdfs")
    return DatasetInfo(base.name, base.description, base.kind, base.format,
                       (RemoteFile("http://unused/HDFS_v1.zip", "HDFS_v1.zip", md5=md5, archive=True),),
                       base.layout, base.session_regex, base.labels)


def test_fetch_verifies_and_unpacks(server, tmp_path):
    url, payload = server
    dest = tmp_path / "hdfs"
    fetch(_info(hashlib.md5(payload).hexdigest()), dest, base_url_override=url)
    assert raw_log_path(get_dataset("hdfs"), dest).name == "HDFS.log"
    assert labels_for(get_dataset("hdfs"), dest) == {"blk_1": 0}
    assert not list(dest.glob("*.part"))


def test_fetch_resumes_a_partial_download(server, tmp_path):
    url, payload = server
    dest = tmp_path / "hdfs"
    dest.mkdir()
    (dest / "HDFS_v1.zip.part").write_bytes(payload[:1000])  # an interrupted earlier run
    fetch(_info(hashlib.md5(payload).hexdigest()), dest, base_url_override=url)
    assert (dest / "HDFS_v1.zip").read_bytes() == payload


def test_checksum_mismatch_leaves_no_file(server, tmp_path):
    url, _ = server
    dest = tmp_path / "hdfs"
    with pytest.raises(ChecksumError, match="does not match"):
        fetch(_info("0" * 32), dest, base_url_override=url)
    assert not (dest / "HDFS_v1.zip").exists()
    assert not (dest / "HDFS_v1.zip.part").exists()


def test_unpublished_checksum_needs_consent(server, tmp_path):
    url, _ = server
    with pytest.raises(ChecksumError, match="allow-unverified"):
        fetch(_info(None), tmp_path / "a", base_url_override=url)
    fetch(_info(None), tmp_path / "b", base_url_override=url, allow_unverified=True)
    assert (tmp_path / "b" / "HDFS.log").exists()


def test_wrong_layout_names_what_is_missing(tmp_path):
    (tmp_path / "something.txt").write_text("x")
    with pytest.raises(InputError, match="missing HDFS.log"):
        check_layout(get_dataset("hdfs"), tmp_path)
    with pytest.raises(InputError, match="missing"):
        check_layout(get_dataset("hdfs"), tmp_path / "nope")


def test_real_session_files():
    data = shared_data("hdfs_sessions")
    parts = load_session_dataset(get_dataset("hdfs-sessions"), data)
    assert {k: len(v) for k, v in parts.items()} == {"train": 5583, "test_normal": 11039, "test_abnormal": 16838}
    os_parts = load_session_dataset(get_dataset("openstack-sessions"), shared_data("openstack_sessions"))
    assert len(os_parts["test_abnormal"]) == 651


def test_real_raw_layouts():
    assert raw_log_path(get_dataset("hdfs"), shared_data("hdfs_2pct")).name == "HDFS.log.gz"
    labels = labels_for(get_dataset("hdfs"), shared_data("hdfs_2pct"))
    assert sum(labels.values()) == 350
    assert raw_log_path(get_dataset("bgl"), shared_data("bgl_2k")).name == "BGL.log"
    assert raw_log_path(get_dataset("thunderbird"), shared_data("thunderbird_slice")).name == "Thunderbird.log.gz"
