"""Reports of real runs: each kind of result, its figures with data, its provenance, and one-line
errors for what is not a logad result."""

from __future__ import annotations

import json
import re

import pytest

from logad.cli import main
from logad.report import build_report, report_html
from logad.report.detect_summary import summary_path


def figure_marks(page: str) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for kind, n in re.findall(r'data-figure="([a-z]+)" data-marks="(\d+)"', page):
        out.setdefault(kind, []).append(int(n))
    return out


def self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert "default-src 'none'" in page  # the page may not fetch anything
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<link" not in page and "@import" not in page


def test_evaluate_report_has_every_figure_with_data_and_says_how_it_was_measured(runs):
    page = runs["evaluate_html"].read_text()
    self_contained(page)
    marks = figure_marks(page)
    assert marks["histogram"][0] > 0 and marks["roc"][0] > 0 and marks["pr"][0] > 0
    assert "honest protocol" in page and "best F1 on the validation part" in page
    assert "Leakage audit" in page and "false alarms" in page
    result = json.loads(runs["evaluate_json"].read_text())
    assert sum(result["curves"]["histogram"]["normal"]) + sum(result["curves"]["histogram"]["anomalous"]) \
        == result["metrics"]["n"]
    kind, again = build_report(runs["evaluate_json"])
    assert kind == "evaluate" and figure_marks(again) == marks


def test_examples_show_raw_lines_escaped(tmp_path):
    log = tmp_path / "a.log"
    log.write_text('first line\nsecond <script>alert("x")</script> line\n')
    result = {"metrics": {"f1": 0.5, "n": 2, "n_anomalous": 1}, "counts": {"tp": 1, "fp": 1, "tn": 0, "fn": 0},
              "threshold": {"value": 0.5, "policy": "best-f1-validation"}, "detector": {"name": "knn", "params": {}},
              "data": {"read": [{"path": str(log), "lines_total": 2}]},
              "examples": {"false_alarms": [{"kind": "false alarm", "sequence_id": "s<1>", "score": 0.9, "label": 0,
                                             "template_ids": [1, 2], "line_nos": [1, 2], "blamed": [1], "n_lines": 2}],
                           "misses": [], "templates": {"1": "first <*>", "2": "second <*>"}, "n_false_alarms": 1,
                           "n_misses": 0}}
    page = report_html("evaluate", result)
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page
    assert 'class="blamed"' in page and "s&lt;1&gt;" in page
    assert "no score summary" in page  # an older result without curves says so instead of drawing nothing


def test_oracle_on_test_is_loud(runs):
    result = json.loads(runs["evaluate_json"].read_text())
    result["protocol"] = "original"
    result["threshold"] = {"value": 0.1, "policy": "oracle-on-test", "warning": "chosen on the TEST labels"}
    page = report_html("evaluate", result)
    assert 'class="banner oracle"' in page and "NOT an honest estimate" in page
    assert page.count("ORACLE-ON-TEST") >= 3  # banner and figure captions
    assert 'class="banner oracle"' not in runs["evaluate_html"].read_text()


def test_detect_report_draws_the_run_from_its_summary(runs):
    summary = json.loads(summary_path(runs["detect_csv"]).read_text())
    assert summary["kind"] == "logad-detect-summary" and summary["lines"] > 0
    assert sum(summary["lines_per_bucket"]) == summary["lines"]
    assert summary["top_alarms"] and all(a["texts"] and a["line_nos"] for a in summary["top_alarms"])
    page = runs["detect_html"].read_text()
    self_contained(page)
    marks = figure_marks(page)
    assert marks["timeline"][0] > 0 and marks["heatmap"][0] > 0 and marks["sparkline"]
    assert 'id="alarm-0"' in page and 'href="#alarm-0"' in page
    assert "threshold set when the model was trained" in page


def test_detect_report_without_summary_still_draws_the_timeline(runs, tmp_path):
    csv_copy = tmp_path / "alone.csv"
    csv_copy.write_text(runs["detect_csv"].read_text())
    kind, page = build_report(csv_copy, model=runs["model"])
    assert kind == "detect" and figure_marks(page)["timeline"][0] > 0
    assert "No summary beside the CSV" in page and "heatmap" not in figure_marks(page)


@pytest.mark.parametrize("params", ["json", "spaces"])
def test_parse_report_reads_both_parameter_spellings(runs, tmp_path, params):
    import csv

    src = list(csv.DictReader(runs["parse_csv"].open()))
    path = tmp_path / "parsed.csv"
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(src[0]))
        w.writeheader()
        for r in src:
            if params == "json":
                r["parameters"] = json.dumps(r["parameters"].split(" ") if r["parameters"] else [])
            w.writerow(r)
    kind, page = build_report(path)
    assert kind == "parse"
    marks = figure_marks(page)
    assert marks["discovery"][0] > 0 and marks["heatmap"][0] > 0
    assert "numeric" in page and "<b>&lt;*&gt; 1</b>" in page  # a parameter summary with a numeric range
    assert '["' not in page  # JSON arrays were split into values


def test_tune_and_transfer_reports(runs):
    kind, page = build_report(runs["tune_dir"])
    assert kind == "tune"
    marks = figure_marks(page)
    assert marks["scatter"][0] == 3 and marks["learning"][0] > 0  # the errored trial has no objective
    assert "test part was withheld" in page and "best: trial 1" in page
    kind, page = build_report(runs["tune_dir"] / "best.json")
    assert kind == "tune" and figure_marks(page)["scatter"][0] == 3  # trials.json found beside it
    kind, page = build_report(runs["transfer_json"])
    assert kind == "transfer" and figure_marks(page)["bars"][0] == 15 and figure_marks(page)["training"]
    assert 'class="banner oracle"' not in page
    _, oracle = build_report(runs["oracle_json"])
    assert 'class="banner oracle"' in oracle and "ORACLE-ON-TEST" in oracle


def test_cli_report_and_one_line_errors(runs, tmp_path, capsys):
    out = tmp_path / "r.html"
    assert main(["report", str(runs["evaluate_json"]), "--out", str(out)]) == 0
    assert "evaluate report" in capsys.readouterr().out and out.stat().st_size > 10_000
    bad_json = tmp_path / "other.json"
    bad_json.write_text('{"hello": 1}')
    bad_csv = tmp_path / "other.csv"
    bad_csv.write_text("a,b\n1,2\n")
    not_json = tmp_path / "broken.json"
    not_json.write_text("{nope")
    for path, needle in ((tmp_path / "missing.json", "no such file"), (bad_json, "not a logad result"),
                         (bad_csv, "columns are a, b"), (not_json, "not valid JSON")):
        assert main(["report", str(path), "--out", str(tmp_path / "x.html")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("logad: error:") and needle in err[0], err
    assert not (tmp_path / "x.html").exists()


def test_bench_report_puts_detectors_side_by_side(runs):
    one = json.loads(runs["evaluate_json"].read_text())
    other = {**one, "detector": {"name": "pca", "params": {}}}
    other["metrics"] = {**one["metrics"], "f1": 0.5}
    page = report_html("bench", {"results": [{"dataset": "sim", **one}, {"dataset": "sim", **other}]})
    marks = figure_marks(page)
    assert marks["bars"][0] == 2 and marks["roc"][0] > 0  # F1 of both detectors, their ROC curves
    assert "knn" in page and "pca" in page and 'id="bench-table"' in page


def test_detect_summary_finds_new_and_vanished_templates(tmp_path):
    from logad.demo.simulator import simulate_all

    storage = simulate_all(tmp_path / "sim", scale=0.1, seed=5)["storage"]
    model = tmp_path / "m"
    assert main(["train", "--logs", str(storage.log_path), "--format", "hdfs", "--detector", "knn", "--save",
                 str(model), "--quiet"]) == 0
    # the same system's logs with lines the model never saw appended
    mixed = tmp_path / "mixed.log"
    lines = storage.log_path.read_text().splitlines()
    extra = [f"081109 23{i % 6}000 {i} INFO dfs.Brand$New: disk {i} of rack r{i % 3} is on fire" for i in range(40)]
    mixed.write_text("\n".join(lines[: len(lines) // 3] + extra) + "\n")
    out = tmp_path / "a.csv"
    assert main(["detect", str(mixed), "--model", str(model), "--out", str(out), "--quiet"]) == 0
    s = json.loads(summary_path(out).read_text())
    assert s["unknown"]["lines"] == 40
    assert len(s["new_templates"]) == 1 and s["new_templates"][0]["count"] == 40
    assert "on fire" in s["new_templates"][0]["text"] and sum(v for _, v in s["new_templates"][0]["buckets"]) == 40
    assert s["vanished_total"] >= 0 and all(v["training_count"] for v in s["vanished"])
    numeric = [p for t in s["templates"].values() for p in t["parameters"] if "numeric" in p]
    assert numeric and all(p["numeric"]["min"] <= p["numeric"]["median"] <= p["numeric"]["max"] for p in numeric)
