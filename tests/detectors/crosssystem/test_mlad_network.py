"""MLAD's alpha-entmax attention."""

from __future__ import annotations

import pytest

from tests.conftest import needs_torch

torch = needs_torch()

from logad.detectors.crosssystem.mlad_network import attention_weights  # noqa: E402


def _scores_and_mask():
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(3, 2, 5, 7, generator=g) * 3
    valid = torch.ones(3, 1, 1, 7, dtype=torch.bool)
    valid[0, ..., 4:] = False
    valid[2, ..., 1:] = False  # one valid key only
    return scores, valid


def test_alpha_one_is_softmax_exactly():
    scores, valid = _scores_and_mask()
    got = attention_weights(scores, valid, 1.0)
    want = torch.softmax(scores.masked_fill(~valid, float("-inf")), dim=-1)
    assert torch.equal(got, want)


@pytest.mark.parametrize("alpha", [1.2, 1.5, 1.8, 2.0])
def test_entmax_is_a_valid_sparse_distribution(alpha):
    scores, valid = _scores_and_mask()
    p = attention_weights(scores, valid, alpha)
    assert torch.isfinite(p).all() and (p >= 0).all()
    torch.testing.assert_close(p.sum(-1), torch.ones(p.shape[:-1]), atol=1e-5, rtol=0)
    assert (p.masked_select(~valid.expand_as(p)) == 0).all()  # padding keys get nothing
    assert p.max() > 0.2  # not the third party's all-zero output
    assert (p.masked_select(valid.expand_as(p)) == 0).any()  # sparse: some valid keys get exactly 0
    torch.testing.assert_close(p[2, ..., 0], torch.ones(2, 5))
    x = scores.clone().requires_grad_(True)
    attention_weights(x, valid, alpha).pow(2).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_entmax15_shortcut_matches_bisection():
    from entmax import entmax_bisect

    scores, valid = _scores_and_mask()
    want = entmax_bisect(scores.masked_fill(~valid, float("-inf")), alpha=1.5, dim=-1, n_iter=60)
    torch.testing.assert_close(attention_weights(scores, valid, 1.5), want, atol=1e-5, rtol=0)
