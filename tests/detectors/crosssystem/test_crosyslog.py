"""CroSysLog's model maths: MAML against hand computations and finite differences, the original's
in-place rule, the block sampler, windows of entries."""

from __future__ import annotations

import numpy as np
import pytest

from logad.errors import InputError
from tests.conftest import needs_torch

torch = needs_torch()

from logad.detectors.crosssystem import crosyslog as cx  # noqa: E402
from tests.synthetic.crosyslog import _one_thread  # noqa: E402, F401


# -- MAML against a hand computation ---------------------------------------------------------------
class _Scalar(torch.nn.Module):
    """f(x) = w * x, so every derivative has a closed form."""

    def __init__(self, w: float) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(w, dtype=torch.float64))

    def forward(self, x):
        return self.w * x


def _sq_loss(model, params, batch):
    from torch.func import functional_call

    x, y = batch
    return 0.5 * (functional_call(model, params, (x,)) - y) ** 2


def test_maml_matches_a_hand_computation_second_and_first_order():
    w, a = 0.7, 0.1
    xs, ys, xq, yq = 2.0, 1.0, 3.0, -1.0
    support, query = (torch.tensor(xs, dtype=torch.float64), ys), (torch.tensor(xq, dtype=torch.float64), yq)
    model = _Scalar(w)
    # one inner step: w' = w - a (w xs - ys) xs
    fast = cx.inner_adapt(model, dict(model.named_parameters()), _sq_loss, support, 1, a, create_graph=True)
    w1 = w - a * (w * xs - ys) * xs
    assert float(fast["w"].detach()) == pytest.approx(w1)
    # second order: dLq/dw = (w' xq - yq) xq (1 - a xs^2); first order drops the (1 - a xs^2) factor
    for first_order, expected in ((False, (w1 * xq - yq) * xq * (1 - a * xs**2)), (True, (w1 * xq - yq) * xq)):
        model = _Scalar(w)
        params = dict(model.named_parameters())
        loss = cx.maml_meta_gradient(model, params, _sq_loss, [(support, query)], 1, a, first_order=first_order)
        assert loss == pytest.approx(0.5 * (w1 * xq - yq) ** 2)
        assert float(params["w"].grad) == pytest.approx(expected)
    # two inner steps, second order: the chain rule through both steps
    model = _Scalar(w)
    params = dict(model.named_parameters())
    cx.maml_meta_gradient(model, params, _sq_loss, [(support, query)], 2, a)
    w2 = w1 - a * (w1 * xs - ys) * xs
    assert float(params["w"].grad) == pytest.approx((w2 * xq - yq) * xq * (1 - a * xs**2) ** 2)
    # the meta-gradient of several tasks is the mean of theirs
    model = _Scalar(w)
    params = dict(model.named_parameters())
    cx.maml_meta_gradient(model, params, _sq_loss, [(support, query), (support, (query[0], 2.0))], 1, a)
    g2 = (w1 * xq - 2.0) * xq * (1 - a * xs**2)
    assert float(params["w"].grad) == pytest.approx(((w1 * xq - yq) * xq * (1 - a * xs**2) + g2) / 2)


def test_second_order_meta_gradient_through_the_lstm_matches_finite_differences():
    torch.manual_seed(0)
    model = cx.build_tagger(4, 3).double()
    x = torch.randn(2, 5, 4, dtype=torch.float64)
    y = torch.randint(0, 2, (2, 5))
    task = [((x, y), (x.flip(1), y.flip(1)))]
    params = dict(model.named_parameters())
    cx.maml_meta_gradient(model, params, cx.tagger_loss, task, 2, 0.3)
    name = "lstm.weight_ih_l0"
    analytic = float(params[name].grad[1, 2])

    def meta_loss(delta: float) -> float:
        p = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
        with torch.no_grad():
            p[name][1, 2] += delta
        fast = cx.inner_adapt(model, p, cx.tagger_loss, task[0][0], 2, 0.3, create_graph=False)
        return float(cx.tagger_loss(model, fast, task[0][1]).detach())

    eps = 1e-6
    assert analytic == pytest.approx((meta_loss(eps) - meta_loss(-eps)) / (2 * eps), rel=1e-5, abs=1e-9)


def test_compat_rule_is_in_place_sgd_then_adamw():
    w, a = 0.7, 0.1
    support, query = (torch.tensor(2.0, dtype=torch.float64), 1.0), (torch.tensor(3.0, dtype=torch.float64), -1.0)
    model = _Scalar(w)
    params = dict(model.named_parameters())
    opt = torch.optim.SGD(params.values(), lr=0.01)  # SGD in place of AdamW keeps the arithmetic checkable
    cx.compat_meta_step(model, params, _sq_loss, [(support, query)], 1, a, opt)
    w1 = w - a * (w * 2.0 - 1.0) * 2.0  # written into the weights, never restored
    assert float(params["w"].detach()) == pytest.approx(w1 - 0.01 * (w1 * 3.0 + 1.0) * 3.0)


# -- block sampler ---------------------------------------------------------------------------------
def test_sampler_respects_ratio_bounds_and_never_overlaps():
    rng = np.random.default_rng(0)
    y = (rng.random(2000) < 0.05).astype(np.int64)
    tasks = cx.sample_blocks(y, 5, 100, 150, (0.03, 0.2), (0.02, 0.3), np.random.default_rng(1))
    assert len(tasks) == 5
    for s, q in tasks:
        assert 3 <= y[s : s + 100].sum() <= 20 and 3 <= y[q : q + 150].sum() <= 45
        assert q + 150 <= s or q >= s + 100  # a task's support and query never overlap
    starts = sorted(s for s, _ in tasks)
    assert all(b - a >= 100 for a, b in zip(starts, starts[1:]))  # support blocks are disjoint
    assert tasks == cx.sample_blocks(y, 5, 100, 150, (0.03, 0.2), (0.02, 0.3), np.random.default_rng(1))
    region = cx.sample_blocks(y, 2, 100, 100, (0.0, 1.0), (0.0, 1.0), rng, region=(1000, 1400))
    assert all(1000 <= s and s + 100 <= 1400 and 1000 <= q and q + 100 <= 1400 for s, q in region)


def test_sampler_error_when_no_valid_block():
    y = np.zeros(500, dtype=np.int64)
    with pytest.raises(InputError, match=r"no valid support block.*anomaly ratio in \[0.1, 0.5\].*0 anomalous"):
        cx.sample_blocks(y, 1, 100, 100, (0.1, 0.5), (0.0, 1.0), np.random.default_rng(0), name="source x")
    with pytest.raises(InputError, match="no valid query block"):  # the only query would overlap the support
        cx.sample_blocks(np.zeros(150, dtype=np.int64), 1, 100, 100, (0.0, 1.0), (0.0, 1.0), np.random.default_rng(0))


def test_windows_never_span_stored_blocks():
    blocks = np.array([0] * 25 + [1] * 7)
    assert cx.window_ranges(0, 32, 10, blocks) == [(0, 10), (10, 20), (20, 25), (25, 32)]
    x = np.arange(32, dtype=np.float32).reshape(-1, 1)
    xs, ys, idx = cx.stack_windows(x, np.ones(32, dtype=np.int64), [(20, 25)], 10)
    assert idx[0].tolist() == [20, 21, 22, 23, 24, -1, -1, -1, -1, -1]
    assert ys[0].tolist()[5:] == [cx.IGNORE] * 5 and xs.shape == (1, 10, 1)
