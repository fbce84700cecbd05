"""The training engine's optional per-epoch callback (used by `logad tune` to report to ASHA)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import needs_torch
from tests.detectors.test_conformance import NORMAL, TEST_ANOMALIES, TEST_NORMAL, TINY

torch = needs_torch()


def _toy(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 3, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5])
    items = list(zip(x, y))

    def loss_of(model, batch):
        xb = torch.stack([a for a, _ in batch])
        yb = torch.stack([b for _, b in batch])
        return ((model(xb).squeeze(1) - yb) ** 2).mean()

    return items[:48], items[48:], loss_of


def test_engine_calls_on_epoch_end_with_the_history_values():
    from logad.detectors.deep.engine import TrainConfig, train

    train_items, val_items, loss_of = _toy()
    calls = []
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    hist = train(
        model, train_items=train_items, val_items=val_items, lengths=lambda its: [1] * len(its), loss_of=loss_of,
        config=TrainConfig(epochs=4, batch_size=16, lr=0.05, patience=10), on_epoch_end=lambda *a: calls.append(a),
    )
    assert [c[0] for c in calls] == [1, 2, 3, 4]
    assert [c[1] for c in calls] == hist.train_loss
    assert [c[2] for c in calls] == hist.val_loss


def test_engine_callback_sees_the_epoch_that_triggers_early_stopping():
    from logad.detectors.deep.engine import TrainConfig, train

    train_items, val_items, loss_of = _toy()
    calls = []
    model = torch.nn.Linear(3, 1)
    # lr 0 never improves: epoch 1 sets the best, epochs 2-3 are bad, patience 2 stops after epoch 3
    hist = train(
        model, train_items=train_items, val_items=val_items, lengths=lambda its: [1] * len(its), loss_of=loss_of,
        config=TrainConfig(epochs=10, batch_size=16, lr=1e-12, patience=2), on_epoch_end=lambda *a: calls.append(a[0]),
    )
    assert hist.stopped == "early-stopping"
    assert calls == [1, 2, 3] == list(range(1, len(hist.val_loss) + 1))


def test_engine_callback_error_propagates():
    from logad.detectors.deep.engine import TrainConfig, train

    train_items, val_items, loss_of = _toy()

    def boom(*_):
        raise RuntimeError("callback failed")

    with pytest.raises(RuntimeError, match="callback failed"):
        train(
            torch.nn.Linear(3, 1), train_items=train_items, val_items=val_items, lengths=lambda its: [1] * len(its),
            loss_of=loss_of, config=TrainConfig(epochs=2, batch_size=16), on_epoch_end=boom,
        )


def test_deep_detector_forwards_on_epoch_end_and_training_is_unchanged():
    from logad.detectors import get_detector

    plain = get_detector("deeplog", **TINY["deeplog"]).fit(NORMAL)
    hooked = get_detector("deeplog", **TINY["deeplog"])
    seen = []
    hooked.fit(NORMAL, on_epoch_end=lambda epoch, tr, va: seen.append((epoch, tr, va)))
    assert [s[0] for s in seen] == list(range(1, len(hooked.history_.val_loss) + 1))
    assert [s[2] for s in seen] == hooked.history_.val_loss == plain.history_.val_loss
    test = TEST_NORMAL[:50] + TEST_ANOMALIES[:10]
    np.testing.assert_array_equal(hooked.score(test), plain.score(test))
    assert "on_epoch_end" not in hooked.get_params()  # not a parameter: never saved
    assert hooked._on_epoch_end is None  # a hook of one fit, not kept after it
