"""`logad tune`: search spaces, validation-only objectives, Ray Tune run LOCALLY with a few trials.

Ray is started once for the module (2 CPUs, no dashboard) and shut down at the end; the tests that
need it skip when Ray is not installed.
"""

from __future__ import annotations

import json
import math
import random
import sys

import numpy as np
import pytest

from logad.errors import InputError, InvalidParameterError, MissingDependencyError, UnknownNameError
from logad.records import Sequence
from logad.splitting import Split
from logad.tuning import (
    SearchSettings,
    TuningError,
    detector_trial,
    load_params_file,
    metric_of,
    parse_dimension,
    parse_space,
    run_search,
    tune_detector,
    without_test,
)
from logad.tuning.objective import check_objective
from logad.tuning.space import check_space
from tests.detectors.test_conformance import ANOMALIES, NORMAL, TEST_ANOMALIES, TEST_NORMAL


def make_split() -> Split:
    return Split(
        train=NORMAL[:300],
        validation=NORMAL[300:] + ANOMALIES[:20],
        test=TEST_NORMAL[:100] + TEST_ANOMALIES[:20],
        protocol="synthetic",
    )


class Recorder:
    def __init__(self) -> None:
        self.reports: list[tuple[float, int]] = []

    def report(self, value: float, step: int) -> None:
        self.reports.append((value, step))


# ----------------------------------------------------------------------------- spaces (no Ray)


def test_parse_space_kinds():
    space = parse_space([
        "hidden=choice:32,64,128", "lr=loguniform:1e-4:1e-2", "dropout=uniform:0.1:0.5",
        "n_neighbors=randint:1:20", "window=grid:5,10,20", "features=choice:counts,tfidf", "k=lograndint:1:64",
    ])
    assert space["hidden"].kind == "choice" and space["hidden"].values == (32, 64, 128)
    assert space["lr"].low == 1e-4 and space["lr"].high == 1e-2
    assert space["n_neighbors"].corners() == [1, 20]  # both ends included
    assert space["window"].kind == "grid" and space["window"].values == (5, 10, 20)
    assert space["features"].values == ("counts", "tfidf")
    assert parse_dimension(space["lr"].spec) == space["lr"]  # the text form parses back
    assert parse_dimension("top-g=choice:1,2").name == "top_g"  # like --param


@pytest.mark.parametrize(
    "spec, match",
    [
        ("hidden", "NAME=KIND:ARGS"),
        ("hidden=choise:32,64", "did you mean 'choice'"),
        ("hidden=choice", "needs arguments"),
        ("hidden=choice:32,,64", "empty value"),
        ("hidden=choice:32,32", "repeated"),
        ("lr=uniform:0.5:0.1", "LO must be < HI"),
        ("lr=uniform:1", "two bounds"),
        ("lr=uniform:a:1", "not a number"),
        ("lr=loguniform:0:1", "LO > 0"),
        ("n=randint:1.5:3", "integer bounds"),
        ("n=lograndint:0:8", "LO >= 1"),
        ("lr=uniform:0:inf", "finite"),
        ("1x=choice:1,2", "not a parameter name"),
    ],
)
def test_parse_space_errors(spec, match):
    with pytest.raises(InvalidParameterError, match=match):
        parse_dimension(spec)


def test_parse_space_refuses_a_name_twice_and_nothing():
    with pytest.raises(InvalidParameterError, match="twice"):
        parse_space(["k=choice:1,2", "k=randint:1:4"])
    with pytest.raises(InvalidParameterError, match="at least one"):
        parse_space([])


def test_check_space_names_values_and_overlap():
    with pytest.raises(InvalidParameterError, match=r"no parameter 'n_neighbour'.*valid: .*n_neighbors"):
        check_space("knn", parse_space(["n_neighbour=randint:1:5"]), {})
    with pytest.raises(InvalidParameterError, match=r"n_neighbors=randint:0:5.*value 0 is refused.*n_neighbors"):
        check_space("knn", parse_space(["n_neighbors=randint:0:5"]), {})
    with pytest.raises(InvalidParameterError, match="features=choice:counts,bogus"):
        check_space("knn", parse_space(["features=choice:counts,bogus"]), {})
    with pytest.raises(InvalidParameterError, match="both fixed"):
        check_space("knn", parse_space(["n_neighbors=randint:1:5"]), {"n_neighbors": 3})
    with pytest.raises(InvalidParameterError, match="--param"):
        check_space("knn", parse_space(["n_neighbors=randint:1:5"]), {"features": "bogus"})
    with pytest.raises(UnknownNameError, match="did you mean"):
        check_space("knnn", parse_space(["n_neighbors=randint:1:5"]), {})
    check_space("knn", parse_space(["n_neighbors=randint:1:5", "features=choice:counts,tfidf"]), {})


# ----------------------------------------------------------------------------- objectives (no Ray)


def test_check_objective_needs_the_right_validation_data():
    split = make_split()
    check_objective("f1", split, "knn", {})
    normal_only = Split(split.train, NORMAL[300:], split.test, "x")
    with pytest.raises(InvalidParameterError, match=r"needs anomalies in the validation part.*val-loss"):
        check_objective("f1", normal_only, "knn", {})
    with pytest.raises(InvalidParameterError, match="both classes"):
        check_objective("roc-auc", Split(split.train, ANOMALIES[:5], split.test, "x"), "knn", {})
    with pytest.raises(InvalidParameterError, match="empty"):
        check_objective("pr-auc", Split(split.train, [], split.test, "x"), "knn", {})
    with pytest.raises(InvalidParameterError, match="deep detector"):
        check_objective("val-loss", normal_only, "knn", {})
    with pytest.raises(UnknownNameError, match="objective"):
        check_objective("accuracy", split, "knn", {})
    # val-loss works on normal-only validation (the deep detector holds out its own share)
    check_objective("val-loss", normal_only, "deeplog", {})
    with pytest.raises(InvalidParameterError, match="val_fraction"):
        check_objective("val-loss", normal_only, "deeplog", {"val_fraction": 0.0})
    with pytest.raises(InvalidParameterError, match="do not search it"):
        check_objective("val-loss", normal_only, "deeplog", {}, ("val_fraction",))


def test_metric_of():
    labels = np.array([0, 0, 0, 1, 1])
    scores = np.array([0.1, 0.2, 0.3, 0.9, 0.8])
    assert metric_of("f1", scores, labels) == 1.0
    assert metric_of("roc-auc", scores, labels) == 1.0
    assert metric_of("pr-auc", scores, labels) == 1.0
    assert metric_of("roc-auc", np.array([0.1, 0.2, 0.3, -np.inf, np.inf]), labels) == 0.5
    assert math.isnan(metric_of("roc-auc", scores, np.zeros(5, dtype=int)))
    assert math.isnan(metric_of("f1", np.array([np.nan] * 5), labels))


def test_trial_never_sees_test_and_ignores_test_labels():
    split = make_split()
    trial_split = without_test(split)
    assert trial_split.test == [] and trial_split.train == split.train and trial_split.validation == split.validation
    assert split.test  # the original is untouched
    rng = random.Random(5)
    shuffled = Split(
        split.train, split.validation,
        [Sequence(s.sequence_id, s.template_ids, label=rng.randint(0, 1)) for s in split.test], "synthetic",
    )
    for objective in ("f1", "roc-auc", "pr-auc"):
        a = detector_trial({"n_neighbors": 3}, Recorder(), detector="knn", fixed={}, split=split, objective=objective)
        b = detector_trial({"n_neighbors": 3}, Recorder(), detector="knn", fixed={}, split=shuffled, objective=objective)
        assert a == b and 0.0 <= a <= 1.0


def test_tune_detector_ships_a_split_without_test(monkeypatch, tmp_path):
    """What leaves the driver for the trials: train and validation only, never the test part."""
    import logad.tuning.tuner as tuner
    from logad.tuning.search import SearchResult, TrialRecord

    captured = {}

    def fake_run_search(trainable, space, *, mode, settings, data, storage_path, name, progress):
        captured.update(data)
        rec = TrialRecord(0, "t0", {"n_neighbors": 2}, 0.5, "completed", [], 0.1, None, 1)
        return SearchResult([rec], mode, rec, settings, None, 0.1, {})

    monkeypatch.setattr(tuner, "run_search", fake_run_search)
    split = make_split()
    result = tune_detector(split, "knn", parse_space(["n_neighbors=randint:1:4"]), out=tmp_path)
    assert captured["split"].test == []
    assert captured["split"].train == split.train and captured["split"].validation == split.validation
    assert result.best_params == {"n_neighbors": 2, "features": "counts"}  # defaults recorded too
    best = json.loads((tmp_path / "best.json").read_text())
    assert best["test_evaluated"] is False and best["objective"]["computed_on"] == "validation"


def test_deep_trial_reports_every_epoch_without_changing_training():
    from tests.conftest import needs_torch

    needs_torch()
    from logad.detectors import get_detector

    tiny = {"epochs": 3, "hidden": 8, "embed_dim": 4, "layers": 1, "batch_size": 64, "patience": 5}
    split = Split(NORMAL[:150], NORMAL[300:340] + ANOMALIES[:8], [], "synthetic")
    rec = Recorder()
    value = detector_trial({}, rec, detector="deeplog", fixed=tiny, split=split, objective="val-loss")
    assert [s for _, s in rec.reports] == [1, 2, 3]
    losses = [v for v, _ in rec.reports]
    assert losses == sorted(losses, reverse=True) and value == losses[-1]  # best-so-far, then the best
    plain = get_detector("deeplog", **tiny).fit(split.train)
    assert value == min(plain.history_.val_loss)
    # f1 objective: the current weights are scored on validation every epoch; the final value is
    # the objective of the restored best weights, as a plain fit gives
    rec = Recorder()
    f1 = detector_trial({}, rec, detector="deeplog", fixed=tiny, split=split, objective="f1")
    assert [s for _, s in rec.reports] == [1, 2, 3]
    val = split.validation
    assert f1 == metric_of("f1", plain.score(val), np.array([s.label for s in val]))


# ----------------------------------------------------------------------------- params files (no Ray)


def test_load_params_file(tmp_path):
    from logad.tuning.tuner import resolve_detector

    best = tmp_path / "best.json"
    best.write_text(json.dumps({"kind": "logad-tune-best", "version": 1, "detector": "knn", "params": {"n_neighbors": 4}}))
    assert load_params_file(best) == ("knn", {"n_neighbors": 4})
    plain = tmp_path / "p.json"
    plain.write_text(json.dumps({"n_neighbors": 7}))
    assert load_params_file(plain) == (None, {"n_neighbors": 7})
    with pytest.raises(InputError, match="does not exist"):
        load_params_file(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="JSON object"):
        load_params_file(tmp_path / "bad.json")
    (tmp_path / "trials.json").write_text(json.dumps({"kind": "logad-tune-trials"}))
    with pytest.raises(InputError, match="best.json"):
        load_params_file(tmp_path / "trials.json")
    with pytest.raises(InvalidParameterError, match="does not match"):
        resolve_detector("pca", "knn")
    assert resolve_detector(None, "knn") == "knn" and resolve_detector(None, None, "knn") == "knn"


def test_best_trial_prefers_completed_and_refuses_when_none_has_an_objective():
    from logad.tuning.search import TrialRecord, best_trial, check_best

    done = TrialRecord(0, "t0", {"x": 1}, 0.4, "completed")
    tie = TrialRecord(1, "t1", {"x": 2}, 0.4, "completed")
    stopped = TrialRecord(2, "t2", {"x": 3}, 0.9, "stopped-early")  # higher, but from a cut-short trial
    nan = TrialRecord(3, "t3", {"x": 4}, math.nan, "completed")
    assert best_trial([stopped, done, tie, nan], "max") is done  # ties: the earliest trial
    assert best_trial([stopped, nan], "max") is stopped
    assert best_trial([done, TrialRecord(4, "t4", {}, 0.1, "completed")], "min").index == 4
    failed = TrialRecord(5, "t5", {"x": 5}, None, "error", error="ValueError: this configuration cannot run")
    with pytest.raises(TuningError, match="no trial of 2 produced an objective; first error: ValueError: this"):
        check_best([failed, nan], "max")


def test_settings_are_checked():
    for bad, match in [
        ({"num_samples": 0}, "num_samples"), ({"scheduler": "pbt"}, "scheduler"),
        ({"grace_period": 5, "max_t": 2}, "grace_period"), ({"reduction_factor": 1}, "reduction_factor"),
        ({"cpus": 2, "address": "auto"}, "address"), ({"cpus_per_trial": 0}, "cpus_per_trial"),
    ]:
        with pytest.raises(InvalidParameterError, match=match):
            SearchSettings(**bad).validate()


def test_missing_ray_names_the_extra(monkeypatch, tmp_path):
    from logad.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    monkeypatch.setitem(sys.modules, "ray.tune", None)
    with pytest.raises(MissingDependencyError, match=r"logad\[distributed\]"):
        run_search(lambda config, reporter: 0.0, {"x": parse_dimension("x=choice:1,2")}, mode="max")
    with pytest.raises(MissingDependencyError, match="distributed"):
        tune_detector(make_split(), "knn", parse_space(["n_neighbors=randint:1:4"]))
    logs = tmp_path / "HDFS.log"
    logs.write_text(
        "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_1 terminating\n"
    )
    rc = main(["tune", "--logs", str(logs), "--format", "hdfs", "--detector", "knn", "--space",
               "n_neighbors=randint:1:4", "--out", str(tmp_path / "o"), "--quiet"])
    assert rc == 2


# ----------------------------------------------------------------------------- Ray Tune, locally


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


def _tune_knn(split, out, seed=3):
    return tune_detector(
        split, "knn", parse_space(["n_neighbors=randint:1:20", "features=choice:counts,tfidf"]),
        objective="f1", settings=SearchSettings(num_samples=2, seed=seed), out=out,
        description={"dataset": "synthetic"},
    )


def test_ray_tune_two_trials_files_and_test_labels_irrelevant(ray_local, tmp_path):
    split = make_split()
    result = _tune_knn(split, tmp_path / "a")
    trials = json.loads((tmp_path / "a" / "trials.json").read_text())
    best = json.loads((tmp_path / "a" / "best.json").read_text())
    assert (tmp_path / "a" / "ray").is_dir()  # Ray's own experiment folder
    assert len(trials["trials"]) == 2
    for t in trials["trials"]:
        assert t["status"] == "completed" and t["reports"] == 1 and t["seconds"] > 0
        assert set(t["config"]) == {"n_neighbors", "features"} and 1 <= t["config"]["n_neighbors"] <= 20
        assert 0.0 <= t["objective"] <= 1.0
        # the objective is what a trial computes on validation, reproducible outside Ray
        assert t["objective"] == detector_trial(t["config"], Recorder(), detector="knn", fixed={}, split=split,
                                                objective="f1")
    top = max(trials["trials"], key=lambda t: (t["objective"], -t["index"]))
    assert best["config"] == top["config"] and best["objective"]["value"] == top["objective"]
    assert best["detector"] == "knn" and best["dataset"] == "synthetic"
    assert best["params"] == top["config"]  # knn has just these two parameters
    assert best["split"]["test"]["sequences"] == len(split.test) and best["test_evaluated"] is False
    assert load_params_file(tmp_path / "a" / "best.json") == ("knn", result.best_params)

    # the same seed with RANDOM TEST LABELS gives the same trials: configs (seeded searcher) and objectives
    rng = random.Random(0)
    noisy = Split(
        split.train, split.validation,
        [Sequence(s.sequence_id, s.template_ids, label=rng.randint(0, 1)) for s in split.test], "synthetic",
    )
    again = json.loads((_tune_knn(noisy, tmp_path / "b").out / "trials.json").read_text())
    assert [(t["config"], t["objective"]) for t in again["trials"]] == [
        (t["config"], t["objective"]) for t in trials["trials"]
    ]


def test_ray_tune_deep_detector_with_asha_stops_a_bad_trial(ray_local, tmp_path):
    from tests.conftest import needs_torch

    needs_torch()
    split = Split(NORMAL[:150], NORMAL[300:], [], "synthetic")  # normal-only validation: val-loss works
    # one trial at a time (2 CPUs each) so ASHA's decision is fixed: the good learning rate runs first,
    # the tiny one is worse at the first rung and is stopped there
    result = tune_detector(
        split, "deeplog", parse_space(["lr=grid:0.02,0.00001"]), objective="val-loss",
        fixed={"epochs": 3, "hidden": 8, "embed_dim": 4, "layers": 1, "batch_size": 64, "patience": 5},
        settings=SearchSettings(num_samples=1, max_t=3, grace_period=1, reduction_factor=2, cpus_per_trial=2),
        out=tmp_path,
    )
    good, bad = result.search.trials
    assert good.config == {"lr": 0.02} and good.status == "completed"
    assert [it["step"] for it in good.iterations] == [1, 2, 3] and good.reports == 4  # + the final report
    assert good.objective == min(it["objective"] for it in good.iterations)
    assert bad.status == "stopped-early" and [it["step"] for it in bad.iterations] == [1]
    assert bad.iterations[0]["objective"] > good.iterations[0]["objective"]
    assert result.best_params["lr"] == 0.02 and result.best_params["seed"] == 0  # every trial seeded
    assert result.best_params["window"] == 10  # defaults recorded too: a retrain does not depend on them
    best = json.loads((tmp_path / "best.json").read_text())
    assert best["search"]["stopped_early"] == 1 and best["objective"]["mode"] == "min"


def _custom_trainable(config, reporter, *, values, offset):
    """A user objective: reports two steps, fails on request, returns from shipped data."""
    if config["x"] == "fail":
        raise ValueError("this configuration cannot run")
    reporter.report(0.0, 1)
    reporter.report(0.5, 2)
    return float(sum(values)) + offset + float(config["x"])


def test_run_search_with_a_custom_objective_and_a_failing_trial(ray_local, tmp_path):
    space = {"x": parse_dimension("x=grid:1,2,fail")}
    result = run_search(
        _custom_trainable, space, mode="max", settings=SearchSettings(num_samples=1, scheduler="none"),
        data={"values": list(range(1000)), "offset": 0.25}, storage_path=tmp_path,
    )
    by_x = {str(t.config["x"]): t for t in result.trials}
    assert by_x["2"].objective == sum(range(1000)) + 2.25 and by_x["2"].status == "completed"
    assert [it["step"] for it in by_x["1"].iterations] == [1, 2]
    assert by_x["fail"].status == "error" and "cannot run" in by_x["fail"].error
    assert result.best.config == {"x": 2}


@pytest.fixture(scope="module")
def sim_logs(tmp_path_factory):
    from logad.demo.simulator import simulate_storage_cluster

    return simulate_storage_cluster(tmp_path_factory.mktemp("tune-sim"), n_blocks=300, anomaly_rate=0.1, seed=1)


def test_cli_tune_then_params_file_retrains_the_best(ray_local, sim_logs, tmp_path, capsys):
    from logad.cli import main

    source = ["--logs", str(sim_logs.log_path), "--format", "hdfs", "--labels", str(sim_logs.directory / "anomaly_label.csv")]
    out = tmp_path / "tune"
    rc = main(["tune", *source, "--detector", "knn", "--space", "n_neighbors=randint:1:10", "--num-samples", "2",
               "--seed", "1", "--out", str(out), "--retrain", "--quiet"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "| trial |" in printed and "best (trial" in printed and "computed once, after the search" in printed
    best = json.loads((out / "best.json").read_text())
    assert best["command"][:2] == ["logad", "tune"] and best["dataset"] == "HDFS.log"
    retrain = json.loads((out / "retrain.json").read_text())
    assert retrain["tuning"]["config"] == best["config"]
    # evaluate --params-file fits the same configuration: the same test figures
    js = tmp_path / "ev.json"
    assert main(["evaluate", *source, "--params-file", str(out / "best.json"), "--json", str(js), "--quiet"]) == 0
    ev = json.loads(js.read_text())
    assert ev["detector"] == {"name": "knn", "params": best["params"]} and ev["metrics"] == retrain["metrics"]
    # train --params-file saves that configuration; an explicit --param overrides the file
    model = tmp_path / "model"
    assert main(["train", *source, "--params-file", str(out / "best.json"), "--param", "features=tfidf",
                 "--save", str(model), "--quiet"]) == 0
    saved = json.loads((model / "detector" / "config.json").read_text())
    assert saved["name"] == "knn" and saved["params"] == {**best["params"], "features": "tfidf"}
    capsys.readouterr()
    assert main(["evaluate", *source, "--detector", "pca", "--params-file", str(out / "best.json"), "--quiet"]) == 2
    assert "does not match" in capsys.readouterr().err


def test_cli_tune_refuses_bad_input_before_starting(tmp_path, sim_logs, capsys):
    from logad.cli import main

    source = ["--logs", str(sim_logs.log_path), "--format", "hdfs", "--labels", str(sim_logs.directory / "anomaly_label.csv")]
    for extra, match in [
        (["--space", "n_neighbors=between:1:3"], "unknown kind"),
        (["--space", "neighbours=randint:1:3"], "valid: "),
        (["--space", "n_neighbors=randint:1:3", "--grace-period", "3", "--max-t", "2"], "grace_period"),
        (["--space", "n_neighbors=randint:1:3", "--objective", "val-loss"], "deep detector"),
        (["--space", "n_neighbors=randint:1:3", "--objective", "accuracy"], "unknown objective"),
        (["--space", "n_neighbors=randint:1:3", "--cpus", "2", "--address", "auto"], "address"),
    ]:
        assert main(["tune", *source, "--detector", "knn", *extra, "--out", str(tmp_path / "o"), "--quiet"]) == 2
        assert match in capsys.readouterr().err
