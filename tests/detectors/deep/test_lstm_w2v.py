"""lstm-w2v (Morpheus log-sequence-ad / InterpretableSAD): tiny synthetic windows, fast."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from tests.conftest import needs_torch

torch = needs_torch()  # skips only when torch is absent: a broken torch fails loudly

from logad.detectors import Detector  # noqa: E402
from logad.detectors.deep.lstm_w2v import LSTMW2VDetector  # noqa: E402
from logad.errors import InputError, InvalidParameterError  # noqa: E402
from logad.records import Sequence  # noqa: E402

# a cyclic "system": every window is a slice of the same loop; anomalies break a transition
CYCLE = (1, 2, 3, 4, 5, 6)
W = 8
TINY = dict(hidden=16, times=3, epochs=12, batch_size=32, lr=1e-2, patience=12)  # ~0.99 ROC-AUC here


def _seq(i, tids, label=0, line_labels=None):
    return Sequence(f"s{i}", tuple(tids), tuple(range(100 * i, 100 * i + len(tids))), label=label,
                    line_labels=line_labels)


def make_data(seed):
    rng = random.Random(seed)
    normal = []
    for i in range(120):
        start = rng.randrange(len(CYCLE))
        normal.append(_seq(i, [CYCLE[(start + j) % len(CYCLE)] for j in range(W)]))
    anomalies = []
    for i in range(30):
        base = list(normal[rng.randrange(len(normal))].template_ids)
        pos = rng.randrange(1, W)
        base[pos] = 99 if i % 2 else base[pos - 1]  # an unseen key, or a repeat never seen in training
        labels = tuple(int(j == pos) for j in range(W))
        anomalies.append(_seq(1000 + i, base, 1, labels))
    return normal, anomalies


NORMAL, _ = make_data(0)
TEST_NORMAL, TEST_ANOMALIES = make_data(1)
TEST = TEST_NORMAL + TEST_ANOMALIES


@pytest.fixture(scope="module")
def fitted():
    det = LSTMW2VDetector(**TINY)
    assert det.fit(NORMAL) is det
    return det


def test_scores_separate_and_are_probabilities(fitted):
    scores = fitted.score(TEST)
    assert scores.shape == (len(TEST),) and scores.dtype == np.float64
    assert np.all((scores >= 0) & (scores <= 1))
    n = len(TEST_NORMAL)
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score([0] * n + [1] * len(TEST_ANOMALIES), scores) > 0.95
    unseen_key = [i for i, s in enumerate(TEST_ANOMALIES) if 99 in s.template_ids]
    assert scores[n:][unseen_key].min() > scores[:n].max()
    assert fitted.score([]).shape == (0,)


def test_unseen_empty_and_short_sequences(fitted):
    seqs = [_seq(1, ()), _seq(2, ()), _seq(3, (1,)), _seq(4, (500,)), _seq(5, (500, 501, 0)), _seq(6, (0,))]
    scores = fitted.score(seqs)
    assert np.isfinite(scores).all()
    assert scores[0] == scores[1]  # every empty window scores the same: the initial LSTM state
    assert scores[4] > scores[2]  # unseen keys look anomalous
    assert fitted.localise(_seq(1, ())) == [] and fitted.explain(_seq(1, ())) == []
    assert fitted.attributions(_seq(3, (1,))).shape == (1,)
    # unseen ids (and the pipeline's unknown id 0) share the one OOV word2vec row
    oov = fitted.w2v_event_ids(_seq(6, (0,)))[0]
    assert fitted.w2v_event_ids(_seq(5, (500, 501, 0))) == [oov, oov, oov]


def test_localise_finds_the_broken_line(fitted):
    found = hits = 0
    for s in TEST_ANOMALIES:
        pos = fitted.localise(s)
        found += len(pos)
        hits += sum(s.line_labels[j] for j in pos)
        top = fitted.localise(s, top=1)
        assert len(top) <= 1
        if 99 in s.template_ids:  # an unseen key: that line first
            assert top == [s.template_ids.index(99)]
    # a repeated key breaks two transitions (into and out of the repeat); only one line is labelled
    assert found and hits / found >= 0.5
    s = _seq(7, (1, 2, 99, 4, 5, 6, 1, 2), 1)
    assert fitted.localise(s, top=1) == [2]
    assert fitted.explain(s)[0][0] == 99
    with pytest.raises(InvalidParameterError, match="top"):
        fitted.localise(s, top=0)


def test_integrated_gradients_completeness(fitted):
    det = LSTMW2VDetector.__new__(LSTMW2VDetector)
    det.__dict__.update(fitted.__dict__)
    det.ig_steps, det._last_attr = 400, None
    s = _seq(8, (1, 2, 99, 4, 5, 6, 1, 2), 1)
    attr = det.attributions(s)
    base = det._repaired(det._train_indices(s.template_ids))
    assert base != det._train_indices(s.template_ids)
    # only the repaired line can differ from the baseline, so only it gets an attribution
    assert np.count_nonzero(attr) == 1 and attr[2] > 0
    with torch.no_grad():
        x, lengths = det._batch([det._rows(det._train_indices(s.template_ids)), det._rows(base)])
        p = torch.softmax(det.model_(x, lengths), dim=1)[:, 1].double().numpy()
    assert attr.sum() == pytest.approx(p[0] - p[1], abs=0.02)
    zeros = LSTMW2VDetector.__new__(LSTMW2VDetector)
    zeros.__dict__.update(det.__dict__)
    zeros.ig_baseline, zeros._last_attr = "zeros", None
    assert np.count_nonzero(zeros.attributions(s)) > 1  # from zeros every line has a share


def test_determinism():
    a = LSTMW2VDetector(**{**TINY, "epochs": 2}).fit(NORMAL)
    b = LSTMW2VDetector(**{**TINY, "epochs": 2}).fit(NORMAL)
    np.testing.assert_array_equal(a.score(TEST), b.score(TEST))
    np.testing.assert_array_equal(a.model_.embed.weight.numpy(), b.model_.embed.weight.numpy())


def test_negative_samples_follow_the_rule(fitted):
    windows = [fitted._train_indices(s.template_ids) for s in NORMAL]
    known = {tuple(w) for w in windows}
    negatives = fitted._negative_samples(windows, random.Random(3))
    assert len(negatives) == TINY["times"] * len(windows)
    for w in negatives:
        assert tuple(w) not in known
        # intended rule: a start never seen, or a transition never seen in training
        broken = w[0] not in fitted.start_counts_ or any(
            b not in fitted.successor_counts_.get(a, {}) for a, b in zip(w, w[1:])
        )
        assert broken
    # the original (uniform) behaviour: any key anywhere, except that line 1 is never replaced
    uniform = LSTMW2VDetector.__new__(LSTMW2VDetector)
    uniform.__dict__.update(fitted.__dict__)
    uniform.negatives = "uniform"
    for w in uniform._negative_samples(windows, random.Random(4)):
        assert tuple(w) not in known
    one = windows[:1]
    assert all(w[1] == one[0][1] for w in uniform._negative_samples(one, random.Random(4)))


def test_readouts_and_original_params():
    det = LSTMW2VDetector(**{**TINY, "epochs": 1, "readout": "last-step", "negatives": "uniform"}).fit(NORMAL)
    scores = det.score(TEST + [_seq(1, ()), _seq(2, (3,))])
    assert np.isfinite(scores).all()
    LSTMW2VDetector(**LSTMW2VDetector.ORIGINAL_PARAMS)._validate_params()
    assert LSTMW2VDetector.ORIGINAL_THRESHOLD == 0.5
    from logad.splitting.original import ORIGINAL_SPLITS

    assert LSTMW2VDetector.ORIGINAL_SPLIT in ORIGINAL_SPLITS


def test_save_load_roundtrip(fitted, tmp_path):
    fitted.threshold_ = 0.4
    fitted.save(tmp_path / "m")
    for loaded in (LSTMW2VDetector.load(tmp_path / "m"), Detector.load(tmp_path / "m")):
        assert loaded.get_params() == fitted.get_params()
        assert loaded.threshold_ == 0.4
        test = TEST + [_seq(9, ()), _seq(10, (77, 78))]
        np.testing.assert_array_equal(loaded.score(test), fitted.score(test))
        s = TEST_ANOMALIES[0]
        np.testing.assert_array_equal(loaded.attributions(s), fitted.attributions(s))
        assert loaded.w2v_event_ids(s) == fitted.w2v_event_ids(s)
    fitted.threshold_ = None


def test_load_refuses_other_or_corrupt_folder(fitted, tmp_path):
    from logad.detectors.classical.knn import KNNDetector

    KNNDetector().fit(NORMAL).save(tmp_path / "knn")
    with pytest.raises(InputError, match="knn"):
        LSTMW2VDetector.load(tmp_path / "knn")
    with pytest.raises(InputError, match="missing"):
        LSTMW2VDetector.load(tmp_path / "nothing")
    fitted.save(tmp_path / "bad")
    (tmp_path / "bad" / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="corrupt"):
        LSTMW2VDetector.load(tmp_path / "bad")
    fitted.save(tmp_path / "bad2")
    (tmp_path / "bad2" / "arrays.safetensors").write_bytes(b"garbage")
    with pytest.raises(InputError):
        LSTMW2VDetector.load(tmp_path / "bad2")
    fitted.save(tmp_path / "bad3")
    config = json.loads((tmp_path / "bad3" / "config.json").read_text(encoding="utf-8"))
    config["state"]["vocab"] = {"specials": [], "keys": [[1, 0]]}
    (tmp_path / "bad3" / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(InputError, match="lstm-w2v"):
        LSTMW2VDetector.load(tmp_path / "bad3")  # a vocabulary that does not match the weights


@pytest.mark.parametrize(
    "params, match",
    [({"times": 0}, "times"), ({"negatives": "random"}, "'random'"), ({"readout": "mean"}, "readout"),
     ({"ig_baseline": "noise"}, "ig_baseline"), ({"embed_dim": 0}, "embed_dim"), ({"val_fraction": 1.5}, "val_fraction"),
     ({"grad_clip": -1.0}, "grad_clip"), ({"localise_k": -1}, "localise_k")],
)
def test_bad_params(params, match):
    det = LSTMW2VDetector(**params)  # construction only stores
    with pytest.raises(InvalidParameterError, match=match):
        det.fit(NORMAL)


def test_all_empty_training_sequences_are_refused():
    with pytest.raises(InvalidParameterError, match="non-empty"):
        LSTMW2VDetector(**TINY).fit([_seq(1, ()), _seq(2, ())])


def _structured_csv(path, n_lines, *, with_label=True, seed=0, anomalies=()):
    """A LogPAI structured CSV of a cyclic system; lines in `anomalies` carry the unseen event E9."""
    rng = random.Random(seed)
    head = "LineId," + ("Label," if with_label else "") + "Timestamp,Content,EventId,EventTemplate"
    rows = [head]
    for i in range(1, n_lines + 1):
        bad = i in anomalies
        event = "E9" if bad else f"E{CYCLE[i % len(CYCLE)]}"
        label = ("KERNDTLB," if bad else "-,") if with_label else ""
        rows.append(f"{i},{label}{1_000_000 + i},msg {rng.random():.3f},{event},template {event}")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_morpheus_inference_command_end_to_end(tmp_path, capsys):
    import csv

    from logad.cli import main

    train_csv = _structured_csv(tmp_path / "train_structured.csv", 600)
    model = tmp_path / "model"
    params = [f"--param={k}={v}" for k, v in TINY.items()]
    # The held-out quantile, not train's alarm-budget default: this tiny model's fold copies score the
    # normals lower than the final model does, and the test is about the Morpheus columns.
    assert main(["train", "--input-data", str(train_csv), "--detector", "lstm-w2v", "--group", "count",
                 "--threshold-policy", "train-quantile:0.999",
                 "--window-size", "20", "--window-step", "5", "--save", str(model), "--quiet", *params]) == 0
    test_csv = _structured_csv(tmp_path / "test_structured.csv", 200, seed=1, anomalies={57, 131})
    out = tmp_path / "result.csv"
    assert main(["detect", "--model", str(model), "--input-data", str(test_csv), "--output", str(out), "--quiet"]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 37  # windows start every 5 lines while they add lines: (200 - 20) / 5 + 1
    assert {"Label", "EventId", "Key_label", "W2V_EventId", "prediction", "explanation", "anomalous_lines"} <= set(rows[0])
    assert all(len(r["W2V_EventId"].split()) == int(r["lines"]) == len(r["EventId"].split()) for r in rows)
    alarms = [r for r in rows if r["prediction"] == "1"]
    assert alarms and all(r["Label"] == "1" for r in alarms)
    assert all(r["explanation"] and r["anomalous_lines"] for r in alarms)
    for r in alarms:  # the localised lines are the unseen events
        assert set(r["anomalous_lines"].split()) <= {"57", "131"}
    # the original required a Label column; inference without it still works
    unlabelled = _structured_csv(tmp_path / "unlabelled_structured.csv", 200, with_label=False, anomalies={57})
    assert main(["detect", "--model", str(model), "--input-data", str(unlabelled), "--output", str(out), "--quiet"]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 37 and all(r["Label"] == "" and r["Key_label"] == "" for r in rows)
    assert any(r["prediction"] == "1" for r in rows)


def test_evaluate_original_protocol_uses_the_morpheus_split(tmp_path, capsys):
    import json

    from logad.cli import main

    anomalies = set(range(300, 303)) | set(range(700, 740))
    data = _structured_csv(tmp_path / "d_structured.csv", 1200, anomalies=anomalies)
    params = [f"--param={k}={v}" for k, v in TINY.items()]
    out = tmp_path / "r.json"
    assert main(["evaluate", "--input-data", str(data), "--detector", "lstm-w2v", "--group", "count", "--window-size", "20",
                 "--window-step", "10", "--protocol", "original", "--json", str(out), "--quiet", *params]) == 0
    printed = capsys.readouterr().out
    assert "SELECTED USING THE TEST LABELS" in printed
    r = json.loads(out.read_text())
    assert r["counts"]["protocol"] == "morpheus" and r["threshold"]["policy"] == "fixed" and r["threshold"]["value"] == 0.5
    assert "test_selection" in r and r["detector"]["params"]["negatives"] == "uniform"
