"""LogRobust: the identity channel beside template meanings."""

from __future__ import annotations

import numpy as np

from tests.conftest import needs_torch  # noqa: E402

torch = needs_torch()

from logad.detectors.deep.logrobust import LogRobustDetector  # noqa: E402
from logad.records import Sequence  # noqa: E402

TEXTS = {1: "open file", 2: "read block", 3: "close file", 4: "disk failure detected", 5: "write block"}
TINY = dict(epochs=15, hidden=16, batch_size=16, lr=1e-2, word_vectors="sentence:hashing", n_models=1)


def _data():
    normal = [Sequence(f"n{i}", (1, 2, 2, 3) if i % 2 else (1, 5, 3), label=0) for i in range(40)]
    anomalous = [Sequence(f"a{i}", (1, 2, 4, 3), label=1) for i in range(10)]
    seqs = normal + anomalous
    return seqs, np.array([s.label for s in seqs])


def _fit(**kw):
    det = LogRobustDetector(**{**TINY, **kw})
    seqs, y = _data()
    return det.fit(seqs, y, templates=TEXTS)


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


def test_seed_ensemble_averages_members_and_round_trips(tmp_path):
    single0 = _fit()
    ens = _fit(n_models=2)
    assert len(ens.model_.members) == 2 and len(ens.histories_) == 2
    seqs, y = _data()
    probe = seqs + [Sequence("u", (1, 2, 99, 3)), Sequence("e", ())]
    # member 0 is the single model; member 1 starts from seed + 1 on the same data and validation part
    x, lengths, ids = ens._tensor([tuple(s.template_ids) for s in probe])
    with torch.no_grad():
        members = [torch.softmax(m(x, lengths, ids), dim=1)[:, 1].numpy() for m in ens.model_.members]
    np.testing.assert_allclose(members[0], single0.score(probe), atol=1e-6)
    assert not np.allclose(members[0], members[1])
    np.testing.assert_allclose(ens.score(probe), (members[0] + members[1]) / 2, atol=1e-6)
    assert ens.score(seqs)[y == 1].min() > ens.score(seqs)[y == 0].max()
    assert ens.attention(probe[-2]) and ens.explain(seqs[-1])
    ens.save(tmp_path / "e")
    back = LogRobustDetector.load(tmp_path / "e")
    np.testing.assert_array_equal(back.score(probe), ens.score(probe))
    np.testing.assert_array_equal(_fit(n_models=2).score(probe), ens.score(probe))  # deterministic


def test_bad_ensemble_size_is_named():
    import pytest

    from logad.errors import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="n_models"):
        _fit(n_models=0)


def test_default_is_the_seed_ensemble_its_rule_adopted():
    """benchmarks/README.md, issue 19 item 2: three members by default, one on request."""
    assert LogRobustDetector().n_models == 3
    assert LogRobustDetector(n_models=1).n_models == 1
