"""MetaLog's fast GRU (metalog_gru): the same outputs and gradients as nn.GRU on a PackedSequence."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import needs_torch

torch = needs_torch()

from logad.detectors.crosssystem.metalog import _build_net  # noqa: E402
from logad.detectors.crosssystem.metalog_gru import pack_rows, packed_bigru, padded  # noqa: E402
from logad.detectors.crosssystem.metalog_training import batch_inputs, embed_rows  # noqa: E402
from tests.synthetic.metalog import one_thread  # noqa: E402, F401


def _rows(rng, n, longest, vocab):
    rows = [rng.integers(1, vocab, size=rng.integers(1, longest + 1)) for _ in range(n)]
    rows[1] = np.array([], dtype=np.int64)  # an empty sequence: one unknown row
    rows[3] = rows[2].copy()  # a duplicate
    rows[5] = rows[2].copy()
    return rows


def _reference(gru, emb, rows):
    x, lengths = embed_rows(emb, rows)
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    h, _ = gru(packed)
    h, _ = torch.nn.utils.rnn.pad_packed_sequence(h, batch_first=True, total_length=x.shape[1])
    return h


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("dedup", [True, False])
def test_outputs_and_gradients_equal_nn_gru_on_packed_sequences(layers, dedup):
    torch.manual_seed(0)
    gru = torch.nn.GRU(6, 5, num_layers=layers, batch_first=True, bidirectional=True).double()
    emb = torch.randn(12, 6, dtype=torch.float64)
    rows = _rows(np.random.default_rng(1), 9, 7, 12)
    ref = _reference(gru, emb, rows)
    weight = torch.randn(ref.shape, dtype=torch.float64)
    (ref * weight).sum().backward()
    expected = [p.grad.clone() for p in gru.parameters()]
    gru.zero_grad()
    pack = pack_rows(rows, dedup=dedup)
    assert pack.n_rows == (7 if dedup else 9)
    got = padded(packed_bigru(gru, emb[pack.ids], pack), pack).index_select(0, pack.inverse)
    assert got.shape == ref.shape
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-12)
    (got * weight).sum().backward()
    for p, e in zip(gru.parameters(), expected):
        torch.testing.assert_close(p.grad, e, rtol=0, atol=1e-11)


def test_gradcheck_of_inputs_and_weights():
    torch.manual_seed(0)
    pack = pack_rows([np.array([1, 2, 3]), np.array([2]), np.array([3, 1]), np.array([4, 4, 1, 2])])

    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = torch.nn.GRU(3, 2, num_layers=2, batch_first=True, bidirectional=True)

        def forward(self, e):
            return packed_bigru(self.gru, e[pack.ids], pack)

    enc = Encoder().double()
    names = [n for n, _ in enc.named_parameters()]
    emb = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    params = [p.detach().clone().requires_grad_() for p in enc.parameters()]

    def f(e, *ps):  # through functional_call, as MLDG's adapted weights are passed
        return torch.func.functional_call(enc, dict(zip(names, ps)), (e,))

    assert torch.autograd.gradcheck(f, (emb, *params))


def test_the_packing():
    rows = [np.array([4, 5]), np.array([7, 8, 9]), np.array([4, 5]), np.array([], dtype=np.int64)]
    pack = pack_rows(rows)
    assert pack.n_rows == 3 and pack.max_len == 3
    assert pack.lengths.tolist() == [3, 2, 1]  # longest first; the empty row is one unknown row
    assert pack.batch_sizes == [3, 2, 1] and pack.offsets == [0, 3, 5]
    assert pack.ids.tolist() == [7, 4, 0, 8, 5, 9]  # time-major
    assert pack.inverse.tolist() == [1, 0, 1, 2]
    assert pack.rev.tolist() == [5, 4, 2, 3, 1, 0]  # each row's positions mirrored in its length
    assert pack.prev.tolist() == [6, 6, 6, 0, 1, 3]  # 6 = N: the zero state


def test_the_network_gives_the_same_scores_and_gradients_either_way():
    torch.manual_seed(0)
    net = _build_net(6, 5, 2).double()
    emb = torch.randn(12, 6, dtype=torch.float64)
    rows = _rows(np.random.default_rng(2), 11, 9, 12)
    out = {}
    for gru in ("torch", "fast"):
        net.zero_grad()
        x, lengths = batch_inputs(emb, rows, gru, dedup=True)
        logits, att = net(x, lengths, return_attention=True)
        logits.pow(2).sum().backward()
        out[gru] = (logits.detach(), att.detach(), [p.grad.clone() for p in net.parameters()])
    torch.testing.assert_close(out["fast"][0], out["torch"][0], rtol=0, atol=1e-12)
    torch.testing.assert_close(out["fast"][1], out["torch"][1], rtol=0, atol=1e-12)
    for a, b in zip(out["fast"][2], out["torch"][2]):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-11)
