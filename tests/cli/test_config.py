"""`--config run.toml` for evaluate and train, and threshold policies given with their value."""

from __future__ import annotations

import json

import pytest

from logad.cli import main
from tests.cli.test_cli import one_line_error


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    from logad.demo.simulator import simulate_all

    return simulate_all(tmp_path_factory.mktemp("sim"), scale=0.25, seed=1)


def _storage_args(sim) -> list[str]:
    storage = sim["storage"]
    return ["--logs", str(storage.log_path), "--format", "hdfs", "--labels", str(storage.directory / "anomaly_label.csv")]


def test_evaluate_from_a_config_file_equals_the_same_flags(sim, tmp_path):
    storage = sim["storage"]
    config = tmp_path / "run.toml"
    config.write_text(f"""
[data]
logs = ["{storage.log_path}"]
format = "hdfs"
labels = "{storage.directory / 'anomaly_label.csv'}"

[grouping]
kind = "session"

[detector]
name = "knn"
[detector.params]
n_neighbors = 3

[split]
ratios = [0.5, 0.2, 0.3]

[threshold]
policy = "train-quantile:0.99"
""")
    from_file, from_flags = tmp_path / "file.json", tmp_path / "flags.json"
    assert main(["evaluate", "--config", str(config), "--json", str(from_file), "--quiet"]) == 0
    assert main(["evaluate", *_storage_args(sim), "--group", "session", "--detector", "knn", "--param", "n_neighbors=3",
                 "--ratios", "0.5", "0.2", "0.3", "--threshold-policy", "train-quantile:0.99",
                 "--json", str(from_flags), "--quiet"]) == 0
    a, b = json.loads(from_file.read_text()), json.loads(from_flags.read_text())
    assert a["detector"] == b["detector"] and a["detector"]["params"]["n_neighbors"] == 3
    assert a["threshold"] == b["threshold"] and a["threshold"]["q"] == 0.99
    assert a["metrics"] == b["metrics"]
    assert a["counts"]["train"] == b["counts"]["train"]


def test_a_flag_given_on_the_command_line_wins_over_the_file(sim, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('[detector]\nname = "knn"\n')
    out = tmp_path / "r.json"
    assert main(["evaluate", "--config", str(config), *_storage_args(sim), "--detector", "pca",
                 "--json", str(out), "--quiet"]) == 0
    assert json.loads(out.read_text())["detector"]["name"] == "pca"


@pytest.mark.parametrize("text, needle", [
    ('detecter = "knn"\n', "did you mean 'detector'"),
    ('[grouping]\nkynd = "session"\n', "did you mean 'kind'"),
    ('[detectr]\nname = "knn"\n', "did you mean 'detector'"),
    ('[split]\nratios = [0.5, 0.5]\n', "takes 3 values"),
    ('[grouping]\nkind = "sessions"\n', "must be one of"),
    ('quiet = "yes"\n', "unknown key"),
    ('detector = [\n', "not valid TOML"),
])
def test_a_bad_config_file_is_refused_in_one_line(sim, tmp_path, capsys, text, needle):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    assert main(["evaluate", "--config", str(config), *_storage_args(sim), "--quiet"]) == 2
    assert needle in one_line_error(capsys)


def test_missing_config_file(tmp_path, capsys):
    assert main(["evaluate", "--config", str(tmp_path / "none.toml")]) == 2
    assert "does not exist" in one_line_error(capsys)


def test_threshold_policy_fixed_takes_its_value(sim, tmp_path):
    out = tmp_path / "r.json"
    assert main(["evaluate", *_storage_args(sim), "--detector", "knn", "--threshold-policy", "fixed:0.5",
                 "--json", str(out), "--quiet"]) == 0
    threshold = json.loads(out.read_text())["threshold"]
    assert threshold["policy"] == "fixed" and threshold["value"] == 0.5


@pytest.mark.parametrize("policy, needle", [
    ("fixed", "needs its value"),
    ("fixed:abc", "takes a number"),
    ("fixed:nan", "finite"),
    ("fixd:1", "did you mean 'fixed'"),
])
def test_threshold_policy_errors(sim, tmp_path, capsys, policy, needle):
    assert main(["evaluate", *_storage_args(sim), "--detector", "knn", "--threshold-policy", policy, "--quiet"]) == 2
    assert needle in one_line_error(capsys)


def test_train_from_a_config_says_which_threshold_it_took(sim, tmp_path, capsys):
    compute = sim["compute"]
    model = tmp_path / "model"
    config = tmp_path / "train.toml"
    config.write_text(f"""
logs = ["{compute.log_path}"]
format = "bgl"
save = "{model}"
holdout = 0.2
[grouping]
kind = "entity"
size = 20
[detector]
name = "knn"
[threshold]
policy = "train-quantile:0.999"
""")
    assert main(["train", "--config", str(config), "--quiet"]) == 0
    captured = capsys.readouterr()
    meta = json.loads((model / "model.json").read_text())
    info = meta["threshold_info"]
    assert info["policy"] == "train-quantile" and info["q"] == 0.999 and info["holdout"] == 0.2
    assert info["n_scores"] >= 1 and f"of {info['n_scores']} held-out normal sequences" in captured.out
    # a few dozen held-out windows cannot hold a 0.999 quantile: the user is told
    assert info["n_scores"] < 1000 and "warning" in info and "warning:" in captured.err


def test_train_fixed_threshold_and_refused_policy(sim, tmp_path, capsys):
    compute = sim["compute"]
    args = ["train", "--logs", str(compute.log_path), "--format", "bgl", "--detector", "knn", "--quiet"]
    assert main([*args, "--save", str(tmp_path / "m"), "--threshold-policy", "fixed:2.5"]) == 0
    assert json.loads((tmp_path / "m" / "detector" / "config.json").read_text())["threshold"] == 2.5
    assert "threshold" not in json.loads((tmp_path / "m" / "model.json").read_text())  # kept in one place
    assert main([*args, "--save", str(tmp_path / "m2"), "--threshold-policy", "best-f1-validation"]) == 2
    assert "normal operation only" in one_line_error(capsys)
    assert main([*args]) == 2
    assert "--save" in one_line_error(capsys)
