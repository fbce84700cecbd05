"""Model folders that a kill, a tampered file or a planted link could turn against the user
(issue 17: items 2, 7, 9, 11, 12). Every test is bounded in time: a hang fails it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from logad.cli import main
from logad.detectors import get_detector
from logad.errors import InputError
from logad.model import TrainedModel
from logad.records import Sequence
from tests.cli.test_cli import one_line_error

REPO = Path(__file__).resolve().parents[2]
NORMAL = [Sequence(f"s{i}", (1, 2, 3, 4)[: 2 + i % 3], label=0) for i in range(40)]


@pytest.fixture()
def model_dir(tmp_path, sim_compute):
    out = tmp_path / "model"
    assert main(["train", "--logs", str(sim_compute), "--format", "bgl", "--detector", "knn",
                 "--save", str(out), "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def sim_compute(tmp_path_factory):
    from logad.demo.simulator import simulate_all

    return simulate_all(tmp_path_factory.mktemp("sim"), scale=0.2, seed=3)["compute"].log_path


def _detect(model: Path, log: Path, tmp_path: Path) -> int:
    return main(["detect", str(log), "--model", str(model), "--out", str(tmp_path / "alarms.csv"), "--quiet"])


KILL_LOOP = textwrap.dedent("""
    import sys
    sys.path.insert(0, {src!r})
    from logad.detectors import get_detector
    from logad.records import Sequence
    seqs = [Sequence(f"s{{i}}", (1, 2, 3, 4)[: 2 + i % 3], label=0) for i in range(40)]
    det = get_detector("knn").fit(seqs)
    i = 0
    while True:
        i += 1
        det.threshold_ = float(i)
        det.save({target!r})
""")


def test_a_kill_while_saving_leaves_the_old_or_the_new_folder_never_a_mix(tmp_path):
    """Item 2: kill -9 at random moments of repeated saves; every time, the folder loads whole."""
    target = tmp_path / "det"
    get_detector("knn").fit(NORMAL).save(target)  # something to overwrite
    script = KILL_LOOP.format(src=str(REPO / "src"), target=str(target))
    rng = np.random.default_rng(0)
    deadline = time.monotonic() + 60
    for _ in range(8):
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0 + float(rng.uniform(0.0, 0.6)))  # imports take ~1 s; then it saves in a loop
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        from logad.detectors import Detector

        loaded = Detector.load(target)  # never a mix: it loads, with one of the thresholds written
        assert loaded.threshold_ is None or float(loaded.threshold_).is_integer()
        assert time.monotonic() < deadline
    # the dead writers' temporary folders are cleaned up by the next save
    get_detector("knn").fit(NORMAL).save(target)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".det.")]
    assert leftovers == []


def test_save_never_writes_through_a_planted_link(tmp_path, model_dir, sim_compute):
    """Item 11: a link planted inside the model folder must not let a save overwrite its target."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    planted = model_dir / "detector" / "config.json"
    planted.unlink()
    planted.symlink_to(victim)
    assert main(["train", "--logs", str(sim_compute), "--format", "bgl", "--detector", "knn",
                 "--save", str(model_dir), "--quiet"]) == 0
    assert victim.read_text() == "precious\n"
    assert not (model_dir / "detector" / "config.json").is_symlink()


def test_a_model_folder_that_is_a_link_is_refused(tmp_path, model_dir, sim_compute, capsys):
    link = tmp_path / "link"
    link.symlink_to(model_dir)
    assert main(["train", "--logs", str(sim_compute), "--format", "bgl", "--detector", "knn",
                 "--save", str(link), "--quiet"]) == 2
    assert "symbolic link" in one_line_error(capsys)


def _edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    path.write_text(json.dumps(change(data)))


@pytest.mark.parametrize("change, needle", [
    (lambda m: [], "a JSON list"),
    (lambda m: {k: v for k, v in m.items() if k != "format"}, "'format' is missing"),
    (lambda m: {**m, "grouping": {"size": 10}}, "no 'kind'"),
    (lambda m: {**m, "grouping": "count"}, "'grouping' is missing or not a dict"),
])
def test_tampered_model_json_is_refused_in_one_line(tmp_path, model_dir, sim_compute, capsys, change, needle):
    """Item 7: each of these printed a traceback before."""
    _edit_json(model_dir / "model.json", change)
    assert _detect(model_dir, sim_compute, tmp_path) == 2
    assert needle in one_line_error(capsys)


@pytest.mark.parametrize("value", [None, "nan", float("nan"), "0.5", True])
def test_a_threshold_that_is_not_a_number_is_refused(tmp_path, model_dir, sim_compute, capsys, value):
    """Items 7 and 12: a null threshold was a traceback; "nan" was accepted and never alarmed."""
    cfg = model_dir / "detector" / "config.json"
    data = json.loads(cfg.read_text())
    data["threshold"] = value
    cfg.write_text(json.dumps(data))  # the manifest covers the arrays, so this edit is read
    assert _detect(model_dir, sim_compute, tmp_path) == 2
    assert "threshold" in one_line_error(capsys)


def test_json_nested_too_deeply_is_refused(tmp_path, model_dir, sim_compute, capsys):
    """Item 7: 200,000 levels of nesting raised RecursionError."""
    (model_dir / "model.json").write_text("[" * 200_000 + "]" * 200_000)
    assert _detect(model_dir, sim_compute, tmp_path) == 2
    assert "nested too deeply" in one_line_error(capsys)


def test_arrays_from_another_save_are_refused(tmp_path):
    """Item 2: a folder mixing the arrays of two saves no longer loads silently."""
    a, b = tmp_path / "a", tmp_path / "b"
    get_detector("knn").fit(NORMAL).save(a)
    get_detector("knn", n_neighbors=2).fit(NORMAL[:20]).save(b)
    (a / "arrays.safetensors").write_bytes((b / "arrays.safetensors").read_bytes())
    with pytest.raises(InputError, match="checksum"):
        get_detector("knn").load(a)


def test_a_tampered_deep_config_cannot_make_the_load_allocate_gigabytes(tmp_path):
    """Item 9: a deeplog config with hidden=20000 tried a 6.4 GB allocation before refusing."""
    pytest.importorskip("torch")
    import resource

    det = get_detector("deeplog", epochs=2, hidden=8, embed_dim=4, layers=1).fit(NORMAL)
    det.save(tmp_path / "d")
    _edit_json(tmp_path / "d" / "config.json", lambda c: {**c, "params": {**c["params"], "hidden": 20000}})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(InputError, match="do not fit the model"):
        get_detector("deeplog").load(tmp_path / "d")
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 500_000  # far below the 6.4 GB the real model would take


def test_oversized_arrays_header_is_refused_before_reading(tmp_path):
    """Item 9: the arrays' sizes come from the file's own header, checked against its length."""
    get_detector("knn").fit(NORMAL).save(tmp_path / "k")
    path = tmp_path / "k" / "arrays.safetensors"
    raw = bytearray(path.read_bytes())
    header_len = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + header_len])
    name = next(k for k in header if k != "__metadata__")
    header[name]["shape"] = [10**9, 10**3]
    text = json.dumps(header).encode()
    path.write_bytes(len(text).to_bytes(8, "little") + text + bytes(raw[8 + header_len:]))
    from logad.detectors.persistence import _read_safetensors

    with pytest.raises(InputError, match="corrupt"):
        _read_safetensors(path)


def test_outputs_get_the_users_umask(tmp_path, model_dir):
    """Item 12: outputs were created with mode 0600."""
    mask = os.umask(0o022)
    os.umask(mask)
    mode = (model_dir / "model.json").stat().st_mode & 0o777
    assert mode == 0o666 & ~mask
    assert (model_dir.stat().st_mode & 0o777) == 0o777 & ~mask


def test_a_model_saved_in_the_previous_format_still_loads(tmp_path):
    """Folders written before the one-format change (config.json + arrays.npz) keep working."""
    det = get_detector("knn").fit(NORMAL)
    det.threshold_ = 0.25
    state, arrays = det._get_state()
    folder = tmp_path / "v1"
    folder.mkdir()
    np.savez(folder / "arrays.npz", **arrays)
    (folder / "config.json").write_text(json.dumps({
        "format": "logad-detector", "format_version": 1, "name": "knn", "params": det.get_params(),
        "threshold": 0.25, "state": state}))
    loaded = get_detector("knn").load(folder)
    assert loaded.threshold_ == 0.25
    np.testing.assert_array_equal(loaded.score(NORMAL), det.score(NORMAL))


def test_trained_model_keeps_its_threshold_in_one_place(model_dir):
    model = TrainedModel.load(model_dir)
    meta = json.loads((model_dir / "model.json").read_text())
    assert "threshold" not in meta
    assert model.threshold == json.loads((model_dir / "detector" / "config.json").read_text())["threshold"]


def test_a_flood_of_templates_keeps_the_feature_matrix_bounded(caplog):
    """Item 10: 500,000 unique templates asked for a 15 GiB dense matrix."""
    from logad.features import vocabulary

    seqs = [Sequence(f"s{i}", tuple(range(1 + i * 60, 61 + i * 60)), label=0) for i in range(300)]  # 18,000 ids
    det = get_detector("knn").fit(seqs)
    assert len(det.vectorizer_.vocabulary_) == vocabulary.MAX_COLUMNS + 1
    assert det.vectorizer_.vocabulary_.dropped_ == 18_000 - vocabulary.MAX_COLUMNS
    assert "count as unseen" in caplog.text
    assert np.isfinite(det.score(seqs[:5])).all()


def test_a_count_matrix_beyond_memory_is_refused_with_a_message(monkeypatch):
    from logad.errors import InvalidParameterError
    from logad.features import vocabulary

    monkeypatch.setattr(vocabulary, "MATRIX_BYTES", 1000)
    with pytest.raises(InvalidParameterError, match="GiB"):
        get_detector("knn").fit(NORMAL)


def test_a_save_killed_between_its_two_renames_is_recovered(tmp_path):
    """Where the folders cannot be swapped in one step, a kill between the two renames leaves the
    old folder aside; the next load (or save) puts it back instead of reporting it missing."""
    from logad.detectors import Detector

    target = tmp_path / "det"
    det = get_detector("knn").fit(NORMAL)
    det.threshold_ = 3.0
    det.save(target)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=30)
    aside = tmp_path / f".det.{dead.pid}.abcd.old"
    aside.mkdir()
    target.rename(aside / "det")  # the state a kill after the first rename leaves
    assert Detector.load(target).threshold_ == 3.0
    assert target.is_dir() and not (aside / "det").exists()
