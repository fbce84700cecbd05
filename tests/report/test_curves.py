"""The compact score summaries a result JSON keeps for its pictures."""

from __future__ import annotations

import numpy as np

from logad.evaluation.curves import score_curves, worst_examples
from logad.records import Sequence


def test_histograms_partition_each_class_and_curves_end_at_the_corners():
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(500, int), np.ones(50, int)]
    s = np.r_[rng.normal(0, 1, 500), rng.normal(3, 1, 50)]
    c = score_curves(y, s, 1.5)
    h = c["histogram"]
    assert sum(h["normal"]) == 500 and sum(h["anomalous"]) == 50
    assert h["edges"][0] <= 1.5 <= h["edges"][-1]
    assert c["roc"]["fpr"][0] == 0 and c["roc"]["tpr"][-1] == 1 and len(c["roc"]["fpr"]) <= 200
    pred = s > 1.5
    assert c["at_threshold"]["tpr"] == (pred & (y == 1)).sum() / 50
    assert c["at_threshold"]["fpr"] == (pred & (y == 0)).sum() / 500
    assert abs(c["pr"]["base_rate"] - 50 / 550) < 1e-12


def test_far_outliers_and_infinite_scores_keep_the_picture_readable():
    y = np.r_[np.zeros(1000, int), np.ones(3, int)]
    s = np.r_[np.linspace(0, 1, 1000), [1e9, np.inf, 2.0]]
    c = score_curves(y, s, 0.9)
    h = c["histogram"]
    assert h["clipped_above"] is True and h["edges"][-1] < 1e6
    assert h["inf_anomalous"] == 1 and sum(h["anomalous"]) == 2  # the outlier lands in the last bin
    assert "roc" in c


def test_one_class_has_no_curves():
    c = score_curves([0, 0, 0], [0.1, 0.2, 0.3], 0.25)
    assert "roc" not in c and "pr" not in c and sum(c["histogram"]["normal"]) == 3


class Explains:  # a stand-in detector declaring what it can do, as detectors do
    explains = True
    localises = True

    def explain(self, seq):
        return [(seq.template_ids[0], 2.0)]

    def localise(self, seq):
        return [0]


def test_worst_examples_are_the_most_confident_mistakes():
    seqs = [Sequence(f"s{i}", (i % 3 + 1, 2), line_nos=(2 * i + 1, 2 * i + 2), label=lab)
            for i, lab in enumerate([0, 0, 0, 1, 1, 1])]
    scores = np.array([0.9, 0.7, 0.1, 0.2, 0.05, 0.95])
    ex = worst_examples(seqs, scores, scores > 0.5, Explains(), {1: "a <*>", 2: "b"}, k=2)
    assert [e["sequence_id"] for e in ex["false_alarms"]] == ["s0", "s1"]
    assert [e["sequence_id"] for e in ex["misses"]] == ["s4", "s3"]
    assert ex["n_false_alarms"] == 2 and ex["n_misses"] == 2
    assert ex["false_alarms"][0]["explanation"] == [[1, 2.0]] and ex["false_alarms"][0]["blamed"] == [0]
    assert ex["templates"]["1"] == "a <*>" and ex["false_alarms"][0]["line_nos"] == [1, 2]
