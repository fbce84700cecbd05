"""DeepLog: unseen transitions, the parameter-value model, and their persistence."""

from __future__ import annotations

import random

import numpy as np
import pytest

from tests.conftest import needs_torch

torch = needs_torch()

from logad.detectors.deep.deeplog import DeepLogDetector  # noqa: E402
from logad.records import Sequence  # noqa: E402

TINY = dict(epochs=8, hidden=16, embed_dim=8, layers=1, batch_size=64, lr=5e-3, n_models=1)


def _session(i: int, rng: random.Random, slow: bool = False, label: int = 0) -> Sequence:
    """open(1) -> read(2) x k -> close(3); a read takes ~1 s, the close carries a byte count."""
    k = rng.randint(2, 4)
    ids = [1] + [2] * k + [3]
    values = [(0.0,)]
    for _ in range(k):
        values.append((rng.uniform(0.8, 1.2),))
    size = 100.0 * k + rng.uniform(-5, 5)
    values.append((rng.uniform(0.1, 0.3) + (30.0 if slow else 0.0), size))
    return Sequence(f"s{i}", tuple(ids), label=label, line_values=tuple(values))


def _data(seed: int, n: int = 300):
    rng = random.Random(seed)
    return [_session(i, rng) for i in range(n)]


def test_unseen_transition_counts_as_a_miss():
    normal = [Sequence(f"n{i}", (1, 2, 2, 3)) for i in range(200)] + [Sequence(f"m{i}", (1, 2, 3)) for i in range(200)]
    on = DeepLogDetector(**TINY, parameter_model=False).fit(normal)
    off = DeepLogDetector(**TINY, parameter_model=False, unseen_transitions=False).fit(normal)
    cut = [Sequence("cut", (1, 2))]  # every key known, but a session never ended after key 2
    assert on.score(cut)[0] > 50  # as surprising as an unseen key
    assert off.score(cut)[0] < on.score(cut)[0]
    assert on.explain(cut[0])[0][0] == 0  # id 0 = the session ended unexpectedly


def test_parameter_model_flags_a_slow_step_and_survives_save_load(tmp_path):
    train = _data(0)
    det = DeepLogDetector(**TINY, parameter_model=True).fit(train)
    assert det.param_model_ is not None and 3 in det.param_model_.templates
    rng = random.Random(5)
    normal = [_session(1000 + i, rng) for i in range(40)]
    slow = [_session(2000 + i, rng, slow=True, label=1) for i in range(10)]
    scores = det.score(normal + slow)
    assert scores[40:].min() > np.quantile(scores[:40], 0.95)  # same keys, same order: only the values differ
    top = det.explain(slow[0])
    assert top and top[0][0] == 3  # the close line carries the anomaly
    det.threshold_ = 1.0
    det.save(tmp_path / "m")
    loaded = DeepLogDetector.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.score(normal + slow), scores)
    # without values at scoring time the key model alone decides (no crash, finite scores)
    bare = [Sequence("b", s.template_ids) for s in normal[:3]]
    assert np.isfinite(loaded.score(bare)).all()


def test_seed_ensemble_averages_its_members_and_survives_save_load(tmp_path):
    normal = [Sequence(f"n{i}", (1, 2, 2, 3)) for i in range(150)] + [Sequence(f"m{i}", (1, 2, 3)) for i in range(150)]
    test = [Sequence("a", (1, 2, 3)), Sequence("b", (1, 2, 2, 2, 2, 3)), Sequence("c", (1, 3))]
    one = DeepLogDetector(**TINY).fit(normal)
    ens = DeepLogDetector(**{**TINY, "n_models": 2}).fit(normal)
    assert len(ens.histories_) == 2 and len(ens.model_.members) == 2
    # member 0 is the single model (same seed, same data): the ensemble's probabilities average it with member 1
    x = torch.tensor([[0] * 9 + [3]], dtype=torch.long)
    with torch.no_grad():
        p0 = torch.softmax(one.model_(x), dim=1)
        p_members = [torch.softmax(m(x), dim=1) for m in ens.model_.members]
        np.testing.assert_allclose(p_members[0].numpy(), p0.numpy(), atol=1e-6)
        np.testing.assert_allclose(torch.softmax(ens.model_(x), dim=1).numpy(),
                                   ((p_members[0] + p_members[1]) / 2).numpy(), atol=1e-6)
    scores = ens.score(test)
    ens.threshold_ = float(scores.max())
    ens.save(tmp_path / "e")
    np.testing.assert_array_equal(DeepLogDetector.load(tmp_path / "e").score(test), scores)


def test_parameter_model_off_or_without_values():
    train = _data(1, 120)
    assert DeepLogDetector(**TINY, parameter_model=False).fit(train).param_model_ is None
    bare = [Sequence(s.sequence_id, s.template_ids) for s in train]
    assert DeepLogDetector(**TINY, parameter_model=True).fit(bare).param_model_ is None
    assert DeepLogDetector(**TINY).fit(train).param_model_ is None  # opt-in


@pytest.mark.parametrize("bad", [{"parameter_model": "yes"}, {"param_window": 0}, {"unseen_transitions": 1},
                                 {"n_models": 0}])
def test_bad_params(bad):
    from logad.errors import InvalidParameterError

    with pytest.raises(InvalidParameterError):
        DeepLogDetector(**{**TINY, **bad}).fit(_data(2, 20))


def test_a_model_saved_before_n_models_loads_as_one_net(tmp_path):
    import json

    normal = [Sequence(f"n{i}", (1, 2, 2, 3)) for i in range(100)]
    det = DeepLogDetector(**TINY).fit(normal)  # one net (TINY pins n_models=1)
    det.threshold_ = 1.0
    det.save(tmp_path / "old")
    config = tmp_path / "old" / "config.json"
    saved = json.loads(config.read_text())
    del saved["params"]["n_models"]  # as a model saved before the parameter existed
    config.write_text(json.dumps(saved))
    loaded = DeepLogDetector.load(tmp_path / "old")
    assert loaded.n_models == 1
    np.testing.assert_array_equal(loaded.score(normal[:5]), det.score(normal[:5]))
