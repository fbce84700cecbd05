"""MetaLog's training: the first-order MLDG gradient, the original's batching."""

from __future__ import annotations

import random

import numpy as np

from tests.conftest import needs_torch

torch = needs_torch()

from logad.detectors.crosssystem import metalog_training as ml  # noqa: E402
from logad.detectors.crosssystem.metalog import MetaLogDetector  # noqa: E402
from tests.synthetic.metalog import one_thread  # noqa: E402, F401


def test_first_order_mldg_gradient_matches_the_formula():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1, bias=False)
    a, b = torch.randn(5, 3), torch.randn(5, 1)
    c, d = torch.randn(4, 3), torch.randn(4, 1)
    alpha, beta = 0.1, 2.0

    def loss_at(params, batch):
        x, y = batch
        out = model(x) if params is None else torch.func.functional_call(model, params, (x,))
        return ((out - y) ** 2).sum()

    ml.mldg_backward(model, loss_at, (a, b), (c, d), alpha=alpha, beta=beta)
    w = model.weight.detach().clone().reshape(3, 1)
    g_s = 2 * a.T @ (a @ w - b)
    w2 = w - alpha * g_s
    expected = g_s + beta * 2 * c.T @ (c @ w2 - d)  # first order: d theta'/d theta = I
    np.testing.assert_allclose(model.weight.grad.reshape(3, 1).numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)
    # and not the second-order gradient (which has the extra (I - alpha * H_s) factor)
    h_s = 2 * a.T @ a
    second = g_s + beta * (torch.eye(3) - alpha * h_s) @ (2 * c.T @ (c @ w2 - d))
    assert not np.allclose(expected.numpy(), second.numpy(), atol=1e-4)


def test_batches_cover_every_item_once_with_and_without_length_windows():
    lengths = [random.Random(i).randrange(1, 50) for i in range(95)]
    for window in (0, 3):
        batches = ml._batches(95, 10, random.Random(0), lengths, window)
        assert sorted(i for b in batches for i in b) == list(range(95))
        assert all(len(b) == 10 for b in batches if len(b) != 5) and sum(len(b) == 5 for b in batches) == 1
    # with windows of 3 batches, each batch holds a contiguous run of one window's length order
    batches = ml._batches(95, 10, random.Random(0), lengths, 3)
    spans = [max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches]
    plain = [max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in ml._batches(95, 10, random.Random(0))]
    assert np.mean(spans) < np.mean(plain)
    assert MetaLogDetector().length_buckets == 0  # the original's random batches by default
