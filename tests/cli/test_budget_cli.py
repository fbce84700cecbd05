"""`--alarm-budget` on evaluate, bench and train: the requested budget beside the achieved FPR."""

from __future__ import annotations

import json

import pytest

from logad.cli import main
from tests.cli.test_cli import one_line_error


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    from logad.demo.simulator import simulate_all

    return simulate_all(tmp_path_factory.mktemp("sim"), scale=0.25, seed=1)


def _storage(sim):
    storage = sim["storage"]
    return ["--logs", str(storage.log_path), "--format", "hdfs", "--labels", str(storage.directory / "anomaly_label.csv")]


def test_evaluate_with_an_alarm_budget_writes_budget_and_fpr(sim, tmp_path, capsys):
    js, html = tmp_path / "r.json", tmp_path / "r.html"
    assert main(["evaluate", *_storage(sim), "--detector", "knn", "--alarm-budget", "0.05", "--budget-folds", "3",
                 "--json", str(js), "--report", str(html), "--quiet"]) == 0
    r = json.loads(js.read_text())
    assert r["threshold"]["policy"] == "alarm-budget" and r["threshold"]["budget"] == 0.05
    assert r["threshold"]["folds"] == 3 and "fpr" in r["metrics"]
    assert "(budget 0.05)" in capsys.readouterr().out
    page = html.read_text()  # the report gives the requested budget beside the achieved FPR
    assert "budget 0.05" in page and "alarm budget 0.05: the conformal 0.95 quantile of out-of-fold scores" in page


def test_alarm_budget_and_another_policy_are_refused(sim, capsys):
    assert main(["evaluate", *_storage(sim), "--detector", "knn", "--alarm-budget", "0.05",
                 "--threshold-policy", "fixed:1", "--quiet"]) == 2
    assert "either --alarm-budget or --threshold-policy" in one_line_error(capsys)
    assert main(["evaluate", *_storage(sim), "--detector", "knn", "--alarm-budget", "1.5", "--quiet"]) == 2
    assert "budget" in one_line_error(capsys)


def test_bench_with_an_alarm_budget(tmp_path):
    data = tmp_path / "sessions"
    data.mkdir()
    normal = ["1 2 3 3 4", "1 2 3 4", "1 2 3 3 4", "1 2 2 3 4"]
    (data / "hdfs_train").write_text("".join(f"blk_{i},{normal[i % 4]}\n" for i in range(80)))
    (data / "hdfs_test_normal").write_text("".join(f"blk_n{i},{normal[i % 4]}\n" for i in range(30)))
    (data / "hdfs_test_abnormal").write_text("".join(f"blk_a{i},1 2 9 4\n" for i in range(10)))
    js = tmp_path / "all.json"
    assert main(["bench", "--datasets", f"hdfs-sessions={data}", "--detectors", "knn", "--alarm-budget", "0.1",
                 "--json", str(js), "--quiet"]) == 0
    (r,) = json.loads(js.read_text())["results"]
    assert r["threshold"]["budget"] == 0.1 and r["threshold"]["n_scores"] == 80
    from logad.report.evaluate import bench_context

    (row,) = bench_context({"results": [r]})["rows"]
    assert row[7].endswith("(budget 0.1)")  # FPR beside the budget


def test_train_with_an_alarm_budget_fits_on_every_normal_sequence(sim, tmp_path, capsys):
    compute = sim["compute"]
    model = tmp_path / "model"
    assert main(["train", "--logs", str(compute.log_path), "--format", "bgl", "--group", "entity", "--window-size",
                 "20", "--entity-field", "Node", "--detector", "knn", "--alarm-budget", "0.01", "--save", str(model),
                 "--quiet"]) == 0
    info = json.loads((model / "model.json").read_text())["threshold_info"]
    assert info["policy"] == "alarm-budget" and info["budget"] == 0.01 and "holdout" not in info
    assert info["fitted_on"] == info["n_scores"]  # no holdout: every normal sequence fits and calibrates
    assert "alarm budget 0.01" in capsys.readouterr().out
    assert main(["train", "--logs", str(compute.log_path), "--format", "bgl", "--detector", "knn", "--quiet",
                 "--alarm-budget", "0.01", "--quantile", "0.99", "--save", str(tmp_path / "m2")]) == 2
    assert "either --alarm-budget" in one_line_error(capsys)


def test_train_defaults_to_a_tenth_of_a_percent_budget(sim, tmp_path):
    compute = sim["compute"]
    model = tmp_path / "model"
    assert main(["train", "--logs", str(compute.log_path), "--format", "bgl", "--group", "entity", "--window-size",
                 "20", "--entity-field", "Node", "--detector", "knn", "--save", str(model), "--quiet"]) == 0
    info = json.loads((model / "model.json").read_text())["threshold_info"]
    assert info["policy"] == "alarm-budget" and info["budget"] == 0.001 and info["fold_order"] == "shuffled"


def test_train_cross_conformal_saves_the_fold_models_and_detect_loads_them(sim, tmp_path):
    compute = sim["compute"]
    model = tmp_path / "model"
    assert main(["train", "--logs", str(compute.log_path), "--format", "bgl", "--group", "entity", "--window-size",
                 "20", "--entity-field", "Node", "--detector", "knn", "--alarm-budget", "0.01", "--budget-method",
                 "cross-conformal", "--budget-folds", "3", "--save", str(model), "--quiet"]) == 0
    meta = json.loads((model / "model.json").read_text())
    assert meta["detector"] == "cross-conformal" and meta["threshold_info"]["method"] == "cross-conformal"
    alarms = tmp_path / "alarms.csv"
    assert main(["detect", str(compute.log_path), "--model", str(model), "--out", str(alarms), "--quiet"]) == 0
    assert alarms.read_text().count("\n") > 1
