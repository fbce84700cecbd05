"""Multi-line records (issue 18 item 5): Java stack traces and 'Container killed on request...'
lines were lost as unmatched; a continuation rule joins them to the record they belong to."""

from __future__ import annotations

import json

import pytest

from logad.cli import main
from logad.formats.reader import ReadReport, read_blocks
from logad.formats.registry import get_format

HADOOP = [
    "2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop.mapred.YarnChild: starting task 1",
    "2015-10-18 18:01:48,100 ERROR [main] org.apache.hadoop.mapred.YarnChild: Exception running child",
    "java.io.IOException: No space left on device",
    "\tat org.apache.hadoop.fs.RawLocalFileSystem.write(RawLocalFileSystem.java:248)",
    "\tat java.lang.Thread.run(Thread.java:745)",
    "2015-10-18 18:01:49,978 INFO [main] org.apache.hadoop.mapred.Task: Diagnostics: Container killed by the AM.",
    "Container killed on request. Exit code is 143",
    "2015-10-18 18:01:50,978 INFO [main] org.apache.hadoop.mapred.Task: done",
]


def _records(path, fmt, **kw):
    report = ReadReport()
    recs = [r for b in read_blocks(path, fmt, report, **kw) for r in b.records()]
    return recs, report


@pytest.mark.parametrize("block_bytes", [64, 1 << 22])  # a stack trace across a chunk boundary, and not
def test_continuation_lines_join_the_record_before_them(tmp_path, block_bytes):
    path = tmp_path / "container.log"
    path.write_text("\n".join(HADOOP) + "\n")
    recs, report = _records(path, get_format("hadoop"), block_bytes=block_bytes)
    assert [r.line_no for r in recs] == [1, 2, 6, 8]
    assert recs[1].content.splitlines() == ["Exception running child", *HADOOP[2:5]]
    assert recs[2].content.endswith("Container killed on request. Exit code is 143")
    assert report.continued == 4 and report.unmatched == 0 and report.lines_total == 8
    assert "4 continuation lines joined" in report.summary()


def test_without_a_rule_they_are_counted_unmatched_and_a_regex_takes_only_its_lines(tmp_path):
    path = tmp_path / "container.log"
    path.write_text("\n".join(HADOOP) + "\n")
    recs, report = _records(path, get_format("hadoop").with_multiline("none"))
    assert len(recs) == 4 and report.unmatched == 4 and report.continued == 0
    recs, report = _records(path, get_format("hadoop").with_multiline(r"^\s+at |Exception"))
    assert report.continued == 3 and report.unmatched == 1  # "Container killed ..." is not a stack line


def test_a_continuation_before_any_record_is_counted(tmp_path):
    path = tmp_path / "container.log"
    path.write_text("\n".join(["\tat orphan.Frame(X.java:1)", *HADOOP[:2]]) + "\n")
    recs, report = _records(path, get_format("hadoop"))
    assert len(recs) == 2 and report.unmatched == 1


def test_multiline_flag_through_train_and_detect(tmp_path):
    train = tmp_path / "train.log"
    train.write_text("\n".join(HADOOP[:2] + HADOOP[5:]) * 30 + "\n")
    model = tmp_path / "m"
    assert main(["train", "--logs", str(train), "--format", "hadoop", "--group", "count", "--window-size", "4",
                 "--multiline", "none", "--detector", "new-template", "--save", str(model), "--quiet"]) == 0
    assert json.loads((model / "model.json").read_text())["multiline"] == "none"
    from logad.errors import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="not a valid regex"):
        get_format("hadoop").with_multiline("(unclosed")

