"""`logad transfer`: the standard cross-system experiment from the command line (tiny MLAD, hashing encoder)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from logad.cli import main


def _sessions_folder(folder, prefix: str, seed: int, n_normal: int = 60, n_anom: int = 16):
    """A session-files dataset (DeepLog layout) of one synthetic system."""
    rng = random.Random(seed)
    folder.mkdir()
    normal = []
    for i in range(n_normal):
        body = [1] + [2] * rng.choice((1, 2, 3)) + [3] * rng.choice((1, 2)) + ([4] if rng.random() < 0.5 else [])
        normal.append(f"n{i}," + " ".join(map(str, body)) + "\n")
    abnormal = [f"a{i}," + ("1 2 5 6 6" if i % 2 else "1 6 2 2 5 3") + "\n" for i in range(n_anom)]
    (folder / f"{prefix}_train").write_text("".join(normal[:20]), encoding="utf-8")
    (folder / f"{prefix}_test_normal").write_text("".join(normal[20:]), encoding="utf-8")
    (folder / f"{prefix}_test_abnormal").write_text("".join(abnormal), encoding="utf-8")
    return folder


TINY = ["encoder=hashing", "d_model=16", "n_heads=2", "n_layers=1", "d_ff=32", "n_components=2", "epochs=3",
        "batch_size=32", "alpha=1.0"]


def test_transfer_prints_method_beside_both_baselines_and_writes_json(tmp_path, capsys):
    pytest.importorskip("torch")
    pytest.importorskip("entmax")
    src = _sessions_folder(tmp_path / "src", "hdfs", 0)
    tgt = _sessions_folder(tmp_path / "tgt", "openstack", 1)
    out = tmp_path / "out" / "transfer.json"
    argv = ["transfer", "--method", "mlad", "--source", f"hdfs-sessions={src}", "--target",
            f"openstack-sessions={tgt}", "--target-labels", "0.2", "--target-normal-labels", "0.5",
            "--split", "pooled", "--json", str(out), "--quiet"]
    for p in TINY:
        argv += ["--param", p]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    for name in ("mlad", "target-only", "source-only"):
        assert name in printed
    result = json.loads(out.read_text())
    assert result["method"] == "mlad" and result["protocol"] == "honest"
    assert 0.0 <= result["metrics"]["f1"] <= 1.0 and "tp" in result["counts"]
    assert set(result["baselines"]) >= {"target-only", "source-only"}
    for base in result["baselines"].values():
        assert 0.0 <= base["metrics"]["f1"] <= 1.0
    # scored on the target's whole test part (about 30 % of its 76 sessions)
    test_part = result["setup"]["target_split"]["test"]
    assert sum(result["counts"].values()) == test_part["sequences"] and 20 <= test_part["sequences"] <= 24
    assert result["counts"]["tp"] + result["counts"]["fn"] == test_part["anomalous"]
    assert result["setup"]["target_labels"]["labelled_anomalies"] >= 1
    assert result["setup"]["target_labels"]["normal_amount"] == 0.5


def test_transfer_bad_arguments(tmp_path, capsys):
    src = _sessions_folder(tmp_path / "src", "hdfs", 0)
    assert main(["transfer", "--method", "metalgo", "--source", f"hdfs-sessions={src}", "--target",
                 f"openstack-sessions={src}", "--target-labels", "0.1"]) == 2
    assert "metalog" in capsys.readouterr().err  # did you mean
    assert main(["transfer", "--method", "mlad", "--source", f"hdfs-sessions={src}", "--target",
                 f"openstack-sessions={src}", "--target-labels", "0"]) == 2
    assert "--target-labels" in capsys.readouterr().err
    assert main(["transfer", "--method", "crosyslog", "--source", f"hdfs-sessions={src}", "--target",
                 f"openstack-sessions={src}", "--target-labels", "10"]) == 2
    assert "no log entries" in capsys.readouterr().err
    assert main(["transfer", "--method", "crosyslog", "--source", f"hdfs-sessions={src}", "--target",
                 f"openstack-sessions={src}", "--target-labels", "10", "--target-normal-labels", "0.5"]) == 2
    assert "--target-normal-labels" in capsys.readouterr().err
    assert main(["transfer", "--method", "crosyslog", "--source", f"hdfs-sessions={src}", "--target",
                 f"openstack-sessions={src}", "--target-labels", "10", "--split-groups", "(x)"]) == 2
    assert "--split-groups" in capsys.readouterr().err
    assert main(["transfer", "--method", "mlad", "--source", f"hdfs-sessions={tmp_path / 'missing'}", "--target",
                 f"openstack-sessions={src}", "--target-labels", "0.1"]) == 2
    assert "missing" in capsys.readouterr().err


def test_transfer_passes_per_node_windows_to_every_system(monkeypatch):
    import logad.pipeline.systems as data

    seen = []

    def fake_load_system(spec, **kw):
        seen.append((spec, kw["per_entity"]))
        raise SystemExit(0)  # stop after the first system: only the argument matters here

    monkeypatch.setattr(data, "load_system", fake_load_system)
    with pytest.raises(SystemExit):
        main(["transfer", "--method", "metalog", "--source", "bgl=/x", "--target", "thunderbird=/y",
              "--target-labels", "0.01", "--per-node"])
    assert seen == [("bgl=/x", True)]


def _fake_method(monkeypatch):
    """A method that trains nothing: the figures of a model that alarms on every sequence."""
    import logad.experiments.transfer as tr

    def run(setup, params, progress):
        test = setup.target_split.test
        y = np.array([s.label for s in test])
        return {**tr.metrics_of(y, np.ones(len(test)), np.ones(len(test), dtype=bool)), "baselines": {}}

    monkeypatch.setattr(tr, "method_runner", lambda name: run)


def _session_transfer(tmp_path, monkeypatch, *extra: str) -> tuple[list[str], Path]:
    """(argv, result path) of an hdfs -> openstack session-file transfer with a method that trains nothing."""
    _fake_method(monkeypatch)
    src = _sessions_folder(tmp_path / "src", "hdfs", 0)
    tgt = _sessions_folder(tmp_path / "tgt", "openstack", 1)
    out = tmp_path / "t.json"
    argv = ["transfer", "--method", "mlad", "--source", f"hdfs-sessions={src}", "--target",
            f"openstack-sessions={tgt}", "--target-labels", "0.2", *extra, "--json", str(out), "--quiet"]
    return argv, out


def test_transfer_keeps_the_targets_own_split_and_says_so(tmp_path, capsys, monkeypatch):
    argv, out = _session_transfer(tmp_path, monkeypatch)
    assert main(argv) == 0
    assert "session-files (the dataset's own split" in capsys.readouterr().out
    split = json.loads(out.read_text())["setup"]["target_split"]
    # 20 training sessions (3 of them validation), the 40 + 16 of the test files
    assert split["protocol"] == "session-files" and split["files"]["train"] == "openstack_train"
    assert (split["train"]["sequences"], split["validation"]["sequences"]) == (17, 3)
    assert split["test"] == {"sequences": 56, "anomalous": 16}
    assert main(argv + ["--split", "pooled"]) == 0
    assert json.loads(out.read_text())["setup"]["target_split"]["protocol"] == "stratified-shuffle"


def test_transfer_split_groups_reach_the_target_split(tmp_path, capsys, monkeypatch):
    argv, out = _session_transfer(tmp_path, monkeypatch, "--split", "pooled")
    assert main(argv + ["--split-groups", r"^([na]\d)"]) == 0  # n1, n10..n19 are one group
    assert "0 on both sides" in capsys.readouterr().out
    split = json.loads(out.read_text())["setup"]["target_split"]
    assert split["protocol"] == "stratified-group-shuffle" and split["groups"]["on_both_sides"] == 0
    assert main(argv + ["--split-groups", "(unclosed"]) == 2
    assert "--split-groups" in capsys.readouterr().err


def test_metalog_transfer_shows_its_progress_unless_quiet(tmp_path, capsys):
    pytest.importorskip("torch")
    src = _sessions_folder(tmp_path / "src", "hdfs", 0)
    tgt = _sessions_folder(tmp_path / "tgt", "openstack", 1)
    argv = ["transfer", "--method", "metalog", "--source", f"hdfs-sessions={src}", "--target",
            f"openstack-sessions={tgt}", "--target-labels", "0.2", "--split", "pooled"]
    for p in ("hidden=8", "layers=1", "epochs=2", "batch_size=16", "min_cluster_size=5", "min_samples=5",
              f"cache_dir={tmp_path / 'cache'}", "baselines=false"):
        argv += ["--param", p]
    assert main(argv) == 0
    err = capsys.readouterr().err
    for line in ("metalog method: training", "metalog: template vectors", "metalog: pseudo-labelling",
                 "metalog: 2 epochs of", "metalog epoch 1/2: source loss", "metalog epoch 2/2:"):
        assert line in err
    assert main(argv + ["--quiet"]) == 0
    assert "metalog epoch" not in capsys.readouterr().err
