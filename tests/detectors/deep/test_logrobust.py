"""LogRobust: the identity channel beside template meanings."""

from __future__ import annotations

import numpy as np

from tests.conftest import needs_torch  # noqa: E402

torch = needs_torch()

from logad.detectors.deep.logrobust import LogRobustDetector  # noqa: E402
from logad.records import Sequence  # noqa: E402

TEXTS = {1: "open file", 2: "read block", 3: "close file", 4: "disk failure detected", 5: "write block"}
TINY = dict(epochs=15, hidden=16, batch_size=16, lr=1e-2, word_vectors="sentence:hashing")


def _data():
    normal = [Sequence(f"n{i}", (1, 2, 2, 3) if i % 2 else (1, 5, 3), label=0) for i in range(40)]
    anomalous = [Sequence(f"a{i}", (1, 2, 4, 3), label=1) for i in range(10)]
    seqs = normal + anomalous
    return seqs, np.array([s.label for s in seqs])


def _fit(**kw):
    det = LogRobustDetector(**{**TINY, **kw})
    det.set_templates(TEXTS)
    seqs, y = _data()
    return det.fit(seqs, y)


def test_identity_rows_and_unseen_templates():
    det = _fit()
    emb = det.model_.ids.weight.detach().numpy()
    assert emb.shape[0] == len(det.vocab_) and not emb[0].any()  # row 0: unseen / padding, zero
    _, _, ids = det._tensor([(1, 2, 99)])
    assert ids.tolist() == [[det.vocab_.index[1], det.vocab_.index[2], 0]]  # unseen id -> row 0
    scores = det.score([Sequence("u", (1, 2, 99, 3)), Sequence("e", ())])
    assert np.isfinite(scores).all()


def test_identity_channel_can_be_switched_off_and_round_trips(tmp_path):
    off = _fit(id_embedding=False)
    assert off.model_.ids is None
    det = _fit()
    det.save(tmp_path / "m")
    back = LogRobustDetector.load(tmp_path / "m")
    seqs, _ = _data()
    np.testing.assert_array_equal(back.score(seqs), det.score(seqs))
