import gzip

import pytest

from logad.errors import InputError, InvalidParameterError, UnknownNameError
from logad.formats.labels import read_block_labels, read_session_file
from logad.formats.reader import ReadReport, read_records
from logad.formats.registry import get_format, list_formats
from tests.conftest import shared_data

LOGHUB = ["hdfs", "bgl", "thunderbird", "spirit", "liberty", "hadoop", "openstack", "linux", "android", "apache",
          "healthapp", "hpc", "mac", "openssh", "proxifier", "spark", "windows", "zookeeper"]


def test_registry_has_every_loghub_system():
    assert set(LOGHUB) <= set(list_formats())


def test_unknown_format_suggests_names():
    with pytest.raises(UnknownNameError, match="did you mean 'hdfs'"):
        get_format("hfds")


def test_user_format_string_is_literal_text():
    fmt = get_format("<Date> <Time> <Level> <Component>: <Content>")
    m = fmt.regex.match("2024-01-01 10:00:00 INFO api: GET /x took 3 ms")
    assert m and m["Content"] == "GET /x took 3 ms" and m["Component"] == "api"
    assert get_format("<Level> | <Content>").regex.match("no pipe here") is None
    with pytest.raises(InvalidParameterError, match="Content"):
        get_format("<Date> <Time>")


def test_records_fields_time_and_cfdr_label(tmp_path):
    log = tmp_path / "BGL.log"
    log.write_text(
        "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected\n"
        "KERNDTLB 1117838573 2005.06.03 R02-M1-N0 2005-06-03-15.42.53.276129 R02-M1-N0 RAS KERNEL FATAL data TLB error interrupt\n"
    )
    recs = list(read_records(log, get_format("bgl")))
    assert [r.label for r in recs] == [0, 1]
    assert recs[0].timestamp == 1117838570.0
    assert recs[0].fields["Node"] == "R02-M1-N0-C:J12-U11"
    assert recs[1].content == "data TLB error interrupt"


def test_hdfs_time_from_date_and_time(tmp_path):
    log = tmp_path / "HDFS.log.gz"  # gzip found by magic bytes
    with gzip.open(log, "wt") as fh:
        fh.write("081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_1 terminating\n")
    (rec,) = read_records(log, get_format("hdfs"))
    assert rec.timestamp == 1226262975.0
    assert rec.fields["Component"] == "dfs.DataNode$PacketResponder"


def test_unmatched_lines_counted_with_line_numbers(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("081109 203615 148 INFO a: ok\ngarbage\n\n081109 203615 148 INFO a: ok again\n")
    report = ReadReport()
    recs = list(read_records(log, get_format("hdfs"), report))
    assert [r.line_no for r in recs] == [1, 4]
    assert report.unmatched == 1 and report.unmatched_line_nos == [2]
    assert report.empty_lines == 1
    assert "not matching" in report.summary()


@pytest.mark.parametrize(
    "content,needle",
    [(None, "no such file"), (b"", "empty"), (b"\x00\x01\x02\x03" * 1000, "binary"), (b"\x1f\x8b\x08garbage", "gzip")],
)
def test_bad_files_raise_clear_errors(tmp_path, content, needle):
    path = tmp_path / "f.log"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=needle):
        list(read_records(path, get_format("hdfs")))


def test_directory_is_refused(tmp_path):
    with pytest.raises(InputError, match="directory"):
        list(read_records(tmp_path, get_format("hdfs")))


def test_format_matching_no_line(tmp_path):
    path = tmp_path / "f.log"
    path.write_text("hello world\n")
    with pytest.raises(InputError, match="matched no line"):
        list(read_records(path, get_format("bgl")))


def test_block_labels_and_session_files(tmp_path):
    labels = tmp_path / "anomaly_label.csv"
    labels.write_text("BlockId,Label\nblk_1,Normal\nblk_-2,Anomaly\n")
    assert read_block_labels(labels) == {"blk_1": 0, "blk_-2": 1}
    labels.write_text("BlockId,Label\nblk_1,Maybe\n")
    with pytest.raises(InputError, match="line 2"):
        read_block_labels(labels)
    sessions = tmp_path / "hdfs_train"
    sessions.write_text("blk_1,5 5 22\n1 2 3\n")
    assert list(read_session_file(sessions)) == [("blk_1", [5, 5, 22]), ("hdfs_train:2", [1, 2, 3])]
    sessions.write_text("blk_1,5 x\n")
    with pytest.raises(InputError, match="line 1"):
        list(read_session_file(sessions))


@pytest.mark.parametrize("system", ["Android", "Apache", "BGL", "HDFS", "HPC", "Hadoop", "HealthApp", "Linux", "Mac",
                                    "OpenSSH", "OpenStack", "Proxifier", "Spark", "Thunderbird", "Windows", "Zookeeper"])
def test_every_loghub_2k_line_matches_its_format(system):
    path = shared_data("loghub_2k", system, f"{system}_2k.log")
    report = ReadReport()
    n = sum(1 for _ in read_records(path, get_format(system.lower()), report))
    assert n == 2000 and report.unmatched == 0


def test_real_thunderbird_slice_labels():
    path = shared_data("thunderbird_slice", "Thunderbird.log.gz")
    labels = [r.label for r in read_records(path, get_format("thunderbird"))]
    assert len(labels) == 19350 and sum(labels) == 715
