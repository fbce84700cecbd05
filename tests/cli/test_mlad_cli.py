"""`logad mlad` through `logad.cli.main`, on two tiny synthetic session datasets (hashing encoder)."""

from __future__ import annotations

import json
import random

import pytest

from tests.conftest import needs_torch

needs_torch()

from logad.cli import main  # noqa: E402

SMALL = ["--encoder", "hashing", "--d_model", "16", "--n_heads", "2", "--n_layers", "1", "--d_ff", "32",
         "--n_components", "2", "--epochs", "3", "--batch_size", "32", "--quiet"]


def _write_sessions(folder, prefix: str, templates: list[str], seed: int) -> str:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)

    def normal() -> str:
        return " ".join(map(str, [1] + [2] * rng.choice((1, 2, 3)) + [3] * rng.choice((1, 2)) + [4]))

    (folder / f"{prefix}_train").write_text("".join(f"t{i},{normal()}\n" for i in range(60)), encoding="utf-8")
    (folder / f"{prefix}_test_normal").write_text("".join(f"n{i},{normal()}\n" for i in range(30)), encoding="utf-8")
    (folder / f"{prefix}_test_abnormal").write_text("".join(f"a{i},1 5 2 6 6\n" for i in range(12)), encoding="utf-8")
    name = "HDFS_templates.csv" if prefix == "hdfs" else "OpenStack_templates.csv"
    (folder / name).write_text("\n".join(templates) + "\n", encoding="utf-8")
    return str(folder)


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlad-data")
    hdfs = _write_sessions(root / "hdfs", "hdfs", ["receiving block <*>", "received block <*> of size <*>",
                                                  "packet responder <*> terminating", "deleting block <*>",
                                                  "exception while serving <*>", "writeblock <*> received exception"], 0)
    ops = _write_sessions(root / "ops", "openstack", ["instance <*> claim successful", "creating image",
                                                     "instance spawned successfully", "terminating instance",
                                                     "error during build <*>", "instance failed to spawn"], 1)
    return [f"hdfs-sessions={hdfs}", f"openstack-sessions={ops}"]


def _run(tmp_path, datasets, *extra) -> int:
    return main(["mlad", "--datasets", *datasets, *SMALL, "--save_dir", str(tmp_path / "models"),
                 "--output_dir", str(tmp_path / "out"), *extra])


def test_train_then_eval_only_with_pictures(datasets, tmp_path, capsys):
    assert _run(tmp_path, datasets, "--visualize") == 0
    out = capsys.readouterr().out
    assert "hdfs-sessions: F1" in out and "openstack-sessions: F1" in out
    result = json.loads((tmp_path / "out" / "mlad_run_hdfs-sessions+openstack-sessions.json").read_text())
    hdfs = result["datasets"]["hdfs-sessions"]
    assert 0 <= hdfs["metrics"]["f1"] <= 1 and hdfs["split"]["protocol"] == "session-files"
    assert "fallback" in hdfs["threshold"]  # the training file's held-out part holds no anomaly
    # ... of 6 sessions: the line says which threshold was taken, from how many, and warns
    assert hdfs["threshold"]["n_scores"] == 6 and "only 6 normal validation scores" in hdfs["threshold"]["warning"]
    assert "(quantile 0.995 of 6 validation normals (no validation anomaly))" in out
    assert "WARNING: hdfs-sessions's threshold" in out and "(best-f1-validation)" not in out
    for kind in ("confusion_matrix", "energy_distribution", "embeddings"):
        png = tmp_path / "out" / f"openstack-sessions_{kind}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model = result["model_path"]
    assert main(["mlad", "--eval_only", "--model_path", model, "--datasets", *datasets, "--quiet",
                 "--output_dir", str(tmp_path / "eval")]) == 0
    evaluated = json.loads((tmp_path / "eval" / "mlad_eval_hdfs-sessions+openstack-sessions.json").read_text())
    for name in ("hdfs-sessions", "openstack-sessions"):
        assert evaluated["datasets"][name]["metrics"] == result["datasets"][name]["metrics"]
        assert evaluated["datasets"][name]["threshold"]["policy"] == "saved"


def test_train_only_and_zero_shot_eval(datasets, tmp_path, capsys):
    assert _run(tmp_path, datasets[:1], "--train_only", "--alpha", "1.0") == 0
    saved = json.loads((tmp_path / "out" / "mlad_train_hdfs-sessions.json").read_text())
    assert "metrics" not in saved["datasets"]["hdfs-sessions"] and saved["datasets"]["hdfs-sessions"]["threshold"]
    assert main(["mlad", "--eval_only", "--model_path", saved["model_path"], "--datasets", datasets[1], "--quiet",
                 "--threshold", "0.5", "--output_dir", str(tmp_path / "z")]) == 0
    assert "zero-shot" in capsys.readouterr().out


def test_transfer_learning_both_directions(datasets, tmp_path):
    assert _run(tmp_path, datasets, "--transfer_learning", "--no_gmm") == 0
    for src, tgt in (("hdfs-sessions", "openstack-sessions"), ("openstack-sessions", "hdfs-sessions")):
        run = json.loads((tmp_path / "out" / f"transfer_{src}_to_{tgt}" / "results.json").read_text())
        assert run["source"] == src and 0 <= run["metrics"]["f1"] <= 1
        assert "never saw the target" in run["threshold"]["source"]
        assert "metrics" in run["with_source_threshold"]


def test_alpha_ablation(datasets, tmp_path, capsys):
    assert _run(tmp_path, datasets, "--alpha_ablation", "--epochs", "1") == 0
    summary = json.loads((tmp_path / "out" / "ablation_alpha_hdfs-sessions" / "summary.json").read_text())
    assert list(summary["runs"]) == ["1.0", "1.2", "1.5", "1.8"]
    assert "| 1.8 |" in capsys.readouterr().out


def test_original_split(datasets, tmp_path):
    assert _run(tmp_path, datasets[1:], "--split", "original") == 0
    res = json.loads((tmp_path / "out" / "mlad_run_openstack-sessions.json").read_text())["datasets"]["openstack-sessions"]
    assert res["split"]["protocol"] == "mlad-balanced" and res["threshold"]["policy"] == "train-quantile"


def test_download_only_and_errors(datasets, tmp_path, capsys):
    assert main(["mlad", "--download_only", "--datasets", *datasets]) == 0
    assert "complete" in capsys.readouterr().out
    assert main(["mlad", "--download_only", "--datasets", f"bgl={tmp_path / 'nothing'}"]) == 1
    assert "NOT complete" in capsys.readouterr().out
    assert main(["mlad", "--eval_only", "--datasets", *datasets]) == 2
    assert "--model_path" in capsys.readouterr().err
    assert main(["mlad", "--transfer_learning", "--datasets", datasets[0]]) == 2
    assert _run(tmp_path, datasets[:1], "--alpha", "3") == 2
    assert "alpha" in capsys.readouterr().err


def test_mixture_flags_reach_the_model(datasets, tmp_path):
    assert _run(tmp_path, datasets, "--train_only", "--components", "total", "--mixture_weights", "system") == 0
    saved = json.loads((tmp_path / "out" / "mlad_train_hdfs-sessions+openstack-sessions.json").read_text())
    assert saved["params"]["components"] == "total" and saved["params"]["mixture_weights"] == "system"
    assert _run(tmp_path, datasets, "--train_only") == 0  # the default: n_components per training system
    saved = json.loads((tmp_path / "out" / "mlad_train_hdfs-sessions+openstack-sessions.json").read_text())
    assert saved["params"]["components"] == "per-system"


def test_models_are_saved_inside_the_output_dir_by_default(datasets, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "run"
    assert main(["mlad", "--datasets", datasets[1], *SMALL, "--epochs", "1", "--train_only",
                 "--output_dir", str(out)]) == 0
    saved = json.loads((out / "mlad_train_openstack-sessions.json").read_text())
    assert saved["model_path"].startswith(str(out / "saved_models"))
    assert (out / "saved_models").is_dir() and not (tmp_path / "saved_models").exists()
