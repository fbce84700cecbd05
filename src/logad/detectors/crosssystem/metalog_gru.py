"""A bidirectional GRU over packed sequences with a hand-written backward pass (MetaLog's encoder).

Same recurrence, same parameters as `torch.nn.GRU` (gate order r, z, n; h' = n + z * (h - n))
run over packed sequences, so a model trained either way reads the other's weights. Why not
`nn.GRU` on a `PackedSequence`: on CPU its backward pass is autograd over every time step, and
each step's slice of the packed output costs a zero tensor the size of the whole output
(`SliceBackward`), so a batch of OpenStack sessions (up to 117 steps) took ~1 s forward + backward,
quadratic in the length; MetaLog's training spent 80 % of its time there (profile in
`benchmarks/results/crosssystem-speed.md`). Here both directions run in one loop (batched over
the two directions' weights), each step on only the rows still running, and the backward pass is
explicit: per step a handful of elementwise operations and one matrix product, with the weight
gradients computed once per layer over all steps.

`pack_rows` also drops duplicate rows of a batch (HDFS and OpenStack repeat a few sessions
thousands of times: a random batch of 100 holds 48-60 distinct ones); the model runs once per
distinct row and its outputs are copied back, so the loss is the mean over the batch as before.
Results equal `nn.GRU`'s to float rounding (tests/detectors/crosssystem/test_metalog_gru.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from logad.detectors.deep.engine import torch


@dataclass
class PackedRows:
    """A batch of embedding-row sequences, packed time-major (as `PackedSequence.data`).

    Rows are the DISTINCT rows of the batch (when deduplicated) sorted by length, longest first;
    `inverse[i]` is the packed row of the batch's row i. `ids` (N,) holds the embedding rows of
    every valid position, step by step; `rev[k]` is the packed index of the same row's position
    mirrored inside its length (the reverse direction's order); `prev[k]` the index of the same
    row's previous step (N for the first step: a zero state); `pad[k]` the position in a
    (rows, max_len) grid."""

    ids: object  # torch.long (N,)
    batch_sizes: list[int]
    offsets: list[int]
    rev: object
    prev: object
    pad: object
    lengths: object  # torch.long (rows,), longest first
    inverse: object  # torch.long (batch,)
    n_rows: int
    max_len: int

    @property
    def n_tokens(self) -> int:
        return int(self.offsets[-1] + self.batch_sizes[-1]) if self.batch_sizes else 0


def pack_rows(rows: list[np.ndarray], dedup: bool = True) -> PackedRows:
    """Pack a batch of embedding-row arrays; an empty row is one unknown (zero) row, as in
    `embed_rows`. With `dedup`, identical rows are packed once."""
    t = torch()
    rows = [np.asarray(r, dtype=np.int64) if len(r) else np.zeros(1, dtype=np.int64) for r in rows]
    if dedup:
        seen: dict[bytes, int] = {}
        uniq: list[np.ndarray] = []
        inv = np.empty(len(rows), dtype=np.int64)
        for i, r in enumerate(rows):
            key = r.tobytes()
            j = seen.get(key)
            if j is None:
                j = seen[key] = len(uniq)
                uniq.append(r)
            inv[i] = j
    else:
        uniq, inv = rows, np.arange(len(rows), dtype=np.int64)
    lengths = np.array([len(r) for r in uniq], dtype=np.int64)
    order = np.argsort(-lengths, kind="stable")  # longest first, ties in order of appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    lengths = lengths[order]
    n, width = len(uniq), int(lengths[0])
    grid = np.zeros((n, width), dtype=np.int64)
    for i, j in enumerate(order):
        grid[i, : lengths[i]] = uniq[j]
    steps = np.arange(width)
    valid = steps[None, :] < lengths[:, None]  # (n, width)
    batch_sizes = valid.sum(axis=0)
    offsets = np.concatenate([[0], np.cumsum(batch_sizes)[:-1]])
    row_of = np.broadcast_to(np.arange(n)[:, None], (n, width))
    step_of = np.broadcast_to(steps[None, :], (n, width))
    vt = valid.T  # time-major: step by step, rows ascending
    r_idx, s_idx = row_of.T[vt], step_of.T[vt]
    ids = grid.T[vt]
    rev = offsets[lengths[r_idx] - 1 - s_idx] + r_idx
    total = int(vt.sum())
    prev = np.where(s_idx > 0, offsets[np.maximum(s_idx - 1, 0)] + r_idx, total)
    pad = r_idx * width + s_idx
    as_t = lambda a: t.from_numpy(np.ascontiguousarray(a, dtype=np.int64))  # noqa: E731
    return PackedRows(
        ids=as_t(ids), batch_sizes=[int(b) for b in batch_sizes], offsets=[int(o) for o in offsets],
        rev=as_t(rev), prev=as_t(prev), pad=as_t(pad), lengths=as_t(lengths), inverse=as_t(rank[inv]),
        n_rows=n, max_len=width,
    )


def _layer_function():
    t = torch()

    class BiGRULayer(t.autograd.Function):
        """One bidirectional GRU layer over packed data; both directions batched (dim 0).

        Forward, per step (rows still running only): gh = h W_hh^T + b_hh; [r, z] = sigmoid(gi + gh);
        n = tanh(gi_n + r * gh_n); h' = n + z * (h - n) (`lerp`), each written straight into the
        packed buffers. Backward: the factors that do not depend on the incoming gradient are
        computed for all steps at once, leaving per step four products, one accumulation and one
        matrix product; the weight gradients are one matrix product each over all steps."""

        @staticmethod
        def forward(ctx, x2, w_ih, w_hh, b_ih, b_hh, prev, batch_sizes, offsets):
            # x2 (2, N, D): the forward direction's packed input and the reverse direction's
            hs = w_hh.shape[2]
            n = x2.shape[1]
            gi = t.baddbmm(b_ih[:, None, :], x2, w_ih.transpose(1, 2))  # (2, N, 3H)
            whh_t = w_hh.transpose(1, 2)
            bhh = b_hh[:, None, :]
            gh = x2.new_empty(2, n, 3 * hs)
            out = x2.new_empty(2, n, hs)
            rz = x2.new_empty(2, n, 2 * hs)
            cand = x2.new_empty(2, n, hs)
            zero = x2.new_zeros(2, batch_sizes[0] if batch_sizes else 0, hs)
            for step, (b, o) in enumerate(zip(batch_sizes, offsets)):
                g_s, gi_s = gh[:, o : o + b], gi[:, o : o + b]
                if step == 0:
                    h_prev = zero[:, :b]
                    g_s.copy_(bhh.expand(2, b, 3 * hs))
                else:
                    po = offsets[step - 1]
                    h_prev = out[:, po : po + b]
                    t.baddbmm(bhh, h_prev, whh_t, out=g_s)
                s = rz[:, o : o + b]
                t.add(gi_s[..., : 2 * hs], g_s[..., : 2 * hs], out=s)
                s.sigmoid_()
                c = cand[:, o : o + b]
                t.addcmul(gi_s[..., 2 * hs :], s[..., :hs], g_s[..., 2 * hs :], out=c)
                c.tanh_()
                t.lerp(c, h_prev, s[..., hs:], out=out[:, o : o + b])
            ctx.save_for_backward(x2, w_ih, w_hh, out, rz, cand, gh, prev)
            ctx.steps = (list(batch_sizes), list(offsets))
            return out

        @staticmethod
        def backward(ctx, d_out):
            x2, w_ih, w_hh, out, rz, cand, gh, prev = ctx.saved_tensors
            batch_sizes, offsets = ctx.steps
            hs = w_hh.shape[2]
            n = out.shape[1]
            d_out = d_out.contiguous()
            r, z = rz[..., :hs], rz[..., hs:]
            h_prev = t.cat([out, out.new_zeros(2, 1, hs)], dim=1).index_select(1, prev)
            one_z = 1.0 - z
            f_z = (h_prev - cand) * z * one_z  # d loss / d a_z = dh * f_z
            f_n = one_z * (1.0 - cand * cand)  # d loss / d a_n = dh * f_n
            f_r = gh[..., 2 * hs :] * r * (1.0 - r)  # d loss / d a_r = d a_n * f_r
            grads = d_out.new_empty(2, n, 4 * hs)  # [a_r, a_z, gh_n, a_n] per packed position
            dh = d_out.new_zeros(2, batch_sizes[0] if batch_sizes else 0, hs)
            for step in range(len(batch_sizes) - 1, -1, -1):
                b, o = batch_sizes[step], offsets[step]
                d = dh[:, :b]
                d += d_out[:, o : o + b]
                g = grads[:, o : o + b]
                a_n = g[..., 3 * hs :]
                t.mul(d, f_n[:, o : o + b], out=a_n)
                t.mul(a_n, f_r[:, o : o + b], out=g[..., :hs])
                t.mul(d, f_z[:, o : o + b], out=g[..., hs : 2 * hs])
                t.mul(a_n, r[:, o : o + b], out=g[..., 2 * hs : 3 * hs])
                if step > 0:
                    d.mul_(z[:, o : o + b])
                    d.baddbmm_(g[..., : 3 * hs], w_hh)
            d_gh = grads[..., : 3 * hs]
            d_gi = t.cat([grads[..., : 2 * hs], grads[..., 3 * hs :]], dim=2)
            d_whh = t.bmm(d_gh.transpose(1, 2), h_prev)
            d_wih = t.bmm(d_gi.transpose(1, 2), x2)
            dx2 = t.bmm(d_gi, w_ih)
            return dx2, d_wih, d_whh, d_gi.sum(dim=1), d_gh.sum(dim=1), None, None, None

    return BiGRULayer


_FN = None


def packed_bigru(gru, x, pack: PackedRows):
    """The outputs (N, 2 * hidden) of `gru` (an `nn.GRU`, bidirectional, batch-first, with biases,
    no dropout) over the packed input `x` (N, input size); the module's parameters are read at call
    time, so `torch.func.functional_call` can replace them."""
    global _FN
    t = torch()
    if _FN is None:
        _FN = _layer_function()
    h = x
    for layer in range(gru.num_layers):
        w = [t.stack([getattr(gru, f"{name}_l{layer}"), getattr(gru, f"{name}_l{layer}_reverse")])
             for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        x2 = t.stack([h, h.index_select(0, pack.rev)])
        out = _FN.apply(x2, *w, pack.prev, pack.batch_sizes, pack.offsets)
        h = t.cat([out[0], out[1].index_select(0, pack.rev)], dim=1)
    return h


def padded(h, pack: PackedRows):
    """Packed outputs (N, F) laid out as (rows, max_len, F), zeros after each row's end."""
    t = torch()
    grid = h.new_zeros(pack.n_rows * pack.max_len, h.shape[1])
    return t.index_copy(grid, 0, pack.pad, h).view(pack.n_rows, pack.max_len, h.shape[1])
