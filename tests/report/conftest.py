"""Real runs of logad on simulated logs, shared by the report tests (made once per session)."""

from __future__ import annotations

import json

import pytest

from logad.cli import main


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    """evaluate (knn, JSON + report), train + detect (knn, CSV + summary + report), parse, on the
    built-in simulator's logs; plus hand-made tune and transfer results of the real shapes."""
    from logad.demo.simulator import simulate_all

    root = tmp_path_factory.mktemp("report-runs")
    sim = simulate_all(root / "sim", scale=0.25, seed=3)
    storage, compute = sim["storage"], sim["compute"]
    out = {"root": root}
    out["evaluate_json"] = root / "eval.json"
    out["evaluate_html"] = root / "eval.html"
    assert main(["evaluate", "--logs", str(storage.log_path), "--format", "hdfs", "--labels",
                 str(storage.directory / "anomaly_label.csv"), "--detector", "knn", "--json", str(out["evaluate_json"]),
                 "--report", str(out["evaluate_html"]), "--quiet"]) == 0
    model = root / "model"
    assert main(["train", "--logs", str(compute.log_path), "--format", "bgl", "--group", "entity", "--window-size", "20",
                 "--entity-field", "Node", "--detector", "knn", "--save", str(model), "--quiet"]) == 0
    out["model"] = model
    out["detect_csv"] = root / "alarms.csv"
    out["detect_html"] = root / "alarms.html"
    assert main(["detect", str(compute.log_path), "--model", str(model), "--out", str(out["detect_csv"]),
                 "--report", str(out["detect_html"]), "--quiet"]) == 0
    out["parse_csv"] = root / "parsed.csv"
    assert main(["parse", str(storage.log_path), "--format", "hdfs", "--out", str(out["parse_csv"])]) == 0
    out["tune_dir"] = root / "tune"
    out["tune_dir"].mkdir()
    (out["tune_dir"] / "trials.json").write_text(json.dumps(TRIALS))
    (out["tune_dir"] / "best.json").write_text(json.dumps(BEST))
    out["transfer_json"] = root / "transfer.json"
    out["transfer_json"].write_text(json.dumps(transfer_result()))
    out["oracle_json"] = root / "oracle.json"
    out["oracle_json"].write_text(json.dumps(transfer_result(oracle=True)))
    return out


def _trial(i, status, objective, k, steps=()):
    return {"index": i, "trial_id": f"t{i}", "config": {"n_neighbors": k, "features": "counts"}, "objective": objective,
            "status": status, "iterations": [{"step": s, "objective": v} for s, v in steps], "seconds": 1.0 + i,
            "error": "boom" if status == "error" else None, "reports": len(steps) + 1}


TRIALS = {
    "kind": "logad-tune-trials", "detector": "knn", "objective": {"name": "f1", "mode": "max", "computed_on": "validation"},
    "fixed": {}, "mode": "max", "settings": {"num_samples": 4}, "experiment_path": None, "seconds": 12.0, "best_trial": 1,
    "stopped_early": 1, "space": {"n_neighbors": {"kind": "randint", "low": 1, "high": 20}},
    "trials": [_trial(0, "completed", 0.91, 3, [(1, 0.8), (2, 0.91)]), _trial(1, "completed", 0.97, 7, [(1, 0.9), (2, 0.97)]),
               _trial(2, "stopped-early", 0.5, 15, [(1, 0.5)]), _trial(3, "error", None, 1)],
}
BEST = {"kind": "logad-tune-best", "version": 1, "detector": "knn", "params": {"n_neighbors": 7}, "config": {"n_neighbors": 7},
        "objective": {"name": "f1", "mode": "max", "value": 0.97, "computed_on": "validation", "trial": 1,
                      "status": "completed"},
        "search": {"trials": 4, "completed": 2, "stopped_early": 1, "errors": 1, "seconds": 12.0}, "test_evaluated": False}


def transfer_result(oracle: bool = False) -> dict:
    def fig(f1):
        return {"metrics": {"f1": f1, "precision": f1, "recall": 1.0, "fpr": 0.05, "roc_auc": 0.9, "n": 100,
                            "n_anomalous": 10}, "counts": {"tp": 10, "fp": 4, "tn": 86, "fn": 0}}

    hist = {"history": {"train_loss": [0.5, 0.3, 0.2], "val_loss": [0.6, 0.4, 0.45]},
            "checkpoint": {"policy": "oracle-on-test" if oracle else "validation", "epoch": 2}}
    out = {"method": "metalog", "protocol": "original" if oracle else "honest", "params": {},
           "setup": {"sources": [{"name": "hdfs"}], "target": {"name": "openstack"},
                     "target_split": {"protocol": "stratified-shuffle", "test": {"sequences": 100, "anomalous": 10}},
                     "target_labels": {"amount": 0.01, "normal_amount": 0.01, "labelled_sequences": 34,
                                       "labelled_anomalies": 4, "unlabelled_training_sequences": 3000}, "seed": 0},
           **fig(0.8), "threshold": {"value": 0.5, "policy": "fixed", "source": "the paper's rule"},
           "baselines": {"target-only": fig(0.3), "source-only": fig(0.2)},
           "details": {"method": hist, "baselines": {"target-only": hist}, "checkpoint_rule": "validation loss",
                       "notes": []}, "seconds": 3.0}
    if oracle:
        out["policy"] = "oracle-on-test"
        out["checkpoint"] = hist["checkpoint"]
    return out
