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


def _lengths_case(seed: int, sort: bool):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 30, (23,), generator=g)
    if sort:
        lengths = lengths.sort().values
    n = int(lengths.max())
    valid = torch.arange(n).unsqueeze(0) < lengths.unsqueeze(1)
    scores = torch.randn(len(lengths), 2, n, n, generator=g) * 3
    return lengths.tolist(), valid, scores, torch.randn(scores.shape, generator=g)


def test_length_groups_cover_every_row_once_longest_first():
    from logad.detectors.crosssystem.mlad_network import MAX_GROUPS, length_groups

    lengths = [5, 1, 30, 7, 29, 2, 12, 12, 3]
    groups = length_groups(lengths)
    assert sorted(i for rows, _ in groups for i in rows) == list(range(len(lengths)))
    assert len(groups) <= MAX_GROUPS
    assert [longest for _, longest in groups] == sorted((L for _, L in groups), reverse=True)
    assert all(longest == max(lengths[i] for i in rows) for rows, longest in groups)


@pytest.mark.parametrize("sort", [True, False])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_entmax15_by_length_is_the_library_entmax15_bit_for_bit(seed, sort):
    """The same bits as entmax15 of the masked scores on every valid query row, and the same
    gradient bits (the gradient reaching a padding query row is 0: nothing valid reads it)."""
    from logad.detectors.crosssystem.mlad_network import entmax15_by_length, length_groups

    lengths, valid, scores, upstream = _lengths_case(seed, sort)
    upstream = upstream * valid[:, None, :, None]
    a = scores.clone().requires_grad_(True)
    b = scores.clone().requires_grad_(True)
    want = attention_weights(a, valid[:, None, None, :], 1.5)
    got = entmax15_by_length(b, valid, length_groups(lengths))
    rows = valid[:, None, :, None].expand_as(want)
    assert torch.equal(got[rows], want[rows])
    pad = got[~rows]
    assert ((pad == 0) | (pad == want[~rows])).all()  # padding rows: the library's values, or 0
    (want * upstream).sum().backward()
    (got * upstream).sum().backward()
    assert torch.equal(a.grad, b.grad)


def test_network_by_length_groups_gives_the_same_bits_as_the_library_path():
    """The alpha = 1.5 network (length groups) against the same weights run with the library's
    entmax15 on the whole padded batch: the same pooled h, token outputs on valid positions and
    parameter gradients, bit for bit, dropout included (the same random numbers)."""
    import logad.detectors.crosssystem.mlad_network as mn

    torch.manual_seed(0)
    net = mn.build_network(16, 8, 2, 2, 12, 0.1, 1.5, 3)
    g = torch.Generator().manual_seed(3)
    lengths = torch.tensor([1, 3, 3, 6, 9, 9, 14])
    x = torch.randn(len(lengths), int(lengths.max()), 16, generator=g)
    masked = torch.rand(x.shape[:2], generator=g) < 0.3
    valid = torch.arange(x.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)

    def run(groups_of):
        saved = mn.length_groups
        mn.length_groups = groups_of
        try:
            net.zero_grad()
            torch.manual_seed(7)
            z, h = net(x, lengths, masked & valid)
            (z[valid].pow(2).sum() + h.sum()).backward()
        finally:
            mn.length_groups = saved
        return z[valid].detach(), h.detach(), [None if p.grad is None else p.grad.clone() for p in net.parameters()]

    fast = run(mn.length_groups)
    library = run(lambda lengths: None)  # groups None: attention_weights on the padded batch
    assert torch.equal(fast[0], library[0]) and torch.equal(fast[1], library[1])
    assert all((p is None and q is None) or torch.equal(p, q) for p, q in zip(fast[2], library[2]))
    assert sum(p is not None for p in fast[2]) > 10


def test_positions_are_cached_and_unchanged():
    from logad.detectors.crosssystem.mlad_network import _positions

    a = _positions(9, 8)
    assert _positions(9, 8) is a
    assert torch.equal(a, _positions.__wrapped__(9, 8))
